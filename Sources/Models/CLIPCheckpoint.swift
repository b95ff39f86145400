import Foundation
import Tensor

/// The files that make up a CLIP checkpoint on disk.
struct CLIPFiles {
    var weights: String
    var hfConfig: String?
    var openClipConfig: String?

    init(path: String) throws {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: path, isDirectory: &isDir) else {
            throw ModelError.notFound(path: path, hint: "Give --model a folder with config.json + model.safetensors or a .safetensors file.")
        }
        let folder: String
        if isDir.boolValue {
            folder = path
            let entries = (try? fm.contentsOfDirectory(atPath: path)) ?? []
            if entries.contains("model.safetensors") {
                weights = (path as NSString).appendingPathComponent("model.safetensors")
            } else {
                let candidates = entries.filter { $0.hasSuffix(".safetensors") }.sorted()
                guard candidates.count == 1 else {
                    let pt = entries.filter { $0.hasSuffix(".pt") || $0.hasSuffix(".bin") || $0.hasSuffix(".pth") }
                    let hint = pt.isEmpty
                        ? "The folder needs model.safetensors (found \(candidates.count) .safetensors files)."
                        : "Found PyTorch files (\(pt.joined(separator: ", "))): convert them with Scripts/convert_checkpoint.py."
                    throw ModelError.notFound(path: path, hint: hint)
                }
                weights = (path as NSString).appendingPathComponent(candidates[0])
            }
        } else {
            folder = (path as NSString).deletingLastPathComponent
            let ext = (path as NSString).pathExtension.lowercased()
            if ["pt", "bin", "pth", "ckpt"].contains(ext) {
                throw ModelError.unsupported("\(path) is a PyTorch pickle; convert it to safetensors with Scripts/convert_checkpoint.py (pickles can run code, so dialclip does not read them)")
            }
            weights = path
        }
        let dir = folder.isEmpty ? "." : folder
        let cfg = (dir as NSString).appendingPathComponent("config.json")
        hfConfig = fm.fileExists(atPath: cfg) ? cfg : nil
        let oc = (dir as NSString).appendingPathComponent("open_clip_config.json")
        openClipConfig = fm.fileExists(atPath: oc) ? oc : nil
    }
}

/// Head counts, activation and LayerNorm epsilon, looked up in the order DESIGN.md
/// section 3 gives: HF config.json, safetensors metadata, open_clip_config.json, the
/// user's flags, and only then width/64 heads with quick-GELU (OpenAI's rule).
struct CLIPFacts {
    var visionHeads: Int
    var textHeads: Int
    var activation: Activation
    var layerNormEps: Float
    var provenance: String
    var warnings: [String]

