import CImageCodecs
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// When the JPEG decoder may use libjpeg's DCT scaling (decode directly at 1/8, 1/4 or 1/2
/// of the size: faster and smaller than decoding at full size and resizing).
public enum DCTScaling: Sendable, Equatable {
    /// Always decode at full size.
    case never
    /// Only for images above `DecodeOptions.softPixelBudget`: scale down to fit the budget,
    /// but never so far that the shorter side drops below `minimumSide`. Images within the
    /// budget decode at full size, so CLIP preprocessing matches Pillow exactly.
    case overBudget
    /// Scale down as far as possible while keeping the shorter side ≥ `minimumSide`
    /// (thumbnails, previews). Without `minimumSide` this decodes at full size.
    case toMinimumSide
}

/// How to decode: safety limits, scaling and orientation.
public struct DecodeOptions: Sendable, Equatable {
    /// Hard limit on the stored width × height. Larger images are refused after reading only
    /// the header, before any pixel memory is allocated (decompression bombs). Default 40 MP.
    public var maxPixels: Int = 40_000_000
    /// Above this many pixels, `.overBudget` uses DCT scaling. Default 4 MP.
    public var softPixelBudget: Int = 4_000_000
    /// The shorter side (after orientation) the caller needs, e.g. the model's 224; DCT
    /// scaling never goes below it. nil = no requirement.
    public var minimumSide: Int? = nil
    /// DCT scaling policy (JPEG only; PNG always decodes at full size).
    public var scaling: DCTScaling = .overBudget
    /// Rotate/mirror according to the EXIF orientation tag (all 8 values).
    public var applyOrientation: Bool = true
    /// Treat libjpeg warnings (corrupt data, premature end of file — normally "repaired"
    /// with grey blocks) as errors. Untrusted input should stay strict.
    public var strict: Bool = true
    /// Files larger than this are refused without being read. Default 256 MiB.
    public var maxFileBytes: Int = 256 << 20

    public init(maxPixels: Int = 40_000_000, softPixelBudget: Int = 4_000_000, minimumSide: Int? = nil,
                scaling: DCTScaling = .overBudget, applyOrientation: Bool = true, strict: Bool = true,
                maxFileBytes: Int = 256 << 20) {
        self.maxPixels = maxPixels
        self.softPixelBudget = softPixelBudget
        self.minimumSide = minimumSide
        self.scaling = scaling
        self.applyOrientation = applyOrientation
        self.strict = strict
        self.maxFileBytes = maxFileBytes
    }

    /// The defaults: 40 MP hard limit, DCT scaling only above 4 MP, EXIF orientation, strict.
    public static let `default` = DecodeOptions()
}

/// Header-only facts about an image file.
public struct ImageInfo: Sendable, Equatable {
    public let format: ImageFormat
    /// Size as displayed, i.e. after applying the EXIF orientation.
    public let width: Int
    public let height: Int
    /// Size as stored in the file.
    public let storedWidth: Int
    public let storedHeight: Int
    /// EXIF orientation (always `.identity` for PNG and for JPEGs without a valid tag).
    public let orientation: ExifOrientation
}

/// Decodes JPEG and PNG files (recognised by their first bytes, not their name) into `RGBImage`.
public enum ImageDecoder {
    static let memorySource = "<memory>"

    // MARK: Public API

    /// Decodes an image held in memory.
    public static func decode(data: Data, options: DecodeOptions = .default) throws -> RGBImage {
        try decode(data: data, source: memorySource, options: options, need: Need(options: options))
    }

    /// Reads and decodes an image file. Errors name the path.
    public static func decode(path: String, options: DecodeOptions = .default) throws -> RGBImage {
        let data = try readFile(path, limit: options.maxFileBytes)
        return try decode(data: data, source: path, options: options, need: Need(options: options))
    }

    /// Reads only the header: format, size, orientation. Cheap; allocates no pixel memory.
    public static func probe(data: Data, options: DecodeOptions = .default) throws -> ImageInfo {
        try probe(data: data, source: memorySource, strict: options.strict)
    }

