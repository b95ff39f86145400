import Foundation
import Models
import Tensor
@testable import Training

// A deliberately naive Double-precision reference of every op (plain loops, no BLAS, no
// shared code with the product), used for forward agreement and central finite differences.

/// Named flat Double arrays: parameters by their checkpoint names plus inputs ("x", "prompts", …).
typealias Values = [String: [Double]]

/// Row-major matrix.
struct Mat {
    var rows: Int, cols: Int
    var v: [Double]
    init(_ rows: Int, _ cols: Int) { self.rows = rows; self.cols = cols; v = [Double](repeating: 0, count: rows * cols) }
    init(_ rows: Int, _ cols: Int, _ v: [Double]) { precondition(v.count == rows * cols); self.rows = rows; self.cols = cols; self.v = v }
    subscript(r: Int, c: Int) -> Double {
        get { v[r * cols + c] }
        set { v[r * cols + c] = newValue }
    }
}

enum Naive {
    static func linear(_ x: Mat, _ w: [Double], _ b: [Double]?, out: Int) -> Mat {
        var y = Mat(x.rows, out)
        for r in 0..<x.rows { for o in 0..<out {
            var s = b?[o] ?? 0
            for i in 0..<x.cols { s += x[r, i] * w[o * x.cols + i] }
            y[r, o] = s
        } }
        return y
    }

    static func layerNorm(_ x: Mat, _ g: [Double], _ b: [Double], eps: Double) -> Mat {
        var y = Mat(x.rows, x.cols)
        for r in 0..<x.rows {
            var mean = 0.0
            for i in 0..<x.cols { mean += x[r, i] }
            mean /= Double(x.cols)
            var v = 0.0
            for i in 0..<x.cols { v += (x[r, i] - mean) * (x[r, i] - mean) }
            v /= Double(x.cols)
            for i in 0..<x.cols { y[r, i] = (x[r, i] - mean) / (v + eps).squareRoot() * g[i] + b[i] }
        }
        return y
    }

    static func quickGELU(_ x: Double) -> Double { x / (1 + exp(-1.702 * x)) }
    static func gelu(_ x: Double) -> Double { 0.5 * x * (1 + erf(x / 2.0.squareRoot())) }
    static func activation(_ kind: Activation) -> (Double) -> Double {
        switch kind {
        case .gelu: return { gelu($0) }
        case .quickGELU: return { quickGELU($0) }
        }
    }
    static func map(_ x: Mat, _ f: (Double) -> Double) -> Mat { Mat(x.rows, x.cols, x.v.map(f)) }
    static func add(_ a: Mat, _ b: Mat) -> Mat { Mat(a.rows, a.cols, zip(a.v, b.v).map(+)) }

    /// qkv [T, 3W] → out [T, W]: per sequence and head, softmax over the allowed keys.
    static func attention(_ qkv: Mat, batch: Int, seq: Int, heads: Int, causal: Bool, keyLengths: [Int]?) -> Mat {
        let w = qkv.cols / 3, hd = w / heads
        var out = Mat(batch * seq, w)
        for b in 0..<batch { for h in 0..<heads { for i in 0..<seq {
            let valid = keyLengths.map { min($0[b], seq) } ?? seq
            let limit = causal ? min(i + 1, valid) : valid
            if limit == 0 { continue }
            var scores = [Double](repeating: 0, count: limit)
            for j in 0..<limit {
                var s = 0.0
                for d in 0..<hd { s += qkv[b * seq + i, h * hd + d] * qkv[b * seq + j, w + h * hd + d] }
                scores[j] = s / Double(hd).squareRoot()
            }
            let mx = scores.max()!
            let e = scores.map { exp($0 - mx) }
            let z = e.reduce(0, +)
            for d in 0..<hd {
                var s = 0.0
                for j in 0..<limit { s += e[j] / z * qkv[b * seq + j, 2 * w + h * hd + d] }
                out[b * seq + i, h * hd + d] = s
            }
        } } }
        return out
    }

