import Foundation
import Tensor

/// Activation inside a transformer MLP.
public enum Activation: String, Sendable, Codable {
    /// `x·σ(1.702x)`, used by every OpenAI CLIP model.
    case quickGELU = "quick_gelu"
    /// Exact erf GELU (BERT, some open_clip models).
    case gelu = "gelu"

    func apply(_ x: UnsafeMutablePointer<Float>, count: Int) {
        switch self {
        case .quickGELU: Ops.quickGELU(x, count: count)
        case .gelu: Ops.gelu(x, count: count)
        }
    }
}

/// Where the LayerNorms sit in a block: before each sub-layer (CLIP) or after the
/// residual sum (BERT).
public enum NormPlacement: Sendable { case pre, post }

/// A weight matrix used as `x · Wᵀ` (PyTorch `nn.Linear`, stored [out, in]) or `x · P`
/// (OpenAI `proj`, stored [in, out]). Both are used in place; no transposed copies.
public enum ProjectionMatrix: @unchecked Sendable {
    case linear(Tensor)   // [out, in]
    case matrix(Tensor)   // [in, out]

    public var inputDim: Int {
        switch self { case .linear(let w): return w.shape[1]; case .matrix(let p): return p.shape[0] }
    }
    public var outputDim: Int {
        switch self { case .linear(let w): return w.shape[0]; case .matrix(let p): return p.shape[1] }
    }

    /// rows × inputDim → rows × outputDim.
    public func apply(_ x: Tensor) throws -> Tensor {
        switch self {
        case .linear(let w): return try x.linear(weight: w, bias: nil)
        case .matrix(let p): return try x.matmul(p)
        }
    }
}

/// Query/key/value projections: OpenAI's packed `in_proj` ([3W, W]) or three separate
/// `nn.Linear`s (HF, BERT). Either way the forward writes one packed `[tokens, 3W]` block
/// so attention reads every head in place.
public enum QKVWeights: @unchecked Sendable {
    case packed(weight: Tensor, bias: Tensor)
    case separate(q: Tensor, qBias: Tensor, k: Tensor, kBias: Tensor, v: Tensor, vBias: Tensor)
}

/// Weights of one transformer layer, already validated for shape.
public struct TransformerLayerWeights: @unchecked Sendable {
    public var norm1Weight: Tensor, norm1Bias: Tensor
    public var qkv: QKVWeights
    public var outWeight: Tensor, outBias: Tensor
    public var norm2Weight: Tensor, norm2Bias: Tensor
    public var fcWeight: Tensor, fcBias: Tensor        // [mlp, W]
    public var projWeight: Tensor, projBias: Tensor    // [W, mlp]

    public init(norm1Weight: Tensor, norm1Bias: Tensor, qkv: QKVWeights, outWeight: Tensor, outBias: Tensor,
                norm2Weight: Tensor, norm2Bias: Tensor, fcWeight: Tensor, fcBias: Tensor,
                projWeight: Tensor, projBias: Tensor) {
        self.norm1Weight = norm1Weight; self.norm1Bias = norm1Bias; self.qkv = qkv
        self.outWeight = outWeight; self.outBias = outBias
        self.norm2Weight = norm2Weight; self.norm2Bias = norm2Bias
        self.fcWeight = fcWeight; self.fcBias = fcBias
        self.projWeight = projWeight; self.projBias = projBias
    }

    public var width: Int { outWeight.shape[0] }
    public var mlpWidth: Int { fcWeight.shape[0] }

    /// Number of parameters in this layer.
    public var parameterCount: Int {
        var n = norm1Weight.count + norm1Bias.count + outWeight.count + outBias.count
        n += norm2Weight.count + norm2Bias.count + fcWeight.count + fcBias.count + projWeight.count + projBias.count
        switch qkv {
        case .packed(let w, let b): n += w.count + b.count
        case .separate(let q, let qb, let k, let kb, let v, let vb): n += q.count + qb.count + k.count + kb.count + v.count + vb.count
        }
        return n
    }
}

/// Hyper-parameters shared by the encoder stacks.
public struct TransformerConfig: Sendable, Equatable {
    public var width: Int
    public var layers: Int
    public var heads: Int
    public var mlpWidth: Int
    public var activation: Activation
    public var layerNormEps: Float
    public var norm: NormPlacement

