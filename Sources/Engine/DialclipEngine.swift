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

    public init(model: String? = nil, gallery: String? = nil, database: String? = nil, replies: String? = nil) {
        self.model = model; self.gallery = gallery; self.database = database; self.replies = replies
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
        models = try ModelLoader.load(options.model)
        if let shared = models.text as? MiniLMEncoder { replyEncoder = shared } else { replyEncoder = try MiniLMEncoder() }
        progress?("loading replies")
        let pool = options.replies ?? assets.appendingPathComponent("replies/reply_pool.txt").path
        replies = try ReplyIndex(poolPath: pool, encoder: replyEncoder) { done, total in progress?("encoding replies \(done)/\(total)") }
        index = try GalleryIndex(path: options.database ?? GalleryIndex.defaultDatabasePath())
        galleryRoot = GalleryPaths.absolute(options.gallery ?? assets.appendingPathComponent("gallery").path)
        searcher = try? loadSearcher()
    }

    /// Brings the index up to date with the gallery folder and reloads the search matrix.
    @discardableResult
    public func indexGallery(progress: ((IndexProgress) -> Void)? = nil) throws -> IndexReport {
        let indexer = GalleryIndexer(index: index, encoder: ModelGalleryEncoder(model: models))
        let report = try locked { try indexer.run(roots: [galleryRoot], progress: progress) }
        let fresh = try loadSearcher()
        locked { searcher = fresh }
        return report
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
        try locked {
            if kinds.contains(.image), let searcher, searcher.count > 0 {
                var query = try models.text.embed(texts: [models.text.contextText(turns: texts.isEmpty ? [""] : texts)])
                // Photos shared earlier in the dialogue pull the query toward what was shown.
                let shared = context.compactMap(\.imagePath).suffix(3)
                if !shared.isEmpty, let images = try? models.image.embed(paths: Array(shared)) {
                    let d = query.count
                    let qp = query.mutablePointer
                    for r in 0..<images.shape[0] { for i in 0..<d { qp[i] += 0.5 / Float(images.shape[0]) * images.pointer[r * d + i] } }
                    query = query.l2Normalized()
                }
                photos = try searcher.search(query.array, k: k, kind: .image).map {
                    RetrievalHit(rank: $0.rank, kind: .image, path: $0.path, text: $0.caption ?? "", score: $0.score, category: $0.category)
                }
            }
            if kinds.contains(.reply) {
                let q = try replyEncoder.embed(texts: [replyEncoder.contextText(turns: texts.isEmpty ? [""] : texts)])
                replyHits = try replies.search(query: q, k: k).enumerated().map {
                    RetrievalHit(rank: $0.offset + 1, kind: .reply, path: nil, text: $0.element.reply, score: $0.element.score)
                }
            }
        }
        return RetrievalResult(photos: photos, replies: replyHits, photoShareProbability: nil, latencySeconds: Benchmarks.now() - t0)
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
