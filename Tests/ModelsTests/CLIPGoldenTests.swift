import XCTest
import Tensor
import TestSupport
@testable import Models

/// The tiny CLIP fixtures in both layouts must reproduce every golden tensor of
/// shared/model/tiny-clip-hf/golden.safetensors by the project's agreement rule.
final class CLIPGoldenTests: XCTestCase {
    static let hfDir = "model/tiny-clip-hf"
    static let openAIFile = "model/tiny-clip-openai/model.safetensors"

    func golden() throws -> SafeTensorsFile {
        try SafeTensorsFile(path: try Fixtures.sharedPath("model/tiny-clip-hf/golden.safetensors"))
    }

    func models() throws -> [(String, CLIPModel)] {
        [("hf", try CLIPModel(path: try Fixtures.sharedPath(Self.hfDir))),
         ("openai", try CLIPModel(path: try Fixtures.sharedPath(Self.openAIFile)))]
    }

    func assertAgrees(_ ours: Tensor, _ ref: Tensor, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(ours.count, ref.count, "\(what): element count", file: file, line: line)
        guard ours.count == ref.count else { return }
        let a = Agreement(ours: ours.array, reference: ref.array)
        XCTAssertTrue(a.holds(), "\(what): \(a)", file: file, line: line)
    }

    func testConfigInferredFromShapes() throws {
        for (name, m) in try models() {
            XCTAssertEqual(m.config.imageSize, 64, name)
            XCTAssertEqual(m.config.patchSize, 16, name)
            XCTAssertEqual(m.config.vision.width, 64, name)
            XCTAssertEqual(m.config.vision.layers, 2, name)
            XCTAssertEqual(m.config.vision.heads, 4, name)
            XCTAssertEqual(m.config.text.heads, 4, name)
            XCTAssertEqual(m.config.vision.mlpWidth, 256, name)
            XCTAssertEqual(m.config.contextLength, 77, name)
            XCTAssertEqual(m.config.embedDim, 32, name)
            XCTAssertEqual(m.config.vision.activation, .quickGELU, name)
            XCTAssertTrue(m.warnings.isEmpty, "\(name): \(m.warnings)")
        }
        let openai = try CLIPModel(path: try Fixtures.sharedPath(Self.openAIFile))
        XCTAssertEqual(openai.storedDType, "F16")
        XCTAssertTrue(openai.config.provenance.contains("metadata"), openai.config.provenance)
    }

    func testImageEmbeddingsAndHiddenStates() throws {
        let g = try golden()
        let pixels = try g.tensor("pixel_values")
        let hiddenRef = try g.tensor("vision_hidden_states_img0")   // [3, 17, 64]
        for (name, m) in try models() {
            var hidden: [Int: Tensor] = [:]
            let emb = try m.encodeImages(pixels: pixels) { i, t in hidden[i] = t.rows(0..<17) }
            assertAgrees(emb, try g.tensor("image_embeds_unnormalized"), "\(name) image_embeds_unnormalized")
            assertAgrees(emb.l2Normalized(), try g.tensor("image_embeds"), "\(name) image_embeds")
            for i in 0..<3 {
                let ref = try Tensor(Array(hiddenRef.array[(i * 17 * 64)..<((i + 1) * 17 * 64)]), shape: [17, 64])
                assertAgrees(try XCTUnwrap(hidden[i]), ref, "\(name) vision hidden state \(i)")
            }
        }
    }

    func testTextEmbeddingsBothPaddings() throws {
        let g = try golden()
        let eotRef = try g.integers("eot_index").map(Int.init)
        for key in ["input_ids", "input_ids_pad_eot"] {
            let flat = try g.integers(key).map(Int.init)
            let ids = (0..<4).map { Array(flat[($0 * 77)..<(($0 + 1) * 77)]) }
            XCTAssertEqual(ids.map { $0.firstIndex(of: CLIPModel.endOfText)! }, eotRef)
            for (name, m) in try models() {
                let emb = try m.encodeTexts(ids: ids, batchSize: 3)   // 3 forces two length-sorted batches
                assertAgrees(emb, try g.tensor("text_embeds_unnormalized"), "\(name) \(key) text_embeds_unnormalized")
                assertAgrees(emb.l2Normalized(), try g.tensor("text_embeds"), "\(name) \(key) text_embeds")
            }
        }
    }

    func testTextHiddenStatesUpToEOT() throws {
        let g = try golden()
        let flat = try g.integers("input_ids").map(Int.init)
        let ids = Array(flat[0..<77])
        let eot = ids.firstIndex(of: CLIPModel.endOfText)!
        let ref = try g.tensor("text_hidden_states_seq0")  // [3, 77, 64]
        for (name, m) in try models() {
            let states = try m.textHiddenStates(ids: ids)
            XCTAssertEqual(states.count, 3)
            for i in 0..<3 {
                let rows = eot + 1
                let refRows = Array(ref.array[(i * 77 * 64)..<(i * 77 * 64 + rows * 64)])
                assertAgrees(states[i], try Tensor(refRows, shape: [rows, 64]), "\(name) text hidden state \(i)")
            }
        }
    }

    func testLogits() throws {
        let g = try golden()
        let flat = try g.integers("input_ids").map(Int.init)
        let ids = (0..<4).map { Array(flat[($0 * 77)..<(($0 + 1) * 77)]) }
        for (name, m) in try models() {
            let img = try m.encodeImages(pixels: try g.tensor("pixel_values")).l2Normalized()
            let txt = try m.encodeTexts(ids: ids).l2Normalized()
            var logits = try img.matmulTransposed(txt)
            let scale = expf(m.logitScale)
            for i in 0..<logits.count { logits[flat: i] *= scale }
            assertAgrees(logits, try g.tensor("logits_per_image"), "\(name) logits_per_image")
            XCTAssertEqual(m.logitScale, 2.66015625, accuracy: 1e-7)
        }
    }
}
