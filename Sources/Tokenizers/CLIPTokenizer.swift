import Foundation

/// OpenAI CLIP's byte-level BPE tokenizer (`simple_tokenizer.py`), bit-exact on the project's
/// fixtures. Immutable after loading and safe to share between threads.
public final class CLIPTokenizer: Sendable {
    /// `<|startoftext|>`, prepended to every sequence.
    public static let startOfText = 49406
    /// `<|endoftext|>`, appended to every sequence; its position is where CLIP pools.
    public static let endOfText = 49407
    /// Vocabulary size of the CLIP text model (256 bytes, 256 bytes+`</w>`, 48,894 merges, 2 specials).
    public static let vocabularySize = 49408
    /// CLIP's context length.
    public static let defaultContextLength = 77
    /// Number of merges CLIP uses from the file: `49152 - 256 - 2`.
    public static let mergeCount = 48894
    /// `encode` considers at most this many Unicode scalars of its input (1 Mi, ~250k words;
    /// CLIP only ever reads 77 tokens). Longer text is cut there, which bounds the untruncated
    /// path to well under a second; `tokenize(truncate: true)` stops as soon as the context is full.
    public static let maximumInputScalars = 1 << 20
    /// Raw chunks are cut at whitespace; a whitespace-free run longer than this is cut hard
    /// (only matters for pathological input: such a run alone yields far more than 77 tokens).
    static let maximumChunkScalars = 4096

    /// Pair (left id << 32 | right id) -> (rank << 32 | merged id).
    private let merges: [UInt64: UInt64]
    /// Token id -> token string in the byte-to-unicode alphabet (for `decode`).
    private let tokenStrings: [String]
    /// Byte -> id of its single-byte token, without and with `</w>`.
    private let byteToken: [Int32]
    private let byteTokenEnd: [Int32]
    /// Unicode scalar of the byte-level alphabet -> byte (for `decode`).
    private let unicodeToByte: [UInt32: UInt8]
    private let cache = BPECache(capacity: 1 << 16)

    // MARK: - Loading