    /// Reads only the header of a file (the whole file is read into memory, not decoded).
    public static func probe(path: String, options: DecodeOptions = .default) throws -> ImageInfo {
        try probe(data: try readFile(path, limit: options.maxFileBytes), source: path, strict: options.strict)
    }

    /// Recognises the format from the first bytes; nil when it is neither JPEG nor PNG.
    public static func sniff(_ data: Data) -> ImageFormat? {
        if data.count >= 3, data[data.startIndex] == 0xFF, data[data.startIndex + 1] == 0xD8,
           data[data.startIndex + 2] == 0xFF {
            return .jpeg
        }
        let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        if data.count >= 8, data.prefix(8).elementsEqual(png) { return .png }
        return nil
    }

    // MARK: Internals

    /// What the caller needs after decoding, in display orientation: DCT scaling keeps
    /// both sides and the shorter side at least this large.
    struct Need: Equatable {
        var minShortSide = 0
        var minWidth = 0
        var minHeight = 0
        init(minShortSide: Int = 0, minWidth: Int = 0, minHeight: Int = 0) {
            self.minShortSide = minShortSide
            self.minWidth = minWidth
            self.minHeight = minHeight
        }
        init(options: DecodeOptions) { self.init(minShortSide: max(0, options.minimumSide ?? 0)) }
        var isEmpty: Bool { minShortSide <= 0 && minWidth <= 0 && minHeight <= 0 }
    }

    /// libjpeg's scaled size for k/8: ceil(side * k / 8).
    static func scaledSide(_ side: Int, _ k: Int) -> Int { (side * k + 7) / 8 }

    /// The DCT scale numerators used (k/8). libjpeg-turbo has SIMD IDCTs only for 1/8, 1/4,
    /// 1/2 and 1/1; measured on a 6 MP photo, 5/8–7/8 decode slower than full size and 3/8
    /// slower than 4/8, so the others are never worth it.
    static let scaleSteps = [1, 2, 4, 8]

    /// Picks the DCT scale numerator k (scale k/8) for a stored width × height.
    static func chooseScale(width w: Int, height h: Int, swapsAxes: Bool, need: Need, options: DecodeOptions) -> Int {
        func meets(_ k: Int) -> Bool {
            var sw = scaledSide(w, k), sh = scaledSide(h, k)
            if swapsAxes { swap(&sw, &sh) }
            return min(sw, sh) >= need.minShortSide && sw >= need.minWidth && sh >= need.minHeight
        }
        switch options.scaling {
        case .never:
            return 8
        case .toMinimumSide:
            if need.isEmpty { return 8 }
            return scaleSteps.first(where: meets) ?? 8
        case .overBudget:
            guard w * h > options.softPixelBudget else { return 8 }
            // Largest step within the budget, then back up until the need is met.
            var i = scaleSteps.lastIndex { scaledSide(w, $0) * scaledSide(h, $0) <= options.softPixelBudget } ?? 0
            while i < scaleSteps.count - 1, !meets(scaleSteps[i]) { i += 1 }
            return scaleSteps[i]
        }
    }

    static func decode(data: Data, source: String, options: DecodeOptions, need: Need) throws -> RGBImage {
        guard !data.isEmpty else { throw ImagingError.emptyFile(source: source) }
        guard options.maxPixels > 0 else { throw ImagingError.invalidArgument("maxPixels must be positive") }
        switch sniff(data) {
        case .jpeg: return try decodeJPEG(data, source: source, options: options, need: need)
        case .png: return try decodePNG(data, source: source, options: options)
        case nil: throw unknownFormat(data, source: source)
        }
    }

    static func probe(data: Data, source: String, strict: Bool) throws -> ImageInfo {
        guard !data.isEmpty else { throw ImagingError.emptyFile(source: source) }
        switch sniff(data) {
        case .jpeg:
            let info = try jpegProbe(data, source: source, scale: 8, strict: strict)
            let o = ExifOrientation(rawValue: Int(info.orientation)) ?? .identity
            let w = Int(info.width), h = Int(info.height)
            return ImageInfo(format: .jpeg, width: o.swapsAxes ? h : w, height: o.swapsAxes ? w : h,
                             storedWidth: w, storedHeight: h, orientation: o)
        case .png:
            let info = try pngProbe(data, source: source)
            let w = Int(info.width), h = Int(info.height)
            return ImageInfo(format: .png, width: w, height: h, storedWidth: w, storedHeight: h, orientation: .identity)
        case nil:
            throw unknownFormat(data, source: source)
        }
    }

