import Foundation
import TestSupport
import XCTest
@testable import Imaging

/// Independent reference transforms built from two primitives (clockwise rotation and a
/// left-right mirror), composed per EXIF value as the specification describes them.
enum ReferenceOrientation {
    static func rotateCW(_ img: RGBImage) -> RGBImage {
        // Output (x, y) of size (H, W) = input (y, H-1-x).
        var p: [UInt8] = []
        for y in 0..<img.width {
            for x in 0..<img.height {
                let (r, g, b) = img.pixel(x: y, y: img.height - 1 - x)!
                p += [r, g, b]
            }
        }
        return RGBImage(unchecked: img.height, img.width, p)
    }

    static func mirror(_ img: RGBImage) -> RGBImage {
        var p: [UInt8] = []
        for y in 0..<img.height {
            for x in 0..<img.width {
                let (r, g, b) = img.pixel(x: img.width - 1 - x, y: y)!
                p += [r, g, b]
            }
        }
        return RGBImage(unchecked: img.width, img.height, p)
    }

    static func apply(_ value: Int, _ img: RGBImage) -> RGBImage {
        switch value {
        case 2: return mirror(img)
        case 3: return rotateCW(rotateCW(img))
        case 4: return mirror(rotateCW(rotateCW(img)))          // top-bottom mirror
        case 5: return mirror(rotateCW(img))                    // transpose
        case 6: return rotateCW(img)
        case 7: return rotateCW(mirror(img))                    // transverse
        case 8: return rotateCW(rotateCW(rotateCW(img)))
        default: return img
        }
    }
}

final class OrientationTests: XCTestCase {
    /// A real photo with an inserted EXIF APP1 segment, for all 8 orientation values, both
    /// byte orders: the decode equals the reference transform of the plain decode.
    func testAllEightOrientationsOnARealJPEG() throws {
        // Use a small thumbnail-sized photo to keep the reference transforms quick in debug.
        let small = try Thumbnailer.thumbnail(path: Gallery.first().path, width: 37, height: 23)
        let base = [UInt8](try ImageEncoder.jpeg(small, quality: 90))
        let plain = try ImageDecoder.decode(data: Data(base))
        for value in 1...8 {
            for bigEndian in [true, false] {
                let bytes = JPEGBytes.insertingAPP1(base, payload: JPEGBytes.exifPayload(orientation: value, bigEndian: bigEndian))
                let info = try ImageDecoder.probe(data: Data(bytes))
                XCTAssertEqual(info.orientation.rawValue, value)
                let img = try ImageDecoder.decode(data: Data(bytes))
                XCTAssertEqual(img, ReferenceOrientation.apply(value, plain), "orientation \(value)")
                XCTAssertEqual(info.width, img.width)
                XCTAssertEqual(info.height, img.height)
                var off = DecodeOptions()
                off.applyOrientation = false
                XCTAssertEqual(try ImageDecoder.decode(data: Data(bytes), options: off), plain)
            }
        }
    }

    /// The brief's case on a full-size photo: orientation 6 swaps width and height and maps
    /// the top-left output pixel to the bottom-left stored pixel.
    func testOrientation6OnGalleryPhoto() throws {
        let p = try Gallery.first()
        let raw = try Gallery.bytes(p)
        let plain = try ImageDecoder.decode(path: p.path)
        let rotated = try ImageDecoder.decode(data: Data(JPEGBytes.insertingAPP1(raw, payload: JPEGBytes.exifPayload(orientation: 6))))
        XCTAssertEqual(rotated.width, p.height)
        XCTAssertEqual(rotated.height, p.width)
        for (x, y) in [(0, 0), (5, 17), (rotated.width - 1, rotated.height - 1), (100, 3)] {
            XCTAssertTrue(rotated.pixel(x: x, y: y)! == plain.pixel(x: y, y: p.height - 1 - x)!)
        }
        // Thumbnails honour it as well.
        let thumb = try Thumbnailer.thumbnail(data: Data(JPEGBytes.insertingAPP1(raw, payload: JPEGBytes.exifPayload(orientation: 6))),
                                              fittingWidth: 40, height: 40)
        XCTAssertEqual(thumb.height, 40)
        XCTAssertLessThan(thumb.width, 40)
    }

    /// The EXIF parser is bounds-checked: truncations and nonsense give 0, never a crash.
    func testExifParserRobustness() {
        let good = JPEGBytes.exifPayload(orientation: 8)
        XCTAssertEqual(ImageDecoder.exifOrientation(app1: good), 8)
        XCTAssertEqual(ImageDecoder.exifOrientation(app1: JPEGBytes.exifPayload(orientation: 3, bigEndian: false, type: 4)), 3)
        XCTAssertEqual(ImageDecoder.exifOrientation(app1: JPEGBytes.exifPayload(orientation: 9)), 0)
        XCTAssertEqual(ImageDecoder.exifOrientation(app1: JPEGBytes.exifPayload(orientation: 0)), 0)
        for n in 0..<good.count { _ = ImageDecoder.exifOrientation(app1: Array(good[0..<n])) }
        // A truncation inside the orientation entry cannot yield a value.
        XCTAssertEqual(ImageDecoder.exifOrientation(app1: Array(good[0..<(good.count - 8)])), 0)
        var badOffset = good
        badOffset[13] = 0xFF  // IFD offset far past the end
        XCTAssertEqual(ImageDecoder.exifOrientation(app1: badOffset), 0)
        var rng = SeededBytes(state: 99)
        for _ in 0..<500 {
            var b = good
            b[6 + rng.below(b.count - 6)] = UInt8(truncatingIfNeeded: rng.next())
            let v = ImageDecoder.exifOrientation(app1: b)
            XCTAssertTrue((0...8).contains(v))
        }
    }
}

