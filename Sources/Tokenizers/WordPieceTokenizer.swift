import Foundation

/// BERT uncased WordPiece tokenizer (all-MiniLM-L6-v2), matching Hugging Face's
/// `BertTokenizer`/`BertTokenizerFast` with do_lower_case, tokenize_chinese_chars and accent
/// stripping. Immutable after loading and safe to share between threads.
public final class WordPieceTokenizer: Sendable {
    /// Default maximum sequence length of all-MiniLM-L6-v2 (`max_seq_length` 256).
    public static let defaultMaxLength = 256
    /// Words longer than this (in Unicode scalars) become `[UNK]`, as in BERT.
    public static let maxInputCharsPerWord = 100

    /// `[CLS]`, `[SEP]`, `[UNK]`, `[PAD]` ids (101, 102, 100, 0 for the MiniLM vocabulary).
    public let clsID: Int
    public let sepID: Int
    public let unkID: Int
    public let padID: Int
    /// Number of entries (lines) in vocab.txt; every produced id is below it.
    public let vocabularySize: Int

    private let vocab: [String: Int]
    private let tokens: [String]
    private let longestToken: Int

    /// A batch of sequences right-padded with `[PAD]` to the longest one.
    public struct Batch: Sendable, Equatable {
        /// Row-major [count, width] ids.
        public let ids: [[Int]]
        /// Real (unpadded) length of each row; the attention mask is `position < lengths[row]`.
        public let lengths: [Int]
        /// Common row width (the longest sequence).
        public var width: Int { ids.first?.count ?? 0 }
        /// 1 for real tokens, 0 for padding, per row.
        public var attentionMask: [[Int]] {
            zip(ids, lengths).map { row, n in (0..<row.count).map { $0 < n ? 1 : 0 } }
        }
    }

    // MARK: - Loading

