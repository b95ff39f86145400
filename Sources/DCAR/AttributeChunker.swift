import Foundation

/// One attribute phrase of a text (DCAR, DESIGN.md §5.1): an adjective/modifier sequence with
/// its head noun ("red car", "group of people", "lush green hillside"), or a bare attribute
/// word ("red" in "the car is red").
public struct AttributePhrase: Sendable, Hashable, Codable {
    /// What the phrase mainly describes. A chunk takes the kind of its first attribute
    /// modifier (colour > number > material > size > other), else `scene` when its head is a
    /// place word, else `object`.
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case colour, number, material, size, scene, object, other
    }

    /// The phrase in lower case, words separated by one space.
    public var text: String
    public var kind: Kind
    /// The head noun (last word), nil for a bare attribute word.
    public var head: String?
    /// The attribute modifier that decided `kind` ("red" in "red car"), if any; lets the
    /// negative builder swap just that word.
    public var attribute: String?
    /// UTF-8 byte range of the phrase in `AttributeAnalysis.text` (the analysed text).
    public var utf8Range: Range<Int>

    public init(text: String, kind: Kind, head: String? = nil, attribute: String? = nil, utf8Range: Range<Int> = 0..<0) {
        self.text = text; self.kind = kind; self.head = head; self.attribute = attribute; self.utf8Range = utf8Range
    }
}

/// The chunker's answer for one text.
public struct AttributeAnalysis: Sendable, Equatable {
    /// The text actually analysed (the input capped at `AttributeChunker.maxBytes`).
    public var text: String
    /// Phrases in text order, without duplicates, at most `AttributeChunker.maxPhrases`.
    public var phrases: [AttributePhrase]
    /// The category word: the first vocabulary term found in the text when a vocabulary was
    /// given, else the head noun of the main subject (first non-scene noun chunk).
    public var category: String?
    /// Where the category was mentioned (UTF-8 byte range in `text`), for swapping it.
    public var categoryRange: Range<Int>?
    /// True when the input was longer than `maxBytes` and was cut.
    public var truncated: Bool
}

/// A small deterministic rule-based English chunker: no tagger, no model. Word lists decide
/// stop-words, verbs and attribute kinds; every other word is a noun or an adjective, and a
/// run of such words ends in its head noun. `-ing`/`-ed` words count as modifiers only at the
/// start of a run ("a sleeping cat"), as verbs after a noun ("a cat sleeping"). Hostile input
/// is safe: the text is capped at 10 KB, emoji and punctuation only break chunks.
public struct AttributeChunker: Sendable {
    /// Longest input analysed (bytes of UTF-8); the rest is ignored.
    public static let maxBytes = 10_240
    /// At most this many phrases per text (each one is encoded per query).
    public static let maxPhrases = 32
    /// Longest chunk kept (the last words, where the head is).
    public static let maxChunkWords = 4

    /// Category vocabulary (lower-cased word sequences, singular), longest first.
    private let vocabulary: [[String]]

    /// `categoryVocabulary`: known category words or names (e.g. the gallery's categories
    /// and labels, "stop sign", "Eiffel Tower"); matched case-insensitively, plural-tolerant.
    public init(categoryVocabulary: [String] = []) {
        var seen = Set<[String]>()
        var terms: [[String]] = []
        for term in categoryVocabulary {
            let words = AttributeChunker.tokenize(term).map { AttributeChunker.singular($0.word) }
            if words.isEmpty || seen.contains(words) { continue }
            seen.insert(words)
            terms.append(words)
        }
        // Longest first so "stop sign" wins over "sign"; stable for ties.
        vocabulary = terms.enumerated().sorted { ($0.element.count, -$0.offset) > ($1.element.count, -$1.offset) }.map(\.element)
    }

    /// Phrases only (convenience).
    public func phrases(in text: String) -> [AttributePhrase] { analyze(text).phrases }

