// dialclip-dialog tool: `DialCLIPTool train|eval|bundle [options]`.
// Developer entry point around the DialCLIP library calls; the CLI exposes the same calls
// as `dialclip train --task dialog` and `dialclip eval --task dialog`.
import DialCLIP
import Foundation
import Models
import Training

func value(_ flag: String) -> String? {
    let a = CommandLine.arguments
    guard let i = a.firstIndex(of: flag), i + 1 < a.count else { return nil }
    return a[i + 1]
}
func values(_ flag: String) -> [String] {
    let a = CommandLine.arguments
    return a.indices.filter { a[$0] == flag && $0 + 1 < a.count }.map { a[$0 + 1] }
}
func fail(_ s: String) -> Never { FileHandle.standardError.write(Data((s + "\n").utf8)); exit(1) }

let command = CommandLine.arguments.dropFirst().first ?? "help"
do {
    let tower = try TextTower(miniLMFolder: value("--model") ?? ModelDirectory.miniLM)
    var config = DialCLIPConfig()
    if let v = value("--P").flatMap(Int.init) { config.contextPrompts = v }
    if let v = value("--Q").flatMap(Int.init) { config.domainPrompts = v }
    if let v = value("--L").flatMap(Int.init) { config.promptedLayers = v }
    if let v = value("--rank").flatMap(Int.init) { config.expertRank = v }
    if let v = value("--hidden").flatMap(Int.init) { config.generatorHidden = v }
    if let v = value("--tokens").flatMap(Int.init) { config.maxContextTokens = v }
    if CommandLine.arguments.contains("--single-expert") { config.singleExpert = true }
    var options = DialogTrainingOptions(photoDialoguePaths: values("--photo"), replyDialoguePaths: values("--reply"), config: config)
    options.maxReplyConversationsPerFile = value("--max-reply-conversations").flatMap(Int.init)
    if let v = value("--epochs").flatMap(Int.init) { options.epochs = v }
    if let v = value("--lr").flatMap(Float.init) { options.learningRate = v }
    if let v = value("--seed").flatMap(UInt64.init) { options.seed = v }
    if let v = value("--max-steps").flatMap(Int.init) { options.maxSteps = v }
    if let v = value("--reply-batch").flatMap(Int.init) { options.replyBatch = v }
    if let v = value("--photo-batch").flatMap(Int.init) { options.photoBatch = v }
    switch command {
    case "train":
        let r = try DialogTrainer.train(tower: tower, options: options, reporter: ProgressReporter(style: .plain))
        print("trainable \(r.model.trainableParameterCount) share \(r.model.trainableShare) steps \(r.steps) train \(r.seconds)s cache \(r.cacheSeconds)s examples photo \(r.photoExamples) reply \(r.replyExamples) routing \(r.routingExamples)")
        if let out = value("--out") { try PromptsCheckpoint.save(r.model, to: out, extra: ["training_seconds": String(format: "%.1f", r.seconds)]) }
    case "eval":
        let dialogues = try DialogueFile.read(path: value("--dialogs") ?? { fail("--dialogs FILE") }())
        let pool = try ReplyPool.read(path: value("--pool") ?? { fail("--pool FILE") }())
        var systems = [DialogEvalSystem(name: "zero_shot", model: nil)]
        for spec in values("--system") {   // name=path
            let parts = spec.split(separator: "=", maxSplits: 1).map(String.init)
            systems.append(DialogEvalSystem(name: parts[0], model: try PromptsCheckpoint.load(path: parts[1], tower: tower)))
        }
        var eo = DialogEvalOptions()
        eo.maxReplyQueries = value("--max-reply-queries").flatMap(Int.init)
        let report = try DialogEvaluator.evaluate(dialogues: dialogues, replyPool: pool, tower: tower, systems: systems, options: eo)
        print(report.table)
        if let out = value("--json") {
            let data = try JSONSerialization.data(withJSONObject: report.json, options: [.prettyPrinted, .sortedKeys])
            try data.write(to: URL(fileURLWithPath: out))
        }
    case "bench":
        let dialogues = try DialogueFile.read(path: value("--dialogs") ?? { fail("--dialogs FILE") }())
        let texts = Array(Set(dialogues.flatMap { $0.turns.map(\.text) })).sorted().prefix(2000)
        var t0 = Date()
        let ids = texts.map { tower.wrap(tower.pieces($0, limit: 62)) }
        print("tokenize \(texts.count): \(Date().timeIntervalSince(t0)) s, mean length \(Double(ids.map(\.count).reduce(0, +)) / Double(ids.count))")
        t0 = Date()
        _ = try tower.encode(ids: Array(ids))
        print("encode: \(Date().timeIntervalSince(t0)) s")
    default:
        print("usage: DialCLIPTool train|eval ...")
    }
} catch {
    fail("error: \(error)")
}
