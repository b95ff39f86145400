import Foundation
import Imaging
import Models
import Tensor

/// Embeds captions with the frozen text tower (MiniLM): texts → unit rows `[n, 384]`.
/// Training lives below Engine, so the caller hands the encoder in (the CLI passes
/// `MiniLMEncoder.embed(texts:)`; tests pass a fake).
public typealias MiniTextEncoder = ([String]) throws -> Tensor

/// A category-aware negative caption (DCAR, DESIGN.md section 5.4): a caption with the
/// category word or an attribute phrase swapped, and the category it names (if known).
public struct MiniNegativeCaption: Sendable, Equatable {
    public var text: String
    public var category: String?
    public init(text: String, category: String?) { self.text = text; self.category = category }
}

/// Plug-in for DCAR's negative-caption builder. With it, each batch gets extra columns —
/// the negatives of its captions — and every non-positive pair whose caption category
/// equals the image's category gets weight `1 + alpha` in the contrastive loss.
public struct MiniCategoryNegatives: Sendable {
    public typealias Builder = @Sendable (_ caption: String, _ category: String) -> [MiniNegativeCaption]
    public var alpha: Float
    /// Negatives per caption the builder is asked for (recorded in the weights' metadata).
    public var perCaption: Int
    /// Called once with the training captions and their photos' categories (held-out photos
    /// never appear), so the swap vocabulary comes from the training data only; returns the
    /// (caption, category) → negatives builder, called once per training caption.
    public var prepare: @Sendable (_ captions: [String], _ categories: [String]) -> Builder

    public init(alpha: Float, perCaption: Int = 0, build: @escaping Builder) {
        self.alpha = alpha; self.perCaption = perCaption; self.prepare = { _, _ in build }
    }

    public init(alpha: Float, perCaption: Int, prepare: @escaping @Sendable ([String], [String]) -> Builder) {
        self.alpha = alpha; self.perCaption = perCaption; self.prepare = prepare
    }
}

/// Settings of `MiniTrainer.train` (defaults: the bundled model's recipe).
public struct MiniTrainingConfig: Sendable {
    /// Shape of each member; `members` is the ensemble size (one training run per member).
    public var architecture = MiniArchitecture()
    public var epochs = 60
    public var batchSize = 64
    public var learningRate: Float = 1e-3
    public var minLearningRate: Float = 1e-5
    public var warmupSteps = 25
    public var weightDecay: Float = 0.05
    public var gradientClip: Float = 1.0
    /// Member k trains with seed `seed + k` (initialisation, batch order, augmentation).
    public var seed: UInt64 = 7
    /// Share of the gallery held out (stratified by category, seeded), never trained on.
    public var validationFraction = 0.2
    public var splitSeed: UInt64 = 20_240_611
    /// Weight of the extra loss of each image against all training captions (cheap: the
    /// text side is frozen), beside the in-batch symmetric InfoNCE.
    public var allCaptionsWeight: Float = 1
    public var augmentation = MiniAugmentation()
    /// Shorter side at which training photos are kept in memory for cropping.
    public var preloadSide = 128
    /// DCAR's category-aware negatives (nil: off).
    public var categoryNegatives: MiniCategoryNegatives?
    /// Evaluate on the held-out photos every this many epochs (0: only at the end).
    public var validateEvery = 10
    /// Member checkpoints go to `<output>.work/` every this many steps; with `resume`, a
    /// run picks up from them.
    public var checkpointEvery = 100
    public var resume = false
    /// Threads for BLAS and augmentation (nil: all cores).
    public var threads: Int?
    /// Test hook: report a NaN loss at this (1-based) step of member 0.
    var nanAtStep: Int?

    public init() {}

