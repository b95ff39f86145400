import DialCLIP
import Foundation
import Models
import Tensor
import TestSupport
import Training
import XCTest

final class DialCLIPModelTests: XCTestCase {
    static let bertFolder: String = { (try? TinyBackbone.bertFolder()) ?? "" }()

    func tinyTower() throws -> TextTower { try TextTower(miniLMFolder: Self.bertFolder) }

    func clipTower() throws -> TextTower {
        let model = try CLIPModel(path: try Fixtures.sharedPath("model/tiny-clip-hf"))
        return try TextTower(clip: model, vocabularyGzipPath: Fixtures.assets.appendingPathComponent("clip/bpe_simple_vocab_16e6.txt.gz").path)
    }

    func contexts(_ tower: TextTower, maxTokens: Int = 16) throws -> [PreparedContext] {
        let enc = ContextEncoder(tower: tower, maxContextTokens: maxTokens)
        let d = tower.embedDim
        var rng = TrainingRNG(seed: 9)
        let image = (0..<d).map { _ in rng.normal() }
        let dialogues: [DialogueContext] = [
            DialogueContext(turns: [DialogueTurn(speaker: "A", text: "hi how are you"), DialogueTurn(speaker: "B", text: "good look at my new dog")]),
            DialogueContext(turns: [DialogueTurn(speaker: "A", text: "red car at the beach !")], imageEmbeddings: [image]),
            DialogueContext(turns: []),
            DialogueContext(turns: [DialogueTurn(speaker: "A", text: "sunset"), DialogueTurn(speaker: "B", text: "pizza party lol"),
                                    DialogueTurn(speaker: "A", text: "wow nice photo of the cat and the dog at the beach at sunset")]),
        ]
        return try dialogues.map { try enc.prepare($0) }
    }

    /// Randomises the zero-initialised parts (expert B, routing) so every path carries gradient.
    func randomise(_ model: DialCLIPModel, seed: UInt64) {
        var rng = TrainingRNG(seed: seed)
        for p in model.parameters.parameters where p.name.hasSuffix(".b.weight") || p.name.hasPrefix("routing") {
            p.value = rng.normalTensor(p.shape, std: 0.3)
        }
    }

    /// Central finite differences (h = 3e-3, fp32) against the hand-written backward of the
    /// whole prompted query path: generator → prompt insertion (input + deep layers) →
    /// frozen layers → pooling (→ CLIP final LN + projection) → experts → L2 → InfoNCE,
    /// plus the routing BCE and the logit scale.
    func gradientCheck(_ tower: TextTower, config: DialCLIPConfig) throws {
        let model = try DialCLIPModel(tower: tower, config: config, seed: 5)
        randomise(model, seed: 6)
        let prepared = try contexts(tower, maxTokens: config.maxContextTokens)
        let experts: [DialCLIPExpert] = [.image, .reply, .image, .reply]
        var rng = TrainingRNG(seed: 11)
        var cands = rng.normalTensor([4, tower.embedDim], std: 1)
        Ops.l2Normalize(cands.mutablePointer, rows: 4, dim: tower.embedDim)
        let routeDim = prepared[0].routingFeatures.count
        let routeFeatures = try Tensor(prepared.flatMap(\.routingFeatures), shape: [4, routeDim])
        let labels = [true, false, false, true]

        func loss(grad: Bool) throws -> Float {
            let cache = DialCLIPModel.Cache()
            let q = try model.forward(prepared, experts: experts, cache: grad ? cache : nil)
            let r = try model.logitScale.loss(a: q, b: cands)
            if grad { try model.backward(r.gradA, cache: cache) }
            return r.loss + (try model.routingLoss(features: routeFeatures, labels: labels))
        }
        model.parameters.zeroGrads()
        _ = try loss(grad: true)
        let analytic = model.parameters.parameters.map { Array(UnsafeBufferPointer(start: $0.grad.pointer, count: $0.count)) }
        let h: Float = 3e-3
        for (pi, p) in model.parameters.parameters.enumerated() {
            var worst: Float = 0, scale: Float = 0
            let n = p.count
            let picks = n <= 24 ? Array(0..<n) : (0..<24).map { ($0 * 7919 + 13) % n }
            for i in picks {
                let old = p.value[flat: i]
                p.value.mutablePointer[i] = old + h
                let up = try loss(grad: false)
                p.value.mutablePointer[i] = old - h
                let down = try loss(grad: false)
                p.value.mutablePointer[i] = old
                let fd = (up - down) / (2 * h)
                worst = max(worst, abs(fd - analytic[pi][i])); scale = max(scale, abs(fd))
            }
            XCTAssertGreaterThan(scale, 1e-5, "\(p.name): no gradient reaches it")
            XCTAssertLessThanOrEqual(worst, 0.02 * scale + 2e-4, "\(p.name): max |analytic − finite difference| \(worst), max |fd| \(scale)")
        }
    }

