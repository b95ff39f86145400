import ArgumentParser
import DialCLIP
import DCAR
import Engine
import Foundation
import Models
import Training

/// `dialclip train`: prompt-tune DialCLIP on dialogues.
struct Train: AsyncCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train DialCLIP's prompts, experts and routing head on dialogues (the text tower stays frozen).",
        discussion: """
        Photo examples come from PhotoChat-format files (--photo): the context up to the share turn,
        with the photo's text description standing in for the photo (no images are available).
        Reply examples come from every turn of --photo and --reply files. Only the tuned tensors
        are saved (a few hundred KB), with the backbone's SHA-256; `--prompts PATH` loads them.

        Reproduce the bundled checkpoint:
          D=../shared/data/dialogs
          dialclip train --task dialog --photo $D/photochat_train.jsonl --reply $D/topicalchat_sample.jsonl \\
            --max-reply-conversations 100 --tokens 48 --epochs 3 --seed 0 \\
            --out assets/models/dialclip-prompts-minilm.safetensors
        Ablations: add --context-prompts 0, --domain-prompts 0 or --single-expert (with --epochs 2).

        Retrain the bundled image model (dialclip-mini, LiT-style into MiniLM's space):
          dialclip train --task gallery --gallery ../shared/data/gallery --extra ../shared/data/extra \
            --out assets/models/dialclip-mini.safetensors
        """)

    enum Task: String, ExpressibleByArgument, CaseIterable { case dialog, gallery }

    @Option(name: .long, help: "What to train: dialog (DialCLIP prompts) or gallery (the dialclip-mini image tower).")
    var task: Task

    @Option(name: .long, help: "gallery task: a folder with gallery.jsonl and photos (a fixed part is held out for validation).")
    var gallery: String?

    @Option(name: .long, help: "gallery task: an extra training-only photo folder in the same format.")
    var extra: String?

    @Option(name: .long, help: "PhotoChat-format dialogue file (photo, reply and routing examples); repeatable.")
    var photo: [String] = []

    @Option(name: .long, help: "Chit-chat dialogue file (reply and routing examples); repeatable.")
    var reply: [String] = []

    @Option(name: .customLong("max-reply-conversations"), help: "Use at most this many conversations of each --reply file.")
    var maxReplyConversations: Int?

    @Option(name: .long, help: "Output checkpoint (.safetensors).")
    var out: String

    @Option(name: .long, help: "Text tower: minilm (default) or a CLIP checkpoint path.")
    var model: String?

    @Option(name: .long, help: "Token window of the prompted tower.")
    var tokens: Int = 64

    @Option(name: .customLong("context-prompts"), help: "Generated context prompts P.")
    var contextPrompts: Int = 4

    @Option(name: .customLong("domain-prompts"), help: "Domain prompt vectors Q per prompted layer.")
    var domainPrompts: Int = 4

    @Option(name: .customLong("prompted-layers"), help: "Layers that receive prompts (deep prompt tuning).")
    var promptedLayers: Int = 6

    @Flag(name: .customLong("single-expert"), help: "One shared expert instead of one per retrieval type (ablation).")
    var singleExpert = false

    @Option(name: .long, help: "Epochs.")
    var epochs: Int = 3

    @Option(name: .long, help: "Learning rate.")
    var lr: Float = 3e-3

    @Option(name: .long, help: "Random seed.")
    var seed: UInt64 = 0

    @Flag(name: .customLong("category-negatives"), help: "gallery task: DCAR's category-aware negatives (swapped category/attribute captions, weight 1+alpha).")
    var categoryNegatives = false

    @Option(name: .customLong("negatives-per-caption"), help: "gallery task: negative captions per training caption (K).")
    var negativesPerCaption: Int = 4

    @Option(name: .customLong("category-alpha"), help: "gallery task: extra weight alpha of same-category non-matching captions.")
    var categoryAlpha: Float = 0.5

    @Flag(name: .long, help: "Progress as JSON lines.")
    var json = false

    func validate() throws {
        if task == .gallery {
            guard gallery != nil else { throw ValidationError("--task gallery needs --gallery DIR") }
            guard negativesPerCaption >= 1, categoryAlpha.isFinite, categoryAlpha > -1 else {
                throw ValidationError("--negatives-per-caption must be ≥ 1 and --category-alpha finite and > -1")
            }
            return
        }
        guard !categoryNegatives else { throw ValidationError("--category-negatives applies to --task gallery") }
        guard !photo.isEmpty || !reply.isEmpty else { throw ValidationError("give at least one --photo or --reply dialogue file") }
        guard tokens >= 8, epochs >= 1, contextPrompts >= 0, domainPrompts >= 0, promptedLayers >= 0 else {
            throw ValidationError("--tokens ≥ 8, --epochs ≥ 1, prompt counts ≥ 0")
        }
    }

    mutating func execute() async throws {
        if task == .gallery { return try trainGallery() }
        let tower = try makeTextTower(model)
        var config = DialCLIPConfig()
        config.maxContextTokens = tokens
        config.contextPrompts = contextPrompts
        config.domainPrompts = domainPrompts
        config.promptedLayers = promptedLayers
        config.singleExpert = singleExpert
        var options = DialogTrainingOptions(photoDialoguePaths: photo, replyDialoguePaths: reply,
                                            maxReplyConversationsPerFile: maxReplyConversations, config: config)
        options.epochs = epochs
        options.learningRate = lr
        options.seed = seed
        let result = try DialogTrainer.train(tower: tower, options: options, reporter: ProgressReporter.automatic(json: json))
        try PromptsCheckpoint.save(result.model, to: out, extra: ["training_seconds": String(format: "%.1f", result.seconds)])
        let summary: [String: Any] = [
            "checkpoint": out, "trainable_parameters": result.model.trainableParameterCount,
            "trainable_share": result.model.trainableShare, "steps": result.steps,
            "train_seconds": result.seconds, "cache_seconds": result.cacheSeconds,
            "examples": ["photo": result.photoExamples, "reply": result.replyExamples, "routing": result.routingExamples],
        ]
        if json { try printJSON(summary) } else {
            print("saved \(out): \(result.model.trainableParameterCount) tuned parameters "
                  + String(format: "(%.3f%% of the backbone), %d steps in %.0f s (+%.0f s caching frozen features)",
                           result.model.trainableShare * 100, result.steps, result.seconds, result.cacheSeconds))
        }
    }
}