    public init(width: Int, layers: Int, heads: Int, mlpWidth: Int, activation: Activation, layerNormEps: Float, norm: NormPlacement) {
        self.width = width; self.layers = layers; self.heads = heads; self.mlpWidth = mlpWidth
        self.activation = activation; self.layerNormEps = layerNormEps; self.norm = norm
    }

    public var headDim: Int { width / heads }
}

/// How a stack keeps its weight matrices in memory.
public enum WeightPrecision: String, Sendable, Codable {
    /// fp32, used in place (memory-mapped when the file is F32).
    case f32
    /// fp16 (half the bytes), widened to fp32 one layer at a time right before use:
    /// OpenBLAS has no fp16 GEMM, and numerics stay fp32.
    case f16
}

extension TransformerLayerWeights {
    /// The weight matrices in a fixed order: q, k, v (or the packed qkv), out, fc, proj.
    var matrices: [Tensor] {
        switch qkv {
        case .packed(let w, _): return [w, outWeight, fcWeight, projWeight]
        case .separate(let q, _, let k, _, let v, _): return [q, k, v, outWeight, fcWeight, projWeight]
        }
    }

    /// The same layer with its matrices replaced (same order as `matrices`).
    func replacingMatrices(_ m: [Tensor]) -> TransformerLayerWeights {
        var copy = self
        switch qkv {
        case .packed(_, let b): copy.qkv = .packed(weight: m[0], bias: b)
        case .separate(_, let qb, _, let kb, _, let vb): copy.qkv = .separate(q: m[0], qBias: qb, k: m[1], kBias: kb, v: m[2], vBias: vb)
        }
        let n = m.count
        copy.outWeight = m[n - 3]; copy.fcWeight = m[n - 2]; copy.projWeight = m[n - 1]
        return copy
    }
}

/// A layer whose matrices are stored as fp16; norms and biases (under 1 % of the
/// parameters) stay fp32.
struct HalfLayerWeights: @unchecked Sendable {
    /// The layer's vectors; its matrix slots hold empty placeholders until `widen`.
    let skeleton: TransformerLayerWeights
    /// The matrices in `TransformerLayerWeights.matrices` order.
    let halves: [HalfTensor]

    init(narrowing layer: TransformerLayerWeights) {
        halves = layer.matrices.map { HalfTensor(narrowing: $0) }
        let placeholder = Tensor(zeros: [0])
        skeleton = layer.replacingMatrices(halves.map { _ in placeholder })
    }

    /// Builds a layer whose matrices go to fp16 as soon as each one exists, so loading
    /// never holds more than one fp32 matrix: `make` passes each matrix through the
    /// collector, which keeps the fp16 data and hands back a placeholder.
    static func build(_ make: (HalfCollector) throws -> TransformerLayerWeights) rethrows -> HalfLayerWeights {
        let collector = HalfCollector()
        let layer = try make(collector)
        return HalfLayerWeights(skeleton: layer, halves: layer.matrices.map { collector.half(for: $0) })
    }

    private init(skeleton: TransformerLayerWeights, halves: [HalfTensor]) {
        self.skeleton = skeleton
        self.halves = halves
    }

    var parameterCount: Int {
        skeleton.parameterCount + halves.reduce(0) { $0 + $1.count }
    }

    /// The layer in fp32, its matrices widened into `scratch` (one buffer per matrix slot,
    /// each large enough; reused layer after layer).
    func widen(into scratch: [TensorStorage]) -> TransformerLayerWeights {
        let matrices = zip(halves, scratch).map { half, buffer -> Tensor in
            half.widen(into: buffer.base)
            return Tensor(shape: half.shape, storage: buffer)
        }
        return skeleton.replacingMatrices(matrices)
    }
}

/// Collects the fp16 matrices of one layer while it is being built (`HalfLayerWeights.build`).
final class HalfCollector {
    private var halves: [ObjectIdentifier: HalfTensor] = [:]
    private var placeholders: [Tensor] = []

    /// Keeps `half`; returns the placeholder that stands for it in the layer.
    func keep(_ half: HalfTensor) -> Tensor {
        let placeholder = Tensor(zeros: [0])
        placeholders.append(placeholder)   // alive, so its storage identity stays unique
        halves[ObjectIdentifier(placeholder.storage)] = half
        return placeholder
    }

