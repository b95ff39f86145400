import Foundation

/// Character classes and normalisation helpers shared by both tokenizers. Everything works on
/// Unicode scalars, because the reference implementations (Python str / Rust char) do.
enum UnicodeSupport {
    /// `\s` of Python's `regex` module (Unicode White_Space), used by CLIP's whitespace_clean
    /// and its pre-tokenizer.
    @inline(__always) static func isRegexSpace(_ v: UInt32) -> Bool {
        if v < 0x80 { return v == 0x20 || (v >= 0x09 && v <= 0x0D) }
        switch v {
        case 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: return true
        default: return false
        }
    }

    /// Python `str.isspace()` (adds the information separators U+001C...U+001F), used by `strip()`.
    @inline(__always) static func isPythonSpace(_ v: UInt32) -> Bool {
        isRegexSpace(v) || (v >= 0x1C && v <= 0x1F)
    }

    /// General category L* (Lu, Ll, Lt, Lm, Lo) — `\p{L}`.
    @inline(__always) static func isLetter(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if v < 0x80 { return (v | 0x20) >= 0x61 && (v | 0x20) <= 0x7A }
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }

    /// General category N* (Nd, Nl, No) — `\p{N}`.
    @inline(__always) static func isNumber(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if v < 0x80 { return v >= 0x30 && v <= 0x39 }
        switch s.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    /// Canonical composition (NFC). Text below U+0300 is always NFC, which skips Foundation for
    /// nearly all input.
    static func nfc(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard s.contains(where: { $0.value >= 0x300 }) else { return s }
        let str = String(String.UnicodeScalarView(s))
        return Array(str.precomposedStringWithCanonicalMapping.unicodeScalars)
    }

    /// Canonical decomposition (NFD); ASCII is returned unchanged.
    static func nfd(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard s.contains(where: { $0.value >= 0xC0 }) else { return s }
        let str = String(String.UnicodeScalarView(s))
        return Array(str.decomposedStringWithCanonicalMapping.unicodeScalars)
    }

    /// Python `str.lower()`: full Unicode lower-case mapping (so `İ` becomes `i̇`, `ß` stays) and
    /// the Final_Sigma rule for `Σ`.
    static func pythonLower(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count)
        for (i, c) in s.enumerated() {
            let v = c.value
            if v < 0x80 {
                out.append((v >= 0x41 && v <= 0x5A) ? Unicode.Scalar(UInt8(v + 32)) : c)
            } else if v == 0x3A3 {
                out.append(isFinalSigma(s, at: i) ? "\u{3C2}" : "\u{3C3}")
            } else if c.properties.changesWhenLowercased {
                out.append(contentsOf: c.properties.lowercaseMapping.unicodeScalars)
            } else {
                out.append(c)
            }
        }
        return out
    }

    /// CPython's handle_capital_sigma: cased (case-ignorable)* Σ not followed by (case-ignorable)* cased.
    static func isFinalSigma(_ s: [Unicode.Scalar], at i: Int) -> Bool {
        var j = i - 1
        while j >= 0, s[j].properties.isCaseIgnorable { j -= 1 }
        guard j >= 0, s[j].properties.isCased else { return false }
        j = i + 1
        while j < s.count, s[j].properties.isCaseIgnorable { j += 1 }
        return j == s.count || !s[j].properties.isCased
    }
}
