import CImageCodecs
import Foundation

/// Small previews (the TUI's half-block thumbnails): decode with DCT scaling to roughly the
/// needed size, then resize with the same bicubic filter.
public enum Thumbnailer {
    /// The largest size with the image's aspect ratio that fits in `maxWidth` × `maxHeight`
    /// (each side at least 1). For `▀` half blocks, pass the pane's columns and 2 × rows.
    public static func fittingSize(width: Int, height: Int, maxWidth: Int, maxHeight: Int) -> (width: Int, height: Int) {
        guard width > 0, height > 0, maxWidth > 0, maxHeight > 0 else { return (1, 1) }
        let s = min(Double(maxWidth) / Double(width), Double(maxHeight) / Double(height))
        let w = max(1, min(maxWidth, Int((Double(width) * s).rounded())))
        let h = max(1, min(maxHeight, Int((Double(height) * s).rounded())))
        return (w, h)
    }

    /// A thumbnail of exactly `width` × `height` (stretched if the aspect differs).
    public static func thumbnail(data: Data, width: Int, height: Int, options: DecodeOptions = .default) throws -> RGBImage {
        try make(data: data, source: ImageDecoder.memorySource, size: { _ in (width, height) }, options: options)
    }

    /// A thumbnail of exactly `width` × `height` from a file.
    public static func thumbnail(path: String, width: Int, height: Int, options: DecodeOptions = .default) throws -> RGBImage {
        let data = try ImageDecoder.readFile(path, limit: options.maxFileBytes)
        return try make(data: data, source: path, size: { _ in (width, height) }, options: options)
    }

    /// A thumbnail that keeps the aspect ratio and fits in `maxWidth` × `maxHeight`.
    public static func thumbnail(path: String, fittingWidth maxWidth: Int, height maxHeight: Int,
                                 options: DecodeOptions = .default) throws -> RGBImage {
        let data = try ImageDecoder.readFile(path, limit: options.maxFileBytes)
        return try make(data: data, source: path, size: { info in
            fittingSize(width: info.width, height: info.height, maxWidth: maxWidth, maxHeight: maxHeight)
        }, options: options)
    }

    /// A thumbnail of in-memory data that keeps the aspect ratio and fits the box.
    public static func thumbnail(data: Data, fittingWidth maxWidth: Int, height maxHeight: Int,
                                 options: DecodeOptions = .default) throws -> RGBImage {
        try make(data: data, source: ImageDecoder.memorySource, size: { info in
            fittingSize(width: info.width, height: info.height, maxWidth: maxWidth, maxHeight: maxHeight)
        }, options: options)
    }

    static func make(data: Data, source: String, size: (ImageInfo) -> (Int, Int), options: DecodeOptions) throws -> RGBImage {
        var info = try ImageDecoder.probe(data: data, source: source, strict: options.strict)
        if !options.applyOrientation {
            // Without orientation the stored size is the displayed size.
            info = ImageInfo(format: info.format, width: info.storedWidth, height: info.storedHeight,
                             storedWidth: info.storedWidth, storedHeight: info.storedHeight, orientation: .identity)
        }
        return try finish(data: data, source: source, size: size(info), options: options)
    }

    static func finish(data: Data, source: String, size: (Int, Int), options: DecodeOptions) throws -> RGBImage {
        let (w, h) = size
        guard w > 0, h > 0, w <= 4096, h <= 4096 else {
            throw ImagingError.invalidArgument("thumbnail size \(w)x\(h) out of range")
        }
        var o = options
        o.scaling = .toMinimumSide
        // Decode at ≥ 2× the target so the bicubic resize, not the 8×8 DCT block average,
        // does most of the reduction (sharper, less aliasing; still a fraction of full size).
        let decoded = try ImageDecoder.decode(data: data, source: source, options: o,
                                              need: ImageDecoder.Need(minWidth: 2 * w, minHeight: 2 * h))
        return try Resampler.resizeBicubic(decoded, width: w, height: h)
    }
}
