import Foundation
import Tensor

/// AdamW (Loshchilov & Hutter), step for step as PyTorch's `torch.optim.AdamW`:
///
///     p ← p − lr·λ·p                          (decoupled weight decay, only where `Parameter.weightDecay`)
///     m ← β1·m + (1−β1)·g ;  v ← β2·v + (1−β2)·g²
///     p ← p − (lr / (1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + ε)
public final class AdamW: @unchecked Sendable {
    public struct Config: Sendable, Equatable {
        public var beta1: Float, beta2: Float, eps: Float, weightDecay: Float
        public init(beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8, weightDecay: Float = 0.01) {
            self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay
        }
    }

    public let config: Config
    public let parameters: ParameterSet
    /// Number of updates done so far (t in the bias correction).
    public internal(set) var step: Int = 0
    /// First and second moments by parameter name (created on first update).
    public internal(set) var firstMoments: [String: Tensor] = [:]
    public internal(set) var secondMoments: [String: Tensor] = [:]

    public init(parameters: ParameterSet, config: Config = Config()) {
        self.parameters = parameters; self.config = config
    }

    /// One update of every trainable parameter with learning rate `lr`.
    public func update(learningRate lr: Float) {
        step += 1
        let b1 = config.beta1, b2 = config.beta2
        let bc1 = 1 - powf(b1, Float(step)), bc2 = 1 - powf(b2, Float(step))
        let stepSize = lr / bc1, bc2Sqrt = bc2.squareRoot()
        for p in parameters.trainable {
            let n = p.count
            var m = firstMoments[p.name] ?? Tensor(zeros: p.shape)
            var v = secondMoments[p.name] ?? Tensor(zeros: p.shape)
            let mp = m.mutablePointer, vp = v.mutablePointer
            let w = p.value.mutablePointer, g = p.grad.pointer
            let decay: Float = p.weightDecay ? 1 - lr * config.weightDecay : 1
            for i in 0..<n {
                w[i] *= decay
                mp[i] = b1 * mp[i] + (1 - b1) * g[i]
                vp[i] = b2 * vp[i] + (1 - b2) * g[i] * g[i]
                w[i] -= stepSize * mp[i] / (vp[i].squareRoot() / bc2Sqrt + config.eps)
            }
            firstMoments[p.name] = m
            secondMoments[p.name] = v
        }
    }

    /// Restores optimiser state (from a checkpoint).
    func restore(step: Int, first: [String: Tensor], second: [String: Tensor]) {
        self.step = step; firstMoments = first; secondMoments = second
    }
}

/// Linear warm-up from 0 to `base` over `warmupSteps`, then a half cosine from `base` down to
/// `floor` at `totalSteps`. Steps are 0-based: step s uses lr(s).
public struct LearningRateSchedule: Sendable, Equatable {
    public var base: Float
    public var warmupSteps: Int
    public var totalSteps: Int
    public var floor: Float

    public init(base: Float, warmupSteps: Int, totalSteps: Int, floor: Float = 0) {
        self.base = base; self.warmupSteps = warmupSteps; self.totalSteps = totalSteps; self.floor = floor
    }

    /// lr(s) = base·(s+1)/warmup for s < warmup;
    /// else floor + (base−floor)·½(1 + cos(π·(s−warmup)/(total−warmup))).
    public func learningRate(at step: Int) -> Float {
        if step < warmupSteps { return base * Float(step + 1) / Float(warmupSteps) }
        let span = max(totalSteps - warmupSteps, 1)
        let progress = min(Double(step - warmupSteps) / Double(span), 1)
        return floor + (base - floor) * Float(0.5 * (1 + cos(Double.pi * progress)))
    }
}

/// Gradient utilities: global norm, clipping, finiteness.
public enum Gradients {
    /// √(Σ g²) over all trainable parameters (accumulated in Double).
    public static func globalNorm(_ set: ParameterSet) -> Float {
        var s = 0.0
        for p in set.trainable {
            let g = p.grad.pointer
            for i in 0..<p.count { s += Double(g[i]) * Double(g[i]) }
        }
        return Float(s.squareRoot())
    }

    /// Scales all gradients so the global norm is at most `maxNorm` (PyTorch
    /// `clip_grad_norm_`: factor maxNorm/(norm + 1e-6) when norm > maxNorm). Returns the norm
    /// before clipping.
    @discardableResult
    public static func clip(_ set: ParameterSet, maxNorm: Float) -> Float {
        let norm = globalNorm(set)
        guard norm.isFinite, norm > maxNorm else { return norm }
        let f = maxNorm / (norm + 1e-6)
        for p in set.trainable {
            guard let g = p.gradPointer else { continue }
            for i in 0..<p.count { g[i] *= f }
        }
        return norm
    }

    /// Name of the first trainable parameter whose gradient holds NaN/Inf, if any.
    public static func firstNonFinite(_ set: ParameterSet) -> String? {
        for p in set.trainable {
            let g = p.grad.pointer
            for i in 0..<p.count where !g[i].isFinite { return p.name }
        }
        return nil
    }

    /// Throws `TrainingError.nonFinite` when a gradient holds NaN/Inf.
    public static func checkFinite(_ set: ParameterSet, step: Int) throws {
        if let name = firstNonFinite(set) { throw TrainingError.nonFinite(step: step, what: "gradient of '\(name)'") }
    }
}