    /// Loads the gzip-compressed merges file (`bpe_simple_vocab_16e6.txt.gz`).
    /// Throws `TokenizerError` if the file is missing, not gzip, truncated or malformed.
    public convenience init(vocabularyGzipPath path: String) throws {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe)
        } catch {
            throw TokenizerError.fileUnreadable(path: path, reason: error.localizedDescription)
        }
        try self.init(vocabularyGzipData: data)
    }

    /// Loads the merges from gzip-compressed bytes.
    public convenience init(vocabularyGzipData data: Data) throws {
        try self.init(mergesText: try Gzip.decompress(data))
    }

    /// Loads the merges from the already decompressed text file contents.
    public init(mergesText data: Data) throws {
        guard let text = String(data: data, encoding: .utf8) else { throw TokenizerError.notUTF8("merges file") }
        // bytes_to_unicode(): printable bytes map to themselves, the rest to U+0100 upwards.
        var order: [UInt8] = []
        order += (0x21...0x7E).map { UInt8($0) }
        order += (0xA1...0xAC).map { UInt8($0) }
        order += (0xAE...0xFF).map { UInt8($0) }
        var byteToUnicode = [UInt32](repeating: 0, count: 256)
        for b in order { byteToUnicode[Int(b)] = UInt32(b) }
        var extra: UInt32 = 0
        for b in 0..<256 where !order.contains(UInt8(b)) {
            byteToUnicode[b] = 256 + extra
            order.append(UInt8(b))
            extra += 1
        }
        // All values are below U+0144, so the scalar conversion cannot fail.
        func symbol(_ b: Int) -> String { String(Character(Unicode.Scalar(byteToUnicode[b]) ?? "?")) }
        var strings: [String] = []
        strings.reserveCapacity(Self.vocabularySize)
        for b in order { strings.append(symbol(Int(b))) }
        for b in order { strings.append(symbol(Int(b)) + "</w>") }

        // merges = lines[1 : 48895]; a pair is "left right".
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count >= Self.mergeCount + 1 else {
            throw TokenizerError.tooFewMerges(found: max(0, lines.count - 1), required: Self.mergeCount)
        }
        var pairs: [(Substring, Substring)] = []
        pairs.reserveCapacity(Self.mergeCount)
        for k in 1...Self.mergeCount {
            let parts = lines[k].split(separator: " ")
            guard parts.count == 2 else { throw TokenizerError.malformedMerge(line: k + 1, text: String(lines[k])) }
            pairs.append((parts[0], parts[1]))
            strings.append(String(parts[0]) + String(parts[1]))
        }
        strings.append("<|startoftext|>")
        strings.append("<|endoftext|>")

        // encoder = dict(zip(vocab, range(len(vocab)))): the last duplicate wins, as in Python.
        var encoder: [String: Int] = [:]
        encoder.reserveCapacity(strings.count)
        for (i, s) in strings.enumerated() { encoder[s] = i }
        var table: [UInt64: UInt64] = [:]
        table.reserveCapacity(Self.mergeCount)
        for (rank, (a, b)) in pairs.enumerated() {
            guard let ia = encoder[String(a)], let ib = encoder[String(b)], let merged = encoder[String(a) + String(b)] else {
                continue  // a symbol outside the vocabulary can never occur in a word
            }
            table[UInt64(ia) << 32 | UInt64(ib)] = UInt64(rank) << 32 | UInt64(merged)
        }
        var bt = [Int32](repeating: 0, count: 256), bte = [Int32](repeating: 0, count: 256)
        for b in 0..<256 {
            let ch = symbol(b)
            bt[b] = Int32(encoder[ch] ?? 0)
            bte[b] = Int32(encoder[ch + "</w>"] ?? 0)
        }
        var u2b: [UInt32: UInt8] = [:]
        for b in 0..<256 { u2b[byteToUnicode[b]] = UInt8(b) }
        merges = table
        tokenStrings = strings
        byteToken = bt
        byteTokenEnd = bte
        unicodeToByte = u2b
    }

    // MARK: - Encoding

    /// `[49406] + bpe(clean(text)) + [49407]`, untruncated (the reference's `encode` wrapped in
    /// SOT/EOT). Input beyond `maximumInputScalars` is ignored.
    public func encode(_ text: String) -> [Int] {
        var out = [Self.startOfText]
        out += bpeTokens(text, limit: nil)
        out.append(Self.endOfText)
        return out
    }

    /// Byte entry point (e.g. for fuzzing): invalid UTF-8 is decoded with U+FFFD replacement,
    /// exactly like `String(decoding:as:)`, then encoded as `encode(_:)` does.
    public func encode(bytes: [UInt8]) -> [Int] {
        encode(String(decoding: bytes, as: UTF8.self))
    }

    /// The row `clip.tokenize` would produce, without padding (callers pad with 0 or EOT).
    /// With `truncate`, an over-long sequence keeps its first `contextLength` ids and its last
    /// id becomes `<|endoftext|>`; tokenisation stops as soon as that is decided, so a 10 MB
    /// input costs no more than its first few hundred words. Without `truncate` the full
    /// sequence is returned (the reference would raise instead).
    public func tokenize(_ text: String, contextLength: Int = CLIPTokenizer.defaultContextLength, truncate: Bool = true) -> [Int] {
        guard truncate else { return encode(text) }
        let context = max(2, contextLength)
        // More than context-2 BPE tokens means the row is cut; one extra token proves it.
        let body = bpeTokens(text, limit: context - 1)
        if body.count + 2 <= context { return [Self.startOfText] + body + [Self.endOfText] }
        return [Self.startOfText] + body.prefix(context - 2) + [Self.endOfText]
    }

    /// Index of `<|endoftext|>` in a `tokenize` row: the position CLIP's text pooling reads.
    public func eotIndex(_ ids: [Int]) -> Int {
        ids.firstIndex(of: Self.endOfText) ?? max(0, ids.count - 1)
    }

    /// Index of `<|endoftext|>` for `text` (without building a padded row).
    public func eotIndex(_ text: String, contextLength: Int = CLIPTokenizer.defaultContextLength) -> Int {
        tokenize(text, contextLength: contextLength).count - 1
    }

    /// Inverse mapping, for debugging and round-trip checks: ids -> text with `</w>` as a
    /// space. Special ids are rendered by name; ids out of range are skipped.
    public func decode(_ ids: [Int]) -> String {
        var bytes: [UInt8] = []
        for id in ids where id >= 0 && id < tokenStrings.count {
            let s = tokenStrings[id]
            if id >= Self.startOfText { bytes += Array(s.utf8); continue }
            var body = s
            var endOfWord = false
            if s.hasSuffix("</w>") { body = String(s.dropLast(4)); endOfWord = true }
            for u in body.unicodeScalars { if let b = unicodeToByte[u.value] { bytes.append(b) } }
            if endOfWord { bytes.append(0x20) }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The cleaned text the BPE step sees (for tests and debugging).
    public func cleanedText(_ text: String) -> String {
        var out: [Unicode.Scalar] = []
        forEachChunk(text) { chunk, unescape in
            let c = CLIPTextCleaner.clean(chunk, ftfyUnescape: unescape)
            if !c.isEmpty {
                if !out.isEmpty { out.append(" ") }
                out += c
            }
            return true
        }
        return String(String.UnicodeScalarView(out))
    }

    // MARK: - Pipeline

    /// Splits the raw text into chunks at whitespace. Every cleaning step is local and none
    /// crosses whitespace (entities, mojibake, NFC, final sigma, pre-token matches), so
    /// tokenising chunk by chunk equals tokenising the whole text, and lets `tokenize` stop
    /// early. `body` returns false to stop.
    private func forEachChunk(_ text: String, _ body: ([Unicode.Scalar], Bool) -> Bool) {
        // ftfy disables its entity decoding from the line holding the first '<' on.
        var unescapeLimit = Int.max
        var lineStart = 0
        var position = 0
        for u in text.unicodeScalars {
            if position >= Self.maximumInputScalars { break }
            if u == "<" { unescapeLimit = lineStart; break }
            position += 1
            if u == "\n" { lineStart = position }
        }

        var chunk: [Unicode.Scalar] = []
        chunk.reserveCapacity(256)
        var chunkStart = 0
        position = 0
        var stop = false
        func flush() {
            if !chunk.isEmpty && !stop {
                stop = !body(chunk, chunkStart < unescapeLimit)
            }
            chunk.removeAll(keepingCapacity: true)
            chunkStart = position
        }
        for u in text.unicodeScalars {
            if stop || position >= Self.maximumInputScalars { break }
            // A chunk boundary before whitespace (never U+0085, which ftfy turns into '…'), and
            // before the line where ftfy stops unescaping.
            if (chunk.count >= 64 && u != "\u{85}" && UnicodeSupport.isRegexSpace(u.value))
                || chunk.count >= Self.maximumChunkScalars || position == unescapeLimit {
                flush()
            }
            chunk.append(u)
            position += 1
        }
        flush()
    }

    /// The same pipeline without chunking (whole text cleaned at once). Tests use it to check
    /// that chunked tokenisation is exact.
    func encodeWithoutChunking(_ text: String) -> [Int] {
        let scalars = Array(text.unicodeScalars)
        var unescapeLimit = scalars.count
        if let lt = scalars.firstIndex(of: "<") {
            unescapeLimit = (scalars[..<lt].lastIndex(of: "\n") ?? -1) + 1
        }
        var cleaned = CLIPTextCleaner.clean(Array(scalars[..<unescapeLimit]), ftfyUnescape: true)
        let rest = CLIPTextCleaner.clean(Array(scalars[unescapeLimit...]), ftfyUnescape: false)
        if !cleaned.isEmpty && !rest.isEmpty { cleaned.append(" ") }
        cleaned += rest
        var ids = [Self.startOfText]
        CLIPPreTokenizer.forEachPiece(cleaned) { piece in
            switch piece {
            case .special(let id): ids.append(id)
            case .bytes(let bytes): ids += bpeSimple(bytes).map { Int($0) }
            }
            return true
        }
        ids.append(Self.endOfText)
        return ids
    }

    /// BPE ids of the whole text (without SOT/EOT), stopping once `limit` ids exist.
    private func bpeTokens(_ text: String, limit: Int?) -> [Int] {
        var ids: [Int] = []
        forEachChunk(text) { chunk, unescape in
            let cleaned = CLIPTextCleaner.clean(chunk, ftfyUnescape: unescape)
            CLIPPreTokenizer.forEachPiece(cleaned) { piece in
                switch piece {
                case .special(let id): ids.append(id)
                case .bytes(let bytes): appendBPE(bytes, to: &ids)
                }
                if let limit, ids.count >= limit { return false }
                return true
            }
            if let limit, ids.count >= limit { return false }
            return true
        }
        if let limit, ids.count > limit { ids.removeLast(ids.count - limit) }
        return ids
    }

    /// BPE of one pre-token (its UTF-8 bytes), through the cache for short words.
    private func appendBPE(_ bytes: [UInt8], to ids: inout [Int]) {
        let cacheable = bytes.count <= 64
        if cacheable, let hit = cache.get(bytes) {
            for t in hit { ids.append(Int(t)) }
            return
        }
        let result = bytes.count <= 32 ? bpeSimple(bytes) : bpeHeap(bytes)
        if cacheable { cache.put(bytes, result) }
        for t in result { ids.append(Int(t)) }
    }

    @inline(__always) private func lookup(_ a: Int32, _ b: Int32) -> UInt64? {
        merges[UInt64(UInt32(a)) << 32 | UInt64(UInt32(b))]
    }

    /// The reference algorithm: repeatedly merge every occurrence (left to right) of the
    /// adjacent pair with the lowest rank. Quadratic, but fastest for short words.
    func bpeSimple(_ bytes: [UInt8]) -> [Int32] {
        guard !bytes.isEmpty else { return [] }
        var word = bytes.map { byteToken[Int($0)] }
        word[word.count - 1] = byteTokenEnd[Int(bytes[bytes.count - 1])]
        while word.count > 1 {
            var best = UInt64.max
            for k in 0..<(word.count - 1) {
                if let m = lookup(word[k], word[k + 1]), m < best { best = m }
            }
            if best == UInt64.max { break }
            let rank = best >> 32
            let merged = Int32(truncatingIfNeeded: best & 0xFFFF_FFFF)
            var next: [Int32] = []
            next.reserveCapacity(word.count)
            var k = 0
            while k < word.count {
                if k + 1 < word.count, let m = lookup(word[k], word[k + 1]), m >> 32 == rank {
                    next.append(merged)
                    k += 2
                } else {
                    next.append(word[k])
                    k += 1
                }
            }
            word = next
        }
        return word
    }

    /// Same result as `bpeSimple` in O(n log n): a heap of candidate pairs keyed by (rank,
    /// position) over a linked list of symbols. Used for long words so hostile input stays fast.
    /// Equivalent because a merge's rank is always below the ranks of pairs it creates (CLIP's
    /// merges are learned incrementally), so same-rank occurrences are still merged left to right.
    func bpeHeap(_ bytes: [UInt8]) -> [Int32] {
        let n = bytes.count
        guard n > 0 else { return [] }
        var sym = bytes.map { byteToken[Int($0)] }
        sym[n - 1] = byteTokenEnd[Int(bytes[n - 1])]
        var prev = Array(-1..<(n - 1))
        var next = Array(1...n)  // n means "none"
        var alive = [Bool](repeating: true, count: n)
        var heap = MinHeap()
        for k in 0..<(n - 1) {
            if let m = lookup(sym[k], sym[k + 1]) { heap.push(Candidate(rank: m >> 32, pos: k, left: sym[k], right: sym[k + 1])) }
        }
        while let c = heap.pop() {
            let k = c.pos
            guard alive[k], sym[k] == c.left else { continue }
            let r = next[k]
            guard r < n, sym[r] == c.right else { continue }
            guard let m = lookup(c.left, c.right), m >> 32 == c.rank else { continue }
            sym[k] = Int32(truncatingIfNeeded: m & 0xFFFF_FFFF)
            alive[r] = false
            next[k] = next[r]
            if next[r] < n { prev[next[r]] = k }
            let p = prev[k]
            if p >= 0, let pm = lookup(sym[p], sym[k]) {
                heap.push(Candidate(rank: pm >> 32, pos: p, left: sym[p], right: sym[k]))
            }
            if next[k] < n, let nm = lookup(sym[k], sym[next[k]]) {
                heap.push(Candidate(rank: nm >> 32, pos: k, left: sym[k], right: sym[next[k]]))
            }
        }
        var out: [Int32] = []
        var k = 0
        while k < n { out.append(sym[k]); k = next[k] }
        return out
    }
}

/// One candidate merge in `bpeHeap`.
struct Candidate {
    var rank: UInt64
    var pos: Int
    var left: Int32
    var right: Int32
    @inline(__always) func precedes(_ o: Candidate) -> Bool { rank != o.rank ? rank < o.rank : pos < o.pos }
}

/// Minimal binary min-heap on (rank, position).
struct MinHeap {
    private var a: [Candidate] = []
    mutating func push(_ c: Candidate) {
        a.append(c)
        var i = a.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            if a[i].precedes(a[p]) { a.swapAt(i, p); i = p } else { break }
        }
    }
    mutating func pop() -> Candidate? {
        guard let top = a.first else { return nil }
        let last = a.removeLast()
        if !a.isEmpty {
            a[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < a.count, a[l].precedes(a[m]) { m = l }
                if r < a.count, a[r].precedes(a[m]) { m = r }
                if m == i { break }
                a.swapAt(i, m)
                i = m
            }
        }
        return top
    }
}
