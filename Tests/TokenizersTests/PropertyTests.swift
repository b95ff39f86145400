import Foundation
import TestSupport
import XCTest
@testable import Tokenizers

/// Deterministic generator (SplitMix64) so property failures are reproducible.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random text biased towards the characters the tokenizers treat specially.
enum RandomText {
    static let pieces: [String] = [
        "a", "dog", "Photo", "ΟΔΟΣ", "Σ", "İ", "ß", "ﬁ", "ｆｕｌｌ", "\u{3000}", "cafÃ©", "â€™", "&amp;", "&amp;amp;",
        "&lt;", "&#233;", "&#x1F600;", "&#128;", "&eacute", "&notit;", "&", "#", ";", "<", "<|startoftext|>",
        "<|endoftext|>", "'s", "'RE", "’", "“", " ", "\t", "\n", "\r\n", "\u{A0}", "\u{2028}", "\u{85}", "\u{0}",
        "\u{1B}[31m", "\u{200B}", "\u{FEFF}", "123", "٣", "Ⅻ", "e\u{301}", "\u{301}", "\u{345}", "Привет", "東京",
        "한국어", "😀", "👍🏽", "!!", "...", "—", "\u{1FEF}", "\u{FFFD}", "\u{378}", "\u{E000}",
    ]

    static func make(_ rng: inout SeededRandom, maxPieces: Int = 16) -> String {
        var s = ""
        for _ in 0..<Int.random(in: 0...maxPieces, using: &rng) {
            switch Int.random(in: 0..<10, using: &rng) {
            case 0..<6:
                s += pieces.randomElement(using: &rng)!
            case 6..<8:
                s += " "
            default:
                // Any valid scalar, surrogates excluded.
                var v = UInt32.random(in: 0...0x10FFFF, using: &rng)
                if (0xD800...0xDFFF).contains(v) { v = 0x41 }
                s.unicodeScalars.append(Unicode.Scalar(v)!)
            }
        }
        return s
    }
}

final class PropertyTests: XCTestCase {
    func testCLIPRandomTextInvariants() throws {
        let tok = try SharedCLIP.get()
        var rng = SeededRandom(seed: 0xC11F)
        for _ in 0..<1500 {
            let text = RandomText.make(&rng)
            let ids = tok.encode(text)
            XCTAssertEqual(ids.first, CLIPTokenizer.startOfText)
            XCTAssertEqual(ids.last, CLIPTokenizer.endOfText)
            XCTAssertTrue(ids.allSatisfy { $0 >= 0 && $0 < CLIPTokenizer.vocabularySize }, text.debugDescription)
            // Truncated rows are the reference's truncation of the full sequence.
            let row = tok.tokenize(text)
            XCTAssertLessThanOrEqual(row.count, 77)
            let expected = ids.count <= 77 ? ids : Array(ids.prefix(76)) + [CLIPTokenizer.endOfText]
            XCTAssertEqual(row, expected, text.debugDescription)
            // Byte-level BPE is lossless: decoding gives back the cleaned text (spaces aside).
            // (Compared as scalars: a space followed by a combining mark is one Character.)
            let decoded = tok.decode(Array(ids.dropFirst().dropLast())).unicodeScalars.filter { $0 != " " }
            let cleaned = tok.cleanedText(text).unicodeScalars.filter { $0 != " " && $0 != "\u{345}" }
            XCTAssertEqual(Array(decoded), Array(cleaned), text.debugDescription)
        }
    }

    /// Chunked tokenisation (which allows early stopping) equals cleaning the text in one go.
    func testCLIPChunkingIsExact() throws {
        let tok = try SharedCLIP.get()
        var rng = SeededRandom(seed: 0xC4A1)
        for _ in 0..<150 {
            let text = (0..<12).map { _ in RandomText.make(&rng) }.joined(separator: " ")
            XCTAssertEqual(tok.encode(text), tok.encodeWithoutChunking(text), text.debugDescription)
        }
    }

    /// The heap BPE used for long words agrees with the reference algorithm.
    func testCLIPHeapBPEMatchesReferenceAlgorithm() throws {
        let tok = try SharedCLIP.get()
        var rng = SeededRandom(seed: 0xB9E)
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzéß東😀-'.0123".utf8)
        for _ in 0..<400 {
            let n = Int.random(in: 1...80, using: &rng)
            let word = (0..<n).map { _ in alphabet.randomElement(using: &rng)! }
            XCTAssertEqual(tok.bpeHeap(word), tok.bpeSimple(word), String(decoding: word, as: UTF8.self))
        }
        let repetitive = Array(String(repeating: "ab", count: 200).utf8)
        XCTAssertEqual(tok.bpeHeap(repetitive), tok.bpeSimple(repetitive))
    }

    func testCLIPRandomBytesNeverCrash() throws {
        let tok = try SharedCLIP.get()
        var rng = SeededRandom(seed: 0xB17E5)
        for _ in 0..<500 {
            let bytes = (0..<Int.random(in: 0...64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let ids = tok.encode(bytes: bytes)
            XCTAssertGreaterThanOrEqual(ids.count, 2)
            XCTAssertTrue(ids.allSatisfy { $0 >= 0 && $0 < CLIPTokenizer.vocabularySize })
        }
    }

    func testWordPieceRandomTextInvariants() throws {
        let tok = try SharedWordPiece.get()
        var rng = SeededRandom(seed: 0xBE27)
        for _ in 0..<1500 {
            let text = RandomText.make(&rng, maxPieces: 40)
            let full = tok.encode(text, maxLength: 10_000)
            XCTAssertEqual(full.first, tok.clsID)
            XCTAssertEqual(full.last, tok.sepID)
            XCTAssertTrue(full.allSatisfy { $0 >= 0 && $0 < tok.vocabularySize }, text.debugDescription)
            // Early stopping equals truncating the full sequence.
            for m in [2, 3, 8, 256] {
                let cut = tok.encode(text, maxLength: m)
                XCTAssertLessThanOrEqual(cut.count, m)
                let expected = full.count <= m ? full : [tok.clsID] + full[1..<(m - 1)] + [tok.sepID]
                XCTAssertEqual(cut, expected, "\(m): \(text.debugDescription)")
            }
            let bytes = (0..<Int.random(in: 0...32, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            XCTAssertTrue(tok.encode(bytes: bytes).allSatisfy { $0 >= 0 && $0 < tok.vocabularySize })
        }
    }

    /// Long units are normalised in slices; slicing must not change the result.
    func testWordPieceSlicedNormalisationIsExact() throws {
        let tok = try SharedWordPiece.get()
        // No ASCII letters, so the whole 6,000-scalar run is one unit and gets sliced; NFD
        // turns U+1FEF into '`', which must still split words at the right places.
        let rep = "\u{E9}\u{301}\u{F1}\u{1FEF}"
        let one = tok.tokenize(rep)
        XCTAssertEqual(one.count, 2)
        XCTAssertEqual(one.last, "`")
        let many = tok.tokenize(String(repeating: rep, count: 1500), limit: 100_000)
        XCTAssertEqual(many, Array([[String]](repeating: one, count: 1500).joined()))
    }
}
