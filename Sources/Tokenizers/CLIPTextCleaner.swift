import Foundation

/// The text normalisation of OpenAI CLIP's `simple_tokenizer.py`:
/// `ftfy.fix_text` -> `html.unescape` twice -> strip -> collapse `\s+` -> strip -> `lower()`.
///
/// ftfy is approximated by its cheap, deterministic fixers (see docs/tokenizers.md):
/// HTML entity unescaping (ftfy variant, only when no '<' was seen), a conservative UTF-8-as-
/// windows-1252 mojibake repair, C1 controls -> windows-1252, Latin ligatures, full-/half-width
/// forms, curly quotes, line breaks, ANSI terminal escapes, control characters, NFC; repeated to
/// a fixed point like ftfy does. ftfy's statistical `fix_encoding` heuristics are not ported.
enum CLIPTextCleaner {
    /// Full pipeline on one chunk of raw scalars. `ftfyUnescape` mirrors ftfy's "auto" rule,
    /// which disables its own entity decoding from the first line containing '<' onwards.
    static func clean(_ raw: [Unicode.Scalar], ftfyUnescape: Bool) -> [Unicode.Scalar] {
        var s = ftfyFix(raw, unescape: ftfyUnescape)
        s = HTMLUnescape.python(HTMLUnescape.python(s))
        s = collapseWhitespace(s)
        return UnicodeSupport.pythonLower(s)
    }

    /// Bounded fixed-point loop (ftfy loops until nothing changes; each round is linear, and a
    /// cap keeps hostile nesting such as `&amp;amp;amp;...` linear as well).
    static let maximumFixRounds = 16

    static func ftfyFix(_ input: [Unicode.Scalar], unescape: Bool) -> [Unicode.Scalar] {
        var s = input
        for _ in 0..<maximumFixRounds {
            let before = s
            if unescape { s = HTMLUnescape.ftfy(s) }
            s = fixMojibake(s)
            s = simpleFixes(s)
            s = UnicodeSupport.nfc(s)
            if s == before { break }
        }
        return s
    }

    // MARK: - Windows-1252 helpers

    /// windows-1252 bytes 0x80...0x9F (ftfy's "sloppy" variant keeps the five undefined ones).
    static let cp1252High: [UInt32] = [
        0x20AC, 0x81, 0x201A, 0x192, 0x201E, 0x2026, 0x2020, 0x2021, 0x2C6, 0x2030, 0x160, 0x2039, 0x152, 0x8D, 0x17D, 0x8F,
        0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x2DC, 0x2122, 0x161, 0x203A, 0x153, 0x9D, 0x17E, 0x178,
    ]
    static let cp1252Reverse: [UInt32: UInt8] = {
        var m: [UInt32: UInt8] = [:]
        for (i, v) in cp1252High.enumerated() { m[v] = UInt8(0x80 + i) }
        return m
    }()

    /// The UTF-8 continuation byte (0x80...0xBF) a character stands for when UTF-8 was misread
    /// as windows-1252/Latin-1. U+00A0 is excluded: "Ã " is too often legitimate text.
    @inline(__always) static func continuationByte(_ c: Unicode.Scalar) -> UInt8? {
        let v = c.value
        if v >= 0xA1 && v <= 0xBF { return UInt8(v) }
        if v >= 0x80 && v <= 0x9F { return UInt8(v) }
        if v >= 0x152, let b = cp1252Reverse[v] { return b }
        return nil
    }

