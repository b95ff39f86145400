import Foundation
import Models
import Tensor
import Training

/// Shape of the tuned part of DialCLIP. Defaults keep the trainable count at 0.032% of
/// ViT-B/32 CLIP (48,147 parameters; see `DialCLIPConfig.trainableParameterCount`).
public struct DialCLIPConfig: Sendable, Equatable {
    /// P: generated context prompt vectors (0 = no context generator, the ablation).
    public var contextPrompts: Int
    /// Q: learned domain prompt vectors per prompted layer (0 = no domain prompt).
    public var domainPrompts: Int
    /// Prompted layers: 1 = shallow (prompts only at the input); L > 1 = deep (the prompt
    /// positions are overwritten at the input of each of the first L layers).
    public var promptedLayers: Int
    /// Width of the generator's low-rank bottleneck.
    public var generatorHidden: Int
    /// Rank r of each expert's residual adapter `x + B·A·x`.
    public var expertRank: Int
    /// One shared expert instead of one per retrieval type (the ablation).
    public var singleExpert: Bool
    /// Token window of the query (including start/end tokens); the newest turns are kept.
    public var maxContextTokens: Int
    /// Newest turns whose frozen embeddings feed the context features.
    public var maxFeatureTurns: Int

    public init(contextPrompts: Int = 4, domainPrompts: Int = 4, promptedLayers: Int = 6, generatorHidden: Int = 8,
                expertRank: Int = 4, singleExpert: Bool = false, maxContextTokens: Int = 64, maxFeatureTurns: Int = 32) {
        self.contextPrompts = contextPrompts; self.domainPrompts = domainPrompts; self.promptedLayers = promptedLayers
        self.generatorHidden = generatorHidden; self.expertRank = expertRank; self.singleExpert = singleExpert
        self.maxContextTokens = maxContextTokens; self.maxFeatureTurns = maxFeatureTurns
    }

    /// "deep" or "shallow".
    public var variant: String { promptedLayers > 1 ? "deep" : "shallow" }
    /// Prompt tokens inserted after the start token (P + Q).
    public var promptTokens: Int { contextPrompts + domainPrompts }

    func validate(layers: Int) throws {
        guard contextPrompts >= 0, domainPrompts >= 0, promptedLayers >= 1, promptedLayers <= max(layers, 1),
              generatorHidden >= 1, expertRank >= 1, maxContextTokens >= 2, maxFeatureTurns >= 1 else {
            throw DialCLIPError.invalidConfiguration("P \(contextPrompts), Q \(domainPrompts), L \(promptedLayers) of \(layers) layers, "
                + "hidden \(generatorHidden), rank \(expertRank), window \(maxContextTokens), feature turns \(maxFeatureTurns)")
        }
    }

    /// Exact trainable count for a tower of hidden width `width`, output dimension `embedDim`:
    /// generator (2D+1 → h → P·W) + domain prompt (L·Q·W) + experts (2·D·r each) + routing
    /// (2D+1 → 1) + the logit scale.
    public func trainableParameterCount(width: Int, embedDim d: Int) -> Int {
        let features = 2 * d + 1
        let generator = contextPrompts > 0 ? features * generatorHidden + generatorHidden + generatorHidden * contextPrompts * width + contextPrompts * width : 0
        let domain = promptedLayers * domainPrompts * width
        let experts = (singleExpert ? 1 : 2) * 2 * d * expertRank
        return generator + domain + experts + features + 1 + 1
    }
}

/// The retrieval types, one expert each.
public enum DialCLIPExpert: String, Sendable, CaseIterable {
    case image, reply
}

/// A query ready for the prompted tower: the token window and the frozen context features.
public struct PreparedContext: Sendable {
    /// `[start] + newest turns' tokens + [end]`.
    public var ids: [Int]
    /// mean(turn embeddings) ⊕ mean(image embeddings or 0) ⊕ no-image flag — generator input (2D+1).
    public var generatorFeatures: [Float]
    /// mean(turn embeddings) ⊕ newest turn embedding ⊕ no-image flag — routing input (2D+1).
    public var routingFeatures: [Float]
}

/// The tuned parameters of DialCLIP around a frozen `TextTower`, with a hand-written
/// forward/backward of the prompted tower. Only these parameters are trained and saved.
public final class DialCLIPModel: @unchecked Sendable {
    public let config: DialCLIPConfig
    public let tower: TextTower
    public let parameters: ParameterSet
    let generatorFC: Linear?
    let generatorOut: Linear?
    let activation = ActivationLayer(.gelu)
    let domain: Parameter?
    let expertA: [Linear]
    let expertB: [Linear]
    let routing: Linear
    public let logitScale: LogitScale