    /// Reads `vocab.txt` (one token per line, id = line index; later duplicates win, like
    /// `load_vocab`). Throws `TokenizerError` for missing, empty or non-UTF-8 files, or when a
    /// special token is absent.
    public convenience init(vocabularyPath path: String) throws {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw TokenizerError.fileUnreadable(path: path, reason: error.localizedDescription)
        }
        try self.init(vocabularyData: data, name: path)
    }

    /// Builds the tokenizer from the bytes of a vocab.txt.
    public init(vocabularyData data: Data, name: String = "vocab.txt") throws {
        guard let text = String(data: data, encoding: .utf8) else { throw TokenizerError.notUTF8(name) }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        guard !lines.isEmpty, lines.contains(where: { !$0.isEmpty }) else { throw TokenizerError.emptyVocabulary(name) }
        var v: [String: Int] = [:]
        v.reserveCapacity(lines.count)
        for (i, t) in lines.enumerated() { v[t] = i }
        func special(_ t: String) throws -> Int {
            guard let id = v[t] else { throw TokenizerError.missingSpecialToken(t) }
            return id
        }
        clsID = try special("[CLS]")
        sepID = try special("[SEP]")
        unkID = try special("[UNK]")
        padID = try special("[PAD]")
        vocab = v
        tokens = lines
        vocabularySize = lines.count
        longestToken = lines.map { $0.unicodeScalars.count }.max() ?? 0
    }

    // MARK: - Encoding

    /// `[CLS] + first (maxLength - 2) wordpieces + [SEP]`. Tokenisation stops once enough
    /// wordpieces exist, so arbitrarily long input costs no more than its first words.
    public func encode(_ text: String, maxLength: Int = WordPieceTokenizer.defaultMaxLength) -> [Int] {
        let budget = max(0, maxLength - 2)
        var ids = [clsID]
        ids.reserveCapacity(min(budget, 512) + 2)
        forEachWordPiece(text, limit: budget) { ids.append($0) }
        ids.append(sepID)
        return ids
    }

    /// Byte entry point (fuzzing): invalid UTF-8 becomes U+FFFD, which BERT's cleaning drops.
    public func encode(bytes: [UInt8], maxLength: Int = WordPieceTokenizer.defaultMaxLength) -> [Int] {
        encode(String(decoding: bytes, as: UTF8.self), maxLength: maxLength)
    }

    /// Wordpiece strings (without `[CLS]`/`[SEP]`, untruncated up to `limit`), for debugging.
    public func tokenize(_ text: String, limit: Int = Int.max) -> [String] {
        var out: [String] = []
        forEachWordPiece(text, limit: limit) { out.append(tokens[$0]) }
        return out
    }

    /// Token strings for ids (debugging); unknown ids map to `[UNK]`.
    public func tokens(for ids: [Int]) -> [String] {
        ids.map { $0 >= 0 && $0 < tokens.count ? tokens[$0] : "[UNK]" }
    }

    /// Encodes several texts and right-pads them with `[PAD]` to the longest row.
    public func encodeBatch(_ texts: [String], maxLength: Int = WordPieceTokenizer.defaultMaxLength) -> Batch {
        let rows = texts.map { encode($0, maxLength: maxLength) }
        let width = rows.map(\.count).max() ?? 0
        return Batch(ids: rows.map { $0 + Array(repeating: padID, count: width - $0.count) }, lengths: rows.map(\.count))
    }

    // MARK: - BasicTokenizer

    /// BERT's `_is_control`: categories C* except tab, newline, carriage return.
    @inline(__always) static func isControl(_ c: Unicode.Scalar) -> Bool {
        let v = c.value
        if v == 0x09 || v == 0x0A || v == 0x0D { return false }
        if v < 0x20 || v == 0x7F { return true }
        if v < 0xA0 { return v >= 0x80 }
        switch c.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse: return true
        default: return false
        }
    }

    /// Whitespace as the fast tokenizer sees it (tab, LF, CR, Unicode White_Space).
    @inline(__always) static func isWhitespace(_ c: Unicode.Scalar) -> Bool {
        let v = c.value
        if v < 0x80 { return v == 0x20 || v == 0x09 || v == 0x0A || v == 0x0D }
        return c.properties.isWhitespace
    }

    /// BERT's `_is_punctuation`: ASCII 33-47, 58-64, 91-96, 123-126 and categories P*.
    @inline(__always) static func isPunctuation(_ c: Unicode.Scalar) -> Bool {
        let v = c.value
        if (v >= 33 && v <= 47) || (v >= 58 && v <= 64) || (v >= 91 && v <= 96) || (v >= 123 && v <= 126) { return true }
        if v < 0x80 { return false }
        switch c.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return true
        default:
            return false
        }
    }

    /// BERT's `_is_chinese_char` code-point ranges (CJK ideographs only, not kana or hangul).
    @inline(__always) static func isCJK(_ v: UInt32) -> Bool {
        (v >= 0x4E00 && v <= 0x9FFF) || (v >= 0x3400 && v <= 0x4DBF) || (v >= 0x20000 && v <= 0x2A6DF)
            || (v >= 0x2A700 && v <= 0x2B73F) || (v >= 0x2B740 && v <= 0x2B81F) || (v >= 0x2B820 && v <= 0x2CEAF)
            || (v >= 0xF900 && v <= 0xFAFF) || (v >= 0x2F800 && v <= 0x2FA1F)
    }

    /// Streams wordpiece ids of `text` to `sink`, at most `limit` of them.
    ///
    /// Raw scalars are grouped into "units": runs of ordinary characters, or a single
    /// punctuation / CJK character; whitespace and dropped characters separate units. Each unit
    /// is then normalised (NFD, drop Mn, lower-case — the fast tokenizer's order) and split on
    /// punctuation again, because NFD can expose punctuation (e.g. U+1FEF -> '`'). Long units
    /// are normalised in slices cut before a starter (canonical combining class 0), which is
    /// exact because NFD only reorders runs of combining marks; the word being built carries
    /// over between slices and stops growing past 101 scalars (it is `[UNK]` by then anyway).
    private func forEachWordPiece(_ text: String, limit: Int, _ sink: (Int) -> Void) {
        guard limit > 0 else { return }
        var count = 0
        var unit: [Unicode.Scalar] = []
        unit.reserveCapacity(64)
        var word: [Unicode.Scalar] = []
        word.reserveCapacity(128)
        var wordLength = 0

        func emitWord() -> Bool {
            defer { word.removeAll(keepingCapacity: true); wordLength = 0 }
            guard wordLength > 0 else { return true }
            return wordPiece(word, length: wordLength) { id in
                guard count < limit else { return false }
                sink(id); count += 1
                return count < limit
            }
        }
        func append(_ c: Unicode.Scalar) {
            wordLength += 1
            if word.count <= Self.maxInputCharsPerWord { word.append(c) }
        }
        /// Normalises the buffered slice; `final` ends the unit (and so the current word).
        func process(final: Bool) -> Bool {
            defer { unit.removeAll(keepingCapacity: true) }
            for c in normalize(unit) {
                if Self.isPunctuation(c) {
                    if !emitWord() { return false }
                    append(c)
                    if !emitWord() { return false }
                } else if Self.isWhitespace(c) {
                    if !emitWord() { return false }
                } else {
                    append(c)
                }
            }
            return final ? emitWord() : true
        }

        for c in text.unicodeScalars {
            let v = c.value
            // ASCII letters and digits: NFD-stable starters, so the pending slice can be
            // normalised first and the character appended directly (the common, fast path).
            if v < 0x80, (v >= 0x30 && v <= 0x39) || ((v | 0x20) >= 0x61 && (v | 0x20) <= 0x7A) {
                if !unit.isEmpty, !process(final: false) { return }
                append(v <= 0x5A && v >= 0x41 ? Unicode.Scalar(UInt8(v + 32)) : c)
                continue
            }
            if v == 0 || v == 0xFFFD || Self.isControl(c) { continue }
            if Self.isWhitespace(c) {
                if !process(final: true) { return }
            } else if Self.isPunctuation(c) || Self.isCJK(v) {
                if !process(final: true) { return }
                unit.append(c)
                if !process(final: true) { return }
            } else {
                if unit.count >= 4096, v < 0x300 || c.properties.canonicalCombiningClass == .notReordered {
                    if !process(final: false) { return }
                }
                unit.append(c)
            }
        }
        _ = process(final: true)
    }

    /// NFD, remove nonspacing marks (Mn), then per-scalar lower-casing (no Final_Sigma, as in
    /// the Rust `tokenizers` normaliser).
    private func normalize(_ unit: [Unicode.Scalar]) -> [Unicode.Scalar] {
        if unit.allSatisfy({ $0.value < 0x80 }) {
            return unit.map { ($0.value >= 0x41 && $0.value <= 0x5A) ? Unicode.Scalar(UInt8($0.value + 32)) : $0 }
        }
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(unit.count)
        for c in UnicodeSupport.nfd(unit) {
            if c.value >= 0x300, c.properties.generalCategory == .nonspacingMark { continue }
            if c.value < 0x80 {
                out.append((c.value >= 0x41 && c.value <= 0x5A) ? Unicode.Scalar(UInt8(c.value + 32)) : c)
            } else if c.properties.changesWhenLowercased {
                out.append(contentsOf: c.properties.lowercaseMapping.unicodeScalars)
            } else {
                out.append(c)
            }
        }
        return out
    }

    // MARK: - WordPiece

    /// Greedy longest-match-first over one word; the whole word is `[UNK]` if any position has
    /// no match or it exceeds 100 scalars. `emit` returns false to stop.
    @discardableResult
    private func wordPiece(_ word: [Unicode.Scalar], length: Int, _ emit: (Int) -> Bool) -> Bool {
        if length > Self.maxInputCharsPerWord { return emit(unkID) }
        var pieces: [Int] = []
        var start = 0
        while start < word.count {
            var end = min(word.count, start + longestToken)
            var found: Int?
            while end > start {
                var s = start > 0 ? "##" : ""
                s.unicodeScalars.append(contentsOf: word[start..<end])
                if let id = vocab[s] { found = id; break }
                end -= 1
            }
            guard let id = found else { return emit(unkID) }
            pieces.append(id)
            start = end
        }
        for id in pieces where !emit(id) { return false }
        return true
    }
}
