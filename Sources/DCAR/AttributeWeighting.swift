import Foundation
import Tensor

/// One phrase's part in a DCAR score.
public struct PhraseScore: Sendable, Equatable {
    public var phrase: String
    /// w_j, normalised so the weights of a pair sum to 1.
    public var weight: Float
    /// S(phrase, image): cosine of the phrase's and the image's embeddings.
    public var sImage: Float
    /// S(phrase, blank): the same against the uniform mid-grey image.
    public var sBlank: Float
}

/// The DCAR score of one (text, image) pair with all its parts.
public struct AttributeScore: Sendable, Equatable {
    public var phrases: [PhraseScore]
    /// cos(text, image).
    public var globalScore: Float
    /// Σ_j w_j · S(phrase_j, image) (equals `globalScore` when there is no phrase).
    public var attributeScore: Float
    /// (1 − β)·global + β·attribute.
    public var finalScore: Float
    public var beta: Float
    /// Why the weights are not the plain formula (uniform fallback, no phrase), if so.
    public var note: String?
}

/// DCAR's attribute weights (DESIGN.md §5.2–5.3). A phrase weighs what the image changes in
/// its similarity compared with a blank mid-grey image, `w_j = |S(p_j, I) − S(p_j, blank)|`,
/// normalised to sum 1: words the photo actually shows get weight, generic words none.
public enum AttributeWeighting {
    /// Note used when every difference is 0 (e.g. a constant encoder): weights are uniform.
    public static let uniformNote = "all phrases are as similar to the image as to a blank image; weights are uniform"
    /// Note used when the text has no attribute phrase: the score is the global cosine.
    public static let noPhraseNote = "no attribute phrases in the text; the score is the global similarity only"

    /// Normalised weights from the two similarity lists; `uniform` when all differences are 0
    /// (or not finite), so the weights still sum to 1.
    public static func weights(sImage: [Float], sBlank: [Float]) -> (weights: [Float], uniform: Bool) {
        // One weight per pair of similarities (extra entries of a longer list are ignored).
        let diffs = zip(sImage, sBlank).map { abs(Double($0) - Double($1)) }
        guard !diffs.isEmpty else { return ([], false) }
        let total = diffs.reduce(0, +)
        guard total > 0, total.isFinite else {
            return ([Float](repeating: 1 / Float(diffs.count), count: diffs.count), true)
        }
        return (diffs.map { Float($0 / total) }, false)
    }

    /// The full score of one pair from the phrase similarities.
    public static func score(phrases: [String], sImage: [Float], sBlank: [Float], globalScore: Float, beta: Float) -> AttributeScore {
        guard !phrases.isEmpty else {
            return AttributeScore(phrases: [], globalScore: globalScore, attributeScore: globalScore,
                                  finalScore: globalScore, beta: beta, note: noPhraseNote)
        }
        guard sImage.count == phrases.count, sBlank.count == phrases.count else {
            return AttributeScore(phrases: [], globalScore: globalScore, attributeScore: globalScore, finalScore: globalScore,
                                  beta: beta, note: "phrase similarities missing; the score is the global similarity only")
        }
        let (w, uniform) = weights(sImage: sImage, sBlank: sBlank)
        var attribute = 0.0
        for j in w.indices { attribute += Double(w[j]) * Double(sImage[j]) }
        let a = Float(attribute)
        let parts = phrases.indices.map { PhraseScore(phrase: phrases[$0], weight: w[$0], sImage: sImage[$0], sBlank: sBlank[$0]) }
        return AttributeScore(phrases: parts, globalScore: globalScore, attributeScore: a,
                              finalScore: (1 - beta) * globalScore + beta * a, beta: beta, note: uniform ? uniformNote : nil)
    }

    /// The score of one pair from embeddings: `phraseEmbeddings` [P, D], `imageEmbedding` and
    /// `blankEmbedding` [D] or [1, D], all L2-normalised (cosine = dot product).
    public static func score(phrases: [String], phraseEmbeddings: Tensor, imageEmbedding: Tensor, blankEmbedding: Tensor,
                             globalScore: Float, beta: Float) throws -> AttributeScore {
        guard !phrases.isEmpty else {
            return score(phrases: [], sImage: [], sBlank: [], globalScore: globalScore, beta: beta)
        }
        let sImage = try similarities(phraseEmbeddings: phraseEmbeddings, images: imageEmbedding)
        let sBlank = try similarities(phraseEmbeddings: phraseEmbeddings, images: blankEmbedding)
        guard sImage.rows == phrases.count, sImage.columns == 1, sBlank.columns == 1 else {
            throw DCARError.shapeMismatch("\(phrases.count) phrases, \(sImage.rows) phrase embeddings, one image and one blank expected")
        }
        return score(phrases: phrases, sImage: sImage.column(0), sBlank: sBlank.column(0), globalScore: globalScore, beta: beta)
    }