    /// Fresh parameters (seeded): generator PyTorch-style, domain prompt N(0, 0.1²)·embedding
    /// scale, expert A ~ N(0, 1/D), expert B = 0 (the expert starts as the identity).
    public init(tower: TextTower, config: DialCLIPConfig = DialCLIPConfig(), seed: UInt64 = 0) throws {
        try config.validate(layers: tower.layerCount)
        self.config = config
        self.tower = tower
        var rng = TrainingRNG(seed: seed)
        let d = tower.embedDim, w = tower.width, features = 2 * d + 1
        if config.contextPrompts > 0 {
            let fc = Linear(name: "generator.fc", inFeatures: features, outFeatures: config.generatorHidden, rng: &rng)
            let out = Linear(name: "generator.out", inFeatures: config.generatorHidden, outFeatures: config.contextPrompts * w, rng: &rng)
            generatorFC = fc; generatorOut = out
        } else { generatorFC = nil; generatorOut = nil }
        if config.domainPrompts > 0 {
            domain = Parameter(name: "domain_prompt", value: rng.normalTensor([config.promptedLayers, config.domainPrompts, w], std: 0.1),
                               weightDecay: false)
        } else { domain = nil }
        let names = config.singleExpert ? ["shared"] : DialCLIPExpert.allCases.map(\.rawValue)
        var a: [Linear] = [], b: [Linear] = []
        for n in names {
            a.append(try Linear(name: "expert.\(n).a", weight: rng.normalTensor([config.expertRank, d], std: 1 / Float(d).squareRoot()), bias: nil))
            b.append(try Linear(name: "expert.\(n).b", weight: Tensor(zeros: [d, config.expertRank]), bias: nil))
        }
        expertA = a; expertB = b
        routing = try Linear(name: "routing", weight: Tensor(zeros: [1, features]), bias: Tensor(zeros: [1]))
        logitScale = LogitScale(name: "logit_scale", initial: logf(20))
        var all: [Parameter] = []
        if let generatorFC, let generatorOut { all += generatorFC.parameters + generatorOut.parameters }
        if let domain { all.append(domain) }
        for (x, y) in zip(expertA, expertB) { all += x.parameters + y.parameters }
        all += routing.parameters + logitScale.parameters
        parameters = try ParameterSet(all)
    }

    /// Exact number of tuned scalars.
    public var trainableParameterCount: Int { parameters.trainableCount }
    /// Share of the backbone (tuned / (backbone + tuned)).
    public var trainableShare: Double {
        Double(trainableParameterCount) / Double(tower.backboneParameterCount + trainableParameterCount)
    }

    func expertIndex(_ e: DialCLIPExpert) -> Int { config.singleExpert ? 0 : (e == .image ? 0 : 1) }

    // MARK: Forward / backward

    /// Everything backward needs.
    public final class Cache {
        var batch = 0, seq0 = 0, seq = 0, k = 0
        var valid: [Int] = [], eot: [Int] = []
        let genFC = Linear.Cache(), genAct = ActivationLayer.Cache(), genOut = Linear.Cache()
        var blocks: [TransformerBlock.Cache] = []
        let head = TextTower.HeadCache()
        var rowsByExpert: [[Int]] = []
        var expertA: [Linear.Cache] = [], expertB: [Linear.Cache] = []
        var normalized: [Tensor] = [], norms: [[Float]] = []
        public init() {}
    }

    /// The generated context prompts `[B, P, W]` (nil when P = 0).
    func generate(_ features: Tensor, cache: Cache?) throws -> Tensor? {
        guard let fc = generatorFC, let out = generatorOut else { return nil }
        let h = activation.forward(try fc.forward(features, cache: cache?.genFC), cache: cache?.genAct)
        let p = try out.forward(h, cache: cache?.genOut)
        return try p.reshaped([features.shape[0], config.contextPrompts, tower.width])
    }

    /// Prompt block `[B, K, W]` for layer `l`: context prompts then the layer's domain prompt.
    func promptBlock(context: Tensor?, layer l: Int, batch: Int) -> Tensor {
        let w = tower.width, p = config.contextPrompts, q = config.domainPrompts, k = p + q
        var out = Tensor(zeros: [batch, k, w])
        let o = out.mutablePointer
        for b in 0..<batch {
            if let context { (o + b * k * w).update(from: context.pointer + b * p * w, count: p * w) }
            if let domain { (o + (b * k + p) * w).update(from: domain.value.pointer + l * q * w, count: q * w) }
        }
        return out
    }

