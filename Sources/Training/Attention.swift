import Foundation
import Models
import Tensor

/// How a token block `[batch·seq, width]` splits into sequences, and which keys each
/// query may see: `causal` hides later positions (CLIP text); `keyLengths[b]` hides key
/// positions ≥ that length (padding).
public struct AttentionLayout: Sendable, Equatable {
    public var batch: Int
    public var seq: Int
    public var causal: Bool
    public var keyLengths: [Int]?

    public init(batch: Int, seq: Int, causal: Bool = false, keyLengths: [Int]? = nil) {
        self.batch = batch; self.seq = seq; self.causal = causal; self.keyLengths = keyLengths
    }

    public var tokens: Int { batch * seq }

    func validate() throws {
        guard batch >= 0, seq >= 0 else { throw TrainingError.shapeMismatch("layout batch \(batch), seq \(seq)") }
        if let k = keyLengths, k.count != batch {
            throw TrainingError.shapeMismatch("\(k.count) key lengths for a batch of \(batch)")
        }
    }

    /// Number of keys query `i` of sequence `b` may attend to (keys 0..<limit).
    @inline(__always)
    func keyLimit(batch b: Int, query i: Int) -> Int {
        let valid = keyLengths.map { min(max($0[b], 0), seq) } ?? seq
        return causal ? min(i + 1, valid) : valid
    }
}

/// Scaled dot-product attention over a packed `[tokens, 3W]` QKV block, keeping the
/// softmax probabilities for backward. Every product is one sgemm per (sequence, head).
public enum AttentionCore {
    /// Returns the attention output `[tokens, W]` and the probabilities `[batch, heads, seq, seq]`.
    public static func forward(qkv: Tensor, layout: AttentionLayout, heads: Int) throws -> (out: Tensor, probs: Tensor) {
        try layout.validate()
        guard qkv.rank == 2, qkv.shape[0] == layout.tokens, qkv.shape[1] % (3 * max(heads, 1)) == 0, heads > 0 else {
            throw TrainingError.shapeMismatch("attention: qkv \(qkv.shape) for \(layout.tokens) tokens, \(heads) heads")
        }
        let w = qkv.shape[1] / 3, hd = w / heads, s = layout.seq, ld = 3 * w
        let scale = 1 / Float(hd).squareRoot()
        var out = Tensor(zeros: [layout.tokens, w])
        var probs = Tensor(zeros: [layout.batch, heads, s, s])
        let q = qkv.pointer, op = out.mutablePointer, pp = probs.mutablePointer
        for b in 0..<layout.batch {
            for h in 0..<heads {
                let qb = q + b * s * ld + h * hd
                let p = pp + (b * heads + h) * s * s
                // scores[s, s] = scale · Q_bh · K_bhᵀ
                BLAS.gemm(.none, .transpose, m: s, n: s, k: hd, alpha: scale,
                          a: qb, lda: ld, b: qb + w, ldb: ld, c: p, ldc: s)
                for i in 0..<s {
                    let row = p + i * s
                    let limit = layout.keyLimit(batch: b, query: i)
                    if limit < s { (row + limit).update(repeating: -Float.infinity, count: s - limit) }
                    Ops.softmax(row, rows: 1, dim: s)  // fully masked row → zeros
                }
                // out_bh[s, hd] = P · V_bh
                BLAS.gemm(.none, .none, m: s, n: hd, k: s, a: p, lda: s, b: qb + 2 * w, ldb: ld,
                          c: op + b * s * w + h * hd, ldc: w)
            }
        }
        return (out, probs)
    }

