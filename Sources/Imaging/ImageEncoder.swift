import CImageCodecs
import Foundation

/// Writes JPEG and PNG (libjpeg / libpng simplified API). Used for exporting previews and,
/// in tests, to craft files with properties the decoder must handle (grey, CMYK, alpha).
public enum ImageEncoder {
    /// JPEG, 4:2:0, quality 1...100; baseline unless `progressive`.
    public static func jpeg(_ image: RGBImage, quality: Int = 90, progressive: Bool = false) throws -> Data {
        try jpeg(raw: image.pixels, width: image.width, height: image.height, components: 3, quality: quality,
                 progressive: progressive)
    }

    /// 8-bit RGB PNG.
    public static func png(_ image: RGBImage) throws -> Data {
        try image.pixels.withUnsafeBytes { try png(raw: $0, width: image.width, height: image.height, components: 3, sixteenBit: false) }
    }

    /// JPEG from raw interleaved samples: 1 = grey, 3 = RGB, 4 = CMYK (stored as given, with
    /// an Adobe marker; `ycck` stores it YCCK-transformed).
    static func jpeg(raw: [UInt8], width: Int, height: Int, components: Int, quality: Int, ycck: Bool = false,
                     progressive: Bool = false) throws -> Data {
        guard width > 0, height > 0, raw.count == width * height * components else {
            throw ImagingError.invalidArgument("JPEG encode: \(raw.count) bytes for \(width)x\(height)x\(components)")
        }
        var out: UnsafeMutablePointer<UInt8>?
        var size: UInt = 0
        var message = [CChar](repeating: 0, count: 256)
        let status = raw.withUnsafeBufferPointer { src in
            dc_jpeg_encode(src.baseAddress!, Int32(width), Int32(height), Int32(components), Int32(quality),
                           ycck ? 1 : 0, progressive ? 1 : 0, &out, &size, &message, message.count)
        }
        defer { dc_free(out) }
        guard status == DC_IMG_OK.rawValue, let out else {
            throw ImagingError.invalidArgument("JPEG encode failed: \(String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))")
        }
        return Data(bytes: out, count: Int(size))
    }

    /// PNG from raw interleaved samples: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA; with
    /// `sixteenBit`, native-endian UInt16 linear-light samples (libpng's convention).
    static func png(raw: UnsafeRawBufferPointer, width: Int, height: Int, components: Int, sixteenBit: Bool) throws -> Data {
        guard width > 0, height > 0, raw.count == width * height * components * (sixteenBit ? 2 : 1) else {
            throw ImagingError.invalidArgument("PNG encode: \(raw.count) bytes for \(width)x\(height)x\(components)")
        }
        var out: UnsafeMutablePointer<UInt8>?
        var size: UInt = 0
        var message = [CChar](repeating: 0, count: 256)
        let status = dc_png_encode(raw.baseAddress!, Int32(width), Int32(height), Int32(components), sixteenBit ? 1 : 0,
                                   &out, &size, &message, message.count)
        defer { dc_free(out) }
        guard status == DC_IMG_OK.rawValue, let out else {
            throw ImagingError.invalidArgument("PNG encode failed: \(String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))")
        }
        return Data(bytes: out, count: Int(size))
    }
}

extension ImageDecoder {
    /// The EXIF orientation in an APP1 payload starting with "Exif\0\0" (0 = none/invalid).
    static func exifOrientation(app1: [UInt8]) -> Int {
        app1.withUnsafeBufferPointer { Int(dc_exif_orientation($0.baseAddress, $0.count)) }
    }
}