    /// The recipe as metadata for the model card / weights file.
    public var metadata: [String: String] {
        var m: [String: String] = [
            "train.epochs": "\(epochs)", "train.batch_size": "\(batchSize)", "train.learning_rate": "\(learningRate)",
            "train.min_learning_rate": "\(minLearningRate)", "train.warmup_steps": "\(warmupSteps)",
            "train.weight_decay": "\(weightDecay)", "train.gradient_clip": "\(gradientClip)", "train.seed": "\(seed)",
            "train.validation_fraction": "\(validationFraction)", "train.split_seed": "\(splitSeed)",
            "train.all_captions_weight": "\(allCaptionsWeight)", "train.preload_side": "\(preloadSide)",
            "train.augmentation": "crop scale \(augmentation.cropScale), aspect \(augmentation.cropAspect), flip \(augmentation.flipProbability), brightness/contrast/saturation ±\(augmentation.brightness)/\(augmentation.contrast)/\(augmentation.saturation), cut-out background replaced with p \(augmentation.backgroundReplacement), enabled \(augmentation.enabled)",
            "train.optimizer": "AdamW beta (0.9, 0.999), eps 1e-8, warm-up + cosine",
        ]
        if let c = categoryNegatives {
            m["train.category_negatives_alpha"] = "\(c.alpha)"
            m["train.category_negatives_per_caption"] = "\(c.perCaption)"
        }
        return m
    }
}

/// Recall@1/5/10 and MRR in both directions on held-out photos.
public struct MiniValidationScores: Sendable, Equatable {
    public var t2iRecall: [Double]   // R@1, R@5, R@10
    public var t2iMRR: Double
    public var i2tRecall: [Double]
    public var i2tMRR: Double
    public var t2iQueries: Int
    public var i2tQueries: Int

    init(t2i: [Int], i2t: [Int]) {
        func recall(_ r: [Int]) -> [Double] { [1, 5, 10].map { k in Double(r.filter { $0 <= k }.count) / Double(max(r.count, 1)) } }
        func mrr(_ r: [Int]) -> Double { r.reduce(0) { $0 + 1 / Double($1) } / Double(max(r.count, 1)) }
        t2iRecall = recall(t2i); t2iMRR = mrr(t2i); i2tRecall = recall(i2t); i2tMRR = mrr(i2t)
        t2iQueries = t2i.count; i2tQueries = i2t.count
    }

    /// `{"t2i": {"r@1", "r@5", "r@10", "mrr"}, "i2t": {…}}`.
    public var json: [String: Any] {
        ["t2i": Self.json(t2iRecall, t2iMRR), "i2t": Self.json(i2tRecall, i2tMRR)]
    }

    static func json(_ recall: [Double], _ mrr: Double) -> [String: Any] {
        ["r@1": recall[0], "r@5": recall[1], "r@10": recall[2], "mrr": mrr]
    }

    public var summary: String {
        String(format: "t2i R@1 %.3f R@5 %.3f R@10 %.3f MRR %.3f | i2t R@1 %.3f R@5 %.3f R@10 %.3f MRR %.3f",
               t2iRecall[0], t2iRecall[1], t2iRecall[2], t2iMRR, i2tRecall[0], i2tRecall[1], i2tRecall[2], i2tMRR)
    }
}

/// What a training run produced.
public struct MiniTrainingResult: Sendable {
    public var output: String
    public var trainingPhotos: Int
    public var trainingCaptions: Int
    public var validationFiles: [String]
    public var seconds: Double
    /// Per member: seconds, the loss of every step, held-out scores.
    public var members: [(seconds: Double, losses: [Float], validation: MiniValidationScores?)]
    /// The saved (fp16) ensemble on the held-out photos; nil when nothing is held out.
    public var validation: MiniValidationScores?
    /// The same for an untrained tower of the same shape (the floor).
    public var randomInitValidation: MiniValidationScores?
}

/// Problems specific to dialclip-mini training data.
public enum MiniTrainingError: Error, CustomStringConvertible {
    case badData(String)
    case textEncoder(String)

    public var description: String {
        switch self {
        case .badData(let s): return "dialclip-mini training data: \(s)"
        case .textEncoder(let s): return "dialclip-mini text encoder: \(s)"
        }
    }
}

