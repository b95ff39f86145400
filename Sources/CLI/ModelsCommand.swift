import ArgumentParser
import Foundation
import Models

/// `dialclip models list|verify`.
struct Models: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the available models or verify a checkpoint.",
        subcommands: [Verify.self, List.self])

    struct List: AsyncCommand {
        static let configuration = CommandConfiguration(abstract: "List the models dialclip can use.")
        mutating func execute() async throws {
            let minilm = ModelDirectory.miniLM
            let have = FileManager.default.fileExists(atPath: minilm + "/model.safetensors")
            print("minilm        \(have ? minilm : "not installed (run Scripts/setup.sh)")")
            print("PATH          any CLIP checkpoint: --model FOLDER (config.json + model.safetensors) or FILE.safetensors")
        }
    }

    struct Verify: AsyncCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load a CLIP checkpoint and print its detected architecture.")

        @Argument(help: "Checkpoint folder or .safetensors file.")
        var path: String

        @Option(name: .long, help: "Attention heads (vision,text or one number) when the checkpoint does not say.")
        var heads: String?

        @Option(name: .long, help: "Activation when the checkpoint does not say: quick_gelu or gelu.")
        var act: String?

        @Flag(name: .long, help: "Print JSON.")
        var json = false

        mutating func execute() async throws {
            let overrides = try parseOverrides(heads: heads, act: act)
            let m = try CLIPModel(path: path, overrides: overrides)
            let c = m.config
            let info: [String: Any] = [
                "path": m.path, "layout": m.layout.rawValue, "dtype": m.storedDType,
                "parameters": m.parameterCount, "embed_dim": c.embedDim,
                "vision": ["width": c.vision.width, "layers": c.vision.layers, "heads": c.vision.heads,
                           "mlp": c.vision.mlpWidth, "patch": c.patchSize, "image_size": c.imageSize],
                "text": ["width": c.text.width, "layers": c.text.layers, "heads": c.text.heads,
                         "mlp": c.text.mlpWidth, "context": c.contextLength, "vocab": c.vocabularySize],
                "activation": c.vision.activation.rawValue, "provenance": c.provenance, "warnings": m.warnings,
            ]
            if json { try printJSON(info); return }
            for w in m.warnings { printError("warning: \(w)") }
            print("\(m.path)")
            print("  layout      \(m.layout.rawValue) (\(m.storedDType) weights, \(m.parameterCount.formatted()) parameters)")
            print("  vision      ViT \(c.imageSize)px patch \(c.patchSize): width \(c.vision.width), \(c.vision.layers) layers, \(c.vision.heads) heads, MLP \(c.vision.mlpWidth)")
            print("  text        width \(c.text.width), \(c.text.layers) layers, \(c.text.heads) heads, MLP \(c.text.mlpWidth), context \(c.contextLength), vocab \(c.vocabularySize)")
            print("  embedding   \(c.embedDim)-d, activation \(c.vision.activation.rawValue)")
            print("  config      \(c.provenance)")
        }
    }
}

/// `--heads 12,8` / `--heads 8` and `--act quick_gelu|gelu` into loader overrides.
func parseOverrides(heads: String?, act: String?) throws -> CLIPOverrides {
    var o = CLIPOverrides()
    if let heads {
        let parts = heads.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.count <= 2, parts.allSatisfy({ ($0 ?? 0) > 0 }) else {
            throw ValidationError("--heads takes a positive number or VISION,TEXT (e.g. 12,8)")
        }
        o.visionHeads = parts[0]
        o.textHeads = parts.count == 2 ? parts[1] : parts[0]
    }
    if let act {
        guard let a = Activation(rawValue: act) else { throw ValidationError("--act takes quick_gelu or gelu") }
        o.activation = a
    }
    return o
}