    /// S = P·Iᵀ for phrase embeddings [P, D] and image embeddings [K, D]: one sgemm.
    public static func similarities(phraseEmbeddings: Tensor, images: Tensor) throws -> SimilarityMatrix {
        let p = try matrix(phraseEmbeddings, "phrase embeddings")
        let i = try matrix(images, "image embeddings")
        guard p.shape[1] == i.shape[1] else {
            throw DCARError.shapeMismatch("phrase embeddings have dimension \(p.shape[1]), images \(i.shape[1]) (the text and image encoders must share one space)")
        }
        let s = try p.matmulTransposed(i)
        return SimilarityMatrix(values: s.array, rows: p.shape[0], columns: i.shape[0])
    }

    static func matrix(_ t: Tensor, _ what: String) throws -> Tensor {
        if t.rank == 1 { return try t.reshaped([1, t.count]) }
        guard t.rank == 2 else { throw DCARError.shapeMismatch("\(what): expected [n, d], got \(t.shape)") }
        return t
    }
}

/// A row-major [rows, columns] block of similarities.
public struct SimilarityMatrix: Sendable, Equatable {
    public var values: [Float]
    public var rows: Int
    public var columns: Int
    public subscript(row: Int, column: Int) -> Float { values[row * columns + column] }
    public func column(_ c: Int) -> [Float] { (0..<rows).map { self[$0, c] } }
}

/// One candidate after DCAR re-ranking.
public struct RerankedCandidate<ID: Sendable & Hashable>: Sendable {
    public var id: ID
    public var globalScore: Float
    public var attributeScore: Float
    public var finalScore: Float
}

/// DCAR re-ranking of an index's top-K (DESIGN.md §5.3):
/// `final = (1 − β)·cos(query, image) + β·Σ_j w_j·S(phrase_j, image)` with the weights of
/// each (query, candidate) pair. The query's phrases are encoded once by the caller; the
/// similarities of all phrases with all candidates and the blank image are one sgemm.
public enum Reranker {
    /// β of search re-ranking when the user gives no `--beta`. DCAR is on by default only
    /// once `dialclip eval --task attributes` shows it helps the bundled model; until then 0
    /// (off). See docs/dcar.md for the measurements.
    public static let defaultBeta: Float = 0
    /// β for showing DCAR's effect (the `+dcar` system of the evaluation, `inspect`'s final
    /// score when no `--beta` is given).
    public static let suggestedBeta: Float = 0.3

    /// Re-scores `candidates` (id, cosine with the query) whose embeddings are the rows of
    /// `candidateEmbeddings` [K, D], and sorts them by the final score (stable on ties:
    /// the original order wins). β = 0 keeps the scores and order; no phrases also keep them.
    public static func rerank<ID: Sendable & Hashable>(candidates: [(id: ID, score: Float)], candidateEmbeddings: Tensor,
                                                       phraseEmbeddings: Tensor?, blankEmbedding: Tensor, beta: Float) throws -> [RerankedCandidate<ID>] {
        guard beta.isFinite, beta >= 0, beta <= 1 else { throw DCARError.invalidArgument("beta must be in [0, 1] (got \(beta))") }
        let k = candidates.count
        guard k > 0 else { return [] }
        let images = try AttributeWeighting.matrix(candidateEmbeddings, "candidate embeddings")
        guard images.shape[0] == k else { throw DCARError.shapeMismatch("\(k) candidates but \(images.shape[0]) embeddings") }
        var out: [RerankedCandidate<ID>]
        if let phraseEmbeddings, phraseEmbeddings.count > 0, beta > 0 {
            let s = try AttributeWeighting.similarities(phraseEmbeddings: phraseEmbeddings, images: images)
            let sBlank = try AttributeWeighting.similarities(phraseEmbeddings: phraseEmbeddings, images: blankEmbedding).column(0)
            out = candidates.enumerated().map { c, cand in
                let sImage = s.column(c)
                let (w, _) = AttributeWeighting.weights(sImage: sImage, sBlank: sBlank)
                var a = 0.0
                for j in w.indices { a += Double(w[j]) * Double(sImage[j]) }
                let attr = Float(a)
                return RerankedCandidate(id: cand.id, globalScore: cand.score, attributeScore: attr,
                                         finalScore: (1 - beta) * cand.score + beta * attr)
            }
        } else {
            out = candidates.map { RerankedCandidate(id: $0.id, globalScore: $0.score, attributeScore: $0.score, finalScore: $0.score) }
        }
        return stableSortedByScore(out)
    }

    static func stableSortedByScore<ID>(_ items: [RerankedCandidate<ID>]) -> [RerankedCandidate<ID>] {
        items.enumerated().sorted { a, b in
            let x = a.element.finalScore, y = b.element.finalScore
            if x != y && !(x.isNaN || y.isNaN) { return x > y }
            if x.isNaN != y.isNaN { return y.isNaN }
            return a.offset < b.offset
        }.map(\.element)
    }
}
