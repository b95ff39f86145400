import Foundation
import Models
import Tensor
import TestSupport
@testable import Training
import XCTest

/// A tiny 2-layer MLP regression whose step uses the loop's generator for input noise
/// (so resuming must restore the generator to continue identically).
final class ToyRegression {
    let lin1: Linear, lin2: Linear
    let act = ActivationLayer(.quickGELU)
    let set: ParameterSet
    let inputs: Tensor, targets: Tensor
    var poisonAtCall: Int?
    var nanLossAtCall: Int?
    var calls = 0
    var onPoison: (() -> Void)?

    init(hidden: Int = 8, initSeed: UInt64, extra: Bool = false) throws {
        var rng = TrainingRNG(seed: initSeed)
        lin1 = Linear(name: "lin1", inFeatures: 4, outFeatures: hidden, rng: &rng)
        lin2 = Linear(name: "lin2", inFeatures: hidden, outFeatures: 2, rng: &rng)
        var ps = lin1.parameters + lin2.parameters
        if extra { ps.append(Parameter(name: "extra", value: Tensor(zeros: [3]))) }
        set = try ParameterSet(ps)
        var data = TrainingRNG(seed: 1234)
        let data0 = data.uniformTensor([16, 4], bound: 1)
        inputs = data0
        var t = Tensor(zeros: [16, 2])
        for i in 0..<16 {
            let x = (0..<4).map { k in data0[flat: i * 4 + k] }
            t[flat: i * 2] = x[0] * x[1] + 0.5 * x[2]
            t[flat: i * 2 + 1] = sinf(x[3])
        }
        targets = t
    }

    func step(_ batch: [Int], _ rng: inout TrainingRNG) throws -> Float {
        defer { calls += 1 }
        var x = Tensor(zeros: [batch.count, 4])
        for (r, i) in batch.enumerated() { for k in 0..<4 { x[flat: r * 4 + k] = inputs[flat: i * 4 + k] + 0.01 * rng.normal() } }
        let c1 = Linear.Cache(), ca = ActivationLayer.Cache(), c2 = Linear.Cache()
        let y = try lin2.forward(act.forward(try lin1.forward(x, cache: c1), cache: ca), cache: c2)
        var dy = Tensor(zeros: y.shape)
        var loss: Float = 0
        for (r, i) in batch.enumerated() { for k in 0..<2 {
            let d = y[flat: r * 2 + k] - targets[flat: i * 2 + k]
            loss += d * d; dy[flat: r * 2 + k] = 2 * d / Float(y.count)
        } }
        _ = try lin1.backward(try act.backward(try lin2.backward(dy, cache: c2), cache: ca), cache: c1)
        if calls == poisonAtCall { onPoison?(); setGrad(lin2.weight, [.infinity]) }
        if calls == nanLossAtCall { onPoison?(); return .nan }
        return loss / Float(y.count)
    }
}

final class TrainingLoopTests: XCTestCase {
    func config(_ path: String?, every: Int = 0) -> TrainingConfig {
        TrainingConfig(epochs: 3, batchSize: 4, learningRate: 0.02, minLearningRate: 0.002, warmupSteps: 2,
                       gradientClip: 1, seed: 77, checkpointPath: path, checkpointEvery: every,
                       checkpointMetadata: ["arch": "toy-mlp-8"])
    }

    func testResumeContinuesBitIdentically() throws {
        let dir = try Fixtures.temporaryDirectory("training-resume")
        defer { try? FileManager.default.removeItem(at: dir) }
        let ckpt = dir.appendingPathComponent("ckpt.safetensors").path

        let full = try ToyRegression(initSeed: 1)
        let loopA = try TrainingLoop(parameters: full.set, exampleCount: 16, config: config(nil))
        let a = try loopA.run(step: full.step)
        XCTAssertEqual(a.losses.count, 12)

        let first = try ToyRegression(initSeed: 1)
        let loopB = try TrainingLoop(parameters: first.set, exampleCount: 16, config: config(ckpt))
        try loopB.run(maxSteps: 5, step: first.step)
        XCTAssertEqual(loopB.lastCheckpoint?.step, 5)

        let resumed = try ToyRegression(initSeed: 999)       // different init: everything must come from the file
        let loopC = try TrainingLoop(parameters: resumed.set, exampleCount: 16, config: config(ckpt))
        try loopC.resume(from: ckpt)
        XCTAssertEqual(loopC.step, 5)
        let c = try loopC.run(step: resumed.step)
        XCTAssertEqual(c.losses, Array(a.losses[5...]))
        for (p, q) in zip(full.set.parameters, resumed.set.parameters) {
            XCTAssertEqual(p.value.array, q.value.array, "parameter \(p.name) differs after resume")
        }
        XCTAssertEqual(loopC.rng.state, loopA.rng.state)
        // Loss went down over the run (sanity that training does something).
        XCTAssertLessThan(a.losses.suffix(3).reduce(0, +), a.losses.prefix(3).reduce(0, +))
    }

