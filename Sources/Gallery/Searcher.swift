import Foundation
import GRDB
import Tensor

/// The embeddings of one model, loaded once: row i of `values` ([count, dim], row-major,
/// L2-normalised fp32) belongs to `ids[i]`.
public struct EmbeddingMatrix: Sendable {
    public var model: ModelIdentity
    public var ids: [Int64]
    public var kinds: [ItemKind]
    public var paths: [String]
    public var captions: [String?]
    public var categories: [String?]
    public var values: [Float]

    public var count: Int { ids.count }
    public var dim: Int { model.dim }

    /// A matrix built in memory (benchmarks, tests, an engine that computes vectors itself).
    public init(model: ModelIdentity, ids: [Int64], kinds: [ItemKind], paths: [String], captions: [String?],
                categories: [String?], values: [Float]) throws {
        let n = ids.count
        guard kinds.count == n, paths.count == n, captions.count == n, categories.count == n else {
            throw GalleryError.invalidModel("EmbeddingMatrix columns have different lengths")
        }
        guard values.count == n * model.dim else {
            throw GalleryError.vectorDimension(expected: n * model.dim, got: values.count, context: "embedding matrix of \(n) rows")
        }
        self.model = model; self.ids = ids; self.kinds = kinds; self.paths = paths
        self.captions = captions; self.categories = categories; self.values = values
    }
}

/// One search result.
public struct SearchHit: Sendable, Equatable, Codable {
    /// 1-based rank.
    public var rank: Int
    public var itemID: Int64
    public var kind: ItemKind
    /// Absolute photo path, or the reply's synthetic id (`pool#id`).
    public var path: String
    /// Cosine similarity (stored vectors and queries are L2-normalised).
    public var score: Float
    /// Photo caption, or the reply text.
    public var caption: String?
    public var category: String?
}

extension GalleryIndex {
    /// Loads every embedding of `model` for the given kinds (one read transaction).
    /// - Throws: `.modelDimensionMismatch` when the name exists with another dimension;
    ///   `.modelNotIndexed` (listing the models present) when the model is unknown;
    ///   `.corrupt` when a BLOB has the wrong length.
    public func loadMatrix(model: ModelIdentity, kinds: Set<ItemKind> = Set(ItemKind.allCases)) throws -> EmbeddingMatrix {
        try model.validate()
        let loaded: EmbeddingMatrix? = try run { db in
            guard let modelID = try Self.lookupModel(db, model) else { return nil }
            let n = try Int.fetchOne(db, sql: "SELECT count(*) FROM embedding WHERE model_id = ?", arguments: [modelID]) ?? 0
            var ids: [Int64] = [], kindsOut: [ItemKind] = [], paths: [String] = [], caps: [String?] = [], cats: [String?] = []
            ids.reserveCapacity(n); kindsOut.reserveCapacity(n); paths.reserveCapacity(n); caps.reserveCapacity(n); cats.reserveCapacity(n)
            var values = [Float](repeating: 0, count: n * model.dim)
            let kindList = kinds.map { "'\($0.rawValue)'" }.sorted().joined(separator: ",")
            let cursor = try Row.fetchCursor(db, sql: """
                SELECT i.id, i.kind, i.path, i.caption, i.category, e.dtype, e.vector
                FROM embedding e JOIN item i ON i.id = e.item_id
                WHERE e.model_id = ? AND i.kind IN (\(kindList.isEmpty ? "''" : kindList))
                ORDER BY i.kind, i.path
                """, arguments: [modelID])
            var row = 0
            try values.withUnsafeMutableBufferPointer { buf in
                while let r = try cursor.next() {
                    guard row < n else { break }
                    let blob: Data = r["vector"]
                    let storage = EmbeddingStorage(rawValue: r["dtype"]) ?? .fp32
                    let path: String = r["path"]
                    guard VectorCoding.decode(blob, storage: storage, dim: model.dim, into: buf.baseAddress! + row * model.dim) else {
                        throw GalleryError.corrupt(path: self.path, detail: "embedding of \(path) has \(blob.count) bytes, expected \(model.dim * storage.bytesPerValue)")
                    }
                    ids.append(r["id"]); kindsOut.append(ItemKind(rawValue: r["kind"]) ?? .image); paths.append(path)
                    caps.append(r["caption"]); cats.append(r["category"])
                    row += 1
                }
            }
            values.removeLast(values.count - row * model.dim)
            return try EmbeddingMatrix(model: model, ids: ids, kinds: kindsOut, paths: paths, captions: caps, categories: cats, values: values)
        }
        if let loaded { return loaded }
        let available = try models().map { "\($0.identity.name) (\($0.identity.dim)-d, \($0.embeddingCount) items)" }
        throw GalleryError.modelNotIndexed(name: model.name, available: available)
    }
}

/// Exact nearest-neighbour search over one model's embeddings: the matrix is loaded once,
/// a query batch is one `BLAS.gemm` (matrix · queriesᵀ), a single query one `BLAS.gemv`,
/// then a partial top-k
/// (a size-k min-heap, O(n log k), no full sort).
public final class GallerySearcher: Sendable {
    public let matrix: EmbeddingMatrix