    /// Query embeddings `[B, D]` (L2-normalised) of prepared contexts, row i through
    /// expert `experts[i]`. With `cache`, keeps what `backward` needs.
    public func forward(_ contexts: [PreparedContext], experts: [DialCLIPExpert], cache: Cache? = nil) throws -> Tensor {
        let batch = contexts.count
        guard batch > 0, experts.count == batch else { throw DialCLIPError.invalidInput("\(batch) contexts, \(experts.count) experts") }
        let d = tower.embedDim, w = tower.width, k = config.promptTokens
        let seq0 = contexts.map(\.ids.count).max() ?? 2
        let seq = seq0 + k
        var feats = Tensor(zeros: [batch, 2 * d + 1])
        for (b, c) in contexts.enumerated() {
            guard c.generatorFeatures.count == 2 * d + 1 else { throw DialCLIPError.invalidInput("context features of size \(c.generatorFeatures.count), expected \(2 * d + 1)") }
            (feats.mutablePointer + b * (2 * d + 1)).update(from: c.generatorFeatures, count: 2 * d + 1)
        }
        let ctx = try generate(feats, cache: cache)
        var x = try tower.embed(ids: contexts.map(\.ids), seq: seq0)
        if k > 0 { x = try PromptInsertion.forward(x, prompts: promptBlock(context: ctx, layer: 0, batch: batch), batch: batch, seq: seq0, at: 1, mode: .insert) }
        let valid = contexts.map { $0.ids.count + k }
        let layout = AttentionLayout(batch: batch, seq: seq, causal: tower.causal, keyLengths: valid)
        if let cache {
            cache.batch = batch; cache.seq0 = seq0; cache.seq = seq; cache.k = k; cache.valid = valid
            cache.blocks = tower.layers.blocks.map { _ in TransformerBlock.Cache() }
        }
        for (l, block) in tower.layers.blocks.enumerated() {
            if l >= 1 && l < config.promptedLayers && k > 0 {
                x = try PromptInsertion.forward(x, prompts: promptBlock(context: ctx, layer: l, batch: batch), batch: batch, seq: seq, at: 1, mode: .replace)
            }
            x = try block.forward(x, layout: layout, cache: cache?.blocks[l])
        }
        let eot = contexts.map { $0.ids.count - 1 + k }
        cache?.eot = eot
        let pooled = try tower.pool(x, batch: batch, seq: seq, valid: valid, eot: eot, cache: cache?.head)
        // Experts: residual low-rank adapters, then L2 normalisation.
        let groups = (0..<expertA.count).map { e in (0..<batch).filter { expertIndex(experts[$0]) == e } }
        var result = Tensor(zeros: [batch, d])
        if let cache { cache.rowsByExpert = groups; cache.expertA = groups.map { _ in .init() }; cache.expertB = groups.map { _ in .init() }; cache.normalized = []; cache.norms = [] }
        for (e, rows) in groups.enumerated() {
            guard !rows.isEmpty else { cache?.normalized.append(Tensor(zeros: [0])); cache?.norms.append([]); continue }
            let xe = gather(pooled, rows: rows, dim: d)
            var y = try expertB[e].forward(try expertA[e].forward(xe, cache: cache?.expertA[e]), cache: cache?.expertB[e])
            Ops.addInPlace(y.mutablePointer, xe.pointer, count: y.count)
            let (n, norms) = try L2Normalize.forward(y)
            cache?.normalized.append(n); cache?.norms.append(norms)
            for (i, r) in rows.enumerated() { (result.mutablePointer + r * d).update(from: n.pointer + i * d, count: d) }
        }
        _ = w
        return result
    }

