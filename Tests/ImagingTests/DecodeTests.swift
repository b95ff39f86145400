import Foundation
import TestSupport
import XCTest
@testable import Imaging

final class DecodeTests: XCTestCase {
    /// Every bundled photo decodes (strictly) to the size recorded in gallery.jsonl, and the
    /// header probe agrees without decoding.
    func testGalleryPhotosDecodeToRecordedSize() throws {
        let photos = try Gallery.photos()
        XCTAssertGreaterThan(photos.count, 100)
        for p in photos {
            let img = try ImageDecoder.decode(path: p.path)
            XCTAssertEqual(img.width, p.width, p.path)
            XCTAssertEqual(img.height, p.height, p.path)
            XCTAssertEqual(img.pixels.count, p.width * p.height * 3)
            let info = try ImageDecoder.probe(path: p.path)
            XCTAssertEqual(info.format, .jpeg)
            XCTAssertEqual(info.width, p.width)
            XCTAssertEqual(info.height, p.height)
        }
    }

    /// A photo is not flat grey: decoded values span a real range (guards against a decoder
    /// that silently returns libjpeg's grey fill).
    func testDecodedPhotoHasContent() throws {
        let img = try ImageDecoder.decode(path: try Gallery.first().path)
        let lo = img.pixels.min()!, hi = img.pixels.max()!
        XCTAssertGreaterThan(Int(hi) - Int(lo), 100)
    }

    /// DCT scaling for thumbnails: the smallest k/8 (k = 1, 2, 4, 8) whose shorter side reaches the need,
    /// with libjpeg's ceil(side·k/8) sizes; the picture stays the same.
    func testDCTScalingToMinimumSide() throws {
        let p = try Gallery.first()
        let full = try ImageDecoder.decode(path: p.path)
        let options = DecodeOptions(minimumSide: 100, scaling: .toMinimumSide)
        let small = try ImageDecoder.decode(path: p.path, options: options)
        let k = [1, 2, 4, 8].first { min((p.width * $0 + 7) / 8, (p.height * $0 + 7) / 8) >= 100 }!
        XCTAssertLessThan(k, 8)
        XCTAssertEqual(small.width, (p.width * k + 7) / 8)
        XCTAssertEqual(small.height, (p.height * k + 7) / 8)
        XCTAssertGreaterThanOrEqual(min(small.width, small.height), 100)
        let reference = try Resampler.resizeBicubic(full, width: small.width, height: small.height)
        XCTAssertLessThan(meanAbsDiff(small, reference), 6, "DCT-scaled decode should look like the resized full decode")
    }

    /// Within the soft budget nothing is scaled (Pillow-exact path); above it the image is
    /// scaled down to the budget but never below the minimum side.
    func testSoftBudgetScaling() throws {
        let p = try Gallery.first()
        let full = try ImageDecoder.decode(path: p.path)
        XCTAssertEqual(try ImageDecoder.decode(path: p.path, options: DecodeOptions(minimumSide: 64)), full)
        let budget = 40_000
        let scaled = try ImageDecoder.decode(path: p.path, options: DecodeOptions(softPixelBudget: budget))
        XCTAssertLessThanOrEqual(scaled.width * scaled.height, budget)
        XCTAssertLessThan(scaled.width, full.width)
        // The need wins over the budget.
        let needy = try ImageDecoder.decode(path: p.path, options: DecodeOptions(softPixelBudget: budget, minimumSide: 150))
        XCTAssertGreaterThanOrEqual(min(needy.width, needy.height), 150)
        XCTAssertGreaterThan(needy.width, scaled.width)
        XCTAssertLessThan(needy.width * needy.height, full.width * full.height)
        XCTAssertEqual(try ImageDecoder.decode(path: p.path, options: DecodeOptions(softPixelBudget: budget, scaling: .never)), full)
    }

    func testChooseScalePolicy() {
        let d = DecodeOptions()
        // 6000x4000 = 24 MP > 4 MP: the largest step (1, 2, 4, 8 eighths) within 4 MP is
        // 2/8 = 1500x1000 (4/8 would be 12 MP).
        XCTAssertEqual(ImageDecoder.chooseScale(width: 6000, height: 4000, swapsAxes: false, need: .init(minShortSide: 224), options: d), 2)
        // A need larger than the budget allows raises k (4/8 gives a 2000 px short side).
        XCTAssertEqual(ImageDecoder.chooseScale(width: 6000, height: 4000, swapsAxes: false, need: .init(minShortSide: 1200), options: d), 4)
        XCTAssertEqual(ImageDecoder.chooseScale(width: 6000, height: 4000, swapsAxes: false, need: .init(minShortSide: 3000), options: d), 8)
        XCTAssertEqual(ImageDecoder.chooseScale(width: 2000, height: 2000, swapsAxes: false, need: .init(), options: d), 8)
        var t = d
        t.scaling = .toMinimumSide
        // Thumbnails: per-axis needs in display orientation (swapped for rotated photos).
        XCTAssertEqual(ImageDecoder.chooseScale(width: 800, height: 400, swapsAxes: false, need: .init(minWidth: 100, minHeight: 100), options: t), 2)
        XCTAssertEqual(ImageDecoder.chooseScale(width: 800, height: 400, swapsAxes: true, need: .init(minWidth: 10, minHeight: 200), options: t), 2)
        XCTAssertEqual(ImageDecoder.chooseScale(width: 800, height: 400, swapsAxes: false, need: .init(minWidth: 10, minHeight: 200), options: t), 4)
    }

