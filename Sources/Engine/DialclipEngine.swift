import DCAR
import DialCLIP
import Foundation
import Gallery
import Models
import Tensor

/// What the engine loads.
public struct EngineOptions: Sendable {
    /// `--model`: nil = the bundled dialclip-mini, or a CLIP checkpoint path.
    public var model: String?
    /// Photo folder; nil = the bundled demo gallery.
    public var gallery: String?
    /// Index database; nil = the XDG default.
    public var database: String?
    /// Reply pool file; nil = the bundled pool.
    public var replies: String?
    /// DialCLIP prompts checkpoint; nil = the bundled one, "none" = zero-shot only.
    public var prompts: String?
    /// How a CLIP checkpoint's weights are held (`--fp16-weights`).
    public var precision: WeightPrecision

    public init(model: String? = nil, gallery: String? = nil, database: String? = nil, replies: String? = nil, prompts: String? = nil,
                precision: WeightPrecision = .f32) {
        self.model = model; self.gallery = gallery; self.database = database; self.replies = replies; self.prompts = prompts
        self.precision = precision
    }
}

/// The façade the CLI and the TUI use: photos from the gallery index and replies from the
/// reply pool, retrieved over the whole dialogue so far.
public final class DialclipEngine: RetrievalEngine, @unchecked Sendable {
    public let options: EngineOptions
    public let models: ImageTextModel
    public let index: GalleryIndex
    public let replyEncoder: MiniLMEncoder
    public let replies: ReplyIndex
    public let galleryRoot: String
    /// DialCLIP's prompt-tuned query encoder over the MiniLM tower (nil when its
    /// checkpoint is missing or `--prompts none`); zero-shot retrieval is used then.
    public let dialog: DialCLIPQueryEncoder?
    /// Whether photo embeddings live in MiniLM's space (dialclip-mini), so DialCLIP's
    /// image expert can query them; a CLIP checkpoint has its own text tower instead.
    let photosInMiniLMSpace: Bool
    /// Serialises model use: the encoders keep no per-call state but share BLAS threads.
    private let lock = NSLock()
    private var searcher: GallerySearcher?

    public var modelName: String { models.displayName }

    /// Loads the models, the reply pool (embeddings cached on disk after the first use)
    /// and opens the index. Does not index: call `indexGallery` (e.g. in the background).
    public init(options: EngineOptions, progress: ((String) -> Void)? = nil) throws {
        self.options = options
        let assets = try Assets.locate()
        progress?("loading model")
        models = try ModelLoader.load(options.model, precision: options.precision)
        if let shared = models.text as? MiniLMEncoder { replyEncoder = shared } else { replyEncoder = try MiniLMEncoder() }
        progress?("loading replies")
        let pool = options.replies ?? assets.appendingPathComponent("replies/reply_pool.txt").path
        replies = try ReplyIndex(poolPath: pool, encoder: replyEncoder) { done, total in progress?("encoding replies \(done)/\(total)") }
        progress?("loading DialCLIP prompts")
        if options.prompts?.lowercased() == "none" {
            dialog = nil
        } else {
            let path = options.prompts ?? assets.appendingPathComponent(PromptsCheckpoint.bundledMiniLM).path
            if options.prompts != nil || FileManager.default.fileExists(atPath: path) {
                dialog = try DialCLIPQueryEncoder(tower: TextTower(miniLMFolder: ModelDirectory.miniLM), promptsPath: path)
            } else {
                dialog = nil
            }
        }
        photosInMiniLMSpace = models.text is MiniLMEncoder
        index = try GalleryIndex(path: options.database ?? GalleryIndex.defaultDatabasePath())
        galleryRoot = GalleryPaths.absolute(options.gallery ?? assets.appendingPathComponent("gallery").path)
        searcher = try? loadSearcher()
    }

    /// Brings the index up to date with the gallery folder and reloads the search matrix.
    /// Only the encoder calls hold the model lock, batch by batch, so retrievals run
    /// between batches while a large folder is indexed.
    @discardableResult
    public func indexGallery(progress: ((IndexProgress) -> Void)? = nil) throws -> IndexReport {
        let encoder = LockedGalleryEncoder(inner: ModelGalleryEncoder(model: models), lock: lock)
        let report = try GalleryIndexer(index: index, encoder: encoder).run(roots: [galleryRoot], progress: progress)
        let fresh = try loadSearcher()
        locked { searcher = fresh }
        return report
    }

    public func updateGallery(progress: @escaping @Sendable (GalleryUpdateProgress) -> Void) async throws -> GalleryUpdateProgress {
        let report = try indexGallery { p in
            switch p.phase {
            case .scanning: progress(GalleryUpdateProgress(phase: .scanning, found: p.filesFound))
            case .indexing, .pruning: progress(GalleryUpdateProgress(phase: .indexing, found: p.filesFound, done: p.done, total: p.total))
            case .finished: break
            }
        }
        return GalleryUpdateProgress(phase: .finished, found: report.found, done: report.added + report.updated,
                                     total: report.added + report.updated, problems: report.problems.count)
    }

