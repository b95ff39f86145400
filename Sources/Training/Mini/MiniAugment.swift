import Foundation
import Imaging
import Models
import Tensor

/// Augmentation settings of dialclip-mini training.
public struct MiniAugmentation: Sendable, Equatable {
    /// Random-resized-crop: fraction of the image area kept, and log-uniform aspect ratio.
    public var cropScale: ClosedRange<Float> = 0.35...1
    public var cropAspect: ClosedRange<Float> = 0.75...(4.0 / 3.0)
    /// Horizontal flips (never for captions that say "left" or "right").
    public var flipProbability: Float = 0.5
    /// Colour jitter: factors drawn uniformly in 1 ± these (hue is left alone: colour words
    /// in captions must stay true).
    public var brightness: Float = 0.25
    public var contrast: Float = 0.25
    public var saturation: Float = 0.25
    /// Probability that a cut-out's flat grey background is replaced (by a flat colour,
    /// noise, or a crop of another photo) — breaks the "grey background" shortcut.
    public var backgroundReplacement: Float = 0.85
    /// false: centre crop only (inference preprocessing), for ablations and tests.
    public var enabled = true

    public init() {}
}

/// A training photo held in memory, decoded once at `side` pixels on its shorter side,
/// with the mask of its flat-grey cut-out background when it has one.
public struct MiniSourceImage: Sendable {
    public let width: Int
    public let height: Int
    /// HWC bytes.
    public let rgb: [UInt8]
    /// 255 where the pixel belongs to the flat background of a cut-out, else 0; nil for
    /// ordinary photos.
    public let background: [UInt8]?

    /// The grey the extra pool's cut-outs were composited on (RGB 200, 200, 200).
    public static let cutoutGrey: Int = 200

    public init(image: RGBImage, side: Int, detectCutout: Bool) throws {
        let (w, h) = image.width <= image.height
            ? (side, max(1, Int((Double(image.height) * Double(side) / Double(image.width)).rounded())))
            : (max(1, Int((Double(image.width) * Double(side) / Double(image.height)).rounded())), side)
        let resized = try Resampler.resizeBicubic(image, width: w, height: h)
        width = resized.width; height = resized.height; rgb = resized.pixels
        background = detectCutout ? Self.backgroundMask(rgb: rgb, width: width, height: height) : nil
    }

    /// Flood fill from the border over pixels within ±tolerance of the cut-out grey. Returns
    /// nil when the border is not mostly that grey (an ordinary photo) or almost nothing is.
    public static func backgroundMask(rgb: [UInt8], width w: Int, height h: Int, tolerance: Int = 14) -> [UInt8]? {
        func grey(_ i: Int) -> Bool {
            abs(Int(rgb[3 * i]) - cutoutGrey) <= tolerance && abs(Int(rgb[3 * i + 1]) - cutoutGrey) <= tolerance
                && abs(Int(rgb[3 * i + 2]) - cutoutGrey) <= tolerance
        }
        var border: [Int] = []
        for x in 0..<w { border.append(x); border.append((h - 1) * w + x) }
        for y in 0..<h { border.append(y * w); border.append(y * w + w - 1) }
        let greyBorder = border.filter(grey)
        guard Double(greyBorder.count) >= 0.5 * Double(border.count) else { return nil }
        var mask = [UInt8](repeating: 0, count: w * h)
        var stack = greyBorder
        for i in stack { mask[i] = 255 }
        while let i = stack.popLast() {
            let x = i % w, y = i / w
            for (nx, ny) in [(x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1)] where nx >= 0 && ny >= 0 && nx < w && ny < h {
                let j = ny * w + nx
                if mask[j] == 0 && grey(j) { mask[j] = 255; stack.append(j) }
            }
        }
        let filled = mask.reduce(0) { $0 + ($1 > 0 ? 1 : 0) }
        return filled >= w * h / 20 ? mask : nil
    }

