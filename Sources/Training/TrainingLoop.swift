import Foundation
import Tensor
#if canImport(Glibc)
import Glibc
#endif

/// Settings of a training run.
public struct TrainingConfig: Sendable, Equatable {
    public var epochs: Int
    public var batchSize: Int
    public var learningRate: Float
    public var minLearningRate: Float
    public var warmupSteps: Int
    public var adam: AdamW.Config
    /// Global-norm clipping threshold (nil: no clipping).
    public var gradientClip: Float?
    /// Seeds batch order and the step closure's generator.
    public var seed: UInt64
    /// Where checkpoints go (nil: none), and every how many steps (0: only at the end).
    public var checkpointPath: String?
    public var checkpointEvery: Int
    /// Drop the last incomplete batch of an epoch (contrastive losses dislike tiny batches).
    public var dropLast: Bool
    /// Extra metadata stored in checkpoints (architecture description, …).
    public var checkpointMetadata: [String: String]
    /// Save frozen parameters too.
    public var checkpointIncludesFrozen: Bool

    public init(epochs: Int, batchSize: Int, learningRate: Float, minLearningRate: Float = 0, warmupSteps: Int = 0,
                adam: AdamW.Config = AdamW.Config(), gradientClip: Float? = 1.0, seed: UInt64 = 0,
                checkpointPath: String? = nil, checkpointEvery: Int = 0, dropLast: Bool = true,
                checkpointMetadata: [String: String] = [:], checkpointIncludesFrozen: Bool = false) {
        self.epochs = epochs; self.batchSize = batchSize; self.learningRate = learningRate
        self.minLearningRate = minLearningRate; self.warmupSteps = warmupSteps; self.adam = adam
        self.gradientClip = gradientClip; self.seed = seed; self.checkpointPath = checkpointPath
        self.checkpointEvery = checkpointEvery; self.dropLast = dropLast
        self.checkpointMetadata = checkpointMetadata; self.checkpointIncludesFrozen = checkpointIncludesFrozen
    }
}

/// One finished optimisation step, as reported.
public struct StepReport: Sendable, Equatable {
    public var step: Int          // 1-based count of completed steps
    public var totalSteps: Int
    public var epoch: Int         // 1-based
    public var loss: Float
    public var learningRate: Float
    public var gradNorm: Float
    public var examplesPerSecond: Double
    public var etaSeconds: Double
}

/// What `TrainingLoop.run` returns.
public struct TrainingSummary: Sendable {
    /// Loss of every step run in this call, in order.
    public var losses: [Float]
    /// Completed steps in total (including those before a resume).
    public var steps: Int
    public var seconds: Double
}

/// Mini-batch training driver: deterministic batch order, AdamW with warm-up + cosine
/// schedule, gradient clipping, NaN/Inf guard, periodic atomic checkpoints, resume, and
/// progress output. The model is whatever the `step` closure runs: it receives the example
/// indices of a batch and the loop's generator (for augmentation), runs forward and
/// backward (accumulating into the parameters' gradients, which the loop zeroes before
/// each step) and returns the batch loss.
public final class TrainingLoop: @unchecked Sendable {
    public let parameters: ParameterSet
    public let config: TrainingConfig
    public let exampleCount: Int
    public let optimizer: AdamW
    public let schedule: LearningRateSchedule
    public let reporter: ProgressReporter
    /// Generator handed to the step closure; saved in checkpoints.
    public private(set) var rng: TrainingRNG
    /// Completed steps.
    public private(set) var step = 0
    public private(set) var lastCheckpoint: (path: String, step: Int)?

    public var stepsPerEpoch: Int {
        let b = config.batchSize
        return config.dropLast && exampleCount >= b ? exampleCount / b : (exampleCount + b - 1) / b
    }
    public var totalSteps: Int { stepsPerEpoch * config.epochs }

    public init(parameters: ParameterSet, exampleCount: Int, config: TrainingConfig,
                reporter: ProgressReporter = ProgressReporter(style: .silent)) throws {
        guard config.batchSize > 0 else { throw TrainingError.invalidConfiguration("batch size must be positive") }
        guard config.epochs > 0 else { throw TrainingError.invalidConfiguration("epochs must be positive") }
        guard exampleCount > 0 else { throw TrainingError.invalidConfiguration("no training examples") }
        guard config.learningRate > 0, config.learningRate.isFinite, config.minLearningRate >= 0 else {
            throw TrainingError.invalidConfiguration("learning rate \(config.learningRate) (floor \(config.minLearningRate))")
        }
        guard config.warmupSteps >= 0, config.checkpointEvery >= 0 else {
            throw TrainingError.invalidConfiguration("negative warm-up or checkpoint interval")
        }
        if let c = config.gradientClip, !(c > 0) { throw TrainingError.invalidConfiguration("gradient clip \(c) must be positive") }
        self.parameters = parameters
        self.config = config
        self.exampleCount = exampleCount
        self.optimizer = AdamW(parameters: parameters, config: config.adam)
        self.reporter = reporter
        self.rng = TrainingRNG(seed: config.seed &+ 0x5EED)
        let per = config.dropLast && exampleCount >= config.batchSize ? exampleCount / config.batchSize
            : (exampleCount + config.batchSize - 1) / config.batchSize
        self.schedule = LearningRateSchedule(base: config.learningRate, warmupSteps: config.warmupSteps,
                                             totalSteps: per * config.epochs, floor: config.minLearningRate)
    }

