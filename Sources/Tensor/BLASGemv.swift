import CBLAS
import Foundation

extension BLAS {
    /// y[m] = alpha · op(A) · x + beta · y for a row-major A [m×n] (lda ≥ n).
    ///
    /// Why not gemm with n = 1: OpenBLAS 0.3.21's sgemm does not forward a one-column
    /// product to its gemv kernel, and on a 100k × 512 gallery matrix that measured ~2×
    /// slower than sgemv (37 ms vs 17 ms, memory-bound). Use this only for a true
    /// matrix–vector product (one query); batches still go through `gemm`.
    @inline(__always)
    public static func gemv(
        _ transA: Transpose, m: Int, n: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int,
        x: UnsafePointer<Float>, beta: Float = 0,
        y: UnsafeMutablePointer<Float>
    ) {
        if m == 0 || n == 0 { return }
        _ = singleThreadedOpenBLAS
        // Memory-bound: halves of a tall matrix on two threads read twice the bandwidth.
        let workers = transA == .none ? blocks(along: m, work: m * n) : 1
        if workers < 2 {
            cblas_sgemv(CblasRowMajor, transA == .none ? CblasNoTrans : CblasTrans,
                        blasint(m), blasint(n), alpha, a, blasint(lda), x, 1, beta, y, 1)
            return
        }
        let block = (m + workers - 1) / workers
        let shared = UncheckedSendable((a, x, y))
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            let (a, x, y) = shared.value
            let r0 = w * block, rows = min(block, m - r0)
            guard rows > 0 else { return }
            cblas_sgemv(CblasRowMajor, CblasNoTrans, blasint(rows), blasint(n), alpha, a + r0 * lda, blasint(lda), x, 1, beta, y + r0, 1)
        }
    }
}
