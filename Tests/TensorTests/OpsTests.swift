import XCTest
import TestSupport
@testable import Tensor

/// Kernels against naive Double-precision references.
final class OpsTests: XCTestCase {
    var rng = SystemRandomNumberGenerator()

    func random(_ n: Int, scale: Float = 1) -> [Float] { (0..<n).map { _ in Float.random(in: -scale...scale) } }

    func testGemmAllTransposeCombinationsMatchNaive() throws {
        let m = 7, n = 5, k = 9
        let a = random(m * k), b = random(k * n)
        for ta in [BLAS.Transpose.none, .transpose] {
            for tb in [BLAS.Transpose.none, .transpose] {
                // Store A as [m,k] or its transpose [k,m]; same for B.
                let aStore = ta == .none ? a : transpose(a, rows: m, cols: k)
                let bStore = tb == .none ? b : transpose(b, rows: k, cols: n)
                var c = [Float](repeating: 0, count: m * n)
                aStore.withUnsafeBufferPointer { ap in bStore.withUnsafeBufferPointer { bp in c.withUnsafeMutableBufferPointer { cp in
                    BLAS.gemm(ta, tb, m: m, n: n, k: k, a: ap.baseAddress!, lda: ta == .none ? k : m,
                              b: bp.baseAddress!, ldb: tb == .none ? n : k, c: cp.baseAddress!, ldc: n)
                }}}
                for i in 0..<m { for j in 0..<n {
                    var s = 0.0
                    for p in 0..<k { s += Double(a[i * k + p]) * Double(b[p * n + j]) }
                    XCTAssertEqual(Double(c[i * n + j]), s, accuracy: 1e-4, "\(ta) \(tb) [\(i),\(j)]")
                }}
            }
        }
    }

    func transpose(_ x: [Float], rows: Int, cols: Int) -> [Float] {
        var out = [Float](repeating: 0, count: x.count)
        for r in 0..<rows { for c in 0..<cols { out[c * rows + r] = x[r * cols + c] } }
        return out
    }

    func testLinearUsesWeightInPlaceWithBias() throws {
        let x = try Tensor(random(4 * 3), shape: [4, 3])
        let w = try Tensor(random(2 * 3), shape: [2, 3])
        let b = try Tensor([0.5, -1], shape: [2])
        let y = try x.linear(weight: w, bias: b)
        XCTAssertEqual(y.shape, [4, 2])
        for r in 0..<4 { for o in 0..<2 {
            var s = Double(b[flat: o])
            for i in 0..<3 { s += Double(x[flat: r * 3 + i]) * Double(w[flat: o * 3 + i]) }
            XCTAssertEqual(Double(y[flat: r * 2 + o]), s, accuracy: 1e-5)
        }}
        XCTAssertThrowsError(try x.linear(weight: try Tensor(random(6), shape: [3, 2]), bias: nil))
    }

    func testLayerNormMatchesDefinition() {
        let dim = 33, rows = 3000   // large enough to take the parallel path
        var x = random(rows * dim, scale: 4)
        let original = x
        let gamma = random(dim), beta = random(dim)
        x.withUnsafeMutableBufferPointer { xp in
            Ops.layerNorm(xp.baseAddress!, rows: rows, dim: dim, gamma: gamma, beta: beta, eps: 1e-5)
        }
        for r in stride(from: 0, to: rows, by: 397) {
            let row = original[(r * dim)..<((r + 1) * dim)].map(Double.init)
            let mean = row.reduce(0, +) / Double(dim)
            let v = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(dim)
            for i in 0..<dim {
                let ref = (row[i] - mean) / (v + 1e-5).squareRoot() * Double(gamma[i]) + Double(beta[i])
                XCTAssertEqual(Double(x[r * dim + i]), ref, accuracy: 1e-4)
            }
        }
    }

    func testSoftmaxIsStableAndNormalised() {
        var x: [Float] = [1000, 1001, 1002, -Float.infinity, -Float.infinity, -Float.infinity]
        x.withUnsafeMutableBufferPointer { Ops.softmax($0.baseAddress!, rows: 2, dim: 3) }
        let e = [exp(-2.0), exp(-1.0), 1.0], s = e.reduce(0, +)
        for i in 0..<3 { XCTAssertEqual(Double(x[i]), e[i] / s, accuracy: 1e-6) }
        XCTAssertEqual(Array(x[3...]), [0, 0, 0], "a fully masked row attends nowhere instead of NaN")
    }

