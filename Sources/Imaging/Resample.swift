import Foundation

/// Pillow-exact image resizing.
///
/// CLIP's reference preprocessing resizes with Pillow's `Image.BICUBIC`; a generic float
/// bicubic differs by ±1–2 levels on some pixels, which shifts embeddings. This is an
/// independent implementation of the algorithm of Pillow's `ImagingResample` 8-bit path
/// (libImaging/Resample.c): separable cubic convolution (a = −0.5), kernel widened by the
/// downscale factor (antialiasing), pixel centres at +0.5, weights normalised per output
/// pixel and converted to 22-bit fixed point, horizontal pass then vertical pass, each
/// rounding and clamping to uint8. Outputs are bit-identical to Pillow's.
public enum Resampler {
    /// Fixed-point precision of Pillow's 8-bit path: 32 bits − 8 for the value − 2 for the
    /// overshoot of negative lobes.
    static let precisionBits = 32 - 8 - 2

    /// Pillow's bicubic kernel with a = −0.5, evaluated with the same operation order so the
    /// double results (and hence the fixed-point weights) match bit for bit.
    @inline(__always)
    static func bicubic(_ xIn: Double) -> Double {
        let a = -0.5
        let x = xIn < 0 ? -xIn : xIn
        if x < 1.0 { return ((a + 2.0) * x - (a + 3.0)) * x * x + 1 }
        if x < 2.0 { return (((x - 5) * x + 8) * x - 4) * a }
        return 0.0
    }

    /// Per-output-pixel filter taps for one axis: output i reads input
    /// `start[i] ..< start[i] + count[i]` with fixed-point `weights[i * ksize + j]`.
    struct Coefficients {
        let ksize: Int
        var start: [Int]
        var count: [Int]
        var weights: [Int32]
    }

    /// Pillow's `precompute_coeffs` (box = whole input) followed by `normalize_coeffs_8bpc`.
    static func coefficients(inSize: Int, outSize: Int) -> Coefficients {
        let support0 = 2.0  // bicubic support
        let scale = Double(inSize) / Double(outSize)
        let filterscale = scale < 1.0 ? 1.0 : scale
        let support = support0 * filterscale
        let ksize = Int(support.rounded(.up)) * 2 + 1
        var start = [Int](repeating: 0, count: outSize)
        var count = [Int](repeating: 0, count: outSize)
        var weights = [Int32](repeating: 0, count: outSize * ksize)
        var k = [Double](repeating: 0, count: ksize)
        let one = Double(1 << precisionBits)
        for xx in 0..<outSize {
            let center = (Double(xx) + 0.5) * scale
            var ww = 0.0
            let ss = 1.0 / filterscale
            // (int) casts in C truncate toward zero, as Int(_: Double) does.
            var xmin = Int(center - support + 0.5)
            if xmin < 0 { xmin = 0 }
            var xmax = Int(center + support + 0.5)
            if xmax > inSize { xmax = inSize }
            xmax -= xmin
            for x in 0..<xmax {
                let w = bicubic((Double(x + xmin) - center + 0.5) * ss)
                k[x] = w
                ww += w
            }
            for x in 0..<xmax where ww != 0.0 { k[x] /= ww }
            for x in 0..<ksize {
                let v = x < xmax ? k[x] : 0.0
                weights[xx * ksize + x] = v < 0 ? Int32(-0.5 + v * one) : Int32(0.5 + v * one)
            }
            start[xx] = xmin
            count[xx] = xmax
        }
        return Coefficients(ksize: ksize, start: start, count: count, weights: weights)
    }

    /// Rounds a fixed-point sum (which already includes the +0.5 bias) to a clamped byte,
    /// like Pillow's `clip8` lookup (arithmetic shift, then clamp).
    @inline(__always)
    static func clip8(_ v: Int32) -> UInt8 {
        let s = v >> Int32(precisionBits)
        return s < 0 ? 0 : (s > 255 ? 255 : UInt8(truncatingIfNeeded: s))
    }

