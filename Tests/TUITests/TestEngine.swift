import Engine
import Foundation
@testable import TUI

/// A deterministic in-test `RetrievalEngine`: results are computed from the dialogue, so
/// tests can derive the expected output from the input alone.
/// - photos: one per distinct lowercase word of the last turn (sorted), path
///   `/gallery/<word>.jpg`, caption `a photo of <word>`, score = 1 / rank.
/// - replies: `reply <i> to <n> turns`, score 0.5 - 0.1·i.
/// - photo-share probability: turns / (turns + 1); latency 12.5 ms.
struct WordEngine: RetrievalEngine {
    var modelName: String { "word-engine" }
    var gallery: [GalleryEntry] = [
        GalleryEntry(path: "/gallery/cat.jpg", caption: "a cat on a sofa", category: "animal"),
        GalleryEntry(path: "/gallery/dog.jpg", caption: "a dog in the park", category: "animal"),
        GalleryEntry(path: "/gallery/cake.jpg", caption: "a birthday cake", category: "food"),
        GalleryEntry(path: "/gallery/tower.jpg", caption: "the eiffel tower at night", category: "building"),
    ]

    static func words(_ text: String) -> [String] {
        Array(Set(text.lowercased().split { !$0.isLetter }.map(String.init))).sorted()
    }

    func retrieve(context: [DialogTurn], kinds: Set<RetrievalKind>, k: Int) async throws -> RetrievalResult {
        let last = context.last?.text ?? ""
        let photos = kinds.contains(.image) ? Self.words(last).prefix(k).enumerated().map { i, w in
            RetrievalHit(rank: i + 1, kind: .image, path: "/gallery/\(w).jpg", text: "a photo of \(w)", score: 1 / Float(i + 1), category: "test")
        } : []
        let replies = kinds.contains(.reply) ? (0..<min(k, 3)).map { i in
            RetrievalHit(rank: i + 1, kind: .reply, path: nil, text: "reply \(i + 1) to \(context.count) turns", score: 0.5 - 0.1 * Float(i))
        } : []
        return RetrievalResult(photos: photos, replies: replies,
                               photoShareProbability: Float(context.count) / Float(context.count + 1), latencySeconds: 0.0125)
    }

    func explain(text: String, imagePath: String) async throws -> AttributeExplanation {
        let ws = Self.words(text)
        let total = Float(ws.reduce(0) { $0 + $1.count })
        return AttributeExplanation(image: imagePath, text: text, globalScore: 0.25, finalScore: 0.3, beta: 0.5,
                                    phrases: ws.map { .init(phrase: $0, weight: Float($0.count) / max(total, 1), sImage: 0.3, sBlank: 0.1) })
    }

    func galleryEntries() async throws -> [GalleryEntry] { gallery }
}

struct FailingEngine: RetrievalEngine {
    struct Boom: Error, CustomStringConvertible { var description: String { "model file missing" } }
    var modelName: String { "failing" }
    func retrieve(context: [DialogTurn], kinds: Set<RetrievalKind>, k: Int) async throws -> RetrievalResult { throw Boom() }
    func explain(text: String, imagePath: String) async throws -> AttributeExplanation { throw Boom() }
    func galleryEntries() async throws -> [GalleryEntry] { throw Boom() }
}

/// Runs a WordEngine retrieval synchronously enough for state tests.
func wordResult(for context: [DialogTurn], k: Int = 10) async throws -> RetrievalResult {
    try await WordEngine().retrieve(context: context, kinds: [.image, .reply], k: k)
}

extension TUIState {
    /// Types a string key by key.
    mutating func type(_ s: String) { for c in s { _ = handle(key: .char(c)) } }
}