    func testActivations() {
        let values: [Float] = [-6, -1.5, -0.1, 0, 0.3, 2, 8]
        var q = values, g = values
        q.withUnsafeMutableBufferPointer { Ops.quickGELU($0.baseAddress!, count: $0.count) }
        g.withUnsafeMutableBufferPointer { Ops.gelu($0.baseAddress!, count: $0.count) }
        for (i, v) in values.map(Double.init).enumerated() {
            XCTAssertEqual(Double(q[i]), v / (1 + exp(-1.702 * v)), accuracy: 1e-6)
            XCTAssertEqual(Double(g[i]), 0.5 * v * (1 + erf(v / 2.0.squareRoot())), accuracy: 1e-6)
        }
    }

    func testL2Normalize() throws {
        let t = try Tensor([3, 4, 0, 0], shape: [2, 2]).l2Normalized()
        XCTAssertEqual(t.array, [0.6, 0.8, 0, 0])
    }

    /// Attention with causal and padding masks against a naive per-head loop.
    func testAttentionMasksMatchNaive() {
        let batch = 2, seq = 5, heads = 2, hd = 3, w = heads * hd
        let qkv = random(batch * seq * 3 * w)
        for (causal, lengths) in [(true, nil), (false, [5, 3]), (true, [4, 2])] as [(Bool, [Int]?)] {
            var out = [Float](repeating: 0, count: batch * seq * w)
            qkv.withUnsafeBufferPointer { p in out.withUnsafeMutableBufferPointer { o in
                let b = p.baseAddress!
                Ops.attention(q: b, ldq: 3 * w, k: b + w, ldk: 3 * w, v: b + 2 * w, ldv: 3 * w, out: o.baseAddress!, ldo: w,
                              batch: batch, seq: seq, heads: heads, headDim: hd, causal: causal, keyLengths: lengths)
            }}
            for bi in 0..<batch { for h in 0..<heads { for i in 0..<seq {
                let valid = lengths?[bi] ?? seq
                var scores: [Double] = []
                var keys: [Int] = []
                for j in 0..<seq where j < valid && (!causal || j <= i) {
                    var s = 0.0
                    for d in 0..<hd {
                        s += Double(qkv[(bi * seq + i) * 3 * w + h * hd + d]) * Double(qkv[(bi * seq + j) * 3 * w + w + h * hd + d])
                    }
                    scores.append(s / Double(hd).squareRoot()); keys.append(j)
                }
                let mx = scores.max()!
                let e = scores.map { exp($0 - mx) }, z = e.reduce(0, +)
                for d in 0..<hd {
                    var ref = 0.0
                    for (n, j) in keys.enumerated() { ref += e[n] / z * Double(qkv[(bi * seq + j) * 3 * w + 2 * w + h * hd + d]) }
                    XCTAssertEqual(Double(out[(bi * seq + i) * w + h * hd + d]), ref, accuracy: 1e-5, "causal \(causal) lengths \(String(describing: lengths))")
                }
            }}}
        }
    }

    func testCopyOnWriteKeepsValueSemantics() throws {
        let a = try Tensor([1, 2, 3], shape: [3])
        var b = a
        b[flat: 0] = 42
        XCTAssertEqual(a.array, [1, 2, 3])
        XCTAssertEqual(b.array, [42, 2, 3])
        XCTAssertThrowsError(try a.reshaped([2, 2]))
        XCTAssertEqual(try a.reshaped([-1, 1]).shape, [3, 1])
    }

    func testKernelChoiceFromFlags() {
        XCTAssertEqual(OpenBLASKernel.preferredCoreType(flags: ["avx512f", "avx512bw", "avx512vl", "avx2", "fma"]), "SkylakeX")
        XCTAssertEqual(OpenBLASKernel.preferredCoreType(flags: ["avx2", "fma"]), "Haswell")
        XCTAssertEqual(OpenBLASKernel.preferredCoreType(flags: ["avx512f", "avx2"]), nil, "no FMA, no AVX512BW: let OpenBLAS decide")
        XCTAssertNil(OpenBLASKernel.preferredCoreType(flags: ["sse3"]))
        let flags = OpenBLASKernel.cpuFlags(cpuinfo: "processor : 0\nflags\t\t: fpu sse avx2 fma\n")
        XCTAssertEqual(flags, ["fpu", "sse", "avx2", "fma"])
    }
}
