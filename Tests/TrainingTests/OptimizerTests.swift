import Foundation
import Tensor
@testable import Training
import XCTest

func setGrad(_ p: Parameter, _ values: [Float]) {
    let g = p.gradPointer!
    for (i, v) in values.enumerated() { g[i] = v }
}

final class OptimizerTests: XCTestCase {
    /// AdamW against the update written out by hand: Adam's first step moves every weight by
    /// exactly lr·sign(g) (m̂/√v̂ = ±1), after decoupled decay p·(1 − lr·λ) on matrices only.
    func testAdamWMatchesHandComputation() throws {
        let w = Parameter(name: "w", value: try Tensor([1, -2], shape: [1, 2]))   // matrix: decayed
        let b = Parameter(name: "b", value: try Tensor([0.5], shape: [1]))        // vector: not decayed
        let set = try ParameterSet([w, b])
        let opt = AdamW(parameters: set, config: AdamW.Config(beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01))
        set.zeroGrads()
        setGrad(w, [0.5, 0.1]); setGrad(b, [-1])
        opt.update(learningRate: 0.1)
        // w0: 1·(1 − 0.001) − 0.1 = 0.899 ; w1: −2·0.999 − 0.1 = −2.098 ; b: 0.5 + 0.1 = 0.6
        XCTAssertEqual(w.value.array[0], 0.899, accuracy: 1e-6)
        XCTAssertEqual(w.value.array[1], -2.098, accuracy: 1e-6)
        XCTAssertEqual(b.value.array[0], 0.6, accuracy: 1e-6)

        // Second step, reference in Double from the published algorithm.
        set.zeroGrads()
        setGrad(w, [-0.25, 0.3]); setGrad(b, [2])
        opt.update(learningRate: 0.05)
        func reference(_ p0: Double, _ g1: Double, _ g2: Double, decay: Bool) -> Double {
            let b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = decay ? 0.01 : 0
            var p = p0, m = 0.0, v = 0.0
            for (t, (g, lr)) in [(g1, 0.1), (g2, 0.05)].enumerated() {
                p *= 1 - lr * wd
                m = b1 * m + (1 - b1) * g
                v = b2 * v + (1 - b2) * g * g
                let mh = m / (1 - pow(b1, Double(t + 1))), vh = v / (1 - pow(b2, Double(t + 1)))
                p -= lr * mh / (vh.squareRoot() + eps)
            }
            return p
        }
        XCTAssertEqual(Double(w.value.array[0]), reference(1, 0.5, -0.25, decay: true), accuracy: 1e-6)
        XCTAssertEqual(Double(w.value.array[1]), reference(-2, 0.1, 0.3, decay: true), accuracy: 1e-6)
        XCTAssertEqual(Double(b.value.array[0]), reference(0.5, -1, 2, decay: false), accuracy: 1e-6)
        XCTAssertEqual(opt.step, 2)
    }

    func testFrozenParametersAreNotUpdated() throws {
        let w = Parameter(name: "w", value: try Tensor([1, 2], shape: [2]), trainable: false)
        let opt = AdamW(parameters: try ParameterSet([w]))
        opt.update(learningRate: 1)
        XCTAssertEqual(w.value.array, [1, 2])
        XCTAssertNil(opt.firstMoments["w"])
    }

    func testWarmupCosineSchedule() {
        let s = LearningRateSchedule(base: 1, warmupSteps: 4, totalSteps: 12, floor: 0.1)
        XCTAssertEqual(s.learningRate(at: 0), 0.25, accuracy: 1e-7)
        XCTAssertEqual(s.learningRate(at: 1), 0.5, accuracy: 1e-7)
        XCTAssertEqual(s.learningRate(at: 3), 1, accuracy: 1e-7)
        XCTAssertEqual(s.learningRate(at: 4), 1, accuracy: 1e-7)              // cosine starts at base
        XCTAssertEqual(s.learningRate(at: 8), 0.55, accuracy: 1e-6)           // half way: floor + (base−floor)/2
        XCTAssertEqual(s.learningRate(at: 12), 0.1, accuracy: 1e-7)           // ends at the floor
        XCTAssertEqual(s.learningRate(at: 50), 0.1, accuracy: 1e-7)
        let values = (4...12).map { s.learningRate(at: $0) }
        XCTAssertTrue(zip(values, values.dropFirst()).allSatisfy { $0 >= $1 }, "cosine part must not increase")
    }

    func testGlobalNormClipping() throws {
        let a = Parameter(name: "a", value: Tensor(zeros: [1])), b = Parameter(name: "b", value: Tensor(zeros: [1]))
        let frozen = Parameter(name: "f", value: Tensor(zeros: [1]), trainable: false)
        let set = try ParameterSet([a, b, frozen])
        setGrad(a, [3]); setGrad(b, [4])
        XCTAssertEqual(Gradients.globalNorm(set), 5, accuracy: 1e-6)
        let before = Gradients.clip(set, maxNorm: 1)
        XCTAssertEqual(before, 5, accuracy: 1e-6)
        XCTAssertEqual(a.grad.array[0], 0.6, accuracy: 1e-6)
        XCTAssertEqual(b.grad.array[0], 0.8, accuracy: 1e-6)
        XCTAssertEqual(Gradients.globalNorm(set), 1, accuracy: 1e-5)
        // Below the threshold nothing changes.
        Gradients.clip(set, maxNorm: 10)
        XCTAssertEqual(a.grad.array[0], 0.6, accuracy: 1e-6)
        // Non-finite gradients are named.
        setGrad(b, [.nan])
        XCTAssertEqual(Gradients.firstNonFinite(set), "b")
        XCTAssertThrowsError(try Gradients.checkFinite(set, step: 7)) { e in
            XCTAssertEqual(e as? TrainingError, .nonFinite(step: 7, what: "gradient of 'b'"))
        }
    }

    func testDuplicateParameterNamesRefused() {
        let a = Parameter(name: "x", value: Tensor(zeros: [1])), b = Parameter(name: "x", value: Tensor(zeros: [2]))
        XCTAssertThrowsError(try ParameterSet([a, b])) { XCTAssertEqual($0 as? TrainingError, .duplicateParameter("x")) }
    }

    func testRNGIsDeterministicAndRestorable() {
        var a = TrainingRNG(seed: 5)
        _ = a.normal(); _ = a.permutation(10)
        var b = TrainingRNG(state: a.state)
        XCTAssertEqual((0..<5).map { _ in a.normal() }, (0..<5).map { _ in b.normal() })
        var c = TrainingRNG(seed: 5)
        let p = c.permutation(50)
        XCTAssertEqual(p.sorted(), Array(0..<50))
        XCTAssertNotEqual(p, Array(0..<50))
        // Gaussian moments over 20k samples: mean ≈ 0, variance ≈ 1.
        var g = TrainingRNG(seed: 9)
        let xs = (0..<20_000).map { _ in Double(g.normal()) }
        let mean = xs.reduce(0, +) / Double(xs.count)
        let variance = xs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(xs.count)
        XCTAssertEqual(mean, 0, accuracy: 0.03)
        XCTAssertEqual(variance, 1, accuracy: 0.05)
    }
}
