import DCAR
import Foundation
import Tensor
import XCTest

final class AttributeWeightingTests: XCTestCase {
    func testWeightsAreNormalisedDifferences() {
        let (w, uniform) = AttributeWeighting.weights(sImage: [0.5, 0.2, 0.1], sBlank: [0.1, 0.3, 0.1])
        XCTAssertFalse(uniform)
        // |diffs| = 0.4, 0.1, 0 → 0.8, 0.2, 0.
        XCTAssertEqual(w[0], 0.8, accuracy: 1e-6)
        XCTAssertEqual(w[1], 0.2, accuracy: 1e-6)
        XCTAssertEqual(w[2], 0, accuracy: 1e-7)
        XCTAssertEqual(w.reduce(0, +), 1, accuracy: 1e-6)
    }

    func testUniformFallbackWithNote() {
        let s = AttributeWeighting.score(phrases: ["red car", "street", "two dogs"], sImage: [0.3, 0.2, 0.1], sBlank: [0.3, 0.2, 0.1],
                                         globalScore: 0.5, beta: 0.5)
        XCTAssertEqual(s.phrases.map(\.weight), [1 / 3, 1 / 3, 1 / 3])
        XCTAssertEqual(s.note, AttributeWeighting.uniformNote)
        XCTAssertEqual(s.attributeScore, 0.2, accuracy: 1e-6)
        XCTAssertEqual(s.finalScore, 0.5 * 0.5 + 0.5 * 0.2, accuracy: 1e-6)
        // Non-finite similarities also fall back instead of producing NaN weights.
        let n = AttributeWeighting.weights(sImage: [.nan, 0.1], sBlank: [0, 0])
        XCTAssertTrue(n.uniform)
        XCTAssertEqual(n.weights, [0.5, 0.5])
    }

    func testNoPhraseFallsBackToGlobalScore() {
        let s = AttributeWeighting.score(phrases: [], sImage: [], sBlank: [], globalScore: 0.42, beta: 0.7)
        XCTAssertEqual(s.finalScore, 0.42)
        XCTAssertEqual(s.note, AttributeWeighting.noPhraseNote)
        XCTAssertTrue(s.phrases.isEmpty)
    }

    func testScoreFormula() {
        let s = AttributeWeighting.score(phrases: ["a", "b"], sImage: [0.6, 0.2], sBlank: [0.1, 0.1], globalScore: 0.3, beta: 0.25)
        // w = (0.5, 0.1)/0.6; attribute = (0.5·0.6 + 0.1·0.2)/0.6.
        let attribute: Float = (0.5 * 0.6 + 0.1 * 0.2) / 0.6
        XCTAssertEqual(s.attributeScore, attribute, accuracy: 1e-6)
        XCTAssertEqual(s.finalScore, 0.75 * 0.3 + 0.25 * attribute, accuracy: 1e-6)
        XCTAssertNil(s.note)
    }

    /// L2-normalised pseudo-random rows.
    func unitRows(_ n: Int, _ d: Int, seed: UInt64) throws -> Tensor {
        var state = seed
        var v: [Float] = []
        for _ in 0..<(n * d) {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let bits = Int64(bitPattern: state >> 11) % 2000
            v.append(Float(bits) / 1000 - 1)
        }
        for r in 0..<n {
            var sum: Float = 0
            for c in 0..<d { sum += v[r * d + c] * v[r * d + c] }
            let norm = sum.squareRoot()
            for c in 0..<d { v[r * d + c] /= norm }
        }
        return try Tensor(v, shape: [n, d])
    }

    func dot(_ a: Tensor, _ ar: Int, _ b: Tensor, _ br: Int) -> Float {
        let d = a.shape[1]
        return (0..<d).map { a.pointer[ar * d + $0] * b.pointer[br * d + $0] }.reduce(0, +)
    }

    func testScoreFromEmbeddingsMatchesDotProducts() throws {
        let phrases = try unitRows(3, 8, seed: 1)
        let image = try unitRows(1, 8, seed: 2)
        let blank = try unitRows(1, 8, seed: 3)
        let s = try AttributeWeighting.score(phrases: ["x", "y", "z"], phraseEmbeddings: phrases, imageEmbedding: image.row(0),
                                             blankEmbedding: blank, globalScore: 0.1, beta: 0.4)
        for j in 0..<3 {
            XCTAssertEqual(s.phrases[j].sImage, dot(phrases, j, image, 0), accuracy: 1e-5)
            XCTAssertEqual(s.phrases[j].sBlank, dot(phrases, j, blank, 0), accuracy: 1e-5)
        }
        XCTAssertEqual(s.phrases.map(\.weight).reduce(0, +), 1, accuracy: 1e-5)
        XCTAssertThrowsError(try AttributeWeighting.score(phrases: ["x", "y", "z"], phraseEmbeddings: phrases,
                                                          imageEmbedding: try unitRows(1, 4, seed: 2), blankEmbedding: blank,
                                                          globalScore: 0, beta: 0.5))
    }