    func testCheckpointRoundTripAndMetadata() throws {
        let dir = try Fixtures.temporaryDirectory("training-ckpt")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("c.safetensors").path
        let m = try ToyRegression(initSeed: 3)
        let opt = AdamW(parameters: m.set)
        setGrad(m.lin1.weight, [Float](repeating: 0.1, count: 32)); opt.update(learningRate: 0.01)
        try Checkpoint.save(to: path, parameters: m.set, optimizer: opt, step: 42, rngState: 123456789012345, metadata: ["arch": "x"])
        let other = try ToyRegression(initSeed: 4)
        let opt2 = AdamW(parameters: other.set)
        let info = try Checkpoint.load(from: path, into: other.set, optimizer: opt2)
        XCTAssertEqual(info, CheckpointInfo(step: 42, rngState: 123456789012345, metadata: ["arch": "x"]))
        for (p, q) in zip(m.set.parameters, other.set.parameters) { XCTAssertEqual(p.value.array, q.value.array) }
        XCTAssertEqual(opt2.step, 1)
        XCTAssertEqual(opt2.firstMoments["lin1.weight"]?.array, opt.firstMoments["lin1.weight"]?.array)
        XCTAssertEqual(opt2.secondMoments["lin2.bias"]?.array, opt.secondMoments["lin2.bias"]?.array)
        // Only trainable parameters are saved: a frozen one is not in the file.
        m.lin2.setTrainable(false)
        try Checkpoint.save(to: path, parameters: m.set, step: 1)
        XCTAssertEqual(try SafeTensorsFile(path: path).names, ["lin1.bias", "lin1.weight"])
    }

    func testArchitectureMismatchNamesTheTensor() throws {
        let dir = try Fixtures.temporaryDirectory("training-arch")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("c.safetensors").path
        let eight = try ToyRegression(hidden: 8, initSeed: 5)
        try Checkpoint.save(to: path, parameters: eight.set, step: 3)

        let six = try ToyRegression(hidden: 6, initSeed: 6)
        let before = six.set.parameters.map(\.value.array)
        XCTAssertThrowsError(try Checkpoint.load(from: path, into: six.set)) { e in
            XCTAssertEqual(e as? TrainingError, .architectureMismatch(tensor: "lin1.weight", expected: [6, 4], found: [8, 4]))
            XCTAssertTrue("\(e)".contains("'lin1.weight'"), "\(e)")
        }
        XCTAssertEqual(six.set.parameters.map(\.value.array), before, "a refused checkpoint must not change the model")

        let more = try ToyRegression(hidden: 8, initSeed: 5, extra: true)
        XCTAssertThrowsError(try Checkpoint.load(from: path, into: more.set)) { XCTAssertEqual($0 as? TrainingError, .missingTensor("extra")) }
        try Checkpoint.save(to: path, parameters: more.set, step: 3)
        XCTAssertThrowsError(try Checkpoint.load(from: path, into: eight.set)) { XCTAssertEqual($0 as? TrainingError, .unexpectedTensor("extra")) }

        // A safetensors file that is not a training checkpoint.
        try SafeTensorsWriter.write([("lin1.weight", Tensor(zeros: [8, 4]))], to: path)
        XCTAssertThrowsError(try Checkpoint.load(from: path, into: eight.set)) { e in
            guard case .invalidCheckpoint? = e as? TrainingError else { return XCTFail("\(e)") }
        }
    }

