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
        cblas_sgemm(
            CblasRowMajor,
            transA == .none ? CblasNoTrans : CblasTrans,
            transB == .none ? CblasNoTrans : CblasTrans,
            blasint(m), blasint(n), blasint(k),
            alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }

    /// Number of threads OpenBLAS uses for large products.
    public static var threads: Int {
        get { Int(openblas_get_num_threads()) }
    }

    /// Sets the OpenBLAS thread count (default: the number of cores).
    public static func setThreads(_ n: Int) {
        openblas_set_num_threads(Int32(max(1, n)))
    }

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