    func testRerankBetaZeroKeepsOrderAndBetaOneUsesOnlyPhrases() throws {
        let d = 16
        let images = try unitRows(6, d, seed: 11)
        let phrases = try unitRows(2, d, seed: 12)
        let blank = try unitRows(1, d, seed: 13)
        // Candidates in descending global score (as the index returns them).
        let candidates: [(id: String, score: Float)] = [("a", 0.9), ("b", 0.8), ("c", 0.7), ("d", 0.5), ("e", 0.4), ("f", 0.1)]
        let zero = try Reranker.rerank(candidates: candidates, candidateEmbeddings: images, phraseEmbeddings: phrases,
                                       blankEmbedding: blank, beta: 0)
        XCTAssertEqual(zero.map(\.id), candidates.map(\.id))
        XCTAssertEqual(zero.map(\.finalScore), candidates.map(\.score))

        let one = try Reranker.rerank(candidates: candidates, candidateEmbeddings: images, phraseEmbeddings: phrases,
                                      blankEmbedding: blank, beta: 1)
        // Each attribute score equals the single-pair formula; final = attribute only.
        for r in one {
            let k = candidates.firstIndex { $0.id == r.id }!
            let pair = try AttributeWeighting.score(phrases: ["p", "q"], phraseEmbeddings: phrases, imageEmbedding: images.row(k),
                                                    blankEmbedding: blank, globalScore: r.globalScore, beta: 1)
            XCTAssertEqual(r.attributeScore, pair.attributeScore, accuracy: 1e-6)
            XCTAssertEqual(r.finalScore, r.attributeScore)
        }
        XCTAssertEqual(one.map(\.finalScore), one.map(\.finalScore).sorted(by: >))
        let expectedOrder = one.sorted { $0.attributeScore > $1.attributeScore }.map(\.id)
        XCTAssertEqual(one.map(\.id), expectedOrder)

        // Halfway: the mix.
        let half = try Reranker.rerank(candidates: candidates, candidateEmbeddings: images, phraseEmbeddings: phrases,
                                       blankEmbedding: blank, beta: 0.5)
        for r in half { XCTAssertEqual(r.finalScore, 0.5 * r.globalScore + 0.5 * r.attributeScore, accuracy: 1e-6) }

        // No phrases: unchanged. Bad β, mismatched shapes: errors.
        let none = try Reranker.rerank(candidates: candidates, candidateEmbeddings: images, phraseEmbeddings: nil, blankEmbedding: blank, beta: 1)
        XCTAssertEqual(none.map(\.id), candidates.map(\.id))
        XCTAssertThrowsError(try Reranker.rerank(candidates: candidates, candidateEmbeddings: images, phraseEmbeddings: phrases,
                                                 blankEmbedding: blank, beta: 1.5))
        XCTAssertThrowsError(try Reranker.rerank(candidates: Array(candidates.prefix(3)), candidateEmbeddings: images,
                                                 phraseEmbeddings: phrases, blankEmbedding: blank, beta: 0.5))
        XCTAssertTrue(try Reranker.rerank(candidates: [(id: String, score: Float)](), candidateEmbeddings: images,
                                          phraseEmbeddings: phrases, blankEmbedding: blank, beta: 0.5).isEmpty)
    }

    func testRerankTiesKeepOriginalOrder() throws {
        let images = try Tensor([1, 0, 1, 0, 1, 0], shape: [3, 2])
        let r = try Reranker.rerank(candidates: [(id: 3, score: 0.5), (id: 1, score: 0.5), (id: 2, score: 0.5)],
                                    candidateEmbeddings: images, phraseEmbeddings: try Tensor([0, 1], shape: [1, 2]),
                                    blankEmbedding: try Tensor([1, 0], shape: [2]), beta: 0.5)
        XCTAssertEqual(r.map(\.id), [3, 1, 2])
    }
}