    func testGradientCheckPromptedMiniLMDeep() throws {
        try gradientCheck(try tinyTower(), config: DialCLIPConfig(contextPrompts: 2, domainPrompts: 2, promptedLayers: 2,
                                                                 generatorHidden: 3, expertRank: 2, maxContextTokens: 12))
    }

    func testGradientCheckPromptedMiniLMShallowSingleExpert() throws {
        try gradientCheck(try tinyTower(), config: DialCLIPConfig(contextPrompts: 3, domainPrompts: 1, promptedLayers: 1,
                                                                 generatorHidden: 2, expertRank: 2, singleExpert: true, maxContextTokens: 10))
    }

    func testGradientCheckPromptedCLIPTextTower() throws {
        try gradientCheck(try clipTower(), config: DialCLIPConfig(contextPrompts: 2, domainPrompts: 2, promptedLayers: 2,
                                                                 generatorHidden: 2, expertRank: 2, maxContextTokens: 12))
    }

    /// With no prompts and identity experts the hand-written training path must give the
    /// frozen model's own embeddings (Models forward), for both towers.
    func testUnpromptedPathMatchesFrozenEncoder() throws {
        for tower in [try tinyTower(), try clipTower()] {
            let model = try DialCLIPModel(tower: tower, config: DialCLIPConfig(contextPrompts: 0, domainPrompts: 0, promptedLayers: 1, maxContextTokens: 16))
            let prepared = try contexts(tower)
            let ours = try model.forward(prepared, experts: Array(repeating: .reply, count: prepared.count))
            let reference = try tower.encode(ids: prepared.map(\.ids))
            let a = Agreement(ours: Array(UnsafeBufferPointer(start: ours.pointer, count: ours.count)),
                              reference: Array(UnsafeBufferPointer(start: reference.pointer, count: reference.count)))
            XCTAssertTrue(a.holds(), "\(tower.kind): \(a)")
        }
    }

    /// ViT-B/32 CLIP (text width 512, embedding 512, 151,277,313 parameters): the default
    /// DialCLIP shape tunes 48,147 = 1025·8+8 + 8·2048+2048 (generator) + 6·4·512 (domain)
    /// + 2·2·512·4 (experts) + 1026 (routing) + 1 (logit scale) parameters, 0.032% ≤ 0.05%.
    func testParameterCountForViTB32() throws {
        let c = DialCLIPConfig()
        let count = c.trainableParameterCount(width: 512, embedDim: 512)
        XCTAssertEqual(count, 1025 * 8 + 8 + 8 * 2048 + 2048 + 6 * 4 * 512 + 2 * 2 * 512 * 4 + 1026 + 1)
        XCTAssertEqual(count, 48_147)
        XCTAssertLessThanOrEqual(count, 75_000)
        let vit = DialCLIPParameterBudget.clipParameterCount(.vitB32)
        XCTAssertEqual(vit, 151_277_313)   // sum(p.numel()) of OpenAI ViT-B/32
        XCTAssertLessThanOrEqual(Double(count) / Double(vit), 0.0005)
        // The formulas agree with real models: the arithmetic CLIP count with the loaded tiny
        // CLIP, the DialCLIP count with the parameters actually built on both towers.
        let tinyCLIP = try CLIPModel(path: try Fixtures.sharedPath("model/tiny-clip-hf"))
        XCTAssertEqual(DialCLIPParameterBudget.clipParameterCount(tinyCLIP.config), tinyCLIP.parameterCount)
        for tower in [try tinyTower(), try clipTower()] {
            for cfg in [DialCLIPConfig(promptedLayers: 2), DialCLIPConfig(contextPrompts: 0, promptedLayers: 1, singleExpert: true),
                        DialCLIPConfig(domainPrompts: 0, promptedLayers: 2, expertRank: 3)] {
                let m = try DialCLIPModel(tower: tower, config: cfg)
                XCTAssertEqual(m.trainableParameterCount, cfg.trainableParameterCount(width: tower.width, embedDim: tower.embedDim))
            }
        }
    }
}
