import ArgumentParser
import Engine
import Foundation
import Models
import Tensor

/// `dialclip embed`: print one L2-normalised embedding.
struct Embed: AsyncCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the embedding of a text or an image.",
        discussion: """
        Examples:
          dialclip embed --model minilm --text "sounds good!" --json
          dialclip embed --model ~/models/clip-vit-base-patch32 --image cat.jpg --json
        """)

    @Option(name: .long, help: "minilm (text only) or a CLIP checkpoint folder / .safetensors file.")
    var model: String = "minilm"

    @OptionGroup var weights: WeightFlags

    @Option(name: .long, help: "Text to embed.")
    var text: String?

    @Option(name: .long, help: "Image file to embed (JPEG or PNG).")
    var image: String?

    @Flag(name: .long, help: "Print JSON: {\"model\", \"dim\", \"embedding\"}.")
    var json = false

    func validate() throws {
        guard (text == nil) != (image == nil) else { throw ValidationError("give exactly one of --text or --image") }
    }

    mutating func execute() async throws {
        let embedding: Tensor
        let name: String
        switch ModelSpec(model) {
        case .miniLM, .bundled:
            guard let text else { throw CLIError("minilm is a text encoder; use a CLIP checkpoint (--model PATH) for images") }
            let encoder = try MiniLMEncoder()
            embedding = try encoder.embed(texts: [text])
            name = encoder.name
        case .clip(let path):
            let clip = try CLIPModel(path: path, precision: weights.precision)
            for w in clip.warnings { printError("warning: \(w)") }
            if let text {
                embedding = try CLIPTextEncoder(model: clip, name: path, assets: try Assets.locate()).embed(texts: [text])
            } else {
                embedding = try CLIPImageEncoder(model: clip, name: path).embed(paths: [image!])
            }
            name = path
        }
        let values = embedding.array
        if json {
            try printJSON(["model": name, "dim": values.count, "embedding": values.map(Double.init)])
        } else {
            print(values.map { String(format: "%.6f", $0) }.joined(separator: " "))
        }
    }
}
