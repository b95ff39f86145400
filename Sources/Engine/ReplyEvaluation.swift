import DialCLIP
import Foundation
import Tensor

/// Text-reply retrieval evaluation (DESIGN.md section 8): for each conversation and each
/// turn k ≥ 1, the context is turns[0..<k] and the target is turn k among 100 candidates —
/// the target plus 99 other replies drawn from the pool with a fixed seed.
public enum ReplyEvaluation {
    public static let candidateCount = 100
    public static let seed: UInt64 = 20_211_123

    public struct Query: Sendable {
        public var context: [String]
        public var target: String
        public var distractors: [Int]   // indices into the pool
    }

    /// Builds every evaluable query of `dialogues` (turns with empty text are not targets).
    public static func queries(dialogues: [Dialogue], pool: [String]) throws -> [Query] {
        guard pool.count >= candidateCount else {
            throw EvaluationError.poolTooSmall(have: pool.count, need: candidateCount)
        }
        var rng = SeededGenerator(seed: seed)
        var out: [Query] = []
        for d in dialogues {
            let texts = d.turns.map(\.text)
            guard texts.count >= 2 else { continue }
            for k in 1..<texts.count {
                let target = texts[k].trimmingCharacters(in: .whitespacesAndNewlines)
                let context = texts[0..<k].filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
                if target.isEmpty || context.isEmpty { continue }
                var picked = Set<Int>()
                var distractors: [Int] = []
                while distractors.count < candidateCount - 1 {
                    let i = Int(rng.next() % UInt64(pool.count))
                    if picked.contains(i) || pool[i] == target { continue }
                    picked.insert(i)
                    distractors.append(i)
                }
                out.append(Query(context: Array(context), target: target, distractors: distractors))
            }
        }
        guard !out.isEmpty else { throw EvaluationError.nothingToEvaluate("no conversation has a context turn followed by a reply") }
        return out
    }

    /// Zero-shot scoring with `encoder`: cosine between the context (newest turns in the
    /// encoder's window) and each candidate. `progress(done, total)` is called per batch.
    public static func evaluate(queries: [Query], pool: ReplyIndex, encoder: TextEmbedder,
                                batchSize: Int = 64, progress: ((Int, Int) -> Void)? = nil) throws -> RetrievalMetrics {
        let d = encoder.dimension
        var ranks: [Int] = []
        ranks.reserveCapacity(queries.count)
        var start = 0
        while start < queries.count {
            let batch = Array(queries[start..<min(queries.count, start + batchSize)])
            let contexts = try encoder.embed(texts: batch.map { encoder.contextText(turns: $0.context) })
            let targets = try encoder.embed(texts: batch.map(\.target))
            for (row, q) in batch.enumerated() {
                let c = contexts.pointer + row * d
                var scores = [Float](repeating: 0, count: candidateCount)
                scores[0] = dot(c, targets.pointer + row * d, d)
                for (j, i) in q.distractors.enumerated() { scores[j + 1] = dot(c, pool.embeddings.pointer + i * d, d) }
                ranks.append(RetrievalMetrics.rank(of: 0, in: scores))
            }
            start += batch.count
            progress?(start, queries.count)
        }
        return RetrievalMetrics(ranks: ranks)
    }

    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var s: Float = 0
        for i in 0..<n { s += a[i] * b[i] }
        return s
    }
}

/// Problems that make an evaluation impossible.
public enum EvaluationError: Error, CustomStringConvertible {
    case nothingToEvaluate(String)
    case poolTooSmall(have: Int, need: Int)

    public var description: String {
        switch self {
        case .nothingToEvaluate(let why): return "nothing to evaluate: \(why)"
        case .poolTooSmall(let have, let need): return "the reply pool has \(have) distinct replies; reply evaluation needs at least \(need)"
        }
    }
}
