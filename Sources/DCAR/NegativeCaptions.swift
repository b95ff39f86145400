import Foundation
import Tensor

/// Errors of the DCAR module.
public enum DCARError: Error, CustomStringConvertible, Equatable {
    case invalidArgument(String)
    case shapeMismatch(String)

    public var description: String {
        switch self {
        case .invalidArgument(let m): return "DCAR: \(m)"
        case .shapeMismatch(let m): return "DCAR: shape mismatch: \(m)"
        }
    }
}

/// Words and phrases harvested from a gallery's captions, the material hard negatives are
/// made of (swapping in words the gallery itself uses keeps negatives plausible).
public struct CaptionVocabulary: Sendable, Equatable {
    /// Category terms (lower case, unique, sorted): the gallery's categories and labels.
    public var categories: [String]
    /// Attribute modifier words seen in captions, per kind (colour, number, material, size,
    /// other), sorted.
    public var attributeWords: [AttributePhrase.Kind: [String]]
    /// Whole phrases without an attribute modifier, per kind (object, scene), sorted.
    public var phrases: [AttributePhrase.Kind: [String]]

    public init(categories: [String], attributeWords: [AttributePhrase.Kind: [String]], phrases: [AttributePhrase.Kind: [String]]) {
        self.categories = Array(Set(categories.map { $0.lowercased() }.filter { !$0.isEmpty })).sorted()
        self.attributeWords = attributeWords.mapValues { Array(Set($0)).sorted() }
        self.phrases = phrases.mapValues { Array(Set($0)).sorted() }
    }

    /// Harvests `captions` with a chunker that knows `categories`. Phrases that contain a
    /// category term are not kept as swappable phrases (the category swap covers them).
    public init(captions: [String], categories: [String]) {
        let chunker = AttributeChunker(categoryVocabulary: categories)
        var words: [AttributePhrase.Kind: Set<String>] = [:]
        var phrases: [AttributePhrase.Kind: Set<String>] = [:]
        for caption in captions {
            let analysis = chunker.analyze(caption)
            for p in analysis.phrases {
                if let a = p.attribute, p.kind != .object, p.kind != .scene {
                    words[p.kind, default: []].insert(a)
                } else if p.attribute == nil, p.head != nil {
                    if let r = analysis.categoryRange, r.overlaps(p.utf8Range) { continue }
                    phrases[p.kind, default: []].insert(p.text)
                }
            }
        }
        self.init(categories: categories, attributeWords: words.mapValues(Array.init), phrases: phrases.mapValues(Array.init))
    }
}

/// One hard negative caption.
public struct NegativeCaption: Sendable, Equatable {
    public enum Swap: String, Sendable, Equatable { case category, attribute, phrase }
    public var text: String
    public var swap: Swap
    /// The words that were replaced and what replaced them.
    public var original: String
    public var replacement: String
    /// For a category swap, the vocabulary's category term swapped in (singular, lower
    /// case, even when the caption needed the plural); nil for other swaps.
    public var swappedInCategory: String? = nil
}

/// DCAR's category-level negatives (DESIGN.md §5.4): from a caption, K captions that differ
/// in exactly one place — the category word, one attribute word, or one noun phrase — with
/// the rest of the sentence left as it was, so only that difference separates them from the
/// positive. Deterministic for a given seed.
public struct NegativeCaptionBuilder: Sendable {
    public let vocabulary: CaptionVocabulary
    public let chunker: AttributeChunker

    public init(vocabulary: CaptionVocabulary) {
        self.vocabulary = vocabulary
        chunker = AttributeChunker(categoryVocabulary: vocabulary.categories)
    }

    /// A place in the caption that can be swapped, and the words that may replace it.
    struct Slot {
        var swap: NegativeCaption.Swap
        var range: Range<Int>          // UTF-8 bytes in the analysed caption
        var original: String
        var candidates: [String]
        /// Category slots: candidate (lower case) → the category term it renders.
        var categoryOf: [String: String] = [:]
    }

