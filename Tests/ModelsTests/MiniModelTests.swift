import Foundation
import Imaging
import Models
import Tensor
import TestSupport
import XCTest

/// dialclip-mini at inference: file round trips, refusal of foreign architectures, the
/// bundled weights, and the retrieval-rank arithmetic shared with the evaluation.
final class MiniModelTests: XCTestCase {
    static let tiny = MiniArchitecture(imageSize: 16, patchSize: 8, width: 16, layers: 1, heads: 2, mlpWidth: 32,
                                       embedDim: 8, histogramBins: 2, histogramScale: 2, members: 2)

    func photo(_ seed: UInt8, width: Int = 40, height: Int = 30) throws -> RGBImage {
        var p = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<p.count { p[i] = UInt8(truncatingIfNeeded: Int(seed) &* 31 &+ i &* 7 &+ (i / 97) &* 13) }
        return try RGBImage(width: width, height: height, pixels: p)
    }

    func testSaveLoadRoundTripReproducesEmbeddings() throws {
        let dir = try Fixtures.temporaryDirectory("mini-model")
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try MiniModel(randomWeights: Self.tiny, seed: 3)
        let images = [try photo(1), try photo(2), try photo(3, width: 20, height: 50)]
        let reference = try model.encode(images: images)
        XCTAssertEqual(reference.shape, [3, 8])

        let f32 = dir.appendingPathComponent("m32.safetensors").path
        try model.save(to: f32, precision: .f32, metadata: ["validation_files": "photos/a.jpg\nphotos/b.jpg"])
        let back = try MiniModel(path: f32)
        XCTAssertEqual(back.architecture, Self.tiny)
        XCTAssertEqual(back.validationFiles, ["photos/a.jpg", "photos/b.jpg"])
        for (name, t) in model.tensors { XCTAssertEqual(back.tensors[name]?.array, t.array, name) }
        XCTAssertEqual(try back.encode(images: images).array, reference.array)

        let f16 = dir.appendingPathComponent("m16.safetensors").path
        try model.save(to: f16)   // default: fp16 storage
        let half = try MiniModel(path: f16)
        let agreement = Agreement(ours: try half.encode(images: images).array, reference: reference.array)
        XCTAssertGreaterThan(agreement.cosine, 0.999, agreement.description)
        XCTAssertLessThan(try FileManager.default.attributesOfItem(atPath: f16)[.size] as! Int,
                          try FileManager.default.attributesOfItem(atPath: f32)[.size] as! Int * 6 / 10)
    }

    func testEmbeddingsAreUnitNormAndEnsembleIsNormalisedMeanOfMembers() throws {
        let model = try MiniModel(randomWeights: Self.tiny, seed: 5)
        let (px, hist) = try model.preprocessor.batch([try photo(4), try photo(9)])
        let members = try model.encodeMembers(pixels: px, histograms: hist)
        let ensemble = try model.encode(pixels: px, histograms: hist)
        for r in 0..<2 {
            var mean = [Float](repeating: 0, count: 8)
            for m in members {
                var n: Float = 0
                for i in 0..<8 { mean[i] += m[flat: r * 8 + i]; n += m[flat: r * 8 + i] * m[flat: r * 8 + i] }
                XCTAssertEqual(n, 1, accuracy: 1e-5)
            }
            let norm = mean.reduce(0) { $0 + $1 * $1 }.squareRoot()
            for i in 0..<8 { XCTAssertEqual(ensemble[flat: r * 8 + i], mean[i] / norm, accuracy: 1e-5) }
        }
    }

