import Foundation

/// An 8-bit RGB image, rows top to bottom, pixels interleaved (HWC: `pixels[(y * width + x) * 3 + c]`).
/// The one image type of dialclip: decoders produce it, the CLIP preprocessor and the TUI's
/// thumbnails consume it.
public struct RGBImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// `width * height * 3` bytes, HWC.
    public let pixels: [UInt8]

    /// Wraps existing HWC RGB bytes; throws when the count does not match the size.
    public init(width: Int, height: Int, pixels: [UInt8]) throws {
        guard width > 0, height > 0 else {
            throw ImagingError.invalidArgument("image size must be positive, got \(width)x\(height)")
        }
        let (wh, o1) = width.multipliedReportingOverflow(by: height)
        let (n, o2) = wh.multipliedReportingOverflow(by: 3)
        guard !o1, !o2, pixels.count == n else {
            throw ImagingError.invalidArgument("expected \(width)x\(height)x3 bytes, got \(pixels.count)")
        }
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// Internal initialiser for producers that already guarantee the size.
    init(unchecked width: Int, _ height: Int, _ pixels: [UInt8]) {
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// A single-colour image (at most 32768 pixels per side).
    public static func uniform(width: Int, height: Int, red: UInt8, green: UInt8, blue: UInt8) throws -> RGBImage {
        guard width > 0, height > 0, width <= 1 << 15, height <= 1 << 15 else {
            throw ImagingError.invalidArgument("uniform image size out of range: \(width)x\(height)")
        }
        var p = [UInt8](repeating: 0, count: width * height * 3)
        p.withUnsafeMutableBufferPointer { b in
            var i = 0
            while i < b.count { b[i] = red; b[i + 1] = green; b[i + 2] = blue; i += 3 }
        }
        return RGBImage(unchecked: width, height, p)
    }

    /// DCAR's blank reference image: uniform mid-grey (128, 128, 128), an image without
    /// content against which attribute phrases are scored.
    public static func midGrey(width: Int = 224, height: Int = 224) throws -> RGBImage {
        try uniform(width: width, height: height, red: 128, green: 128, blue: 128)
    }

    /// The RGB triple at (x, y); nil outside the image.
    public func pixel(x: Int, y: Int) -> (UInt8, UInt8, UInt8)? {
        guard x >= 0, y >= 0, x < width, y < height else { return nil }
        let i = (y * width + x) * 3
        return (pixels[i], pixels[i + 1], pixels[i + 2])
    }

    /// A rectangular region; the rectangle must lie inside the image.
    public func cropped(x: Int, y: Int, width w: Int, height h: Int) throws -> RGBImage {
        guard x >= 0, y >= 0, w > 0, h > 0, x <= width - w, y <= height - h else {
            throw ImagingError.invalidArgument("crop \(w)x\(h)+\(x)+\(y) outside a \(width)x\(height) image")
        }
        if x == 0, y == 0, w == width, h == height { return self }
        var out = [UInt8](repeating: 0, count: w * h * 3)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for row in 0..<h {
                    let s = src.baseAddress! + ((y + row) * width + x) * 3
                    (dst.baseAddress! + row * w * 3).update(from: s, count: w * 3)
                }
            }
        }
        return RGBImage(unchecked: w, h, out)
    }
}

/// EXIF orientation (tag 0x0112): how the stored pixels must be transformed for display.
/// Raw values 1...8 as in the EXIF/TIFF specification.
public enum ExifOrientation: Int, Sendable, CaseIterable {
    /// 1: stored upright.
    case identity = 1
    /// 2: mirrored left-right.
    case flipHorizontal = 2
    /// 3: upside down.
    case rotate180 = 3
    /// 4: mirrored top-bottom.
    case flipVertical = 4
    /// 5: mirrored along the main diagonal (x and y swapped).
    case transpose = 5
    /// 6: must be rotated 90° clockwise for display (typical portrait phone photo).
    case rotate90CW = 6
    /// 7: mirrored along the anti-diagonal.
    case transverse = 7
    /// 8: must be rotated 90° counter-clockwise for display.
    case rotate90CCW = 8

    /// True when the displayed width and height are the stored height and width.
    public var swapsAxes: Bool { rawValue >= 5 }
}

extension RGBImage {
    /// The image transformed for display according to an EXIF orientation
    /// (what Pillow's `ImageOps.exif_transpose` does).
    public func applying(_ orientation: ExifOrientation) -> RGBImage {
        if orientation == .identity { return self }
        let w = width, h = height
        let ow = orientation.swapsAxes ? h : w
        let oh = orientation.swapsAxes ? w : h
        var out = [UInt8](repeating: 0, count: pixels.count)
        pixels.withUnsafeBufferPointer { srcBuf in
            out.withUnsafeMutableBufferPointer { dstBuf in
                let src = srcBuf.baseAddress!, dst = dstBuf.baseAddress!
                // Output pixel (ox, oy) reads source pixel index base + ox * dx + oy * dy.
                let (base, dx, dy): (Int, Int, Int)
                switch orientation {
                case .identity: (base, dx, dy) = (0, 1, w)
                case .flipHorizontal: (base, dx, dy) = (w - 1, -1, w)               // sx = w-1-ox
                case .rotate180: (base, dx, dy) = ((h - 1) * w + (w - 1), -1, -w)
                case .flipVertical: (base, dx, dy) = ((h - 1) * w, 1, -w)           // sy = h-1-oy
                case .transpose: (base, dx, dy) = (0, w, 1)                         // sx = oy, sy = ox
                case .rotate90CW: (base, dx, dy) = ((h - 1) * w, -w, 1)             // sx = oy, sy = h-1-ox
                case .transverse: (base, dx, dy) = ((h - 1) * w + (w - 1), -w, -1)  // sx = w-1-oy, sy = h-1-ox
                case .rotate90CCW: (base, dx, dy) = (w - 1, w, -1)                  // sx = w-1-oy, sy = ox
                }
                for oy in 0..<oh {
                    var s = base + oy * dy
                    var d = dst + oy * ow * 3
                    for _ in 0..<ow {
                        let p = src + s * 3
                        d[0] = p[0]; d[1] = p[1]; d[2] = p[2]
                        d += 3
                        s += dx
                    }
                }
            }
        }
        return RGBImage(unchecked: ow, oh, out)
    }
}