    func testNonFiniteGradientStopsAndKeepsLastGoodCheckpoint() throws {
        for nanLoss in [false, true] {
            let dir = try Fixtures.temporaryDirectory("training-nan")
            defer { try? FileManager.default.removeItem(at: dir) }
            let path = dir.appendingPathComponent("c.safetensors").path
            let m = try ToyRegression(initSeed: 8)
            if nanLoss { m.nanLossAtCall = 5 } else { m.poisonAtCall = 5 }
            var bytesAtFailure: Data?
            var valuesAtFailure: [[Float]] = []
            m.onPoison = {
                bytesAtFailure = FileManager.default.contents(atPath: path)
                valuesAtFailure = m.set.parameters.map(\.value.array)
            }
            let loop = try TrainingLoop(parameters: m.set, exampleCount: 16, config: config(path, every: 2))
            XCTAssertThrowsError(try loop.run(step: m.step)) { e in
                let what = nanLoss ? "loss (nan)" : "gradient of 'lin2.weight'"
                XCTAssertEqual(e as? TrainingError, .nonFiniteKeptCheckpoint(step: 6, what: what, checkpoint: path, checkpointStep: 4))
                XCTAssertTrue("\(e)".contains("step 4"), "\(e)")
            }
            XCTAssertEqual(loop.step, 5, "the bad step must not be applied")
            XCTAssertEqual(m.set.parameters.map(\.value.array), valuesAtFailure, "parameters changed by a non-finite step")
            XCTAssertEqual(FileManager.default.contents(atPath: path), bytesAtFailure, "checkpoint overwritten")
            let restored = try ToyRegression(initSeed: 100)
            XCTAssertEqual(try Checkpoint.load(from: path, into: restored.set).step, 4)
            XCTAssertTrue(restored.set.parameters.allSatisfy { $0.value.array.allSatisfy(\.isFinite) })
        }
    }

    func testJSONProgressAndBar() throws {
        var lines: [String] = []
        let json = ProgressReporter(style: .jsonLines, sink: { lines.append($0) })
        let m = try ToyRegression(initSeed: 9)
        let dir = try Fixtures.temporaryDirectory("training-json")
        defer { try? FileManager.default.removeItem(at: dir) }
        var cfg = config(dir.appendingPathComponent("c.safetensors").path)
        cfg.epochs = 1
        try TrainingLoop(parameters: m.set, exampleCount: 16, config: cfg, reporter: json).run(step: m.step)
        let objects = try lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        XCTAssertEqual(objects.map { $0["event"] as! String }, ["start", "step", "step", "step", "step", "checkpoint", "done"])
        let step = objects[1]
        for key in ["step", "total_steps", "epoch", "loss", "lr", "grad_norm", "examples_per_s", "eta_s"] {
            XCTAssertNotNil(step[key], key)
        }
        XCTAssertEqual(step["total_steps"] as? Int, 4)
        XCTAssertTrue(lines.allSatisfy { $0.hasSuffix("\n") && $0.dropLast().allSatisfy { $0 != "\n" } })

        var out = ""
        let bar = ProgressReporter(style: .bar, sink: { out += $0 })
        let m2 = try ToyRegression(initSeed: 9)
        try TrainingLoop(parameters: m2.set, exampleCount: 16, config: { var c = cfg; c.checkpointPath = nil; return c }(), reporter: bar)
            .run(step: m2.step)
        XCTAssertTrue(out.contains("\r"))
        XCTAssertTrue(out.contains("4/4"), out)
        XCTAssertTrue(out.contains("ex/s"))
    }

    func testInvalidConfigurationsAreRefused() throws {
        let m = try ToyRegression(initSeed: 1)
        var c = config(nil)
        c.batchSize = 0
        XCTAssertThrowsError(try TrainingLoop(parameters: m.set, exampleCount: 16, config: c))
        XCTAssertThrowsError(try TrainingLoop(parameters: m.set, exampleCount: 0, config: config(nil)))
        c = config(nil); c.learningRate = .nan
        XCTAssertThrowsError(try TrainingLoop(parameters: m.set, exampleCount: 16, config: c))
    }
}
