import DialCLIP
import Foundation
import Models
import Tensor
import TestSupport
import Training
import XCTest

final class DialCLIPTrainingTests: XCTestCase {
    static let folderA: String = { (try? TinyBackbone.bertFolder(seed: 1)) ?? "" }()
    static let folderB: String = { (try? TinyBackbone.bertFolder(seed: 2)) ?? "" }()

    func values(_ t: Tensor) -> [Float] { Array(UnsafeBufferPointer(start: t.pointer, count: t.count)) }

    func testCheckpointRoundTripAndRefusalForAnotherBackbone() throws {
        let towerA = try TextTower(miniLMFolder: Self.folderA)
        let towerB = try TextTower(miniLMFolder: Self.folderB)
        let model = try DialCLIPModel(tower: towerA, config: DialCLIPConfig(promptedLayers: 2, maxContextTokens: 16), seed: 3)
        var rng = TrainingRNG(seed: 4)
        for p in model.parameters.parameters { p.value = rng.normalTensor(p.shape, std: 0.2) }
        let path = try Fixtures.temporaryDirectory().appendingPathComponent("prompts.safetensors").path
        try PromptsCheckpoint.save(model, to: path)
        // Same backbone: identical parameters and identical query embeddings.
        let loaded = try PromptsCheckpoint.load(path: path, tower: towerA)
        XCTAssertEqual(loaded.config, model.config)
        for (a, b) in zip(model.parameters.parameters, loaded.parameters.parameters) {
            XCTAssertEqual(a.name, b.name); XCTAssertEqual(values(a.value), values(b.value))
        }
        let ctx = DialogueContext(turns: [DialogueTurn(speaker: "A", text: "look at my red car")])
        XCTAssertEqual(try DialCLIPQueryEncoder(model: model).encode(ctx, expert: .image),
                       try DialCLIPQueryEncoder(model: loaded).encode(ctx, expert: .image))
        // Another backbone (same shapes, other weights): refused, naming both hashes.
        XCTAssertNotEqual(try towerA.weightsHash(), try towerB.weightsHash())
        XCTAssertThrowsError(try PromptsCheckpoint.load(path: path, tower: towerB)) { error in
            guard case DialCLIPError.backboneMismatch(_, _, let ch, _, let mh) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(ch, try? towerA.weightsHash()); XCTAssertEqual(mh, try? towerB.weightsHash())
            XCTAssertTrue("\(error)".contains(ch) && "\(error)".contains(mh))
        }
        // Not a prompts checkpoint at all.
        let other = path + ".other.safetensors"
        try SafeTensorsWriter.write([("x", Tensor(zeros: [2]))], to: other)
        XCTAssertThrowsError(try PromptsCheckpoint.load(path: other, tower: towerA)) { XCTAssertTrue("\($0)".contains("format")) }
    }

