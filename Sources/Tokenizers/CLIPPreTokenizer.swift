/// CLIP's pre-tokenizer, a hand-written scanner equivalent to (case-insensitive, `regex` module)
/// `<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+`
/// applied with `findall` (characters matching no alternative are skipped).
enum CLIPPreTokenizer {
    enum Piece {
        /// A literal special token in the text.
        case special(Int)
        /// A match, UTF-8 encoded, ready for byte-level BPE.
        case bytes([UInt8])
    }

    private static let sot = Array("<|startoftext|>".unicodeScalars)
    private static let eot = Array("<|endoftext|>".unicodeScalars)

    /// Letters of the alternatives, matched case-insensitively. Under simple case folding `ſ`
    /// (U+017F) equals `s`; the text is already lower-cased, so this is the only extra case.
    /// Case-insensitive comparison with a character of the pattern (`ascii` is lower-case).
    @inline(__always) private static func eq(_ c: Unicode.Scalar, _ ascii: Unicode.Scalar) -> Bool {
        if c == ascii { return true }
        guard ascii.value >= 0x61 && ascii.value <= 0x7A else { return false }
        return c.value == ascii.value - 32 || (ascii == "s" && c == "\u{17F}")
    }

    /// Length of a contraction match starting at `i` (s[i] == "'"), or 0.
    private static func contraction(_ s: [Unicode.Scalar], _ i: Int) -> Int {
        guard i + 1 < s.count else { return 0 }
        let a = s[i + 1]
        if eq(a, "s") || eq(a, "t") || eq(a, "m") || eq(a, "d") { return 2 }
        guard i + 2 < s.count else { return 0 }
        let b = s[i + 2]
        if eq(a, "r") && eq(b, "e") { return 3 }
        if eq(a, "v") && eq(b, "e") { return 3 }
        if eq(a, "l") && eq(b, "l") { return 3 }
        return 0
    }

    private static func matches(_ s: [Unicode.Scalar], _ i: Int, _ lit: [Unicode.Scalar]) -> Bool {
        guard i + lit.count <= s.count else { return false }
        for k in 0..<lit.count where !eq(s[i + k], lit[k]) { return false }
        return true
    }

    /// Character class of the three generic alternatives.
    private enum Kind { case space, letter, number, other, unmatched }

    @inline(__always) private static func kind(_ c: Unicode.Scalar) -> Kind {
        let v = c.value
        if v < 0x80 {
            if (v | 0x20) >= 0x61 && (v | 0x20) <= 0x7A { return .letter }
            if v >= 0x30 && v <= 0x39 { return .number }
            if v == 0x20 || (v >= 0x09 && v <= 0x0D) { return .space }
            return .other
        }
        if UnicodeSupport.isRegexSpace(v) { return .space }
        // U+0345 (Mn) case-folds to ι, so under IGNORECASE the `regex` module excludes it from
        // [^\s\p{L}\p{N}] while [\p{L}] does not take it either: findall skips it.
        if v == 0x345 { return .unmatched }
        if UnicodeSupport.isLetter(c) { return .letter }
        if UnicodeSupport.isNumber(c) { return .number }
        return .other
    }

    @inline(__always) static func appendUTF8(_ c: Unicode.Scalar, to out: inout [UInt8]) {
        let v = c.value
        switch v {
        case 0..<0x80:
            out.append(UInt8(v))
        case 0x80..<0x800:
            out.append(UInt8(0xC0 | (v >> 6))); out.append(UInt8(0x80 | (v & 0x3F)))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | (v >> 12))); out.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (v & 0x3F)))
        default:
            out.append(UInt8(0xF0 | (v >> 18))); out.append(UInt8(0x80 | ((v >> 12) & 0x3F)))
            out.append(UInt8(0x80 | ((v >> 6) & 0x3F))); out.append(UInt8(0x80 | (v & 0x3F)))
        }
    }

    /// Calls `body` for each match in order; stops when `body` returns false.
    static func forEachPiece(_ s: [Unicode.Scalar], _ body: (Piece) -> Bool) {
        var i = 0
        let n = s.count
        var utf8: [UInt8] = []
        func emit(_ range: Range<Int>) -> Bool {
            utf8.removeAll(keepingCapacity: true)
            for k in range { appendUTF8(s[k], to: &utf8) }
            return body(.bytes(utf8))
        }
        while i < n {
            let c = s[i]
            if c == "<" {
                if matches(s, i, sot) { if !body(.special(CLIPTokenizer.startOfText)) { return }; i += sot.count; continue }
                if matches(s, i, eot) { if !body(.special(CLIPTokenizer.endOfText)) { return }; i += eot.count; continue }
            }
            if c == "'" {
                let len = contraction(s, i)
                if len > 0 { if !emit(i..<(i + len)) { return }; i += len; continue }
            }
            switch kind(c) {
            case .space, .unmatched:
                i += 1
            case .number:
                if !emit(i..<(i + 1)) { return }
                i += 1
            case .letter:
                var j = i + 1
                while j < n, kind(s[j]) == .letter { j += 1 }
                if !emit(i..<j) { return }
                i = j
            case .other:
                var j = i + 1
                while j < n, kind(s[j]) == .other { j += 1 }
                if !emit(i..<j) { return }
                i = j
            }
        }
    }
}