    /// Example indices of batch `step` (0-based): epoch e is a fresh permutation seeded from
    /// (seed, e), so any step's batch is known without replaying earlier ones.
    public func batch(at step: Int) -> [Int] {
        let epoch = step / stepsPerEpoch, k = step % stepsPerEpoch
        var g = TrainingRNG(seed: config.seed ^ (0x9E37_79B9_7F4A_7C15 &* UInt64(epoch + 1)))
        let order = g.permutation(exampleCount)
        let lo = k * config.batchSize
        return Array(order[lo..<min(lo + config.batchSize, exampleCount)])
    }

    /// Restores parameters, optimiser moments, step and generator from a checkpoint.
    public func resume(from path: String) throws {
        let info = try Checkpoint.load(from: path, into: parameters, optimizer: optimizer,
                                       includeFrozen: config.checkpointIncludesFrozen)
        guard info.step <= totalSteps else {
            throw TrainingError.invalidCheckpoint(path: path, reason: "it is at step \(info.step), beyond this run's \(totalSteps) steps")
        }
        step = info.step
        if let s = info.rngState { rng = TrainingRNG(state: s) }
        lastCheckpoint = (path, step)
    }

    /// Writes a checkpoint of the current state to `config.checkpointPath` (if set).
    public func saveCheckpoint() throws {
        guard let path = config.checkpointPath else { return }
        try Checkpoint.save(to: path, parameters: parameters, optimizer: optimizer, step: step, rngState: rng.state,
                            metadata: config.checkpointMetadata, includeFrozen: config.checkpointIncludesFrozen)
        lastCheckpoint = (path, step)
        reporter.checkpointSaved(path: path, step: step)
    }

    /// Runs until `totalSteps` (or `maxSteps` more steps). On a NaN/Inf loss or gradient it
    /// stops *before* updating, writes nothing, and throws `nonFiniteKeptCheckpoint` naming
    /// the last good checkpoint, which stays untouched.
    @discardableResult
    public func run(maxSteps: Int? = nil,
                    step body: (_ batch: [Int], _ rng: inout TrainingRNG) throws -> Float) throws -> TrainingSummary {
        let end = maxSteps.map { min(totalSteps, step + $0) } ?? totalSteps
        let started = Date()
        var losses: [Float] = []
        reporter.started(totalSteps: totalSteps, startStep: step, examples: exampleCount)
        var examplesDone = 0
        while step < end {
            let indices = batch(at: step)
            parameters.zeroGrads()
            let loss = try body(indices, &rng)
            guard loss.isFinite else { throw stopped(what: "loss (\(loss))") }
            let norm: Float
            if let clip = config.gradientClip { norm = Gradients.clip(parameters, maxNorm: clip) }
            else { norm = Gradients.globalNorm(parameters) }
            if !norm.isFinite {
                throw stopped(what: "gradient of '\(Gradients.firstNonFinite(parameters) ?? "?")'")
            }
            let lr = schedule.learningRate(at: step)
            optimizer.update(learningRate: lr)
            if let name = parameters.trainable.first(where: { p in (0..<p.count).contains { !p.value.pointer[$0].isFinite } })?.name {
                throw stopped(what: "parameter '\(name)' after the update")
            }
            step += 1
            losses.append(loss)
            examplesDone += indices.count
            let elapsed = Date().timeIntervalSince(started)
            let rate = elapsed > 0 ? Double(examplesDone) / elapsed : 0
            let stepsDone = losses.count
            let eta = stepsDone > 0 ? elapsed / Double(stepsDone) * Double(end - step) : 0
            reporter.stepFinished(StepReport(step: step, totalSteps: totalSteps, epoch: (step - 1) / stepsPerEpoch + 1,
                                             loss: loss, learningRate: lr, gradNorm: norm,
                                             examplesPerSecond: rate, etaSeconds: eta))
            if config.checkpointEvery > 0 && step % config.checkpointEvery == 0 && step < end { try saveCheckpoint() }
        }
        if config.checkpointPath != nil && lastCheckpoint?.step != step { try saveCheckpoint() }
        let summary = TrainingSummary(losses: losses, steps: step, seconds: Date().timeIntervalSince(started))
        reporter.finished(steps: step, seconds: summary.seconds, lastLoss: losses.last)
        return summary
    }

    private func stopped(what: String) -> TrainingError {
        let e = TrainingError.nonFiniteKeptCheckpoint(step: step + 1, what: what, checkpoint: lastCheckpoint?.path,
                                                      checkpointStep: lastCheckpoint?.step)
        reporter.failed(e)
        return e
    }
}