    /// Splits `text` into attribute phrases and finds its category word.
    public func analyze(_ input: String) -> AttributeAnalysis {
        let (text, truncated) = AttributeChunker.cap(input)
        let tokens = AttributeChunker.tokenize(text)
        let items = AttributeChunker.merge(tokens)
        var phrases: [AttributePhrase] = []
        var seen = Set<String>()
        for run in AttributeChunker.runs(items) {
            for phrase in AttributeChunker.phrases(fromRun: run) where !seen.contains(phrase.text) {
                guard phrases.count < AttributeChunker.maxPhrases else { break }
                seen.insert(phrase.text)
                phrases.append(phrase)
            }
        }
        var category: String?
        var categoryRange: Range<Int>?
        if let (term, range) = matchVocabulary(tokens) {
            category = term
            categoryRange = range
        } else {
            let nounChunks = phrases.filter { $0.head != nil && !($0.kind == .number && $0.head == $0.attribute) }
            if let main = nounChunks.first(where: { $0.kind != .scene }) ?? nounChunks.first, let head = main.head {
                category = head
                let headBytes = head.utf8.count
                categoryRange = (main.utf8Range.upperBound - headBytes)..<main.utf8Range.upperBound
            }
        }
        return AttributeAnalysis(text: text, phrases: phrases, category: category, categoryRange: categoryRange, truncated: truncated)
    }

    // MARK: Category vocabulary

    private func matchVocabulary(_ tokens: [Token]) -> (String, Range<Int>)? {
        guard !vocabulary.isEmpty else { return nil }
        let singulars = tokens.map { AttributeChunker.singular($0.word) }
        for start in tokens.indices {
            for term in vocabulary where start + term.count <= tokens.count {
                var ok = true
                for (k, w) in term.enumerated() where singulars[start + k] != w {
                    ok = false; break
                }
                // A multi-word term must not cross punctuation.
                if ok, term.count > 1, tokens[start..<(start + term.count - 1)].contains(where: \.breakAfter) { ok = false }
                if ok {
                    let last = tokens[start + term.count - 1]
                    return (term.joined(separator: " "), tokens[start].range.lowerBound..<last.range.upperBound)
                }
            }
        }
        return nil
    }

    // MARK: Tokens

    /// A word of the text with its UTF-8 byte range; `breakAfter` when punctuation follows.
    struct Token: Equatable {
        var word: String
        var range: Range<Int>
        var breakAfter: Bool
    }

    /// Cuts `text` to at most `maxBytes` of UTF-8 at a scalar boundary.
    static func cap(_ text: String) -> (String, Bool) {
        guard text.utf8.count > maxBytes else { return (text, false) }
        var scalars = String.UnicodeScalarView()
        var bytes = 0
        for s in text.unicodeScalars {
            let n = String(s).utf8.count
            if bytes + n > maxBytes { break }
            bytes += n
            scalars.append(s)
        }
        return (String(scalars), true)
    }

    /// Lower-cased words (letters and digits, with inner `'` or `-`); every other visible
    /// character (punctuation, symbols, emoji) marks a chunk break.
    static func tokenize(_ text: String) -> [Token] {
        var tokens: [Token] = []
        var current = String.UnicodeScalarView()
        var start = 0
        var offset = 0
        var pendingJoiner: (Unicode.Scalar, Int)?   // an ' or - that may continue the word
        func flush(breaking: Bool) {
            if !current.isEmpty {
                var raw = String(current)
                let lower = raw.lowercased()
                if lower.hasSuffix("'s") || lower.hasSuffix("’s") { raw = String(raw.dropLast(2)) }   // possessive
                if !raw.isEmpty {
                    tokens.append(Token(word: raw.lowercased(), range: start..<(start + raw.utf8.count), breakAfter: false))
                }
                current = String.UnicodeScalarView()
            }
            if breaking, !tokens.isEmpty { tokens[tokens.count - 1].breakAfter = true }
        }
        for s in text.unicodeScalars {
            let width = String(s).utf8.count
            defer { offset += width }
            let isWordChar = CharacterSet.alphanumerics.contains(s) && s.properties.generalCategory != .otherNumber
                || CharacterSet.nonBaseCharacters.contains(s) && !current.isEmpty
            if isWordChar {
                if let (j, _) = pendingJoiner { current.append(j); pendingJoiner = nil }
                if current.isEmpty { start = offset }
                current.append(s)
                continue
            }
            if (s == "'" || s == "’" || s == "-"), !current.isEmpty, pendingJoiner == nil {
                pendingJoiner = (s, offset)
                continue
            }
            let hadJoiner = pendingJoiner != nil
            pendingJoiner = nil
            if CharacterSet.whitespacesAndNewlines.contains(s) {
                flush(breaking: hadJoiner && current.isEmpty)
            } else {
                flush(breaking: true)
            }
        }
        flush(breaking: false)
        return tokens
    }

