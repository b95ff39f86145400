import Foundation
import Tensor

/// Shape of dialclip-mini, the bundled image tower trained by dialclip itself (DESIGN.md
/// section 3): a small pre-LN ViT per ensemble member, mean-pooled and LayerNorm'd, with a
/// fixed colour histogram concatenated beside the learned features before a linear
/// projection into the frozen MiniLM space (384-d, L2-normalised).
///
/// Per member `m{k}.`:
///
///     pixels [B,3,S,S] → patches (conv p×p stride p as im2col + sgemm) + positions
///       → L pre-LN transformer blocks (GELU) → mean over tokens → LayerNorm (`ln_post`)
///       → ⊕ colour histogram (bins³, √ of the pixel fraction per bin, × histogramScale)
///       → `head` (Linear to embedDim) → L2 normalise
///
/// The ensemble embedding is the L2-normalised mean of the members' unit embeddings. For a
/// fixed image this ranks captions exactly as summing the members' cosine similarities;
/// across images (text→image) it differs only by each image's agreement between members.
public struct MiniArchitecture: Sendable, Equatable {
    public var imageSize: Int
    public var patchSize: Int
    public var width: Int
    public var layers: Int
    public var heads: Int
    public var mlpWidth: Int
    public var embedDim: Int
    /// Histogram bins per channel (4 → 4×4×4 = 64 features).
    public var histogramBins: Int
    public var histogramScale: Float
    public var members: Int
    public var layerNormEps: Float

    public init(imageSize: Int = 96, patchSize: Int = 16, width: Int = 192, layers: Int = 4, heads: Int = 4,
                mlpWidth: Int = 384, embedDim: Int = 384, histogramBins: Int = 4, histogramScale: Float = 2,
                members: Int = 3, layerNormEps: Float = 1e-5) {
        self.imageSize = imageSize; self.patchSize = patchSize; self.width = width; self.layers = layers
        self.heads = heads; self.mlpWidth = mlpWidth; self.embedDim = embedDim; self.histogramBins = histogramBins
        self.histogramScale = histogramScale; self.members = members; self.layerNormEps = layerNormEps
    }

    /// Patches per side.
    public var gridSize: Int { imageSize / patchSize }
    /// Tokens per image (no class token: the tower mean-pools).
    public var tokens: Int { gridSize * gridSize }
    public var histogramDim: Int { histogramBins * histogramBins * histogramBins }
    /// Input width of the projection head: pooled features ⊕ histogram.
    public var featureDim: Int { width + histogramDim }
    public var patchDim: Int { 3 * patchSize * patchSize }

    /// Checks that the numbers describe a buildable model.
    public func validate() throws {
        func bad(_ s: String) -> ModelError { .invalidConfig(path: "dialclip-mini", reason: s) }
        guard imageSize > 0, patchSize > 0, imageSize % patchSize == 0 else { throw bad("image size \(imageSize) is not a multiple of patch size \(patchSize)") }
        guard width > 0, heads > 0, width % heads == 0 else { throw bad("width \(width) is not divisible by \(heads) heads") }
        guard layers >= 0, mlpWidth > 0, embedDim > 0 else { throw bad("layers \(layers), mlp width \(mlpWidth), embedding \(embedDim)") }
        guard (1...16).contains(histogramBins), histogramScale.isFinite else { throw bad("histogram bins \(histogramBins), scale \(histogramScale)") }
        guard (1...16).contains(members) else { throw bad("\(members) ensemble members (1...16)") }
        guard layerNormEps > 0 else { throw bad("LayerNorm eps \(layerNormEps)") }
        guard imageSize <= 1024, width <= 4096, layers <= 64 else { throw bad("implausibly large model") }
    }

    /// Every tensor of member `k`, name → shape, in a fixed order. The trainer registers its
    /// parameters under exactly these names, so a training checkpoint and the shipped
    /// weights use one naming scheme.
    public func tensorShapes(member k: Int) -> [(name: String, shape: [Int])] {
        let p = "m\(k)."
        var out: [(String, [Int])] = [
            (p + "patch.weight", [width, patchDim]), (p + "patch.bias", [width]),
            (p + "pos", [tokens, width]),
        ]
        for i in 0..<layers {
            let b = p + "blocks.\(i)."
            out += [
                (b + "ln1.weight", [width]), (b + "ln1.bias", [width]),
                (b + "attn.qkv.weight", [3 * width, width]), (b + "attn.qkv.bias", [3 * width]),
                (b + "attn.out.weight", [width, width]), (b + "attn.out.bias", [width]),
                (b + "ln2.weight", [width]), (b + "ln2.bias", [width]),
                (b + "mlp.fc.weight", [mlpWidth, width]), (b + "mlp.fc.bias", [mlpWidth]),
                (b + "mlp.proj.weight", [width, mlpWidth]), (b + "mlp.proj.bias", [width]),
            ]
        }
        out += [
            (p + "ln_post.weight", [width]), (p + "ln_post.bias", [width]),
            (p + "head.weight", [embedDim, featureDim]), (p + "head.bias", [embedDim]),
            (p + "logit_scale", [1]),
        ]
        return out
    }

    /// All tensors of all members.
    public var allTensorShapes: [(name: String, shape: [Int])] { (0..<members).flatMap { tensorShapes(member: $0) } }

    /// Scalars per member.
    public var parametersPerMember: Int { tensorShapes(member: 0).reduce(0) { $0 + $1.shape.reduce(1, *) } }

    /// The architecture as safetensors `__metadata__` entries.
    public var metadata: [String: String] {
        ["arch.image_size": "\(imageSize)", "arch.patch_size": "\(patchSize)", "arch.width": "\(width)",
         "arch.layers": "\(layers)", "arch.heads": "\(heads)", "arch.mlp_width": "\(mlpWidth)",
         "arch.embed_dim": "\(embedDim)", "arch.histogram_bins": "\(histogramBins)",
         "arch.histogram_scale": "\(histogramScale)", "arch.members": "\(members)",
         "arch.layer_norm_eps": "\(layerNormEps)", "arch.activation": "gelu", "arch.norm": "pre"]
    }

    /// Reads the architecture back from metadata; every key must be present and numeric.
    public init(metadata m: [String: String], path: String) throws {
        func int(_ k: String) throws -> Int {
            guard let s = m["arch." + k], let v = Int(s) else {
                throw ModelError.invalidConfig(path: path, reason: "metadata 'arch.\(k)' is missing or not an integer")
            }
            return v
        }
        func float(_ k: String) throws -> Float {
            guard let s = m["arch." + k], let v = Float(s) else {
                throw ModelError.invalidConfig(path: path, reason: "metadata 'arch.\(k)' is missing or not a number")
            }
            return v
        }
        self.init(imageSize: try int("image_size"), patchSize: try int("patch_size"), width: try int("width"),
                  layers: try int("layers"), heads: try int("heads"), mlpWidth: try int("mlp_width"),
                  embedDim: try int("embed_dim"), histogramBins: try int("histogram_bins"),
                  histogramScale: try float("histogram_scale"), members: try int("members"),
                  layerNormEps: try float("layer_norm_eps"))
        if let a = m["arch.activation"], a != "gelu" { throw ModelError.unsupported("dialclip-mini activation '\(a)'") }
        if let n = m["arch.norm"], n != "pre" { throw ModelError.unsupported("dialclip-mini norm placement '\(n)'") }
        try validate()
    }
}
