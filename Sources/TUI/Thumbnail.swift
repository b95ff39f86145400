import Foundation

/// A small RGB image, row-major, 3 bytes per pixel.
public struct ThumbnailImage: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var rgb: [UInt8]

    /// Fails (nil) when the buffer does not hold exactly width×height×3 bytes.
    public init?(width: Int, height: Int, rgb: [UInt8]) {
        guard width > 0, height > 0, rgb.count == width * height * 3 else { return nil }
        self.width = width; self.height = height; self.rgb = rgb
    }

    public func pixel(x: Int, y: Int) -> RGB {
        let i = (y * width + x) * 3
        return RGB(rgb[i], rgb[i + 1], rgb[i + 2])
    }
}

/// Supplies thumbnail pixels for a photo path. The CLI injects one backed by the Imaging
/// module's decoder; tests inject synthetic images. Called off the UI thread.
public protocol ThumbnailProvider: Sendable {
    /// An image fitting inside `maxWidth`×`maxHeight` pixels with the photo's aspect ratio
    /// kept, or nil when the file cannot be decoded.
    func thumbnail(path: String, maxWidth: Int, maxHeight: Int) -> ThumbnailImage?
}

/// Converting thumbnails to terminal cells.
public enum HalfBlock {
    /// The upper-half block: foreground colour paints the top pixel, background the bottom.
    public static let glyph = "▀"

    /// One cell of a half-block picture.
    public struct CellColors: Sendable, Equatable {
        public var top: RGB
        /// nil on the last row of an odd-height image (the terminal background shows).
        public var bottom: RGB?
    }

    /// Pixel size that a `columns`×`rows` cell area shows (two pixels per cell vertically).
    public static func pixelSize(columns: Int, rows: Int) -> (width: Int, height: Int) {
        (max(0, columns), max(0, rows) * 2)
    }

    /// Cells for `image`: row r of the result holds image rows 2r (top) and 2r+1 (bottom).
    public static func cells(for image: ThumbnailImage) -> [[CellColors]] {
        var rows: [[CellColors]] = []
        rows.reserveCapacity((image.height + 1) / 2)
        var y = 0
        while y < image.height {
            var row: [CellColors] = []
            row.reserveCapacity(image.width)
            for x in 0..<image.width {
                let top = image.pixel(x: x, y: y)
                let bottom = y + 1 < image.height ? image.pixel(x: x, y: y + 1) : nil
                row.append(CellColors(top: top, bottom: bottom))
            }
            rows.append(row)
            y += 2
        }
        return rows
    }

    /// Nearest-neighbour resize of an RGB image into a box, aspect kept (a helper for
    /// providers whose decoder returns a full-size image).
    public static func fit(_ image: ThumbnailImage, maxWidth: Int, maxHeight: Int) -> ThumbnailImage? {
        guard maxWidth > 0, maxHeight > 0 else { return nil }
        let scale = min(Double(maxWidth) / Double(image.width), Double(maxHeight) / Double(image.height))
        let w = max(1, min(maxWidth, Int((Double(image.width) * scale).rounded())))
        let h = max(1, min(maxHeight, Int((Double(image.height) * scale).rounded())))
        var out = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h {
            let sy = min(image.height - 1, Int((Double(y) + 0.5) * Double(image.height) / Double(h)))
            for x in 0..<w {
                let sx = min(image.width - 1, Int((Double(x) + 0.5) * Double(image.width) / Double(w)))
                let si = (sy * image.width + sx) * 3, di = (y * w + x) * 3
                out[di] = image.rgb[si]; out[di + 1] = image.rgb[si + 1]; out[di + 2] = image.rgb[si + 2]
            }
        }
        return ThumbnailImage(width: w, height: h, rgb: out)
    }
}

/// Thumbnails already computed, keyed by path and box size. Lock-protected: filled by
/// background tasks, read by the UI thread.
public final class ThumbnailCache: @unchecked Sendable {
    public enum Entry: Sendable, Equatable {
        case pending
        case ready(ThumbnailImage)
        case failed
    }
    private struct Key: Hashable { var path: String; var width: Int; var height: Int }
    private let lock = NSLock()
    private var entries: [Key: Entry] = [:]
    private var order: [Key] = []
    private let capacity: Int

    public init(capacity: Int = 64) { self.capacity = max(1, capacity) }

    public func entry(path: String, width: Int, height: Int) -> Entry? {
        lock.lock(); defer { lock.unlock() }
        return entries[Key(path: path, width: width, height: height)]
    }

    /// Marks a request as pending; returns false when it was already known (no new work).
    public func begin(path: String, width: Int, height: Int) -> Bool {
        lock.lock(); defer { lock.unlock() }
        let k = Key(path: path, width: width, height: height)
        if entries[k] != nil { return false }
        entries[k] = .pending
        order.append(k)
        while order.count > capacity {
            let old = order.removeFirst()
            entries[old] = nil
        }
        return true
    }

    public func finish(path: String, width: Int, height: Int, image: ThumbnailImage?) {
        lock.lock(); defer { lock.unlock() }
        let k = Key(path: path, width: width, height: height)
        guard entries[k] != nil else { return }
        entries[k] = image.map { .ready($0) } ?? .failed
    }
}
