import Foundation
import Tensor
import Training

/// Prompts checkpoints: only the tuned tensors (generator, domain prompt, experts, routing
/// head, logit scale) as safetensors, with metadata naming the backbone and the SHA-256 of
/// its weights file. A checkpoint is refused for any other backbone (both hashes named).
public enum PromptsCheckpoint {
    public static let format = "dialclip-prompts-1"
    /// Bundled default for the MiniLM backbone, relative to the assets folder.
    public static let bundledMiniLM = "models/dialclip-prompts-minilm.safetensors"

    /// Writes `model`'s tuned parameters atomically. `extra` lands in the metadata too.
    public static func save(_ model: DialCLIPModel, to path: String, extra: [String: String] = [:]) throws {
        let c = model.config
        var meta = extra
        meta["format"] = format
        meta["backbone"] = model.tower.backboneName
        meta["backbone_kind"] = model.tower.kind.rawValue
        meta["backbone_sha256"] = try model.tower.weightsHash()
        meta["context_prompts"] = String(c.contextPrompts)
        meta["domain_prompts"] = String(c.domainPrompts)
        meta["prompted_layers"] = String(c.promptedLayers)
        meta["variant"] = c.variant
        meta["generator_hidden"] = String(c.generatorHidden)
        meta["expert_rank"] = String(c.expertRank)
        meta["single_expert"] = c.singleExpert ? "true" : "false"
        meta["max_context_tokens"] = String(c.maxContextTokens)
        meta["max_feature_turns"] = String(c.maxFeatureTurns)
        meta["trainable_parameters"] = String(model.trainableParameterCount)
        try SafeTensorsWriter.write(model.parameters.parameters.map { ($0.name, $0.value) }, metadata: meta, to: path)
    }

    /// Metadata of a prompts checkpoint (validated format).
    public static func metadata(path: String) throws -> [String: String] {
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(path: path) } catch {
            throw DialCLIPError.invalidCheckpoint(path: path, reason: "\(error)")
        }
        guard file.metadata["format"] == format else {
            throw DialCLIPError.invalidCheckpoint(path: path, reason: "metadata 'format' is \(file.metadata["format"].map { "'\($0)'" } ?? "absent"), expected '\(format)'")
        }
        return file.metadata
    }

    /// Loads a checkpoint onto `tower`, refusing it when it was tuned on other weights.
    public static func load(path: String, tower: TextTower) throws -> DialCLIPModel {
        let meta = try metadata(path: path)
        let hash = try tower.weightsHash()
        guard let stored = meta["backbone_sha256"], stored == hash else {
            throw DialCLIPError.backboneMismatch(path: path, checkpointBackbone: meta["backbone"] ?? "?",
                                                 checkpointHash: meta["backbone_sha256"] ?? "absent",
                                                 modelBackbone: tower.backboneName, modelHash: hash)
        }
        func int(_ k: String) throws -> Int {
            guard let v = meta[k].flatMap(Int.init), v >= 0 else { throw DialCLIPError.invalidCheckpoint(path: path, reason: "missing or invalid '\(k)'") }
            return v
        }
        let config = DialCLIPConfig(contextPrompts: try int("context_prompts"), domainPrompts: try int("domain_prompts"),
                                    promptedLayers: try int("prompted_layers"), generatorHidden: try int("generator_hidden"),
                                    expertRank: try int("expert_rank"), singleExpert: meta["single_expert"] == "true",
                                    maxContextTokens: try int("max_context_tokens"), maxFeatureTurns: try int("max_feature_turns"))
        let model: DialCLIPModel
        do { model = try DialCLIPModel(tower: tower, config: config) } catch {
            throw DialCLIPError.invalidCheckpoint(path: path, reason: "\(error)")
        }
        let file = try SafeTensorsFile(path: path)
        let expected = Set(model.parameters.names)
        for name in file.names where !expected.contains(name) {
            throw DialCLIPError.invalidCheckpoint(path: path, reason: "unexpected tensor '\(name)'")
        }
        var values: [Tensor] = []
        for p in model.parameters.parameters {
            guard let info = file.tensors[p.name] else { throw DialCLIPError.invalidCheckpoint(path: path, reason: "tensor '\(p.name)' is missing") }
            guard info.shape == p.shape || (p.shape == [1] && info.shape == []) else {
                throw DialCLIPError.invalidCheckpoint(path: path, reason: "tensor '\(p.name)' has shape \(info.shape), expected \(p.shape)")
            }
            let t = try file.tensor(p.name)
            guard (0..<t.count).allSatisfy({ t.pointer[$0].isFinite }) else {
                throw DialCLIPError.invalidCheckpoint(path: path, reason: "tensor '\(p.name)' holds NaN or infinite values")
            }
            values.append(Tensor(shape: p.shape, storage: TensorStorage(copying: t.pointer, count: t.count)))
        }
        for (p, v) in zip(model.parameters.parameters, values) { p.value = v }
        return model
    }
}

/// Query side of DialCLIP for the engine: contexts → query embeddings per retrieval type,
/// and the routing probability. Candidates (photos, replies) are frozen embeddings.
public final class DialCLIPQueryEncoder: @unchecked Sendable {
    public let model: DialCLIPModel
    public let contexts: ContextEncoder

    public init(model: DialCLIPModel) {
        self.model = model
        contexts = ContextEncoder(tower: model.tower, maxContextTokens: model.config.maxContextTokens,
                                  maxFeatureTurns: model.config.maxFeatureTurns)
    }

    /// Loads `promptsPath` onto `tower` (refused for another backbone).
    public convenience init(tower: TextTower, promptsPath: String) throws {
        self.init(model: try PromptsCheckpoint.load(path: promptsPath, tower: tower))
    }

    /// L2-normalised query embeddings `[n, D]` for `expert`, in batches.
    public func encode(_ items: [DialogueContext], expert: DialCLIPExpert, batchSize: Int = 32) throws -> Tensor {
        try model.encode(items.map { try contexts.prepare($0) }, expert: expert, batchSize: batchSize)
    }

    /// One query embedding.
    public func encode(_ context: DialogueContext, expert: DialCLIPExpert) throws -> [Float] {
        let t = try encode([context], expert: expert)
        return Array(UnsafeBufferPointer(start: t.pointer, count: t.count))
    }

    /// P(next turn shares a photo).
    public func photoShareProbability(_ context: DialogueContext) throws -> Float {
        try model.photoShareProbability(try contexts.prepare(context))
    }

    /// Frozen, normalised candidate embeddings (photo descriptions, reply texts).
    public func encodeCandidates(texts: [String]) throws -> Tensor { try model.tower.encode(texts: texts) }
}

extension DialCLIPModel {
    /// Inference over prepared contexts in length-sorted batches.
    public func encode(_ prepared: [PreparedContext], expert: DialCLIPExpert, batchSize: Int = 32) throws -> Tensor {
        let d = tower.embedDim
        var out = Tensor(zeros: [prepared.count, d])
        let order = (0..<prepared.count).sorted { prepared[$0].ids.count < prepared[$1].ids.count }
        var start = 0
        while start < order.count {
            let chunk = Array(order[start..<min(order.count, start + max(1, batchSize))])
            start += chunk.count
            let e = try forward(chunk.map { prepared[$0] }, experts: Array(repeating: expert, count: chunk.count))
            for (row, i) in chunk.enumerated() { (out.mutablePointer + i * d).update(from: e.pointer + row * d, count: d) }
        }
        return out
    }
}