    /// Expected digests from coreutils `sha256sum` (FIPS 180-2 test vectors).
    func testSHA256KnownAnswers() {
        XCTAssertEqual(SHA256.hex(Data()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex(Data("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex(Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // Chunked updates give the one-shot digest.
        let bytes = Data((0..<1000).map { UInt8($0 % 251) })
        var s = SHA256()
        for c in stride(from: 0, to: bytes.count, by: 37) { s.update(bytes.subdata(in: c..<min(c + 37, bytes.count))) }
        XCTAssertEqual(s.finalizeHex(), SHA256.hex(bytes))
    }

    func testEmptyLongAndEmojiOnlyDialogues() throws {
        let tower = try TextTower(miniLMFolder: Self.folderA)
        let model = try DialCLIPModel(tower: tower, config: DialCLIPConfig(promptedLayers: 2, maxContextTokens: 24), seed: 1)
        let q = DialCLIPQueryEncoder(model: model)
        // Empty dialogue: window is [CLS][SEP], features zero with the no-image flag.
        let empty = try q.contexts.prepare(DialogueContext(turns: []))
        XCTAssertEqual(empty.ids, tower.wrap([]))
        XCTAssertEqual(empty.generatorFeatures.last, 1)
        // 500 turns: the window keeps the newest turns and never exceeds the budget.
        let turns = (0..<500).map { DialogueTurn(speaker: $0 % 2 == 0 ? "A" : "B", text: $0 == 499 ? "pizza party" : "the dog at the beach") }
        let long = try q.contexts.prepare(DialogueContext(turns: turns))
        XCTAssertEqual(long.ids.count, 24)
        XCTAssertEqual(Array(long.ids.suffix(3)), Array(tower.wrap(tower.pieces("pizza party", limit: 10)).suffix(3)))
        // Emoji-only turns (unknown to the vocabulary).
        let emoji = DialogueContext(turns: [DialogueTurn(speaker: "A", text: "😂😂"), DialogueTurn(speaker: "B", text: "🙈")])
        for ctx in [DialogueContext(turns: []), DialogueContext(turns: turns), emoji] {
            for e in DialCLIPExpert.allCases {
                let v = try q.encode(ctx, expert: e)
                XCTAssertEqual(v.count, tower.embedDim)
                XCTAssertTrue(v.allSatisfy(\.isFinite))
                XCTAssertEqual(v.reduce(0) { $0 + $1 * $1 }, 1, accuracy: 1e-4)
            }
            let p = try q.photoShareProbability(ctx)
            XCTAssertTrue(p >= 0 && p <= 1)
        }
    }

    func testTinyTrainingReducesLossAndKeepsBackboneFrozen() throws {
        let tower = try TextTower(miniLMFolder: Self.folderA)
        let before = tower.layers.parameters.map { values($0.value) }
        XCTAssertTrue(tower.layers.parameters.allSatisfy { !$0.trainable })
        let file = try TinyBackbone.photoChatFile()
        var o = DialogTrainingOptions(photoDialoguePaths: [file],
                                      config: DialCLIPConfig(promptedLayers: 2, maxContextTokens: 16), epochs: 30, photoBatch: 8,
                                      replyBatch: 8, replyNegatives: 8, routingBatch: 16, learningRate: 1e-2, seed: 7)
        o.maxSteps = 90
        let r = try DialogTrainer.train(tower: tower, options: o)
        XCTAssertEqual(r.steps, 90)
        let first = r.losses.prefix(10).reduce(0, +) / 10, last = r.losses.suffix(10).reduce(0, +) / 10
        XCTAssertLessThan(last, 0.8 * first, "loss \(first) → \(last)")
        // The frozen weights are bit-identical after training; the tuned ones moved.
        let after = tower.layers.parameters.map { values($0.value) }
        XCTAssertEqual(before, after)
        let fresh = try DialCLIPModel(tower: tower, config: o.config, seed: o.seed)
        XCTAssertNotEqual(values(fresh.parameters["domain_prompt"]!.value), values(r.model.parameters["domain_prompt"]!.value))
        XCTAssertNotEqual(values(fresh.parameters["generator.out.weight"]!.value), values(r.model.parameters["generator.out.weight"]!.value))
    }

    func testEvaluationReportShapeAndNothingToEvaluate() throws {
        let tower = try TextTower(miniLMFolder: Self.folderA)
        let dialogues = try DialogueFile.read(path: try TinyBackbone.photoChatFile(dialogues: 10))
        let pool = TinyBackbone.words.flatMap { a in TinyBackbone.words.map { "\(a) \($0)" } }
        let model = try DialCLIPModel(tower: tower, config: DialCLIPConfig(promptedLayers: 2, maxContextTokens: 16))
        let report = try DialogEvaluator.evaluate(dialogues: dialogues, replyPool: pool, tower: tower,
                                                  systems: [DialogEvalSystem(name: "zero_shot", model: nil), DialogEvalSystem(name: "tuned", model: model)])
        let j = report.json
        XCTAssertEqual(j["task"] as? String, "dialog")
        let photoCandidates = Set(dialogues.compactMap { $0.photo?.description }).count
        XCTAssertEqual((j["candidates"] as? [String: Int])?["photo"], photoCandidates)
        XCTAssertEqual((j["candidates"] as? [String: Int])?["reply"], 100)
        XCTAssertEqual((j["queries"] as? [String: Int])?["photo"], 10)
        XCTAssertEqual((j["queries"] as? [String: Int])?["reply"], dialogues.reduce(0) { $0 + $1.turns.count - 1 })
        let results = try XCTUnwrap(j["results"] as? [String: [String: [String: Any]]])
        for sys in ["zero_shot", "tuned"] { for dir in ["photo", "reply"] {
            for k in ["r@1", "r@5", "r@10", "mrr"] {
                let v = try XCTUnwrap(results[sys]?[dir]?[k] as? Double)
                XCTAssertTrue(v >= 0 && v <= 1)
            }
            XCTAssertLessThanOrEqual(report.results[sys]![dir]!.recallAt1, report.results[sys]![dir]!.recallAt5)
        } }
        XCTAssertNotNil((j["routing"] as? [String: Any])?["f1"])
        XCTAssertTrue((j["notes"] as? [String])?.contains { $0.contains("descriptions encoded by the frozen text tower") } ?? false)
        XCTAssertEqual((j["anchors"] as? [[String: Any]])?.count, 2)
        XCTAssertNoThrow(try JSONSerialization.data(withJSONObject: j))
        // A file with nothing evaluable is an error.
        let lonely = [Dialogue(id: "x", turns: [DialogueTurn(speaker: "A", text: "hi")])]
        XCTAssertThrowsError(try DialogEvaluator.evaluate(dialogues: lonely, replyPool: pool, tower: tower,
                                                          systems: [DialogEvalSystem(name: "zero_shot", model: nil)])) {
            guard case DialCLIPError.nothingToEvaluate = $0 else { return XCTFail("\($0)") }
        }
    }
}
