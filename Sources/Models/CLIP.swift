import Foundation
import Tensor

/// Architecture of a CLIP model, inferred from tensor shapes plus the few facts shapes
/// cannot give (head counts, activation).
public struct CLIPConfig: Sendable, Equatable {
    /// OpenAI's ViT-B/32 (the shapes the benchmarks use).
    public static let vitB32 = CLIPConfig(
        vision: TransformerConfig(width: 768, layers: 12, heads: 12, mlpWidth: 3072, activation: .quickGELU, layerNormEps: 1e-5, norm: .pre),
        text: TransformerConfig(width: 512, layers: 12, heads: 8, mlpWidth: 2048, activation: .quickGELU, layerNormEps: 1e-5, norm: .pre),
        imageSize: 224, patchSize: 32, contextLength: 77, vocabularySize: 49408, embedDim: 512, provenance: "ViT-B/32")

    public var vision: TransformerConfig
    public var text: TransformerConfig
    public var imageSize: Int
    public var patchSize: Int
    public var contextLength: Int
    public var vocabularySize: Int
    public var embedDim: Int
    /// Where the head counts / activation came from (for `models verify`).
    public var provenance: String

    public var gridSize: Int { imageSize / patchSize }
    public var visionTokens: Int { gridSize * gridSize + 1 }
}

/// Checkpoint layouts dialclip reads.
public enum CLIPLayout: String, Sendable {
    case huggingFace = "huggingface"
    case openAI = "openai"
}

/// Values that shapes cannot give, supplied by the user when the file does not say.
public struct CLIPOverrides: Sendable {
    public var visionHeads: Int?
    public var textHeads: Int?
    public var activation: Activation?
    public init(visionHeads: Int? = nil, textHeads: Int? = nil, activation: Activation? = nil) {
        self.visionHeads = visionHeads; self.textHeads = textHeads; self.activation = activation
    }
}

/// A CLIP model (ViT image tower + causal text transformer), fp32 numerics, weights
/// memory-mapped — or, with `precision: .f16`, the transformer matrices and the token
/// table held as fp16 (about half the resident memory) and widened one layer at a time.
/// Loads Hugging Face (`config.json` + `model.safetensors`) and OpenAI/open_clip layouts.
public final class CLIPModel: @unchecked Sendable {
    public static let startOfText = 49406
    public static let endOfText = 49407

    public let config: CLIPConfig
    public let layout: CLIPLayout
    public let path: String
    /// Warnings raised while resolving the config (e.g. heads guessed as width/64).
    public let warnings: [String]
    /// log-space logit scale as stored.
    public let logitScale: Float
    public let parameterCount: Int
    /// dtype of the weights in the file (F32, F16, …).
    public let storedDType: String
    /// How the large weights are held in memory.
    public let precision: WeightPrecision

    // Vision tower
    let classEmbedding: Tensor        // [Wv]
    let patchWeight: Tensor           // [Wv, 3, p, p] → used as [Wv, 3·p·p]
    let visionPositions: Tensor       // [tokens, Wv]
    let preNormWeight: Tensor, preNormBias: Tensor
    let visionStack: TransformerStack
    let postNormWeight: Tensor, postNormBias: Tensor
    let visualProjection: ProjectionMatrix
    // Text tower
    let tokenEmbedding: EmbeddingTable  // [V, Wt]
    let textPositions: Tensor         // [ctx, Wt]
    let textStack: TransformerStack
    let finalNormWeight: Tensor, finalNormBias: Tensor
    let textProjection: ProjectionMatrix

    /// Loads a checkpoint: a folder (HF `config.json` + `model.safetensors`, or a folder
    /// holding one `.safetensors` with an optional `open_clip_config.json`) or a
    /// `.safetensors` file.
    public init(path: String, overrides: CLIPOverrides = CLIPOverrides(), precision: WeightPrecision = .f32) throws {
        let resolved = try CLIPFiles(path: path)
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(path: resolved.weights) } catch let e as SafeTensorsError { throw ModelError.weights(e) }
        self.path = resolved.weights
        let r = WeightReader(file)

