import Foundation
import XCTest
import TestSupport
@testable import Gallery

/// Deterministic test double for the real CLIP encoders (tests only): an image's vector is
/// its byte histogram folded into `dim` bins (plus a little position signal), a text's vector
/// is seeded by a hash of the text. Identical across processes, so a child process and
/// the test produce the same bytes.
final class HistogramEncoder: GalleryEncoder, @unchecked Sendable {
    let identity: ModelIdentity
    /// Sleep per image, to make a child run slow enough to be killed mid-way.
    let delayPerImage: TimeInterval
    /// Called before each image is encoded (tests use it to change a file mid-run).
    let beforeEncode: (@Sendable (String) -> Void)?
    private let lock = NSLock()
    private var _encodedPaths: [String] = []

    init(name: String = "hist", dim: Int = 32, weightsHash: String = "w1", delayPerImage: TimeInterval = 0,
         beforeEncode: (@Sendable (String) -> Void)? = nil) {
        identity = ModelIdentity(name: name, weightsHash: weightsHash, dim: dim)
        self.delayPerImage = delayPerImage
        self.beforeEncode = beforeEncode
    }

    var encodedPaths: [String] { lock.lock(); defer { lock.unlock() }; return _encodedPaths }

    struct DecodeFailure: Error, CustomStringConvertible { let description: String }

    func encodeImages(paths: [String]) throws -> [Result<[Float], Error>] {
        paths.map { path in
            beforeEncode?(path)
            if delayPerImage > 0 { Thread.sleep(forTimeInterval: delayPerImage) }
            lock.lock(); _encodedPaths.append(path); lock.unlock()
            guard let data = FileManager.default.contents(atPath: path) else {
                return .failure(DecodeFailure(description: "cannot read \(path)"))
            }
            guard ImageFormat.sniff(data) != nil else { return .failure(DecodeFailure(description: "not an image")) }
            return .success(Self.histogram(data, dim: identity.dim))
        }
    }

    func encodeTexts(_ texts: [String]) throws -> [[Float]] {
        texts.map { Self.textVector($0, dim: identity.dim) }
    }

    static func histogram(_ data: Data, dim: Int) -> [Float] {
        var v = [Float](repeating: 0, count: dim)
        data.withUnsafeBytes { raw in
            let b = raw.bindMemory(to: UInt8.self)
            for i in 0..<b.count { v[(Int(b[i]) &+ (i & 7)) % dim] += 1 }
        }
        // Centre so different photos are not all nearly parallel.
        let mean = v.reduce(0, +) / Float(dim)
        return v.map { $0 - mean }
    }

    static func textVector(_ text: String, dim: Int) -> [Float] {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in text.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        var rng = SplitMix(h)
        return (0..<dim).map { _ in rng.nextFloat() * 2 - 1 }
    }
}

enum GalleryFixtures {
    /// The shared test photos folder.
    static func photosFolder() throws -> String { try Fixtures.sharedPath("data/gallery/photos") }

    /// The shared gallery.jsonl.
    static func galleryJSONL() throws -> String { try Fixtures.sharedPath("data/gallery/gallery.jsonl") }

    /// First `n` photo file names (sorted).
    static func photoNames(_ n: Int) throws -> [String] {
        let names = try FileManager.default.contentsOfDirectory(atPath: try photosFolder()).filter { $0.hasSuffix(".jpg") }.sorted()
        guard names.count >= n else { throw XCTSkip("only \(names.count) shared photos") }
        return Array(names.prefix(n))
    }

    /// Writes a (writable) copy of a shared photo.
    static func copyPhoto(_ name: String, to path: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: (try photosFolder() as NSString).appendingPathComponent(name)))
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try data.write(to: URL(fileURLWithPath: path))
    }

    /// A folder with `n` photos: half at the top, half in `sub/`; returns (root, paths).
    static func makeGallery(_ n: Int, in dir: URL) throws -> [String] {
        var paths: [String] = []
        for (i, name) in try photoNames(n).enumerated() {
            let p = dir.appendingPathComponent(i % 2 == 0 ? name : "sub/\(name)").path
            try copyPhoto(name, to: p)
            paths.append(p)
        }
        return paths.sorted()
    }

    /// Minimal PNG prefix (signature + IHDR) claiming the given size; enough for the probe.
    static func pngHeader(width: UInt32, height: UInt32) -> Data {
        var d = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52])
        for v in [width, height] { d.append(contentsOf: [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]) }
        d.append(contentsOf: [8, 2, 0, 0, 0, 0, 0, 0, 0] + [UInt8](repeating: 0, count: 64))
        return d
    }
}

/// Everything that defines the content of an index for one model, without ids or
/// timestamps: two indexes with equal snapshots hold the same data.
struct IndexSnapshot: Equatable {
    struct Row: Equatable {
        var kind: String, path: String, size: Int64?, mtime: Int64?, hash: String?
        var caption: String?, category: String?, label: String?, metadata: String?
        var embedding: [Float]?
    }
    var rows: [Row]

    init(_ index: GalleryIndex, model: ModelIdentity) throws {
        rows = try index.items().map { it in
            Row(kind: it.kind.rawValue, path: it.path, size: it.size, mtime: it.mtimeNs, hash: it.contentHash, caption: it.caption,
                category: it.category, label: it.label, metadata: it.metadata,
                embedding: try index.embedding(itemID: it.id, model: model))
        }
    }
}

func touch(_ path: String, secondsAgo: Double) {
    let t = Date().timeIntervalSince1970 - secondsAgo
    var times = [timespec(tv_sec: Int(t), tv_nsec: Int((t - t.rounded(.down)) * 1e9)),
                 timespec(tv_sec: Int(t), tv_nsec: Int((t - t.rounded(.down)) * 1e9))]
    _ = utimensat(AT_FDCWD, path, &times, 0)
}