    /// Keeps the fp16 image of `matrix` (which can then be freed).
    func narrow(_ matrix: Tensor) -> Tensor { keep(HalfTensor(narrowing: matrix)) }

    func half(for placeholder: Tensor) -> HalfTensor {
        guard let half = halves[ObjectIdentifier(placeholder.storage)] else {
            preconditionFailure("a layer matrix did not go through HalfCollector")
        }
        return half
    }
}

/// A stack of transformer layers run on whole token blocks (`[batch·seq, width]`).
public struct TransformerStack: @unchecked Sendable {
    public let config: TransformerConfig
    private let storage: Storage

    private enum Storage {
        case f32([TransformerLayerWeights])
        case f16([HalfLayerWeights])
    }

    public init(config: TransformerConfig, layers: [TransformerLayerWeights]) {
        self.config = config
        self.storage = .f32(layers)
    }

    /// A stack whose matrices are held as fp16 (`--fp16-weights`).
    init(config: TransformerConfig, halfLayers: [HalfLayerWeights]) {
        self.config = config
        self.storage = .f16(halfLayers)
    }

    /// The same stack with its matrices stored as fp16.
    public func narrowed() -> TransformerStack {
        switch storage {
        case .f16: return self
        case .f32(let layers): return TransformerStack(config: config, storage: .f16(layers.map(HalfLayerWeights.init(narrowing:))))
        }
    }

    private init(config: TransformerConfig, storage: Storage) {
        self.config = config
        self.storage = storage
    }

    /// How the matrices are held.
    public var precision: WeightPrecision {
        if case .f16 = storage { return .f16 }
        return .f32
    }

    public var layerCount: Int {
        switch storage {
        case .f32(let l): return l.count
        case .f16(let l): return l.count
        }
    }

    public var parameterCount: Int {
        switch storage {
        case .f32(let l): return l.reduce(0) { $0 + $1.parameterCount }
        case .f16(let l): return l.reduce(0) { $0 + $1.parameterCount }
        }
    }

    /// The layers in fp32. For an fp16 stack these are new widened copies (the training
    /// code's backward pass needs every layer at once).
    public var layers: [TransformerLayerWeights] {
        switch storage {
        case .f32(let l): return l
        case .f16(let l):
            return l.map { half in
                half.widen(into: half.halves.map { TensorStorage(zeroed: $0.count) })
            }
        }
    }

    /// Runs every layer over `x` ([batch·seq, width]) in place. `observe` sees the hidden
    /// state after each layer (for golden tests and debugging).
    public func forward(_ x: inout Tensor, batch: Int, seq: Int, causal: Bool, keyLengths: [Int]? = nil,
                        observe: ((Int, Tensor) -> Void)? = nil) {
        // Scratch blocks shared by every layer: allocating them per layer made each forward
        // pass map, fault and zero-fill tens of MB again and again (profiled on MiniLM).
        let tokens = batch * seq
        var scratch = LayerScratch(normed: Tensor(zeros: [tokens, config.width]),
                                   qkv: Tensor(zeros: [tokens, 3 * config.width]),
                                   hidden: Tensor(zeros: [tokens, config.mlpWidth]))
        switch storage {
        case .f32(let layers):
            for (i, layer) in layers.enumerated() {
                forwardLayer(layer, &x, batch: batch, seq: seq, causal: causal, keyLengths: keyLengths, scratch: &scratch)
                observe?(i, x)
            }
        case .f16(let layers):
            // One fp32 copy of one layer's matrices at a time: that buffer is all the
            // fp32 weight memory an fp16 stack ever holds.
            var slotSizes: [Int] = []
            for layer in layers {
                for (slot, half) in layer.halves.enumerated() {
                    if slot < slotSizes.count { slotSizes[slot] = max(slotSizes[slot], half.count) } else { slotSizes.append(half.count) }
                }
            }
            let buffers = slotSizes.map { TensorStorage(zeroed: $0) }
            for (i, half) in layers.enumerated() {
                forwardLayer(half.widen(into: buffers), &x, batch: batch, seq: seq, causal: causal,
                             keyLengths: keyLengths, scratch: &scratch)
                observe?(i, x)
            }
        }
    }

    /// Activation buffers of one forward pass, reused layer after layer.
    private struct LayerScratch {
        var normed: Tensor, qkv: Tensor, hidden: Tensor
    }

