import Engine
import Foundation
import Imaging
import Models
import Tensor
import TestSupport
@testable import Training
import XCTest

/// dialclip-mini training: the trainable tower equals the inference model, its glue
/// gradients match finite differences, a tiny run learns, NaN stops it keeping the last
/// good checkpoint, foreign checkpoints are refused; plus the gallery evaluation.
final class MiniTrainingTests: XCTestCase {
    static let tiny = MiniArchitecture(imageSize: 16, patchSize: 8, width: 16, layers: 1, heads: 2, mlpWidth: 32,
                                       embedDim: 8, histogramBins: 2, histogramScale: 2, members: 1)

    /// Deterministic unit vector per text (a stand-in for MiniLM).
    static func fakeText(_ texts: [String]) throws -> Tensor {
        var out = Tensor(zeros: [texts.count, 8])
        for (i, t) in texts.enumerated() {
            var g = TrainingRNG(seed: t.utf8.reduce(1469598103934665603) { ($0 ^ UInt64($1)) &* 1099511628211 })
            for j in 0..<8 { out[flat: i * 8 + j] = g.normal() }
        }
        return out.l2Normalized()
    }

    /// A gallery of solid-colour photos with some noise: `perColour` photos per colour,
    /// caption "a <colour> picture", category = the colour.
    static func makeGallery(perColour: Int) throws -> URL {
        let dir = try Fixtures.temporaryDirectory("mini-gallery")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("photos"), withIntermediateDirectories: true)
        let colours: [(String, [Int])] = [("red", [220, 30, 30]), ("green", [30, 200, 40]), ("blue", [30, 40, 210]), ("yellow", [230, 220, 40])]
        var lines: [String] = []
        var g = TrainingRNG(seed: 99)
        for (name, rgb) in colours {
            for k in 0..<perColour {
                let w = 32 + 4 * k, h = 28
                var px = [UInt8](repeating: 0, count: w * h * 3)
                for i in 0..<(w * h) { for c in 0..<3 { px[3 * i + c] = UInt8(max(0, min(255, rgb[c] + Int(g.next() % 41) - 20))) } }
                let file = "photos/\(name)-\(k).jpg"
                try ImageEncoder.jpeg(try RGBImage(width: w, height: h, pixels: px)).write(to: dir.appendingPathComponent(file))
                lines.append("{\"file\": \"\(file)\", \"captions\": [\"a \(name) picture\"], \"category\": \"\(name)\"}")
            }
        }
        try lines.joined(separator: "\n").write(to: dir.appendingPathComponent("gallery.jsonl"), atomically: true, encoding: .utf8)
        return dir
    }

    func tinyConfig() -> MiniTrainingConfig {
        var c = MiniTrainingConfig()
        c.architecture = Self.tiny
        c.batchSize = 8
        c.epochs = 15
        c.learningRate = 3e-3
        c.warmupSteps = 2
        c.preloadSide = 24
        c.validateEvery = 0
        c.checkpointEvery = 2
        return c
    }

    func testTowerForwardEqualsInferenceModel() throws {
        var rng = TrainingRNG(seed: 4)
        let tower = try MiniTower(architecture: Self.tiny, member: 0, rng: &rng)
        let model = try MiniModel(architecture: Self.tiny, tensors: tower.tensors)
        let pixels = rng.normalTensor([3, 3, 16, 16], std: 1)
        var hist = rng.uniformTensor([3, 8], bound: 1)
        for i in 0..<hist.count { hist[flat: i] = abs(hist[flat: i]) }
        let ours = try tower.forward(pixels: pixels, histograms: hist)
        let reference = try model.encode(pixels: pixels, histograms: hist)
        let a = Agreement(ours: ours.array, reference: reference.array)
        XCTAssertTrue(a.holds(), a.description)
    }

    func testTowerGradientsMatchFiniteDifferences() throws {
        var rng = TrainingRNG(seed: 8)
        let tower = try MiniTower(architecture: Self.tiny, member: 0, rng: &rng)
        let pixels = rng.normalTensor([2, 3, 16, 16], std: 1)
        let hist = rng.uniformTensor([2, 8], bound: 1)
        let r = rng.normalTensor([2, 8], std: 1)
        func loss() throws -> Double {
            let y = try tower.forward(pixels: pixels, histograms: hist)
            return (0..<y.count).reduce(0.0) { $0 + Double(y[flat: $1]) * Double(r[flat: $1]) }
        }
        let cache = tower.makeCache()
        for p in tower.parameters { p.zeroGrad() }
        _ = try tower.forward(pixels: pixels, histograms: hist, cache: cache)
        try tower.backward(r, cache: cache)
        // Entries on both sides of the feature concatenation, the pooled LayerNorm, positions and patches.
        let probes: [(String, Int)] = [("m0.head.weight", 3), ("m0.head.weight", 16 + 5), ("m0.head.bias", 1),
                                       ("m0.ln_post.weight", 2), ("m0.ln_post.bias", 7), ("m0.pos", 9),
                                       ("m0.patch.weight", 50), ("m0.blocks.0.mlp.fc.weight", 11)]
        let set = try ParameterSet(tower.parameters)
        for (name, index) in probes {
            let p = try XCTUnwrap(set[name])
            let h: Float = 1e-2
            let original = p.value[flat: index]
            p.value[flat: index] = original + h
            let up = try loss()
            p.value[flat: index] = original - h
            let down = try loss()
            p.value[flat: index] = original
            let fd = (up - down) / (2 * Double(h))
            let analytic = Double(p.grad[flat: index])
            XCTAssertEqual(analytic, fd, accuracy: 2e-3 + 2e-2 * abs(fd), "\(name)[\(index)]")
        }
    }

    func testTinyTrainingRunReducesTheLossAndWritesALoadableModel() throws {
        let gallery = try Self.makeGallery(perColour: 6)
        defer { try? FileManager.default.removeItem(at: gallery) }
        let output = gallery.appendingPathComponent("mini.safetensors").path
        let result = try MiniTrainer.train(config: tinyConfig(), galleryDir: gallery.path, extraDir: nil, output: output,
                                           textEncoder: Self.fakeText)
        XCTAssertEqual(result.validationFiles.count, 4, "one held-out photo per colour (20% of 6, rounded)")
        XCTAssertEqual(result.trainingPhotos, 20)
        let losses = result.members[0].losses
        XCTAssertEqual(losses.count, 30)
        let first = losses.prefix(4).reduce(0, +) / 4, last = losses.suffix(4).reduce(0, +) / 4
        XCTAssertLessThan(last, first * 0.8, "loss \(first) → \(last)")
        let model = try MiniModel(path: output)
        XCTAssertEqual(Set(model.validationFiles), Set(result.validationFiles))
        XCTAssertTrue(Set(model.trainingGalleryFiles).isDisjoint(with: Set(model.validationFiles)))
        XCTAssertFalse(FileManager.default.fileExists(atPath: output + ".work"), "member checkpoints are removed after success")
    }

    func testCategoryAwareNegativesPlugIn() throws {
        let gallery = try Self.makeGallery(perColour: 6)
        defer { try? FileManager.default.removeItem(at: gallery) }
        let output = gallery.appendingPathComponent("mini.safetensors").path
        var config = tinyConfig()
        // DCAR-style builder: swap the colour word for each other colour (category = that colour).
        config.categoryNegatives = MiniCategoryNegatives(alpha: 0.5) { caption, _ in
            ["red", "green", "blue", "yellow", "purple"].compactMap { c in
                caption.contains(c) ? nil : MiniNegativeCaption(text: "a \(c) picture", category: c)
            }.filter { $0.text != caption }
        }
        var messages: [String] = []
        let result = try MiniTrainer.train(config: config, galleryDir: gallery.path, extraDir: nil, output: output,
                                           textEncoder: Self.fakeText, log: { messages.append($0) })
        // The four training captions are not negatives; only "a purple picture" is new.
        XCTAssertTrue(messages.contains { $0.contains("1 category-aware negative captions") }, "\(messages)")
        let losses = result.members[0].losses
        XCTAssertTrue(losses.allSatisfy(\.isFinite))
        XCTAssertLessThan(losses.suffix(4).reduce(0, +), losses.prefix(4).reduce(0, +))
        XCTAssertEqual(try MiniModel(path: output).metadata["train.category_negatives_alpha"], "0.5")
    }

    /// The swap vocabulary is prepared from training captions only: held-out photos'
    /// captions never reach `prepare`, and K is recorded in the weights' metadata.
    func testNegativesArePreparedFromTrainingCaptionsOnly() throws {
        let gallery = try Self.makeGallery(perColour: 6)
        defer { try? FileManager.default.removeItem(at: gallery) }
        // One caption per photo, so a held-out photo's caption exists nowhere else.
        let jsonl = gallery.appendingPathComponent("gallery.jsonl")
        var captionOf: [String: String] = [:]
        let lines = try String(contentsOf: jsonl, encoding: .utf8).split(separator: "\n").map { line -> String in
            var o = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let file = try XCTUnwrap(o["file"] as? String)
            let caption = "a \(o["category"] as? String ?? "") picture, photo \((file as NSString).lastPathComponent)"
            captionOf[file] = caption
            o["captions"] = [caption]
            return String(decoding: try JSONSerialization.data(withJSONObject: o), as: UTF8.self)
        }
        try lines.joined(separator: "\n").write(to: jsonl, atomically: true, encoding: .utf8)

        let output = gallery.appendingPathComponent("mini.safetensors").path
        var config = tinyConfig()
        config.epochs = 1
        final class Seen: @unchecked Sendable { var captions: [String] = []; var categories: [String] = [] }
        let seen = Seen()
        config.categoryNegatives = MiniCategoryNegatives(alpha: 0.25, perCaption: 2) { captions, categories in
            seen.captions = captions; seen.categories = categories
            return { caption, category in [MiniNegativeCaption(text: caption + " at night", category: category)] }
        }
        let result = try MiniTrainer.train(config: config, galleryDir: gallery.path, extraDir: nil, output: output, textEncoder: Self.fakeText)
        let heldOut = Set(result.validationFiles)
        XCTAssertFalse(heldOut.isEmpty)
        let expected = Set(captionOf.filter { !heldOut.contains($0.key) }.values)
        XCTAssertEqual(Set(seen.captions), expected, "prepare sees exactly the training captions")
        XCTAssertEqual(seen.captions.count, seen.categories.count)
        XCTAssertTrue(zip(seen.captions, seen.categories).allSatisfy { $0.contains("a \($1) picture") }, "each caption comes with its photo's category")
        let metadata = try MiniModel(path: output).metadata
        XCTAssertEqual(metadata["train.category_negatives_alpha"], "0.25")
        XCTAssertEqual(metadata["train.category_negatives_per_caption"], "2")
    }

    func testNaNLossStopsTrainingAndKeepsTheLastGoodCheckpoint() throws {
        let gallery = try Self.makeGallery(perColour: 6)
        defer { try? FileManager.default.removeItem(at: gallery) }
        let output = gallery.appendingPathComponent("mini.safetensors").path
        var config = tinyConfig()
        config.nanAtStep = 5
        var caught: Error?
        do {
            _ = try MiniTrainer.train(config: config, galleryDir: gallery.path, extraDir: nil, output: output, textEncoder: Self.fakeText)
            XCTFail("training went on through a NaN loss")
        } catch { caught = error }
        guard case TrainingError.nonFiniteKeptCheckpoint(let step, let what, let path, let kept)? = caught as? TrainingError else {
            return XCTFail("\(String(describing: caught))")
        }
        XCTAssertEqual(step, 5)
        XCTAssertTrue(what.contains("loss"), what)
        XCTAssertEqual(kept, 4)
        XCTAssertTrue("\(caught!)".contains("NaN or infinite"), "\(caught!)")
        let checkpoint = try XCTUnwrap(path)
        var rng = TrainingRNG(seed: 1)
        let fresh = try MiniTower(architecture: Self.tiny, member: 0, rng: &rng)
        let info = try Checkpoint.load(from: checkpoint, into: try ParameterSet(fresh.parameters))
        XCTAssertEqual(info.step, 4)
        XCTAssertTrue(fresh.parameters.allSatisfy { p in p.value.array.allSatisfy(\.isFinite) })
        XCTAssertFalse(FileManager.default.fileExists(atPath: output), "no model is written from a failed run")
    }

    func testCheckpointOfAnotherArchitectureIsRefusedNamingTheTensor() throws {
        let gallery = try Self.makeGallery(perColour: 6)
        defer { try? FileManager.default.removeItem(at: gallery) }
        let output = gallery.appendingPathComponent("mini.safetensors").path
        var wider = Self.tiny
        wider.width = 24
        wider.mlpWidth = 48
        var rng = TrainingRNG(seed: 2)
        let other = try MiniTower(architecture: wider, member: 0, rng: &rng)
        try FileManager.default.createDirectory(atPath: output + ".work", withIntermediateDirectories: true)
        try Checkpoint.save(to: output + ".work/member-0.safetensors", parameters: try ParameterSet(other.parameters), step: 3)
        var config = tinyConfig()
        config.resume = true
        XCTAssertThrowsError(try MiniTrainer.train(config: config, galleryDir: gallery.path, extraDir: nil, output: output,
                                                   textEncoder: Self.fakeText)) { error in
            guard case TrainingError.architectureMismatch(let tensor, let expected, let found) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(tensor, "m0.patch.weight")
            XCTAssertEqual(expected, [16, 192])
            XCTAssertEqual(found, [24, 192])
            XCTAssertTrue("\(error)".contains("m0.patch.weight"))
        }
    }

    func testSplitIsSeededStratifiedAndDisjoint() {
        let photos = (0..<30).map { CaptionedPhoto(file: "p\($0)", captions: ["c"], category: $0 < 20 ? "animal" : ($0 < 29 ? "object" : "plant")) }
        let a = MiniTrainer.split(photos, fraction: 0.2, seed: 1), b = MiniTrainer.split(photos, fraction: 0.2, seed: 1)
        XCTAssertEqual(a.validation, b.validation)
        XCTAssertEqual(a.validation.filter { $0 < 20 }.count, 4)
        XCTAssertEqual(a.validation.filter { $0 >= 20 && $0 < 29 }.count, 2)
        XCTAssertFalse(a.validation.contains(29), "a one-photo category stays in training")
        XCTAssertEqual(Set(a.train).union(a.validation).count, 30)
        XCTAssertTrue(Set(a.train).isDisjoint(with: a.validation))
        XCTAssertNotEqual(MiniTrainer.split(photos, fraction: 0.2, seed: 2).validation, a.validation)
    }

    func testCutoutBackgroundMaskAndCaptionCleaning() throws {
        // A 20×20 grey (200) image with a dark 8×8 square in the middle, plus an interior grey hole.
        var px = [UInt8](repeating: 200, count: 20 * 20 * 3)
        for y in 6..<14 { for x in 6..<14 where !(x == 9 && y == 9) { for c in 0..<3 { px[(y * 20 + x) * 3 + c] = 40 } } }
        let mask = try XCTUnwrap(MiniSourceImage.backgroundMask(rgb: px, width: 20, height: 20))
        XCTAssertEqual(mask[0], 255)
        XCTAssertEqual(mask[7 * 20 + 7], 0)
        XCTAssertEqual(mask[9 * 20 + 9], 0, "grey inside the object is not background (not reachable from the border)")
        XCTAssertEqual(mask.filter { $0 > 0 }.count, 400 - 64)
        let photo = (0..<(20 * 20 * 3)).map { UInt8(truncatingIfNeeded: $0 &* 37) }
        XCTAssertNil(MiniSourceImage.backgroundMask(rgb: photo, width: 20, height: 20))

        XCTAssertEqual(MiniCaptionCleaner.clean("a brown frog seen from above, isolated on a plain grey background"), "a brown frog seen from above")
        XCTAssertEqual(MiniCaptionCleaner.clean("the red planet Mars on a plain grey background"), "the red planet Mars")
        XCTAssertEqual(MiniCaptionCleaner.clean("a photo of a cat."), "a photo of a cat.")
        XCTAssertTrue(MiniCaptionCleaner.mentionsSide("the palm of an open left hand"))
        XCTAssertFalse(MiniCaptionCleaner.mentionsSide("a bright orange flower"))
    }

    func testAugmentationReplacesTheGreyBackground() throws {
        var px = [UInt8](repeating: 200, count: 32 * 32 * 3)
        for y in 12..<20 { for x in 12..<20 { px[(y * 32 + x) * 3] = 250; px[(y * 32 + x) * 3 + 1] = 10; px[(y * 32 + x) * 3 + 2] = 10 } }
        let cutout = try MiniSourceImage(image: try RGBImage(width: 32, height: 32, pixels: px), side: 32, detectCutout: true)
        XCTAssertNotNil(cutout.background)
        var settings = MiniAugmentation()
        settings.backgroundReplacement = 1
        settings.brightness = 0; settings.contrast = 0; settings.saturation = 0
        settings.cropScale = 1...1; settings.cropAspect = 1...1
        var rng = TrainingRNG(seed: 3)
        var greyCorners = 0
        var out = [Float](repeating: 0, count: 3 * 16 * 16)
        for _ in 0..<20 {
            MiniAugmenter.render(cutout, size: 16, settings: settings, allowFlip: true, backgrounds: [], rng: &rng, into: &out)
            if abs(out[0] - 200 / 255) < 0.02 && abs(out[256] - 200 / 255) < 0.02 && abs(out[512] - 200 / 255) < 0.02 { greyCorners += 1 }
            XCTAssertGreaterThan(out[8 * 16 + 8], 0.8, "the object (red) stays")
        }
        XCTAssertLessThan(greyCorners, 3, "the grey background is replaced")
    }

    // MARK: - Gallery evaluation

    /// Embeds a photo by its file name (no pixels needed): `<colour>-k.jpg` → the colour's axis.
    final class AxisImages: ImageEmbedder, @unchecked Sendable {
        let name = "axis", dimension = 4
        let constant: Bool
        init(constant: Bool = false) { self.constant = constant }
        func embed(paths: [String]) throws -> Tensor {
            var t = Tensor(zeros: [paths.count, 4])
            for (i, p) in paths.enumerated() {
                if constant { for j in 0..<4 { t[flat: i * 4 + j] = 0.5 }; continue }
                let axis = ["red", "green", "blue", "yellow"].firstIndex { URL(fileURLWithPath: p).lastPathComponent.hasPrefix($0) }!
                t[flat: i * 4 + axis] = 1
            }
            return t
        }
        func embed(images: [RGBImage]) throws -> Tensor { Tensor(zeros: [images.count, 4]) }
    }

    final class AxisTexts: TextEmbedder, @unchecked Sendable {
        let name = "axis-text", dimension = 4
        func embed(texts: [String]) throws -> Tensor {
            var t = Tensor(zeros: [texts.count, 4])
            for (i, s) in texts.enumerated() {
                let axis = ["red", "green", "blue", "yellow"].firstIndex { s.contains($0) }!
                t[flat: i * 4 + axis] = 1
            }
            return t
        }
        func contextText(turns: [String]) -> String { turns.joined(separator: " ") }
    }

    func testGalleryEvaluationKnownAnswers() throws {
        let dir = try Fixtures.temporaryDirectory("mini-eval")
        defer { try? FileManager.default.removeItem(at: dir) }
        // One photo per colour, each with its own caption; red also has a shared caption with blue.
        let rows = ["{\"file\": \"photos/red-0.jpg\", \"captions\": [\"a red picture\", \"a red or blue picture\"]}",
                    "{\"file\": \"photos/green-0.jpg\", \"captions\": [\"a green picture\"]}",
                    "{\"file\": \"photos/blue-0.jpg\", \"captions\": [\"a blue picture\", \"a red or blue picture\"]}",
                    "{\"file\": \"photos/yellow-0.jpg\", \"captions\": [\"a yellow picture\"]}"]
        try rows.joined(separator: "\n").write(to: dir.appendingPathComponent("gallery.jsonl"), atomically: true, encoding: .utf8)
        let perfect = try GalleryEvaluation.evaluate(galleryDir: dir.path, imageEmbedder: AxisImages(), textEmbedder: AxisTexts())
        XCTAssertEqual(perfect.photos, 4)
        XCTAssertEqual(perfect.captions, 5, "the shared caption is one text")
        XCTAssertEqual(perfect.t2i.recallAt1, 1)
        XCTAssertEqual(perfect.i2t.recallAt1, 1)
        XCTAssertEqual(perfect.t2i.meanReciprocalRank, 1)
        // A constant image tower ties everything: pessimistic ranks are the worst possible.
        let constant = try GalleryEvaluation.evaluate(galleryDir: dir.path, imageEmbedder: AxisImages(constant: true), textEmbedder: AxisTexts())
        XCTAssertEqual(constant.t2i.recallAt1, 0)
        XCTAssertEqual(constant.i2t.recallAt1, 0)
        // t2i: 4 single-photo captions rank 4, the shared one ranks 3 → MRR (4·¼ + ⅓)/5.
        XCTAssertEqual(constant.t2i.meanReciprocalRank, (4 * 0.25 + 1.0 / 3) / 5, accuracy: 1e-12)
        // Subset and the report.
        let subset = try GalleryEvaluation.evaluate(galleryDir: dir.path, only: ["photos/green-0.jpg", "photos/blue-0.jpg"],
                                                    imageEmbedder: AxisImages(), textEmbedder: AxisTexts())
        XCTAssertEqual(subset.photos, 2)
        XCTAssertThrowsError(try GalleryEvaluation.evaluate(galleryDir: dir.path, only: ["nope"], imageEmbedder: AxisImages(), textEmbedder: AxisTexts()))
        let report = try GalleryEvaluation.report(galleryDir: dir.path, model: AxisImages(), floor: nil, textEmbedder: AxisTexts())
        let results = try XCTUnwrap(report["results"] as? [String: Any])
        let t2i = try XCTUnwrap((results["axis"] as? [String: Any])?["t2i"] as? [String: Any])
        XCTAssertEqual(t2i["r@1"] as? Double, 1)
        XCTAssertEqual(report["task"] as? String, "gallery")
        XCTAssertNotNil(report["chance"])
        XCTAssertTrue(GalleryEvaluation.table(report).contains("axis"))
    }
}
