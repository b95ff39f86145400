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
}