    static func block(_ x: Mat, _ p: Values, _ n: String, heads: Int, act: (Double) -> Double, post: Bool,
                      batch: Int, seq: Int, causal: Bool, keyLengths: [Int]?, eps: Double = 1e-5) -> Mat {
        let w = x.cols
        func attn(_ a: Mat) -> Mat {
            let qkv = linear(a, p[n + ".attn.qkv.weight"]!, p[n + ".attn.qkv.bias"]!, out: 3 * w)
            let o = attention(qkv, batch: batch, seq: seq, heads: heads, causal: causal, keyLengths: keyLengths)
            return linear(o, p[n + ".attn.out.weight"]!, p[n + ".attn.out.bias"]!, out: w)
        }
        func mlp(_ a: Mat) -> Mat {
            let hidden = p[n + ".mlp.fc.bias"]!.count
            let h = map(linear(a, p[n + ".mlp.fc.weight"]!, p[n + ".mlp.fc.bias"]!, out: hidden), act)
            return linear(h, p[n + ".mlp.proj.weight"]!, p[n + ".mlp.proj.bias"]!, out: w)
        }
        func ln(_ a: Mat, _ k: String) -> Mat { layerNorm(a, p[n + "." + k + ".weight"]!, p[n + "." + k + ".bias"]!, eps: eps) }
        if post {
            let h = ln(add(x, attn(x)), "ln1")
            return ln(add(h, mlp(h)), "ln2")
        }
        let h = add(x, attn(ln(x, "ln1")))
        return add(h, mlp(ln(h, "ln2")))
    }

    static func l2Normalize(_ x: Mat) -> Mat {
        var y = x
        for r in 0..<x.rows {
            var s = 0.0
            for i in 0..<x.cols { s += x[r, i] * x[r, i] }
            for i in 0..<x.cols { y[r, i] = x[r, i] / s.squareRoot() }
        }
        return y
    }

    static func meanPool(_ x: Mat, batch: Int, seq: Int, lengths: [Int]?) -> Mat {
        var y = Mat(batch, x.cols)
        for b in 0..<batch {
            let n = lengths?[b] ?? seq
            for t in 0..<n { for i in 0..<x.cols { y[b, i] += x[b * seq + t, i] / Double(n) } }
        }
        return y
    }

    /// The documented InfoNCE formula, written out with loops.
    static func infoNCE(a: Mat, b: Mat, t: Double, maxScale: Double, positives: [Bool], weights: [Double]?) -> Double {
        let n = a.rows, m = b.rows
        let s = min(exp(t), maxScale)
        var u = [Double](repeating: 0, count: n * m)
        for i in 0..<n { for j in 0..<m {
            var d = 0.0
            for k in 0..<a.cols { d += a[i, k] * b[j, k] }
            u[i * m + j] = s * d + log(weights?[i * m + j] ?? 1)
        } }
        var rowLoss = 0.0
        for i in 0..<n {
            let lse = log((0..<m).map { exp(u[i * m + $0]) }.reduce(0, +))
            let ps = (0..<m).filter { positives[i * m + $0] }
            rowLoss += lse - ps.map { u[i * m + $0] }.reduce(0, +) / Double(ps.count)
        }
        var colLoss = 0.0, cols = 0
        for j in 0..<m {
            let ps = (0..<n).filter { positives[$0 * m + j] }
            if ps.isEmpty { continue }
            cols += 1
            let lse = log((0..<n).map { exp(u[$0 * m + j]) }.reduce(0, +))
            colLoss += lse - ps.map { u[$0 * m + j] }.reduce(0, +) / Double(ps.count)
        }
        return 0.5 * (rowLoss / Double(n) + colLoss / Double(cols))
    }
}

// MARK: - Gradient checking

/// Worst relative error of one gradient check, and where.
struct GradCheckResult: CustomStringConvertible {
    var worst: Double = 0
    var worstName = ""
    var forwardError: Double = 0
    /// Names whose numeric gradient was all (near) zero — a vacuous check.
    var vacuous: [String] = []
    var description: String { "worst gradient error \(worst) at '\(worstName)', forward error \(forwardError), vacuous: \(vacuous)" }

    mutating func record(_ name: String, analytic: [Float], numeric: [Double]) {
        precondition(analytic.count == numeric.count, "\(name): \(analytic.count) vs \(numeric.count)")
        let scale = numeric.map(abs).max() ?? 0
        if scale < 1e-6 { vacuous.append(name) }
        let err = zip(analytic, numeric).map { abs(Double($0) - $1) }.max() ?? 0
        let rel = err / max(scale, 1e-6)
        if rel > worst { worst = rel; worstName = name }
    }
}

