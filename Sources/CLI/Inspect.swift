import ArgumentParser
import DCAR
import Engine
import Foundation

/// `dialclip inspect IMAGE TEXT`: DCAR's explanation of one match.
struct Inspect: AsyncCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show why a photo matches a text: attribute phrases, their weights and the score parts.",
        discussion: """
        Each phrase's weight is |S(phrase, image) − S(phrase, blank grey image)|, normalised to sum 1:
        phrases the photo actually changes get weight, generic words get none. The final score is
        (1−β)·cos(text, image) + β·Σ w·S(phrase, image).

        Example:
          dialclip inspect assets/gallery/photos/coco-000000078499.jpg "horses on a green hill by a lake"
        """)

    @Argument(help: "Any JPEG or PNG file (encoded on the fly).")
    var image: String

    @Argument(help: "The text to explain.")
    var text: String

    @Option(name: .long, help: "Weight of the attribute score in the final score (0…1).")
    var beta: Float = Reranker.suggestedBeta

    @Option(name: .long, help: "Model: dialclip-mini (default) or a CLIP checkpoint path.")
    var model: String?

    @OptionGroup var weights: WeightFlags

    @Flag(name: .long, help: "Print JSON (DESIGN.md section 8 shape).")
    var json = false

    func validate() throws {
        guard beta.isFinite, (0...1).contains(beta) else { throw ValidationError("--beta must be between 0 and 1") }
    }

    mutating func execute() async throws {
        let models = try ModelLoader.load(model, precision: weights.precision)
        let explanation = try AttributeInspector.explain(text: text, imagePath: image, imageEmbedder: models.image,
                                                         textEmbedder: models.text, beta: beta)
        if json { try printJSON(explanation.json); return }
        print(AttributeReport.render(explanation, width: 72, unicode: true))
    }
}

/// Plain-text rendering of an explanation (the TUI draws the same data).
enum AttributeReport {
    static func render(_ e: AttributeExplanation, width: Int, unicode: Bool) -> String {
        var lines = ["\(e.image)", "\"\(e.text)\""]
        if let note = e.note { lines.append("note: \(note)") }
        let barWidth = 24
        let nameWidth = min(28, max(8, e.phrases.map(\.phrase.count).max() ?? 8))
        lines.append(pad("phrase", nameWidth) + "  " + pad("weight", barWidth + 6) + "  S(img)  S(blank)")
        for p in e.phrases {
            let filled = Int((p.weight * Float(barWidth)).rounded())
            let bar = String(repeating: unicode ? "█" : "#", count: filled) + String(repeating: unicode ? "·" : ".", count: barWidth - filled)
            let name = p.phrase.count > nameWidth ? String(p.phrase.prefix(nameWidth - 1)) + "…" : p.phrase
            lines.append(pad(name, nameWidth) + "  " + bar + String(format: " %.2f  %6.3f  %7.3f", p.weight, p.sImage, p.sBlank))
        }
        lines.append(String(format: "global %.3f   final %.3f   (β = %.2f)", e.globalScore, e.finalScore, e.beta))
        return lines.joined(separator: "\n")
    }
}
