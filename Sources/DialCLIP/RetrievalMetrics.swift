import Foundation

/// Recall@1/5/10 and MRR over a set of queries, each given by the 1-based rank of its
/// correct candidate. Ties are ranked pessimistically by the caller (the target counts
/// below every candidate with an equal score), so a constant scorer cannot look good.
public struct RetrievalMetrics: Sendable, Equatable {
    public var recallAt1: Double
    public var recallAt5: Double
    public var recallAt10: Double
    public var meanReciprocalRank: Double
    public var queries: Int

    public init(ranks: [Int]) {
        let n = Double(max(ranks.count, 1))
        recallAt1 = Double(ranks.filter { $0 <= 1 }.count) / n
        recallAt5 = Double(ranks.filter { $0 <= 5 }.count) / n
        recallAt10 = Double(ranks.filter { $0 <= 10 }.count) / n
        meanReciprocalRank = ranks.reduce(0.0) { $0 + 1 / Double($1) } / n
        queries = ranks.count
    }

    /// The DESIGN.md section 8 shape: `{"r@1", "r@5", "r@10", "mrr"}`.
    public var json: [String: Any] {
        ["r@1": recallAt1, "r@5": recallAt5, "r@10": recallAt10, "mrr": meanReciprocalRank, "queries": queries]
    }

    /// 1-based rank of `target` among `scores` (pessimistic on ties).
    public static func rank(of target: Int, in scores: [Float]) -> Int {
        let t = scores[target]
        var rank = 1
        for (i, s) in scores.enumerated() where i != target && (s > t || s == t || s.isNaN) { rank += 1 }
        return rank
    }
}
