import Foundation
import Tensor

/// Everything that can stop training, each case saying what to fix.
public enum TrainingError: Error, CustomStringConvertible, Equatable {
    /// A loss or gradient became NaN/Inf at `step`; `what` names the loss or the parameter.
    case nonFinite(step: Int, what: String)
    /// Loss or gradient non-finite, with the checkpoint that was kept (nil when none was written yet).
    case nonFiniteKeptCheckpoint(step: Int, what: String, checkpoint: String?, checkpointStep: Int?)
    /// A checkpoint tensor has another shape than the model's parameter of that name.
    case architectureMismatch(tensor: String, expected: [Int], found: [Int])
    /// A parameter of the model is absent from the checkpoint.
    case missingTensor(String)
    /// The checkpoint holds a parameter the model does not have.
    case unexpectedTensor(String)
    /// A checkpoint file that dialclip did not write or that is damaged.
    case invalidCheckpoint(path: String, reason: String)
    /// Inputs of an op that do not fit together.
    case shapeMismatch(String)
    /// A bad setting (batch size 0, negative learning rate…).
    case invalidConfiguration(String)
    /// Two parameters registered under one name.
    case duplicateParameter(String)

    public var description: String {
        switch self {
        case .nonFinite(let s, let w):
            return "training stopped at step \(s): \(w) is NaN or infinite (try a lower learning rate or stronger gradient clipping)"
        case .nonFiniteKeptCheckpoint(let s, let w, let path, let cs):
            let kept = path.map { "the last good checkpoint (step \(cs ?? 0)) is kept at \($0)" } ?? "no checkpoint had been written yet"
            return "training stopped at step \(s): \(w) is NaN or infinite; \(kept) (try a lower learning rate or stronger gradient clipping)"
        case .architectureMismatch(let t, let e, let f):
            return "checkpoint does not fit this model: tensor '\(t)' has shape \(f), the model needs \(e)"
        case .missingTensor(let t):
            return "checkpoint does not fit this model: tensor '\(t)' is missing"
        case .unexpectedTensor(let t):
            return "checkpoint does not fit this model: it holds tensor '\(t)', which this model does not have"
        case .invalidCheckpoint(let p, let r): return "invalid checkpoint \(p): \(r)"
        case .shapeMismatch(let s): return "shape mismatch: \(s)"
        case .invalidConfiguration(let s): return "invalid training configuration: \(s)"
        case .duplicateParameter(let n): return "parameter name '\(n)' registered twice"
        }
    }
}

/// A learnable (or frozen) tensor with its gradient.
///
/// Frozen parameters (`trainable == false`) carry no gradient buffer: layers skip the
/// weight-gradient products for them but still propagate gradients to their inputs, which
/// is how prompt tuning trains a few vectors through a frozen CLIP.
public final class Parameter: @unchecked Sendable {
    /// Name used in checkpoints (e.g. `blocks.0.attn.qkv.weight`).
    public var name: String
    /// Current value. May borrow read-only mmap'd memory while frozen; the optimiser's
    /// first write copies it (copy-on-write).
    public var value: Tensor
    /// Accumulated gradient, same shape as `value`; an empty tensor while frozen.
    public private(set) var grad: Tensor
    /// Whether AdamW applies decoupled weight decay (default: matrices yes, vectors no —
    /// biases, LayerNorm gains and prompt vectors are not decayed, as in CLIP training).
    public var weightDecay: Bool
    /// Whether this parameter receives gradients and optimiser updates.
    public var trainable: Bool {
        didSet {
            if trainable && grad.count != value.count { grad = Tensor(zeros: value.shape) }
            if !trainable { grad = Tensor(zeros: [0]) }
        }
    }

    public init(name: String, value: Tensor, trainable: Bool = true, weightDecay: Bool? = nil) {
        self.name = name
        self.value = value
        self.trainable = trainable
        self.weightDecay = weightDecay ?? (value.rank >= 2)
        self.grad = trainable ? Tensor(zeros: value.shape) : Tensor(zeros: [0])
    }

    public var shape: [Int] { value.shape }
    public var count: Int { value.count }

    /// Sets the gradient to zero (no-op while frozen).
    public func zeroGrad() {
        if trainable { grad.mutablePointer.update(repeating: 0, count: grad.count) }
    }

