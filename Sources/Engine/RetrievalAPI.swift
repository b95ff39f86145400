import Foundation

/// One turn of a dialogue. `imagePath` is set when the turn shares a photo (it then
/// becomes context for later retrievals).
public struct DialogTurn: Sendable, Equatable, Codable {
    public var speaker: String
    public var text: String
    public var imagePath: String?

    public init(speaker: String, text: String, imagePath: String? = nil) {
        self.speaker = speaker
        self.text = text
        self.imagePath = imagePath
    }
}

/// What a retrieval looks for.
public enum RetrievalKind: String, Sendable, Codable, CaseIterable {
    case image
    case reply
}

/// One ranked result.
public struct RetrievalHit: Sendable, Equatable, Codable {
    public var rank: Int
    public var kind: RetrievalKind
    /// Absolute file path for photos; nil for text replies.
    public var path: String?
    /// Caption of a photo, or the reply text.
    public var text: String
    public var score: Float
    public var category: String?

    public init(rank: Int, kind: RetrievalKind, path: String?, text: String, score: Float, category: String? = nil) {
        self.rank = rank
        self.kind = kind
        self.path = path
        self.text = text
        self.score = score
        self.category = category
    }
}

/// The answer to one retrieval over a dialogue context.
public struct RetrievalResult: Sendable, Equatable {
    public var photos: [RetrievalHit]
    public var replies: [RetrievalHit]
    /// Probability that the next turn shares a photo (DialCLIP's routing head), when known.
    public var photoShareProbability: Float?
    public var latencySeconds: Double

    public init(photos: [RetrievalHit], replies: [RetrievalHit], photoShareProbability: Float?, latencySeconds: Double) {
        self.photos = photos
        self.replies = replies
        self.photoShareProbability = photoShareProbability
        self.latencySeconds = latencySeconds
    }
}

/// DCAR's explanation of one (text, image) match, the data behind `dialclip inspect`
/// and the TUI's inspector.
public struct AttributeExplanation: Sendable, Equatable, Codable {
    public struct Phrase: Sendable, Equatable, Codable {
        public var phrase: String
        public var weight: Float
        public var sImage: Float
        public var sBlank: Float
        public init(phrase: String, weight: Float, sImage: Float, sBlank: Float) {
            self.phrase = phrase; self.weight = weight; self.sImage = sImage; self.sBlank = sBlank
        }
    }
    public var image: String
    public var text: String
    public var globalScore: Float
    public var finalScore: Float
    public var beta: Float
    public var phrases: [Phrase]
    /// Set when weights fell back to uniform or no phrase was found.
    public var note: String?

    public init(image: String, text: String, globalScore: Float, finalScore: Float, beta: Float, phrases: [Phrase], note: String? = nil) {
        self.image = image; self.text = text; self.globalScore = globalScore; self.finalScore = finalScore
        self.beta = beta; self.phrases = phrases; self.note = note
    }
}

/// A photo known to the gallery index.
public struct GalleryEntry: Sendable, Equatable {
    public var path: String
    public var caption: String
    public var category: String?
    public init(path: String, caption: String, category: String?) {
        self.path = path; self.caption = caption; self.category = category
    }
}

/// Progress of bringing the gallery index up to date (for status bars).
public struct GalleryUpdateProgress: Sendable, Equatable {
    public enum Phase: String, Sendable { case scanning, indexing, finished }
    public var phase: Phase
    /// Photos found so far by the folder walk.
    public var found: Int
    /// New or changed photos processed so far, of `total`.
    public var done: Int
    public var total: Int
    /// Files that could not be indexed (known once the run has finished).
    public var problems: Int

    public init(phase: Phase, found: Int = 0, done: Int = 0, total: Int = 0, problems: Int = 0) {
        self.phase = phase; self.found = found; self.done = done; self.total = total; self.problems = problems
    }
}

/// The façade the CLI and the TUI talk to. The TUI sees only this protocol (it never
/// touches BLAS or model code).
public protocol RetrievalEngine: Sendable {
    /// Name of the loaded model, for status bars.
    var modelName: String { get }
    /// Retrieves photos and/or replies for the whole dialogue so far.
    func retrieve(context: [DialogTurn], kinds: Set<RetrievalKind>, k: Int) async throws -> RetrievalResult
    /// DCAR attribute weights of `text` against the photo at `imagePath`.
    func explain(text: String, imagePath: String) async throws -> AttributeExplanation
    /// Every photo in the gallery (for the browser).
    func galleryEntries() async throws -> [GalleryEntry]
    /// Brings the index up to date with the gallery folder; retrieval keeps working
    /// meanwhile (over what was indexed before). Reports progress as it goes.
    func updateGallery(progress: @escaping @Sendable (GalleryUpdateProgress) -> Void) async throws -> GalleryUpdateProgress
}

extension RetrievalEngine {
    /// Engines with a fixed gallery have nothing to update.
    public func updateGallery(progress: @escaping @Sendable (GalleryUpdateProgress) -> Void) async throws -> GalleryUpdateProgress {
        GalleryUpdateProgress(phase: .finished)
    }
}
