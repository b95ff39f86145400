import Foundation
import Tensor
import TestSupport
import XCTest
@testable import Imaging

/// Preprocessing against the goldens made with Pillow 13 + torchvision's CLIP transform
/// (shared/model/tiny-clip-hf/README.md).
final class PreprocessGoldenTests: XCTestCase {
    var golden: SafeTensorsFile!

    override func setUpWithError() throws {
        golden = try SafeTensorsFile(path: Fixtures.sharedPath("model/tiny-clip-hf/golden.safetensors"))
    }

    /// An HWC uint8 tensor from the goldens as an RGBImage.
    func image(_ name: String) throws -> RGBImage {
        let shape = try golden.info(name).shape
        XCTAssertEqual(shape.count, 3)
        XCTAssertEqual(shape[2], 3)
        return try RGBImage(width: shape[1], height: shape[0], pixels: golden.bytes(name))
    }

    func assertSameBytes(_ ours: RGBImage, _ ref: RGBImage, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(ours.width, ref.width, file: file, line: line)
        XCTAssertEqual(ours.height, ref.height, file: file, line: line)
        guard ours.pixels.count == ref.pixels.count else { return }
        var diffs = 0, maxDiff = 0
        for i in 0..<ours.pixels.count where ours.pixels[i] != ref.pixels[i] {
            diffs += 1
            maxDiff = max(maxDiff, abs(Int(ours.pixels[i]) - Int(ref.pixels[i])))
        }
        XCTAssertEqual(diffs, 0, "\(diffs) bytes differ (max \(maxDiff))", file: file, line: line)
    }

    func testResizeDownscaleMatchesPillowExactly() throws {
        let p = try CLIPPreprocessor(imageSize: 64)
        let resized = try p.resized(image("preprocess_a_raw_uint8"))
        assertSameBytes(resized, try image("preprocess_a_resized_uint8"))
    }

    func testResizeUpscalePortraitMatchesPillowExactly() throws {
        let p = try CLIPPreprocessor(imageSize: 64)
        let resized = try p.resized(image("preprocess_b_raw_uint8"))
        assertSameBytes(resized, try image("preprocess_b_resized_uint8"))
    }

    func testResizeAndCrop224MatchesPillowExactly() throws {
        let p = try CLIPPreprocessor(imageSize: 224)
        let crop = try p.cropped(image("preprocess_c_raw_uint8"))
        assertSameBytes(crop, try image("preprocess_c_cropped_uint8"))
    }

    func checkOutput(raw: String, output: String, size: Int) throws {
        let p = try CLIPPreprocessor(imageSize: size)
        let ours = try p.pixelValues(image(raw))
        let ref = try golden.tensor(output)
        XCTAssertEqual(ref.shape, [3, size, size])
        let r = ref.array
        XCTAssertEqual(ours.count, r.count)
        var maxErr: Float = 0
        for i in 0..<min(ours.count, r.count) { maxErr = max(maxErr, abs(ours[i] - r[i])) }
        XCTAssertLessThanOrEqual(maxErr, 1e-6, "\(output): max abs error \(maxErr)")
    }

    func testFullPipelineA() throws { try checkOutput(raw: "preprocess_a_raw_uint8", output: "preprocess_a_output", size: 64) }
    func testFullPipelineB() throws { try checkOutput(raw: "preprocess_b_raw_uint8", output: "preprocess_b_output", size: 64) }
    func testFullPipelineC() throws { try checkOutput(raw: "preprocess_c_raw_uint8", output: "preprocess_c_output", size: 224) }

    /// pixel_values image 0 is preprocess_a_output; the batch helper lays images out NCHW.
    func testBatchLayoutMatchesModelInput() throws {
        let p = try CLIPPreprocessor(imageSize: 64)
        let a = try image("preprocess_a_raw_uint8"), b = try image("preprocess_b_raw_uint8")
        let batch = try p.pixelValues(batch: [a, b])
        XCTAssertEqual(batch.count, 2 * 3 * 64 * 64)
        let pv = try golden.tensor("pixel_values").array
        let first = Array(batch[0..<(3 * 64 * 64)])
        XCTAssertLessThanOrEqual(zip(first, pv[0..<(3 * 64 * 64)]).map { abs($0 - $1) }.max()!, 1e-6)
        let second = Array(batch[(3 * 64 * 64)...])
        XCTAssertEqual(second, try p.pixelValues(b))
        let raw = try p.pixelValues(rawRGB: a.pixels, width: a.width, height: a.height)
        XCTAssertEqual(raw, first)
    }

    /// The README's worked sizes and offsets: int(64*131/97) = 86, round(10.5) = 10, round(38.5) = 38.
    func testSizesAndBankersRoundingOfCropOffsets() throws {
        let p64 = try CLIPPreprocessor(imageSize: 64)
        XCTAssertTrue(p64.resizedSize(width: 131, height: 97) == (86, 64))
        XCTAssertTrue(p64.resizedSize(width: 45, height: 60) == (64, 85))
        XCTAssertTrue(try CLIPPreprocessor(imageSize: 224).resizedSize(width: 345, height: 256) == (301, 224))
        XCTAssertEqual(CLIPPreprocessor.centreOffset(21), 10)
        XCTAssertEqual(CLIPPreprocessor.centreOffset(77), 38)
        XCTAssertEqual(CLIPPreprocessor.centreOffset(22), 11)
        XCTAssertEqual(CLIPPreprocessor.centreOffset(3), 2)  // round(1.5) = 2
    }

    func testRejectsBadConfiguration() throws {
        XCTAssertThrowsError(try CLIPPreprocessor(imageSize: 0))
        XCTAssertThrowsError(try CLIPPreprocessor(imageSize: 224, mean: [0.5], std: [1, 1, 1]))
        XCTAssertThrowsError(try CLIPPreprocessor(imageSize: 224, std: [1, 0, 1]))
        // A 1x3000 strip would become 224x672000: refused with a clear error, not allocated.
        let strip = try RGBImage.uniform(width: 1, height: 3000, red: 1, green: 2, blue: 3)
        assertImagingError(try CLIPPreprocessor(imageSize: 224).pixelValues(strip)) { e in
            if case .invalidArgument(let m) = e { return m.contains("too elongated") } else { return false }
        }
    }

    /// Resizing to the same size is Pillow's copy; a 1-pixel-wide change only runs one pass.
    func testResizeNoOpAndSinglePass() throws {
        let img = try image("preprocess_b_raw_uint8")
        XCTAssertEqual(try Resampler.resizeBicubic(img, width: img.width, height: img.height), img)
        // Same height: the vertical pass is skipped, so every row is resized independently:
        // resizing one row alone must give the same row.
        let wide = try Resampler.resizeBicubic(img, width: 30, height: img.height)
        let row7 = try img.cropped(x: 0, y: 7, width: img.width, height: 1)
        let row7Resized = try Resampler.resizeBicubic(row7, width: 30, height: 1)
        XCTAssertEqual(try wide.cropped(x: 0, y: 7, width: 30, height: 1), row7Resized)
    }

    /// The DCAR blank image.
    func testMidGreyImage() throws {
        let g = try RGBImage.midGrey(width: 5, height: 3)
        XCTAssertEqual(g.width, 5)
        XCTAssertEqual(g.height, 3)
        XCTAssertTrue(g.pixels.allSatisfy { $0 == 128 })
        XCTAssertThrowsError(try RGBImage.midGrey(width: 0, height: 3))
        XCTAssertThrowsError(try RGBImage(width: 2, height: 2, pixels: [1, 2, 3]))
    }
}
