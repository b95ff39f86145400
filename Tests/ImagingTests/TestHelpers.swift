import Foundation
import TestSupport
import XCTest
@testable import Imaging

/// Byte-level helpers to craft test files from real JPEGs.
enum JPEGBytes {
    /// Offsets of the segments before the first scan: (marker, offset of 0xFF, segment length incl. the 2 length bytes).
    static func segments(_ b: [UInt8]) -> [(marker: UInt8, offset: Int, length: Int)] {
        var out: [(UInt8, Int, Int)] = []
        var i = 2
        while i + 4 <= b.count, b[i] == 0xFF {
            let m = b[i + 1]
            let len = Int(b[i + 2]) << 8 | Int(b[i + 3])
            out.append((m, i, len))
            if m == 0xDA { break }
            i += 2 + len
        }
        return out
    }

    /// Offset of the first byte of entropy-coded data (after the SOS header).
    static func scanDataStart(_ b: [UInt8]) -> Int? {
        guard let sos = segments(b).first(where: { $0.marker == 0xDA }) else { return nil }
        return sos.offset + 2 + sos.length
    }

    /// Rewrites the size in the SOF header (height then width, big-endian).
    static func patchingSize(_ b: [UInt8], width: Int, height: Int) -> [UInt8] {
        var b = b
        guard let sof = segments(b).first(where: { (0xC0...0xCF).contains($0.marker) && ![0xC4, 0xC8, 0xCC].contains($0.marker) })
        else { return b }
        b[sof.offset + 5] = UInt8(height >> 8); b[sof.offset + 6] = UInt8(height & 0xFF)
        b[sof.offset + 7] = UInt8(width >> 8); b[sof.offset + 8] = UInt8(width & 0xFF)
        return b
    }

    /// An APP1 "Exif" payload holding just IFD0 with the orientation tag.
    static func exifPayload(orientation: Int, bigEndian: Bool = true, type: UInt16 = 3) -> [UInt8] {
        func u16(_ v: UInt16) -> [UInt8] { bigEndian ? [UInt8(v >> 8), UInt8(v & 0xFF)] : [UInt8(v & 0xFF), UInt8(v >> 8)] }
        func u32(_ v: UInt32) -> [UInt8] {
            let be = [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
            return bigEndian ? be : be.reversed()
        }
        var p: [UInt8] = Array("Exif".utf8) + [0, 0]
        p += bigEndian ? Array("MM".utf8) : Array("II".utf8)
        p += u16(42) + u32(8)
        p += u16(2)  // two entries: an unrelated tag first, then the orientation
        p += u16(0x010F) + u16(2) + u32(4) + [0x41, 0x42, 0x43, 0]  // Make = "ABC"
        let value: [UInt8] = type == 3 ? u16(UInt16(orientation)) + [0, 0] : u32(UInt32(orientation))
        p += u16(0x0112) + u16(type) + u32(1) + value
        p += u32(0)
        return p
    }

    /// The JPEG with an APP1 segment inserted right after SOI.
    static func insertingAPP1(_ b: [UInt8], payload: [UInt8]) -> [UInt8] {
        let len = payload.count + 2
        return Array(b[0..<2]) + [0xFF, 0xE1, UInt8(len >> 8), UInt8(len & 0xFF)] + payload + Array(b[2...])
    }
}

/// Deterministic bytes for fuzz-style tests.
struct SeededBytes {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8(truncatingIfNeeded: next()) } }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

enum Gallery {
    struct Photo { let path: String; let width: Int; let height: Int }

    static func photos() throws -> [Photo] {
        let dir = try Fixtures.sharedPath("data/gallery")
        return try Fixtures.jsonLines(dir + "/gallery.jsonl").compactMap { row in
            guard let f = row["file"] as? String, let w = row["width"] as? Int, let h = row["height"] as? Int else { return nil }
            return Photo(path: dir + "/" + f, width: w, height: h)
        }
    }

    static func first() throws -> Photo {
        guard let p = try photos().first else { throw FixtureError.missing("gallery photos") }
        return p
    }

    static func bytes(_ p: Photo) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: p.path))) }
}

/// Asserts that `body` throws an ImagingError matching `check`.
func assertImagingError<T>(_ body: @autoclosure () throws -> T, file: StaticString = #filePath, line: UInt = #line,
                           _ check: (ImagingError) -> Bool) {
    do {
        _ = try body()
        XCTFail("expected an ImagingError, got a result", file: file, line: line)
    } catch let e as ImagingError {
        XCTAssertTrue(check(e), "unexpected error: \(e)", file: file, line: line)
        XCTAssertFalse(e.description.isEmpty, file: file, line: line)
    } catch {
        XCTFail("expected an ImagingError, got \(error)", file: file, line: line)
    }
}

/// Mean absolute difference of two same-sized images.
func meanAbsDiff(_ a: RGBImage, _ b: RGBImage) -> Double {
    precondition(a.pixels.count == b.pixels.count)
    var s = 0
    for i in 0..<a.pixels.count { s += abs(Int(a.pixels[i]) - Int(b.pixels[i])) }
    return Double(s) / Double(a.pixels.count)
}
