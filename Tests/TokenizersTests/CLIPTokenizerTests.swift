import Foundation
import TestSupport
import XCTest
@testable import Tokenizers

/// Loaded once per test process: parsing 48,894 merges is the slow part in a debug build.
enum SharedCLIP {
    static let result: Result<CLIPTokenizer, Error> = Result {
        try CLIPTokenizer(vocabularyGzipPath: Fixtures.assets.appendingPathComponent("clip/bpe_simple_vocab_16e6.txt.gz").path)
    }
    static func get() throws -> CLIPTokenizer { try result.get() }
}

struct CLIPCase {
    let category: String
    let text: String
    let cleaned: String
    let ftfyChanged: Bool
    let ids: [Int]
    let truncated: [Int]?

    static func load() throws -> [CLIPCase] {
        try Fixtures.jsonLines(Fixtures.sharedPath("model/clip/tokenizer_cases.jsonl")).map { d in
            CLIPCase(category: d["category"] as? String ?? "", text: d["text"] as? String ?? "",
                     cleaned: d["cleaned"] as? String ?? "", ftfyChanged: d["ftfy_changed"] as? Bool ?? false,
                     ids: (d["ids"] as? [Any] ?? []).compactMap { ($0 as? NSNumber)?.intValue },
                     truncated: (d["ids_truncated_77"] as? [Any])?.compactMap { ($0 as? NSNumber)?.intValue })
        }
    }
}

final class CLIPTokenizerTests: XCTestCase {
    func testFixtureCount() throws {
        XCTAssertEqual(try CLIPCase.load().count, 82)
    }

    func testBundledVocabularyMatchesSharedCopy() throws {
        let bundled = try Data(contentsOf: Fixtures.assets.appendingPathComponent("clip/bpe_simple_vocab_16e6.txt.gz"))
        let shared = try Data(contentsOf: URL(fileURLWithPath: Fixtures.sharedPath("model/clip/bpe_simple_vocab_16e6.txt.gz")))
        XCTAssertEqual(bundled, shared)
        let text = try Gzip.decompress(bundled)
        // The header line (skipped by the loader) is `"bpe_simple_vocab_16e6.txt#version: 0.2`.
        let header = String(decoding: text.prefix(while: { $0 != 0x0A }), as: UTF8.self)
        XCTAssertTrue(header.hasSuffix("#version: 0.2"), header)
    }

    /// BPE + pre-tokenizer against the reference: every case, from the reference's cleaned text.
    func testCleanedTextReproducesIDs() throws {
        let tok = try SharedCLIP.get()
        for c in try CLIPCase.load() {
            XCTAssertEqual(tok.encode(c.cleaned), c.ids, "\(c.category): \(c.cleaned.debugDescription)")
            XCTAssertEqual(tok.cleanedText(c.cleaned), c.cleaned, "cleaning must be idempotent: \(c.cleaned.debugDescription)")
        }
    }

    /// Full pipeline from raw text; every case ftfy leaves alone must match.
    func testRawTextReproducesIDsWhenFtfyIsIdle() throws {
        let tok = try SharedCLIP.get()
        let cases = try CLIPCase.load().filter { !$0.ftfyChanged }
        XCTAssertEqual(cases.count, 71)
        for c in cases {
            XCTAssertEqual(tok.encode(c.text), c.ids, "\(c.category): \(c.text.debugDescription)")
            XCTAssertEqual(tok.cleanedText(c.text), c.cleaned, "\(c.category): \(c.text.debugDescription)")
        }
    }

    /// Cases where ftfy changes the text: our subset of ftfy's fixers covers all 11 fixtures
    /// (curly quotes, NFC, CRLF, HTML entities, ligature, full width, mojibake).
    func testRawTextReproducesIDsWhenFtfyRepairs() throws {
        let tok = try SharedCLIP.get()
        let cases = try CLIPCase.load().filter { $0.ftfyChanged }
        XCTAssertEqual(cases.count, 11)
        var passed = 0
        for c in cases {
            let ok = tok.encode(c.text) == c.ids
            if ok { passed += 1 }
            XCTAssertTrue(ok, "\(c.category): \(c.text.debugDescription) -> \(tok.cleanedText(c.text).debugDescription), want \(c.cleaned.debugDescription)")
            XCTAssertEqual(tok.cleanedText(c.text), c.cleaned)
        }
        print("CLIP ftfy-changed cases reproduced from raw text: \(passed)/\(cases.count)")
    }

    func testTruncationMatchesReference() throws {
        let tok = try SharedCLIP.get()
        let cases = try CLIPCase.load()
        let over = cases.filter { $0.ids.count > 77 }
        XCTAssertEqual(over.count, 3)
        for c in over {
            XCTAssertEqual(tok.tokenize(c.text), c.truncated, c.text)
            XCTAssertEqual(tok.tokenize(c.text).count, 77)
            XCTAssertEqual(tok.eotIndex(tok.tokenize(c.text)), 76)
            XCTAssertEqual(tok.tokenize(c.text, truncate: false), c.ids)
        }
        for c in cases where c.ids.count <= 77 {
            XCTAssertEqual(tok.tokenize(c.cleaned), c.ids, "no truncation needed: \(c.cleaned)")
            XCTAssertEqual(tok.eotIndex(c.cleaned), c.ids.count - 1)
        }
        // Exactly 77 ids is not truncated; 78 is cut to 77 with EOT last.
        let exact = try XCTUnwrap(cases.first { $0.ids.count == 77 })
        XCTAssertEqual(tok.tokenize(exact.text), exact.ids)
    }