    /// Resizes to exactly `width` × `height` with Pillow's antialiased BICUBIC filter
    /// (`Image.resize((width, height), Image.BICUBIC)`). Returns the input unchanged when the
    /// size is already right, as Pillow does.
    public static func resizeBicubic(_ image: RGBImage, width: Int, height: Int) throws -> RGBImage {
        guard width > 0, height > 0, width <= 1 << 16, height <= 1 << 16 else {
            throw ImagingError.invalidArgument("resize target \(width)x\(height) out of range")
        }
        if width == image.width && height == image.height { return image }
        let needHorizontal = width != image.width
        let needVertical = height != image.height

        var vert = coefficients(inSize: image.height, outSize: height)
        // Only the source rows the vertical pass reads go through the horizontal pass.
        let firstRow = vert.start[0]
        let lastRow = vert.start[height - 1] + vert.count[height - 1]

        var current = image
        if needHorizontal {
            for i in 0..<height { vert.start[i] -= firstRow }
            current = horizontalPass(image, rows: firstRow..<lastRow, coefficients: coefficients(inSize: image.width, outSize: width), outWidth: width)
        }
        if needVertical {
            current = verticalPass(current, coefficients: vert, outHeight: height)
        }
        return current
    }

    static func horizontalPass(_ image: RGBImage, rows: Range<Int>, coefficients c: Coefficients, outWidth: Int) -> RGBImage {
        let inStride = image.width * 3
        let outStride = outWidth * 3
        let rowCount = rows.count
        var out = [UInt8](repeating: 0, count: rowCount * outStride)
        let bias = Int32(1 << (precisionBits - 1))
        image.pixels.withUnsafeBufferPointer { srcBuf in
            out.withUnsafeMutableBufferPointer { dstBuf in
                c.weights.withUnsafeBufferPointer { wBuf in
                    c.start.withUnsafeBufferPointer { startBuf in
                        c.count.withUnsafeBufferPointer { countBuf in
                            let src = srcBuf.baseAddress!, dst = dstBuf.baseAddress!, kk = wBuf.baseAddress!
                            for r in 0..<rowCount {
                                let srow = src + (rows.lowerBound + r) * inStride
                                var d = dst + r * outStride
                                for xx in 0..<outWidth {
                                    let k = kk + xx * c.ksize
                                    var p = srow + startBuf[xx] * 3
                                    var s0 = bias, s1 = bias, s2 = bias
                                    for x in 0..<countBuf[xx] {
                                        let w = k[x]
                                        s0 &+= Int32(p[0]) &* w
                                        s1 &+= Int32(p[1]) &* w
                                        s2 &+= Int32(p[2]) &* w
                                        p += 3
                                    }
                                    d[0] = clip8(s0); d[1] = clip8(s1); d[2] = clip8(s2)
                                    d += 3
                                }
                            }
                        }
                    }
                }
            }
        }
        return RGBImage(unchecked: outWidth, rowCount, out)
    }

    /// Integer sums are exact (no overflow: |sum| < 2^31), so accumulating whole rows gives
    /// the same result as Pillow's per-pixel loop while vectorising well.
    static func verticalPass(_ image: RGBImage, coefficients c: Coefficients, outHeight: Int) -> RGBImage {
        let stride = image.width * 3
        var out = [UInt8](repeating: 0, count: outHeight * stride)
        var acc = [Int32](repeating: 0, count: stride)
        let bias = Int32(1 << (precisionBits - 1))
        image.pixels.withUnsafeBufferPointer { srcBuf in
            out.withUnsafeMutableBufferPointer { dstBuf in
                acc.withUnsafeMutableBufferPointer { accBuf in
                    let src = srcBuf.baseAddress!, dst = dstBuf.baseAddress!, a = accBuf.baseAddress!
                    for yy in 0..<outHeight {
                        for i in 0..<stride { a[i] = bias }
                        let base = yy * c.ksize
                        for y in 0..<c.count[yy] {
                            let w = c.weights[base + y]
                            let srow = src + (c.start[yy] + y) * stride
                            for i in 0..<stride { a[i] &+= Int32(srow[i]) &* w }
                        }
                        let d = dst + yy * stride
                        for i in 0..<stride { d[i] = clip8(a[i]) }
                    }
                }
            }
        }
        return RGBImage(unchecked: image.width, outHeight, out)
    }
}