    /// Up to `count` distinct negatives of `caption` (fewer when the vocabulary cannot make
    /// more). `category`: the caption's category term when known (e.g. the photo's label),
    /// else the chunker's category. Negatives rotate over the swappable places in a seeded
    /// order, each with a seeded choice of replacement.
    public func negatives(for caption: String, category: String? = nil, count: Int, seed: UInt64) -> [NegativeCaption] {
        guard count > 0 else { return [] }
        let analysis = chunker.analyze(caption)
        let text = analysis.text
        let bytes = Array(text.utf8)
        var slots: [Slot] = []

        // The category mention.
        var categoryRange = analysis.categoryRange
        var categoryTerm = analysis.category
        if let category, !category.isEmpty {
            let own = AttributeChunker(categoryVocabulary: [category]).analyze(text)
            if own.categoryRange != nil { categoryRange = own.categoryRange; categoryTerm = own.category }
        }
        if let r = categoryRange, let term = categoryTerm {
            let mention = String(decoding: bytes[r], as: UTF8.self)
            let isPlural = mentionIsPlural(mention: mention.lowercased(), term: term)
            let termSingular = term.split(separator: " ").map { AttributeChunker.singular(String($0)) }.joined(separator: " ")
            let others = vocabulary.categories.filter { c in
                c.split(separator: " ").map { AttributeChunker.singular(String($0)) }.joined(separator: " ") != termSingular
            }
            let rendered = others.map { (term: $0, text: matchCase(isPlural ? pluralise($0) : $0, like: mention)) }
            if !rendered.isEmpty {
                slots.append(Slot(swap: .category, range: r, original: mention, candidates: rendered.map(\.text),
                                  categoryOf: Dictionary(rendered.map { ($0.text.lowercased(), $0.term) }, uniquingKeysWith: { a, _ in a })))
            }
        }

        // Attribute words and plain phrases.
        for p in analysis.phrases {
            if let r = categoryRange, p.utf8Range.overlaps(r), p.attribute == nil { continue }
            let span = String(decoding: bytes[p.utf8Range], as: UTF8.self)
            if let attribute = p.attribute, p.kind != .object, p.kind != .scene {
                // Locate the attribute inside the phrase's span (case-insensitive, whole words).
                guard let local = wordRange(of: attribute, in: span) else { continue }
                let range = (p.utf8Range.lowerBound + local.lowerBound)..<(p.utf8Range.lowerBound + local.upperBound)
                let original = String(decoding: bytes[range], as: UTF8.self)
                var pool = vocabulary.attributeWords[p.kind] ?? []
                if pool.filter({ $0 != attribute }).isEmpty { pool = AttributeChunker.builtInWords(of: p.kind) }
                let candidates = pool.filter { $0 != attribute }.map { matchCase($0, like: original) }
                if !candidates.isEmpty { slots.append(Slot(swap: .attribute, range: range, original: original, candidates: candidates)) }
            } else if p.head != nil {
                let candidates = (vocabulary.phrases[p.kind] ?? []).filter { $0 != p.text }.map { matchCase($0, like: span) }
                if !candidates.isEmpty { slots.append(Slot(swap: .phrase, range: p.utf8Range, original: span, candidates: candidates)) }
            }
        }
        guard !slots.isEmpty else { return [] }

        var rng = SplitMix64(seed: seed ^ fnv1a(Array(caption.utf8)))
        let order = rng.shuffled(Array(slots.indices))
        var used = Set<String>([text.lowercased()])
        var out: [NegativeCaption] = []
        var remaining = slots.map { rng.shuffled($0.candidates) }
        var progress = true
        while out.count < count, progress {
            progress = false
            for s in order where out.count < count && !remaining[s].isEmpty {
                progress = true
                let replacement = remaining[s].removeFirst()
                let slot = slots[s]
                let before = fixArticle(String(decoding: bytes[..<slot.range.lowerBound], as: UTF8.self), next: replacement)
                let newText = before + replacement + String(decoding: bytes[slot.range.upperBound...], as: UTF8.self)
                if used.insert(newText.lowercased()).inserted {
                    out.append(NegativeCaption(text: newText, swap: slot.swap, original: slot.original, replacement: replacement,
                                               swappedInCategory: slot.categoryOf[replacement.lowercased()]))
                }
            }
        }
        return out
    }

    // MARK: Category-aware loss weights

    /// Per-pair weights for `InfoNCE.compute(a: images, b: captions, positives:, weights:)`
    /// (row-major N×M, rows = images, columns = captions): `1 + alpha` where the caption's
    /// category equals the image's and the pair is not a positive, 1 elsewhere (positives and
    /// pairs with an unknown category included). `positives` defaults to the diagonal
    /// (caption i belongs to image i; extra columns ≥ N are negatives only). Categories
    /// compare case-insensitively. `alpha` must be > −1 so every weight stays > 0.
    public static func categoryWeights(captionsCategories: [String?], imageCategories: [String?], alpha: Float,
                                       positives: [Bool]? = nil) throws -> [Float] {
        let n = imageCategories.count, m = captionsCategories.count
        guard n > 0, m > 0 else { throw DCARError.invalidArgument("category weights need at least one image and one caption") }
        guard alpha.isFinite, alpha > -1 else { throw DCARError.invalidArgument("alpha must be finite and > -1 (got \(alpha))") }
        let pos = positives ?? diagonalPositives(images: n, captions: m)
        guard pos.count == n * m else { throw DCARError.shapeMismatch("\(pos.count) positive flags for \(n)×\(m) pairs") }
        let img = imageCategories.map { $0?.lowercased() }
        let cap = captionsCategories.map { $0?.lowercased() }
        var w = [Float](repeating: 1, count: n * m)
        for i in 0..<n {
            guard let ci = img[i] else { continue }
            for j in 0..<m where !pos[i * m + j] && cap[j] == ci { w[i * m + j] = 1 + alpha }
        }
        return w
    }