/// Trains dialclip-mini LiT-style: the MiniLM text tower stays frozen (captions are embedded
/// once), an ensemble of small ViT image towers learns to map augmented photos onto their
/// captions' embeddings (symmetric InfoNCE with identical captions as mutual positives and
/// a learnable temperature, plus a loss against all training captions), AdamW with warm-up
/// and a cosine schedule.
public enum MiniTrainer {
    /// Fixed, seeded, category-stratified split of gallery photos: per category (sorted by
    /// name), photos sorted by file, shuffled with `seed`, and round(fraction·n) held out.
    public static func split(_ photos: [CaptionedPhoto], fraction: Double, seed: UInt64) -> (train: [Int], validation: [Int]) {
        var byCategory: [String: [Int]] = [:]
        for (i, p) in photos.enumerated() { byCategory[p.category, default: []].append(i) }
        var validation: [Int] = []
        for category in byCategory.keys.sorted() {
            let members = byCategory[category]!.sorted { photos[$0].file < photos[$1].file }
            var g = TrainingRNG(seed: seed ^ UInt64(truncatingIfNeeded: category.utf8.reduce(5381) { ($0 &* 33) &+ Int($1) }))
            let order = g.permutation(members.count).map { members[$0] }
            let take = Int((fraction * Double(members.count)).rounded())
            validation += order.prefix(take)
        }
        let held = Set(validation)
        return ((0..<photos.count).filter { !held.contains($0) }, validation.sorted())
    }

    struct Example {
        var file: String
        var captionIDs: [Int]
        var category: String
        var allowFlip: Bool
        var image: MiniSourceImage
    }

