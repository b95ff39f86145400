/// Terminal text measurement, sanitising, wrapping and truncation.
///
/// All functions here are pure (no locale, no terminal) so they behave the same in tests
/// and in the product. We do not call the C `wcwidth`: its answer depends on the process
/// locale (-1 for every non-ASCII character under "C"), which would make layout depend on
/// the environment. The table below follows Unicode's East Asian Width (W/F) and emoji
/// presentation rules, which is what glibc's UTF-8 locales implement as well.
public enum TextWidth {
    /// Wide (two-column) ranges outside the emoji blocks: Hangul Jamo, CJK, Hangul syllables,
    /// compatibility ideographs, full-width forms, and the supplementary ideographic planes.
    private static let wideRanges: [ClosedRange<UInt32>] = [
        0x1100...0x115F, 0x231A...0x231B, 0x2329...0x232A, 0x23E9...0x23EC, 0x23F0...0x23F0,
        0x23F3...0x23F3, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF,
        0xA000...0xA4CF, 0xA960...0xA97F, 0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE10...0xFE19,
        0xFE30...0xFE6F, 0xFF00...0xFF60, 0xFFE0...0xFFE6, 0x16FE0...0x16FE4, 0x17000...0x18CFF,
        0x1B000...0x1B2FF, 0x20000...0x2FFFD, 0x30000...0x3FFFD,
    ]

    /// Columns one Unicode scalar occupies: 0 for combining marks and format characters,
    /// 2 for East Asian wide/full-width and emoji-presentation characters, 1 otherwise.
    /// Control characters count 0 here; `sanitize` removes them before anything is drawn.
    public static func displayWidth(of scalar: Unicode.Scalar) -> Int {
        let v = scalar.value
        if v < 0x20 || (v >= 0x7F && v < 0xA0) { return 0 }
        if v < 0x300 { return 1 }  // fast path: Latin
        if v >= 0x1160 && v <= 0x11FF { return 0 }  // Hangul medial vowels / final consonants
        if v == 0x200B { return 0 }
        switch scalar.properties.generalCategory {
        case .nonspacingMark, .enclosingMark, .format: return 0
        default: break
        }
        if scalar.properties.isEmojiPresentation { return 2 }
        for r in wideRanges where r.contains(v) { return 2 }
        return 1
    }

    /// Columns one grapheme cluster occupies. The base scalar decides; an emoji base
    /// followed by VS16 (U+FE0F) is drawn wide by terminals.
    public static func displayWidth(of character: Character) -> Int {
        let scalars = character.unicodeScalars
        guard let first = scalars.first else { return 0 }
        // "\r\n" is one Character in Swift; it never reaches drawing (sanitised), count 0.
        var w = displayWidth(of: first)
        if w == 1, first.properties.isEmoji, scalars.contains(where: { $0.value == 0xFE0F }) { w = 2 }
        return w
    }

    /// Columns a whole string occupies.
    public static func displayWidth(of string: String) -> Int {
        var total = 0
        for ch in string { total += displayWidth(of: ch) }
        return total
    }

    /// Replaces everything that could act on the terminal instead of being shown:
    /// C0 controls become caret escapes (`ESC` → `^[`, `DEL` → `^?`), C1 controls and bidi
    /// overrides become U+FFFD, tabs become spaces, and line breaks are kept (`keepNewlines`)
    /// or turned into spaces. The result is safe to hand to ncurses.
    public static func sanitize(_ text: String, keepNewlines: Bool = false) -> String {
        var out = String.UnicodeScalarView()
        out.reserveCapacity(text.unicodeScalars.count)
        var previousWasCR = false
        for s in text.unicodeScalars {
            let v = s.value
            defer { previousWasCR = (v == 0x0D) }
            switch v {
            case 0x0A:
                if previousWasCR { continue }  // CR LF is one break
                out.append(keepNewlines ? "\n" : " ")
            case 0x0D, 0x2028, 0x2029:
                out.append(keepNewlines ? "\n" : " ")
            case 0x09:
                out.append(contentsOf: "    ".unicodeScalars)
            case 0x00..<0x20:
                out.append("^")
                out.append(Unicode.Scalar(UInt8(v) ^ 0x40))
            case 0x7F:
                out.append(contentsOf: "^?".unicodeScalars)
            case 0x80..<0xA0, 0x202A...0x202E, 0x2066...0x2069, 0xFFF9...0xFFFB:
                out.append("\u{FFFD}")
            default:
                out.append(s)
            }
        }
        return String(out)
    }

