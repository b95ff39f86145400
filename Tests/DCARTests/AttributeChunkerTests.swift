import DCAR
import Foundation
import TestSupport
import XCTest

/// Gallery captions, categories and labels from the shared fixture.
enum GalleryFixture {
    struct Row { var file: String; var captions: [String]; var category: String; var label: String }
    static func rows() throws -> [Row] {
        try Fixtures.jsonLines(try Fixtures.sharedPath("data/gallery/gallery.jsonl")).map {
            Row(file: $0["file"] as? String ?? "", captions: $0["captions"] as? [String] ?? [],
                category: $0["category"] as? String ?? "", label: $0["label"] as? String ?? "")
        }
    }
}

final class AttributeChunkerTests: XCTestCase {
    let chunker = AttributeChunker()

    func testRedCarExample() {
        let a = chunker.analyze("a red car parked on the street")
        XCTAssertEqual(a.phrases.map(\.text), ["red car", "street"])
        XCTAssertEqual(a.phrases[0].kind, .colour)
        XCTAssertEqual(a.phrases[0].attribute, "red")
        XCTAssertEqual(a.phrases[1].kind, .scene)
        XCTAssertEqual(a.category, "car")
        // Ranges point into the text.
        let bytes = Array(a.text.utf8)
        XCTAssertEqual(String(decoding: bytes[a.phrases[0].utf8Range], as: UTF8.self), "red car")
        XCTAssertEqual(String(decoding: bytes[a.categoryRange!], as: UTF8.self), "car")
    }

    func testMultiwordColoursQuantitiesAndKinds() {
        let a = chunker.analyze("Two light blue wooden chairs and a group of people near a black and white dog.")
        let texts = a.phrases.map(\.text)
        XCTAssertTrue(texts.contains("two light blue wooden chairs"), "\(texts)")
        XCTAssertTrue(texts.contains("group of people"), "\(texts)")
        XCTAssertTrue(texts.contains("black and white dog"), "\(texts)")
        XCTAssertEqual(a.phrases.first { $0.text == "two light blue wooden chairs" }?.kind, .colour)
        XCTAssertEqual(a.phrases.first { $0.text == "group of people" }?.kind, .number)
        XCTAssertEqual(chunker.analyze("a wooden table").phrases.first?.kind, .material)
        XCTAssertEqual(chunker.analyze("a huge elephant").phrases.first?.kind, .size)
        XCTAssertEqual(chunker.analyze("a striped shirt").phrases.first?.kind, .other)
        XCTAssertEqual(chunker.analyze("a dog").phrases.first?.kind, .object)
        XCTAssertEqual(a.category, "chairs")
    }

    func testParticiplesAndBareAttributes() {
        // Participle before a noun is a modifier; after a noun it is a verb.
        XCTAssertEqual(chunker.analyze("a sleeping cat").phrases.map(\.text), ["sleeping cat"])
        XCTAssertEqual(chunker.analyze("a cat sleeping on a sofa").phrases.map(\.text), ["cat", "sofa"])
        // Predicate adjective: bare attribute word.
        let a = chunker.analyze("the car is red")
        XCTAssertEqual(a.phrases.map(\.text), ["car", "red"])
        XCTAssertEqual(a.phrases[1].kind, .colour)
        XCTAssertNil(a.phrases[1].head)
        XCTAssertEqual(a.category, "car")
    }

    func testCategoryVocabularyMatchesLongestAndPlurals() {
        let c = AttributeChunker(categoryVocabulary: ["sign", "stop sign", "horse", "Eiffel Tower"])
        XCTAssertEqual(c.analyze("A red stop sign at a corner").category, "stop sign")
        let h = c.analyze("Horses standing in the grass")
        XCTAssertEqual(h.category, "horse")
        XCTAssertEqual(String(decoding: Array(h.text.utf8)[h.categoryRange!], as: UTF8.self), "Horses")
        XCTAssertEqual(c.analyze("a photo of the Eiffel Tower at night").category, "eiffel tower")
        // Not in the vocabulary: falls back to the head noun of the main subject.
        XCTAssertEqual(c.analyze("a small brown dog on the beach").category, "dog")
    }

    func testHostileAndEmptyInputs() {
        for text in ["", "   ", "!!! ... ???", "🙂🙂🚗🔥", "\u{0}\u{1}\u{7}", "the a of and", "is was be"] {
            let a = chunker.analyze(text)
            XCTAssertTrue(a.phrases.isEmpty, "\(text.debugDescription) → \(a.phrases.map(\.text))")
            XCTAssertNil(a.category)
        }
        // Emoji between words break chunks but never crash.
        XCTAssertEqual(chunker.analyze("red🚗car").phrases.map(\.text), ["red", "car"])
        // 10 KB cap: a megabyte of text is cut and stays fast; phrases are bounded.
        let long = String(repeating: "a big red car and a small 🙂 blue boat ", count: 30_000)
        let start = Date()
        let a = chunker.analyze(long)
        XCTAssertTrue(a.truncated)
        XCTAssertLessThanOrEqual(a.text.utf8.count, AttributeChunker.maxBytes)
        XCTAssertLessThanOrEqual(a.phrases.count, AttributeChunker.maxPhrases)
        XCTAssertEqual(Set(a.phrases.map(\.text)), ["big red car", "small", "blue boat"])
        XCTAssertLessThan(Date().timeIntervalSince(start), 2)
        // A multi-byte scalar at the cut is not split.
        let cut = chunker.analyze(String(repeating: "é", count: 6000))
        XCTAssertEqual(cut.text.utf8.count, AttributeChunker.maxBytes)
    }

    func testGalleryCaptionsHaveSensibleProperties() throws {
        let rows = try GalleryFixture.rows()
        let vocab = Array(Set(rows.flatMap { [$0.category, $0.label] }))
        let c = AttributeChunker(categoryVocabulary: vocab)
        let stop: Set<String> = ["a", "an", "the", "of", "in", "on", "at", "with", "and", "is", "are", "to", "photo"]
        var withPhrases = 0, withCategory = 0, total = 0, labelFound = 0
        for row in rows {
            for caption in row.captions {
                total += 1
                let a = c.analyze(caption)
                XCTAssertEqual(a, c.analyze(caption), "deterministic")
                if !a.phrases.isEmpty { withPhrases += 1 }
                if a.category != nil { withCategory += 1 }
                if a.category == row.label.lowercased() || a.category == row.category { labelFound += 1 }
                for p in a.phrases {
                    let words = p.text.split(separator: " ").map(String.init)
                    XCTAssertFalse(words.allSatisfy { stop.contains($0) }, "stop-word-only phrase \(p.text) in \(caption)")
                    XCTAssertFalse(stop.contains(words.first!), "phrase starts with a stop-word: \(p.text) in \(caption)")
                    XCTAssertLessThanOrEqual(words.count, AttributeChunker.maxChunkWords + 3)
                    XCTAssertEqual(p.text, p.text.lowercased())
                    // The range covers the phrase's words in the caption.
                    let span = String(decoding: Array(a.text.utf8)[p.utf8Range], as: UTF8.self).lowercased()
                    XCTAssertTrue(span.hasPrefix(words.first!) && span.hasSuffix(words.last!), "\(span) vs \(p.text)")
                }
                XCTAssertEqual(Set(a.phrases.map(\.text)).count, a.phrases.count, "no duplicates")
            }
        }
        XCTAssertEqual(withPhrases, total, "every gallery caption has at least one phrase")
        XCTAssertEqual(withCategory, total)
        // Most captions name their photo's label or category.
        XCTAssertGreaterThan(Double(labelFound) / Double(total), 0.6)
    }
}
