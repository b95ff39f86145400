import Foundation

/// Format sniffing and header-only size probing for the files the indexer accepts.
///
/// The indexer checks the extension AND the magic bytes (a `.jpg` that is really HTML is
/// reported, not fed to libjpeg), and reads the pixel size from the header so that a
/// 30000×30000 PNG is skipped against the megapixel cap before anything is decoded.
public enum ImageFormat: String, Sendable, Codable {
    case jpeg
    case png

    /// Extensions (lowercase, no dot) the indexer considers.
    public static let extensions: [String: ImageFormat] = ["jpg": .jpeg, "jpeg": .jpeg, "jpe": .jpeg, "png": .png]

    /// Format implied by a file name, nil for anything else.
    public static func fromExtension(of path: String) -> ImageFormat? {
        let ext = (path as NSString).pathExtension.lowercased()
        return extensions[ext]
    }

    /// Format from the first bytes, nil when they match neither JPEG nor PNG.
    public static func sniff<D: DataProtocol>(_ bytes: D) -> ImageFormat? where D.Index == Int {
        let b = Array(bytes.prefix(8))
        if b.count >= 3, b[0] == 0xFF, b[1] == 0xD8, b[2] == 0xFF { return .jpeg }
        if b.count >= 8, b == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] { return .png }
        return nil
    }
}

/// Pixel size read from a JPEG SOF segment or the PNG IHDR chunk.
public struct ImageHeader: Sendable, Equatable {
    public var format: ImageFormat
    public var width: Int
    public var height: Int

    /// Parses the header of `data`; nil when it is not a JPEG/PNG or no size is found
    /// (the file is then treated as corrupt by the indexer).
    public static func probe(_ data: Data) -> ImageHeader? {
        let bytes = [UInt8](data.prefix(1 << 20))
        guard let format = ImageFormat.sniff(bytes) else { return nil }
        switch format {
        case .png:
            // 8-byte signature, then IHDR: length(4) "IHDR"(4) width(4) height(4).
            guard bytes.count >= 24, bytes[12] == 0x49, bytes[13] == 0x48, bytes[14] == 0x44, bytes[15] == 0x52 else { return nil }
            let w = be32(bytes, 16), h = be32(bytes, 20)
            guard w > 0, h > 0 else { return nil }
            return ImageHeader(format: .png, width: w, height: h)
        case .jpeg:
            var i = 2
            while i + 3 < bytes.count {
                guard bytes[i] == 0xFF else { return nil }
                var marker = bytes[i + 1]
                // Fill bytes (0xFF padding) before a marker.
                while marker == 0xFF, i + 2 < bytes.count { i += 1; marker = bytes[i + 1] }
                i += 2
                // Stand-alone markers without a length.
                if marker == 0x01 || (0xD0...0xD7).contains(marker) { continue }
                if marker == 0xD9 || marker == 0xDA { return nil } // EOI / SOS before any SOF
                guard i + 1 < bytes.count else { return nil }
                let len = Int(bytes[i]) << 8 | Int(bytes[i + 1])
                guard len >= 2 else { return nil }
                let isSOF = (0xC0...0xCF).contains(marker) && marker != 0xC4 && marker != 0xC8 && marker != 0xCC
                if isSOF {
                    guard i + 6 < bytes.count else { return nil }
                    let h = Int(bytes[i + 3]) << 8 | Int(bytes[i + 4])
                    let w = Int(bytes[i + 5]) << 8 | Int(bytes[i + 6])
                    guard w > 0, h > 0 else { return nil }
                    return ImageHeader(format: .jpeg, width: w, height: h)
                }
                i += len
            }
            return nil
        }
    }

    private static func be32(_ b: [UInt8], _ o: Int) -> Int {
        Int(b[o]) << 24 | Int(b[o + 1]) << 16 | Int(b[o + 2]) << 8 | Int(b[o + 3])
    }
}