        let layout: CLIPLayout
        if r.has("vision_model.embeddings.patch_embedding.weight") { layout = .huggingFace }
        else if r.has("visual.conv1.weight") { layout = .openAI }
        else if r.has("visual.layer1.0.conv1.weight") {
            throw ModelError.unsupported("\(resolved.weights) is a ResNet CLIP; only ViT CLIP models are supported")
        } else {
            throw ModelError.unrecognisedLayout(path: resolved.weights,
                reason: "neither 'vision_model.embeddings.patch_embedding.weight' (Hugging Face) nor 'visual.conv1.weight' (OpenAI) is present")
        }
        self.layout = layout
        let names = CLIPTensorNames(layout: layout)

        // ---- shapes → architecture -------------------------------------------------
        let patchShape = try r.shape(names.patch)
        guard patchShape.count == 4, patchShape[1] == 3, patchShape[2] == patchShape[3], patchShape[2] > 0 else {
            throw ModelError.wrongShape(name: names.patch, expected: "[width, 3, p, p]", actual: patchShape)
        }
        let vWidth = patchShape[0], patch = patchShape[2]
        let vPosShape = try r.shape(names.visionPositions)
        guard vPosShape.count == 2, vPosShape[1] == vWidth, vPosShape[0] >= 2 else {
            throw ModelError.wrongShape(name: names.visionPositions, expected: "[tokens, \(vWidth)]", actual: vPosShape)
        }
        let grid = Int(Double(vPosShape[0] - 1).squareRoot().rounded())
        guard grid * grid + 1 == vPosShape[0] else {
            throw ModelError.inconsistent("'\(names.visionPositions)' has \(vPosShape[0]) rows, not a square grid + 1 class token")
        }
        let tokShape = try r.shape(names.tokenEmbedding)
        guard tokShape.count == 2, tokShape[0] > CLIPModel.endOfText else {
            throw ModelError.wrongShape(name: names.tokenEmbedding, expected: "[vocab ≥ 49408, width]", actual: tokShape)
        }
        let tWidth = tokShape[1]
        let tPosShape = try r.shape(names.textPositions)
        guard tPosShape.count == 2, tPosShape[1] == tWidth, tPosShape[0] >= 2 else {
            throw ModelError.wrongShape(name: names.textPositions, expected: "[context, \(tWidth)]", actual: tPosShape)
        }
        let vLayers = names.countLayers(r, tower: .vision)
        let tLayers = names.countLayers(r, tower: .text)
        guard vLayers > 0 else { throw ModelError.missingTensor(name: names.layer(.vision, 0, .norm1Weight), path: resolved.weights) }
        guard tLayers > 0 else { throw ModelError.missingTensor(name: names.layer(.text, 0, .norm1Weight), path: resolved.weights) }
        let vMLP = try r.shape(names.layer(.vision, 0, .fcWeight)).first ?? 0
        let tMLP = try r.shape(names.layer(.text, 0, .fcWeight)).first ?? 0
        let embedDim: Int
        switch layout {
        case .huggingFace: embedDim = try r.shape(names.visualProjection).first ?? 0
        case .openAI: embedDim = try r.shape(names.visualProjection).last ?? 0
        }

        // ---- heads and activation (shapes cannot give them) -------------------------
        let facts = try CLIPFacts.resolve(files: resolved, metadata: file.metadata, overrides: overrides,
                                          visionWidth: vWidth, textWidth: tWidth)
        for (tower, width, heads) in [("vision", vWidth, facts.visionHeads), ("text", tWidth, facts.textHeads)] {
            guard heads > 0, width % heads == 0 else {
                throw ModelError.inconsistent("\(tower) width \(width) is not divisible by \(heads) heads (\(facts.provenance))")
            }
        }
        let vConfig = TransformerConfig(width: vWidth, layers: vLayers, heads: facts.visionHeads, mlpWidth: vMLP,
                                        activation: facts.activation, layerNormEps: facts.layerNormEps, norm: .pre)
        let tConfig = TransformerConfig(width: tWidth, layers: tLayers, heads: facts.textHeads, mlpWidth: tMLP,
                                        activation: facts.activation, layerNormEps: facts.layerNormEps, norm: .pre)
        config = CLIPConfig(vision: vConfig, text: tConfig, imageSize: grid * patch, patchSize: patch,
                            contextLength: tPosShape[0], vocabularySize: tokShape[0], embedDim: embedDim,
                            provenance: facts.provenance)
        warnings = facts.warnings