    func testColourHistogramCountsBinsAsSquareRootFractions() {
        // 4 pixels: 3 pure red, 1 black, bins 2 → red bin (1,0,0) = index 4.
        let plane: [Float] = [1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        var out = [Float](repeating: -1, count: 8)
        plane.withUnsafeBufferPointer { p in
            MiniPreprocessor.colourHistogram(rgb01: p.baseAddress!, pixelCount: 4, bins: 2, scale: 2, into: &out)
        }
        XCTAssertEqual(out[4], 2 * Float(0.75).squareRoot(), accuracy: 1e-6)
        XCTAssertEqual(out[0], 2 * Float(0.25).squareRoot(), accuracy: 1e-6)
        XCTAssertEqual(out.filter { $0 != 0 }.count, 2)
    }

    func testForeignArchitectureIsRefusedNamingTheTensor() throws {
        let dir = try Fixtures.temporaryDirectory("mini-arch")
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try MiniModel(randomWeights: Self.tiny)
        // Tensors of a width-16 model under metadata claiming width 24.
        var wider = Self.tiny
        wider.width = 24
        var meta = wider.metadata
        meta["format"] = MiniModel.fileFormat
        let path = dir.appendingPathComponent("wrong.safetensors").path
        let list = Self.tiny.allTensorShapes.map { (name: $0.name, tensor: model.tensors[$0.name]!) }
        try SafeTensorsWriter.write(list, metadata: meta, to: path)
        XCTAssertThrowsError(try MiniModel(path: path)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("m0.blocks.0.attn.qkv.weight") || text.contains("m0.patch.weight") || text.contains("m0."), text)
            guard case ModelError.wrongShape(let name, _, _) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(model.tensors[name] != nil, "names a real tensor: \(name)")
        }
        // A tensor the architecture does not have (an extra layer).
        var deeper = Self.tiny
        deeper.layers = 2
        let deepModel = try MiniModel(randomWeights: deeper)
        let extraPath = dir.appendingPathComponent("extra.safetensors").path
        var shallowMeta = Self.tiny.metadata
        shallowMeta["format"] = MiniModel.fileFormat
        try SafeTensorsWriter.write(deeper.allTensorShapes.map { ($0.name, deepModel.tensors[$0.name]!) }, metadata: shallowMeta, to: extraPath)
        XCTAssertThrowsError(try MiniModel(path: extraPath)) { error in
            XCTAssertTrue("\(error)".contains("m0.blocks.1."), "\(error)")
        }
        // A missing tensor.
        let missingPath = dir.appendingPathComponent("missing.safetensors").path
        try SafeTensorsWriter.write(list.filter { $0.name != "m1.head.bias" }, metadata: meta.merging(Self.tiny.metadata) { _, b in b }, to: missingPath)
        XCTAssertThrowsError(try MiniModel(path: missingPath)) { error in
            XCTAssertTrue("\(error)".contains("m1.head.bias"), "\(error)")
        }
        // Not a dialclip-mini file at all.
        let plain = dir.appendingPathComponent("plain.safetensors").path
        try SafeTensorsWriter.write(list, metadata: [:], to: plain)
        XCTAssertThrowsError(try MiniModel(path: plain)) { error in
            XCTAssertTrue("\(error)".contains("not dialclip-mini weights"), "\(error)")
        }
    }

    func testBundledWeightsEmbedAGalleryPhotoAsAFiniteUnitVector() throws {
        let path = Fixtures.assets.appendingPathComponent(MiniModel.bundledRelativePath).path
        let model = try MiniModel(path: path)
        XCTAssertEqual(model.architecture.embedDim, 384, "lives in MiniLM's space")
        XCTAssertGreaterThanOrEqual(model.architecture.members, 1)
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        XCTAssertLessThan(size, 16 << 20, "a few MB")
        let gallery = Fixtures.assets.appendingPathComponent("gallery")
        let listed = Set(try CaptionedPhotoList.read(path: gallery.appendingPathComponent("gallery.jsonl").path).map(\.file))
        XCTAssertFalse(model.validationFiles.isEmpty)
        XCTAssertTrue(Set(model.validationFiles).isSubset(of: listed), "the held-out photos are gallery photos")
        XCTAssertTrue(Set(model.validationFiles).isDisjoint(with: Set(model.trainingGalleryFiles)), "held-out photos were not trained on")
        let image = try ImageDecoder.decode(path: gallery.appendingPathComponent(model.validationFiles[0]).path)
        let e = try model.encode(images: [image])
        XCTAssertEqual(e.shape, [1, 384])
        XCTAssertTrue(e.array.allSatisfy(\.isFinite))
        XCTAssertEqual(e.array.reduce(0) { $0 + $1 * $1 }, 1, accuracy: 1e-4)
    }

