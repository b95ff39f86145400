import DCAR
import Foundation
import Imaging
import Models
import Tensor

/// Errors of DCAR inspection and evaluation.
public enum AttributeInspectorError: Error, CustomStringConvertible, Equatable {
    /// The file is not a readable JPEG/PNG image; `reason` is the decoder's message.
    case notAnImage(path: String, reason: String)
    /// The text and image encoders embed into different spaces.
    case incompatibleEncoders(text: String, textDimension: Int, image: String, imageDimension: Int)
    /// β outside [0, 1].
    case invalidBeta(Float)

    public var description: String {
        switch self {
        case .notAnImage(let path, let reason):
            return "\(path) is not an image dialclip can read: \(reason). Give a JPEG or PNG file."
        case .incompatibleEncoders(let t, let td, let i, let id):
            return "the text encoder \(t) (dimension \(td)) and the image encoder \(i) (dimension \(id)) do not share an embedding space; use a CLIP checkpoint or dialclip-mini for both"
        case .invalidBeta(let b):
            return "beta must be between 0 and 1 (got \(b)); 0 disables DCAR re-ranking"
        }
    }
}

/// The embedding of DCAR's blank image (uniform mid-grey, `RGBImage.midGrey`) per image
/// model, computed once and kept in memory (key: embedder name + dimension + input size);
/// optionally also on disk (`cacheDirectory`, e.g. `$XDG_CACHE_HOME/dialclip/embeddings`),
/// keyed additionally by the size and mtime of the model file when the name is a path, so a
/// replaced checkpoint is never served a stale blank.
public final class BlankImageCache: @unchecked Sendable {
    /// The process-wide memory cache (no disk).
    public static let shared = BlankImageCache()

    public let cacheDirectory: String?
    private let lock = NSLock()
    private var memory: [String: Tensor] = [:]
    /// How many times an embedding was actually computed (for tests and `doctor`).
    public private(set) var computations = 0

    public init(cacheDirectory: String? = nil) {
        self.cacheDirectory = cacheDirectory
    }

    /// The blank image's L2-normalised embedding `[dimension]` for `embedder`.
    public func embedding(for embedder: ImageEmbedder) throws -> Tensor {
        let size = BlankImageCache.inputSize(of: embedder)
        let key = BlankImageCache.key(name: embedder.name, dimension: embedder.dimension, size: size)
        lock.lock()
        defer { lock.unlock() }
        if let t = memory[key] { return t }
        let file = cacheDirectory.map { "\($0)/blank-\(ContentHash.hex(ContentHash.fnv1a64(Array(key.utf8)))).safetensors" }
        if let file, let stored = try? SafeTensorsFile(path: file),
           let t = try? stored.tensor("embedding", shape: [embedder.dimension]) {
            let copy = try Tensor(t.array, shape: [embedder.dimension])   // own the memory, not the mmap
            memory[key] = copy
            return copy
        }
        let e = try embedder.embed(images: [try RGBImage.midGrey(width: size, height: size)])
        let t = try e.reshaped([embedder.dimension])
        computations += 1
        memory[key] = t
        if let file, let dir = cacheDirectory {
            try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try? SafeTensorsWriter.write([("embedding", t)], metadata: ["model": embedder.name, "what": "dcar blank image"], to: file)
        }
        return t
    }

    /// The model's square input size (224 when the embedder does not say).
    static func inputSize(of embedder: ImageEmbedder) -> Int {
        (embedder as? CLIPImageEncoder)?.model.config.imageSize ?? 224
    }

