import Foundation
import Tensor
import Training

/// Settings of `dialclip train --task dialog`.
public struct DialogTrainingOptions: Sendable {
    /// PhotoChat-format files: photo examples (context up to the share turn → the photo's
    /// description), reply examples (every turn), routing examples.
    public var photoDialoguePaths: [String]
    /// Extra conversations (Chit-Chat / Topical-Chat format) for reply and routing examples.
    public var replyDialoguePaths: [String]
    /// Use at most this many conversations from each reply file (the first ones), so held-out
    /// conversations stay unseen.
    public var maxReplyConversationsPerFile: Int?
    public var config: DialCLIPConfig
    public var epochs: Int
    /// Photo examples per step (the loop's batch); reply examples per step are drawn on top.
    public var photoBatch: Int
    public var replyBatch: Int
    /// Extra frozen reply targets per step used as negatives beside the in-batch ones.
    public var replyNegatives: Int
    public var routingBatch: Int
    public var learningRate: Float
    public var seed: UInt64
    /// Stop after this many steps (tests, quick runs).
    public var maxSteps: Int?

    public init(photoDialoguePaths: [String], replyDialoguePaths: [String] = [], maxReplyConversationsPerFile: Int? = nil,
                config: DialCLIPConfig = DialCLIPConfig(), epochs: Int = 4, photoBatch: Int = 16, replyBatch: Int = 24,
                replyNegatives: Int = 128, routingBatch: Int = 64, learningRate: Float = 3e-3, seed: UInt64 = 0, maxSteps: Int? = nil) {
        self.photoDialoguePaths = photoDialoguePaths; self.replyDialoguePaths = replyDialoguePaths
        self.maxReplyConversationsPerFile = maxReplyConversationsPerFile; self.config = config; self.epochs = epochs
        self.photoBatch = photoBatch; self.replyBatch = replyBatch; self.replyNegatives = replyNegatives
        self.routingBatch = routingBatch; self.learningRate = learningRate; self.seed = seed; self.maxSteps = maxSteps
    }
}

/// What a training run produced.
public struct DialogTrainingResult: @unchecked Sendable {
    public var model: DialCLIPModel
    public var losses: [Float]
    public var steps: Int
    public var seconds: Double
    /// Seconds spent caching frozen features before the first step.
    public var cacheSeconds: Double
    public var photoExamples: Int
    public var replyExamples: Int
    public var routingExamples: Int
}

/// One retrieval example: a context (turns[0..<end] of a dialogue, plus a stand-in image)
/// and the index of its target text.
struct DialogExample {
    var dialogue: Int
    var end: Int          // context = turns[0..<end]
    var target: Int       // index into the target table
    var hasImage: Bool    // the dialogue's photo was shared before `end`
}

