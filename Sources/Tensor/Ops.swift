import Foundation

/// Element-wise and row-wise kernels used by the transformers. Each works on contiguous
/// rows; large inputs are split over cores with `concurrentPerform` (the BLAS products
/// run outside these loops, so the two never oversubscribe the cores).
public enum Ops {
    /// Rows below this many elements in total are processed on the calling thread.
    static let parallelThreshold = 1 << 15

    /// Runs `body(rowRange)` over `rows`, in parallel chunks when the work is large.
    @inline(__always)
    public static func forEachRowChunk(rows: Int, rowSize: Int, _ body: (Range<Int>) -> Void) {
        let total = rows * rowSize
        let workers = Parallelism.elementwiseThreads
        if total < parallelThreshold || rows < 2 || workers < 2 {
            body(0..<rows)
            return
        }
        let chunks = min(workers, rows)
        let per = (rows + chunks - 1) / chunks
        // The chunks touch disjoint rows, so sharing the (pointer-capturing) body is safe.
        withoutActuallyEscaping(body) { escapable in
            let shared = UncheckedSendable(escapable)
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                let lo = c * per, hi = min(rows, lo + per)
                if lo < hi { shared.value(lo..<hi) }
            }
        }
    }

    /// LayerNorm over the last dimension, in place: y = (x − mean)/√(var + eps)·γ + β.
    public static func layerNorm(_ x: UnsafeMutablePointer<Float>, rows: Int, dim: Int,
                                 gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float) {
        forEachRowChunk(rows: rows, rowSize: dim) { range in
            for r in range {
                let row = x + r * dim
                let mean = VectorMath.sum(row, count: dim) / Float(dim)
                let variance = VectorMath.sumOfSquaredDeviations(row, count: dim, from: mean) / Float(dim)
                let inv = 1 / (variance + eps).squareRoot()
                var i = 0
                let m = VectorMath.V(repeating: mean), s = VectorMath.V(repeating: inv)
                while i + 16 <= dim {
                    let v = (VectorMath.load(row + i) - m) * s * VectorMath.load(gamma + i) + VectorMath.load(beta + i)
                    VectorMath.store(v, row + i)
                    i += 16
                }
                while i < dim { row[i] = (row[i] - mean) * inv * gamma[i] + beta[i]; i += 1 }
            }
        }
    }

    /// Numerically stable softmax over each row of length `dim`, in place.
    public static func softmax(_ x: UnsafeMutablePointer<Float>, rows: Int, dim: Int) {
        forEachRowChunk(rows: rows, rowSize: dim) { range in
            for r in range { softmaxRow(x + r * dim, dim) }
        }
    }

    @inline(__always)
    static func softmaxRow(_ row: UnsafeMutablePointer<Float>, _ n: Int) {
        let m = VectorMath.maximum(row, count: n)
        if m == -Float.infinity {  // fully masked row: attend nowhere rather than NaN
            row.update(repeating: 0, count: n)
            return
        }
        VectorMath.map(row, count: n) { VectorMath.exp($0 - m) }
        VectorMath.scale(row, count: n, by: 1 / VectorMath.sum(row, count: n))
    }

    /// quick-GELU `x·σ(1.702x)` (OpenAI CLIP), in place.
    public static func quickGELU(_ x: UnsafeMutablePointer<Float>, count: Int) {
        forEachRowChunk(rows: count / 1024 + (count % 1024 == 0 ? 0 : 1), rowSize: 1024) { range in
            let lo = range.lowerBound * 1024, hi = min(count, range.upperBound * 1024)
            VectorMath.map(x + lo, count: hi - lo) { v in v / (1 + VectorMath.exp(-1.702 * v)) }
        }
    }

    /// Exact GELU `0.5·x·(1 + erf(x/√2))` (BERT), in place.
    public static func gelu(_ x: UnsafeMutablePointer<Float>, count: Int) {
        forEachRowChunk(rows: count / 1024 + (count % 1024 == 0 ? 0 : 1), rowSize: 1024) { range in
            let lo = range.lowerBound * 1024, hi = min(count, range.upperBound * 1024)
            VectorMath.map(x + lo, count: hi - lo) { v in 0.5 * v * (1 + VectorMath.erf(v * 0.70710678118654752)) }
        }
    }

    /// Scales each row to unit L2 norm, in place (zero rows stay zero).
    public static func l2Normalize(_ x: UnsafeMutablePointer<Float>, rows: Int, dim: Int) {
        for r in 0..<rows {
            let row = x + r * dim
            var s: Float = 0
            for i in 0..<dim { s += row[i] * row[i] }
            let n = s.squareRoot()
            if n > 0 { let inv = 1 / n; for i in 0..<dim { row[i] *= inv } }
        }
    }

    /// y += x, element-wise.
    public static func addInPlace(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count: Int) {
        for i in 0..<count { y[i] += x[i] }
    }

    /// Adds `bias` (length `dim`) to every row.
    public static func addRowVector(_ x: UnsafeMutablePointer<Float>, rows: Int, dim: Int, _ bias: UnsafePointer<Float>) {
        for r in 0..<rows { let row = x + r * dim; for i in 0..<dim { row[i] += bias[i] } }
    }

    /// Multi-head scaled dot-product attention over `batch` sequences of `seq` tokens.
    ///
    /// q, k, v are row-major `[batch·seq, ·]` blocks read with leading dimensions
    /// `ldq/ldk/ldv`, so a packed QKV projection (`[tokens, 3W]`) is used in place; head h
    /// reads features `h·headDim ..< (h+1)·headDim`. The output `[batch·seq, heads·headDim]`
    /// is written with leading dimension `ldo`.
    ///
    /// Masks: `causal` forbids attending to later positions (CLIP text); `keyLengths[b]`
    /// (when given) hides key positions ≥ that length (BERT padding).
    public static func attention(
        q: UnsafePointer<Float>, ldq: Int,
        k: UnsafePointer<Float>, ldk: Int,
        v: UnsafePointer<Float>, ldv: Int,
        out: UnsafeMutablePointer<Float>, ldo: Int,
        batch: Int, seq: Int, heads: Int, headDim: Int,
        causal: Bool, keyLengths: [Int]? = nil
    ) {
        let scale = 1 / Float(headDim).squareRoot()
        let pairs = batch * heads
        // One (sequence, head) pair: two small products and a masked softmax.
        let body = { (pair: Int, scores: UnsafeMutablePointer<Float>) in
            let b = pair / heads, h = pair % heads
            let validKeys = keyLengths.map { min(max($0[b], 0), seq) } ?? seq
            let qb = q + b * seq * ldq + h * headDim
            let kb = k + b * seq * ldk + h * headDim
            let vb = v + b * seq * ldv + h * headDim
            // scores[seq, seq] = scale · Q_bh · K_bhᵀ
            BLAS.gemm(.none, .transpose, m: seq, n: seq, k: headDim, alpha: scale,
                      a: qb, lda: ldq, b: kb, ldb: ldk, c: scores, ldc: seq)
            for i in 0..<seq {
                let row = scores + i * seq
                let limit = causal ? min(i + 1, validKeys) : validKeys
                if limit < seq { (row + limit).update(repeating: -Float.infinity, count: seq - limit) }
                softmaxRow(row, seq)
            }
            // out_bh[seq, headDim] = P · V_bh
            BLAS.gemm(.none, .none, m: seq, n: headDim, k: seq,
                      a: scores, lda: seq, b: vb, ldb: ldv,
                      c: out + b * seq * ldo + h * headDim, ldc: ldo)
        }
        let workers = min(Parallelism.elementwiseThreads, pairs)
        if workers < 2 {
            let scores = UnsafeMutablePointer<Float>.allocate(capacity: seq * seq)
            defer { scores.deallocate() }
            for pair in 0..<pairs { body(pair, scores) }
            return
        }
        // The per-head products are small: run them side by side (each stays on its
        // thread, see `BLAS.blocks(along:work:)`; pairs write disjoint output columns, never racing).
        withoutActuallyEscaping(body) { escapable in
            let shared = UncheckedSendable(escapable)
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                let scores = UnsafeMutablePointer<Float>.allocate(capacity: seq * seq)
                defer { scores.deallocate() }
                var pair = w
                while pair < pairs { shared.value(pair, scores); pair += workers }
            }
        }
    }
}

/// Wraps a value the caller guarantees is used race-free across threads (disjoint
/// rows of one buffer), for handing pointer-capturing closures to `concurrentPerform`.
public struct UncheckedSendable<Value>: @unchecked Sendable {
    public let value: Value
    public init(_ value: Value) { self.value = value }
}

/// How many threads element-wise kernels and split matrix products use (defaults to the
/// core count; OpenBLAS itself stays single-threaded, so the pools never oversubscribe).
public enum Parallelism {
    nonisolated(unsafe) private static var _threads = ProcessInfo.processInfo.activeProcessorCount
    private static let lock = NSLock()

    public static var elementwiseThreads: Int {
        lock.lock(); defer { lock.unlock() }
        return _threads
    }

    /// Sets the thread count of element-wise kernels and of split matrix products.
    public static func setThreads(_ n: Int) {
        lock.lock(); _threads = max(1, n); lock.unlock()
    }
}

extension Tensor {
    /// A copy with each row (last dimension) scaled to unit L2 norm.
    public func l2Normalized() -> Tensor {
        var out = self
        let dim = shape.last ?? 1
        Ops.l2Normalize(out.mutablePointer, rows: count / max(dim, 1), dim: dim)
        return out
    }
}