    /// Thumbnails have the requested size and look like the full image resized.
    func testThumbnails() throws {
        let p = try Gallery.first()
        let box = Thumbnailer.fittingSize(width: p.width, height: p.height, maxWidth: 40, maxHeight: 40)
        let t = try Thumbnailer.thumbnail(path: p.path, fittingWidth: 40, height: 40)
        XCTAssertEqual(t.width, box.width)
        XCTAssertEqual(t.height, box.height)
        XCTAssertEqual(max(t.width, t.height), 40)
        let expectedShort = Int((Double(min(p.width, p.height)) * 40 / Double(max(p.width, p.height))).rounded())
        XCTAssertEqual(min(t.width, t.height), expectedShort)
        let full = try ImageDecoder.decode(path: p.path)
        let reference = try Resampler.resizeBicubic(full, width: t.width, height: t.height)
        XCTAssertLessThan(meanAbsDiff(t, reference), 4)
        let exact = try Thumbnailer.thumbnail(path: p.path, width: 17, height: 9)
        XCTAssertEqual(exact.width, 17)
        XCTAssertEqual(exact.height, 9)
        assertImagingError(try Thumbnailer.thumbnail(path: p.path, width: 0, height: 9)) {
            if case .invalidArgument = $0 { return true } else { return false }
        }
    }

    /// Greyscale JPEGs become RGB with three equal channels.
    func testGreyJPEGBecomesRGB() throws {
        let w = 48, h = 32
        let grey = (0..<(w * h)).map { i in UInt8((i % w) * 4 + (i / w)) }  // ≤ 47·4 + 31 = 219
        let jpeg = try ImageEncoder.jpeg(raw: grey, width: w, height: h, components: 1, quality: 95)
        let img = try ImageDecoder.decode(data: jpeg)
        XCTAssertEqual(img.width, w)
        XCTAssertEqual(img.height, h)
        var maxErr = 0
        for i in 0..<(w * h) {
            let r = img.pixels[3 * i], g = img.pixels[3 * i + 1], b = img.pixels[3 * i + 2]
            XCTAssertTrue(r == g && g == b)
            maxErr = max(maxErr, abs(Int(r) - Int(grey[i])))
        }
        XCTAssertLessThanOrEqual(maxErr, 6)
    }

    /// CMYK and YCCK JPEGs (Adobe inverted convention, as Photoshop writes) convert to RGB
    /// with Pillow's formula R = 255 − C − K + C·K/255 on uninverted values.
    func testCMYKAndYCCKJPEG() throws {
        // Flat patches, inverted (Adobe) samples: stored = 255 − ink.
        let inks: [(c: Int, m: Int, y: Int, k: Int)] = [(0, 0, 0, 0), (255, 0, 0, 0), (0, 128, 255, 0), (0, 0, 0, 200), (64, 32, 16, 100)]
        let side = 16
        var raw: [UInt8] = []
        for row in 0..<side {
            for x in 0..<(side * inks.count) {
                _ = row
                let ink = inks[x / side]
                raw += [UInt8(255 - ink.c), UInt8(255 - ink.m), UInt8(255 - ink.y), UInt8(255 - ink.k)]
            }
        }
        for ycck in [false, true] {
            let jpeg = try ImageEncoder.jpeg(raw: raw, width: side * inks.count, height: side, components: 4, quality: 100, ycck: ycck)
            let info = try ImageDecoder.probe(data: jpeg)
            XCTAssertEqual(info.width, side * inks.count)
            let img = try ImageDecoder.decode(data: jpeg)
            for (i, ink) in inks.enumerated() {
                let (r, g, b) = img.pixel(x: i * side + side / 2, y: side / 2)!
                func expected(_ c: Int) -> Int { Int((Double(255 - c) * Double(255 - ink.k) / 255).rounded()) }
                XCTAssertLessThanOrEqual(abs(Int(r) - expected(ink.c)), 3, "patch \(i) ycck=\(ycck)")
                XCTAssertLessThanOrEqual(abs(Int(g) - expected(ink.m)), 3, "patch \(i) ycck=\(ycck)")
                XCTAssertLessThanOrEqual(abs(Int(b) - expected(ink.y)), 3, "patch \(i) ycck=\(ycck)")
            }
        }
    }

    /// JPEG round trip of our own encoder (used by the TUI/exports).
    func testJPEGRoundTrip() throws {
        let full = try ImageDecoder.decode(path: try Gallery.first().path)
        let again = try ImageDecoder.decode(data: ImageEncoder.jpeg(full, quality: 95))
        XCTAssertEqual(again.width, full.width)
        XCTAssertLessThan(meanAbsDiff(again, full), 3)
    }

    /// Progressive JPEGs hold the same quantised coefficients as baseline ones, so they must
    /// decode to identical pixels; a progressive file cut short fails in strict mode.
    func testProgressiveJPEG() throws {
        let full = try ImageDecoder.decode(path: try Gallery.first().path)
        let baseline = try ImageEncoder.jpeg(full, quality: 85)
        let progressive = try ImageEncoder.jpeg(full, quality: 85, progressive: true)
        XCTAssertNotEqual(baseline, progressive)
        XCTAssertEqual(try ImageDecoder.decode(data: progressive), try ImageDecoder.decode(data: baseline))
        let cut = progressive.prefix(progressive.count * 2 / 3)
        assertImagingError(try ImageDecoder.decode(data: Data(cut))) { e in
            if case .corrupt(_, .jpeg, _) = e { return true } else { return false }
        }
    }
}
