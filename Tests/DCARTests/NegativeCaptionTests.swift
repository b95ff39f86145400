import DCAR
import Foundation
import TestSupport
import XCTest

final class NegativeCaptionTests: XCTestCase {
    func galleryVocabulary() throws -> (CaptionVocabulary, [GalleryFixture.Row]) {
        let rows = try GalleryFixture.rows()
        let vocab = CaptionVocabulary(captions: rows.flatMap(\.captions), categories: rows.flatMap { [$0.category, $0.label] })
        return (vocab, rows)
    }

    func testVocabularyHarvestsGalleryWords() throws {
        let (v, _) = try galleryVocabulary()
        XCTAssertTrue(v.categories.contains("horse") && v.categories.contains("eiffel tower") && v.categories.contains("animal"))
        XCTAssertEqual(v.categories, v.categories.sorted())
        XCTAssertTrue(v.attributeWords[.colour]?.contains("green") == true, "\(v.attributeWords[.colour] ?? [])")
        XCTAssertFalse((v.attributeWords[.number] ?? []).isEmpty)
        XCTAssertFalse((v.phrases[.scene] ?? []).isEmpty)
    }

    func testNegativesSwapOnePlaceAndKeepTheSentence() throws {
        let (v, _) = try galleryVocabulary()
        let builder = NegativeCaptionBuilder(vocabulary: v)
        let caption = "A red car parked on the street next to two horses."
        let negs = builder.negatives(for: caption, category: "car", count: 8, seed: 7)
        XCTAssertEqual(negs.count, 8)
        XCTAssertEqual(Set(negs.map(\.text)).count, 8, "distinct")
        XCTAssertEqual(Set(negs.map(\.swap)), [.category, .attribute, .phrase], "\(negs.map(\.text))")
        for n in negs {
            XCTAssertNotEqual(n.text.lowercased(), caption.lowercased())
            XCTAssertNotEqual(n.original.lowercased(), n.replacement.lowercased())
            // Exactly one place changed: the text is the caption with `original` → `replacement`.
            // (up to "a" ↔ "an" before the replacement).
            let r = caption.range(of: n.original)!
            func noArticles(_ s: String) -> String { s.replacingOccurrences(of: "An ", with: "A ").replacingOccurrences(of: " an ", with: " a ") }
            XCTAssertEqual(noArticles(caption.replacingCharacters(in: r, with: n.replacement)), noArticles(n.text))
            XCTAssertTrue(n.text.hasSuffix("."))
            if n.swap == .category {
                XCTAssertEqual(n.original, "car")
            }
        }
        // The category mention is replaced by another gallery category or label.
        let cat = negs.first { $0.swap == .category }!
        XCTAssertTrue(v.categories.contains(cat.replacement.lowercased()), cat.replacement)
        XCTAssertEqual(cat.swappedInCategory, cat.replacement.lowercased())
        XCTAssertTrue(negs.filter { $0.swap != .category }.allSatisfy { $0.swappedInCategory == nil })
        // Deterministic for a seed, different for another.
        XCTAssertEqual(negs, builder.negatives(for: caption, category: "car", count: 8, seed: 7))
        XCTAssertNotEqual(negs, builder.negatives(for: caption, category: "car", count: 8, seed: 8))
    }

    func testPluralAndCapitalisedCategoryMentions() throws {
        let v = CaptionVocabulary(categories: ["horse", "cat", "bus"], attributeWords: [:], phrases: [:])
        let b = NegativeCaptionBuilder(vocabulary: v)
        let negs = b.negatives(for: "Horses on a hill.", category: "horse", count: 5, seed: 1)
        XCTAssertEqual(Set(negs.map(\.text)), ["Cats on a hill.", "Buses on a hill."])
        // The category a swapped caption names is the singular vocabulary term (what the
        // training loss compares with the photo's category), not the rendered plural.
        XCTAssertEqual(Dictionary(negs.map { ($0.text, $0.swappedInCategory ?? "-") }, uniquingKeysWith: { a, _ in a }),
                       ["Cats on a hill.": "cat", "Buses on a hill.": "bus"])
        // Articles follow the replacement.
        let v2 = CaptionVocabulary(categories: ["dog", "owl"], attributeWords: [:], phrases: [:])
        XCTAssertEqual(NegativeCaptionBuilder(vocabulary: v2).negatives(for: "A dog and a cat", category: "dog", count: 3, seed: 1).map(\.text),
                       ["An owl and a cat"])
        // Nothing swappable: no negatives, no crash.
        XCTAssertTrue(b.negatives(for: "🙂", count: 3, seed: 1).isEmpty)
        XCTAssertTrue(b.negatives(for: "a horse", count: 0, seed: 1).isEmpty)
    }

    func testEveryGalleryCaptionGetsNegatives() throws {
        let (v, rows) = try galleryVocabulary()
        let b = NegativeCaptionBuilder(vocabulary: v)
        for row in rows {
            let negs = b.negatives(for: row.captions[0], category: row.label, count: 4, seed: 42)
            XCTAssertEqual(negs.count, 4, row.captions[0])
            XCTAssertFalse(negs.contains { $0.text.lowercased() == row.captions[0].lowercased() })
        }
    }

    func testCategoryWeightsMatrix() throws {
        // 3 images, 3 own captions + 2 extra negative captions.
        let images: [String?] = ["animal", "Building", nil]
        let captions: [String?] = ["animal", "building", "animal", "animal", "building"]
        let w = try NegativeCaptionBuilder.categoryWeights(captionsCategories: captions, imageCategories: images, alpha: 0.5)
        XCTAssertEqual(w.count, 15)
        let expected: [Float] = [
            1, 1, 1.5, 1.5, 1,      // image 0 (animal): own caption 1, other animals 1.5
            1, 1, 1, 1, 1.5,        // image 1 (building): own caption 1, extra building caption 1.5
            1, 1, 1, 1, 1,          // unknown category: all 1
        ]
        XCTAssertEqual(w, expected)
        XCTAssertEqual(NegativeCaptionBuilder.diagonalPositives(images: 2, captions: 3), [true, false, false, false, true, false])
        // Explicit positives (two captions of image 0).
        let pos = [true, true, false, false, false, true]
        let w2 = try NegativeCaptionBuilder.categoryWeights(captionsCategories: ["a", "a", "a"], imageCategories: ["a", "a"],
                                                             alpha: 1, positives: pos)
        XCTAssertEqual(w2, [1, 1, 2, 2, 2, 1])
        XCTAssertThrowsError(try NegativeCaptionBuilder.categoryWeights(captionsCategories: ["a"], imageCategories: ["a"], alpha: -1))
        XCTAssertThrowsError(try NegativeCaptionBuilder.categoryWeights(captionsCategories: ["a"], imageCategories: ["a"], alpha: .nan))
        XCTAssertThrowsError(try NegativeCaptionBuilder.categoryWeights(captionsCategories: ["a"], imageCategories: ["a"], alpha: 1,
                                                                        positives: [true, false]))
        XCTAssertThrowsError(try NegativeCaptionBuilder.categoryWeights(captionsCategories: [], imageCategories: ["a"], alpha: 1))
    }
}
