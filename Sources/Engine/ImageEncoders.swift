import Foundation
import Imaging
import Models
import Tensor

/// Turns image files into L2-normalised embeddings `[n, dimension]`.
public protocol ImageEmbedder: AnyObject, Sendable {
    var name: String { get }
    var dimension: Int { get }
    /// One embedding per path; throws on the first file that cannot be decoded.
    func embed(paths: [String]) throws -> Tensor
    /// Decoded images (already oriented) → embeddings.
    func embed(images: [RGBImage]) throws -> Tensor

    /// How photos are decoded for this model (DCT scaling limits).
    var decodeOptions: DecodeOptions { get }
    /// One decoded image as model input. Safe to call from several threads at once: the
    /// indexer prepares the next batch while the model encodes the current one, and the
    /// full-size pixels can be dropped as soon as this returns.
    func prepare(_ image: RGBImage) throws -> PreparedImage
    /// Embeddings of prepared images, in order; `embed(images:)` is `prepare` + this.
    func embed(prepared: [PreparedImage]) throws -> Tensor
}

/// One photo made ready for its model: the input tensors the encoder stacks into a batch
/// (CLIP: normalised pixels; dialclip-mini: pixels and colour histogram), or the decoded
/// image itself for encoders without a separate preprocessing step.
public struct PreparedImage: @unchecked Sendable {
    public let inputs: [Tensor]
    public let image: RGBImage?

    public init(inputs: [Tensor]) { self.inputs = inputs; self.image = nil }
    public init(image: RGBImage) { self.inputs = []; self.image = image }

    /// Stacks input `part` of every image into one batch tensor `[n, …]`.
    static func stack(_ images: [PreparedImage], part: Int) throws -> Tensor {
        try Tensor.stack(images.map { $0.inputs[part] })
    }
}

extension ImageEmbedder {
    public var decodeOptions: DecodeOptions { DecodeOptions(minimumSide: 224) }
    public func prepare(_ image: RGBImage) throws -> PreparedImage { PreparedImage(image: image) }
    public func embed(prepared: [PreparedImage]) throws -> Tensor { try embed(images: prepared.compactMap(\.image)) }
}

/// A CLIP checkpoint's image tower with OpenAI's exact preprocessing.
public final class CLIPImageEncoder: ImageEmbedder, @unchecked Sendable {
    public let name: String
    public let model: CLIPModel
    public let preprocessor: CLIPPreprocessor

    public init(model: CLIPModel, name: String) throws {
        self.model = model
        self.name = name
        preprocessor = try CLIPPreprocessor(imageSize: model.config.imageSize)
    }

    public var dimension: Int { model.config.embedDim }

    public func embed(paths: [String]) throws -> Tensor {
        var pixels: [Float] = []
        let s = model.config.imageSize
        pixels.reserveCapacity(paths.count * 3 * s * s)
        for p in paths { pixels += try preprocessor.pixelValues(path: p) }
        return try model.encodeImages(pixels: try Tensor(pixels, shape: [paths.count, 3, s, s])).l2Normalized()
    }

    public func embed(images: [RGBImage]) throws -> Tensor {
        let s = model.config.imageSize
        let pixels = try preprocessor.pixelValues(batch: images)
        return try model.encodeImages(pixels: try Tensor(pixels, shape: [images.count, 3, s, s])).l2Normalized()
    }

    /// Full-size decode (results match Pillow) unless a photo is over the pixel budget,
    /// then DCT-scaled no smaller than the model's input.
    public var decodeOptions: DecodeOptions { preprocessor.decodeOptions() }

    public func prepare(_ image: RGBImage) throws -> PreparedImage {
        let s = model.config.imageSize
        return PreparedImage(inputs: [try Tensor(try preprocessor.pixelValues(image), shape: [3, s, s])])
    }

    public func embed(prepared: [PreparedImage]) throws -> Tensor {
        guard !prepared.isEmpty else { return Tensor(zeros: [0, dimension]) }
        return try model.encodeImages(pixels: try PreparedImage.stack(prepared, part: 0)).l2Normalized()
    }
}