        // ---- weights, every shape checked ------------------------------------------
        classEmbedding = try r.tensor(names.classEmbedding, [vWidth])
        patchWeight = try r.tensor(names.patch, patchShape)
        visionPositions = try r.tensor(names.visionPositions, vPosShape)
        preNormWeight = try r.tensor(names.preNorm + ".weight", [vWidth])
        preNormBias = try r.tensor(names.preNorm + ".bias", [vWidth])
        visionStack = try names.loadStack(r, tower: .vision, config: vConfig, precision: precision)
        postNormWeight = try r.tensor(names.postNorm + ".weight", [vWidth])
        postNormBias = try r.tensor(names.postNorm + ".bias", [vWidth])
        tokenEmbedding = precision == .f16 ? .f16(try r.halfTensor(names.tokenEmbedding, tokShape))
                                           : .f32(try r.tensor(names.tokenEmbedding, tokShape))
        textPositions = try r.tensor(names.textPositions, tPosShape)
        textStack = try names.loadStack(r, tower: .text, config: tConfig, precision: precision)
        finalNormWeight = try r.tensor(names.finalNorm + ".weight", [tWidth])
        finalNormBias = try r.tensor(names.finalNorm + ".bias", [tWidth])
        switch layout {
        case .huggingFace:
            visualProjection = .linear(try r.tensor(names.visualProjection, [embedDim, vWidth]))
            let tp = try r.shape(names.textProjection)
            textProjection = .linear(try r.tensor(names.textProjection, [tp.first ?? embedDim, tWidth]))
        case .openAI:
            visualProjection = .matrix(try r.tensor(names.visualProjection, [vWidth, embedDim]))
            textProjection = .matrix(try r.tensor(names.textProjection, [tWidth, embedDim]))
        }
        guard textProjection.outputDim == embedDim else {
            throw ModelError.inconsistent("text projection gives \(textProjection.outputDim) dimensions, image projection \(embedDim)")
        }
        logitScale = r.has("logit_scale") ? try r.tensor("logit_scale", [])[flat: 0] : log(100)