/// `dialclip train --task dialog`: prompt tuning of DialCLIP on PhotoChat (+ chit-chat).
public enum DialogTrainer {
    /// Trains a fresh model on `tower`. Frozen candidate features (photo descriptions, reply
    /// targets) and per-turn embeddings are cached first; each step then runs forward and
    /// backward through the frozen tower for the query side only.
    public static func train(tower: TextTower, options o: DialogTrainingOptions,
                             reporter: ProgressReporter = ProgressReporter(style: .silent)) throws -> DialogTrainingResult {
        let model = try DialCLIPModel(tower: tower, config: o.config, seed: o.seed)
        let encoder = ContextEncoder(tower: tower, maxContextTokens: o.config.maxContextTokens, maxFeatureTurns: o.config.maxFeatureTurns)
        let cacheStart = Date()

        // ---- data --------------------------------------------------------------------
        var dialogues: [Dialogue] = []
        for p in o.photoDialoguePaths { dialogues += try DialogueFile.read(path: p) }
        let photoCount = dialogues.count
        for p in o.replyDialoguePaths {
            var d = try DialogueFile.read(path: p)
            if let m = o.maxReplyConversationsPerFile { d = Array(d.prefix(m)) }
            dialogues += d
        }
        var targetIndex: [String: Int] = [:]
        var targets: [String] = []
        func target(_ t: String) -> Int {
            if let i = targetIndex[t] { return i }
            targetIndex[t] = targets.count; targets.append(t); return targets.count - 1
        }
        var photo: [DialogExample] = [], reply: [DialogExample] = []
        var routing: [(dialogue: Int, end: Int, positive: Bool)] = []
        for (di, d) in dialogues.enumerated() {
            let share = di < photoCount ? d.shareTurn : nil
            if let s = share, let ph = d.photo, !ph.description.isEmpty {
                photo.append(DialogExample(dialogue: di, end: s + 1, target: target(ph.description), hasImage: false))
                routing.append((di, s + 1, true))
                for j in 0..<s { routing.append((di, j + 1, false)) }
            } else if d.turns.count > 1 {
                // Chit-chat: every context is a negative for photo sharing; take a few per conversation.
                for j in stride(from: 1, to: d.turns.count, by: 3) { routing.append((di, j, false)) }
            }
            for k in 1..<max(d.turns.count, 1) {
                let text = d.turns[k].text.trimmingCharacters(in: .whitespacesAndNewlines)
                guard !text.isEmpty else { continue }
                reply.append(DialogExample(dialogue: di, end: k, target: target(d.turns[k].text),
                                           hasImage: share.map { k > $0 } ?? false))
            }
        }
        guard !photo.isEmpty else { throw DialCLIPError.nothingToEvaluate("no PhotoChat dialogue with a share turn and a photo description in \(o.photoDialoguePaths)") }
        let descriptionIndex = Set(photo.map(\.target)).sorted()

        // ---- frozen caches -------------------------------------------------------------
        try encoder.warm(dialogues.flatMap { $0.turns.suffix(o.config.maxFeatureTurns * 4).map(\.text) } + targets)
        let d = tower.embedDim
        let targetEmbeddings = try encoder.turnEmbeddings(targets)
        func context(_ e: DialogExample) throws -> PreparedContext {
            let dl = dialogues[e.dialogue]
            var images: [[Float]] = []
            if e.hasImage, let p = dl.photo { images.append(targetEmbeddings[target(p.description)]) }
            return try encoder.prepare(DialogueContext(turns: Array(dl.turns[0..<e.end]), imageEmbeddings: images))
        }
        var photoCandidates = Tensor(zeros: [descriptionIndex.count, d])
        var columnOf: [Int: Int] = [:]
        for (c, t) in descriptionIndex.enumerated() {
            columnOf[t] = c
            (photoCandidates.mutablePointer + c * d).update(from: targetEmbeddings[t], count: d)
        }
        let routingFeatures: [[Float]] = try routing.map { r in
            try encoder.prepare(DialogueContext(turns: Array(dialogues[r.dialogue].turns[0..<r.end]))).routingFeatures
        }
        let cacheSeconds = Date().timeIntervalSince(cacheStart)

        // ---- loop -----------------------------------------------------------------------
        let config = TrainingConfig(epochs: o.epochs, batchSize: min(o.photoBatch, photo.count), learningRate: o.learningRate,
                                    minLearningRate: o.learningRate * 0.05, warmupSteps: 10, gradientClip: 1.0, seed: o.seed)
        let loop = try TrainingLoop(parameters: model.parameters, exampleCount: photo.count, config: config, reporter: reporter)
        let summary = try loop.run(maxSteps: o.maxSteps) { batch, rng in
            // Photo rows: the loop's batch. Reply rows: drawn by the loop's generator.
            let photoRows = batch.map { photo[$0] }
            let replyRows = reply.isEmpty ? [] : (0..<o.replyBatch).map { _ in reply[Int(rng.next() % UInt64(reply.count))] }
            let rows = photoRows + replyRows
            let prepared = try rows.map(context)
            let experts = Array(repeating: DialCLIPExpert.image, count: photoRows.count) + Array(repeating: .reply, count: replyRows.count)
            let cache = DialCLIPModel.Cache()
            let q = try model.forward(prepared, experts: experts, cache: cache)
            var dq = Tensor(zeros: q.shape)
            var loss: Float = 0
            // Photo expert vs every training photo description (frozen, cached).
            let np = photoRows.count
            let qp = model.gather(q, rows: Array(0..<np), dim: d)
            var pos = [Bool](repeating: false, count: np * descriptionIndex.count)
            for (i, e) in photoRows.enumerated() { pos[i * descriptionIndex.count + (columnOf[e.target] ?? 0)] = true }
            let rp = try model.logitScale.loss(a: qp, b: photoCandidates, positives: pos)
            loss += rp.loss
            (dq.mutablePointer).update(from: rp.gradA.pointer, count: np * d)
            // Reply expert vs in-batch targets + extra frozen targets.
            if !replyRows.isEmpty {
                let nr = replyRows.count
                var cols = replyRows.map(\.target)
                for _ in 0..<o.replyNegatives { cols.append(reply[Int(rng.next() % UInt64(reply.count))].target) }
                var b = Tensor(zeros: [cols.count, d])
                for (c, t) in cols.enumerated() { (b.mutablePointer + c * d).update(from: targetEmbeddings[t], count: d) }
                var rpos = [Bool](repeating: false, count: nr * cols.count)
                for i in 0..<nr { for (c, t) in cols.enumerated() where t == replyRows[i].target { rpos[i * cols.count + c] = true } }
                let qr = model.gather(q, rows: Array(np..<(np + nr)), dim: d)
                let rr = try model.logitScale.loss(a: qr, b: b, positives: rpos)
                loss += rr.loss
                (dq.mutablePointer + np * d).update(from: rr.gradA.pointer, count: nr * d)
            }
            try model.backward(dq, cache: cache)
            // Routing head: class-balanced BCE on a random batch of contexts.
            if !routing.isEmpty {
                let picks = (0..<o.routingBatch).map { _ in Int(rng.next() % UInt64(routing.count)) }
                let f = routingFeatures[0].count
                var feats = Tensor(zeros: [picks.count, f])
                for (i, r) in picks.enumerated() { (feats.mutablePointer + i * f).update(from: routingFeatures[r], count: f) }
                loss += try model.routingLoss(features: feats, labels: picks.map { routing[$0].positive })
            }
            return loss
        }
        return DialogTrainingResult(model: model, losses: summary.losses, steps: summary.steps, seconds: summary.seconds,
                                    cacheSeconds: cacheSeconds, photoExamples: photo.count, replyExamples: reply.count,
                                    routingExamples: routing.count)
    }
}