/// Progress output: a one-line bar on a terminal (step/total, loss, lr, examples/s, ETA),
/// JSON lines for `--json` (one object per event on stdout), plain lines otherwise, or nothing.
public final class ProgressReporter: @unchecked Sendable {
    public enum Style: Sendable { case bar, jsonLines, plain, silent }
    public let style: Style
    private let write: (String) -> Void
    private var smoothed: Float?
    private var lastDraw = Date.distantPast
    private var total = 0

    /// `sink` receives every output chunk (for tests); default writes to stderr (bar, plain)
    /// or stdout (JSON).
    public init(style: Style, sink: ((String) -> Void)? = nil) {
        self.style = style
        if let sink { write = sink } else if style == .jsonLines {
            // The throwing write: FileHandle.write(_:) traps on a full disk or past ulimit -f.
            write = { s in try? FileHandle.standardOutput.write(contentsOf: Data(s.utf8)) }
        } else {
            write = { s in try? FileHandle.standardError.write(contentsOf: Data(s.utf8)) }
        }
    }

    /// JSON lines when `json`, a bar when stderr is a terminal, plain lines otherwise.
    public static func automatic(json: Bool) -> ProgressReporter {
        if json { return ProgressReporter(style: .jsonLines) }
        return ProgressReporter(style: isatty(2) != 0 ? .bar : .plain)
    }

    static func json(_ fields: [(String, Any)]) -> String {
        let body = fields.map { k, v -> String in
            let value: String
            switch v {
            case let s as String:
                let data = (try? JSONSerialization.data(withJSONObject: [s], options: [])) ?? Data("[\"\"]".utf8)
                value = String(decoding: data.dropFirst().dropLast(), as: UTF8.self)
            case let f as Float: value = f.isFinite ? "\(f)" : "null"
            case let d as Double: value = d.isFinite ? String(format: "%.3f", d) : "null"
            default: value = "\(v)"
            }
            return "\"\(k)\":\(value)"
        }
        return "{" + body.joined(separator: ",") + "}\n"
    }

    static func clock(_ s: Double) -> String {
        guard s.isFinite, s >= 0 else { return "?" }
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String(format: "%d:%02d", t / 60, t % 60)
    }

    func started(totalSteps: Int, startStep: Int, examples: Int) {
        total = totalSteps
        switch style {
        case .jsonLines: write(Self.json([("event", "start"), ("total_steps", totalSteps), ("start_step", startStep), ("examples", examples)]))
        case .plain: write("training: \(totalSteps) steps over \(examples) examples (from step \(startStep))\n")
        case .bar, .silent: break
        }
    }

    func stepFinished(_ r: StepReport) {
        smoothed = smoothed.map { 0.9 * $0 + 0.1 * r.loss } ?? r.loss
        switch style {
        case .jsonLines:
            write(Self.json([("event", "step"), ("step", r.step), ("total_steps", r.totalSteps), ("epoch", r.epoch),
                             ("loss", r.loss), ("lr", r.learningRate), ("grad_norm", r.gradNorm),
                             ("examples_per_s", r.examplesPerSecond), ("eta_s", r.etaSeconds)]))
        case .bar:
            let now = Date()
            guard now.timeIntervalSince(lastDraw) > 0.1 || r.step == r.totalSteps else { return }
            lastDraw = now
            let width = 24
            let filled = r.totalSteps > 0 ? width * r.step / r.totalSteps : width
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            write(String(format: "\r%@ %d/%d ep %d loss %.4f lr %.2e %.0f ex/s ETA %@\u{1B}[K",
                         bar, r.step, r.totalSteps, r.epoch, smoothed ?? r.loss, r.learningRate, r.examplesPerSecond,
                         Self.clock(r.etaSeconds)))
        case .plain:
            let every = max(1, r.totalSteps / 20)
            guard r.step % every == 0 || r.step == r.totalSteps else { return }
            write(String(format: "step %d/%d epoch %d loss %.4f lr %.2e %.0f ex/s ETA %@\n",
                         r.step, r.totalSteps, r.epoch, smoothed ?? r.loss, r.learningRate, r.examplesPerSecond,
                         Self.clock(r.etaSeconds)))
        case .silent: break
        }
    }

    func checkpointSaved(path: String, step: Int) {
        switch style {
        case .jsonLines: write(Self.json([("event", "checkpoint"), ("step", step), ("path", path)]))
        case .plain: write("checkpoint at step \(step): \(path)\n")
        case .bar, .silent: break
        }
    }

    func finished(steps: Int, seconds: Double, lastLoss: Float?) {
        switch style {
        case .jsonLines: write(Self.json([("event", "done"), ("steps", steps), ("seconds", seconds), ("loss", lastLoss ?? .nan)]))
        case .bar: write("\n")
        case .plain: write(String(format: "done: %d steps in %@\n", steps, Self.clock(seconds)))
        case .silent: break
        }
    }

    func failed(_ error: TrainingError) {
        switch style {
        case .jsonLines: write(Self.json([("event", "error"), ("message", error.description)]))
        case .bar: write("\n")
        case .plain, .silent: break
        }
    }
}