        var total = classEmbedding.count + patchWeight.count + visionPositions.count + 2 * vWidth * 2
        total += visionStack.parameterCount + textStack.parameterCount
        total += tokenEmbedding.count + textPositions.count + 2 * tWidth
        total += visualProjection.inputDim * visualProjection.outputDim + textProjection.inputDim * textProjection.outputDim
        total += r.has("logit_scale") ? 1 : 0
        parameterCount = total
        storedDType = file.tensors[names.patch]?.dtype.rawValue ?? "?"
        self.precision = precision
    }

    /// A model of the given architecture with seeded random weights (OpenAI layout), for
    /// benchmarks that need full-size shapes without a checkpoint.
    public init(randomWeights config: CLIPConfig, seed: UInt64 = 42, precision: WeightPrecision = .f32) {
        var rng = SeededGenerator(seed: seed)
        func fill(_ p: UnsafeMutablePointer<Float>, _ count: Int, _ scale: Float = 0.02) {
            for i in 0..<count { p[i] = scale * (Float(rng.next() >> 40) / Float(1 << 24) * 2 - 1) }
        }
        func rand(_ shape: [Int]) -> Tensor {
            var t = Tensor(zeros: shape)
            fill(t.mutablePointer, t.count)
            return t
        }
        // fp16 matrices are generated in one reused fp32 buffer, as the loader reads them
        // from the mapped file: no fp32 copies come and go on the heap.
        let largest = max(3 * config.vision.width * config.vision.width, config.vision.width * config.vision.mlpWidth,
                          3 * config.text.width * config.text.width, config.text.width * config.text.mlpWidth)
        let matrixScratch = TensorStorage(zeroed: precision == .f16 ? largest : 0)
        func randomMatrix(_ shape: [Int], _ collector: HalfCollector?) -> Tensor {
            guard let collector else { return rand(shape) }
            let view = Tensor(shape: shape, storage: matrixScratch)
            fill(matrixScratch.base, view.count)
            return collector.narrow(view)
        }
        func ones(_ n: Int) -> Tensor { Tensor(repeating: 1, shape: [n]) }
        func layer(_ c: TransformerConfig, _ collector: HalfCollector? = nil) -> TransformerLayerWeights {
            let w = c.width, m = c.mlpWidth
            return TransformerLayerWeights(
                norm1Weight: ones(w), norm1Bias: rand([w]),
                qkv: .packed(weight: randomMatrix([3 * w, w], collector), bias: rand([3 * w])),
                outWeight: randomMatrix([w, w], collector), outBias: rand([w]), norm2Weight: ones(w), norm2Bias: rand([w]),
                fcWeight: randomMatrix([m, w], collector), fcBias: rand([m]),
                projWeight: randomMatrix([w, m], collector), projBias: rand([w]))
        }
        func stack(_ c: TransformerConfig) -> TransformerStack {
            switch precision {
            case .f32: return TransformerStack(config: c, layers: (0..<c.layers).map { _ in layer(c) })
            case .f16: return TransformerStack(config: c, halfLayers: (0..<c.layers).map { _ in
                HalfLayerWeights.build { collector in layer(c, collector) }
            })
            }
        }
        let vw = config.vision.width, tw = config.text.width, p = config.patchSize
        self.config = config
        layout = .openAI
        path = "random(seed: \(seed))"
        warnings = []
        logitScale = log(100)
        storedDType = "F32"
        self.precision = precision
        classEmbedding = rand([vw])
        patchWeight = rand([vw, 3, p, p])
        visionPositions = rand([config.visionTokens, vw])
        preNormWeight = ones(vw); preNormBias = rand([vw])
        visionStack = stack(config.vision)
        postNormWeight = ones(vw); postNormBias = rand([vw])
        visualProjection = .matrix(rand([vw, config.embedDim]))
        let table = rand([config.vocabularySize, tw])
        tokenEmbedding = precision == .f16 ? .f16(HalfTensor(narrowing: table)) : .f32(table)
        textPositions = rand([config.contextLength, tw])
        textStack = stack(config.text)
        finalNormWeight = ones(tw); finalNormBias = rand([tw])
        textProjection = .matrix(rand([tw, config.embedDim]))
        parameterCount = [classEmbedding, patchWeight, visionPositions, preNormWeight, preNormBias, postNormWeight,
                          postNormBias, textPositions, finalNormWeight, finalNormBias].reduce(0) { $0 + $1.count }
            + tokenEmbedding.count + visionStack.parameterCount + textStack.parameterCount
            + vw * config.embedDim + tw * config.embedDim + 1
    }

    // MARK: - Image tower

    /// Image embeddings (not normalised) for `batch` preprocessed images
    /// `[batch, 3, S, S]` (CHW, normalised as CLIP expects). `observe` receives the
    /// token block after the pre-LN (index 0) and after each layer (1…L).
    public func encodeImages(pixels: Tensor, observe: ((Int, Tensor) -> Void)? = nil) throws -> Tensor {
        let s = config.imageSize, p = config.patchSize, g = config.gridSize
        guard pixels.rank == 4, pixels.shape[1] == 3, pixels.shape[2] == s, pixels.shape[3] == s else {
            throw ModelError.invalidInput("pixels \(pixels.shape), expected [batch, 3, \(s), \(s)]")
        }
        let batch = pixels.shape[0]
        let w = config.vision.width
        let tokens = config.visionTokens
        let patchDim = 3 * p * p

        // im2col: non-overlapping patches are a reshape, written as [batch·g², 3·p·p]
        // in the conv weight's (channel, row, column) order.
        var patches = Tensor(zeros: [batch * g * g, patchDim])
        let src = pixels.pointer
        let dst = patches.mutablePointer
        for b in 0..<batch {
            for gy in 0..<g {
                for gx in 0..<g {
                    var out = dst + ((b * g + gy) * g + gx) * patchDim
                    for c in 0..<3 {
                        for ky in 0..<p {
                            let row = src + ((b * 3 + c) * s + gy * p + ky) * s + gx * p
                            out.update(from: row, count: p)
                            out += p
                        }
                    }
                }
            }
        }
        // x: [batch, 1 + g², W] = [class ; patches · convᵀ] + positions
        var x = Tensor(zeros: [batch * tokens, w])
        let xp = x.mutablePointer
        let embedded = try patches.linear(weight: try patchWeight.reshaped([w, patchDim]), bias: nil)
        for b in 0..<batch {
            let base = xp + b * tokens * w
            base.update(from: classEmbedding.pointer, count: w)
            (base + w).update(from: embedded.pointer + b * g * g * w, count: g * g * w)
            Ops.addInPlace(base, visionPositions.pointer, count: tokens * w)
        }
        Ops.layerNorm(xp, rows: batch * tokens, dim: w, gamma: preNormWeight.pointer, beta: preNormBias.pointer,
                      eps: config.vision.layerNormEps)
        observe?(0, x)
        visionStack.forward(&x, batch: batch, seq: tokens, causal: false, observe: observe.map { f in { f($0 + 1, $1) } })

        // pooled = post-LN(CLS token); embedding = pooled · projection
        var pooled = Tensor(zeros: [batch, w])
        let pp = pooled.mutablePointer
        for b in 0..<batch { (pp + b * w).update(from: x.pointer + b * tokens * w, count: w) }
        Ops.layerNorm(pp, rows: batch, dim: w, gamma: postNormWeight.pointer, beta: postNormBias.pointer,
                      eps: config.vision.layerNormEps)
        return try visualProjection.apply(pooled)
    }

    // MARK: - Text tower

    /// Text embeddings (not normalised) for token id sequences that each contain an
    /// end-of-text token (49407); pooling happens at the first one. Each sequence is run
    /// only up to its EOT position (the causal mask makes later tokens irrelevant), and
    /// sequences are batched by length.
    public func encodeTexts(ids: [[Int]], batchSize: Int = 32) throws -> Tensor {
        let n = ids.count
        var out = Tensor(zeros: [n, config.embedDim])
        guard n > 0 else { return out }
        var eot = [Int](repeating: 0, count: n)
        for (i, seq) in ids.enumerated() {
            guard let e = seq.firstIndex(of: CLIPModel.endOfText) else {
                throw ModelError.invalidInput("token sequence \(i) has no end-of-text token (49407)")
            }
            guard e < config.contextLength else {
                throw ModelError.invalidInput("token sequence \(i) is \(e + 1) tokens long; the model's context is \(config.contextLength)")
            }
            for t in seq[...e] where t < 0 || t >= config.vocabularySize {
                throw ModelError.invalidInput("token id \(t) outside the vocabulary of \(config.vocabularySize)")
            }
            eot[i] = e
        }
        let order = (0..<n).sorted { eot[$0] < eot[$1] }
        let op = out.mutablePointer
        var start = 0
        while start < n {
            let chunk = Array(order[start..<min(n, start + max(1, batchSize))])
            start += chunk.count
            let pooled = try encodeTextBatch(ids: chunk.map { ids[$0] }, eot: chunk.map { eot[$0] })
            for (row, original) in chunk.enumerated() {
                (op + original * config.embedDim).update(from: pooled.pointer + row * config.embedDim, count: config.embedDim)
            }
        }
        return out
    }

    /// One batch, padded to the longest EOT position in it. `observe` sees the token
    /// block after embedding (0) and after each layer.
    func encodeTextBatch(ids: [[Int]], eot: [Int], observe: ((Int, Tensor) -> Void)? = nil) throws -> Tensor {
        let batch = ids.count
        let seq = (eot.max() ?? 0) + 1
        let w = config.text.width
        var x = Tensor(zeros: [batch * seq, w])
        let xp = x.mutablePointer
        for b in 0..<batch {
            for t in 0..<seq {
                let id = t < ids[b].count ? ids[b][t] : 0
                let row = xp + (b * seq + t) * w
                tokenEmbedding.copyRow(id, into: row)
                Ops.addInPlace(row, textPositions.pointer + t * w, count: w)
            }
        }
        observe?(0, x)
        textStack.forward(&x, batch: batch, seq: seq, causal: true, observe: observe.map { f in { f($0 + 1, $1) } })
        var pooled = Tensor(zeros: [batch, w])
        let pp = pooled.mutablePointer
        for b in 0..<batch { (pp + b * w).update(from: x.pointer + (b * seq + eot[b]) * w, count: w) }
        Ops.layerNorm(pp, rows: batch, dim: w, gamma: finalNormWeight.pointer, beta: finalNormBias.pointer,
                      eps: config.text.layerNormEps)
        return try textProjection.apply(pooled)
    }

    /// Hidden states of one text (after embedding, after each layer) up to its EOT — for
    /// golden tests and debugging.
    public func textHiddenStates(ids: [Int]) throws -> [Tensor] {
        guard let e = ids.firstIndex(of: CLIPModel.endOfText) else { throw ModelError.invalidInput("no end-of-text token") }
        var states: [Tensor] = []
        _ = try encodeTextBatch(ids: [ids], eot: [e]) { _, t in states.append(t) }
        return states
    }
}