    /// positive(i, j) ⇔ i == j, N×M row-major (the first N captions belong to the N images).
    public static func diagonalPositives(images n: Int, captions m: Int) -> [Bool] {
        var p = [Bool](repeating: false, count: n * m)
        for i in 0..<min(n, m) { p[i * m + i] = true }
        return p
    }

    // MARK: Helpers

    private func mentionIsPlural(mention: String, term: String) -> Bool {
        guard let last = mention.split(separator: " ").last.map(String.init),
              let termLast = term.split(separator: " ").last.map(String.init) else { return false }
        return last != termLast && AttributeChunker.singular(last) == termLast
    }

    private func pluralise(_ term: String) -> String {
        var words = term.split(separator: " ").map(String.init)
        guard let last = words.popLast() else { return term }
        return (words + [AttributeChunker.plural(last)]).joined(separator: " ")
    }

    /// "a" ↔ "an" before the replacement, so the sentence stays grammatical ("an apple").
    private func fixArticle(_ prefix: String, next: String) -> String {
        guard let first = next.lowercased().first else { return prefix }
        let vowel = "aeiou".contains(first)
        for (article, wanted) in [("an ", vowel ? "an " : "a "), ("a ", vowel ? "an " : "a ")] {
            let lower = prefix.lowercased()
            guard lower.hasSuffix(article) else { continue }
            let cut = prefix.index(prefix.endIndex, offsetBy: -article.count)
            // Whole word only: the article starts the text or follows a non-letter.
            if cut != prefix.startIndex, prefix[prefix.index(before: cut)].isLetter { return prefix }
            let original = prefix[cut...]
            let fixed = original.first!.isUppercase ? wanted.prefix(1).uppercased() + wanted.dropFirst() : wanted
            return String(prefix[..<cut]) + fixed
        }
        return prefix
    }

    /// Capitalises the replacement's first letter when the original started with one.
    private func matchCase(_ s: String, like original: String) -> String {
        guard let f = original.first, f.isUppercase, let g = s.first else { return s }
        return g.uppercased() + s.dropFirst()
    }

    /// UTF-8 range of `word` as a whole word inside `span`, case-insensitively.
    private func wordRange(of word: String, in span: String) -> Range<Int>? {
        let lower = Array(span.lowercased().utf8)
        let target = Array(word.lowercased().utf8)
        // Lower-casing can change byte lengths for some scripts; only trust same-length spans.
        guard lower.count == span.utf8.count, !target.isEmpty, target.count <= lower.count else { return nil }
        func isWordByte(_ b: UInt8) -> Bool { b >= 0x80 || (b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x7a) }
        for start in 0...(lower.count - target.count) where Array(lower[start..<(start + target.count)]) == target {
            let before = start == 0 || !isWordByte(lower[start - 1])
            let end = start + target.count
            let after = end == lower.count || !isWordByte(lower[end])
            if before && after { return start..<end }
        }
        return nil
    }
}

/// Deterministic choices for negative captions, on the project's SplitMix64 generator
/// (identical on every platform, unlike Swift's default generator).
struct SplitMix64 {
    var generator: SeededGenerator
    init(seed: UInt64) { generator = SeededGenerator(seed: seed) }
    mutating func next() -> UInt64 { generator.next() }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func shuffled<T>(_ a: [T]) -> [T] {
        var a = a
        if a.count > 1 { for i in stride(from: a.count - 1, to: 0, by: -1) { a.swapAt(i, below(i + 1)) } }
        return a
    }
}

/// FNV-1a over bytes (mixes the caption into the seed so two captions differ).
func fnv1a(_ bytes: [UInt8]) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
    return h
}

extension AttributeChunker {
    /// The built-in attribute words of a kind (sorted), used when a gallery has none.
    public static func builtInWords(of kind: AttributePhrase.Kind) -> [String] {
        switch kind {
        case .colour: return WordLists.colours.filter { !$0.contains("-") && !$0.hasSuffix("ish") }.sorted()
        case .number: return WordLists.numbers.sorted()
        case .material: return WordLists.materials.sorted()
        case .size: return WordLists.sizes.filter { !$0.contains("-") }.sorted()
        case .other: return WordLists.patterns.sorted()
        case .scene: return WordLists.scenes.sorted()
        case .object: return []
        }
    }
}