    /// Gradient of the packed QKV block from the output gradient `[tokens, W]`.
    public static func backward(gradOut: Tensor, qkv: Tensor, probs: Tensor, layout: AttentionLayout, heads: Int) throws -> Tensor {
        let w = qkv.shape[1] / 3, hd = w / heads, s = layout.seq, ld = 3 * w
        try checkSame(gradOut, [layout.tokens, w], "attention backward")
        let scale = 1 / Float(hd).squareRoot()
        var dqkv = Tensor(zeros: qkv.shape)
        let q = qkv.pointer, dq = dqkv.mutablePointer, go = gradOut.pointer, pp = probs.pointer
        let dS = UnsafeMutablePointer<Float>.allocate(capacity: max(s * s, 1))
        defer { dS.deallocate() }
        let faulty = BackwardFaults.active == .softmaxJacobian
        for b in 0..<layout.batch {
            for h in 0..<heads {
                let off = b * s * ld + h * hd
                let p = pp + (b * heads + h) * s * s
                let dO = go + b * s * w + h * hd
                // dV = Pᵀ · dO
                BLAS.gemm(.transpose, .none, m: s, n: hd, k: s, a: p, lda: s, b: dO, ldb: w,
                          c: dq + off + 2 * w, ldc: ld)
                // dP = dO · Vᵀ
                BLAS.gemm(.none, .transpose, m: s, n: s, k: hd, a: dO, lda: w, b: q + off + 2 * w, ldb: ld,
                          c: dS, ldc: s)
                // softmax backward: dS = P ⊙ (dP − Σ_k P·dP)   (masked entries have P = 0)
                for i in 0..<s {
                    let pr = p + i * s, dr = dS + i * s
                    var dot: Float = 0
                    for j in 0..<s { dot += pr[j] * dr[j] }
                    if faulty { dot = 0 }
                    for j in 0..<s { dr[j] = pr[j] * (dr[j] - dot) }
                }
                // dQ = scale · dS · K ; dK = scale · dSᵀ · Q
                BLAS.gemm(.none, .none, m: s, n: hd, k: s, alpha: scale, a: dS, lda: s, b: q + off + w, ldb: ld,
                          c: dq + off, ldc: ld)
                BLAS.gemm(.transpose, .none, m: s, n: hd, k: s, alpha: scale, a: dS, lda: s, b: q + off, ldb: ld,
                          c: dq + off + w, ldc: ld)
            }
        }
        return dqkv
    }
}

/// Multi-head self-attention with a packed QKV projection (`[3W, W]`, OpenAI `in_proj`
/// layout: rows q, then k, then v) and an output projection.
public final class MultiHeadAttention: ParameterHolder, @unchecked Sendable {
    public let qkv: Linear
    public let out: Linear
    public let heads: Int
    public var width: Int { out.outFeatures }
    public var parameters: [Parameter] { qkv.parameters + out.parameters }

    public final class Cache {
        let qkvCache = Linear.Cache(), outCache = Linear.Cache()
        var packed = Tensor(zeros: [0]), probs = Tensor(zeros: [0])
        var layout = AttentionLayout(batch: 0, seq: 0)
        public init() {}
    }

    public init(qkv: Linear, out: Linear, heads: Int) throws {
        let w = out.outFeatures
        guard heads > 0, w % heads == 0, qkv.inFeatures == w, qkv.outFeatures == 3 * w, out.inFeatures == w else {
            throw TrainingError.shapeMismatch("attention: qkv \(qkv.weight.shape), out \(out.weight.shape), \(heads) heads")
        }
        self.qkv = qkv; self.out = out; self.heads = heads
    }

    public convenience init(name: String, width: Int, heads: Int, rng: inout TrainingRNG) throws {
        try self.init(qkv: Linear(name: name + ".qkv", inFeatures: width, outFeatures: 3 * width, rng: &rng),
                      out: Linear(name: name + ".out", inFeatures: width, outFeatures: width, rng: &rng), heads: heads)
    }

    public func forward(_ x: Tensor, layout: AttentionLayout, cache: Cache? = nil) throws -> Tensor {
        let packed = try qkv.forward(x, cache: cache?.qkvCache)
        let (o, probs) = try AttentionCore.forward(qkv: try packed.reshaped([layout.tokens, 3 * width]), layout: layout, heads: heads)
        if let cache { cache.packed = packed; cache.probs = probs; cache.layout = layout }
        return try out.forward(o, cache: cache?.outCache)
    }

