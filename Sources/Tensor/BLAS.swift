import CBLAS
import Foundation

/// Thin, typed access to OpenBLAS. Every matrix product in dialclip goes through
/// `BLAS.gemm`, on whole token blocks (`[tokens, in] × [in, out]`), never per token.
public enum BLAS {
    /// Whether an operand is used as stored or transposed.
    public enum Transpose: Sendable { case none, transpose }

    /// C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C, all row-major with explicit
    /// leading dimensions so strided sub-matrices (one attention head inside a packed
    /// QKV block) are used in place.
    @inline(__always)
    public static func gemm(
        _ transA: Transpose, _ transB: Transpose,
        m: Int, n: Int, k: Int,
        alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if m == 0 || n == 0 { return }
        _ = singleThreadedOpenBLAS
        let work = m * n * max(k, 1)
        let rowWorkers = blocks(along: m, work: work)
        let shared = UncheckedSendable((a, b, c))
        if rowWorkers >= 2 {
            // Row blocks of C on our own threads, one single-threaded sgemm each: op(A)'s
            // row r starts at a + r·lda (stored as is) or a + r (stored transposed).
            let block = (m + rowWorkers - 1) / rowWorkers
            DispatchQueue.concurrentPerform(iterations: rowWorkers) { w in
                let (a, b, c) = shared.value
                let r0 = w * block, rows = min(block, m - r0)
                guard rows > 0 else { return }
                sgemm(transA, transB, m: rows, n: n, k: k, alpha: alpha,
                      a: transA == .none ? a + r0 * lda : a + r0, lda: lda, b: b, ldb: ldb,
                      beta: beta, c: c + r0 * ldc, ldc: ldc)
            }
            return
        }
        // Column blocks pay for packing op(A) twice; only worth it for wide products.
        let columnWorkers = work >= 1 << 23 ? blocks(along: n, work: work) : 1
        if columnWorkers >= 2 {
            // Few rows (batch 1) but wide weights: column blocks instead; op(B)'s column j
            // starts at b + j (stored as is) or b + j·ldb (stored transposed).
            let block = ((n + columnWorkers - 1) / columnWorkers + 15) / 16 * 16
            DispatchQueue.concurrentPerform(iterations: columnWorkers) { w in
                let (a, b, c) = shared.value
                let c0 = w * block, cols = min(block, n - c0)
                guard cols > 0 else { return }
                sgemm(transA, transB, m: m, n: cols, k: k, alpha: alpha, a: a, lda: lda,
                      b: transB == .none ? b + c0 : b + c0 * ldb, ldb: ldb,
                      beta: beta, c: c + c0, ldc: ldc)
            }
            return
        }
        sgemm(transA, transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
    }

    @inline(__always)
    static func sgemm(_ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int, alpha: Float,
                      a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                      beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        cblas_sgemm(
            CblasRowMajor,
            transA == .none ? CblasNoTrans : CblasTrans,
            transB == .none ? CblasNoTrans : CblasTrans,
            blasint(m), blasint(n), blasint(k),
            alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }

    /// OpenBLAS runs single-threaded; dialclip splits large products into row blocks on
    /// its own threads instead. OpenBLAS's idle workers busy-wait (`sched_yield`) after
    /// every call and then fought our element-wise and attention threads for the same two
    /// cores: MiniLM batch 1 fell to 2–3 sentences/s on a loaded machine (12–14 with the
    /// workers sleeping at once), and ~20 % of a reply eval's CPU time went to the kernel.
    static let singleThreadedOpenBLAS: Void = { openblas_set_num_threads(1) }()

    /// How many blocks a product of `work` multiply-adds is split into along a dimension of
    /// `extent` (rows first, else columns): one per thread, but only when each block stays
    /// big enough to run at full speed (attention heads and other small products stay on
    /// the calling thread).
    static func blocks(along extent: Int, work: Int) -> Int {
        let threads = Parallelism.elementwiseThreads
        guard threads > 1, work >= 1 << 21, extent >= 64 else { return 1 }
        return min(threads, extent / 32)
    }

    /// Threads large products are split over (`Parallelism`; OpenBLAS itself runs one).
    public static var threads: Int { Parallelism.elementwiseThreads }

    /// The kernel family OpenBLAS chose at load time (e.g. "Haswell", "SkylakeX", "Prescott").
    public static var coreName: String {
        guard let p = openblas_get_corename() else { return "unknown" }
        return String(cString: p)
    }

    /// OpenBLAS build configuration string.
    public static var config: String {
        guard let p = openblas_get_config() else { return "unknown" }
        return String(cString: p)
    }
}

extension Tensor {
    /// `x · Wᵀ + b` for a PyTorch-style linear layer: x [..., in], weight [out, in],
    /// bias [out]. The weight is used in place through `CblasTrans` (no transposed copy).
    public func linear(weight: Tensor, bias: Tensor?) throws -> Tensor {
        guard weight.rank == 2, let inDim = shape.last, weight.shape[1] == inDim else {
            throw TensorError.shapeMismatch("linear: input \(shape) vs weight \(weight.shape)")
        }
        let outDim = weight.shape[0]
        let rows = count / max(inDim, 1)
        var out = Tensor(zeros: Array(shape.dropLast()) + [outDim])
        let o = out.mutablePointer
        if let bias {
            guard bias.count == outDim else {
                throw TensorError.shapeMismatch("linear: bias \(bias.shape) for \(outDim) outputs")
            }
            for r in 0..<rows { (o + r * outDim).update(from: bias.pointer, count: outDim) }
        }
        BLAS.gemm(.none, .transpose, m: rows, n: outDim, k: inDim,
                  a: pointer, lda: inDim, b: weight.pointer, ldb: inDim,
                  beta: bias == nil ? 0 : 1, c: o, ldc: outDim)
        return out
    }

    /// `x · P` for a projection stored as [in, out] (OpenAI layout `visual.proj`).
    public func matmul(_ other: Tensor) throws -> Tensor {
        guard other.rank == 2, let inDim = shape.last, other.shape[0] == inDim else {
            throw TensorError.shapeMismatch("matmul: \(shape) × \(other.shape)")
        }
        let outDim = other.shape[1]
        let rows = count / max(inDim, 1)
        var out = Tensor(zeros: Array(shape.dropLast()) + [outDim])
        BLAS.gemm(.none, .none, m: rows, n: outDim, k: inDim,
                  a: pointer, lda: inDim, b: other.pointer, ldb: outDim,
                  c: out.mutablePointer, ldc: outDim)
        return out
    }

    /// `A · Bᵀ` for two row-major matrices [m, k] and [n, k] (similarity matrices).
    public func matmulTransposed(_ other: Tensor) throws -> Tensor {
        guard rank == 2, other.rank == 2, shape[1] == other.shape[1] else {
            throw TensorError.shapeMismatch("matmulTransposed: \(shape) × \(other.shape)ᵀ")
        }
        var out = Tensor(zeros: [shape[0], other.shape[0]])
        BLAS.gemm(.none, .transpose, m: shape[0], n: other.shape[0], k: shape[1],
                  a: pointer, lda: shape[1], b: other.pointer, ldb: shape[1],
                  c: out.mutablePointer, ldc: other.shape[0])
        return out
    }
}