    /// Bilinear sample of channel values (0…1) and background weight at (x, y) in pixels.
    @inline(__always)
    func sample(_ x: Float, _ y: Float, into out: inout (Float, Float, Float, Float)) {
        let fx = min(max(x, 0), Float(width - 1)), fy = min(max(y, 0), Float(height - 1))
        let x0 = Int(fx), y0 = Int(fy)
        let x1 = min(x0 + 1, width - 1), y1 = min(y0 + 1, height - 1)
        let ax = fx - Float(x0), ay = fy - Float(y0)
        let w00 = (1 - ax) * (1 - ay), w10 = ax * (1 - ay), w01 = (1 - ax) * ay, w11 = ax * ay
        let i00 = y0 * width + x0, i10 = y0 * width + x1, i01 = y1 * width + x0, i11 = y1 * width + x1
        rgb.withUnsafeBufferPointer { p in
            func ch(_ c: Int) -> Float {
                (w00 * Float(p[3 * i00 + c]) + w10 * Float(p[3 * i10 + c]) + w01 * Float(p[3 * i01 + c]) + w11 * Float(p[3 * i11 + c])) / 255
            }
            out.0 = ch(0); out.1 = ch(1); out.2 = ch(2)
        }
        if let m = background {
            out.3 = (w00 * Float(m[i00]) + w10 * Float(m[i10]) + w01 * Float(m[i01]) + w11 * Float(m[i11])) / 255
        } else {
            out.3 = 0
        }
    }
}