    /// Repairs the commonest mojibake only: `Â`/`Ã` + one continuation character (Latin-1
    /// supplement, e.g. `cafÃ©` -> `café`) and `â` + two (U+2000...U+2FFF punctuation, e.g.
    /// `â€™` -> `’`). Other lead bytes are left alone: they collide with real accented text.
    static func fixMojibake(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard s.contains(where: { $0 == "\u{C2}" || $0 == "\u{C3}" || $0 == "\u{E2}" }) else { return s }
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count)
        var i = 0
        while i < s.count {
            let c = s[i]
            if (c == "\u{C2}" || c == "\u{C3}"), i + 1 < s.count, let b1 = continuationByte(s[i + 1]) {
                let v = ((c.value & 0x1F) << 6) | UInt32(b1 & 0x3F)
                if let u = Unicode.Scalar(v) { out.append(u); i += 2; continue }
            }
            if c == "\u{E2}", i + 2 < s.count, let b1 = continuationByte(s[i + 1]), let b2 = continuationByte(s[i + 2]) {
                let v = ((c.value & 0x0F) << 12) | (UInt32(b1 & 0x3F) << 6) | UInt32(b2 & 0x3F)
                if let u = Unicode.Scalar(v) { out.append(u); i += 3; continue }
            }
            out.append(c)
            i += 1
        }
        return out
    }

    // MARK: - Per-character fixers

    /// ftfy's full-/half-width map (U+FF01...U+FFEF -> NFKC) plus ideographic space -> space.
    static let widthMap: [UInt32: [Unicode.Scalar]] = {
        var m: [UInt32: [Unicode.Scalar]] = [0x3000: [" "]]
        for v in UInt32(0xFF01)..<0xFFF0 {
            guard let u = Unicode.Scalar(v) else { continue }
            let alt = Array(String(Character(u)).precomposedStringWithCompatibilityMapping.unicodeScalars)
            if alt != [u] { m[v] = alt }
        }
        return m
    }()

    static let ligatures: [UInt32: String] = [
        0x132: "IJ", 0x133: "ij", 0x149: "\u{2BC}n", 0x1F1: "DZ", 0x1F2: "Dz", 0x1F3: "dz",
        0x1C4: "D\u{17D}", 0x1C5: "D\u{17E}", 0x1C6: "d\u{17E}", 0x1C7: "LJ", 0x1C8: "Lj", 0x1C9: "lj",
        0x1CA: "NJ", 0x1CB: "Nj", 0x1CC: "nj", 0xFB00: "ff", 0xFB01: "fi", 0xFB02: "fl", 0xFB03: "ffi",
        0xFB04: "ffl", 0xFB05: "\u{17F}t", 0xFB06: "st",
    ]

    @inline(__always) static func isRemovedControl(_ v: UInt32) -> Bool {
        switch v {
        case 0x00...0x08, 0x0B, 0x0E...0x1F, 0x7F, 0x206A...0x206F, 0xFEFF, 0xFFF9...0xFFFC: return true
        default: return false
        }
    }

    /// ftfy's fixers after fix_encoding, in ftfy's order: C1 controls, ligatures, width,
    /// quotes, line breaks, terminal escapes, control characters.
    static func simpleFixes(_ input: [Unicode.Scalar]) -> [Unicode.Scalar] {
        // Fast path: plain ASCII text without controls needs nothing here.
        if !input.contains(where: { $0.value >= 0x7F || ($0.value < 0x20 && $0 != "\n" && $0 != "\t") }) {
            return input
        }
        var s: [Unicode.Scalar] = []
        s.reserveCapacity(input.count)
        for c in input {
            let v = c.value
            if v >= 0x80 && v <= 0x9F {
                s.append(Unicode.Scalar(cp1252High[Int(v - 0x80)]) ?? c)
            } else if let lig = ligatures[v] {
                s.append(contentsOf: lig.unicodeScalars)
            } else if v == 0x3000 || (v >= 0xFF01 && v < 0xFFF0), let w = widthMap[v] {
                s.append(contentsOf: w)
            } else if v == 0x2BC || (v >= 0x2018 && v <= 0x201B) {
                s.append("'")
            } else if v >= 0x201C && v <= 0x201F {
                s.append("\"")
            } else {
                s.append(c)
            }
        }
        // Line breaks: CRLF, CR, U+2028, U+2029, U+0085 -> LF.
        var t: [Unicode.Scalar] = []
        t.reserveCapacity(s.count)
        var i = 0
        while i < s.count {
            let c = s[i]
            if c == "\r" {
                t.append("\n")
                i += (i + 1 < s.count && s[i + 1] == "\n") ? 2 : 1
                continue
            }
            if c == "\u{2028}" || c == "\u{2029}" || c == "\u{85}" { t.append("\n") } else { t.append(c) }
            i += 1
        }
        // ANSI escapes ESC [ [0-9;]* [A-Za-z], then control characters.
        var u: [Unicode.Scalar] = []
        u.reserveCapacity(t.count)
        i = 0
        while i < t.count {
            if t[i] == "\u{1B}", i + 1 < t.count, t[i + 1] == "[" {
                var j = i + 2
                while j < t.count, (t[j].value >= 0x30 && t[j].value <= 0x39) || t[j] == ";" { j += 1 }
                if j < t.count, (t[j].value | 0x20) >= 0x61, (t[j].value | 0x20) <= 0x7A, t[j].value < 0x80 {
                    i = j + 1
                    continue
                }
            }
            if !isRemovedControl(t[i].value) { u.append(t[i]) }
            i += 1
        }
        return u
    }

    // MARK: - Whitespace

    /// `strip()` (Python isspace), `re.sub(r"\s+", " ")` (regex-module \s), `strip()` again.
    static func collapseWhitespace(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var lo = 0, hi = s.count
        while lo < hi, UnicodeSupport.isPythonSpace(s[lo].value) { lo += 1 }
        while hi > lo, UnicodeSupport.isPythonSpace(s[hi - 1].value) { hi -= 1 }
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(hi - lo)
        var pendingSpace = false
        for k in lo..<hi {
            let c = s[k]
            if UnicodeSupport.isRegexSpace(c.value) {
                pendingSpace = true
            } else {
                if pendingSpace { out.append(" "); pendingSpace = false }
                out.append(c)
            }
        }
        return out
    }
}