    func testShorterContextTruncation() throws {
        let tok = try SharedCLIP.get()
        let full = tok.encode("a photo of a cat")
        let row = tok.tokenize("a photo of a cat", contextLength: 4)
        XCTAssertEqual(row, Array(full.prefix(3)) + [CLIPTokenizer.endOfText])
    }

    func testEmptyAndWhitespace() throws {
        let tok = try SharedCLIP.get()
        for t in ["", " ", "   \t\n\r\u{A0}\u{3000}\u{2028}", "\u{FEFF}\u{0}"] {
            XCTAssertEqual(tok.encode(t), [49406, 49407], t.debugDescription)
            XCTAssertEqual(tok.tokenize(t), [49406, 49407])
        }
    }

    func testInvalidUTF8BytesDoNotCrash() throws {
        let tok = try SharedCLIP.get()
        let bytes: [UInt8] = [0x61, 0x20, 0xFF, 0xFE, 0xC3, 0x28, 0xE2, 0x82, 0x20, 0x64, 0x6F, 0x67, 0xED, 0xA0, 0x80]
        let ids = tok.encode(bytes: bytes)
        XCTAssertEqual(ids, tok.encode(String(decoding: bytes, as: UTF8.self)))
        XCTAssertEqual(ids.first, 49406)
        XCTAssertEqual(ids.last, 49407)
        // Invalid sequences become U+FFFD, tokenised like the literal character.
        XCTAssertEqual(tok.encode(bytes: [0xFF]), tok.encode("\u{FFFD}"))
        XCTAssertTrue(ids.allSatisfy { $0 >= 0 && $0 < CLIPTokenizer.vocabularySize })
    }

    func testHugeInputsFinishQuickly() throws {
        let tok = try SharedCLIP.get()
        let inputs = [
            String(repeating: "a photo of a dog ", count: 600_000),      // ~10 MB of words
            String(repeating: "x", count: 10_000_000),                   // one 10 MB word
            String(repeating: " ", count: 500_000) + "cat",              // whitespace then a word
            String(repeating: "&amp;", count: 400_000),                   // entity run
        ]
        for text in inputs {
            let start = Date()
            let row = tok.tokenize(text)
            let elapsed = Date().timeIntervalSince(start)
            XCTAssertLessThanOrEqual(row.count, 77)
            XCTAssertEqual(row.first, 49406)
            XCTAssertEqual(row.last, 49407)
            XCTAssertLessThan(elapsed, 20, "tokenize took \(elapsed)s")
        }
        XCTAssertEqual(tok.tokenize(inputs[2]), tok.encode("cat"))
        XCTAssertEqual(Array(tok.tokenize(inputs[0]).prefix(6)), Array(tok.encode("a photo of a dog").prefix(6)))
    }

    func testUntruncatedInputIsCappedAtDocumentedLimit() throws {
        let tok = try SharedCLIP.get()
        let cap = CLIPTokenizer.maximumInputScalars
        let text = String(repeating: "cat ", count: cap / 4 + 1000)
        let ids = tok.encode(text)
        XCTAssertEqual(ids.count, cap / 4 + 2)  // exactly the words inside the first `cap` scalars
        XCTAssertEqual(Set(ids.dropFirst().dropLast()), [tok.encode("cat")[1]])
    }

    func testCorruptVocabularyThrowsTypedErrors() throws {
        let dir = try Fixtures.temporaryDirectory("clip-vocab")
        defer { try? FileManager.default.removeItem(at: dir) }
        XCTAssertThrowsError(try CLIPTokenizer(vocabularyGzipPath: dir.appendingPathComponent("missing.gz").path)) {
            guard case TokenizerError.fileUnreadable = $0 else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try CLIPTokenizer(vocabularyGzipData: Data("not gzip at all, just text".utf8))) {
            guard case TokenizerError.corruptGzip = $0 else { return XCTFail("\($0)") }
        }
        let good = try Data(contentsOf: Fixtures.assets.appendingPathComponent("clip/bpe_simple_vocab_16e6.txt.gz"))
        XCTAssertThrowsError(try CLIPTokenizer(vocabularyGzipData: good.prefix(good.count / 2))) {
            guard case TokenizerError.corruptGzip = $0 else { return XCTFail("\($0)") }
        }
        var flipped = good
        flipped[flipped.startIndex + 5000] ^= 0xFF
        XCTAssertThrowsError(try CLIPTokenizer(vocabularyGzipData: flipped)) {
            guard $0 is TokenizerError else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try CLIPTokenizer(mergesText: Data("#version: 0.2\na b\n".utf8))) {
            guard case TokenizerError.tooFewMerges = $0 else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try CLIPTokenizer(mergesText: Data([0x23, 0xFF, 0xFE]))) {
            guard case TokenizerError.notUTF8 = $0 else { return XCTFail("\($0)") }
        }
    }

    func testLiteralSpecialTokens() throws {
        let tok = try SharedCLIP.get()
        XCTAssertEqual(tok.encode("<|endoftext|>"), [49406, 49407, 49407])
        XCTAssertEqual(tok.encode("<|STARTOFTEXT|>"), [49406, 49406, 49407])
    }
}