    /// Greedy word wrap to `width` columns, display-width aware. Paragraphs (split at
    /// "\n") wrap independently; breaks happen at spaces when possible, otherwise inside
    /// the word (long URLs, pasted blobs). Continuation lines do not start with spaces.
    /// Always returns at least one line. Expects sanitised text.
    public static func wrap(_ text: String, width: Int) -> [String] {
        let width = max(1, width)
        var lines: [String] = []
        for paragraph in text.split(separator: "\n", omittingEmptySubsequences: false) {
            wrapParagraph(paragraph, width: width, into: &lines)
        }
        return lines.isEmpty ? [""] : lines
    }

    private static func wrapParagraph(_ paragraph: Substring, width: Int, into lines: inout [String]) {
        var line: [(Character, Int)] = []
        var used = 0
        var lastSpace: Int? = nil
        var continuation = false
        func emit(_ cells: ArraySlice<(Character, Int)>) {
            var s = String(cells.map { $0.0 })
            while s.last == " " { s.removeLast() }
            lines.append(s)
        }
        for ch in paragraph {
            let cw = displayWidth(of: ch)
            if ch == " " && line.isEmpty && continuation { continue }
            if used + cw > width && !line.isEmpty {
                if ch == " " {
                    emit(line[...]); line.removeAll(keepingCapacity: true); used = 0
                    lastSpace = nil; continuation = true
                    continue
                }
                if let sp = lastSpace {
                    emit(line[..<sp])
                    line = Array(line[(sp + 1)...])
                    while line.first?.0 == " " { line.removeFirst() }
                    used = line.reduce(0) { $0 + $1.1 }
                } else {
                    emit(line[...]); line.removeAll(keepingCapacity: true); used = 0
                }
                lastSpace = nil
                continuation = true
                if used + cw > width && !line.isEmpty {
                    emit(line[...]); line.removeAll(keepingCapacity: true); used = 0
                }
            }
            line.append((ch, cw))
            used += cw
            if ch == " " { lastSpace = line.count - 1 }
        }
        if !line.isEmpty || !continuation { emit(line[...]) }
    }

    /// Cuts `text` to at most `width` columns, ending in `ellipsis` when something was cut.
    public static func truncate(_ text: String, width: Int, ellipsis: String = "…") -> String {
        guard width > 0 else { return "" }
        if displayWidth(of: text) <= width { return text }
        let ew = displayWidth(of: ellipsis)
        if ew > width { return String(repeating: ".", count: width) }
        var out = ""
        var used = 0
        for ch in text {
            let cw = displayWidth(of: ch)
            if used + cw > width - ew { break }
            out.append(ch); used += cw
        }
        return out + ellipsis
    }

    /// Cuts `text` from the left to at most `width` columns, starting with `ellipsis` when
    /// something was cut (for paths: the file name at the end matters most).
    public static func truncateLeft(_ text: String, width: Int, ellipsis: String = "…") -> String {
        guard width > 0 else { return "" }
        if displayWidth(of: text) <= width { return text }
        let ew = displayWidth(of: ellipsis)
        if ew > width { return String(repeating: ".", count: width) }
        var tail: [Character] = []
        var used = 0
        for ch in text.reversed() {
            let cw = displayWidth(of: ch)
            if used + cw > width - ew { break }
            tail.append(ch); used += cw
        }
        return ellipsis + String(tail.reversed())
    }

    /// Pads with spaces (or truncates) to exactly `width` columns.
    public static func pad(_ text: String, width: Int, ellipsis: String = "…") -> String {
        let t = truncate(text, width: width, ellipsis: ellipsis)
        let w = displayWidth(of: t)
        return w < width ? t + String(repeating: " ", count: width - w) : t
    }
}
