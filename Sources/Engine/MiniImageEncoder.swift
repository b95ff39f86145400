import Foundation
import Imaging
import Models
import Tensor

/// dialclip-mini's image tower as an `ImageEmbedder`. Its embeddings live in MiniLM's
/// sentence space, so the matching text side is `MiniLMEncoder`.
public final class MiniImageEncoder: ImageEmbedder, @unchecked Sendable {
    public let name: String
    public let model: MiniModel

    public init(model: MiniModel, name: String = MiniModel.defaultName) {
        self.model = model
        self.name = name
    }

    /// The bundled weights (`assets/models/dialclip-mini.safetensors`).
    public convenience init(assets: URL) throws {
        try self.init(model: MiniModel(path: assets.appendingPathComponent(MiniModel.bundledRelativePath).path))
    }

    /// An untrained tower of the bundled model's shape: the `random_init` floor of
    /// `eval --task gallery`.
    public static func randomInit(like model: MiniModel, seed: UInt64 = MiniModel.randomInitSeed) throws -> MiniImageEncoder {
        MiniImageEncoder(model: try MiniModel(randomWeights: model.architecture, seed: seed), name: "random_init")
    }

    public var dimension: Int { model.architecture.embedDim }

    public func embed(paths: [String]) throws -> Tensor {
        // Decoded in chunks so a large folder never holds all its photos in memory.
        let options = model.preprocessor.decodeOptions, e = dimension
        var out = Tensor(zeros: [paths.count, e])
        var start = 0
        while start < paths.count {
            let chunk = paths[start..<min(paths.count, start + 64)]
            let emb = try model.encode(images: try chunk.map { try ImageDecoder.decode(path: $0, options: options) })
            (out.mutablePointer + start * e).update(from: emb.pointer, count: emb.count)
            start += chunk.count
        }
        return out
    }

    public func embed(images: [RGBImage]) throws -> Tensor {
        try model.encode(images: images)
    }

    public var decodeOptions: DecodeOptions { model.preprocessor.decodeOptions }

    public func prepare(_ image: RGBImage) throws -> PreparedImage {
        let a = model.architecture
        var pixels = Tensor(zeros: [3, a.imageSize, a.imageSize])
        var histogram = Tensor(zeros: [a.histogramDim])
        try model.preprocessor.input(image, pixels: pixels.mutablePointer, histogram: histogram.mutablePointer)
        return PreparedImage(inputs: [pixels, histogram])
    }

    public func embed(prepared: [PreparedImage]) throws -> Tensor {
        guard !prepared.isEmpty else { return Tensor(zeros: [0, dimension]) }
        return try model.encode(pixels: try PreparedImage.stack(prepared, part: 0), histograms: try PreparedImage.stack(prepared, part: 1))
    }
}

/// The image and text towers that share one embedding space, chosen by a `--model` value.
