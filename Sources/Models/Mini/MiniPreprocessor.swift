import Foundation
import Imaging
import Tensor

/// Turns photos into dialclip-mini's inputs: normalised CHW pixels and the colour histogram.
///
/// At inference a photo is resized (shorter side to the input size, Pillow-exact bicubic)
/// and centre-cropped, as for CLIP. The trainer produces its augmented crops itself and
/// then calls `finish(rgb01:…)`, so both paths share the histogram and normalisation code.
public struct MiniPreprocessor: Sendable {
    public let architecture: MiniArchitecture
    /// Per-channel mean and std (CLIP's, which suit natural photos well enough).
    public static let mean: [Float] = CLIPPreprocessor.openAIMean
    public static let std: [Float] = CLIPPreprocessor.openAIStd

    public init(architecture: MiniArchitecture) { self.architecture = architecture }

    /// Decode options for photos going into this model: libjpeg may decode large JPEGs at
    /// 1/2, 1/4 or 1/8 size as long as the shorter side stays at least twice the input size.
    public var decodeOptions: DecodeOptions {
        DecodeOptions(minimumSide: 2 * architecture.imageSize, scaling: .toMinimumSide)
    }

    /// Resize + centre crop to S×S (uint8 HWC).
    public func cropped(_ image: RGBImage) throws -> RGBImage {
        try CLIPPreprocessor(imageSize: architecture.imageSize).cropped(image)
    }

    /// Fills `pixels` (3·S·S, normalised CHW) and `histogram` (bins³) for one image.
    public func input(_ image: RGBImage, pixels: UnsafeMutablePointer<Float>, histogram: UnsafeMutablePointer<Float>) throws {
        let crop = try cropped(image)
        let s = architecture.imageSize, plane = s * s
        var rgb = [Float](repeating: 0, count: 3 * plane)
        crop.pixels.withUnsafeBufferPointer { src in
            for i in 0..<plane { for c in 0..<3 { rgb[c * plane + i] = Float(src[i * 3 + c]) / 255 } }
        }
        rgb.withUnsafeBufferPointer { finish(rgb01: $0.baseAddress!, pixels: pixels, histogram: histogram) }
    }

    /// A batch of images as (pixels `[B,3,S,S]`, histograms `[B, bins³]`).
    public func batch(_ images: [RGBImage]) throws -> (pixels: Tensor, histograms: Tensor) {
        let s = architecture.imageSize, h = architecture.histogramDim
        var px = Tensor(zeros: [images.count, 3, s, s])
        var hist = Tensor(zeros: [images.count, h])
        let pp = px.mutablePointer, hp = hist.mutablePointer
        for (i, image) in images.enumerated() {
            try input(image, pixels: pp + i * 3 * s * s, histogram: hp + i * h)
        }
        return (px, hist)
    }

    /// From S×S CHW values in [0, 1]: the histogram (computed on these values, so colour
    /// augmentation changes it as it changes the pixels) and the normalised pixels.
    public func finish(rgb01: UnsafePointer<Float>, pixels: UnsafeMutablePointer<Float>, histogram: UnsafeMutablePointer<Float>) {
        let s = architecture.imageSize, plane = s * s
        Self.colourHistogram(rgb01: rgb01, pixelCount: plane, bins: architecture.histogramBins,
                             scale: architecture.histogramScale, into: histogram)
        for c in 0..<3 {
            let m = Self.mean[c], inv = 1 / Self.std[c]
            let src = rgb01 + c * plane, dst = pixels + c * plane
            for i in 0..<plane { dst[i] = (src[i] - m) * inv }
        }
    }

    /// Joint RGB histogram with `bins` levels per channel, as `scale · √(fraction of pixels
    /// in the bin)` (the square root makes it a unit vector before scaling and tempers the
    /// dominant bins). Input CHW in [0, 1]; bin index r·bins² + g·bins + b.
    public static func colourHistogram(rgb01: UnsafePointer<Float>, pixelCount n: Int, bins: Int, scale: Float,
                                       into out: UnsafeMutablePointer<Float>) {
        let d = bins * bins * bins
        var counts = [Int](repeating: 0, count: d)
        let fb = Float(bins)
        func q(_ v: Float) -> Int { v.isFinite ? min(bins - 1, max(0, Int(v * fb))) : 0 }
        for i in 0..<n {
            let k = (q(rgb01[i]) * bins + q(rgb01[n + i])) * bins + q(rgb01[2 * n + i])
            counts[k] += 1
        }
        let inv = 1 / Float(max(n, 1))
        for k in 0..<d { out[k] = scale * (Float(counts[k]) * inv).squareRoot() }
    }
}