    /// Trains, writes `output` (fp16 safetensors, `MiniModel` format) and returns scores.
    ///
    /// - Parameters:
    ///   - galleryDir: a folder with `gallery.jsonl` + photos; `validationFraction` of it is
    ///     held out (listed in the weights' metadata `validation_files`).
    ///   - extraDir: an optional training-only pool in the same format (all of it is used).
    ///   - log: one-line messages (data summary, validation scores).
    @discardableResult
    public static func train(config: MiniTrainingConfig, galleryDir: String, extraDir: String?, output: String,
                             textEncoder: MiniTextEncoder, reporter: ProgressReporter = ProgressReporter(style: .silent),
                             log: (String) -> Void = { _ in }) throws -> MiniTrainingResult {
        let started = Date()
        let a = config.architecture
        try a.validate()
        guard config.batchSize >= 2 else { throw TrainingError.invalidConfiguration("batch size must be at least 2 for a contrastive loss") }
        if let t = config.threads { Parallelism.setThreads(t) }

        // 1. Data.
        let gallery = try CaptionedPhotoList.read(path: galleryDir + "/gallery.jsonl")
        let (trainIdx, valIdx) = split(gallery, fraction: config.validationFraction, seed: config.splitSeed)
        var sources: [(photo: CaptionedPhoto, dir: String, cutouts: Bool)] = trainIdx.map { (gallery[$0], galleryDir, false) }
        if let extraDir {
            sources += try CaptionedPhotoList.read(path: extraDir + "/extra.jsonl").map { ($0, extraDir, true) }
        }
        guard sources.count >= config.batchSize else {
            throw MiniTrainingError.badData("\(sources.count) training photos, fewer than one batch of \(config.batchSize)")
        }
        var captionTexts: [String] = [], captionIndex: [String: Int] = [:]
        func captionID(_ text: String) -> Int {
            if let i = captionIndex[text] { return i }
            captionIndex[text] = captionTexts.count; captionTexts.append(text); return captionTexts.count - 1
        }
        let decode = DecodeOptions(minimumSide: config.preloadSide, scaling: .toMinimumSide)
        let loaded = try parallelMap(sources) { s -> MiniSourceImage in
            let path = s.dir + "/" + s.photo.file
            let image = try ImageDecoder.decode(path: path, options: decode)
            return try MiniSourceImage(image: image, side: config.preloadSide, detectCutout: s.cutouts)
        }
        var examples: [Example] = []
        for (s, image) in zip(sources, loaded) {
            let caps = s.photo.captions.map(MiniCaptionCleaner.clean)
            examples.append(Example(file: s.photo.file, captionIDs: Array(Set(caps.map(captionID))).sorted(), category: s.photo.category,
                                    allowFlip: !caps.contains(where: MiniCaptionCleaner.mentionsSide), image: image))
        }
        let cutouts = examples.filter { $0.image.background != nil }.count
        let backgrounds = examples.filter { $0.image.background == nil }.map(\.image)
        log("dialclip-mini: \(examples.count) training photos (\(trainIdx.count) gallery + \(examples.count - trainIdx.count) extra, \(cutouts) cut-outs), \(captionTexts.count) distinct captions, \(valIdx.count) gallery photos held out")

        // 2. Frozen caption embeddings.
        let captionEmbeddings = try embed(captionTexts, with: textEncoder, dim: a.embedDim)
        var negativeColumns: [[Int]] = Array(repeating: [], count: captionTexts.count)   // caption id → negative rows
        var negativeCategory: [String?] = []
        var negativeEmbeddings: Tensor?
        if let dcar = config.categoryNegatives {
            var texts: [String] = [], index: [String: Int] = [:]
            let categoryOfCaption = Dictionary(examples.flatMap { e in e.captionIDs.map { ($0, e.category) } }, uniquingKeysWith: { a, _ in a })
            let build = dcar.prepare(captionTexts, captionTexts.indices.map { categoryOfCaption[$0] ?? "" })
            for (id, text) in captionTexts.enumerated() {
                for n in build(text, categoryOfCaption[id] ?? "") where captionIndex[n.text] == nil {
                    let j: Int
                    if let k = index[n.text] { j = k } else { j = texts.count; index[n.text] = j; texts.append(n.text); negativeCategory.append(n.category) }
                    if !negativeColumns[id].contains(j) { negativeColumns[id].append(j) }
                }
            }
            if !texts.isEmpty { negativeEmbeddings = try embed(texts, with: textEncoder, dim: a.embedDim) }
            log("dialclip-mini: \(texts.count) category-aware negative captions (alpha \(dcar.alpha))")
        }

        // 3. Held-out photos (centre crop, exactly as at inference).
        let validationPhotos = valIdx.map { gallery[$0] }
        var validation: (set: CaptionRetrievalSet, pixels: Tensor, histograms: Tensor, texts: Tensor)?
        if !validationPhotos.isEmpty {
            let pre = MiniPreprocessor(architecture: a)
            let images = try parallelMap(validationPhotos) { try ImageDecoder.decode(path: galleryDir + "/" + $0.file, options: pre.decodeOptions) }
            let (px, hist) = try pre.batch(images)
            let set = CaptionRetrievalSet(photos: validationPhotos)
            validation = (set, px, hist, try embed(set.texts, with: textEncoder, dim: a.embedDim))
        }
        func score(_ model: MiniModel) throws -> MiniValidationScores? {
            guard let v = validation else { return nil }
            let r = try v.set.ranks(images: try model.encode(pixels: v.pixels, histograms: v.histograms), textEmbeddings: v.texts)
            return MiniValidationScores(t2i: r.t2i, i2t: r.i2t)
        }
        if let v = validation {
            let c = v.set.chance()
            log(String(format: "dialclip-mini: chance on the held-out photos: t2i R@1 %.3f R@5 %.3f R@10 %.3f | i2t R@1 %.3f R@5 %.3f R@10 %.3f",
                       c.t2i.recall[0], c.t2i.recall[1], c.t2i.recall[2], c.i2t.recall[0], c.i2t.recall[1], c.i2t.recall[2]))
        }

        // 4. Members.
        let workDir = output + ".work"
        try FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true)
        var single = a; single.members = 1
        var allTensors: [String: Tensor] = [:]
        var memberReports: [(seconds: Double, losses: [Float], validation: MiniValidationScores?)] = []
        for k in 0..<a.members {
            let memberStart = Date()
            var initRNG = TrainingRNG(seed: config.seed &+ UInt64(k) &* 0x1000_0001)
            let tower = try MiniTower(architecture: a, member: k, rng: &initRNG)
            let parameters = try ParameterSet(tower.parameters)
            var meta = a.metadata
            meta["member"] = "\(k)"
            let checkpoint = workDir + "/member-\(k).safetensors"
            let loop = try TrainingLoop(
                parameters: parameters, exampleCount: examples.count,
                config: TrainingConfig(epochs: config.epochs, batchSize: config.batchSize, learningRate: config.learningRate,
                                       minLearningRate: config.minLearningRate, warmupSteps: config.warmupSteps,
                                       adam: AdamW.Config(weightDecay: config.weightDecay), gradientClip: config.gradientClip,
                                       seed: config.seed &+ UInt64(k), checkpointPath: checkpoint,
                                       checkpointEvery: config.checkpointEvery, dropLast: true, checkpointMetadata: meta),
                reporter: reporter)
            if config.resume && FileManager.default.fileExists(atPath: checkpoint) {
                try loop.resume(from: checkpoint)
                log("dialclip-mini: member \(k + 1) resumed at step \(loop.step) from \(checkpoint)")
            }
            let cache = tower.makeCache()
            let nanStep = k == 0 ? config.nanAtStep : nil
            var lastLoss: Float = .nan
            var losses: [Float] = []
            let chunk = config.validateEvery > 0 ? config.validateEvery * loop.stepsPerEpoch : loop.totalSteps
            while loop.step < loop.totalSteps {
                let summary = try loop.run(maxSteps: chunk) { batch, rng in
                    let loss = try step(tower: tower, cache: cache, batch: batch, rng: &rng, examples: examples,
                                        backgrounds: backgrounds, config: config, captions: captionEmbeddings,
                                        negatives: negativeEmbeddings, negativeColumns: negativeColumns,
                                        negativeCategory: negativeCategory)
                    if let n = nanStep, loop.step + 1 == n { return .nan }
                    return loss
                }
                lastLoss = summary.losses.last ?? lastLoss
                losses += summary.losses
                if loop.step < loop.totalSteps, let s = try score(MiniModel(architecture: single, tensors: renamed(tower.tensors, member: k, to: 0))) {
                    log(String(format: "dialclip-mini: member %d epoch %d loss %.3f held-out %@", k + 1, loop.step / loop.stepsPerEpoch, lastLoss, s.summary))
                }
            }
            let memberModel = try MiniModel(architecture: single, tensors: renamed(tower.tensors, member: k, to: 0))
            let s = try score(memberModel)
            let seconds = Date().timeIntervalSince(memberStart)
            log(String(format: "dialclip-mini: member %d done in %.0f s, loss %.3f%@", k + 1, seconds, lastLoss, s.map { ", held-out " + $0.summary } ?? ""))
            memberReports.append((seconds, losses, s))
            for (name, t) in tower.tensors { allTensors[name] = t }
        }

