import Foundation
import XCTest
@testable import Tensor

/// `BLAS.gemm`/`gemv` split large products into row or column blocks on dialclip's own
/// threads (OpenBLAS runs single-threaded). Every transpose combination and strided leading
/// dimension must give the same product as a plain triple loop.
final class BLASSplitTests: XCTestCase {
    private func random(_ n: Int, seed: UInt64) -> [Float] {
        var g = SeededGenerator(seed: seed)
        return (0..<n).map { _ in Float(Int(g.next() % 2001) - 1000) / 1000 }
    }

    private func check(m: Int, n: Int, k: Int, transA: BLAS.Transpose, transB: BLAS.Transpose, file: StaticString = #filePath, line: UInt = #line) {
        // Stored shapes with padding columns, so leading dimensions differ from widths.
        let (aRows, aCols) = transA == .none ? (m, k) : (k, m)
        let (bRows, bCols) = transB == .none ? (k, n) : (n, k)
        let lda = aCols + 3, ldb = bCols + 5, ldc = n + 7
        let a = random(aRows * lda, seed: 1), b = random(bRows * ldb, seed: 2)
        var c = random(m * ldc, seed: 3)
        let c0 = c
        a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in c.withUnsafeMutableBufferPointer { cp in
            BLAS.gemm(transA, transB, m: m, n: n, k: k, alpha: 0.5, a: ap.baseAddress!, lda: lda,
                      b: bp.baseAddress!, ldb: ldb, beta: 2, c: cp.baseAddress!, ldc: ldc)
        } } }
        var worst: Float = 0
        for i in 0..<m {
            for j in 0..<n {
                var s: Double = 0
                for p in 0..<k {
                    let av = transA == .none ? a[i * lda + p] : a[p * lda + i]
                    let bv = transB == .none ? b[p * ldb + j] : b[j * ldb + p]
                    s += Double(av) * Double(bv)
                }
                let expected = Float(0.5 * s + 2 * Double(c0[i * ldc + j]))
                worst = max(worst, abs(c[i * ldc + j] - expected) / max(1, abs(expected)))
            }
            // Padding columns of C are never written.
            for j in n..<ldc { XCTAssertEqual(c[i * ldc + j], c0[i * ldc + j], file: file, line: line) }
        }
        XCTAssertLessThan(worst, 1e-4, "m \(m) n \(n) k \(k) \(transA) \(transB)", file: file, line: line)
    }

    func testRowAndColumnSplitsMatchTheNaiveProduct() {
        let saved = Parallelism.elementwiseThreads
        Parallelism.setThreads(3)   // an odd count: uneven blocks
        defer { Parallelism.setThreads(saved) }
        XCTAssertGreaterThan(BLAS.blocks(along: 200, work: 200 * 130 * 96), 1, "row split exercised")
        XCTAssertEqual(BLAS.blocks(along: 40, work: 1 << 24), 1, "few rows: no row split")
        for ta in [BLAS.Transpose.none, .transpose] {
            for tb in [BLAS.Transpose.none, .transpose] {
                check(m: 200, n: 130, k: 96, transA: ta, transB: tb)     // row blocks
                check(m: 20, n: 1000, k: 420, transA: ta, transB: tb)    // column blocks (work ≥ 2^23)
                check(m: 5, n: 7, k: 3, transA: ta, transB: tb)          // no split
            }
        }
    }

    func testSplitGemvMatchesTheNaiveProduct() {
        let saved = Parallelism.elementwiseThreads
        Parallelism.setThreads(2)
        defer { Parallelism.setThreads(saved) }
        let m = 5000, n = 512, lda = 515
        let a = random(m * lda, seed: 4), x = random(n, seed: 5)
        var y = random(m, seed: 6)
        let y0 = y
        a.withUnsafeBufferPointer { ap in x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { yp in
            BLAS.gemv(.none, m: m, n: n, alpha: 1, a: ap.baseAddress!, lda: lda, x: xp.baseAddress!, beta: 1, y: yp.baseAddress!)
        } } }
        for i in stride(from: 0, to: m, by: 7) {
            var s: Double = Double(y0[i])
            for j in 0..<n { s += Double(a[i * lda + j]) * Double(x[j]) }
            XCTAssertEqual(Double(y[i]), s, accuracy: 1e-3 * max(1, abs(s)))
        }
    }
}
