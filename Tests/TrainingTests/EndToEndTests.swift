import Foundation
import Models
import Tensor
@testable import Training
import XCTest

/// A 1-layer transformer learns a toy retrieval task with InfoNCE through the real loop:
/// 16 random token sequences must each retrieve their own item embedding.
final class EndToEndTests: XCTestCase {
    func testOneLayerTransformerLearnsToyRetrieval() throws {
        let items = 16, seq = 4, vocab = 12, width = 16, dim = 8
        var rng = TrainingRNG(seed: 2024)
        let tokens = (0..<(items * seq)).map { _ in Int(rng.next() % UInt64(vocab)) }
        let emb = TokenEmbedding(name: "tok", vocabulary: vocab, width: width, std: 0.5, rng: &rng)
        let pos = PositionEmbedding(name: "pos", positions: seq, width: width, std: 0.1, rng: &rng)
        let tf = try Transformer(name: "tf", layers: 1, width: width, heads: 2, mlpWidth: 32, activation: .quickGELU, rng: &rng)
        let norm = LayerNorm(name: "norm", dim: width)
        let proj = Linear(name: "proj", inFeatures: width, outFeatures: dim, bias: false, rng: &rng)
        let table = Parameter(name: "items", value: rng.normalTensor([items, dim], std: 1), weightDecay: false)
        let scale = LogitScale(initial: logf(10))
        let set = try ParameterSet(emb.parameters + pos.parameters + tf.parameters + norm.parameters + proj.parameters
                                   + [table] + scale.parameters)

        func encode(_ batch: [Int], train: Bool) throws -> (loss: Float, accuracy: Float) {
            let b = batch.count
            let ids = batch.flatMap { tokens[($0 * seq)..<($0 * seq + seq)] }
            let layout = AttentionLayout(batch: b, seq: seq, causal: true)
            let tfc = tf.makeCache(), nc = LayerNorm.Cache(), pc = Linear.Cache()
            let x = try pos.forward(try emb.forward(ids), batch: b, seq: seq)
            let h = try norm.forward(try tf.forward(x, layout: layout, cache: tfc), cache: nc)
            let pooled = try MeanPooling.forward(h, batch: b, seq: seq)
            let (qa, na) = try L2Normalize.forward(try proj.forward(pooled, cache: pc))
            var rows = Tensor(zeros: [b, dim])
            for (r, i) in batch.enumerated() { (rows.mutablePointer + r * dim).update(from: table.value.pointer + i * dim, count: dim) }
            let (kb, nb) = try L2Normalize.forward(rows)
            let res = try scale.loss(a: qa, b: kb)
            var correct = 0
            for i in 0..<b {
                let row = (0..<b).map { res.logits[flat: i * b + $0] }
                if row.firstIndex(of: row.max()!) == i { correct += 1 }
            }
            if train {
                let dq = try L2Normalize.backward(res.gradA, y: qa, norms: na)
                let dpool = try proj.backward(dq, cache: pc)
                let dh = try MeanPooling.backward(dpool, batch: b, seq: seq)
                let dx = try tf.backward(try norm.backward(dh, cache: nc), cache: tfc)
                try emb.backward(try pos.backward(dx, batch: b, seq: seq), ids: ids)
                let drows = try L2Normalize.backward(res.gradB, y: kb, norms: nb)
                let g = table.gradPointer!
                for (r, i) in batch.enumerated() { Ops.addInPlace(g + i * dim, drows.pointer + r * dim, count: dim) }
            }
            return (res.loss, Float(correct) / Float(b))
        }

        let before = try encode(Array(0..<items), train: false)
        let config = TrainingConfig(epochs: 60, batchSize: 8, learningRate: 1e-2, minLearningRate: 1e-3, warmupSteps: 5,
                                    adam: AdamW.Config(weightDecay: 0.01), gradientClip: 1, seed: 7)
        let loop = try TrainingLoop(parameters: set, exampleCount: items, config: config)
        let started = Date()
        let summary = try loop.run { batch, _ in try encode(batch, train: true).loss }
        let seconds = Date().timeIntervalSince(started)
        let after = try encode(Array(0..<items), train: false)
        print("toy retrieval: \(summary.losses.count) steps in \(String(format: "%.3f", seconds)) s; full-set loss \(before.loss) → \(after.loss), accuracy \(before.accuracy) → \(after.accuracy)")
        let early = summary.losses.prefix(5).reduce(0, +) / 5, late = summary.losses.suffix(5).reduce(0, +) / 5
        XCTAssertLessThan(late, 0.3 * early, "loss must drop substantially: \(early) → \(late)")
        XCTAssertLessThan(after.loss, 0.3 * before.loss)
        XCTAssertGreaterThanOrEqual(after.accuracy, 0.9)
        XCTAssertNotEqual(scale.value, logf(10), "the learnable temperature must move")
    }
}