    static func key(name: String, dimension: Int, size: Int) -> String {
        var key = "\(name)|\(dimension)|\(size)"
        if let attrs = try? FileManager.default.attributesOfItem(atPath: name) {
            let bytes = (attrs[.size] as? NSNumber)?.intValue ?? 0
            let mtime = (attrs[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            key += "|\(bytes)|\(mtime)"
        }
        return key
    }
}

extension AttributeWeighting {
    /// DCAR's explanation of one (text, image) pair from embeddings (pure maths):
    /// `phraseEmbeddings` [P, D] for `phrases`, `imageEmbedding` and `blankEmbedding` [D].
    /// Weights sum to 1 (uniform with a note when every difference is 0); with no phrase the
    /// final score is the global score, with a note.
    public static func explain(text: String, image: String = "", phrases: [String], imageEmbedding: Tensor, blankEmbedding: Tensor,
                               phraseEmbeddings: Tensor, globalScore: Float, beta: Float) throws -> AttributeExplanation {
        guard beta.isFinite, beta >= 0, beta <= 1 else { throw AttributeInspectorError.invalidBeta(beta) }
        let s = try score(phrases: phrases, phraseEmbeddings: phraseEmbeddings, imageEmbedding: imageEmbedding,
                          blankEmbedding: blankEmbedding, globalScore: globalScore, beta: beta)
        return AttributeExplanation(image: image, text: text, globalScore: s.globalScore, finalScore: s.finalScore, beta: beta,
                                    phrases: s.phrases.map { .init(phrase: $0.phrase, weight: $0.weight, sImage: $0.sImage, sBlank: $0.sBlank) },
                                    note: s.note)
    }
}

extension AttributeExplanation {
    /// The DESIGN.md §8 shape of `dialclip inspect --json`: `{"image", "text",
    /// "global_score", "final_score", "beta", "phrases": [{"phrase", "weight", "s_image",
    /// "s_blank"}]}` plus `"attribute_score"` and `"note"` (null when none).
    public var json: [String: Any] {
        var attribute: Float = 0
        for p in phrases { attribute += p.weight * p.sImage }
        return [
            "image": image, "text": text, "global_score": jsonNumber(globalScore), "final_score": jsonNumber(finalScore),
            "beta": jsonNumber(beta), "attribute_score": jsonNumber(phrases.isEmpty ? globalScore : attribute),
            "phrases": phrases.map {
                ["phrase": $0.phrase, "weight": jsonNumber($0.weight), "s_image": jsonNumber($0.sImage), "s_blank": jsonNumber($0.sBlank)]
            },
            "note": note.map { $0 as Any } ?? NSNull(),
        ]
    }
}

/// A Float as the shortest decimal that reads back to it (0.3, not 0.30000001192092896);
/// null when not finite (JSON has no NaN).
func jsonNumber(_ f: Float) -> Any {
    guard f.isFinite else { return NSNull() }
    return Double("\(f)") ?? Double(f)
}

/// Explains why a photo matches a text (DCAR, DESIGN.md §5.5): what `dialclip inspect` and
/// the TUI's inspector show. Any image file works: it is decoded and encoded on the fly.
/// For models whose text and image towers share one space (CLIP, dialclip-mini),
/// S(phrase, image) is the cosine of the phrase's text embedding and the image embedding.
public struct AttributeInspector: Sendable {
    public let imageEmbedder: ImageEmbedder
    public let textEmbedder: TextEmbedder
    public let chunker: AttributeChunker
    public let blankCache: BlankImageCache

    public init(imageEmbedder: ImageEmbedder, textEmbedder: TextEmbedder, chunker: AttributeChunker = AttributeChunker(),
                blankCache: BlankImageCache = .shared) throws {
        guard imageEmbedder.dimension == textEmbedder.dimension else {
            throw AttributeInspectorError.incompatibleEncoders(text: textEmbedder.name, textDimension: textEmbedder.dimension,
                                                               image: imageEmbedder.name, imageDimension: imageEmbedder.dimension)
        }
        self.imageEmbedder = imageEmbedder
        self.textEmbedder = textEmbedder
        self.chunker = chunker
        self.blankCache = blankCache
    }

    /// Explains `text` against the photo at `imagePath`. `imageEmbedding` skips the image
    /// encoder when the index already has the photo's embedding. Throws
    /// `AttributeInspectorError.notAnImage` for anything that is not a readable JPEG/PNG.
    public func explain(text: String, imagePath: String, beta: Float, imageEmbedding: Tensor? = nil) throws -> AttributeExplanation {
        guard beta.isFinite, beta >= 0, beta <= 1 else { throw AttributeInspectorError.invalidBeta(beta) }
        let image: Tensor
        if let imageEmbedding {
            image = try imageEmbedding.reshaped([imageEmbedder.dimension])
        } else {
            let decoded: RGBImage
            do {
                decoded = try ImageDecoder.decode(path: imagePath)
            } catch let e as ImagingError {
                throw AttributeInspectorError.notAnImage(path: imagePath, reason: e.description)
            }
            image = try imageEmbedder.embed(images: [decoded]).reshaped([imageEmbedder.dimension])
        }
        let phrases = chunker.analyze(text).phrases.map(\.text)
        // The text and its phrases in one batch.
        let texts = try textEmbedder.embed(texts: [text] + phrases)
        let global = dot(texts.row(0), image)
        let phraseEmbeddings = phrases.isEmpty ? Tensor(zeros: [0, textEmbedder.dimension]) : texts.rows(1..<(phrases.count + 1))
        return try AttributeWeighting.explain(text: text, image: imagePath, phrases: phrases, imageEmbedding: image,
                                              blankEmbedding: try blankCache.embedding(for: imageEmbedder),
                                              phraseEmbeddings: phraseEmbeddings, globalScore: global, beta: beta)
    }

    /// DCAR re-ranking of a search's top-K for the query `text`: its phrases are encoded in
    /// one batch, then `Reranker.rerank` re-scores `candidates` (id, cosine with the query)
    /// whose image embeddings are the rows of `candidateEmbeddings` [K, D] (the index's).
    /// β = 0 or a text without phrases returns the candidates as they were (sorted by score).
    public func rerank<ID: Sendable & Hashable>(text: String, candidates: [(id: ID, score: Float)], candidateEmbeddings: Tensor,
                                                beta: Float) throws -> [RerankedCandidate<ID>] {
        guard beta.isFinite, beta >= 0, beta <= 1 else { throw AttributeInspectorError.invalidBeta(beta) }
        let phrases = beta > 0 ? chunker.analyze(text).phrases.map(\.text) : []
        let phraseEmbeddings = phrases.isEmpty ? nil : try textEmbedder.embed(texts: phrases)
        return try Reranker.rerank(candidates: candidates, candidateEmbeddings: candidateEmbeddings, phraseEmbeddings: phraseEmbeddings,
                                   blankEmbedding: try blankCache.embedding(for: imageEmbedder), beta: beta)
    }

    /// One-shot convenience for `dialclip inspect`.
    public static func explain(text: String, imagePath: String, imageEmbedder: ImageEmbedder, textEmbedder: TextEmbedder,
                               beta: Float) throws -> AttributeExplanation {
        try AttributeInspector(imageEmbedder: imageEmbedder, textEmbedder: textEmbedder).explain(text: text, imagePath: imagePath, beta: beta)
    }

    private func dot(_ a: Tensor, _ b: Tensor) -> Float {
        var s: Float = 0
        let n = min(a.count, b.count)
        for i in 0..<n { s += a.pointer[i] * b.pointer[i] }
        return s
    }
}
