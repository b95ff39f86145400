import Foundation
import Models
import Tensor

// Hand-written forward/backward layers. Convention: activations are row-major token blocks
// [rows, features] (rows = batch·seq); `forward(_:cache:)` stores in `cache` what backward
// needs (pass nil for inference), `backward(_:cache:)` returns the input gradient and
// *accumulates* (+=) into the parameters' gradients — so a parameter used twice in a step
// gets the sum, and `ParameterSet.zeroGrads()` resets them between steps.

/// Test-only switches that corrupt one backward formula, so the gradient-check tests can
/// prove they are able to fail. Never set in product code.
enum BackwardFaults {
    enum Fault: Sendable { case layerNormMeanTerm, softmaxJacobian, linearWeightTranspose, geluDerivative }
    nonisolated(unsafe) private static var _active: Fault?
    private static let lock = NSLock()
    static var active: Fault? {
        get { lock.lock(); defer { lock.unlock() }; return _active }
        set { lock.lock(); _active = newValue; lock.unlock() }
    }
}

@inline(__always)
func rowCount(_ t: Tensor, dim: Int, _ what: String) throws -> Int {
    guard dim > 0, t.rank >= 1, t.shape.last == dim else {
        throw TrainingError.shapeMismatch("\(what): input \(t.shape), expected last dimension \(dim)")
    }
    return t.count / dim
}

@inline(__always)
func checkSame(_ a: Tensor, _ shape: [Int], _ what: String) throws {
    guard a.shape == shape else { throw TrainingError.shapeMismatch("\(what): gradient \(a.shape), expected \(shape)") }
}

/// Adds `grad` into a parameter's gradient (no-op when frozen). For prompts produced
/// outside a layer (e.g. learned prompt vectors given to `PromptInsertion`).
public func accumulateGradient(_ grad: Tensor, into p: Parameter) throws {
    guard grad.count == p.count else { throw TrainingError.shapeMismatch("gradient \(grad.shape) for '\(p.name)' \(p.shape)") }
    guard let g = p.gradPointer else { return }
    Ops.addInPlace(g, grad.pointer, count: grad.count)
}

// MARK: - Linear

/// `y = x·Wᵀ + b`, W stored [out, in] (PyTorch layout).
public final class Linear: ParameterHolder, @unchecked Sendable {
    public let weight: Parameter
    public let bias: Parameter?
    public var inFeatures: Int { weight.shape[1] }
    public var outFeatures: Int { weight.shape[0] }
    public var parameters: [Parameter] { [weight] + (bias.map { [$0] } ?? []) }

    /// What backward needs: the input (only kept when the weight is trainable).
    public final class Cache { var input: Tensor?; var inputShape: [Int] = []; public init() {} }

    /// PyTorch's default initialisation: W, b ~ U(−1/√in, 1/√in).
    public init(name: String, inFeatures: Int, outFeatures: Int, bias: Bool = true, rng: inout TrainingRNG) {
        let bound = 1 / Float(max(inFeatures, 1)).squareRoot()
        weight = Parameter(name: name + ".weight", value: rng.uniformTensor([outFeatures, inFeatures], bound: bound))
        self.bias = bias ? Parameter(name: name + ".bias", value: rng.uniformTensor([outFeatures], bound: bound)) : nil
    }

    /// Wraps existing weights ([out, in] and [out]).
    public init(name: String, weight: Tensor, bias: Tensor?, trainable: Bool = true) throws {
        guard weight.rank == 2 else { throw TrainingError.shapeMismatch("\(name).weight \(weight.shape) is not a matrix") }
        if let bias, bias.shape != [weight.shape[0]] {
            throw TrainingError.shapeMismatch("\(name).bias \(bias.shape) for \(weight.shape[0]) outputs")
        }
        self.weight = Parameter(name: name + ".weight", value: weight, trainable: trainable)
        self.bias = bias.map { Parameter(name: name + ".bias", value: $0, trainable: trainable) }
    }

    public func forward(_ x: Tensor, cache: Cache? = nil) throws -> Tensor {
        let inDim = inFeatures, outDim = outFeatures
        let rows = try rowCount(x, dim: inDim, weight.name)
        var y = Tensor(zeros: Array(x.shape.dropLast()) + [outDim])
        let yp = y.mutablePointer
        if let bias {
            for r in 0..<rows { (yp + r * outDim).update(from: bias.value.pointer, count: outDim) }
        }
        BLAS.gemm(.none, .transpose, m: rows, n: outDim, k: inDim, a: x.pointer, lda: inDim,
                  b: weight.value.pointer, ldb: inDim, beta: bias == nil ? 0 : 1, c: yp, ldc: outDim)
        if let cache {
            cache.inputShape = x.shape
            cache.input = weight.trainable ? x : nil
        }
        return y
    }