    public func backward(_ dy: Tensor, cache: Cache) throws -> Tensor {
        let dO = try out.backward(dy, cache: cache.outCache)
        let dqkv = try AttentionCore.backward(gradOut: dO, qkv: try cache.packed.reshaped([cache.layout.tokens, 3 * width]),
                                              probs: cache.probs, layout: cache.layout, heads: heads)
        return try qkv.backward(dqkv, cache: cache.qkvCache)
    }
}

/// One transformer layer. Pre-LN (CLIP): `h = x + attn(ln1(x)); y = h + mlp(ln2(h))`.
/// Post-LN (BERT): `h = ln1(x + attn(x)); y = ln2(h + mlp(h))`.
public final class TransformerBlock: ParameterHolder, @unchecked Sendable {
    public let ln1: LayerNorm
    public let attention: MultiHeadAttention
    public let ln2: LayerNorm
    public let mlp: MLP
    public let norm: NormPlacement
    public var parameters: [Parameter] { ln1.parameters + attention.parameters + ln2.parameters + mlp.parameters }

    public final class Cache {
        let ln1 = LayerNorm.Cache(), attn = MultiHeadAttention.Cache(), ln2 = LayerNorm.Cache(), mlp = MLP.Cache()
        public init() {}
    }

    public init(ln1: LayerNorm, attention: MultiHeadAttention, ln2: LayerNorm, mlp: MLP, norm: NormPlacement) {
        self.ln1 = ln1; self.attention = attention; self.ln2 = ln2; self.mlp = mlp; self.norm = norm
    }

    /// A freshly initialised block; parameter names `name.ln1.weight`, `name.attn.qkv.weight`, …
    public convenience init(name: String, width: Int, heads: Int, mlpWidth: Int, activation: Activation,
                            norm: NormPlacement = .pre, eps: Float = 1e-5, rng: inout TrainingRNG) throws {
        self.init(ln1: LayerNorm(name: name + ".ln1", dim: width, eps: eps),
                  attention: try MultiHeadAttention(name: name + ".attn", width: width, heads: heads, rng: &rng),
                  ln2: LayerNorm(name: name + ".ln2", dim: width, eps: eps),
                  mlp: MLP(name: name + ".mlp", width: width, hidden: mlpWidth, activation: activation, rng: &rng),
                  norm: norm)
    }

    /// Wraps a loaded model layer (Models' `TransformerLayerWeights`), e.g. a frozen CLIP
    /// text tower for prompt tuning. Separate q/k/v weights are packed into one [3W, W]
    /// block (one copy at load).
    public convenience init(name: String, weights w: TransformerLayerWeights, config c: TransformerConfig,
                            trainable: Bool) throws {
        let qkvWeight: Tensor, qkvBias: Tensor
        switch w.qkv {
        case .packed(let weight, let bias): qkvWeight = weight; qkvBias = bias
        case .separate(let q, let qb, let k, let kb, let v, let vb):
            qkvWeight = try Tensor.stack([q, k, v]).reshaped([3 * c.width, c.width])
            qkvBias = try Tensor.stack([qb, kb, vb]).reshaped([3 * c.width])
        }
        let attn = try MultiHeadAttention(
            qkv: try Linear(name: name + ".attn.qkv", weight: qkvWeight, bias: qkvBias, trainable: trainable),
            out: try Linear(name: name + ".attn.out", weight: w.outWeight, bias: w.outBias, trainable: trainable),
            heads: c.heads)
        self.init(ln1: try LayerNorm(name: name + ".ln1", gamma: w.norm1Weight, beta: w.norm1Bias, eps: c.layerNormEps, trainable: trainable),
                  attention: attn,
                  ln2: try LayerNorm(name: name + ".ln2", gamma: w.norm2Weight, beta: w.norm2Bias, eps: c.layerNormEps, trainable: trainable),
                  mlp: MLP(fc: try Linear(name: name + ".mlp.fc", weight: w.fcWeight, bias: w.fcBias, trainable: trainable),
                           activation: c.activation,
                           proj: try Linear(name: name + ".mlp.proj", weight: w.projWeight, bias: w.projBias, trainable: trainable)),
                  norm: c.norm)
    }

