import Foundation
import Tensor

/// Measurements for `dialclip bench`: search latency over synthetic embeddings held in
/// memory, and index write/load throughput through the real database code.
public enum GalleryBenchmarks {
    /// Latency of one search (gemm + top-k) over `count` × `dim` random unit vectors.
    public struct SearchLatency: Sendable, Codable, Equatable {
        public var count: Int
        public var dim: Int
        public var k: Int
        public var queries: Int
        /// Fastest query: the machine's floor, least disturbed by other processes.
        public var minMs: Double
        public var medianMs: Double
        public var p95Ms: Double
        public var meanMs: Double
    }

    /// Index write and load throughput for `count` synthetic embeddings.
    public struct IndexThroughput: Sendable, Codable, Equatable {
        public var count: Int
        public var dim: Int
        public var storage: String
        public var batchSize: Int
        /// Items written per second (one transaction per batch, as `index` does).
        public var itemsPerSecond: Double
        /// Seconds to load the whole matrix for search.
        public var loadSeconds: Double
        public var databaseBytes: Int64
    }

    /// Random unit rows from a seeded SplitMix64 (same numbers on every run).
    static func syntheticMatrix(count: Int, dim: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix(seed)
        var values = [Float](repeating: 0, count: count * dim)
        for r in 0..<count {
            var norm: Float = 0
            for c in 0..<dim {
                let x = rng.nextFloat() * 2 - 1
                values[r * dim + c] = x; norm += x * x
            }
            let inv = 1 / max(norm.squareRoot(), 1e-12)
            for c in 0..<dim { values[r * dim + c] *= inv }
        }
        return values
    }

    /// Median/p95/mean milliseconds of `queries` single-vector searches.
    public static func searchLatency(count: Int, dim: Int = 512, k: Int = 10, queries: Int = 50, seed: UInt64 = 42) throws -> SearchLatency {
        let model = ModelIdentity(name: "synthetic", weightsHash: "bench", dim: dim)
        let values = syntheticMatrix(count: count, dim: dim, seed: seed)
        let matrix = try EmbeddingMatrix(model: model, ids: (0..<count).map(Int64.init), kinds: Array(repeating: .image, count: count),
                                         paths: (0..<count).map { "/bench/\($0).jpg" }, captions: Array(repeating: nil, count: count),
                                         categories: Array(repeating: nil, count: count), values: values)
        let searcher = GallerySearcher(matrix: matrix)
        let qs = syntheticMatrix(count: queries + 1, dim: dim, seed: seed &+ 1)
        _ = try searcher.search(Array(qs[0..<dim]), k: k) // warm-up (page faults, BLAS threads)
        var times: [Double] = []
        for q in 1...queries {
            let query = Array(qs[q * dim..<(q + 1) * dim])
            let t0 = DispatchTime.now().uptimeNanoseconds
            _ = try searcher.search(query, k: k)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
        }
        times.sort()
        return SearchLatency(count: count, dim: dim, k: k, queries: queries, minMs: times[0], medianMs: times[times.count / 2],
                             p95Ms: times[min(times.count - 1, Int(Double(times.count) * 0.95))],
                             meanMs: times.reduce(0, +) / Double(times.count))
    }

    /// Writes `count` synthetic reply-less image rows with embeddings into a fresh
    /// database at `databasePath` (removed first) in batches, then loads the matrix.
    public static func indexThroughput(count: Int, dim: Int = 512, storage: EmbeddingStorage = .fp32, batchSize: Int = 256,
                                       databasePath: String) throws -> IndexThroughput {
        for suffix in ["", "-wal", "-shm", ".lock"] { try? FileManager.default.removeItem(atPath: databasePath + suffix) }
        let model = ModelIdentity(name: "synthetic", weightsHash: "bench", dim: dim)
        let values = syntheticMatrix(count: count, dim: dim, seed: 7)
        let index = try GalleryIndex(path: databasePath)
        let t0 = Date()
        for start in stride(from: 0, to: count, by: batchSize) {
            let end = min(count, start + batchSize)
            let records = (start..<end).map { i in
                ItemRecord(kind: .image, path: "/bench/\(i).jpg", size: 1000, mtimeNs: Int64(i), contentHash: String(i),
                           caption: "synthetic \(i)", embedding: Array(values[i * dim..<(i + 1) * dim]))
            }
            try index.upsert(records, model: model, storage: storage)
        }
        let writeTime = Date().timeIntervalSince(t0)
        let t1 = Date()
        let m = try index.loadMatrix(model: model)
        let load = Date().timeIntervalSince(t1)
        guard m.count == count else { throw GalleryError.corrupt(path: databasePath, detail: "loaded \(m.count) of \(count) rows") }
        let size = ((try? FileManager.default.attributesOfItem(atPath: databasePath)[.size]) as? Int64) ?? 0
        let wal = ((try? FileManager.default.attributesOfItem(atPath: databasePath + "-wal")[.size]) as? Int64) ?? 0
        return IndexThroughput(count: count, dim: dim, storage: storage.rawValue, batchSize: batchSize,
                               itemsPerSecond: Double(count) / max(writeTime, 1e-9), loadSeconds: load, databaseBytes: size + wal)
    }
}

/// SplitMix64, local so the gallery does not depend on the Tensor test utilities' API.
struct SplitMix {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func nextFloat() -> Float { Float(next() >> 40) / Float(1 << 24) }
}
