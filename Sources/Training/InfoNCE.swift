import Foundation
import Tensor

/// Result of a symmetric InfoNCE evaluation.
public struct InfoNCEResult: @unchecked Sendable {
    /// ½(L_A→B + L_B→A).
    public var loss: Float
    /// dL/dA `[N, D]` and dL/dB `[M, D]`.
    public var gradA: Tensor
    public var gradB: Tensor
    /// dL/dt for the log-scale t (0 when the scale is clamped at its maximum).
    public var gradLogScale: Float
    /// The scale actually used, min(exp(t), maxScale).
    public var scale: Float
    /// z = s·A·Bᵀ `[N, M]`, for metrics.
    public var logits: Tensor
}

/// Symmetric InfoNCE (CLIP's contrastive loss) with multi-positive targets and per-pair
/// weights.
///
/// With A `[N, D]` and B `[M, D]` (L2-normalised by the caller), s = min(exp(t), maxScale),
/// z_ij = s·a_i·b_j and per-pair weights w_ij > 0 (default 1):
///
///     u_ij = z_ij + log w_ij                      (a weight w counts a pair w times in the softmax)
///     P_i  = { j : positive(i, j) },  q_ij = 1/|P_i| on P_i, else 0
///     L_A→B = (1/N) Σ_i [ logsumexp_j u_ij − Σ_j q_ij u_ij ]        (each A row needs ≥ 1 positive)
///     L_B→A = (1/C) Σ_{j∈cols} [ logsumexp_i u_ij − Σ_i q'_ij u_ij ]  (cols = columns with ≥ 1 positive,
///                                                                    C = their count; q' uniform per column)
///     L     = ½ (L_A→B + L_B→A)
///
/// Plain CLIP is N = M, positives = the diagonal, w ≡ 1. Identical captions in a batch are
/// made mutual positives with `positiveMask(groups:)`. DCAR's category-aware term gives
/// same-category negatives w_ij = 1 + α (they weigh 1+α times in the denominator, so the
/// model is pushed harder to separate them); extra negative captions are extra columns with
/// no positive, which only enter the A→B direction. Gradients: dL/dz_ij =
/// ½[(p_ij − q_ij)/N + (p'_ij − q'_ij)/C], dA = s·dZ·B, dB = s·dZᵀ·A, dL/dt = Σ dZ⊙z when
/// exp(t) < maxScale (CLIP clamps the scale at 100; beyond it the gradient is 0).
public enum InfoNCE {
    /// positive(i, j) ⇔ groups[i] == groups[j] (N × N, row-major).
    public static func positiveMask(groups: [Int]) -> [Bool] {
        let n = groups.count
        var m = [Bool](repeating: false, count: n * n)
        for i in 0..<n { for j in 0..<n where groups[i] == groups[j] { m[i * n + j] = true } }
        return m
    }

