import DialCLIP
import Engine
import Foundation
import Gallery

/// `dialclip search --context FILE`: the dialogue of a JSONL file is the query, retrieved
/// through the same engine façade as the TUI (DialCLIP prompts, experts, routing head).
extension Search {
    func searchWithContext(file: String) async throws {
        let dialogues = try DialogueFile.read(path: file)
        guard dialogue < dialogues.count else {
            throw CLIError("\(file) holds \(dialogues.count) dialogue\(dialogues.count == 1 ? "" : "s"); --dialogue \(dialogue) is out of range (0-based)")
        }
        let record = dialogues[dialogue]
        var turns = Self.contextTurns(of: record, relativeTo: (file as NSString).deletingLastPathComponent)
        let extra = query.joined(separator: " ").trimmingCharacters(in: .whitespacesAndNewlines)
        if !extra.isEmpty {
            let next = turns.last.map { $0.speaker == "A" ? "B" : "A" } ?? "A"
            turns.append(DialogTurn(speaker: next, text: extra))
        }
        guard turns.contains(where: { !$0.text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty || $0.imagePath != nil }) else {
            throw CLIError("dialogue '\(record.id)' in \(file) has no text turns or photos to search with")
        }

        let engine = try DialclipEngine(options: EngineOptions(model: model, gallery: gallery, database: db, replies: replies, prompts: prompts))
        if kind != .reply, !noIndex, gallery != nil || engine.gallerySize == 0 {
            let progress = TerminalProgress()
            let report = try engine.indexGallery(progress: json ? nil : { progress.update($0) })
            progress.finish()
            if verbose || (report.added + report.updated > 0 && !json) { printError(report.plainSummary) }
        }
        if kind != .reply && engine.gallerySize == 0 {
            throw CLIError("the index has no photos for \(engine.modelName); run `dialclip index DIR` first")
        }
        let kinds: Set<RetrievalKind> = kind == .image ? [.image] : kind == .reply ? [.reply] : [.image, .reply]
        let result = try await engine.retrieve(context: turns, kinds: kinds, k: k)
        var hits = result.photos + result.replies
        if kind == .all {
            hits.sort { $0.score > $1.score }
            hits = Array(hits.prefix(k))
            for i in hits.indices { hits[i].rank = i + 1 }
        }
        if verbose { printError(String(format: "retrieval latency: %.2f ms over %d turns", result.latencySeconds * 1000, turns.count)) }
        var info: [String: Any] = ["context": ["file": file, "dialogue": record.id, "turns": turns.count]]
        info["photo_share_probability"] = result.photoShareProbability.map { Double($0) } ?? NSNull()
        try printHits(hits, query: turns.last?.text ?? "", latency: result.latencySeconds, extra: info)
    }

    /// The engine's turns for a stored dialogue: a PhotoChat record stops at its share turn
    /// (the photo is what is being looked for); a turn's image path counts only when the
    /// file exists (relative paths are resolved against the dialogue file's folder).
    static func contextTurns(of record: Dialogue, relativeTo folder: String) -> [DialogTurn] {
        var stored = record.turns
        if let share = record.shareTurn, share >= 0, share < stored.count { stored = Array(stored.prefix(share + 1)) }
        return stored.map { t in
            var path: String?
            if let image = t.image, !image.isEmpty {
                let absolute = image.hasPrefix("/") ? image : (folder.isEmpty ? image : folder + "/" + image)
                if FileManager.default.fileExists(atPath: absolute) { path = GalleryPaths.absolute(absolute) }
            }
            return DialogTurn(speaker: t.speaker, text: t.text, imagePath: path)
        }
    }
}
