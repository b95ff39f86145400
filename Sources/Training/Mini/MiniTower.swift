import Foundation
import Models
import Tensor

/// One trainable dialclip-mini ensemble member, built from the Training layers. Parameter
/// names are exactly `MiniArchitecture.tensorShapes(member:)`, so its export loads into the
/// inference `MiniModel` (and a training checkpoint of another architecture is refused by
/// `Checkpoint.load`, naming the tensor).
public final class MiniTower: ParameterHolder, @unchecked Sendable {
    public let architecture: MiniArchitecture
    public let member: Int
    public let patch: PatchEmbedding
    public let positions: PositionEmbedding
    public let transformer: Transformer
    public let lnPost: LayerNorm
    public let head: Linear
    public let logitScale: LogitScale

    public var parameters: [Parameter] {
        patch.parameters + positions.parameters + transformer.parameters + lnPost.parameters + head.parameters + logitScale.parameters
    }

    /// What backward needs from one forward pass.
    public final class Cache {
        let patch = PatchEmbedding.Cache(), lnPost = LayerNorm.Cache(), head = Linear.Cache()
        var transformer: Transformer.Cache
        var batch = 0
        var normalized = Tensor(zeros: [0])
        var norms: [Float] = []
        init(layers: Int) { transformer = Transformer.Cache(layers: layers) }
    }

    public func makeCache() -> Cache { Cache(layers: architecture.layers) }

    /// A freshly initialised member (PyTorch default inits; positions N(0, 0.01²);
    /// temperature 1/0.07 as CLIP).
    public init(architecture a: MiniArchitecture, member k: Int, rng: inout TrainingRNG) throws {
        try a.validate()
        architecture = a
        member = k
        let p = "m\(k)."
        patch = PatchEmbedding(name: p + "patch", patch: a.patchSize, width: a.width, bias: true, rng: &rng)
        positions = PositionEmbedding(name: p + "pos", positions: a.tokens, width: a.width, rng: &rng)
        transformer = try Transformer(name: p + "blocks", layers: a.layers, width: a.width, heads: a.heads,
                                      mlpWidth: a.mlpWidth, activation: .gelu, norm: .pre, eps: a.layerNormEps, rng: &rng)
        lnPost = LayerNorm(name: p + "ln_post", dim: a.width, eps: a.layerNormEps)
        head = Linear(name: p + "head", inFeatures: a.featureDim, outFeatures: a.embedDim, rng: &rng)
        logitScale = LogitScale(name: p + "logit_scale")
    }

    /// Unit-norm embeddings `[B, embedDim]` from normalised pixels `[B,3,S,S]` and
    /// histograms `[B, bins³]`; the same computation as `MiniModel` at inference.
    public func forward(pixels: Tensor, histograms: Tensor, cache: Cache? = nil) throws -> Tensor {
        let a = architecture
        guard pixels.rank == 4, pixels.shape[0] > 0, histograms.shape == [pixels.shape[0], a.histogramDim] else {
            throw TrainingError.shapeMismatch("mini tower: pixels \(pixels.shape), histograms \(histograms.shape)")
        }
        let b = pixels.shape[0], t = a.tokens, w = a.width
        let tokens = try positions.forward(try patch.forward(pixels, cache: cache?.patch), batch: b, seq: t)
        let h = try transformer.forward(tokens, layout: AttentionLayout(batch: b, seq: t), cache: cache?.transformer)
        let pooled = try lnPost.forward(try MeanPooling.forward(h, batch: b, seq: t), cache: cache?.lnPost)
        var features = Tensor(zeros: [b, a.featureDim])
        let fp = features.mutablePointer
        for n in 0..<b {
            (fp + n * a.featureDim).update(from: pooled.pointer + n * w, count: w)
            (fp + n * a.featureDim + w).update(from: histograms.pointer + n * a.histogramDim, count: a.histogramDim)
        }
        let projected = try head.forward(features, cache: cache?.head)
        let (y, norms) = try L2Normalize.forward(projected)
        if let cache { cache.batch = b; cache.normalized = y; cache.norms = norms }
        return y
    }

    /// Accumulates parameter gradients from dL/d(embedding) `[B, embedDim]`.
    public func backward(_ dy: Tensor, cache: Cache) throws {
        let a = architecture, b = cache.batch, t = a.tokens, w = a.width
        let dProjected = try L2Normalize.backward(dy, y: cache.normalized, norms: cache.norms)
        let dFeatures = try head.backward(dProjected, cache: cache.head)
        var dPooled = Tensor(zeros: [b, w])
        let dp = dPooled.mutablePointer
        for n in 0..<b { (dp + n * w).update(from: dFeatures.pointer + n * a.featureDim, count: w) }
        let dh = try MeanPooling.backward(try lnPost.backward(dPooled, cache: cache.lnPost), batch: b, seq: t)
        let dTokens = try positions.backward(try transformer.backward(dh, cache: cache.transformer), batch: b, seq: t)
        _ = try patch.backward(dTokens, cache: cache.patch)
    }

    /// The member's tensors by name (for `MiniModel`).
    public var tensors: [String: Tensor] {
        Dictionary(uniqueKeysWithValues: parameters.map { ($0.name, $0.value) })
    }
}