    /// Pointer for accumulating into the gradient; nil while frozen, so callers skip the work.
    public var gradPointer: UnsafeMutablePointer<Float>? {
        trainable ? grad.mutablePointer : nil
    }
}

/// Ordered, named registry of parameters: what the optimiser updates and checkpoints save.
public final class ParameterSet: @unchecked Sendable {
    public private(set) var parameters: [Parameter] = []
    private var index: [String: Int] = [:]

    public init() {}
    public init(_ parameters: [Parameter]) throws { try add(parameters) }

    /// Registers parameters; names must be unique.
    public func add(_ ps: [Parameter]) throws {
        for p in ps {
            guard index[p.name] == nil else { throw TrainingError.duplicateParameter(p.name) }
            index[p.name] = parameters.count
            parameters.append(p)
        }
    }

    public subscript(name: String) -> Parameter? { index[name].map { parameters[$0] } }
    public var names: [String] { parameters.map(\.name) }
    public var trainable: [Parameter] { parameters.filter(\.trainable) }
    /// Number of scalars that are trained (DESIGN §4 asks to report it exactly).
    public var trainableCount: Int { trainable.reduce(0) { $0 + $1.count } }
    public var totalCount: Int { parameters.reduce(0) { $0 + $1.count } }

    public func zeroGrads() { for p in parameters { p.zeroGrad() } }

    /// Freezes or unfreezes every parameter.
    public func setTrainable(_ on: Bool) { for p in parameters { p.trainable = on } }
}

/// Something made of parameters (layers, whole models).
public protocol ParameterHolder: AnyObject {
    /// Every parameter, in a fixed order, with full names.
    var parameters: [Parameter] { get }
}

extension ParameterHolder {
    /// Freezes (false) or unfreezes (true) every parameter of this holder.
    public func setTrainable(_ on: Bool) { for p in parameters { p.trainable = on } }
}

/// Deterministic random numbers for initialisation, shuffling and augmentation.
/// Wraps SplitMix64 (`SeededGenerator`), whose whole state is one UInt64, so checkpoints
/// can store it and a resumed run continues the same sequence.
public struct TrainingRNG: RandomNumberGenerator, Sendable {
    public private(set) var generator: SeededGenerator

    public init(seed: UInt64) { generator = SeededGenerator(seed: seed) }
    /// Restores a generator from `state` (as saved by a checkpoint).
    public init(state: UInt64) { generator = SeededGenerator(seed: state) }
    public var state: UInt64 { generator.state }

    public mutating func next() -> UInt64 { generator.next() }

    /// Uniform in [0, 1) with 24 random bits.
    public mutating func uniform() -> Float { Float(next() >> 40) * (1 / Float(1 << 24)) }

    /// Standard normal sample (Box–Muller on 53-bit uniforms; the second value is dropped so
    /// the state stays one integer).
    public mutating func normal() -> Float {
        let u1 = (Double(next() >> 11) + 1) * (1.0 / 9007199254740992.0)  // (0, 1]
        let u2 = Double(next() >> 11) * (1.0 / 9007199254740992.0)
        return Float((-2 * Foundation.log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }

    /// A tensor of N(0, std²) samples.
    public mutating func normalTensor(_ shape: [Int], std: Float) -> Tensor {
        var t = Tensor(zeros: shape)
        let p = t.mutablePointer
        for i in 0..<t.count { p[i] = std * normal() }
        return t
    }

    /// A tensor of uniform samples in [-bound, bound).
    public mutating func uniformTensor(_ shape: [Int], bound: Float) -> Tensor {
        var t = Tensor(zeros: shape)
        let p = t.mutablePointer
        for i in 0..<t.count { p[i] = bound * (2 * uniform() - 1) }
        return t
    }

    /// Fisher–Yates permutation of 0..<n (independent of the standard library's algorithm,
    /// so the order is stable across Swift versions).
    public mutating func permutation(_ n: Int) -> [Int] {
        var a = Array(0..<n)
        if n < 2 { return a }
        for i in stride(from: n - 1, to: 0, by: -1) {
            let j = Int(next() % UInt64(i + 1))
            a.swapAt(i, j)
        }
        return a
    }
}