    public func backward(_ dy: Tensor, cache: Cache) throws -> Tensor {
        let inDim = inFeatures, outDim = outFeatures
        let rows = try rowCount(dy, dim: outDim, weight.name + " backward")
        guard rows * inDim == cache.inputShape.reduce(1, *) else {
            throw TrainingError.shapeMismatch("\(weight.name) backward: gradient \(dy.shape) for input \(cache.inputShape)")
        }
        // dX = dY · W   ([rows, out] × [out, in])
        var dx = Tensor(zeros: cache.inputShape)
        BLAS.gemm(.none, .none, m: rows, n: inDim, k: outDim, a: dy.pointer, lda: outDim,
                  b: weight.value.pointer, ldb: inDim, c: dx.mutablePointer, ldc: inDim)
        // dW += dYᵀ · X   ([out, rows] × [rows, in]); skipped entirely for frozen weights.
        if let gw = weight.gradPointer, let x = cache.input {
            if BackwardFaults.active == .linearWeightTranspose {
                // Fault: uses X·… layout confusion — accumulate dYᵀ·X scaled wrongly.
                BLAS.gemm(.transpose, .none, m: outDim, n: inDim, k: rows, alpha: 0.9, a: dy.pointer, lda: outDim,
                          b: x.pointer, ldb: inDim, beta: 1, c: gw, ldc: inDim)
            } else {
                BLAS.gemm(.transpose, .none, m: outDim, n: inDim, k: rows, a: dy.pointer, lda: outDim,
                          b: x.pointer, ldb: inDim, beta: 1, c: gw, ldc: inDim)
            }
        }
        if let bias, let gb = bias.gradPointer {
            let d = dy.pointer
            for r in 0..<rows { let row = d + r * outDim; for o in 0..<outDim { gb[o] += row[o] } }
        }
        return dx
    }
}

// MARK: - LayerNorm

/// LayerNorm over the last dimension: `y = (x − μ)/√(σ² + eps)·γ + β`.
public final class LayerNorm: ParameterHolder, @unchecked Sendable {
    public let gamma: Parameter
    public let beta: Parameter
    public let eps: Float
    public var dim: Int { gamma.count }
    public var parameters: [Parameter] { [gamma, beta] }

    public final class Cache { var normalized = Tensor(zeros: [0]); var inverseStd: [Float] = []; public init() {} }

    public init(name: String, dim: Int, eps: Float = 1e-5) {
        gamma = Parameter(name: name + ".weight", value: Tensor(repeating: 1, shape: [dim]))
        beta = Parameter(name: name + ".bias", value: Tensor(zeros: [dim]))
        self.eps = eps
    }

    public init(name: String, gamma: Tensor, beta: Tensor, eps: Float, trainable: Bool = true) throws {
        guard gamma.rank == 1, beta.shape == gamma.shape else {
            throw TrainingError.shapeMismatch("\(name): weight \(gamma.shape), bias \(beta.shape)")
        }
        self.gamma = Parameter(name: name + ".weight", value: gamma, trainable: trainable)
        self.beta = Parameter(name: name + ".bias", value: beta, trainable: trainable)
        self.eps = eps
    }

    public func forward(_ x: Tensor, cache: Cache? = nil) throws -> Tensor {
        let d = dim
        let rows = try rowCount(x, dim: d, gamma.name)
        var xhat = Tensor(zeros: x.shape)
        var inv = [Float](repeating: 0, count: rows)
        var y = Tensor(zeros: x.shape)
        let xp = x.pointer, hp = xhat.mutablePointer, yp = y.mutablePointer
        let g = gamma.value.pointer, b = beta.value.pointer
        for r in 0..<rows {
            let row = xp + r * d
            var mean: Float = 0
            for i in 0..<d { mean += row[i] }
            mean /= Float(d)
            var variance: Float = 0
            for i in 0..<d { let c = row[i] - mean; variance += c * c }
            variance /= Float(d)
            let rs = 1 / (variance + eps).squareRoot()
            inv[r] = rs
            let h = hp + r * d, o = yp + r * d
            for i in 0..<d { let n = (row[i] - mean) * rs; h[i] = n; o[i] = n * g[i] + b[i] }
        }
        if let cache { cache.normalized = xhat; cache.inverseStd = inv }
        return y
    }