    static func message<T>(_ tuple: inout T) -> String {
        withUnsafeBytes(of: &tuple) { raw in
            let bytes = raw.prefix { $0 != 0 }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    static func jpegProbe(_ data: Data, source: String, scale: Int, strict: Bool) throws -> dc_jpeg_info {
        var info = dc_jpeg_info()
        let status = data.withUnsafeBytes { raw in
            dc_jpeg_probe(raw.baseAddress!.assumingMemoryBound(to: UInt8.self), raw.count,
                          Int32(scale), strict ? 1 : 0, &info)
        }
        try check(status, &info.message, format: .jpeg, source: source)
        return info
    }

    static func check<T>(_ status: Int32, _ msg: inout T, format: ImageFormat, source: String) throws {
        guard status != DC_IMG_OK.rawValue else { return }
        let text = message(&msg)
        switch UInt32(bitPattern: status) {
        case DC_IMG_ERR_COLORSPACE.rawValue:
            throw ImagingError.unsupportedColorSpace(source: source, message: text)
        case DC_IMG_ERR_NOMEM.rawValue:
            throw ImagingError.corrupt(source: source, format: format, message: "out of memory while decoding")
        case DC_IMG_ERR_ARGUMENT.rawValue:
            throw ImagingError.invalidArgument("\(source): \(text)")
        default:
            throw ImagingError.corrupt(source: source, format: format, message: text)
        }
    }

    static func decodeJPEG(_ data: Data, source: String, options: DecodeOptions, need: Need) throws -> RGBImage {
        let header = try jpegProbe(data, source: source, scale: 8, strict: options.strict)
        let w = Int(header.width), h = Int(header.height)
        guard w > 0, h > 0, w * h <= options.maxPixels else {
            throw ImagingError.tooLarge(source: source, width: w, height: h, limit: options.maxPixels)
        }
        let orientation = options.applyOrientation ? (ExifOrientation(rawValue: Int(header.orientation)) ?? .identity) : .identity
        let k = chooseScale(width: w, height: h, swapsAxes: orientation.swapsAxes, need: need, options: options)
        let ow = scaledSide(w, k), oh = scaledSide(h, k)
        let count = ow * oh * 3
        var info = dc_jpeg_info()
        var status: Int32 = 0
        let pixels = data.withUnsafeBytes { raw in
            [UInt8](unsafeUninitializedCapacity: count) { buffer, initialised in
                status = dc_jpeg_decode(raw.baseAddress!.assumingMemoryBound(to: UInt8.self), raw.count,
                                        Int32(k), options.strict ? 1 : 0, Int64(options.maxPixels),
                                        buffer.baseAddress!, count, &info)
                if status == DC_IMG_OK.rawValue {
                    initialised = count
                } else {
                    buffer.initialize(repeating: 0)  // keep the array valid on failure
                    initialised = count
                }
            }
        }
        try check(status, &info.message, format: .jpeg, source: source)
        guard Int(info.output_width) == ow, Int(info.output_height) == oh else {
            throw ImagingError.corrupt(source: source, format: .jpeg,
                                       message: "unexpected scaled size \(info.output_width)x\(info.output_height), expected \(ow)x\(oh)")
        }
        return RGBImage(unchecked: ow, oh, pixels).applying(orientation)
    }

    static func pngProbe(_ data: Data, source: String) throws -> dc_png_info {
        var info = dc_png_info()
        let status = data.withUnsafeBytes { raw in
            dc_png_probe(raw.baseAddress!.assumingMemoryBound(to: UInt8.self), raw.count, &info)
        }
        try check(status, &info.message, format: .png, source: source)
        return info
    }

    static func decodePNG(_ data: Data, source: String, options: DecodeOptions) throws -> RGBImage {
        let header = try pngProbe(data, source: source)
        let w = Int(header.width), h = Int(header.height)
        guard w > 0, h > 0, w * h <= options.maxPixels else {
            throw ImagingError.tooLarge(source: source, width: w, height: h, limit: options.maxPixels)
        }
        let count = w * h * 3
        var info = dc_png_info()
        var status: Int32 = 0
        let pixels = data.withUnsafeBytes { raw in
            [UInt8](unsafeUninitializedCapacity: count) { buffer, initialised in
                status = dc_png_decode(raw.baseAddress!.assumingMemoryBound(to: UInt8.self), raw.count,
                                       Int64(options.maxPixels), buffer.baseAddress!, count, &info)
                if status != DC_IMG_OK.rawValue { buffer.initialize(repeating: 0) }
                initialised = count
            }
        }
        try check(status, &info.message, format: .png, source: source)
        return RGBImage(unchecked: w, h, pixels)
    }

    /// Builds the "unknown format" error, naming well-known formats we do not decode.
    static func unknownFormat(_ data: Data, source: String) -> ImagingError {
        let head = [UInt8](data.prefix(16))
        let magic = Array(head.prefix(8))
        func starts(_ s: String, at offset: Int = 0) -> Bool {
            let b = Array(s.utf8)
            return head.count >= offset + b.count && Array(head[offset..<(offset + b.count)]) == b
        }
        var guess: String?
        if starts("GIF8") { guess = "GIF" }
        else if starts("RIFF") && starts("WEBP", at: 8) { guess = "WebP" }
        else if starts("BM") { guess = "BMP" }
        else if head.starts(with: [0x49, 0x49, 0x2A, 0x00]) || head.starts(with: [0x4D, 0x4D, 0x00, 0x2A]) { guess = "TIFF" }
        else if starts("ftyp", at: 4) {
            if starts("avif", at: 8) { guess = "AVIF" }
            else if starts("heic", at: 8) || starts("heix", at: 8) || starts("mif1", at: 8) { guess = "HEIF/HEIC" }
            else { guess = "an ISO media file (MP4/MOV/HEIF)" }
        }
        else if starts("%PDF") { guess = "PDF" }
        else if head.starts(with: [0xFF, 0xD8]) { guess = "a damaged JPEG (SOI without a following marker)" }
        else if starts("<svg") || starts("<?xml") { guess = "SVG/XML" }
        else if !head.isEmpty, head.allSatisfy({ $0 == 9 || $0 == 10 || $0 == 13 || (0x20...0x7E).contains($0) || $0 >= 0x80 }) {
            guess = "a text file"
        }
        return .unknownFormat(source: source, magic: magic, guess: guess)
    }

    /// Reads a whole regular file with POSIX calls so errors carry errno's text.
    static func readFile(_ path: String, limit: Int) throws -> Data {
        // O_NONBLOCK: opening a FIFO must not hang; it does not affect regular files.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw ImagingError.unreadable(source: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw ImagingError.unreadable(source: path, reason: String(cString: strerror(errno))) }
        let type = st.st_mode & S_IFMT
        if type == S_IFDIR { throw ImagingError.unreadable(source: path, reason: "is a directory") }
        guard type == S_IFREG else { throw ImagingError.unreadable(source: path, reason: "not a regular file") }
        let size = Int(st.st_size)
        guard size <= limit else { throw ImagingError.fileTooLarge(source: path, bytes: size, limit: limit) }
        var data = Data(count: size)
        var total = 0
        var readError: Int32 = 0
        data.withUnsafeMutableBytes { raw in
            while total < size {
                let n = read(fd, raw.baseAddress! + total, size - total)
                if n > 0 { total += n; continue }
                if n == 0 { break }  // the file shrank while we read it
                if errno == EINTR { continue }
                readError = errno
                break
            }
        }
        if readError != 0 { throw ImagingError.unreadable(source: path, reason: String(cString: strerror(readError))) }
        if total < size { data.count = total }
        return data
    }
}