    public static func compute(a: Tensor, b: Tensor, logScale t: Float, maxScale: Float = 100,
                               positives: [Bool]? = nil, weights: [Float]? = nil) throws -> InfoNCEResult {
        guard a.rank == 2, b.rank == 2, a.shape[1] == b.shape[1], a.shape[0] > 0, b.shape[0] > 0 else {
            throw TrainingError.shapeMismatch("InfoNCE: A \(a.shape), B \(b.shape)")
        }
        let n = a.shape[0], m = b.shape[0], d = a.shape[1]
        let pos: [Bool]
        if let positives {
            guard positives.count == n * m else { throw TrainingError.shapeMismatch("InfoNCE: \(positives.count) positive flags for \(n)×\(m)") }
            pos = positives
        } else {
            guard n == m else { throw TrainingError.shapeMismatch("InfoNCE: A has \(n) rows, B \(m); give the positives") }
            pos = (0..<(n * m)).map { $0 / m == $0 % m }
        }
        if let weights {
            guard weights.count == n * m else { throw TrainingError.shapeMismatch("InfoNCE: \(weights.count) weights for \(n)×\(m)") }
            guard weights.allSatisfy({ $0 > 0 && $0.isFinite }) else { throw TrainingError.invalidConfiguration("InfoNCE weights must be positive and finite") }
        }
        let raw = expf(t)
        let clamped = !(raw < maxScale)
        let s = clamped ? maxScale : raw

        var z = Tensor(zeros: [n, m])
        BLAS.gemm(.none, .transpose, m: n, n: m, k: d, alpha: s, a: a.pointer, lda: d, b: b.pointer, ldb: d,
                  c: z.mutablePointer, ldc: m)
        let zp = z.pointer
        var u = [Float](repeating: 0, count: n * m)
        for k in 0..<(n * m) { u[k] = zp[k] + (weights.map { logf($0[k]) } ?? 0) }

        var dz = Tensor(zeros: [n, m])
        let g = dz.mutablePointer
        var lossRows = 0.0, lossCols = 0.0
        // A → B: softmax over each row.
        for i in 0..<n {
            let row = i * m
            var count = 0
            var mx = -Float.infinity
            for j in 0..<m { mx = max(mx, u[row + j]); if pos[row + j] { count += 1 } }
            guard count > 0 else { throw TrainingError.invalidConfiguration("InfoNCE: row \(i) of A has no positive") }
            var sum = 0.0
            for j in 0..<m { sum += Double(expf(u[row + j] - mx)) }
            let lse = Double(mx) + log(sum)
            let q = 1 / Float(count)
            var target = 0.0
            for j in 0..<m {
                let p = Float(exp(Double(u[row + j]) - lse))
                let qij: Float = pos[row + j] ? q : 0
                if pos[row + j] { target += Double(q) * Double(u[row + j]) }
                g[row + j] = 0.5 * (p - qij) / Float(n)
            }
            lossRows += lse - target
        }
        // B → A: softmax over each column that has a positive.
        let cols = (0..<m).filter { j in (0..<n).contains { pos[$0 * m + j] } }
        let c = Float(cols.count)
        for j in cols {
            var count = 0
            var mx = -Float.infinity
            for i in 0..<n { mx = max(mx, u[i * m + j]); if pos[i * m + j] { count += 1 } }
            var sum = 0.0
            for i in 0..<n { sum += Double(expf(u[i * m + j] - mx)) }
            let lse = Double(mx) + log(sum)
            let q = 1 / Float(count)
            var target = 0.0
            for i in 0..<n {
                let k = i * m + j
                let p = Float(exp(Double(u[k]) - lse))
                let qij: Float = pos[k] ? q : 0
                if pos[k] { target += Double(q) * Double(u[k]) }
                g[k] += 0.5 * (p - qij) / c
            }
            lossCols += lse - target
        }
        let loss = Float(0.5 * (lossRows / Double(n) + lossCols / Double(cols.count)))

        var dt: Float = 0
        if !clamped { for k in 0..<(n * m) { dt += g[k] * zp[k] } }
        // dA = s·dZ·B ; dB = s·dZᵀ·A
        var ga = Tensor(zeros: [n, d]), gb = Tensor(zeros: [m, d])
        BLAS.gemm(.none, .none, m: n, n: d, k: m, alpha: s, a: g, lda: m, b: b.pointer, ldb: d, c: ga.mutablePointer, ldc: d)
        BLAS.gemm(.transpose, .none, m: m, n: d, k: n, alpha: s, a: g, lda: m, b: a.pointer, ldb: d, c: gb.mutablePointer, ldc: d)
        return InfoNCEResult(loss: loss, gradA: ga, gradB: gb, gradLogScale: dt, scale: s, logits: z)
    }
}

/// CLIP's learnable temperature: t = log s as a one-element parameter (init log(1/0.07)),
/// or fixed when `trainable` is false.
public final class LogitScale: ParameterHolder, @unchecked Sendable {
    public let logScale: Parameter
    public let maxScale: Float
    public var parameters: [Parameter] { [logScale] }

    public init(name: String = "logit_scale", initial: Float = logf(1 / 0.07), maxScale: Float = 100, trainable: Bool = true) {
        logScale = Parameter(name: name, value: Tensor(repeating: initial, shape: [1]), trainable: trainable, weightDecay: false)
        self.maxScale = maxScale
    }

    public var value: Float { logScale.value[flat: 0] }

    /// Runs InfoNCE with this scale and accumulates dL/dt into the parameter (if trainable).
    public func loss(a: Tensor, b: Tensor, positives: [Bool]? = nil, weights: [Float]? = nil) throws -> InfoNCEResult {
        let r = try InfoNCE.compute(a: a, b: b, logScale: value, maxScale: maxScale, positives: positives, weights: weights)
        if let g = logScale.gradPointer { g[0] += r.gradLogScale }
        return r
    }
}
