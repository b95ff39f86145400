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

    public init(model: ImageTextModel) { self.model = model }

    public func encodeImages(paths: [String]) throws -> [Result<[Float], Error>] {
        let files = paths.map { path in
            (path: path, contents: (try? Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe)) ?? Data())
        }
        return try encodeImages(prepared: prepareImages(files))
    }

    /// Decodes and preprocesses the batch's photos side by side (one full-size image per
    /// thread at a time; only the model inputs are kept).
    public func prepareImages(_ files: [(path: String, contents: Data)]) -> PreparedImages {
        let embedder = model.image
        let options = embedder.decodeOptions
        var slots = [Result<PreparedImage, Error>](repeating: .failure(ImagingError.invalidArgument("not prepared")), count: files.count)
        slots.withUnsafeMutableBufferPointer { buffer in
            let shared = UncheckedSendable(buffer)
            DispatchQueue.concurrentPerform(iterations: files.count) { i in
                shared.value[i] = Result {
                    let image = files[i].contents.isEmpty ? try ImageDecoder.decode(path: files[i].path, options: options)
                                                          : try ImageDecoder.decode(data: files[i].contents, options: options)
                    return try embedder.prepare(image)
                }
            }
        }
        return PreparedImages(paths: files.map(\.path), input: slots)
    }

    public func encodeImages(prepared: PreparedImages) throws -> [Result<[Float], Error>] {
        guard let slots = prepared.input as? [Result<PreparedImage, Error>], slots.count == prepared.paths.count else {
            return try encodeImages(paths: prepared.paths)
        }
        var results = slots.map { slot -> Result<[Float], Error> in
            if case .failure(let error) = slot { return .failure(error) }
            return .failure(ImagingError.invalidArgument("not encoded"))
        }
        let ready = slots.enumerated().compactMap { i, slot -> (Int, PreparedImage)? in
            if case .success(let p) = slot { return (i, p) }
            return nil
        }
        guard !ready.isEmpty else { return results }
        let embeddings = try model.image.embed(prepared: ready.map(\.1))
        let d = embeddings.shape[1]
        for (row, (i, _)) in ready.enumerated() {
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
