import Foundation
import Tensor

/// A dialogue context as DialCLIP sees it: the turns so far (oldest first) and the frozen
/// embeddings of photos shared earlier (image-tower embeddings in the text tower's output
/// space; during training PhotoChat's photo descriptions encoded by the frozen text tower
/// stand in for them).
public struct DialogueContext: Sendable {
    public var turns: [DialogueTurn]
    public var imageEmbeddings: [[Float]]
    public init(turns: [DialogueTurn], imageEmbeddings: [[Float]] = []) {
        self.turns = turns; self.imageEmbeddings = imageEmbeddings
    }
}

/// Turns contexts into `PreparedContext`s: the token window holding the newest turns and the
/// frozen context features (per-turn embeddings from the same tower, without prompts, each
/// turn on its own, cached by text).
public final class ContextEncoder: @unchecked Sendable {
    public let tower: TextTower
    public let maxContextTokens: Int
    public let maxFeatureTurns: Int
    /// Tokens of one turn fed to the frozen per-turn encoder.
    public let turnTokens: Int
    private var cache: [String: [Float]] = [:]
    private let lock = NSLock()

    public init(tower: TextTower, maxContextTokens: Int = 64, maxFeatureTurns: Int = 32, turnTokens: Int = 48) {
        self.tower = tower
        self.maxContextTokens = max(2, min(maxContextTokens, tower.maxTextTokens))
        self.maxFeatureTurns = max(1, maxFeatureTurns)
        self.turnTokens = max(2, turnTokens)
    }

    /// The newest turns that fit in `maxContextTokens` (with start/end tokens), oldest
    /// first; a turn that only partly fits keeps its end. An empty dialogue gives
    /// `[start, end]`.
    public func window(_ turns: [DialogueTurn]) -> [Int] {
        let budget = maxContextTokens - 2
        var kept: [[Int]] = []
        var used = 0
        for turn in turns.reversed() where used < budget {
            let pieces = tower.pieces(turn.text, limit: 256)
            if pieces.isEmpty { continue }
            let room = budget - used
            kept.append(pieces.count <= room ? pieces : Array(pieces.suffix(room)))
            used += min(pieces.count, room)
        }
        return tower.wrap(kept.reversed().flatMap { $0 })
    }

    /// The plain text of the window's turns (for display and zero-shot debugging).
    public func windowText(_ turns: [DialogueTurn]) -> String {
        turns.suffix(maxFeatureTurns).map(\.text).joined(separator: " ")
    }

    /// Frozen embeddings of turn texts, computed once per distinct text.
    public func turnEmbeddings(_ texts: [String]) throws -> [[Float]] {
        lock.lock()
        let missing = Array(Set(texts.filter { cache[$0] == nil }))
        lock.unlock()
        if !missing.isEmpty {
            let d = tower.embedDim
            var computed: [String: [Float]] = [:]
            var start = 0
            while start < missing.count {
                let chunk = Array(missing[start..<min(missing.count, start + 256)])
                start += chunk.count
                let e = try tower.encode(texts: chunk, maxTokens: turnTokens)
                for (i, t) in chunk.enumerated() { computed[t] = Array(UnsafeBufferPointer(start: e.pointer + i * d, count: d)) }
            }
            lock.lock(); cache.merge(computed) { a, _ in a }; lock.unlock()
        }
        lock.lock(); defer { lock.unlock() }
        return texts.map { cache[$0] ?? [] }
    }

    /// Pre-computes turn embeddings for many dialogues at once (training, evaluation).
    public func warm(_ texts: [String]) throws { _ = try turnEmbeddings(texts) }

    /// Number of distinct turn texts cached.
    public var cachedTurns: Int { lock.lock(); defer { lock.unlock() }; return cache.count }

    /// Window and features of one context.
    public func prepare(_ context: DialogueContext) throws -> PreparedContext {
        let d = tower.embedDim
        let recent = Array(context.turns.suffix(maxFeatureTurns))
        let embeddings = try turnEmbeddings(recent.map(\.text))
        var mean = [Float](repeating: 0, count: d)
        for e in embeddings where e.count == d { for i in 0..<d { mean[i] += e[i] } }
        if !embeddings.isEmpty { let inv = 1 / Float(embeddings.count); for i in 0..<d { mean[i] *= inv } }
        let last = embeddings.last(where: { $0.count == d }) ?? [Float](repeating: 0, count: d)
        var image = [Float](repeating: 0, count: d)
        let images = context.imageEmbeddings.filter { $0.count == d && $0.allSatisfy(\.isFinite) }
        if !images.isEmpty {
            for e in images { for i in 0..<d { image[i] += e[i] } }
            let inv = 1 / Float(images.count); for i in 0..<d { image[i] *= inv }
        }
        let noImage: Float = images.isEmpty ? 1 : 0
        return PreparedContext(ids: window(context.turns), generatorFeatures: mean + image + [noImage],
                               routingFeatures: mean + last + [noImage])
    }
}
