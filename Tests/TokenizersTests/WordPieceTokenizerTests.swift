import Foundation
import TestSupport
import XCTest
@testable import Tokenizers

/// Resolves the MiniLM model folder the way the product does: `DIALCLIP_MODEL_DIR`, else
/// `${XDG_CACHE_HOME:-~/.cache}/dialclip/models`, subfolder `all-MiniLM-L6-v2`.
enum MiniLMFolder {
    static var path: URL {
        let env = ProcessInfo.processInfo.environment
        let models: URL
        if let dir = env["DIALCLIP_MODEL_DIR"], !dir.isEmpty {
            models = URL(fileURLWithPath: dir)
        } else if let xdg = env["XDG_CACHE_HOME"], !xdg.isEmpty {
            models = URL(fileURLWithPath: xdg).appendingPathComponent("dialclip/models")
        } else {
            models = FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/dialclip/models")
        }
        return models.appendingPathComponent("all-MiniLM-L6-v2")
    }

    static func vocabularyPath() throws -> String {
        let vocab = path.appendingPathComponent("vocab.txt").path
        guard FileManager.default.fileExists(atPath: vocab) else {
            throw FixtureError.missing("\(vocab) — run Scripts/setup.sh to install the all-MiniLM-L6-v2 model folder")
        }
        return vocab
    }
}

enum SharedWordPiece {
    static let result: Result<WordPieceTokenizer, Error> = Result {
        try WordPieceTokenizer(vocabularyPath: MiniLMFolder.vocabularyPath())
    }
    static func get() throws -> WordPieceTokenizer { try result.get() }
}

final class WordPieceTokenizerTests: XCTestCase {
    func testSpecialIDs() throws {
        let tok = try SharedWordPiece.get()
        XCTAssertEqual(tok.vocabularySize, 30522)
        XCTAssertEqual([tok.padID, tok.unkID, tok.clsID, tok.sepID], [0, 100, 101, 102])
    }

    /// Every golden case: ids and token strings, truncated to 256 as sentence-transformers does.
    func testGoldenIDsAndTokens() throws {
        let tok = try SharedWordPiece.get()
        let golden = try Fixtures.jsonLines(Fixtures.sharedPath("model/minilm/golden.jsonl"))
        XCTAssertEqual(golden.count, 30)
        var truncatedCases = 0
        for g in golden {
            let text = try XCTUnwrap(g["text"] as? String)
            let ids = try XCTUnwrap(g["ids"] as? [Any]).compactMap { ($0 as? NSNumber)?.intValue }
            let tokens = try XCTUnwrap(g["tokens"] as? [String])
            let untruncated = try XCTUnwrap((g["n_ids_untruncated"] as? NSNumber)?.intValue)
            let got = tok.encode(text)
            XCTAssertEqual(got, ids, text)
            XCTAssertEqual(tok.tokens(for: got), tokens, text)
            XCTAssertEqual(tok.tokenize(text).count + 2, untruncated, text)
            if untruncated > 256 {
                truncatedCases += 1
                XCTAssertEqual(got.count, 256)
            }
        }
        XCTAssertEqual(truncatedCases, 2)
    }

    func testEmptyAndPunctuationOnly() throws {
        let tok = try SharedWordPiece.get()
        XCTAssertEqual(tok.encode(""), [101, 102])
        XCTAssertEqual(tok.encode(" \t\n\u{0}\u{FFFD}\u{200B}"), [101, 102])
        let punct = tok.encode("?!...,;")
        XCTAssertEqual(tok.tokens(for: punct), ["[CLS]", "?", "!", ".", ".", ".", ",", ";", "[SEP]"])
        XCTAssertEqual(tok.encode("hello", maxLength: 2), [101, 102])
        XCTAssertEqual(tok.tokens(for: tok.encode("hello world", maxLength: 3)), ["[CLS]", "hello", "[SEP]"])
    }

