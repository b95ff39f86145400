import Foundation
import TestSupport
import XCTest
@testable import Imaging

/// Real photos against Pillow 13.0.0 (libjpeg-turbo 3, as bundled in its wheel): CRC-32 of
/// `Image.open(f).convert("RGB")` bytes and of the float32 CLIP input (little-endian CHW)
/// from the README's reference preprocessing at n = 224. Generated once with:
///
///     rows = [json.loads(l) for l in open("gallery.jsonl")]
///     sel = sorted([r for r in rows if r["width"] > r["height"]][:14]
///                  + [r for r in rows if r["width"] <= r["height"]][:10], key=lambda r: r["file"])
///     for r in sel:
///         img = Image.open(r["file"]).convert("RGB"); a = np.asarray(img)
///         x = <README preprocessing of img, n=224>.astype("<f4")
///         print(r["file"], zlib.crc32(a.tobytes()), zlib.crc32(x.tobytes()))
///
/// (All 254 gallery photos were also compared in full once: identical decodes, max
/// preprocessing error 0.0.) Equal checksums mean bit-identical pixels and model inputs.
final class PillowGalleryTests: XCTestCase {
    static let reference: [(file: String, decodeCRC: UInt32, inputCRC: UInt32)] = [
        ("photos/coco-000000000790.jpg", 0x21469940, 0xc33fedd4),
        ("photos/coco-000000078499.jpg", 0x6765f985, 0x9d7de2b2),
        ("photos/coco-000000099053.jpg", 0x68259a91, 0x47aeb194),
        ("photos/coco-000000107438.jpg", 0x5a3d7535, 0xff61b20c),
        ("photos/coco-000000114174.jpg", 0x3665b890, 0x79aebf76),
        ("photos/coco-000000125870.jpg", 0x03714d2b, 0xbdb29a25),
        ("photos/coco-000000129648.jpg", 0x5eb53d43, 0x2712c0e1),
        ("photos/coco-000000159269.jpg", 0x6b26faf8, 0xae334601),
        ("photos/coco-000000160012.jpg", 0x8a395e5f, 0xc992db59),
        ("photos/coco-000000165518.jpg", 0xa950ae11, 0xa34216c7),
        ("photos/coco-000000174632.jpg", 0x8caa5adb, 0x8ad739eb),
        ("photos/coco-000000183709.jpg", 0x0f10f8ce, 0x4fc96dfc),
        ("photos/coco-000000196393.jpg", 0x03e0d46e, 0x830e283d),
        ("photos/coco-000000212679.jpg", 0x4dca5a71, 0x1c5e95e9),
        ("photos/coco-000000214753.jpg", 0xccaaa2aa, 0x5f991474),
        ("photos/coco-000000229358.jpg", 0x8acf12a7, 0xa84e91d1),
        ("photos/coco-000000229997.jpg", 0xd676286e, 0xb9974467),
        ("photos/coco-000000256353.jpg", 0x3fae3c59, 0x1bac4e83),
        ("photos/coco-000000377575.jpg", 0x2c6f68bf, 0x3091e871),
        ("photos/coco-000000460229.jpg", 0x91e6f7f5, 0x4d17fd55),
        ("photos/gcompris-bayterek.jpg", 0x1da762b5, 0x745ca200),
        ("photos/gcompris-bucket.jpg", 0xdfeaed4c, 0xd225e2c4),
        ("photos/gcompris-burj.jpg", 0xc6175dbc, 0x4108481e),
        ("photos/gcompris-cabrillo.jpg", 0x8f488172, 0x1f4f6886),
    ]

    func testDecodeAndCLIPInputMatchPillowBitForBit() throws {
        let preprocessor = try CLIPPreprocessor(imageSize: 224)
        for ref in Self.reference {
            let path = try Fixtures.sharedPath("data/gallery/" + ref.file)
            let img = try ImageDecoder.decode(path: path, options: preprocessor.decodeOptions())
            XCTAssertEqual(CRC32.of(img.pixels), ref.decodeCRC, "decode of \(ref.file)")
            let input = try preprocessor.pixelValues(img)
            let bytes = input.withUnsafeBytes { Array($0) }  // little-endian on every platform we build for
            XCTAssertEqual(CRC32.of(bytes), ref.inputCRC, "CLIP input of \(ref.file)")
        }
    }

    func testCRC32KnownValue() {
        // The standard check value of CRC-32/ISO-HDLC.
        XCTAssertEqual(CRC32.of(Array("123456789".utf8)), 0xCBF4_3926)
    }
}

/// Table-driven CRC-32 (zlib's polynomial 0xEDB88320).
enum CRC32 {
    static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func of(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        table.withUnsafeBufferPointer { t in
            bytes.withUnsafeBufferPointer { b in
                for x in b { c = t[Int((c ^ UInt32(x)) & 0xFF)] ^ (c >> 8) }
            }
        }
        return c ^ 0xFFFF_FFFF
    }
}