    /// Lexical class of a (possibly merged) token.
    enum Role: Equatable {
        case stop, verb, participle, collective, attribute(AttributePhrase.Kind), word
    }

    struct Item: Equatable {
        var text: String
        var range: Range<Int>
        var role: Role
        var breakAfter: Bool
    }

    /// Classifies tokens and merges multi-word units: "light blue", "black and white",
    /// "group of", "dark-green".
    static func merge(_ tokens: [Token]) -> [Item] {
        var items: [Item] = []
        var i = 0
        while i < tokens.count {
            let t = tokens[i]
            let next = i + 1 < tokens.count && !t.breakAfter ? tokens[i + 1] : nil
            // Shade + colour: "light blue", "navy blue".
            if WordLists.colourShades.contains(t.word), let n = next, WordLists.colours.contains(n.word) {
                items.append(Item(text: t.word + " " + n.word, range: t.range.lowerBound..<n.range.upperBound,
                                  role: .attribute(.colour), breakAfter: n.breakAfter))
                i += 2
                continue
            }
            // Colour and colour: "black and white".
            if WordLists.colours.contains(t.word), let n = next, n.word == "and", !n.breakAfter, i + 2 < tokens.count,
               WordLists.colours.contains(tokens[i + 2].word) {
                let third = tokens[i + 2]
                items.append(Item(text: "\(t.word) and \(third.word)", range: t.range.lowerBound..<third.range.upperBound,
                                  role: .attribute(.colour), breakAfter: third.breakAfter))
                i += 3
                continue
            }
            // Collective + "of": "group of", "herd of" (joins the next chunk as a quantity).
            if WordLists.collectives.contains(t.word), let n = next, n.word == "of", !n.breakAfter {
                items.append(Item(text: t.word + " of", range: t.range.lowerBound..<n.range.upperBound,
                                  role: .collective, breakAfter: false))
                i += 2
                continue
            }
            items.append(Item(text: t.word, range: t.range, role: role(of: t.word), breakAfter: t.breakAfter))
            i += 1
        }
        return items
    }

    static func role(of word: String) -> Role {
        if let kind = attributeKind(word) { return .attribute(kind) }
        if WordLists.stopWords.contains(word) { return .stop }
        if WordLists.verbs.contains(word) { return .verb }
        if (word.count >= 5 && word.hasSuffix("ing")) || (word.count >= 4 && word.hasSuffix("ed")), !WordLists.notParticiples.contains(word) {
            return .participle
        }
        if word.count >= 6, word.hasSuffix("ly"), !WordLists.notAdverbs.contains(word) { return .stop }
        return .word
    }

    static func attributeKind(_ word: String) -> AttributePhrase.Kind? {
        if WordLists.colours.contains(word) || word.hasSuffix("-colored") || word.hasSuffix("-coloured") { return .colour }
        if WordLists.numbers.contains(word) || word.allSatisfy(\.isNumber) { return .number }
        if WordLists.materials.contains(word) { return .material }
        if WordLists.sizes.contains(word) { return .size }
        if WordLists.patterns.contains(word) { return .other }
        if let dash = word.lastIndex(of: "-") {   // "dark-green", "two-story"
            let tail = String(word[word.index(after: dash)...])
            let headPart = String(word[..<dash])
            if WordLists.colours.contains(tail), WordLists.colourShades.contains(headPart) { return .colour }
        }
        return nil
    }

