import Foundation

/// One term of an rclip-style combined query such as
/// `"2:golden retriever" + ./pool.jpg - night`.
public struct QueryTerm: Sendable, Equatable {
    public enum Content: Sendable, Equatable {
        case text(String)
        /// An image path as written (`~` expanded); the caller checks it exists.
        case image(String)
    }
    /// Signed weight: the `W:` prefix (default 1) times the sign of the operator before
    /// the term (`-` → negative).
    public var weight: Float
    public var content: Content

    public init(weight: Float, content: Content) {
        self.weight = weight
        self.content = content
    }
}

/// Parser and combiner for combined queries.
///
/// Grammar: terms separated by stand-alone `+` / `-` operators (a leading operator is
/// allowed). A term is one or more words; a `W:` prefix with W a number sets its weight
/// (`2:golden retriever`, `0.5:./pool.jpg`). A term is an image when it starts with `/`,
/// `./`, `../` or `~/`, or ends in .jpg/.jpeg/.jpe/.png; otherwise it is text. Quotes
/// ("…" or '…') group words and keep `+`/`-` inside them literal. Hyphens inside words
/// (`black-and-white`) are not operators.
public enum CombinedQuery {
    /// Parses one query string.
    public static func parse(_ query: String) throws -> [QueryTerm] {
        try build(tokens: tokenize(query))
    }

    /// Parses command-line arguments: a single argument is parsed as a query string;
    /// several arguments are taken as already split by the shell (each non-operator
    /// argument is one word, quotes already removed).
    public static func parse(arguments: [String]) throws -> [QueryTerm] {
        if arguments.count == 1 { return try parse(arguments[0]) }
        return try build(tokens: arguments.map { $0 == "+" || $0 == "-" ? .op($0 == "-") : .word($0) })
    }

    enum Token: Equatable { case word(String), op(Bool) }

    static func tokenize(_ s: String) throws -> [Token] {
        var tokens: [Token] = []
        var current = ""
        var inWord = false, quoted = false
        var quote: Character? = nil
        func flush() {
            if inWord {
                if !quoted && (current == "+" || current == "-") { tokens.append(.op(current == "-")) } else { tokens.append(.word(current)) }
            }
            current = ""; inWord = false; quoted = false
        }
        for ch in s {
            if let q = quote {
                if ch == q { quote = nil } else { current.append(ch) }
            } else if ch == "\"" || ch == "'" {
                quote = ch; inWord = true; quoted = true
            } else if ch.isWhitespace {
                flush()
            } else {
                current.append(ch); inWord = true
            }
        }
        if quote != nil { throw GalleryError.invalidQuery("unterminated quote in \(s)") }
        flush()
        return tokens
    }

    static func build(tokens: [Token]) throws -> [QueryTerm] {
        var terms: [QueryTerm] = []
        var sign: Float = 1
        var words: [String] = []
        var sawOperator = false
        func finish(at position: String) throws {
            guard !words.isEmpty else {
                throw GalleryError.invalidQuery("missing term \(position)")
            }
            terms.append(try term(words.joined(separator: " "), sign: sign))
            words = []
        }
        for t in tokens {
            switch t {
            case .word(let w): words.append(w)
            case .op(let negative):
                if !words.isEmpty { try finish(at: "") } else if sawOperator || !terms.isEmpty {
                    throw GalleryError.invalidQuery("two operators in a row ('\(negative ? "-" : "+")')")
                }
                sign = negative ? -1 : 1
                sawOperator = true
            }
        }
        if words.isEmpty {
            if sawOperator { throw GalleryError.invalidQuery("missing term after the last operator") }
            throw GalleryError.invalidQuery("empty query")
        }
        try finish(at: "")
        return terms
    }

    static func term(_ raw: String, sign: Float) throws -> QueryTerm {
        var weight: Float = 1
        var body = raw
        if let colon = raw.firstIndex(of: ":") {
            let prefix = String(raw[..<colon])
            if let w = Float(prefix), prefix.allSatisfy({ "0123456789.+-eE".contains($0) }) {
                guard w.isFinite else { throw GalleryError.invalidQuery("weight \(prefix) is not finite") }
                weight = w
                body = String(raw[raw.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
                if body.isEmpty { throw GalleryError.invalidQuery("weight \(prefix): without a term") }
            }
        }
        return QueryTerm(weight: sign * weight, content: isImagePath(body) ? .image((body as NSString).expandingTildeInPath) : .text(body))
    }

    /// Whether a term names an image file rather than text.
    public static func isImagePath(_ s: String) -> Bool {
        if s.hasPrefix("/") || s.hasPrefix("./") || s.hasPrefix("../") || s.hasPrefix("~/") { return true }
        return !s.contains(" ") && ImageFormat.fromExtension(of: s) != nil
    }

    /// Σ weightᵢ · normalise(embeddingᵢ), normalised: every term counts by its weight
    /// regardless of its raw norm (image and text towers differ in scale).
    /// - Throws: `.vectorDimension` on mixed sizes, `.invalidQuery` when the terms cancel.
    public static func combine(_ terms: [(weight: Float, embedding: [Float])]) throws -> [Float] {
        guard let d = terms.first?.embedding.count, d > 0 else { throw GalleryError.invalidQuery("no terms to combine") }
        var sum = [Double](repeating: 0, count: d)
        for (w, e) in terms {
            guard e.count == d else { throw GalleryError.vectorDimension(expected: d, got: e.count, context: "query term") }
            let n = try EmbeddingMath.normalized(e, context: "query term")
            for i in 0..<d { sum[i] += Double(w) * Double(n[i]) }
        }
        do {
            return try EmbeddingMath.normalized(sum.map { Float($0) }, context: "combined query")
        } catch {
            throw GalleryError.invalidQuery("the terms cancel each other out (all weights zero, or a term minus itself)")
        }
    }
}