/// Produces one augmented S×S crop (CHW, values in [0, 1]).
public enum MiniAugmenter {
    /// `backgrounds`: ordinary photos whose crops may replace a cut-out's background.
    public static func render(_ image: MiniSourceImage, size s: Int, settings: MiniAugmentation, allowFlip: Bool,
                              backgrounds: [MiniSourceImage], rng: inout TrainingRNG,
                              into out: UnsafeMutablePointer<Float>) {
        let plane = s * s
        // 1. Crop rectangle in source pixels.
        var cw = Float(image.width), ch = Float(image.height), cx: Float = 0, cy: Float = 0
        if settings.enabled {
            let area = Float(image.width * image.height)
            for _ in 0..<10 {
                let a = area * (settings.cropScale.lowerBound + rng.uniform() * (settings.cropScale.upperBound - settings.cropScale.lowerBound))
                let lo = logf(settings.cropAspect.lowerBound), hi = logf(settings.cropAspect.upperBound)
                let r = expf(lo + rng.uniform() * (hi - lo))
                let w = (a * r).squareRoot(), h = (a / r).squareRoot()
                if w <= Float(image.width) && h <= Float(image.height) {
                    cw = w; ch = h
                    cx = rng.uniform() * (Float(image.width) - w); cy = rng.uniform() * (Float(image.height) - h)
                    break
                }
            }
            if cw == Float(image.width) && ch == Float(image.height) {   // fallback: centre square
                let side = Float(min(image.width, image.height)); cw = side; ch = side
                cx = (Float(image.width) - side) / 2; cy = (Float(image.height) - side) / 2
            }
        } else {
            let side = Float(min(image.width, image.height)); cw = side; ch = side
            cx = (Float(image.width) - side) / 2; cy = (Float(image.height) - side) / 2
        }
        let flip = settings.enabled && allowFlip && rng.uniform() < settings.flipProbability

        // 2. Background choice for cut-outs.
        enum Fill { case keep, flat(Float, Float, Float), noise(Float, Float, Float, Float), photo(Int, Float, Float, Float) }
        var fill = Fill.keep
        if settings.enabled, image.background != nil, rng.uniform() < settings.backgroundReplacement {
            let kind = rng.uniform()
            if kind < 0.3 || backgrounds.isEmpty && kind < 0.65 {
                fill = .flat(rng.uniform(), rng.uniform(), rng.uniform())
            } else if kind < 0.65 || backgrounds.isEmpty {
                fill = .noise(rng.uniform(), rng.uniform(), rng.uniform(), 0.05 + 0.25 * rng.uniform())
            } else {
                let k = Int(rng.next() % UInt64(backgrounds.count))
                let bg = backgrounds[k]
                let side = Float(min(bg.width, bg.height)) * (0.5 + 0.5 * rng.uniform())
                fill = .photo(k, side, rng.uniform() * (Float(bg.width) - side), rng.uniform() * (Float(bg.height) - side))
            }
        }

        // 3. Sample.
        var px: (Float, Float, Float, Float) = (0, 0, 0, 0)
        var bgpx: (Float, Float, Float, Float) = (0, 0, 0, 0)
        let sx = cw / Float(s), sy = ch / Float(s)
        for oy in 0..<s {
            for ox in 0..<s {
                let u = flip ? s - 1 - ox : ox
                image.sample(cx + (Float(u) + 0.5) * sx - 0.5, cy + (Float(oy) + 0.5) * sy - 0.5, into: &px)
                var r = px.0, g = px.1, b = px.2
                let m = px.3
                if m > 0 {
                    var br: Float = r, bgc: Float = g, bb: Float = b
                    switch fill {
                    case .keep: break
                    case .flat(let fr, let fg, let fb): br = fr; bgc = fg; bb = fb
                    case .noise(let fr, let fg, let fb, let amp):
                        br = fr + amp * (2 * rng.uniform() - 1); bgc = fg + amp * (2 * rng.uniform() - 1); bb = fb + amp * (2 * rng.uniform() - 1)
                    case .photo(let k, let side, let bx, let by):
                        let f = side / Float(s)
                        backgrounds[k].sample(bx + (Float(ox) + 0.5) * f - 0.5, by + (Float(oy) + 0.5) * f - 0.5, into: &bgpx)
                        br = bgpx.0; bgc = bgpx.1; bb = bgpx.2
                    }
                    r = r * (1 - m) + br * m; g = g * (1 - m) + bgc * m; b = b * (1 - m) + bb * m
                }
                let i = oy * s + ox
                out[i] = r; out[plane + i] = g; out[2 * plane + i] = b
            }
        }

        // 4. Colour jitter: brightness, contrast (around the mean grey), saturation (around
        // each pixel's luma), clamped to [0, 1].
        guard settings.enabled else { return }
        let fb = 1 + settings.brightness * (2 * rng.uniform() - 1)
        let fc = 1 + settings.contrast * (2 * rng.uniform() - 1)
        let fs = 1 + settings.saturation * (2 * rng.uniform() - 1)
        var mean: Float = 0
        for i in 0..<plane { mean += 0.299 * out[i] + 0.587 * out[plane + i] + 0.114 * out[2 * plane + i] }
        mean = mean / Float(plane) * fb
        for i in 0..<plane {
            var r = out[i] * fb, g = out[plane + i] * fb, b = out[2 * plane + i] * fb
            r = (r - mean) * fc + mean; g = (g - mean) * fc + mean; b = (b - mean) * fc + mean
            let l = 0.299 * r + 0.587 * g + 0.114 * b
            r = (r - l) * fs + l; g = (g - l) * fs + l; b = (b - l) * fs + l
            out[i] = min(max(r, 0), 1); out[plane + i] = min(max(g, 0), 1); out[2 * plane + i] = min(max(b, 0), 1)
        }
    }
}

/// Caption clean-up for training: the extra pool's cut-outs say "…, isolated on a plain
/// grey background"; that phrase describes the shortcut the augmentation removes, and no
/// query will ask for it, so it is stripped.
public enum MiniCaptionCleaner {
    public static func clean(_ caption: String) -> String {
        var s = caption.trimmingCharacters(in: .whitespacesAndNewlines)
        let suffixes = [", isolated on a plain grey background", " isolated on a plain grey background",
                        ", on a plain grey background", " on a plain grey background", ", on a grey background", " on a grey background"]
        for suffix in suffixes where s.lowercased().hasSuffix(suffix) {
            s = String(s.dropLast(suffix.count)).trimmingCharacters(in: .whitespaces)
            break
        }
        return s.isEmpty ? caption : s
    }

    /// Whether a horizontal flip would make the caption false.
    public static func mentionsSide(_ caption: String) -> Bool {
        let words = caption.lowercased().split(whereSeparator: { !$0.isLetter })
        return words.contains("left") || words.contains("right")
    }
}
