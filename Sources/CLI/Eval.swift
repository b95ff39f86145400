import ArgumentParser
import DialCLIP
import Engine
import Foundation
import Models

/// `dialclip eval`: retrieval quality (R@1/5/10, MRR) on dialogue or gallery data.
struct Eval: AsyncCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate retrieval quality (Recall@1/5/10, MRR).",
        discussion: """
        Tasks:
          reply       --dialogs FILE   next-turn retrieval among 100 candidates (target + 99 from the reply pool)
          dialog      --dialogs FILE   DialCLIP on PhotoChat-format dialogues: photo and reply retrieval,
                                       zero_shot vs tuned (+ bundled ablations), routing accuracy/F1
          gallery     --gallery DIR    text→image and image→text on every photo of DIR/gallery.jsonl, the model
                                       beside a random-init tower (floor) and chance; dialclip-mini's held-out photos apart
          attributes  --gallery DIR    text→image / image→text with and without DCAR re-ranking, and the
                                       fine-grained test (true caption vs one attribute or the category swapped)

        Example:
          dialclip eval --task reply --dialogs chitchat_sample.jsonl --json
        """)

    enum Task: String, ExpressibleByArgument, CaseIterable { case reply, dialog, gallery, attributes }

    @Option(name: .long, help: "What to evaluate: \(Task.allCases.map(\.rawValue).joined(separator: ", ")).")
    var task: Task

    @Option(name: .long, help: "Dialogue JSONL file (shared PhotoChat / Chit-Chat format).")
    var dialogs: String?

    @Option(name: .long, help: "Folder with gallery.jsonl and its photos (tasks gallery, attributes).")
    var gallery: String?

    @Option(name: .long, help: "Prompts checkpoint for the tuned system (dialog task; default: the bundled one).")
    var prompts: String?

    @Option(name: .long, help: "β of the DCAR system (attributes task).")
    var beta: Float?

    @Option(name: .long, help: "Reply pool, one reply per line (default: the bundled pool).")
    var replies: String?

    @Option(name: .long, help: "Text model (default minilm).")
    var model: String?

    @OptionGroup var weights: WeightFlags

    @Flag(name: .long, help: "Print JSON (DESIGN.md section 8 shape).")
    var json = false

    mutating func execute() async throws {
        switch task {
        case .reply: try await evaluateReplies()
        case .dialog: try await evaluateDialogs()
        case .gallery: try await evaluateGallery()
        case .attributes: try await evaluateAttributes()
        }
    }

    func evaluateReplies() async throws {
        guard let dialogs else { throw ValidationError("--task reply needs --dialogs FILE") }
        let dialogues = try DialogueFile.read(path: dialogs)
        let encoder = try makeTextEmbedder(model, precision: weights.precision)
        let poolPath = try replies ?? Assets.locate().appendingPathComponent("replies/reply_pool.txt").path
        let progress = ProgressLine(enabled: !json)
        let pool = try ReplyIndex(poolPath: poolPath, encoder: encoder) { progress.update("encoding reply pool", $0, $1) }
        let queries = try ReplyEvaluation.queries(dialogues: dialogues, pool: pool.replies)
        let metrics = try ReplyEvaluation.evaluate(queries: queries, pool: pool, encoder: encoder) {
            progress.update("evaluating", $0, $1)
        }
        progress.finish()
        let report: [String: Any] = [
            "task": "reply", "model": encoder.name, "candidates": ReplyEvaluation.candidateCount,
            "queries": metrics.queries, "dialogs": dialogs, "pool": poolPath,
            "results": [encoder.name: ["reply": metrics.json]],
            "notes": ["zero-shot: cosine between the context (newest turns within the model's window) and each candidate",
                      "candidates: the target plus 99 replies drawn from the pool with seed \(ReplyEvaluation.seed)"],
        ]
        if json { try printJSON(report); return }
        print("reply retrieval on \(dialogs): \(metrics.queries) queries, \(ReplyEvaluation.candidateCount) candidates each, model \(encoder.name)")
        print(String(format: "R@1 %.3f   R@5 %.3f   R@10 %.3f   MRR %.3f", metrics.recallAt1, metrics.recallAt5, metrics.recallAt10, metrics.meanReciprocalRank))
    }
}

extension Eval {
    func evaluateGallery() async throws {
        guard let gallery else { throw ValidationError("--task gallery needs --gallery DIR (a folder with gallery.jsonl)") }
        let models = try ModelLoader.load(model, precision: weights.precision)
        let floor = try (models.image as? MiniImageEncoder).map { try MiniImageEncoder.randomInit(like: $0.model) }
        let progress = ProgressLine(enabled: !json)
        var report = try GalleryEvaluation.report(galleryDir: gallery, model: models.image, floor: floor, textEmbedder: models.text) {
            progress.update($0, $1, $2)
        }
        progress.finish()
        report["model"] = models.identity.name
        try printJSON(report)
    }

    func evaluateAttributes() async throws {
        guard let gallery else { throw ValidationError("--task attributes needs --gallery DIR (a folder with gallery.jsonl)") }
        let models = try ModelLoader.load(model, precision: weights.precision)
        var options = AttributeEvaluationOptions()
        if let beta { options.beta = beta }
        options.systemName = models.identity.name
        let report = try AttributeEvaluation.evaluate(galleryDirectory: gallery, imageEmbedder: models.image,
                                                      textEmbedder: models.text, options: options) { if !json { printError($0) } }
        if json { try printJSON(report.json); return }
        try printJSON(report.json)
    }
}

/// The text encoder a `--model` value names.
func makeTextEmbedder(_ model: String?, precision: WeightPrecision = .f32) throws -> TextEmbedder {
    switch ModelSpec(model) {
    case .miniLM, .bundled: return try MiniLMEncoder()
    case .clip(let path):
        let clip = try CLIPModel(path: path, precision: precision)
        return try CLIPTextEncoder(model: clip, name: path, assets: try Assets.locate())
    }
}

/// A one-line progress indicator on stderr, drawn only on a terminal.
final class ProgressLine: @unchecked Sendable {
    let enabled: Bool
    let start = Benchmarks.now()
    var lastDraw = 0.0

    init(enabled: Bool) { self.enabled = enabled && isatty(2) != 0 }

    func update(_ label: String, _ done: Int, _ total: Int) {
        guard enabled else { return }
        let now = Benchmarks.now()
        if done < total && now - lastDraw < 0.1 { return }
        lastDraw = now
        let elapsed = now - start
        let rate = Double(done) / max(elapsed, 1e-9)
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let width = 30
        let filled = total > 0 ? width * done / total : 0
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        printErrorNoNewline(String(format: "\r%@ %@ %d/%d  %.0f/s  ETA %.0fs ", label, bar, done, total, rate, eta))
    }

    func finish() { if enabled { printErrorNoNewline("\r\u{1B}[K") } }
}

func printErrorNoNewline(_ s: String) { try? FileHandle.standardError.write(contentsOf: Data(s.utf8)) }