    private func loadSearcher() throws -> GallerySearcher {
        try GallerySearcher(index: index, model: models.identity, kinds: [.image])
    }

    /// Number of photos searchable now.
    public var gallerySize: Int { locked { searcher?.count ?? 0 } }

    public func retrieve(context: [DialogTurn], kinds: Set<RetrievalKind>, k: Int) async throws -> RetrievalResult {
        let t0 = Benchmarks.now()
        let texts = context.map(\.text).filter { !$0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }
        var photos: [RetrievalHit] = []
        var replyHits: [RetrievalHit] = []
        var shareProbability: Float?
        try locked {
            // Photos shared earlier in the dialogue, embedded by the image tower.
            let sharedPaths = Array(context.compactMap(\.imagePath).suffix(3))
            let sharedImages = sharedPaths.isEmpty ? nil : try? models.image.embed(paths: sharedPaths)
            let dialogContext = DialogueContext(
                turns: context.filter { !$0.text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }
                    .map { DialCLIP.DialogueTurn(speaker: $0.speaker, text: $0.text) },
                imageEmbeddings: photosInMiniLMSpace ? (sharedImages.map(Self.rows) ?? []) : [])
            if let dialog { shareProbability = try dialog.photoShareProbability(dialogContext) }

            if kinds.contains(.image), let searcher, searcher.count > 0 {
                var query: [Float]
                if let dialog, photosInMiniLMSpace {
                    query = try dialog.encode(dialogContext, expert: .image)
                } else {
                    var q = try models.text.embed(texts: [models.text.contextText(turns: texts.isEmpty ? [""] : texts)])
                    // Without DialCLIP, photos shared earlier pull the query toward what was shown.
                    if let images = sharedImages {
                        let d = q.count
                        let qp = q.mutablePointer
                        for r in 0..<images.shape[0] { for i in 0..<d { qp[i] += 0.5 / Float(images.shape[0]) * images.pointer[r * d + i] } }
                        q = q.l2Normalized()
                    }
                    query = q.array
                }
                photos = try searcher.search(query, k: k, kind: .image).map {
                    RetrievalHit(rank: $0.rank, kind: .image, path: $0.path, text: $0.caption ?? "", score: $0.score, category: $0.category)
                }
            }
            if kinds.contains(.reply) {
                let q: Tensor
                if let dialog {
                    q = try Tensor(try dialog.encode(dialogContext, expert: .reply), shape: [1, replyEncoder.dimension])
                } else {
                    q = try replyEncoder.embed(texts: [replyEncoder.contextText(turns: texts.isEmpty ? [""] : texts)])
                }
                replyHits = try replies.search(query: q, k: k).enumerated().map {
                    RetrievalHit(rank: $0.offset + 1, kind: .reply, path: nil, text: $0.element.reply, score: $0.element.score)
                }
            }
        }
        return RetrievalResult(photos: photos, replies: replyHits, photoShareProbability: shareProbability,
                               latencySeconds: Benchmarks.now() - t0)
    }

    public func explain(text: String, imagePath: String) async throws -> AttributeExplanation {
        try locked {
            try AttributeInspector.explain(text: text, imagePath: imagePath, imageEmbedder: models.image,
                                           textEmbedder: models.text, beta: Reranker.suggestedBeta)
        }
    }

    public func galleryEntries() async throws -> [GalleryEntry] {
        try index.items(kind: .image).filter { $0.path.hasPrefix(galleryRoot) }.map {
            GalleryEntry(path: $0.path, caption: $0.caption ?? "", category: $0.category)
        }
    }

    static func rows(_ t: Tensor) -> [[Float]] {
        let d = t.shape[1]
        return (0..<t.shape[0]).map { Array(UnsafeBufferPointer(start: t.pointer + $0 * d, count: d)) }
    }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock(); defer { lock.unlock() }
        return try body()
    }
}

/// Engine-level failures.
public enum EngineError: Error, CustomStringConvertible {
    case unavailable(String)
    public var description: String {
        switch self { case .unavailable(let s): return s }
    }
}

/// A gallery encoder that takes the engine's model lock for each batch only.
private struct LockedGalleryEncoder: GalleryEncoder, @unchecked Sendable {
    let inner: ModelGalleryEncoder
    let lock: NSLock
    var identity: ModelIdentity { inner.identity }
    func encodeImages(paths: [String]) throws -> [Result<[Float], Error>] {
        lock.lock(); defer { lock.unlock() }
        return try inner.encodeImages(paths: paths)
    }
    func encodeTexts(_ texts: [String]) throws -> [[Float]] {
        lock.lock(); defer { lock.unlock() }
        return try inner.encodeTexts(texts)
    }
}
