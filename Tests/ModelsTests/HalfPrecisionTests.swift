import XCTest
import Tensor
import TestSupport
@testable import Models

/// `--fp16` keeps CLIP's matrices and token table as fp16 and widens them per layer:
/// on an F16 checkpoint that must change nothing at all, and on an F32 one only by
/// fp16 rounding of the weights.
final class HalfPrecisionTests: XCTestCase {
    func textIDs() throws -> [[Int]] {
        let g = try SafeTensorsFile(path: try Fixtures.sharedPath("model/tiny-clip-hf/golden.safetensors"))
        let flat = try g.integers("input_ids").map(Int.init)
        return (0..<4).map { Array(flat[($0 * 77)..<(($0 + 1) * 77)]) }
    }

    func pixels() throws -> Tensor {
        try SafeTensorsFile(path: try Fixtures.sharedPath("model/tiny-clip-hf/golden.safetensors")).tensor("pixel_values")
    }

    /// The OpenAI-layout fixture is stored as F16: fp16 and fp32 modes widen the same
    /// halves, so every embedding must be bit-identical.
    func testF16CheckpointGivesIdenticalResults() throws {
        let path = try Fixtures.sharedPath(CLIPGoldenTests.openAIFile)
        let full = try CLIPModel(path: path)
        let half = try CLIPModel(path: path, precision: .f16)
        XCTAssertEqual(half.precision, .f16)
        XCTAssertEqual(half.parameterCount, full.parameterCount)
        XCTAssertEqual(try half.encodeImages(pixels: try pixels()).array, try full.encodeImages(pixels: try pixels()).array)
        let ids = try textIDs()
        XCTAssertEqual(try half.encodeTexts(ids: ids, batchSize: 3).array, try full.encodeTexts(ids: ids, batchSize: 3).array)
    }

    /// On the F32 Hugging Face fixture the fp16 model stays within fp16 rounding of the
    /// PyTorch goldens (cosine ≥ 0.9995 per embedding), and its widened layers hold
    /// exactly the fp16-rounded weights.
    func testF32CheckpointStaysCloseToGolden() throws {
        let g = try SafeTensorsFile(path: try Fixtures.sharedPath("model/tiny-clip-hf/golden.safetensors"))
        let half = try CLIPModel(path: try Fixtures.sharedPath(CLIPGoldenTests.hfDir), precision: .f16)
        let full = try CLIPModel(path: try Fixtures.sharedPath(CLIPGoldenTests.hfDir))
        let checks = [(try half.encodeImages(pixels: try pixels()), try g.tensor("image_embeds_unnormalized")),
                      (try half.encodeTexts(ids: try textIDs()), try g.tensor("text_embeds_unnormalized"))]
        for (ours, reference) in checks {
            let rows = reference.shape[0], dim = reference.count / rows
            for r in 0..<rows {
                let a = Array(ours.array[(r * dim)..<((r + 1) * dim)]), b = Array(reference.array[(r * dim)..<((r + 1) * dim)])
                let dot = zip(a, b).reduce(0) { $0 + $1.0 * $1.1 }
                let cosine = dot / (sqrt(a.reduce(0) { $0 + $1 * $1 }) * sqrt(b.reduce(0) { $0 + $1 * $1 }))
                XCTAssertGreaterThan(cosine, 0.9995, "row \(r)")
            }
        }
        let widened = half.visionStack.layers[1].fcWeight.array
        let original = full.visionStack.layers[1].fcWeight.array
        XCTAssertEqual(widened, original.map { Float(Float16($0)) })
        XCTAssertEqual(half.visionStack.precision, .f16)
        XCTAssertEqual(full.visionStack.precision, .f32)
    }
}
