import Foundation
import Imaging
import Tensor

/// dialclip-mini at inference: an ensemble of small ViT image towers projecting into the
/// frozen MiniLM sentence space (see `MiniArchitecture` for the layout). Text queries are
/// embedded by MiniLM itself; this class only embeds images.
///
/// Weights are a safetensors file (fp16 or fp32) whose `__metadata__` holds `format`
/// (`dialclip-mini-1`) and the architecture (`arch.*`). Loading checks every tensor the
/// architecture needs — present, right shape — and refuses tensors it does not know,
/// naming the tensor, so a checkpoint of another architecture never loads half-way.
public final class MiniModel: @unchecked Sendable {
    public static let fileFormat = "dialclip-mini-1"
    /// The name the model reports (`eval`, `embed`, `models`).
    public static let defaultName = "dialclip-mini"
    /// The bundled weights, relative to the assets folder.
    public static let bundledRelativePath = "models/dialclip-mini.safetensors"
    /// Seed of the untrained `random_init` floor (the same in training reports and `eval`).
    public static let randomInitSeed: UInt64 = 1

    /// Weights of one ensemble member, validated for shape.
    public struct Member: @unchecked Sendable {
        public var patchWeight: Tensor, patchBias: Tensor, positions: Tensor
        public var stack: TransformerStack
        public var lnPostWeight: Tensor, lnPostBias: Tensor
        public var headWeight: Tensor, headBias: Tensor
        public var logitScale: Float
    }

    public let architecture: MiniArchitecture
    public let members: [Member]
    /// File metadata (training facts such as `validation_files`), empty for random weights.
    public let metadata: [String: String]
    /// Where the weights came from (a path, or `random-init(seed)`).
    public let source: String
    public let preprocessor: MiniPreprocessor

    /// Builds a model from named tensors (the trainer's export, or a file's contents).
    public init(architecture: MiniArchitecture, tensors: [String: Tensor], metadata: [String: String] = [:],
                source: String = "memory") throws {
        try architecture.validate()
        let expected = architecture.allTensorShapes
        let known = Set(expected.map(\.name))
        for (name, shape) in expected {
            guard let t = tensors[name] else { throw ModelError.missingTensor(name: name, path: source) }
            guard t.shape == shape else { throw ModelError.wrongShape(name: name, expected: "\(shape)", actual: t.shape) }
        }
        if let extra = tensors.keys.sorted().first(where: { !known.contains($0) }) {
            throw ModelError.inconsistent("\(source): tensor '\(extra)' does not belong to a dialclip-mini model with \(architecture.members) member(s) of \(architecture.layers) layer(s)")
        }
        let a = architecture
        let config = TransformerConfig(width: a.width, layers: a.layers, heads: a.heads, mlpWidth: a.mlpWidth,
                                       activation: .gelu, layerNormEps: a.layerNormEps, norm: .pre)
        members = (0..<a.members).map { k in
            let p = "m\(k)."
            let layers = (0..<a.layers).map { i -> TransformerLayerWeights in
                let b = p + "blocks.\(i)."
                return TransformerLayerWeights(
                    norm1Weight: tensors[b + "ln1.weight"]!, norm1Bias: tensors[b + "ln1.bias"]!,
                    qkv: .packed(weight: tensors[b + "attn.qkv.weight"]!, bias: tensors[b + "attn.qkv.bias"]!),
                    outWeight: tensors[b + "attn.out.weight"]!, outBias: tensors[b + "attn.out.bias"]!,
                    norm2Weight: tensors[b + "ln2.weight"]!, norm2Bias: tensors[b + "ln2.bias"]!,
                    fcWeight: tensors[b + "mlp.fc.weight"]!, fcBias: tensors[b + "mlp.fc.bias"]!,
                    projWeight: tensors[b + "mlp.proj.weight"]!, projBias: tensors[b + "mlp.proj.bias"]!)
            }
            return Member(patchWeight: tensors[p + "patch.weight"]!, patchBias: tensors[p + "patch.bias"]!,
                          positions: tensors[p + "pos"]!, stack: TransformerStack(config: config, layers: layers),
                          lnPostWeight: tensors[p + "ln_post.weight"]!, lnPostBias: tensors[p + "ln_post.bias"]!,
                          headWeight: tensors[p + "head.weight"]!, headBias: tensors[p + "head.bias"]!,
                          logitScale: tensors[p + "logit_scale"]![flat: 0])
        }
        for m in members where !m.logitScale.isFinite {
            throw ModelError.inconsistent("\(source): a logit_scale is not finite")
        }
        self.architecture = a
        self.metadata = metadata
        self.source = source
        self.preprocessor = MiniPreprocessor(architecture: a)
    }

