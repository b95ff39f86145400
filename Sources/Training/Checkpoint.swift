import Foundation
import Tensor

/// What a checkpoint says besides the parameters.
public struct CheckpointInfo: Sendable, Equatable {
    /// Training steps completed when it was written.
    public var step: Int
    /// State of the loop's random generator (augmentation, sampling), if saved.
    public var rngState: UInt64?
    /// Extra metadata given at save time (model description, dataset, …).
    public var metadata: [String: String]
}

/// Training checkpoints as safetensors: one F32 tensor per parameter under its own name,
/// AdamW moments as `optimizer.m.<name>` / `optimizer.v.<name>`, and step, optimiser
/// step and RNG state in `__metadata__`. Written atomically (temp file, fsync, rename), so
/// the previous checkpoint survives a crash or a refused step.
///
/// Loading checks every tensor the model expects — present, same shape — and refuses
/// tensors the model does not have, naming the tensor; nothing is modified unless the
/// whole file fits.
public enum Checkpoint {
    public static let format = "dialclip-training-checkpoint-1"
    static let firstPrefix = "optimizer.m.", secondPrefix = "optimizer.v."

    /// Parameters a checkpoint covers: the trainable ones (prompt tuning saves a few hundred
    /// KB, not the frozen CLIP), or all of them with `includeFrozen`.
    static func covered(_ set: ParameterSet, includeFrozen: Bool) -> [Parameter] {
        includeFrozen ? set.parameters : set.trainable
    }

    public static func save(to path: String, parameters: ParameterSet, optimizer: AdamW? = nil, step: Int,
                            rngState: UInt64? = nil, metadata: [String: String] = [:], includeFrozen: Bool = false) throws {
        var tensors: [(name: String, tensor: Tensor)] = []
        let params = covered(parameters, includeFrozen: includeFrozen)
        for p in params { tensors.append((p.name, p.value)) }
        var meta = metadata
        meta["format"] = format
        meta["step"] = String(step)
        if let rngState { meta["rng_state"] = String(rngState) }
        if let optimizer {
            meta["optimizer"] = "adamw"
            meta["optimizer_step"] = String(optimizer.step)
            for p in params where p.trainable {
                if let m = optimizer.firstMoments[p.name], let v = optimizer.secondMoments[p.name] {
                    tensors.append((firstPrefix + p.name, m))
                    tensors.append((secondPrefix + p.name, v))
                }
            }
        }
        try SafeTensorsWriter.write(tensors, metadata: meta, to: path)
    }

    /// Loads parameters (and, when given, the optimiser state) from `path`.
    @discardableResult
    public static func load(from path: String, into parameters: ParameterSet, optimizer: AdamW? = nil,
                            includeFrozen: Bool = false) throws -> CheckpointInfo {
        let file = try SafeTensorsFile(path: path)
        guard file.metadata["format"] == format else {
            throw TrainingError.invalidCheckpoint(path: path, reason: "not a dialclip training checkpoint (metadata 'format' is \(file.metadata["format"].map { "'\($0)'" } ?? "absent"))")
        }
        guard let stepText = file.metadata["step"], let step = Int(stepText), step >= 0 else {
            throw TrainingError.invalidCheckpoint(path: path, reason: "missing or invalid 'step' metadata")
        }
        let params = covered(parameters, includeFrozen: includeFrozen)
        let expected = Set(params.map(\.name))
        // 1. Validate everything first.
        for p in params {
            guard let info = file.tensors[p.name] else { throw TrainingError.missingTensor(p.name) }
            guard info.shape == p.shape else { throw TrainingError.architectureMismatch(tensor: p.name, expected: p.shape, found: info.shape) }
        }
        var hasMoments = false
        for name in file.names {
            if name.hasPrefix(firstPrefix) || name.hasPrefix(secondPrefix) {
                hasMoments = true
                let base = String(name.dropFirst(firstPrefix.count))
                guard let p = parameters[base], expected.contains(base) else { throw TrainingError.unexpectedTensor(name) }
                let shape = file.tensors[name]!.shape
                guard shape == p.shape else { throw TrainingError.architectureMismatch(tensor: name, expected: p.shape, found: shape) }
            } else if !expected.contains(name) {
                throw TrainingError.unexpectedTensor(name)
            }
        }
        var optimizerStep = 0
        if optimizer != nil && hasMoments {
            guard let s = file.metadata["optimizer_step"].flatMap(Int.init), s >= 0 else {
                throw TrainingError.invalidCheckpoint(path: path, reason: "missing or invalid 'optimizer_step' metadata")
            }
            optimizerStep = s
        }
        var rngState: UInt64? = nil
        if let r = file.metadata["rng_state"] {
            guard let v = UInt64(r) else { throw TrainingError.invalidCheckpoint(path: path, reason: "invalid 'rng_state' metadata") }
            rngState = v
        }
        // 2. Read all tensors (copies, so the file may be overwritten later), then apply.
        func owned(_ name: String) throws -> Tensor {
            let t = try file.tensor(name)
            return Tensor(shape: t.shape, storage: TensorStorage(copying: t.pointer, count: t.count))
        }
        let values = try params.map { try owned($0.name) }
        var first: [String: Tensor] = [:], second: [String: Tensor] = [:]
        if let optimizer {
            for p in params where p.trainable {
                if file.contains(firstPrefix + p.name) { first[p.name] = try owned(firstPrefix + p.name) }
                if file.contains(secondPrefix + p.name) { second[p.name] = try owned(secondPrefix + p.name) }
            }
            optimizer.restore(step: optimizerStep, first: first, second: second)
        }
        for (p, v) in zip(params, values) { p.value = v }
        var meta = file.metadata
        for k in ["format", "step", "rng_state", "optimizer", "optimizer_step"] { meta[k] = nil }
        return CheckpointInfo(step: step, rngState: rngState, metadata: meta)
    }
}