extension Train {
    /// dialclip-mini: the image tower trained into the frozen MiniLM space.
    func trainGallery() throws {
        let text = try MiniLMEncoder()
        var config = MiniTrainingConfig()
        if categoryNegatives {
            let k = negativesPerCaption
            config.categoryNegatives = MiniCategoryNegatives(alpha: categoryAlpha, perCaption: k) { captions, categories in
                // The swap vocabulary comes from the training captions and categories only.
                let builder = NegativeCaptionBuilder(vocabulary: CaptionVocabulary(captions: captions, categories: categories))
                return { caption, category in
                    builder.negatives(for: caption, category: category.isEmpty ? nil : category, count: k, seed: 20_240_611).map {
                        MiniNegativeCaption(text: $0.text, category: $0.swappedInCategory ?? (category.isEmpty ? nil : category))
                    }
                }
            }
        }
        let result = try MiniTrainer.train(config: config, galleryDir: gallery!, extraDir: extra, output: out,
                                           textEncoder: { try text.embed(texts: $0) },
                                           reporter: ProgressReporter.automatic(json: json), log: { printError($0) })
        var summary: [String: Any] = ["checkpoint": out, "seconds": result.seconds]
        if let v = result.validation { summary["held_out"] = v.summary }
        if let f = result.randomInitValidation { summary["random_init_held_out"] = f.summary }
        if json { try printJSON(summary) } else { print("saved \(out) in \(Int(result.seconds)) s; held-out \(summary["held_out"] ?? "-")") }
    }
}

/// The frozen text tower a `--model` value names (MiniLM by default).
func makeTextTower(_ model: String?) throws -> TextTower {
    switch ModelSpec(model) {
    case .miniLM, .bundled: return try TextTower(miniLMFolder: ModelDirectory.miniLM)
    case .clip(let path):
        return try TextTower(clip: try CLIPModel(path: path),
                             vocabularyGzipPath: try Assets.locate().appendingPathComponent("clip/bpe_simple_vocab_16e6.txt.gz").path)
    }
}

extension Eval {
    /// `eval --task dialog`: zero-shot vs tuned (and the bundled ablations) on a PhotoChat file.
    func evaluateDialogs() async throws {
        guard let dialogs else { throw ValidationError("--task dialog needs --dialogs FILE") }
        let assets = try Assets.locate()
        let tower = try makeTextTower(model)
        let poolPath = replies ?? assets.appendingPathComponent("replies/reply_pool.txt").path
        var systems = [DialogEvalSystem(name: "zero_shot", model: nil)]
        let tunedPath = prompts ?? assets.appendingPathComponent(PromptsCheckpoint.bundledMiniLM).path
        systems.append(DialogEvalSystem(name: "tuned", model: try PromptsCheckpoint.load(path: tunedPath, tower: tower)))
        if prompts == nil {
            for ablation in ["no_context_generator", "no_domain_prompt", "single_expert"] {
                let p = assets.appendingPathComponent("models/dialclip-prompts-minilm-\(ablation).safetensors").path
                if FileManager.default.fileExists(atPath: p), let m = try? PromptsCheckpoint.load(path: p, tower: tower) {
                    systems.append(DialogEvalSystem(name: ablation, model: m))
                }
            }
        }
        let report = try DialogEvaluator.evaluate(dialogues: try DialogueFile.read(path: dialogs),
                                                  replyPool: try ReplyPool.read(path: poolPath), tower: tower, systems: systems)
        if json { try printJSON(report.json) } else { print(report.table) }
    }
}