// MARK: - Text tower pieces (prompt tuning)

extension CLIPModel {
    /// The frozen text transformer layers, for prompt tuning (DialCLIP wraps them in
    /// `Training.Transformer`).
    public var textStackWeights: TransformerStack { textStack }
    /// The text tower's final LayerNorm (applied to the pooled EOT token).
    public var textFinalNorm: (weight: Tensor, bias: Tensor) { (finalNormWeight, finalNormBias) }
    /// The text projection (pooled width → embedding dimension).
    public var textProjectionMatrix: ProjectionMatrix { textProjection }

    /// The text embedding step alone: token + position embeddings for right-padded
    /// sequences, `[batch·seq, width]` (pad id 0; causal attention never lets real tokens
    /// see the padding). `seq` may not exceed the context length.
    public func textEmbeddingOutput(ids: [[Int]], seq: Int) throws -> Tensor {
        guard seq >= 1, seq <= config.contextLength else {
            throw ModelError.invalidInput("sequence length \(seq); the text tower takes 1...\(config.contextLength)")
        }
        let w = config.text.width
        var x = Tensor(zeros: [ids.count * seq, w])
        let xp = x.mutablePointer
        for (b, row) in ids.enumerated() {
            guard row.count <= seq else { throw ModelError.invalidInput("token sequence \(b) is longer than \(seq)") }
            for t in 0..<seq {
                let id = t < row.count ? row[t] : 0
                guard id >= 0, id < config.vocabularySize else {
                    throw ModelError.invalidInput("token id \(id) outside the vocabulary of \(config.vocabularySize)")
                }
                let dst = xp + (b * seq + t) * w
                tokenEmbedding.copyRow(id, into: dst)
                Ops.addInPlace(dst, textPositions.pointer + t * w, count: w)
            }
        }
        return x
    }
}

/// The token embedding table, fp32 or fp16 (`--fp16`: at [49408, 512] it is a sixth of
/// ViT-B/32's weights, and only a few rows are read per text).
enum EmbeddingTable: @unchecked Sendable {
    case f32(Tensor)
    case f16(HalfTensor)

    var count: Int {
        switch self {
        case .f32(let t): return t.count
        case .f16(let t): return t.count
        }
    }

    /// Writes row `id` as fp32 to `destination`.
    func copyRow(_ id: Int, into destination: UnsafeMutablePointer<Float>) {
        switch self {
        case .f32(let t):
            let width = t.shape[1]
            destination.update(from: t.pointer + id * width, count: width)
        case .f16(let t):
            t.widenRow(id, into: destination)
        }
    }
}
