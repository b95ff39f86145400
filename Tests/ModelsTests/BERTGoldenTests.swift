import XCTest
import Tensor
import TestSupport
@testable import Models

/// all-MiniLM-L6-v2 (real pretrained weights fetched by Scripts/setup.sh) must reproduce
/// the PyTorch golden embeddings of shared/model/minilm/golden.jsonl.
final class BERTGoldenTests: XCTestCase {
    func loadModel() throws -> BERTModel {
        let folder = ModelDirectory.miniLM
        guard FileManager.default.fileExists(atPath: folder + "/model.safetensors") else {
            throw FixtureError.missing("\(folder)/model.safetensors — run Scripts/setup.sh first")
        }
        return try BERTModel(folder: folder)
    }

    func cases() throws -> [[String: Any]] {
        try Fixtures.jsonLines(try Fixtures.sharedPath("model/minilm/golden.jsonl"))
    }

    func testArchitectureFromConfig() throws {
        let m = try loadModel()
        XCTAssertEqual(m.config.encoder.width, 384)
        XCTAssertEqual(m.config.encoder.layers, 6)
        XCTAssertEqual(m.config.encoder.heads, 12)
        XCTAssertEqual(m.config.encoder.activation, .gelu)
        XCTAssertEqual(m.config.encoder.layerNormEps, 1e-12)
        // 22,713,216 parameters minus the unused pooler (384·384 + 384).
        XCTAssertEqual(m.parameterCount, 22_713_216 - 384 * 384 - 384)
    }

    func testEveryGoldenEmbeddingBatched() throws {
        let m = try loadModel()
        let rows = try cases()
        let ids = rows.map { ($0["ids"] as! [Int]) }
        // One padded batch of all cases exercises the padding mask and mean pooling.
        let emb = try m.encode(ids: ids, batchSize: 64)
        for (i, row) in rows.enumerated() {
            let ref = (row["embedding"] as! [Double]).map(Float.init)
            let ours = Array(emb.array[(i * 384)..<((i + 1) * 384)])
            let a = Agreement(ours: ours, reference: ref)
            // golden is rounded to 6 decimals: 1e-5 absolute, cosine > 0.99999 (minilm/README.md)
            XCTAssertTrue(a.cosine > 0.99999 && a.maxAbsError <= 1e-5, "case \(i) '\(row["text"] ?? "")': \(a)")
        }
    }

    func testBatchingDoesNotChangeResults() throws {
        let m = try loadModel()
        let ids = try cases().prefix(8).map { $0["ids"] as! [Int] }
        let together = try m.encode(ids: Array(ids), batchSize: 8)
        let single = try m.encode(ids: Array(ids), batchSize: 1)
        let a = Agreement(ours: together.array, reference: single.array)
        XCTAssertTrue(a.maxAbsError < 1e-5, "\(a)")
    }

    func testLayerByLayerDebugTensors() throws {
        let m = try loadModel()
        let row = try cases()[0]
        let ids = row["ids"] as! [Int]
        let states = m.hiddenStates(ids: ids)
        let emb = (row["debug_embeddings_output"] as! [[Double]]).flatMap { $0.map(Float.init) }
        let last = (row["debug_last_hidden_state"] as! [[Double]]).flatMap { $0.map(Float.init) }
        XCTAssertTrue(Agreement(ours: states[0].array, reference: emb).holds(minCosine: 0.99999))
        let a = Agreement(ours: states[6].array, reference: last)
        XCTAssertTrue(a.holds(minCosine: 0.99999), "\(a)")
    }

    func testBadInputsAreErrors() throws {
        let m = try loadModel()
        XCTAssertThrowsError(try m.encode(ids: [[]]))
        XCTAssertThrowsError(try m.encode(ids: [[101, 999_999, 102]]))
        XCTAssertThrowsError(try m.encode(ids: [Array(repeating: 1000, count: 600)]))
        XCTAssertThrowsError(try BERTModel(folder: "/nonexistent-folder")) { e in
            XCTAssertTrue("\(e)".contains("setup"), "\(e)")
        }
    }
}