    private func forwardLayer(_ w: TransformerLayerWeights, _ x: inout Tensor, batch: Int, seq: Int,
                              causal: Bool, keyLengths: [Int]?, scratch: inout LayerScratch) {
        let c = config
        let tokens = batch * seq
        let width = c.width
        let eps = c.layerNormEps
        let xp = x.mutablePointer

        // --- attention sub-layer -------------------------------------------------
        // Input to the projections: LN(x) for pre-LN, x itself for post-LN (read in place:
        // x is only written after the projections that read it).
        let np = scratch.normed.mutablePointer
        var input = UnsafePointer(xp)
        if c.norm == .pre {
            np.update(from: xp, count: tokens * width)
            Ops.layerNorm(np, rows: tokens, dim: width, gamma: w.norm1Weight.pointer, beta: w.norm1Bias.pointer, eps: eps)
            input = UnsafePointer(np)
        }
        // qkv: [tokens, 3W]
        let qp = scratch.qkv.mutablePointer
        switch w.qkv {
        case .packed(let weight, let bias):
            for t in 0..<tokens { (qp + t * 3 * width).update(from: bias.pointer, count: 3 * width) }
            BLAS.gemm(.none, .transpose, m: tokens, n: 3 * width, k: width,
                      a: input, lda: width, b: weight.pointer, ldb: width, beta: 1, c: qp, ldc: 3 * width)
        case .separate(let q, let qb, let k, let kb, let v, let vb):
            for (part, (weight, bias)) in [(q, qb), (k, kb), (v, vb)].enumerated() {
                for t in 0..<tokens { (qp + t * 3 * width + part * width).update(from: bias.pointer, count: width) }
                BLAS.gemm(.none, .transpose, m: tokens, n: width, k: width,
                          a: input, lda: width, b: weight.pointer, ldb: width, beta: 1,
                          c: qp + part * width, ldc: 3 * width)
            }
        }
        // attention output reuses `normed` as scratch: [tokens, W]
        Ops.attention(q: qp, ldq: 3 * width, k: qp + width, ldk: 3 * width, v: qp + 2 * width, ldv: 3 * width,
                      out: np, ldo: width, batch: batch, seq: seq, heads: c.heads, headDim: c.headDim,
                      causal: causal, keyLengths: keyLengths)
        // x += attn · Woᵀ + bo  (accumulate straight into the residual stream)
        Ops.addRowVector(xp, rows: tokens, dim: width, w.outBias.pointer)
        BLAS.gemm(.none, .transpose, m: tokens, n: width, k: width,
                  a: np, lda: width, b: w.outWeight.pointer, ldb: width, beta: 1, c: xp, ldc: width)
        if c.norm == .post {
            Ops.layerNorm(xp, rows: tokens, dim: width, gamma: w.norm1Weight.pointer, beta: w.norm1Bias.pointer, eps: eps)
        }

        // --- MLP sub-layer -------------------------------------------------------
        input = UnsafePointer(xp)
        if c.norm == .pre {
            np.update(from: xp, count: tokens * width)
            Ops.layerNorm(np, rows: tokens, dim: width, gamma: w.norm2Weight.pointer, beta: w.norm2Bias.pointer, eps: eps)
            input = UnsafePointer(np)
        }
        let mlp = c.mlpWidth
        let hp = scratch.hidden.mutablePointer
        for t in 0..<tokens { (hp + t * mlp).update(from: w.fcBias.pointer, count: mlp) }
        BLAS.gemm(.none, .transpose, m: tokens, n: mlp, k: width,
                  a: input, lda: width, b: w.fcWeight.pointer, ldb: width, beta: 1, c: hp, ldc: mlp)
        c.activation.apply(hp, count: tokens * mlp)
        Ops.addRowVector(xp, rows: tokens, dim: width, w.projBias.pointer)
        BLAS.gemm(.none, .transpose, m: tokens, n: width, k: mlp,
                  a: hp, lda: mlp, b: w.projWeight.pointer, ldb: mlp, beta: 1, c: xp, ldc: width)
        if c.norm == .post {
            Ops.layerNorm(xp, rows: tokens, dim: width, gamma: w.norm2Weight.pointer, beta: w.norm2Bias.pointer, eps: eps)
        }
    }
}