    /// Loads the matrix of `model` from the index (see `GalleryIndex.loadMatrix`).
    public convenience init(index: GalleryIndex, model: ModelIdentity, kinds: Set<ItemKind> = Set(ItemKind.allCases)) throws {
        self.init(matrix: try index.loadMatrix(model: model, kinds: kinds))
    }

    /// Searches an in-memory matrix (rows must be L2-normalised for cosine scores).
    public init(matrix: EmbeddingMatrix) {
        self.matrix = matrix
    }

    /// Number of searchable items.
    public var count: Int { matrix.count }

    /// The k best items for one query vector (normalised here), optionally of one kind.
    public func search(_ query: [Float], k: Int, kind: ItemKind? = nil) throws -> [SearchHit] {
        try search(batch: [query], k: k, kind: kind)[0]
    }

    /// The k best items for each query; one gemm for the whole batch.
    public func search(batch queries: [[Float]], k: Int, kind: ItemKind? = nil) throws -> [[SearchHit]] {
        let d = matrix.dim, n = matrix.count, q = queries.count
        if q == 0 { return [] }
        var qm = [Float](repeating: 0, count: q * d)
        for (i, v) in queries.enumerated() {
            guard v.count == d else { throw GalleryError.vectorDimension(expected: d, got: v.count, context: "query for model '\(matrix.model.name)'") }
            let nv = try EmbeddingMath.normalized(v, context: "query")
            qm.replaceSubrange(i * d..<(i + 1) * d, with: nv)
        }
        if n == 0 || k <= 0 { return Array(repeating: [], count: q) }
        // scores[n, q] = M[n, d] · Qᵀ[d, q]. One query is a matrix–vector product: sgemv
        // (memory-bound, ~2× faster than a one-column sgemm in OpenBLAS 0.3.21).
        var scores = [Float](repeating: 0, count: n * q)
        matrix.values.withUnsafeBufferPointer { m in
            qm.withUnsafeBufferPointer { qp in
                scores.withUnsafeMutableBufferPointer { s in
                    if q == 1 {
                        BLAS.gemv(.none, m: n, n: d, a: m.baseAddress!, lda: d, x: qp.baseAddress!, y: s.baseAddress!)
                    } else {
                        BLAS.gemm(.none, .transpose, m: n, n: q, k: d, a: m.baseAddress!, lda: d,
                                  b: qp.baseAddress!, ldb: d, c: s.baseAddress!, ldc: q)
                    }
                }
            }
        }
        let kinds = matrix.kinds
        return (0..<q).map { j in
            let top = scores.withUnsafeBufferPointer { s in
                FilteredTopK.select(count: n, k: k, stride: q, offset: j, scores: s.baseAddress!) { i in kind == nil || kinds[i] == kind }
            }
            return top.enumerated().map { r, e in
                SearchHit(rank: r + 1, itemID: matrix.ids[e.index], kind: kinds[e.index], path: matrix.paths[e.index],
                          score: e.score, caption: matrix.captions[e.index], category: matrix.categories[e.index])
            }
        }
    }
}

/// Partial top-k selection with a binary min-heap of size k.
public enum FilteredTopK {
    /// Indices and scores of the k largest `scores[offset + i*stride]` (i < count) that pass
    /// `include`, best first; ties broken by the lower index (deterministic). NaN never wins.
    public static func select(count: Int, k: Int, stride: Int = 1, offset: Int = 0, scores: UnsafePointer<Float>,
                              include: (Int) -> Bool = { _ in true }) -> [(index: Int, score: Float)] {
        guard k > 0 else { return [] }
        // heap[0] is the worst kept element. "a worse than b": lower score, or same score and higher index.
        var heap: [(index: Int, score: Float)] = []
        heap.reserveCapacity(min(k, count))
        @inline(__always) func worse(_ a: (index: Int, score: Float), _ b: (index: Int, score: Float)) -> Bool {
            a.score < b.score || (a.score == b.score && a.index > b.index)
        }
        func siftDown(_ start: Int) {
            var i = start
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < heap.count && worse(heap[l], heap[m]) { m = l }
                if r < heap.count && worse(heap[r], heap[m]) { m = r }
                if m == i { return }
                heap.swapAt(i, m); i = m
            }
        }
        for i in 0..<count {
            let s = scores[offset + i * stride]
            if s.isNaN { continue }
            if heap.count == k {
                // Cheap reject first: most candidates lose to the current worst.
                if s < heap[0].score { continue }
                let e = (index: i, score: s)
                if !worse(heap[0], e) { continue }
                guard include(i) else { continue }
                heap[0] = e
                siftDown(0)
            } else {
                guard include(i) else { continue }
                heap.append((i, s))
                var c = heap.count - 1
                while c > 0 {
                    let p = (c - 1) / 2
                    if worse(heap[c], heap[p]) { heap.swapAt(c, p); c = p } else { break }
                }
            }
        }
        return heap.sorted { worse($1, $0) }
    }
}
