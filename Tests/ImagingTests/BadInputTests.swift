import Foundation
import TestSupport
import XCTest
import CImageCodecs
@testable import Imaging

/// Hostile and broken files: every case ends in a typed, readable error, never a crash,
/// an exit() from libjpeg, or a silently grey-filled image.
final class BadInputTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory("imaging-bad") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let url = dir.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    func testZeroByteFile() throws {
        let path = try write("empty.jpg", [])
        assertImagingError(try ImageDecoder.decode(path: path)) { $0 == .emptyFile(source: path) }
        assertImagingError(try ImageDecoder.probe(path: path)) { $0 == .emptyFile(source: path) }
    }

    /// Half a JPEG: libjpeg would warn "Premature end of JPEG file" and fill grey; strict
    /// mode makes it an error (and non-strict mode shows that this is the warning path).
    func testTruncatedJPEG() throws {
        let bytes = try Gallery.bytes(Gallery.first())
        let path = try write("half.jpg", Array(bytes[0..<(bytes.count / 2)]))
        assertImagingError(try ImageDecoder.decode(path: path)) { e in
            guard case .corrupt(let s, .jpeg, let m) = e else { return false }
            return s == path && m.contains("Premature end")
        }
        var lenient = DecodeOptions()
        lenient.strict = false
        let grey = try ImageDecoder.decode(path: path, options: lenient)
        XCTAssertEqual(grey.width, try Gallery.first().width)
    }

    /// The header alone (cut before the scan data) also fails cleanly.
    func testJPEGCutInsideHeader() throws {
        let bytes = try Gallery.bytes(Gallery.first())
        let cut = Array(bytes[0..<(JPEGBytes.scanDataStart(bytes)! - 3)])
        assertImagingError(try ImageDecoder.decode(data: Data(cut))) { if case .corrupt = $0 { return true } else { return false } }
    }

    /// A stray marker in the entropy-coded data: libjpeg warns about corrupt data.
    func testCorruptEntropyData() throws {
        var bytes = try Gallery.bytes(Gallery.first())
        let start = JPEGBytes.scanDataStart(bytes)!
        let mid = start + (bytes.count - start) / 2
        for i in 0..<16 { bytes[mid + 2 * i] = 0xFF; bytes[mid + 2 * i + 1] = 0xD3 }
        assertImagingError(try ImageDecoder.decode(data: Data(bytes))) { e in
            guard case .corrupt(_, .jpeg, let m) = e else { return false }
            return m.lowercased().contains("corrupt") || m.contains("Premature")
        }
    }

    /// Random garbage overwriting the scan data; with strict mode libjpeg's warnings
    /// (bad Huffman code, extraneous bytes …) surface as errors.
    func testGarbageInEntropyData() throws {
        var bytes = try Gallery.bytes(Gallery.first())
        let start = JPEGBytes.scanDataStart(bytes)!
        var rng = SeededBytes(state: 7)
        let garbage = rng.bytes(512)
        let at = start + (bytes.count - start) / 3
        bytes.replaceSubrange(at..<(at + 512), with: garbage)
        assertImagingError(try ImageDecoder.decode(data: Data(bytes))) { if case .corrupt(_, .jpeg, _) = $0 { return true } else { return false } }
    }

    func testRandomBytes() throws {
        var rng = SeededBytes(state: 42)
        var bytes = rng.bytes(4096)
        bytes[0] = 0x00  // neither JPEG (FF D8 FF) nor PNG (89 50 …)
        let path = try write("noise.jpg", bytes)
        assertImagingError(try ImageDecoder.decode(path: path)) { e in
            guard case .unknownFormat(let s, let magic, _) = e else { return false }
            return s == path && magic == Array(bytes[0..<8])
        }
    }

    func testTextFileNamedJPG() throws {
        let path = try write("notes.jpg", Array("hello, this is not a photo\n".utf8))
        assertImagingError(try ImageDecoder.decode(path: path)) { e in
            guard case .unknownFormat(_, let magic, let guess) = e else { return false }
            return magic == Array("hello, t".utf8) && guess == "a text file"
        }
    }

    func testOtherFormatsAreNamed() throws {
        let gif = Array("GIF89a".utf8) + [1, 0, 1, 0, 0, 0, 0]
        assertImagingError(try ImageDecoder.decode(data: Data(gif))) { e in
            if case .unknownFormat(_, _, "GIF") = e { return e.description.contains("GIF is not supported") }
            return false
        }
        let webp = Array("RIFF".utf8) + [0, 0, 0, 0] + Array("WEBPVP8 ".utf8)
        assertImagingError(try ImageDecoder.decode(data: Data(webp))) { e in
            if case .unknownFormat(_, _, "WebP") = e { return true } else { return false }
        }
    }

    /// Format comes from the content, not the name: a PNG called .jpg decodes as PNG.
    func testPNGNamedJPGDecodesByContent() throws {
        let img = try RGBImage(width: 3, height: 2, pixels: (0..<18).map { UInt8($0 * 10) })
        let path = try write("actually-png.jpg", [UInt8](try ImageEncoder.png(img)))
        XCTAssertEqual(try ImageDecoder.probe(path: path).format, .png)
        XCTAssertEqual(try ImageDecoder.decode(path: path), img)
    }

    /// Decompression bomb: a SOF header declaring 60000×60000 (3.6 gigapixels, 10.8 GB of
    /// RGB) is refused from the header, before anything image-sized is allocated.
    func testDecompressionBombRefusedBeforeAllocation() throws {
        let bytes = JPEGBytes.patchingSize(try Gallery.bytes(Gallery.first()), width: 60000, height: 60000)
        let path = try write("bomb.jpg", bytes)
        let info = try ImageDecoder.probe(path: path)
        XCTAssertEqual(info.width, 60000)
        XCTAssertEqual(info.height, 60000)
        let t0 = Date()
        assertImagingError(try ImageDecoder.decode(path: path)) { e in
            e == .tooLarge(source: path, width: 60000, height: 60000, limit: 40_000_000)
        }
        assertImagingError(try Thumbnailer.thumbnail(path: path, width: 10, height: 10)) { e in
            if case .tooLarge = e { return true } else { return false }
        }
        XCTAssertLessThan(Date().timeIntervalSince(t0), 1.0)
        // A lower custom limit refuses ordinary photos too.
        let small = try Gallery.first()
        assertImagingError(try ImageDecoder.decode(path: small.path, options: DecodeOptions(maxPixels: 1000))) { e in
            e == .tooLarge(source: small.path, width: small.width, height: small.height, limit: 1000)
        }
    }

    /// The C shim's own guard (independent of the Swift check) refuses an over-limit
    /// header before jpeg_start_decompress, even when handed a (too small) buffer.
    func testShimRefusesOverLimitBeforeDecoding() throws {
        let bytes = JPEGBytes.patchingSize(try Gallery.bytes(Gallery.first()), width: 60000, height: 60000)
        var info = dc_jpeg_info()
        var out = [UInt8](repeating: 0, count: 16)
        let status = bytes.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                dc_jpeg_decode(src.baseAddress, src.count, 8, 1, 40_000_000, dst.baseAddress, dst.count, &info)
            }
        }
        XCTAssertEqual(status, Int32(DC_IMG_ERR_ARGUMENT.rawValue))
        XCTAssertEqual(ImageDecoder.message(&info.message), "image has 3600000000 pixels, limit 40000000")
        XCTAssertEqual(out, [UInt8](repeating: 0, count: 16))
    }

    func testMissingFile() throws {
        let path = dir.appendingPathComponent("does-not-exist.jpg").path
        assertImagingError(try ImageDecoder.decode(path: path)) { e in
            guard case .unreadable(let s, let reason) = e else { return false }
            return s == path && reason.contains("No such file")
        }
    }

    func testDirectory() throws {
        let path = dir.appendingPathComponent("folder.jpg").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        assertImagingError(try ImageDecoder.decode(path: path)) { $0 == .unreadable(source: path, reason: "is a directory") }
    }

    func testFileOverByteLimit() throws {
        let p = try Gallery.first()
        assertImagingError(try ImageDecoder.decode(path: p.path, options: DecodeOptions(maxFileBytes: 100))) { e in
            if case .fileTooLarge(_, _, 100) = e { return true } else { return false }
        }
    }

    /// Mutation fuzzing: random byte changes in a small JPEG and PNG must never crash; each
    /// run either decodes to the declared size or throws an ImagingError.
    func testMutatedFilesNeverCrash() throws {
        let src = try Thumbnailer.thumbnail(path: Gallery.first().path, width: 40, height: 24)
        let seeds: [(String, [UInt8])] = [("jpeg", [UInt8](try ImageEncoder.jpeg(src, quality: 80))),
                                          ("png", [UInt8](try ImageEncoder.png(src)))]
        var rng = SeededBytes(state: 2024)
        var failures = 0, successes = 0
        for (_, original) in seeds {
            for _ in 0..<150 {
                var b = original
                for _ in 0..<(1 + rng.below(6)) {
                    let i = 2 + rng.below(b.count - 2)
                    b[i] = UInt8(truncatingIfNeeded: rng.next())
                }
                if rng.below(4) == 0 { b = Array(b[0..<(3 + rng.below(b.count - 3))]) }
                do {
                    let img = try ImageDecoder.decode(data: Data(b))
                    XCTAssertEqual(img.pixels.count, img.width * img.height * 3)
                    successes += 1
                } catch is ImagingError {
                    failures += 1
                }
            }
        }
        XCTAssertGreaterThan(failures, 0)
        XCTAssertEqual(failures + successes, 300)
    }

    /// Error messages are sentences a user can act on.
    func testErrorDescriptions() {
        XCTAssertEqual(ImagingError.tooLarge(source: "a.jpg", width: 60000, height: 60000, limit: 40_000_000).description,
                       "a.jpg: image too large: 60000x60000 (3600.0 MP) exceeds the limit of 40.0 MP")
        XCTAssertEqual(ImagingError.unknownFormat(source: "x", magic: [0x68, 0x69], guess: nil).description,
                       "x: not a JPEG or PNG image (file starts with 68 69)")
        XCTAssertTrue(ImagingError.corrupt(source: "b.jpg", format: .jpeg, message: "Premature end of JPEG file").description
            .contains("corrupt or truncated JPEG: Premature end of JPEG file"))
    }
}