    public func forward(_ x: Tensor, layout: AttentionLayout, cache: Cache? = nil) throws -> Tensor {
        switch norm {
        case .pre:
            var h = try attention.forward(try ln1.forward(x, cache: cache?.ln1), layout: layout, cache: cache?.attn)
            Ops.addInPlace(h.mutablePointer, x.pointer, count: h.count)
            var y = try mlp.forward(try ln2.forward(h, cache: cache?.ln2), cache: cache?.mlp)
            Ops.addInPlace(y.mutablePointer, h.pointer, count: y.count)
            return y
        case .post:
            var a = try attention.forward(x, layout: layout, cache: cache?.attn)
            Ops.addInPlace(a.mutablePointer, x.pointer, count: a.count)
            let h = try ln1.forward(a, cache: cache?.ln1)
            var m = try mlp.forward(h, cache: cache?.mlp)
            Ops.addInPlace(m.mutablePointer, h.pointer, count: m.count)
            return try ln2.forward(m, cache: cache?.ln2)
        }
    }

    public func backward(_ dy: Tensor, cache: Cache) throws -> Tensor {
        switch norm {
        case .pre:
            var dh = try ln2.backward(try mlp.backward(dy, cache: cache.mlp), cache: cache.ln2)
            Ops.addInPlace(dh.mutablePointer, dy.pointer, count: dh.count)   // residual
            var dx = try ln1.backward(try attention.backward(dh, cache: cache.attn), cache: cache.ln1)
            Ops.addInPlace(dx.mutablePointer, dh.pointer, count: dx.count)
            return dx
        case .post:
            let dm = try ln2.backward(dy, cache: cache.ln2)
            var dh = try mlp.backward(dm, cache: cache.mlp)
            Ops.addInPlace(dh.mutablePointer, dm.pointer, count: dh.count)
            let da = try ln1.backward(dh, cache: cache.ln1)
            var dx = try attention.backward(da, cache: cache.attn)
            Ops.addInPlace(dx.mutablePointer, da.pointer, count: dx.count)
            return dx
        }
    }
}

/// A stack of transformer blocks (names `name.0.…`, `name.1.…`).
public final class Transformer: ParameterHolder, @unchecked Sendable {
    public let blocks: [TransformerBlock]
    public var parameters: [Parameter] { blocks.flatMap(\.parameters) }

    public final class Cache {
        public internal(set) var blocks: [TransformerBlock.Cache]
        public init(layers: Int) { blocks = (0..<layers).map { _ in TransformerBlock.Cache() } }
    }

    public init(blocks: [TransformerBlock]) { self.blocks = blocks }

    public convenience init(name: String, layers: Int, width: Int, heads: Int, mlpWidth: Int, activation: Activation,
                            norm: NormPlacement = .pre, eps: Float = 1e-5, rng: inout TrainingRNG) throws {
        self.init(blocks: try (0..<layers).map {
            try TransformerBlock(name: "\(name).\($0)", width: width, heads: heads, mlpWidth: mlpWidth,
                                 activation: activation, norm: norm, eps: eps, rng: &rng)
        })
    }

    /// Wraps a loaded `TransformerStack` (frozen for prompt tuning, or trainable for fine-tuning).
    public convenience init(name: String, stack: TransformerStack, trainable: Bool) throws {
        self.init(blocks: try stack.layers.enumerated().map {
            try TransformerBlock(name: "\(name).\($0.offset)", weights: $0.element, config: stack.config, trainable: trainable)
        })
    }

    public func makeCache() -> Cache { Cache(layers: blocks.count) }

    public func forward(_ x: Tensor, layout: AttentionLayout, cache: Cache? = nil) throws -> Tensor {
        if let cache, cache.blocks.count != blocks.count { cache.blocks = (0..<blocks.count).map { _ in .init() } }
        var h = x
        for (i, block) in blocks.enumerated() { h = try block.forward(h, layout: layout, cache: cache?.blocks[i]) }
        return h
    }

    public func backward(_ dy: Tensor, cache: Cache) throws -> Tensor {
        var g = dy
        for (i, block) in blocks.enumerated().reversed() { g = try block.backward(g, cache: cache.blocks[i]) }
        return g
    }
}