    public func backward(_ dy: Tensor, cache: Cache) throws -> Tensor {
        let d = dim
        try checkSame(dy, cache.normalized.shape, gamma.name)
        let rows = cache.inverseStd.count
        var dx = Tensor(zeros: dy.shape)
        let dyp = dy.pointer, hp = cache.normalized.pointer, dxp = dx.mutablePointer
        let g = gamma.value.pointer
        let gg = gamma.gradPointer, gb = beta.gradPointer
        let dropMean = BackwardFaults.active == .layerNormMeanTerm
        for r in 0..<rows {
            let dyr = dyp + r * d, h = hp + r * d, o = dxp + r * d
            // dx = rstd · (ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) with ĝ = dy·γ
            var sumG: Float = 0, sumGH: Float = 0
            for i in 0..<d {
                let gh = dyr[i] * g[i]
                sumG += gh; sumGH += gh * h[i]
            }
            let meanG = dropMean ? 0 : sumG / Float(d), meanGH = sumGH / Float(d)
            let rs = cache.inverseStd[r]
            for i in 0..<d { o[i] = rs * (dyr[i] * g[i] - meanG - h[i] * meanGH) }
            if let gg { for i in 0..<d { gg[i] += dyr[i] * h[i] } }
            if let gb { for i in 0..<d { gb[i] += dyr[i] } }
        }
        return dx
    }
}

// MARK: - Activations

/// Element-wise quick-GELU (`x·σ(1.702x)`) or exact GELU, with backward.
public final class ActivationLayer: @unchecked Sendable {
    public let kind: Activation
    public final class Cache { var input = Tensor(zeros: [0]); public init() {} }

    public init(_ kind: Activation) { self.kind = kind }

    public func forward(_ x: Tensor, cache: Cache? = nil) -> Tensor {
        var y = x
        let p = y.mutablePointer
        switch kind {
        case .quickGELU: Ops.quickGELU(p, count: y.count)
        case .gelu: Ops.gelu(p, count: y.count)
        }
        cache?.input = x
        return y
    }

    public func backward(_ dy: Tensor, cache: Cache) throws -> Tensor {
        try checkSame(dy, cache.input.shape, "activation")
        var dx = Tensor(zeros: dy.shape)
        let x = cache.input.pointer, g = dy.pointer, o = dx.mutablePointer
        let n = dy.count
        let fault: Float = BackwardFaults.active == .geluDerivative ? 0.5 : 1
        switch kind {
        case .quickGELU:
            // d/dx x·σ(ax) = σ(ax)·(1 + a·x·(1 − σ(ax)))
            for i in 0..<n {
                let s = 1 / (1 + expf(-1.702 * x[i]))
                o[i] = g[i] * s * (1 + fault * 1.702 * x[i] * (1 - s))
            }
        case .gelu:
            // d/dx x·Φ(x) = Φ(x) + x·φ(x)
            for i in 0..<n {
                let v = x[i]
                let cdf = 0.5 * (1 + erff(v * 0.70710678118654752))
                let pdf = expf(-0.5 * v * v) * 0.3989422804014327
                o[i] = g[i] * (cdf + fault * v * pdf)
            }
        }
        return dx
    }
}

// MARK: - MLP

/// `proj(act(fc(x)))`, the transformer feed-forward block.
public final class MLP: ParameterHolder, @unchecked Sendable {
    public let fc: Linear
    public let activation: ActivationLayer
    public let proj: Linear
    public var parameters: [Parameter] { fc.parameters + proj.parameters }

    public final class Cache { let fc = Linear.Cache(), act = ActivationLayer.Cache(), proj = Linear.Cache(); public init() {} }

    public init(fc: Linear, activation: Activation, proj: Linear) {
        self.fc = fc; self.activation = ActivationLayer(activation); self.proj = proj
    }

    public convenience init(name: String, width: Int, hidden: Int, activation: Activation, rng: inout TrainingRNG) {
        self.init(fc: Linear(name: name + ".fc", inFeatures: width, outFeatures: hidden, rng: &rng),
                  activation: activation,
                  proj: Linear(name: name + ".proj", inFeatures: hidden, outFeatures: width, rng: &rng))
    }

    public func forward(_ x: Tensor, cache: Cache? = nil) throws -> Tensor {
        let h = try fc.forward(x, cache: cache?.fc)
        return try proj.forward(activation.forward(h, cache: cache?.act), cache: cache?.proj)
    }

    public func backward(_ dy: Tensor, cache: Cache) throws -> Tensor {
        try fc.backward(activation.backward(proj.backward(dy, cache: cache.proj), cache: cache.act), cache: cache.fc)
    }
}