    /// Backpropagates dL/d(query embeddings) `[B, D]` into the tuned parameters' gradients.
    public func backward(_ dy: Tensor, cache: Cache) throws {
        let d = tower.embedDim, w = tower.width, p = config.contextPrompts, q = config.domainPrompts, k = cache.k
        let batch = cache.batch
        var dPooled = Tensor(zeros: [batch, d])
        for (e, rows) in cache.rowsByExpert.enumerated() where !rows.isEmpty {
            let g = gather(dy, rows: rows, dim: d)
            var dxe = try L2Normalize.backward(g, y: cache.normalized[e], norms: cache.norms[e])
            let dA = try expertB[e].backward(dxe, cache: cache.expertB[e])
            let dx2 = try expertA[e].backward(dA, cache: cache.expertA[e])
            Ops.addInPlace(dxe.mutablePointer, dx2.pointer, count: dxe.count)
            for (i, r) in rows.enumerated() { (dPooled.mutablePointer + r * d).update(from: dxe.pointer + i * d, count: d) }
        }
        var g = try tower.poolBackward(dPooled, cache: cache.head)
        var dContext = Tensor(zeros: [batch, max(p, 1), w])
        func takePromptGrad(_ dp: Tensor, layer l: Int) {
            let src = dp.pointer
            for b in 0..<batch {
                if p > 0 { Ops.addInPlace(dContext.mutablePointer + b * p * w, src + b * k * w, count: p * w) }
                if q > 0, let gd = domain?.gradPointer { Ops.addInPlace(gd + l * q * w, src + (b * k + p) * w, count: q * w) }
            }
        }
        for l in stride(from: tower.layers.blocks.count - 1, through: 0, by: -1) {
            g = try tower.layers.blocks[l].backward(g, cache: cache.blocks[l])
            if l >= 1 && l < config.promptedLayers && k > 0 {
                let (dx, dp) = try PromptInsertion.backward(g, promptShape: [batch, k, w], batch: batch, seq: cache.seq, at: 1, mode: .replace)
                takePromptGrad(dp, layer: l); g = dx
            }
        }
        if k > 0 {
            let (_, dp) = try PromptInsertion.backward(g, promptShape: [batch, k, w], batch: batch, seq: cache.seq0, at: 1, mode: .insert)
            takePromptGrad(dp, layer: 0)
        }
        if p > 0, let fc = generatorFC, let out = generatorOut {
            let dh = try out.backward(try dContext.reshaped([batch, p * w]), cache: cache.genOut)
            _ = try fc.backward(try activation.backward(dh, cache: cache.genAct), cache: cache.genFC)
        }
    }

    func gather(_ t: Tensor, rows: [Int], dim: Int) -> Tensor {
        var out = Tensor(zeros: [rows.count, dim])
        for (i, r) in rows.enumerated() { (out.mutablePointer + i * dim).update(from: t.pointer + r * dim, count: dim) }
        return out
    }

    // MARK: Routing head

    /// Logits of P(next turn shares a photo) for routing feature rows `[n, 2D+1]`.
    public func routingLogits(_ features: Tensor) throws -> Tensor { try routing.forward(features) }

    /// Probability that the next turn shares a photo.
    public func photoShareProbability(_ context: PreparedContext) throws -> Float {
        let f = try Tensor(context.routingFeatures, shape: [1, context.routingFeatures.count])
        let z = try routing.forward(f)[flat: 0]
        return 1 / (1 + expf(-z))
    }

    /// Class-balanced binary cross-entropy on routing rows; accumulates gradients, returns the loss.
    public func routingLoss(features: Tensor, labels: [Bool]) throws -> Float {
        let n = labels.count
        guard n > 0, features.shape[0] == n else { throw DialCLIPError.invalidInput("routing batch of \(n)") }
        let cache = Linear.Cache()
        let z = try routing.forward(features, cache: cache)
        let pos = max(labels.filter { $0 }.count, 1), neg = max(n - labels.filter { $0 }.count, 1)
        var dz = Tensor(zeros: [n, 1])
        var loss = 0.0
        for i in 0..<n {
            let zi = z[flat: i]
            let wgt = Float(n) / (2 * Float(labels[i] ? pos : neg))
            let pr = 1 / (1 + expf(-zi))
            // log(1+e^-z) for positives, log(1+e^z) for negatives, computed stably.
            let lz = labels[i] ? -zi : zi
            loss += Double(wgt) * Double(max(lz, 0) + log1pf(expf(-abs(lz))))
            dz.mutablePointer[i] = wgt * (pr - (labels[i] ? 1 : 0)) / Float(n)
        }
        _ = try routing.backward(dz, cache: cache)
        return Float(loss / Double(n))
    }
}

/// Parameter arithmetic for the "≤0.05% of the whole model" budget.
public enum DialCLIPParameterBudget {
    /// Parameters of a ViT CLIP of this shape (both towers, projections, logit scale):
    /// vision = class + patch conv + positions + pre/post LN + layers; text = tokens +
    /// positions + layers + final LN; + both projections + 1.
    public static func clipParameterCount(_ c: CLIPConfig) -> Int {
        func layer(_ t: TransformerConfig) -> Int {
            let w = t.width, m = t.mlpWidth
            return 4 * w + (3 * w * w + 3 * w) + (w * w + w) + (m * w + m) + (w * m + w)
        }
        let vw = c.vision.width, tw = c.text.width
        let vision = vw + 3 * c.patchSize * c.patchSize * vw + c.visionTokens * vw + 4 * vw + c.vision.layers * layer(c.vision)
        let text = c.vocabularySize * tw + c.contextLength * tw + c.text.layers * layer(c.text) + 2 * tw
        return vision + text + vw * c.embedDim + tw * c.embedDim + 1
    }
}
