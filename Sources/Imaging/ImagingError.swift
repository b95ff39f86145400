import Foundation

/// The file formats the decoder understands.
public enum ImageFormat: String, Sendable, Equatable {
    case jpeg = "JPEG"
    case png = "PNG"
}

/// Everything that can go wrong when reading an image. Each case prints as one sentence a
/// user can act on; `source` is the file path (or "<memory>" for in-memory data).
public enum ImagingError: Error, CustomStringConvertible, Equatable {
    /// The file has zero bytes.
    case emptyFile(source: String)
    /// The first bytes match neither JPEG nor PNG. `magic` = up to 8 leading bytes;
    /// `guess` names a recognised but unsupported format (GIF, WebP, …) or nil.
    case unknownFormat(source: String, magic: [UInt8], guess: String?)
    /// The decoder failed: corrupt or truncated data. `message` is libjpeg's/libpng's text.
    case corrupt(source: String, format: ImageFormat, message: String)
    /// The image declares more pixels than allowed; refused before any pixel memory is allocated.
    case tooLarge(source: String, width: Int, height: Int, limit: Int)
    /// The file could not be read (missing, a directory, permissions…), with the system's reason.
    case unreadable(source: String, reason: String)
    /// The file is bigger than the configured byte limit (never read into memory).
    case fileTooLarge(source: String, bytes: Int, limit: Int)
    /// A JPEG colour space that cannot be turned into RGB.
    case unsupportedColorSpace(source: String, message: String)
    /// A caller error (bad sizes and the like), not a property of the file.
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .emptyFile(let s):
            return "\(s): empty file (0 bytes), not an image"
        case .unknownFormat(let s, let magic, let guess):
            let hex = magic.map { String(format: "%02x", $0) }.joined(separator: " ")
            if let g = guess {
                return "\(s): \(g) is not supported (only JPEG and PNG); file starts with \(hex)"
            }
            return "\(s): not a JPEG or PNG image (file starts with \(hex))"
        case .corrupt(let s, let f, let m):
            return "\(s): corrupt or truncated \(f.rawValue): \(m)"
        case .tooLarge(let s, let w, let h, let limit):
            let mp = String(format: "%.1f", Double(w) * Double(h) / 1e6)
            let lim = String(format: "%.1f", Double(limit) / 1e6)
            return "\(s): image too large: \(w)x\(h) (\(mp) MP) exceeds the limit of \(lim) MP"
        case .unreadable(let s, let r):
            return "\(s): cannot read file: \(r)"
        case .fileTooLarge(let s, let b, let limit):
            return "\(s): file too large to decode (\(b) bytes, limit \(limit))"
        case .unsupportedColorSpace(let s, let m):
            return "\(s): \(m)"
        case .invalidArgument(let m):
            return "invalid argument: \(m)"
        }
    }
}