    static func resolve(files: CLIPFiles, metadata: [String: String], overrides: CLIPOverrides,
                        visionWidth: Int, textWidth: Int) throws -> CLIPFacts {
        var vHeads: (Int, String)?
        var tHeads: (Int, String)?
        var act: (Activation, String)?
        var eps: Float = 1e-5

        func parseActivation(_ s: String) -> Activation? {
            switch s.lowercased() {
            case "quick_gelu", "quickgelu": return .quickGELU
            case "gelu", "gelu_new", "gelu_python": return .gelu
            default: return nil
            }
        }

        // 1. Hugging Face config.json
        if let path = files.hfConfig {
            let obj = try readJSONObject(path)
            let vc = obj["vision_config"] as? [String: Any] ?? [:]
            let tc = obj["text_config"] as? [String: Any] ?? [:]
            // HF CLIPConfig defaults apply to keys a config leaves out (12 vision / 8 text heads, quick_gelu).
            vHeads = ((vc["num_attention_heads"] as? Int) ?? 12, "config.json")
            tHeads = ((tc["num_attention_heads"] as? Int) ?? 8, "config.json")
            let name = (vc["hidden_act"] as? String) ?? (tc["hidden_act"] as? String) ?? "quick_gelu"
            guard let a = parseActivation(name) else {
                throw ModelError.invalidConfig(path: path, reason: "unknown hidden_act '\(name)'")
            }
            act = (a, "config.json")
            if let e = (vc["layer_norm_eps"] as? Double) ?? (tc["layer_norm_eps"] as? Double) { eps = Float(e) }
        }
        // 2. safetensors metadata
        if vHeads == nil, let s = metadata["vision_heads"], let n = Int(s) { vHeads = (n, "safetensors metadata") }
        if tHeads == nil, let s = metadata["text_heads"], let n = Int(s) { tHeads = (n, "safetensors metadata") }
        if act == nil, let s = metadata["act"] {
            guard let a = parseActivation(s) else {
                throw ModelError.invalidConfig(path: files.weights, reason: "metadata act '\(s)' is not quick_gelu or gelu")
            }
            act = (a, "safetensors metadata")
        }
        // 3. open_clip_config.json
        if let path = files.openClipConfig {
            let obj = try readJSONObject(path)
            let model = obj["model_cfg"] as? [String: Any] ?? obj
            let vc = model["vision_cfg"] as? [String: Any] ?? [:]
            let tc = model["text_cfg"] as? [String: Any] ?? [:]
            if vHeads == nil {
                let headWidth = (vc["head_width"] as? Int) ?? 64
                if headWidth > 0 { vHeads = (visionWidth / headWidth, "open_clip_config.json") }
            }
            if tHeads == nil, let n = tc["heads"] as? Int { tHeads = (n, "open_clip_config.json") }
            if act == nil { act = (((model["quick_gelu"] as? Bool) ?? false) ? .quickGELU : .gelu, "open_clip_config.json") }
        }
        // 4. flags
        if vHeads == nil, let n = overrides.visionHeads { vHeads = (n, "--heads") }
        if tHeads == nil, let n = overrides.textHeads { tHeads = (n, "--heads") }
        if act == nil, let a = overrides.activation { act = (a, "--act") }
        // 5. OpenAI's rule for released checkpoints
        var warnings: [String] = []
        if vHeads == nil || tHeads == nil || act == nil {
            warnings.append("head count/activation not stated in the checkpoint; assuming width/64 heads and quick_gelu as for OpenAI's released models (pass --heads/--act if wrong)")
        }
        let v = vHeads ?? (max(1, visionWidth / 64), "width/64")
        let t = tHeads ?? (max(1, textWidth / 64), "width/64")
        let a = act ?? (.quickGELU, "default")
        let sources = Set([v.1, t.1, a.1]).sorted().joined(separator: ", ")
        return CLIPFacts(visionHeads: v.0, textHeads: t.0, activation: a.0, layerNormEps: eps,
                         provenance: "heads/activation from \(sources)", warnings: warnings)
    }

    static func readJSONObject(_ path: String) throws -> [String: Any] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ModelError.invalidConfig(path: path, reason: "cannot read the file")
        }
        guard let obj = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ModelError.invalidConfig(path: path, reason: "not a JSON object")
        }
        return obj
    }
}

/// Tensor names of the two layouts (see shared/model/clip/NAMES.md).
struct CLIPTensorNames {
    enum Tower { case vision, text }
    enum LayerPart { case norm1Weight }

    let layout: CLIPLayout

    var patch: String { layout == .huggingFace ? "vision_model.embeddings.patch_embedding.weight" : "visual.conv1.weight" }
    var classEmbedding: String { layout == .huggingFace ? "vision_model.embeddings.class_embedding" : "visual.class_embedding" }
    var visionPositions: String { layout == .huggingFace ? "vision_model.embeddings.position_embedding.weight" : "visual.positional_embedding" }
    var preNorm: String { layout == .huggingFace ? "vision_model.pre_layrnorm" : "visual.ln_pre" }
    var postNorm: String { layout == .huggingFace ? "vision_model.post_layernorm" : "visual.ln_post" }
    var visualProjection: String { layout == .huggingFace ? "visual_projection.weight" : "visual.proj" }
    var tokenEmbedding: String { layout == .huggingFace ? "text_model.embeddings.token_embedding.weight" : "token_embedding.weight" }
    var textPositions: String { layout == .huggingFace ? "text_model.embeddings.position_embedding.weight" : "positional_embedding" }
    var finalNorm: String { layout == .huggingFace ? "text_model.final_layer_norm" : "ln_final" }
    var textProjection: String { layout == .huggingFace ? "text_projection.weight" : "text_projection" }

    func layerPrefix(_ tower: Tower, _ i: Int) -> String {
        switch (layout, tower) {
        case (.huggingFace, .vision): return "vision_model.encoder.layers.\(i)."
        case (.huggingFace, .text): return "text_model.encoder.layers.\(i)."
        case (.openAI, .vision): return "visual.transformer.resblocks.\(i)."
        case (.openAI, .text): return "transformer.resblocks.\(i)."
        }
    }