        // 5. The ensemble, saved in fp16 and scored as saved.
        var meta = config.metadata
        meta["name"] = MiniModel.defaultName
        meta["text_model"] = "sentence-transformers/all-MiniLM-L6-v2 (frozen)"
        meta["validation_files"] = validationPhotos.map(\.file).joined(separator: "\n")
        meta["training_gallery_files"] = trainIdx.map { gallery[$0].file }.joined(separator: "\n")
        meta["training_photos"] = "\(examples.count)"
        meta["training_captions"] = "\(captionTexts.count)"
        meta["training_seconds"] = String(format: "%.0f", Date().timeIntervalSince(started))
        try MiniModel.save(architecture: a, tensors: allTensors, metadata: meta, precision: .f16, to: output)
        let saved = try MiniModel(path: output)
        let ensemble = try score(saved)
        let floor = try score(MiniModel(randomWeights: a, seed: MiniModel.randomInitSeed))
        if let e = ensemble { log("dialclip-mini: ensemble (fp16, as saved) held-out " + e.summary) }
        if let f = floor { log("dialclip-mini: random_init held-out " + f.summary) }
        if let e = ensemble, let f = floor, let v = validation {
            // Record the held-out scores in the file itself, so an evaluation can check it
            // reproduces them (same tensors: re-saving does not change the scores).
            let c = v.set.chance()
            var report: [String: Any] = ["photos": validationPhotos.count, "captions": v.set.texts.count,
                                         MiniModel.defaultName: e.json, "random_init": f.json,
                                         "chance": ["t2i": MiniValidationScores.json(c.t2i.recall, c.t2i.mrr),
                                                    "i2t": MiniValidationScores.json(c.i2t.recall, c.i2t.mrr)]]
            report["random_init_seed"] = MiniModel.randomInitSeed
            let data = try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys])
            meta["eval_held_out"] = String(decoding: data, as: UTF8.self)
            meta["training_seconds"] = String(format: "%.0f", Date().timeIntervalSince(started))
            try saved.save(to: output, precision: .f16, metadata: meta)
        }
        try? FileManager.default.removeItem(atPath: workDir)
        return MiniTrainingResult(output: output, trainingPhotos: examples.count, trainingCaptions: captionTexts.count,
                                  validationFiles: validationPhotos.map(\.file), seconds: Date().timeIntervalSince(started),
                                  members: memberReports, validation: ensemble, randomInitValidation: floor)
    }

    /// One optimisation step of one member: augment, forward, losses, backward. Returns the loss.
    static func step(tower: MiniTower, cache: MiniTower.Cache, batch: [Int], rng: inout TrainingRNG, examples: [Example],
                     backgrounds: [MiniSourceImage], config: MiniTrainingConfig, captions: Tensor,
                     negatives: Tensor?, negativeColumns: [[Int]], negativeCategory: [String?]) throws -> Float {
        let a = tower.architecture, s = a.imageSize, b = batch.count, e = a.embedDim
        // Per example: a caption and an augmentation seed, drawn in order (deterministic).
        var chosen: [Int] = [], seeds: [UInt64] = []
        for i in batch {
            let ids = examples[i].captionIDs
            chosen.append(ids[Int(rng.next() % UInt64(ids.count))])
            seeds.append(rng.next())
        }
        let seedList = seeds
        var rgb = [Float](repeating: 0, count: b * 3 * s * s)
        var pixels = Tensor(zeros: [b, 3, s, s]), histograms = Tensor(zeros: [b, a.histogramDim])
        let pre = MiniPreprocessor(architecture: a)
        let aug = config.augmentation
        rgb.withUnsafeMutableBufferPointer { rbuf in
            let rp = UncheckedSendable(rbuf.baseAddress!), pp = UncheckedSendable(pixels.mutablePointer), hp = UncheckedSendable(histograms.mutablePointer)
            DispatchQueue.concurrentPerform(iterations: b) { n in
                var g = TrainingRNG(seed: seedList[n])
                let ex = examples[batch[n]]
                let out = rp.value + n * 3 * s * s
                MiniAugmenter.render(ex.image, size: s, settings: aug, allowFlip: ex.allowFlip, backgrounds: backgrounds, rng: &g, into: out)
                pre.finish(rgb01: out, pixels: pp.value + n * 3 * s * s, histogram: hp.value + n * a.histogramDim)
            }
        }
        let emb = try tower.forward(pixels: pixels, histograms: histograms, cache: cache)

        // In-batch captions (+ DCAR negatives as extra columns).
        var extra: [Int] = []
        if negatives != nil { for c in Set(chosen).sorted() { for j in negativeColumns[c] where !extra.contains(j) { extra.append(j) } } }
        let m = b + extra.count
        var texts = Tensor(zeros: [m, e])
        let tp = texts.mutablePointer
        for (n, c) in chosen.enumerated() { (tp + n * e).update(from: captions.pointer + c * e, count: e) }
        if let neg = negatives { for (x, j) in extra.enumerated() { (tp + (b + x) * e).update(from: neg.pointer + j * e, count: e) } }
        var positives = [Bool](repeating: false, count: b * m)
        for i in 0..<b { for j in 0..<b where chosen[i] == chosen[j] { positives[i * m + j] = true } }
        var weights: [Float]?
        if let dcar = config.categoryNegatives, negatives != nil {
            var w = [Float](repeating: 1, count: b * m)
            for i in 0..<b {
                let cat = examples[batch[i]].category
                for j in 0..<m where !positives[i * m + j] {
                    let other = j < b ? examples[batch[j]].category : negativeCategory[extra[j - b]]
                    if let other, !cat.isEmpty, other == cat { w[i * m + j] = 1 + dcar.alpha }
                }
            }
            weights = w
        }
        let t = tower.logitScale
        let r1 = try InfoNCE.compute(a: emb, b: texts, logScale: t.value, maxScale: t.maxScale, positives: positives, weights: weights)
        var loss = r1.loss
        var grad = r1.gradA
        var dt = r1.gradLogScale
        if config.allCaptionsWeight > 0 {
            let c = captions.shape[0], lambda = config.allCaptionsWeight
            var pos = [Bool](repeating: false, count: b * c)
            for (i, ex) in batch.enumerated() { for id in examples[ex].captionIDs { pos[i * c + id] = true } }
            let r2 = try InfoNCE.compute(a: emb, b: captions, logScale: t.value, maxScale: t.maxScale, positives: pos)
            loss += lambda * r2.loss
            let gp = grad.mutablePointer
            for i in 0..<grad.count { gp[i] += lambda * r2.gradA.pointer[i] }
            dt += lambda * r2.gradLogScale
        }
        if let g = t.logScale.gradPointer { g[0] += dt }
        try tower.backward(grad, cache: cache)
        return loss
    }

    static func embed(_ texts: [String], with encoder: MiniTextEncoder, dim: Int) throws -> Tensor {
        var out = Tensor(zeros: [texts.count, dim])
        var start = 0
        while start < texts.count {
            let chunk = Array(texts[start..<min(texts.count, start + 64)])
            let e = try encoder(chunk)
            guard e.shape == [chunk.count, dim] else {
                throw MiniTrainingError.textEncoder("returned \(e.shape) for \(chunk.count) texts, expected [\(chunk.count), \(dim)]")
            }
            guard (0..<e.count).allSatisfy({ e.pointer[$0].isFinite }) else { throw MiniTrainingError.textEncoder("returned NaN or infinite values") }
            (out.mutablePointer + start * dim).update(from: e.pointer, count: e.count)
            start += chunk.count
        }
        return out.l2Normalized()
    }

    /// Member k's tensors under member j's names.
    static func renamed(_ tensors: [String: Tensor], member k: Int, to j: Int) -> [String: Tensor] {
        let from = "m\(k).", to = "m\(j)."
        return Dictionary(uniqueKeysWithValues: tensors.compactMap { name, t in
            name.hasPrefix(from) ? (to + name.dropFirst(from.count), t) : nil
        })
    }

    /// Maps in parallel, keeping order; rethrows the first error.
    static func parallelMap<T, R>(_ items: [T], _ body: (T) throws -> R) throws -> [R] {
        var results = [Result<R, Error>?](repeating: nil, count: items.count)
        results.withUnsafeMutableBufferPointer { buf in
            let out = UncheckedSendable(buf.baseAddress!)
            withoutActuallyEscaping(body) { f in
                let shared = UncheckedSendable(f)
                let itemsShared = UncheckedSendable(items)
                DispatchQueue.concurrentPerform(iterations: items.count) { i in
                    out.value[i] = Result { try shared.value(itemsShared.value[i]) }
                }
            }
        }
        return try results.map { try $0!.get() }
    }
}
