import Foundation

/// Who produced an embedding. Embeddings are keyed by (item, model id); a model row is
/// identified by (name, weightsHash). The same name with another weights hash is a
/// different model (its vectors are never mixed with the old ones), while the same name
/// with another dimension is refused outright: that is almost always a mislabelled model.
public struct ModelIdentity: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Human name, e.g. "clip-vit-b32" or "dialclip-photochat".
    public var name: String
    /// Hash of the weights file (any stable string; SHA-256 hex recommended).
    public var weightsHash: String
    /// Embedding dimension.
    public var dim: Int

    public init(name: String, weightsHash: String, dim: Int) {
        self.name = name
        self.weightsHash = weightsHash
        self.dim = dim
    }

    public var description: String { "\(name) (\(dim)-d, weights \(weightsHash.prefix(12)))" }

    func validate() throws {
        if name.trimmingCharacters(in: .whitespaces).isEmpty { throw GalleryError.invalidModel("empty model name") }
        if dim <= 0 || dim > 1 << 16 { throw GalleryError.invalidModel("dimension \(dim) for '\(name)'") }
    }
}

/// How embeddings are stored in the database. fp16 halves the file; search always
/// runs on an fp32 matrix in memory.
public enum EmbeddingStorage: String, Sendable, Codable {
    case fp32
    case fp16

    var bytesPerValue: Int { self == .fp32 ? 4 : 2 }
}

/// What an item is: a photo file, or a text reply from a reply pool.
public enum ItemKind: String, Sendable, Codable, CaseIterable {
    case image
    case reply
}

/// The encoders the gallery needs, injected by the engine (the real CLIP / DialCLIP
/// towers) or by tests (deterministic doubles). The gallery never decodes pixels
/// itself: decoding, orientation and preprocessing belong to the encoder (Imaging).
public protocol GalleryEncoder: Sendable {
    /// The model that produces these vectors; its `dim` is checked on every vector.
    var identity: ModelIdentity { get }
    /// One result per path, in order. A failure for one file (corrupt JPEG, too many
    /// pixels, permission denied) is returned as `.failure` and does not stop the batch;
    /// throwing fails the whole batch (e.g. the model itself broke).
    func encodeImages(paths: [String]) throws -> [Result<[Float], Error>]
    /// One vector per text, in order.
    func encodeTexts(_ texts: [String]) throws -> [[Float]]

    /// The work before the model runs (decoding, preprocessing) for files whose bytes the
    /// indexer already read. The indexer calls it on a background thread for the next
    /// batch while `encodeImages(prepared:)` runs for the current one. Never throws:
    /// per-file failures travel inside the result.
    func prepareImages(_ files: [(path: String, contents: Data)]) -> PreparedImages
    /// `encodeImages(paths:)` for a prepared batch.
    func encodeImages(prepared: PreparedImages) throws -> [Result<[Float], Error>]
}

/// A batch made ready by `GalleryEncoder.prepareImages`; `input` is the encoder's own
/// (nil: nothing was prepared, encode from the paths).
public struct PreparedImages: @unchecked Sendable {
    public let paths: [String]
    public let input: Any?

    public init(paths: [String], input: Any?) {
        self.paths = paths
        self.input = input
    }
}

extension GalleryEncoder {
    public func prepareImages(_ files: [(path: String, contents: Data)]) -> PreparedImages {
        PreparedImages(paths: files.map(\.path), input: nil)
    }

    public func encodeImages(prepared: PreparedImages) throws -> [Result<[Float], Error>] {
        try encodeImages(paths: prepared.paths)
    }
}

/// Vector helpers shared by the index and the searcher.
enum EmbeddingMath {
    /// L2-normalised copy; throws when the vector is zero or has NaN/Inf.
    static func normalized(_ v: [Float], context: String) throws -> [Float] {
        var sum: Double = 0
        for x in v {
            guard x.isFinite else { throw GalleryError.invalidVector(context: context) }
            sum += Double(x) * Double(x)
        }
        guard sum > 0, sum.isFinite else { throw GalleryError.invalidVector(context: context) }
        let inv = Float(1 / sum.squareRoot())
        return v.map { $0 * inv }
    }
}