    func layer(_ tower: Tower, _ i: Int, _ part: LayerPart) -> String {
        layerPrefix(tower, i) + (layout == .huggingFace ? "layer_norm1.weight" : "ln_1.weight")
    }

    enum FCPart { case fcWeight }
    func layer(_ tower: Tower, _ i: Int, _ part: FCPart) -> String {
        layerPrefix(tower, i) + (layout == .huggingFace ? "mlp.fc1.weight" : "mlp.c_fc.weight")
    }

    /// Layers are numbered 0…L−1 without gaps; count until the first missing one.
    func countLayers(_ r: WeightReader, tower: Tower) -> Int {
        var n = 0
        while r.has(layer(tower, n, .norm1Weight)) { n += 1 }
        return n
    }

    /// One layer, every shape checked; `precision: .f16` keeps its matrices as fp16
    /// (F16 data borrowed from the mapping, anything else narrowed matrix by matrix).
    func loadStack(_ root: WeightReader, tower: Tower, config: TransformerConfig, precision: WeightPrecision) throws -> TransformerStack {
        let w = config.width, m = config.mlpWidth
        switch precision {
        case .f32:
            return TransformerStack(config: config, layers: try (0..<config.layers).map {
                try loadLayer(root, tower: tower, index: $0, width: w, mlp: m)
            })
        case .f16:
            return TransformerStack(config: config, halfLayers: try (0..<config.layers).map { i in
                try HalfLayerWeights.build { collector in
                    try loadLayer(root, tower: tower, index: i, width: w, mlp: m) { r, name, shape in
                        collector.keep(try r.halfTensor(name, shape))
                    }
                }
            })
        }
    }

    func loadLayer(_ root: WeightReader, tower: Tower, index: Int, width w: Int, mlp m: Int,
                   matrix: (WeightReader, String, [Int]) throws -> Tensor = { try $0.tensor($1, $2) }) throws -> TransformerLayerWeights {
        let r = root.scoped(layerPrefix(tower, index))
        switch layout {
        case .huggingFace:
            return TransformerLayerWeights(
                norm1Weight: try r.tensor("layer_norm1.weight", [w]), norm1Bias: try r.tensor("layer_norm1.bias", [w]),
                qkv: .separate(q: try matrix(r, "self_attn.q_proj.weight", [w, w]), qBias: try r.tensor("self_attn.q_proj.bias", [w]),
                               k: try matrix(r, "self_attn.k_proj.weight", [w, w]), kBias: try r.tensor("self_attn.k_proj.bias", [w]),
                               v: try matrix(r, "self_attn.v_proj.weight", [w, w]), vBias: try r.tensor("self_attn.v_proj.bias", [w])),
                outWeight: try matrix(r, "self_attn.out_proj.weight", [w, w]), outBias: try r.tensor("self_attn.out_proj.bias", [w]),
                norm2Weight: try r.tensor("layer_norm2.weight", [w]), norm2Bias: try r.tensor("layer_norm2.bias", [w]),
                fcWeight: try matrix(r, "mlp.fc1.weight", [m, w]), fcBias: try r.tensor("mlp.fc1.bias", [m]),
                projWeight: try matrix(r, "mlp.fc2.weight", [w, m]), projBias: try r.tensor("mlp.fc2.bias", [w]))
        case .openAI:
            return TransformerLayerWeights(
                norm1Weight: try r.tensor("ln_1.weight", [w]), norm1Bias: try r.tensor("ln_1.bias", [w]),
                qkv: .packed(weight: try matrix(r, "attn.in_proj_weight", [3 * w, w]), bias: try r.tensor("attn.in_proj_bias", [3 * w])),
                outWeight: try matrix(r, "attn.out_proj.weight", [w, w]), outBias: try r.tensor("attn.out_proj.bias", [w]),
                norm2Weight: try r.tensor("ln_2.weight", [w]), norm2Bias: try r.tensor("ln_2.bias", [w]),
                fcWeight: try matrix(r, "mlp.c_fc.weight", [m, w]), fcBias: try r.tensor("mlp.c_fc.bias", [m]),
                projWeight: try matrix(r, "mlp.c_proj.weight", [w, m]), projBias: try r.tensor("mlp.c_proj.bias", [w]))
        }
    }
}
