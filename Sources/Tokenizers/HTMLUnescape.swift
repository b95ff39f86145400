/// HTML character-reference decoding with CPython's `html.unescape` semantics, plus ftfy's
/// stricter variant. Both operate on arrays of Unicode scalars (the tokenizers' working form).
enum HTMLUnescape {
    /// Parsed entity tables (name -> replacement scalars), built once on first use.
    static let html5: [String: [Unicode.Scalar]] = parse(HTMLEntityTable.html5)
    static let ftfyUpper: [String: [Unicode.Scalar]] = parse(HTMLEntityTable.ftfyUpper)
    /// Longest name in the table: bounds the prefix search.
    static let longestName: Int = html5.keys.map { $0.unicodeScalars.count }.max() ?? 0

    private static func parse(_ table: String) -> [String: [Unicode.Scalar]] {
        var out: [String: [Unicode.Scalar]] = [:]
        for line in table.split(separator: "\n") {
            guard let eq = line.lastIndex(of: "=") else { continue }
            let name = String(line[..<eq])
            let scalars = line[line.index(after: eq)...].split(separator: " ").compactMap {
                UInt32($0, radix: 16).flatMap(Unicode.Scalar.init)
            }
            out[name] = scalars
        }
        return out
    }

    @inline(__always) static func isASCIIDigit(_ v: UInt32) -> Bool { v >= 48 && v <= 57 }
    @inline(__always) static func hexValue(_ v: UInt32) -> UInt32? {
        switch v {
        case 48...57: return v - 48
        case 65...70: return v - 55
        case 97...102: return v - 87
        default: return nil
        }
    }
    @inline(__always) static func isASCIIAlnum(_ v: UInt32) -> Bool {
        (v >= 48 && v <= 57) || (v >= 65 && v <= 90) || (v >= 97 && v <= 122)
    }

    /// Decodes a numeric reference the way CPython does (windows-1252 remapping, U+FFFD for
    /// surrogates/out of range, nothing for non-characters and most controls).
    static func numericReference(_ value: UInt32?) -> [Unicode.Scalar] {
        guard let num = value else { return ["\u{FFFD}"] }  // overflowed: certainly > 0x10FFFF
        if let mapped = HTMLEntityTable.invalidCharrefs[num], let s = Unicode.Scalar(mapped) { return [s] }
        if (0xD800...0xDFFF).contains(num) || num > 0x10FFFF { return ["\u{FFFD}"] }
        if HTMLEntityTable.invalidCodepoints.contains(num) { return [] }
        return Unicode.Scalar(num).map { [$0] } ?? ["\u{FFFD}"]
    }

    /// CPython `html.unescape`: `&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)`,
    /// named references resolved against the full HTML5 table with legacy-prefix fallback.
    static func python(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard s.contains("&") else { return s }
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count)
        var i = 0
        let n = s.count
        while i < n {
            let c = s[i]
            if c != "&" || i + 1 >= n { out.append(c); i += 1; continue }
            if let (replacement, end) = matchPythonReference(s, at: i) {
                out.append(contentsOf: replacement)
                i = end
            } else {
                out.append(c); i += 1
            }
        }
        return out
    }

    /// Tries to match a reference at `s[at] == "&"`; returns the replacement and the index after it.
    static func matchPythonReference(_ s: [Unicode.Scalar], at: Int) -> ([Unicode.Scalar], Int)? {
        let n = s.count
        var j = at + 1
        if s[j] == "#" {
            j += 1
            if j < n, isASCIIDigit(s[j].value) {
                var value: UInt32? = 0
                while j < n, isASCIIDigit(s[j].value) {
                    if let v = value { value = v > 0x10FFFF ? nil : v * 10 + (s[j].value - 48) }
                    j += 1
                }
                if j < n, s[j] == ";" { j += 1 }
                return (numericReference(value), j)
            }
            if j + 1 < n, s[j] == "x" || s[j] == "X", hexValue(s[j + 1].value) != nil {
                j += 1
                var value: UInt32? = 0
                while j < n, let h = hexValue(s[j].value) {
                    if let v = value { value = v > 0x10FFFF ? nil : v * 16 + h }
                    j += 1
                }
                if j < n, s[j] == ";" { j += 1 }
                return (numericReference(value), j)
            }
            return nil  // '#' cannot start a name
        }
        // Named: up to 32 characters outside [\t\n\f <&#;], then an optional ';'.
        let start = j
        while j < n, j - start < 32 {
            switch s[j] {
            case "\t", "\n", "\u{0C}", " ", "<", "&", "#", ";": break
            default: j += 1; continue
            }
            break
        }
        if j == start { return nil }
        if j < n, s[j] == ";" { j += 1 }
        let name = s[start..<j]
        if let r = html5[String(String.UnicodeScalarView(name))] { return (r, j) }
        // Legacy names without ';' may prefix other text ("&ampx" -> "&x"); longest prefix wins.
        var x = min(name.count - 1, longestName)
        while x >= 2 {
            let prefix = String(String.UnicodeScalarView(name.prefix(x)))
            if let r = html5[prefix] { return (r + Array(name.dropFirst(x)), j) }
            x -= 1
        }
        return nil
    }

    /// ftfy's `unescape_html`: only `&#?[0-9A-Za-z]{1,24};` references, looked up in the HTML5
    /// names ending in ';' (plus ftfy's upper-cased variants); numeric ones via CPython's rules,
    /// kept verbatim when the decoded text would still contain ';'.
    static func ftfy(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard s.contains("&") else { return s }
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count)
        var i = 0
        let n = s.count
        while i < n {
            let c = s[i]
            guard c == "&" else { out.append(c); i += 1; continue }
            var j = i + 1
            let hasHash = j < n && s[j] == "#"
            if hasHash { j += 1 }
            let runStart = j
            while j < n, j - runStart < 25, isASCIIAlnum(s[j].value) { j += 1 }
            let runLength = j - runStart
            guard runLength >= 1, runLength <= 24, j < n, s[j] == ";" else { out.append(c); i += 1; continue }
            let end = j + 1
            let match = Array(s[i..<end])
            let key = String(String.UnicodeScalarView(s[(i + 1)..<end]))
            if !hasHash, let r = html5[key] ?? ftfyUpper[key] {
                out.append(contentsOf: r)
            } else if hasHash {
                let decoded = python(match)
                out.append(contentsOf: decoded.contains(";") ? match : decoded)
            } else {
                out.append(contentsOf: match)
            }
            i = end
        }
        return out
    }
}
