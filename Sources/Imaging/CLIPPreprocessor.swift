import Foundation

/// OpenAI CLIP image preprocessing, bit-compatible with
/// `Compose([Resize(n, BICUBIC), CenterCrop(n), ToTensor(), Normalize(mean, std)])`:
/// shorter side resized to n with Pillow's antialiased bicubic (longer side
/// `int(n * long / short)`, truncated), centre crop with Python's round-half-to-even
/// offsets, scale to [0, 1], normalise per channel in float32. Output is CHW float32.
public struct CLIPPreprocessor: Sendable, Equatable {
    /// OpenAI CLIP's per-channel mean (RGB).
    public static let openAIMean: [Float] = [0.48145466, 0.4578275, 0.40821073]
    /// OpenAI CLIP's per-channel standard deviation (RGB).
    public static let openAIStd: [Float] = [0.26862954, 0.26130258, 0.27577711]

    /// The model's input side n (224 for ViT-B/32).
    public let imageSize: Int
    public let mean: [Float]
    public let std: [Float]

    /// - Throws: `ImagingError.invalidArgument` for a non-positive size or a mean/std that
    ///   is not 3 values (std must be non-zero).
    public init(imageSize: Int = 224, mean: [Float] = CLIPPreprocessor.openAIMean,
                std: [Float] = CLIPPreprocessor.openAIStd) throws {
        guard imageSize > 0, imageSize <= 4096 else {
            throw ImagingError.invalidArgument("CLIP image size must be in 1...4096, got \(imageSize)")
        }
        guard mean.count == 3, std.count == 3, std.allSatisfy({ $0 != 0 && $0.isFinite }), mean.allSatisfy(\.isFinite) else {
            throw ImagingError.invalidArgument("mean and std need 3 finite values each (std non-zero)")
        }
        self.imageSize = imageSize
        self.mean = mean
        self.std = std
    }

    /// Floats per preprocessed image: 3 · n · n.
    public var valuesPerImage: Int { 3 * imageSize * imageSize }

    /// Decode options for images that will go through this preprocessor: DCT scaling only
    /// above the soft pixel budget, and never below the model's input size.
    public func decodeOptions(_ base: DecodeOptions = .default) -> DecodeOptions {
        var o = base
        o.minimumSide = imageSize
        return o
    }

    /// The size torchvision's `Resize(n)` produces: shorter side n, longer side
    /// `int(n * long / short)` (Python true division, then truncation).
    public func resizedSize(width: Int, height: Int) -> (width: Int, height: Int) {
        let n = imageSize
        let short = min(width, height), long = max(width, height)
        let other = Int(Double(n * long) / Double(short))
        return width <= height ? (n, other) : (other, n)
    }

    /// Step 1: shorter side to n with Pillow's bicubic (skipped when the size is unchanged).
    public func resized(_ image: RGBImage) throws -> RGBImage {
        let (w, h) = resizedSize(width: image.width, height: image.height)
        guard max(w, h) <= 64 * imageSize else {
            throw ImagingError.invalidArgument(
                "a \(image.width)x\(image.height) image is too elongated for CLIP preprocessing (it would be resized to \(w)x\(h))")
        }
        return try Resampler.resizeBicubic(image, width: w, height: h)
    }

    /// Python's `int(round(x / 2.0))` for a non-negative integer x: halves round to even.
    static func centreOffset(_ excess: Int) -> Int {
        Int((Double(excess) / 2.0).rounded(.toNearestOrEven))
    }

    /// Steps 1–2: resize, then the n × n centre crop (uint8, HWC).
    public func cropped(_ image: RGBImage) throws -> RGBImage {
        let r = try resized(image)
        let n = imageSize
        let top = Self.centreOffset(r.height - n), left = Self.centreOffset(r.width - n)
        return try r.cropped(x: left, y: top, width: n, height: n)
    }

    /// The model input for one image: 3 · n · n floats, CHW, normalised.
    public func pixelValues(_ image: RGBImage) throws -> [Float] {
        let crop = try cropped(image)
        var out = [Float](repeating: 0, count: valuesPerImage)
        out.withUnsafeMutableBufferPointer { normalise(crop, into: $0.baseAddress!) }
        return out
    }

    /// The model input for a batch: N · 3 · n · n floats, NCHW, in input order.
    public func pixelValues(batch images: [RGBImage]) throws -> [Float] {
        let per = valuesPerImage
        var out = [Float](repeating: 0, count: per * images.count)
        for (i, image) in images.enumerated() {
            let crop = try cropped(image)
            out.withUnsafeMutableBufferPointer { normalise(crop, into: $0.baseAddress! + i * per) }
        }
        return out
    }

    /// Decodes a file (JPEG/PNG, EXIF-oriented, DCT-scaled only above the budget) and
    /// preprocesses it.
    public func pixelValues(path: String, options: DecodeOptions = .default) throws -> [Float] {
        try pixelValues(ImageDecoder.decode(path: path, options: decodeOptions(options)))
    }

    /// Preprocesses raw HWC RGB bytes (tests, other producers of pixels).
    public func pixelValues(rawRGB: [UInt8], width: Int, height: Int) throws -> [Float] {
        try pixelValues(RGBImage(width: width, height: height, pixels: rawRGB))
    }

    /// `x / 255`, then `(x − mean) / std`, each a float32 operation as in torch.
    func normalise(_ crop: RGBImage, into dst: UnsafeMutablePointer<Float>) {
        let plane = imageSize * imageSize
        crop.pixels.withUnsafeBufferPointer { src in
            for c in 0..<3 {
                let m = mean[c], s = std[c]
                let d = dst + c * plane
                for i in 0..<plane {
                    let x = Float(src[i * 3 + c]) / 255
                    d[i] = (x - m) / s
                }
            }
        }
    }
}