    /// Loads a dialclip-mini safetensors file.
    public convenience init(path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else {
            throw ModelError.notFound(path: path, hint: "The bundled dialclip-mini weights belong in assets/models/; reinstall or pass --model PATH.")
        }
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(path: path) } catch let e as SafeTensorsError { throw ModelError.weights(e) }
        guard file.metadata["format"] == Self.fileFormat else {
            throw ModelError.unrecognisedLayout(path: path, reason: "not dialclip-mini weights (metadata 'format' is \(file.metadata["format"].map { "'\($0)'" } ?? "absent"), expected '\(Self.fileFormat)')")
        }
        let arch = try MiniArchitecture(metadata: file.metadata, path: path)
        var tensors: [String: Tensor] = [:]
        let expected = Dictionary(uniqueKeysWithValues: arch.allTensorShapes.map { ($0.name, $0.shape) })
        for name in file.names {
            guard let shape = expected[name] else {
                throw ModelError.inconsistent("\(path): tensor '\(name)' does not belong to a dialclip-mini model with \(arch.members) member(s) of \(arch.layers) layer(s)")
            }
            let info = file.tensors[name]!
            guard info.shape == shape else { throw ModelError.wrongShape(name: name, expected: "\(shape)", actual: info.shape) }
            do {
                // Own copies: fp16 files are converted anyway, and owning keeps the mapping small.
                let t = try file.tensor(name)
                tensors[name] = Tensor(shape: t.shape, storage: TensorStorage(copying: t.pointer, count: t.count))
            } catch let e as SafeTensorsError { throw ModelError.weights(e) }
        }
        try self.init(architecture: arch, tensors: tensors, metadata: file.metadata, source: path)
    }

    /// An untrained model of the same shape (the `random_init` floor of evaluations):
    /// PyTorch-style uniform ±1/√fan-in for matrices and biases, N(0, 0.01²) positions,
    /// unit LayerNorm gains.
    public convenience init(randomWeights architecture: MiniArchitecture, seed: UInt64 = 1) throws {
        try architecture.validate()
        var g = SeededGenerator(seed: seed)
        func uniform(_ shape: [Int], _ bound: Float) -> Tensor {
            var t = Tensor(zeros: shape)
            let p = t.mutablePointer
            for i in 0..<t.count { p[i] = bound * (2 * Float(g.next() >> 40) / Float(1 << 24) - 1) }
            return t
        }
        var tensors: [String: Tensor] = [:]
        for k in 0..<architecture.members {
            for (name, shape) in architecture.tensorShapes(member: k) {
                if name.hasSuffix("logit_scale") {
                    tensors[name] = Tensor(repeating: logf(1 / 0.07), shape: shape)
                } else if name.hasSuffix("ln1.weight") || name.hasSuffix("ln2.weight") || name.hasSuffix("ln_post.weight") {
                    tensors[name] = Tensor(repeating: 1, shape: shape)
                } else if name.contains("ln1.") || name.contains("ln2.") || name.contains("ln_post.") {
                    tensors[name] = Tensor(zeros: shape)
                } else if name.hasSuffix(".pos") {
                    tensors[name] = uniform(shape, 0.017)   // ≈ std 0.01
                } else {
                    let fanIn = name.hasSuffix(".bias") ? Self.fanIn(of: name, architecture) : shape.last!
                    tensors[name] = uniform(shape, 1 / Float(max(fanIn, 1)).squareRoot())
                }
            }
        }
        try self.init(architecture: architecture, tensors: tensors, metadata: ["format": Self.fileFormat, "random_init_seed": "\(seed)"],
                      source: "random-init(seed \(seed))")
    }

    static func fanIn(of biasName: String, _ a: MiniArchitecture) -> Int {
        if biasName.hasSuffix("patch.bias") { return a.patchDim }
        if biasName.hasSuffix("mlp.proj.bias") { return a.mlpWidth }
        if biasName.hasSuffix("head.bias") { return a.featureDim }
        return a.width
    }

    /// Photos of the gallery held out from training (metadata `validation_files`, one
    /// gallery-relative path per line); empty when unknown.
    public var validationFiles: [String] {
        (metadata["validation_files"] ?? "").split(separator: "\n").map(String.init).filter { !$0.isEmpty }
    }

    /// Gallery photos the model was trained on (metadata `training_gallery_files`), so an
    /// evaluation can say honestly which of its photos were seen in training.
    public var trainingGalleryFiles: [String] {
        (metadata["training_gallery_files"] ?? "").split(separator: "\n").map(String.init).filter { !$0.isEmpty }
    }

    /// All tensors by name (for saving and for tests).
    public var tensors: [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (k, m) in members.enumerated() {
            let p = "m\(k)."
            out[p + "patch.weight"] = m.patchWeight; out[p + "patch.bias"] = m.patchBias; out[p + "pos"] = m.positions
            for (i, l) in m.stack.layers.enumerated() {
                let b = p + "blocks.\(i)."
                out[b + "ln1.weight"] = l.norm1Weight; out[b + "ln1.bias"] = l.norm1Bias
                if case .packed(let w, let bias) = l.qkv { out[b + "attn.qkv.weight"] = w; out[b + "attn.qkv.bias"] = bias }
                out[b + "attn.out.weight"] = l.outWeight; out[b + "attn.out.bias"] = l.outBias
                out[b + "ln2.weight"] = l.norm2Weight; out[b + "ln2.bias"] = l.norm2Bias
                out[b + "mlp.fc.weight"] = l.fcWeight; out[b + "mlp.fc.bias"] = l.fcBias
                out[b + "mlp.proj.weight"] = l.projWeight; out[b + "mlp.proj.bias"] = l.projBias
            }
            out[p + "ln_post.weight"] = m.lnPostWeight; out[p + "ln_post.bias"] = m.lnPostBias
            out[p + "head.weight"] = m.headWeight; out[p + "head.bias"] = m.headBias
            out[p + "logit_scale"] = Tensor(repeating: m.logitScale, shape: [1])
        }
        return out
    }

    /// Writes the model (architecture and `extraMetadata` in `__metadata__`), atomically.
    public static func save(architecture: MiniArchitecture, tensors: [String: Tensor], metadata extra: [String: String] = [:],
                            precision: SafeTensorsWriter.Precision = .f16, to path: String) throws {
        var meta = extra
        for (k, v) in architecture.metadata { meta[k] = v }
        meta["format"] = fileFormat
        let list = try architecture.allTensorShapes.map { (name, shape) -> (name: String, tensor: Tensor) in
            guard let t = tensors[name], t.shape == shape else {
                throw ModelError.wrongShape(name: name, expected: "\(shape)", actual: tensors[name]?.shape ?? [])
            }
            return (name, t)
        }
        try SafeTensorsWriter.write(list, metadata: meta, precision: precision, to: path)
    }

    /// Saves this model.
    public func save(to path: String, precision: SafeTensorsWriter.Precision = .f16, metadata extra: [String: String]? = nil) throws {
        var meta = extra ?? metadata
        for k in meta.keys where k.hasPrefix("arch.") || k == "format" { meta[k] = nil }
        try Self.save(architecture: architecture, tensors: tensors, metadata: meta, precision: precision, to: path)
    }

    // MARK: - Inference

    /// Unit-norm embeddings `[B, embedDim]` of decoded photos (ensemble mean, renormalised).
    public func encode(images: [RGBImage], batchSize: Int = 64) throws -> Tensor {
        let e = architecture.embedDim
        var out = Tensor(zeros: [images.count, e])
        var start = 0
        while start < images.count {
            let chunk = Array(images[start..<min(images.count, start + batchSize)])
            let (px, hist) = try preprocessor.batch(chunk)
            let emb = try encode(pixels: px, histograms: hist)
            (out.mutablePointer + start * e).update(from: emb.pointer, count: chunk.count * e)
            start += chunk.count
        }
        return out
    }

    /// Ensemble embedding from preprocessed inputs: pixels `[B,3,S,S]` (normalised),
    /// histograms `[B, bins³]`.
    public func encode(pixels: Tensor, histograms: Tensor) throws -> Tensor {
        let per = try encodeMembers(pixels: pixels, histograms: histograms)
        var sum = per[0]
        for m in per.dropFirst() { Ops.addInPlace(sum.mutablePointer, m.pointer, count: m.count) }
        return sum.l2Normalized()
    }

    /// Each member's unit-norm embedding `[B, embedDim]`.
    public func encodeMembers(pixels: Tensor, histograms: Tensor) throws -> [Tensor] {
        let a = architecture, s = a.imageSize
        guard pixels.rank == 4, pixels.shape[1] == 3, pixels.shape[2] == s, pixels.shape[3] == s else {
            throw ModelError.invalidInput("dialclip-mini pixels \(pixels.shape), expected [B, 3, \(s), \(s)]")
        }
        let b = pixels.shape[0]
        guard histograms.shape == [b, a.histogramDim] else {
            throw ModelError.invalidInput("dialclip-mini histograms \(histograms.shape), expected [\(b), \(a.histogramDim)]")
        }
        if b == 0 { return members.map { _ in Tensor(zeros: [0, a.embedDim]) } }
        let cols = Self.im2col(pixels, patch: a.patchSize)
        return try members.map { try forward($0, cols: cols, histograms: histograms, batch: b) }
    }

    /// Non-overlapping p×p patches `[B·g², 3·p·p]` in (channel, row, column) order.
    public static func im2col(_ pixels: Tensor, patch p: Int) -> Tensor {
        let b = pixels.shape[0], c = pixels.shape[1], s = pixels.shape[2], g = s / p, pd = c * p * p
        var cols = Tensor(zeros: [b * g * g, pd])
        let src = pixels.pointer, dst = cols.mutablePointer
        for n in 0..<b { for gy in 0..<g { for gx in 0..<g {
            var out = dst + ((n * g + gy) * g + gx) * pd
            for ch in 0..<c { for ky in 0..<p {
                out.update(from: src + ((n * c + ch) * s + gy * p + ky) * s + gx * p, count: p)
                out += p
            } }
        } } }
        return cols
    }

    func forward(_ m: Member, cols: Tensor, histograms: Tensor, batch: Int) throws -> Tensor {
        let a = architecture, t = a.tokens, w = a.width
        var x = try cols.linear(weight: m.patchWeight, bias: m.patchBias)    // [B·T, W]
        let xp = x.mutablePointer
        for n in 0..<batch { Ops.addInPlace(xp + n * t * w, m.positions.pointer, count: t * w) }
        m.stack.forward(&x, batch: batch, seq: t, causal: false)
        // Mean over tokens, then LayerNorm, then ⊕ histogram.
        let fd = a.featureDim
        var features = Tensor(zeros: [batch, fd])
        let fp = features.mutablePointer
        let inv = 1 / Float(t)
        for n in 0..<batch {
            let o = fp + n * fd
            for k in 0..<t { Ops.addInPlace(o, x.pointer + (n * t + k) * w, count: w) }
            for i in 0..<w { o[i] *= inv }
            Ops.layerNorm(o, rows: 1, dim: w, gamma: m.lnPostWeight.pointer, beta: m.lnPostBias.pointer, eps: a.layerNormEps)
            (o + w).update(from: histograms.pointer + n * a.histogramDim, count: a.histogramDim)
        }
        return try features.linear(weight: m.headWeight, bias: m.headBias).l2Normalized()
    }
}