    func testRanksArePessimisticOnTiesAndUseTheBestPositive() {
        XCTAssertEqual(CaptionRetrievalSet.rank(scores: [0.5, 0.9, 0.1], positives: [0]), 2)
        XCTAssertEqual(CaptionRetrievalSet.rank(scores: [0.5, 0.9, 0.1], positives: [0, 1]), 1)
        XCTAssertEqual(CaptionRetrievalSet.rank(scores: [0.3, 0.3, 0.3], positives: [1]), 3, "ties count against the target")
        XCTAssertEqual(CaptionRetrievalSet.rank(scores: [.nan, 0.2, 0.1], positives: [2]), 3, "NaN counts against the target")
        XCTAssertEqual(CaptionRetrievalSet.rank(scores: [.nan, 0.2], positives: [0]), 2)
    }

    func testCaptionSetDeduplicatesTextsAndRanksBothDirections() throws {
        let photos = [CaptionedPhoto(file: "a", captions: ["red", "a cat"]),
                      CaptionedPhoto(file: "b", captions: ["blue"]),
                      CaptionedPhoto(file: "c", captions: ["a cat"])]
        let set = CaptionRetrievalSet(photos: photos)
        XCTAssertEqual(set.texts, ["red", "a cat", "blue"])
        XCTAssertEqual(set.photosOfText, [[0], [0, 2], [1]])
        // Photos on axes: a = e0, b = e1, c = e2; texts: red → e0, a cat → e2, blue → e0 (wrong).
        let images = try Tensor([1, 0, 0, 0, 1, 0, 0, 0, 1], shape: [3, 3])
        let texts = try Tensor([1, 0, 0, 0, 0, 1, 1, 0, 0], shape: [3, 3])
        let r = try set.ranks(images: images, textEmbeddings: texts)
        // t2i: red → a (rank 1); a cat → c is a hit (rank 1); blue → b scores 0, a scores 1 → rank 3 (tie with c at 0).
        XCTAssertEqual(r.t2i, [1, 1, 3])
        // i2t: a → red 1, a cat 0, blue 1 → best positive 1 ties blue → rank 2; b → all 0 → rank 3; c → a cat 1 → rank 1.
        XCTAssertEqual(r.i2t, [2, 3, 1])
    }

    func testChanceLevelsMatchExhaustiveEnumeration() {
        // n = 5 candidates, p = 2 positives: enumerate all placements of the positives.
        let n = 5, p = 2
        var firstRanks: [Int] = []
        for a in 0..<n { for _ in (a + 1)..<n { firstRanks.append(a + 1) } }
        let r1 = Double(firstRanks.filter { $0 <= 1 }.count) / Double(firstRanks.count)
        let r5 = Double(firstRanks.filter { $0 <= 5 }.count) / Double(firstRanks.count)
        let mrr = firstRanks.reduce(0.0) { $0 + 1 / Double($1) } / Double(firstRanks.count)
        let c = CaptionRetrievalSet.chance(candidates: n, positiveCounts: [p], ks: [1, 5, 10])
        XCTAssertEqual(c.recall[0], r1, accuracy: 1e-12)
        XCTAssertEqual(c.recall[1], r5, accuracy: 1e-12)
        XCTAssertEqual(c.recall[2], 1, accuracy: 1e-12)
        XCTAssertEqual(c.mrr, mrr, accuracy: 1e-12)
        let single = CaptionRetrievalSet.chance(candidates: 50, positiveCounts: [1], ks: [1, 5, 10])
        for (x, k) in [1, 5, 10].enumerated() { XCTAssertEqual(single.recall[x], Double(k) / 50, accuracy: 1e-12, "one positive: k/n") }
    }

    func testGalleryFileErrorsNameTheLine() throws {
        let dir = try Fixtures.temporaryDirectory("mini-jsonl")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("gallery.jsonl").path
        try "{\"file\": \"photos/a.jpg\", \"captions\": [\"x\"]}\n{\"file\": \"../etc/passwd\", \"captions\": [\"y\"]}\n".write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try CaptionedPhotoList.read(path: path)) { XCTAssertTrue("\($0)".contains("line 2"), "\($0)") }
        try "\n".write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try CaptionedPhotoList.read(path: path)) { XCTAssertTrue("\($0)".contains("no photo"), "\($0)") }
    }
}