    /// Maximal runs of content items between stop-words, verbs and punctuation.
    static func runs(_ items: [Item]) -> [[Item]] {
        var out: [[Item]] = []
        var run: [Item] = []
        func close() {
            // A trailing participle or collective has no head: drop it ("the car is parked").
            while let last = run.last, last.role == .participle || last.role == .collective { run.removeLast() }
            if !run.isEmpty { out.append(run) }
            run = []
        }
        for item in items {
            switch item.role {
            case .stop, .verb:
                close()
            case .participle:
                // Modifier only before a noun: at a run's start or after attributes.
                if run.allSatisfy({ if case .attribute = $0.role { return true }; return $0.role == .collective || $0.role == .participle }) {
                    run.append(item)
                } else {
                    close()
                }
            case .collective:
                close()
                run.append(item)
            case .attribute, .word:
                run.append(item)
            }
            if item.breakAfter { close() }
        }
        close()
        return out
    }

    /// One chunk per run (split when the run ends in attribute words, which are then bare).
    static func phrases(fromRun run: [Item]) -> [AttributePhrase] {
        guard let lastNoun = run.lastIndex(where: { $0.role == .word }) else {
            // Only attributes (and leading participles/collectives): each attribute is bare.
            return run.compactMap { item in
                guard case .attribute(let kind) = item.role else { return nil }
                return AttributePhrase(text: item.text, kind: kind, head: nil, attribute: item.text, utf8Range: item.range)
            }
        }
        var chunk = Array(run[...lastNoun])
        if chunk.count > maxChunkWords {
            // Keep the collective quantity if there is one, else the last words.
            chunk = Array(chunk.suffix(maxChunkWords))
        }
        var out: [AttributePhrase] = []
        let head = chunk[chunk.count - 1].text
        var kind: AttributePhrase.Kind? = nil
        var attribute: String?
        let priority: [AttributePhrase.Kind] = [.colour, .number, .material, .size, .other]
        for p in priority {
            if let m = chunk.dropLast().first(where: { $0.role == .attribute(p) }) {
                kind = p
                attribute = m.text
                break
            }
            // "herd of cows": a quantity without a swappable number word.
            if p == .number, chunk.dropLast().contains(where: { $0.role == .collective }) {
                kind = .number
                break
            }
        }
        if kind == nil { kind = WordLists.scenes.contains(head) || WordLists.scenes.contains(singular(head)) ? .scene : .object }
        out.append(AttributePhrase(text: chunk.map(\.text).joined(separator: " "), kind: kind!, head: head,
                                   attribute: attribute, utf8Range: chunk[0].range.lowerBound..<chunk[chunk.count - 1].range.upperBound))
        for item in run[(lastNoun + 1)...] {
            if case .attribute(let k) = item.role {
                out.append(AttributePhrase(text: item.text, kind: k, head: nil, attribute: item.text, utf8Range: item.range))
            }
        }
        return out
    }

    /// A crude English singular, used to match vocabulary terms ("horses" ~ "horse").
    public static func singular(_ word: String) -> String {
        if let irregular = WordLists.irregularPlurals[word] { return irregular }
        if word.count <= 3 || WordLists.invariantNouns.contains(word) || WordLists.singularInS.contains(word) { return word }
        if word.hasSuffix("ies"), word.count > 4 { return String(word.dropLast(3)) + "y" }
        for suffix in ["ches", "shes", "sses", "xes", "zes", "oes"] where word.hasSuffix(suffix) { return String(word.dropLast(2)) }
        if word.hasSuffix("s"), !word.hasSuffix("ss"), !word.hasSuffix("us"), !word.hasSuffix("is") { return String(word.dropLast()) }
        return word
    }

    /// The plural of a singular noun, for swapping a category into a plural mention.
    public static func plural(_ word: String) -> String {
        if let p = WordLists.irregularPlurals.first(where: { $0.value == word })?.key { return p }
        if WordLists.invariantNouns.contains(word) { return word }
        if word.hasSuffix("y"), let before = word.dropLast().last, !"aeiou".contains(before) { return String(word.dropLast()) + "ies" }
        for suffix in ["ch", "sh", "s", "x", "z"] where word.hasSuffix(suffix) { return word + "es" }
        return word + "s"
    }
}
