import Engine
import Foundation
import Models
import Tensor
import TestSupport
import XCTest

/// The bundled dialclip-mini against the numbers its training run recorded in the weights
/// file (metadata `eval_held_out`): evaluating the held-out gallery photos again with the
/// product's evaluation code must reproduce them. Needs the real MiniLM (Scripts/setup.sh);
/// skipped without it.
///
/// `DIALCLIP_MINI_EVAL_TABLE=1 swift test --filter MiniBundledEvaluationTests` also prints
/// the full table of `eval --task gallery` on assets/gallery (held-out and all photos,
/// dialclip-mini, random_init and chance) and its JSON.
final class MiniBundledEvaluationTests: XCTestCase {
    func testHeldOutScoresReproduceTheRecordedOnes() throws {
        guard FileManager.default.fileExists(atPath: ModelDirectory.miniLM + "/model.safetensors") else {
            throw XCTSkip("MiniLM is not installed (run Scripts/setup.sh)")
        }
        let gallery = Fixtures.assets.appendingPathComponent("gallery").path
        let image = try MiniImageEncoder(assets: Fixtures.assets)
        let text = try MiniLMEncoder()
        let recordedJSON = try XCTUnwrap(image.model.metadata["eval_held_out"], "the bundled weights record their held-out scores")
        let recorded = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(recordedJSON.utf8)) as? [String: Any])
        let held = Set(image.model.validationFiles)
        let floor = try MiniImageEncoder.randomInit(like: image.model)
        for (system, embedder) in [(MiniModel.defaultName, image as ImageEmbedder), ("random_init", floor)] {
            let r = try GalleryEvaluation.evaluate(galleryDir: gallery, only: held, imageEmbedder: embedder, textEmbedder: text)
            XCTAssertEqual(r.photos, recorded["photos"] as? Int)
            let rec = try XCTUnwrap(recorded[system] as? [String: Any])
            for (direction, metrics) in [("t2i", r.t2i), ("i2t", r.i2t)] {
                let m = try XCTUnwrap(rec[direction] as? [String: Double])
                // Same code, same tensors; batch blocking may move a near-tie, nothing more.
                XCTAssertEqual(metrics.recallAt1, m["r@1"]!, accuracy: 0.03, "\(system) \(direction) R@1")
                XCTAssertEqual(metrics.recallAt5, m["r@5"]!, accuracy: 0.03, "\(system) \(direction) R@5")
                XCTAssertEqual(metrics.recallAt10, m["r@10"]!, accuracy: 0.03, "\(system) \(direction) R@10")
                XCTAssertEqual(metrics.meanReciprocalRank, m["mrr"]!, accuracy: 0.03, "\(system) \(direction) MRR")
            }
        }

        if ProcessInfo.processInfo.environment["DIALCLIP_MINI_EVAL_TABLE"] == "1" {
            let report = try GalleryEvaluation.report(galleryDir: gallery, model: image, floor: floor, textEmbedder: text)
            print(GalleryEvaluation.table(report))
            let data = try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys, .prettyPrinted])
            print(String(decoding: data, as: UTF8.self))
        }
    }

    func testModelSpecSelectsDialclipMiniByDefaultAndByFile() throws {
        guard FileManager.default.fileExists(atPath: ModelDirectory.miniLM + "/model.safetensors") else {
            throw XCTSkip("MiniLM is not installed (run Scripts/setup.sh)")
        }
        let pair = try ModelLoader.load(nil)
        XCTAssertEqual(pair.image.name, "dialclip-mini")
        XCTAssertEqual(pair.text.name, "minilm")
        XCTAssertEqual(pair.image.dimension, pair.text.dimension)
        let floor = try MiniImageEncoder.randomInit(like: try XCTUnwrap((pair.image as? MiniImageEncoder)?.model))
        XCTAssertEqual(floor.name, "random_init")
        // Any dialclip-mini file is recognised by its metadata, whatever its name.
        let dir = try Fixtures.temporaryDirectory("mini-spec")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("weights.bin").path
        try MiniModel(randomWeights: MiniArchitecture(width: 32, layers: 1, heads: 2, mlpWidth: 64, members: 1)).save(to: path)
        let custom = try ModelLoader.load(path)
        XCTAssertEqual(custom.image.name, path)
        XCTAssertEqual((custom.image as? MiniImageEncoder)?.model.architecture.width, 32)
    }
}
