import Foundation
import Gallery
import Imaging
import Models
import Tensor

/// An image tower and the text tower whose space it shares, with the identity under
/// which their embeddings are stored in the index.
public struct ImageTextModel: @unchecked Sendable {
    public var image: ImageEmbedder
    public var text: TextEmbedder
    public var identity: ModelIdentity
    /// What the status bar and reports call it.
    public var displayName: String
}

/// Resolves `--model` into loaded encoders.
public enum ModelLoader {
    /// Path of the bundled default image tower, when present.
    public static func bundledMiniPath(assets: URL) -> String? {
        let p = assets.appendingPathComponent("models/dialclip-mini.safetensors").path
        return FileManager.default.fileExists(atPath: p) ? p : nil
    }

    /// Loads the image–text model `spec` names. The default (no `--model`) is the bundled
    /// dialclip-mini; a path loads a real CLIP checkpoint.
    /// `precision: .f16` holds a CLIP checkpoint's weights as fp16 (`--fp16-weights`); the
    /// embeddings keep the same identity, as they agree to fp16 rounding of the weights.
    public static func load(_ value: String?, overrides: CLIPOverrides = CLIPOverrides(),
                            precision: WeightPrecision = .f32) throws -> ImageTextModel {
        let assets = try Assets.locate()
        switch ModelSpec(value) {
        case .miniLM:
            throw ModelError.unsupported("minilm is a text-only encoder; image search needs dialclip-mini (the default) or a CLIP checkpoint (--model PATH)")
        case .bundled:
            if let mini = try loadBundledMini(assets: assets) { return mini }
            throw ModelError.notFound(path: assets.appendingPathComponent("models/dialclip-mini.safetensors").path,
                                      hint: "The bundled image model is missing; pass --model PATH to a CLIP checkpoint.")
        case .clip(let path):
            if let mini = try loadMiniFile(path) { return mini }
            let clip = try CLIPModel(path: path, overrides: overrides, precision: precision)
            let canonical = URL(fileURLWithPath: clip.path).standardizedFileURL.path
            let identity = ModelIdentity(name: "clip:" + canonical, weightsHash: try ContentHash.fileFingerprint(path: clip.path),
                                         dim: clip.config.embedDim)
            return ImageTextModel(image: try CLIPImageEncoder(model: clip, name: canonical),
                                  text: try CLIPTextEncoder(model: clip, name: canonical, assets: assets),
                                  identity: identity, displayName: "CLIP " + Self.shortName(canonical))
        }
    }

    /// A checkpoint's short name: its folder for `model.safetensors`, else its file name.
    static func shortName(_ path: String) -> String {
        let url = URL(fileURLWithPath: path)
        return url.lastPathComponent == "model.safetensors" ? url.deletingLastPathComponent().lastPathComponent : url.lastPathComponent
    }

    /// The bundled dialclip-mini with MiniLM; nil when it is not in the assets.
    static func loadBundledMini(assets: URL) throws -> ImageTextModel? {
        let path = assets.appendingPathComponent(MiniModel.bundledRelativePath).path
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        return try mini(path: path, name: MiniModel.defaultName)
    }

    /// Any dialclip-mini file (recognised by its `format` metadata, whatever its name).
    static func loadMiniFile(_ path: String) throws -> ImageTextModel? {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue,
              let file = try? SafeTensorsFile(path: path), file.metadata["format"] == MiniModel.fileFormat else { return nil }
        return try mini(path: path, name: path)
    }

    static func mini(path: String, name: String) throws -> ImageTextModel {
        let model = try MiniModel(path: path)
        let identity = ModelIdentity(name: name == MiniModel.defaultName ? name : "mini:" + name,
                                     weightsHash: try ContentHash.fileFingerprint(path: path), dim: model.architecture.embedDim)
        return ImageTextModel(image: MiniImageEncoder(model: model, name: name), text: try MiniLMEncoder(),
                              identity: identity, displayName: name == MiniModel.defaultName ? name : (name as NSString).lastPathComponent)
    }
}

/// Adapts an image–text model to the gallery indexer: decodes and embeds files in one
/// batch, reporting each file that fails on its own so one bad photo never stops a run.
public final class ModelGalleryEncoder: GalleryEncoder, @unchecked Sendable {
    public let model: ImageTextModel
    public var identity: ModelIdentity { model.identity }

    /// Full-size decode (so results match Pillow) unless a photo is over the pixel budget,
    /// then DCT-scaled no smaller than the model's input.
    let decodeOptions = DecodeOptions(minimumSide: 224)

    public init(model: ImageTextModel) { self.model = model }

    public func encodeImages(paths: [String]) throws -> [Result<[Float], Error>] {
        var results = [Result<[Float], Error>](repeating: .failure(ImagingError.invalidArgument("not encoded")), count: paths.count)
        // Decode near the model's input size (DCT scaling keeps huge photos cheap), the
        // batch's files side by side: decoding alone left the second core idle while
        // indexing (end-to-end was 1.27x the encode-only time).
        var images = [Result<RGBImage, Error>](repeating: .failure(ImagingError.invalidArgument("not decoded")), count: paths.count)
        let options = decodeOptions
        images.withUnsafeMutableBufferPointer { slots in
            let shared = UncheckedSendable(slots)
            DispatchQueue.concurrentPerform(iterations: paths.count) { i in
                shared.value[i] = Result { try ImageDecoder.decode(path: paths[i], options: options) }
            }
        }
        var decoded: [(Int, RGBImage)] = []
        for (i, r) in images.enumerated() {
            switch r {
            case .success(let image): decoded.append((i, image))
            case .failure(let error): results[i] = .failure(error)
            }
        }
        guard !decoded.isEmpty else { return results }
        let embeddings = try model.image.embed(images: decoded.map(\.1))
        let d = embeddings.shape[1]
        for (row, (i, _)) in decoded.enumerated() {
            results[i] = .success(Array(UnsafeBufferPointer(start: embeddings.pointer + row * d, count: d)))
        }
        return results
    }

    public func encodeTexts(_ texts: [String]) throws -> [[Float]] {
        let e = try model.text.embed(texts: texts)
        let d = e.shape[1]
        return (0..<texts.count).map { Array(UnsafeBufferPointer(start: e.pointer + $0 * d, count: d)) }
    }
}