/// Tolerance of every gradient check: max_i |g_i − fd_i| ≤ 1e-4 · max_i |fd_i| per tensor.
/// Why: the finite differences are central, in Double, with h = 1e-6 on the naive Double
/// model, so their own error is ~h² + 1e-16/h ≈ 1e-10 — far below the Float rounding of the
/// analytic backward (~1e-6 relative on these tiny sizes). A wrong formula (a dropped term,
/// a transposed product, a wrong factor) shows up as an error of order 1e-2 … 1. Observed:
/// ≤ 7e-7 on every check, so the bound leaves two orders of magnitude of headroom.
let gradTolerance = 1e-4
/// Float forward vs Double naive forward: |ours − ref| ≤ 1e-5 · max(1, max|ref|).
let forwardTolerance = 1e-5

enum GradCheck {
    /// Central differences of `loss` w.r.t. every element of values[name].
    static func numeric(_ values: Values, _ name: String, h: Double = 1e-6, _ loss: (Values) -> Double) -> [Double] {
        var v = values
        let n = values[name]!.count
        var g = [Double](repeating: 0, count: n)
        for i in 0..<n {
            let orig = v[name]![i]
            v[name]![i] = orig + h
            let up = loss(v)
            v[name]![i] = orig - h
            let down = loss(v)
            v[name]![i] = orig
            g[i] = (up - down) / (2 * h)
        }
        return g
    }

    static func doubles(_ t: Tensor) -> [Double] { t.array.map(Double.init) }

    /// Forward error of a Float output against the Double reference.
    static func forwardError(_ ours: Tensor, _ ref: [Double]) -> Double {
        let scale = max(1, ref.map(abs).max() ?? 0)
        return zip(ours.array, ref).map { abs(Double($0) - $1) }.max()! / scale
    }

    /// Random projection weights r for the scalar test loss L = Σ r ⊙ y.
    static func projection(_ count: Int, seed: UInt64) -> (Tensor, [Double]) {
        var rng = TrainingRNG(seed: seed)
        let r = (0..<count).map { _ in Double(rng.uniform() * 2 - 1) }
        return (try! Tensor(r.map(Float.init), shape: [count]), r)
    }

    static func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).map(*).reduce(0, +) }

    /// Full check: values of `params` and `inputs` go to the naive model; `analytic` maps
    /// names to the analytic gradients (parameters' `grad` are added automatically).
    static func run(params: [Parameter], inputs: Values, output: Tensor, analytic: [String: Tensor],
                    naive: @escaping (Values) -> [Double], r: [Double]) -> GradCheckResult {
        var values = inputs
        for p in params { values[p.name] = doubles(p.value) }
        var result = GradCheckResult()
        result.forwardError = forwardError(output, naive(values))
        let loss: (Values) -> Double = { dot(naive($0), r) }
        for p in params where p.trainable {
            result.record(p.name, analytic: p.grad.array, numeric: numeric(values, p.name, loss))
        }
        for (name, g) in analytic.sorted(by: { $0.key < $1.key }) {
            result.record(name, analytic: g.array, numeric: numeric(values, name, loss))
        }
        return result
    }
}

/// Gives every parameter generic random values (LayerNorm gains near 1) so no gradient
/// term vanishes by symmetry.
func randomize(_ params: [Parameter], seed: UInt64, scale: Float = 0.5) {
    var rng = TrainingRNG(seed: seed)
    for p in params {
        let isGain = p.name.hasSuffix("ln1.weight") || p.name.hasSuffix("ln2.weight") || p.name.hasSuffix("norm.weight")
        var t = rng.uniformTensor(p.shape, bound: isGain ? 0.3 : scale)
        if isGain { let q = t.mutablePointer; for i in 0..<t.count { q[i] += 1 } }
        p.value = t
    }
}

func tensor(_ shape: [Int], seed: UInt64, bound: Float = 1) -> Tensor {
    var rng = TrainingRNG(seed: seed)
    return rng.uniformTensor(shape, bound: bound)
}