    func testLongWordBecomesUnknown() throws {
        let tok = try SharedWordPiece.get()
        XCTAssertEqual(tok.encode(String(repeating: "a", count: 101)), [101, 100, 102])
        XCTAssertNotEqual(tok.encode(String(repeating: "a", count: 100)), [101, 100, 102])
    }

    func testBatchPadsToLongest() throws {
        let tok = try SharedWordPiece.get()
        let texts = ["ok", "Did you get my email about the report?", ""]
        let batch = tok.encodeBatch(texts)
        XCTAssertEqual(batch.lengths, texts.map { tok.encode($0).count })
        XCTAssertEqual(batch.width, 11)
        for (row, text) in zip(batch.ids, texts) {
            let ids = tok.encode(text)
            XCTAssertEqual(Array(row.prefix(ids.count)), ids)
            XCTAssertTrue(row.dropFirst(ids.count).allSatisfy { $0 == tok.padID })
        }
        XCTAssertEqual(batch.attentionMask[2], [1, 1] + Array(repeating: 0, count: 9))
        XCTAssertEqual(tok.encodeBatch([]).ids, [])
    }

    func testHugeInputFinishesQuickly() throws {
        let tok = try SharedWordPiece.get()
        let inputs = [
            String(repeating: "Café au lait, s'il vous plaît. ", count: 340_000),  // ~10 MB
            String(repeating: "x", count: 10_000_000),
            String(repeating: "\u{301}", count: 1_000_000) + " ok",
        ]
        for text in inputs {
            let start = Date()
            let ids = tok.encode(text)
            XCTAssertLessThanOrEqual(ids.count, 256)
            XCTAssertLessThan(Date().timeIntervalSince(start), 20)
        }
        XCTAssertEqual(tok.encode(inputs[1]), [101, 100, 102])
        XCTAssertEqual(tok.encode(inputs[2]), tok.encode("ok"))
        XCTAssertEqual(tok.encode(inputs[0]).count, 256)
    }

    func testInvalidUTF8() throws {
        let tok = try SharedWordPiece.get()
        // U+FFFD from invalid bytes is dropped by BERT's clean_text.
        XCTAssertEqual(tok.encode(bytes: [0xFF, 0x68, 0x69, 0xC3]), tok.encode("hi"))
        XCTAssertEqual(tok.encode(bytes: [0xED, 0xA0, 0x80]), [101, 102])
    }

    func testVocabularyErrors() throws {
        let dir = try Fixtures.temporaryDirectory("wordpiece-vocab")
        defer { try? FileManager.default.removeItem(at: dir) }
        XCTAssertThrowsError(try WordPieceTokenizer(vocabularyPath: dir.appendingPathComponent("nope.txt").path)) {
            guard case TokenizerError.fileUnreadable = $0 else { return XCTFail("\($0)") }
        }
        let empty = dir.appendingPathComponent("empty.txt")
        try Data().write(to: empty)
        XCTAssertThrowsError(try WordPieceTokenizer(vocabularyPath: empty.path)) {
            guard case TokenizerError.emptyVocabulary = $0 else { return XCTFail("\($0)") }
        }
        let bad = dir.appendingPathComponent("bad.txt")
        try Data([0x5B, 0x50, 0x41, 0x44, 0x5D, 0x0A, 0xC3, 0x28, 0x0A]).write(to: bad)
        XCTAssertThrowsError(try WordPieceTokenizer(vocabularyPath: bad.path)) {
            guard case TokenizerError.notUTF8 = $0 else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try WordPieceTokenizer(vocabularyData: Data("[PAD]\n[UNK]\nhello\n".utf8))) {
            guard case TokenizerError.missingSpecialToken("[CLS]") = $0 else { return XCTFail("\($0)") }
        }
        // A tiny valid vocabulary: ids are line indices, `##` continues a word.
        let tiny = try WordPieceTokenizer(vocabularyData: Data("[PAD]\n[UNK]\n[CLS]\n[SEP]\nun\n##aff\n##able\n".utf8))
        XCTAssertEqual(tiny.encode("Unaffable UNKNOWN"), [2, 4, 5, 6, 1, 3])
    }
}