final class PNGTests: XCTestCase {
    func pattern(_ w: Int, _ h: Int, channels: Int) -> [UInt8] {
        var p: [UInt8] = []
        for y in 0..<h { for x in 0..<w { for c in 0..<channels { p.append(UInt8((x * 37 + y * 11 + c * 70) & 0xFF)) } } }
        return p
    }

    func testRGBPNGRoundTripIsExact() throws {
        let img = try RGBImage(width: 29, height: 13, pixels: pattern(29, 13, channels: 3))
        let png = try ImageEncoder.png(img)
        let info = try ImageDecoder.probe(data: png)
        XCTAssertEqual(info.format, .png)
        XCTAssertEqual(info.width, 29)
        XCTAssertEqual(info.height, 13)
        XCTAssertEqual(try ImageDecoder.decode(data: png), img)
    }

    func testGreyPNGBecomesRGB() throws {
        let grey = pattern(10, 7, channels: 1)
        let png = try grey.withUnsafeBytes { try ImageEncoder.png(raw: $0, width: 10, height: 7, components: 1, sixteenBit: false) }
        let img = try ImageDecoder.decode(data: png)
        for i in 0..<70 { XCTAssertTrue(img.pixels[3 * i] == grey[i] && img.pixels[3 * i + 1] == grey[i] && img.pixels[3 * i + 2] == grey[i]) }
    }

    /// Alpha is composited onto white: transparent → white, opaque → unchanged, and partial
    /// alpha lands between the colour and white.
    func testAlphaCompositedOntoWhite() throws {
        let rgba: [UInt8] = [10, 20, 30, 0,  10, 20, 30, 255,  10, 20, 30, 128]
        let png = try rgba.withUnsafeBytes { try ImageEncoder.png(raw: $0, width: 3, height: 1, components: 4, sixteenBit: false) }
        let img = try ImageDecoder.decode(data: png)
        XCTAssertTrue(img.pixel(x: 0, y: 0)! == (255, 255, 255))
        XCTAssertTrue(img.pixel(x: 1, y: 0)! == (10, 20, 30))
        let (r, g, b) = img.pixel(x: 2, y: 0)!
        XCTAssertTrue((11...254).contains(r) && (21...254).contains(g) && (31...254).contains(b))
    }

    /// 16-bit files are reduced to 8 bits by libpng (ends exact, monotonic in between).
    func testSixteenBitPNG() throws {
        let values: [UInt16] = [0, 1000, 20000, 40000, 65535, 65535]
        let png = try values.withUnsafeBytes { try ImageEncoder.png(raw: $0, width: 2, height: 1, components: 3, sixteenBit: true) }
        let img = try ImageDecoder.decode(data: png)
        XCTAssertEqual(img.width, 2)
        XCTAssertEqual(img.pixels[0], 0)
        XCTAssertEqual(img.pixels[5], 255)
        XCTAssertTrue(img.pixels[0] < img.pixels[1] && img.pixels[1] < img.pixels[2] && img.pixels[2] < img.pixels[3])
    }

    func testTruncatedPNG() throws {
        let img = try RGBImage(width: 64, height: 64, pixels: pattern(64, 64, channels: 3))
        let png = [UInt8](try ImageEncoder.png(img))
        assertImagingError(try ImageDecoder.decode(data: Data(png[0..<(png.count / 2)]))) { e in
            if case .corrupt(_, .png, let m) = e { return !m.isEmpty } else { return false }
        }
        assertImagingError(try ImageDecoder.decode(data: Data(png[0..<12]))) { e in
            if case .corrupt(_, .png, _) = e { return true } else { return false }
        }
    }

    /// A PNG whose IHDR (with a valid CRC) declares 60000×60000 is refused from the header.
    func testPNGBombRefused() throws {
        let img = try RGBImage(width: 8, height: 8, pixels: pattern(8, 8, channels: 3))
        var png = [UInt8](try ImageEncoder.png(img))
        // IHDR: length(4) "IHDR"(4) width(4) height(4) … at offset 8; data 13 bytes, CRC after.
        XCTAssertEqual(Array(png[12..<16]), Array("IHDR".utf8))
        for (off, v) in [(16, 60000), (20, 60000)] {
            png[off] = UInt8(v >> 24); png[off + 1] = UInt8((v >> 16) & 0xFF)
            png[off + 2] = UInt8((v >> 8) & 0xFF); png[off + 3] = UInt8(v & 0xFF)
        }
        let crc = CRC32.of(Array(png[12..<29]))
        png[29] = UInt8(crc >> 24); png[30] = UInt8((crc >> 16) & 0xFF); png[31] = UInt8((crc >> 8) & 0xFF); png[32] = UInt8(crc & 0xFF)
        XCTAssertEqual(try ImageDecoder.probe(data: Data(png)).width, 60000)
        assertImagingError(try ImageDecoder.decode(data: Data(png))) { e in
            e == .tooLarge(source: "<memory>", width: 60000, height: 60000, limit: 40_000_000)
        }
    }
}
