import Foundation
import Tensor

/// Architecture of a BERT encoder, read from its `config.json`.
public struct BERTConfig: Sendable, Equatable {
    public var encoder: TransformerConfig
    public var vocabularySize: Int
    public var maxPositions: Int
    public var typeVocabularySize: Int
}

/// A BERT sentence encoder (all-MiniLM-L6-v2 and relatives): post-LN transformer with
/// exact GELU, padding mask, mean pooling over real tokens, L2 normalisation.
public final class BERTModel: @unchecked Sendable {
    public let config: BERTConfig
    public let path: String
    public let parameterCount: Int

    let wordEmbeddings: Tensor      // [V, W]
    let positionEmbeddings: Tensor  // [P, W]
    let tokenTypeEmbeddings: Tensor // [T, W]
    let embedNormWeight: Tensor, embedNormBias: Tensor
    let stack: TransformerStack

    /// Loads a model folder holding `config.json` and `model.safetensors`.
    public init(folder: String) throws {
        let configPath = (folder as NSString).appendingPathComponent("config.json")
        let weightsPath = (folder as NSString).appendingPathComponent("model.safetensors")
        for p in [configPath, weightsPath] where !FileManager.default.fileExists(atPath: p) {
            throw ModelError.notFound(path: p, hint: "Run Scripts/setup.sh to fetch the MiniLM model (or set DIALCLIP_MODEL_DIR).")
        }
        let cfg = try CLIPFacts.readJSONObject(configPath)
        func int(_ key: String) throws -> Int {
            guard let v = cfg[key] as? Int, v > 0 else {
                throw ModelError.invalidConfig(path: configPath, reason: "missing or invalid '\(key)'")
            }
            return v
        }
        let width = try int("hidden_size"), layers = try int("num_hidden_layers"), heads = try int("num_attention_heads")
        let mlp = try int("intermediate_size")
        guard width % heads == 0 else {
            throw ModelError.invalidConfig(path: configPath, reason: "hidden_size \(width) not divisible by \(heads) heads")
        }
        let act: Activation
        switch (cfg["hidden_act"] as? String) ?? "gelu" {
        case "gelu": act = .gelu
        case "quick_gelu": act = .quickGELU
        case let other: throw ModelError.unsupported("BERT activation '\(other)' (only exact gelu)")
        }
        let eps = Float((cfg["layer_norm_eps"] as? Double) ?? 1e-12)
        let encoder = TransformerConfig(width: width, layers: layers, heads: heads, mlpWidth: mlp,
                                        activation: act, layerNormEps: eps, norm: .post)

        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(path: weightsPath) } catch let e as SafeTensorsError { throw ModelError.weights(e) }
        path = weightsPath
        // Some exports prefix every name with "bert.".
        let root = WeightReader(file, prefix: file.contains("bert.embeddings.word_embeddings.weight") ? "bert." : "")
        let wordShape = try root.shape("embeddings.word_embeddings.weight")
        let posShape = try root.shape("embeddings.position_embeddings.weight")
        let typeShape = try root.shape("embeddings.token_type_embeddings.weight")
        guard wordShape.count == 2, wordShape[1] == width else {
            throw ModelError.wrongShape(name: "embeddings.word_embeddings.weight", expected: "[vocab, \(width)]", actual: wordShape)
        }
        guard posShape.count == 2, posShape[1] == width, typeShape.count == 2, typeShape[1] == width, typeShape[0] >= 1 else {
            throw ModelError.wrongShape(name: "embeddings.position_embeddings.weight", expected: "[positions, \(width)]", actual: posShape)
        }
        wordEmbeddings = try root.tensor("embeddings.word_embeddings.weight", wordShape)
        positionEmbeddings = try root.tensor("embeddings.position_embeddings.weight", posShape)
        tokenTypeEmbeddings = try root.tensor("embeddings.token_type_embeddings.weight", typeShape)
        embedNormWeight = try root.tensor("embeddings.LayerNorm.weight", [width])
        embedNormBias = try root.tensor("embeddings.LayerNorm.bias", [width])
        let w = width, m = mlp
        stack = TransformerStack(config: encoder, layers: try (0..<layers).map { i in
            let r = root.scoped("encoder.layer.\(i).")
            return TransformerLayerWeights(
                norm1Weight: try r.tensor("attention.output.LayerNorm.weight", [w]),
                norm1Bias: try r.tensor("attention.output.LayerNorm.bias", [w]),
                qkv: .separate(q: try r.tensor("attention.self.query.weight", [w, w]), qBias: try r.tensor("attention.self.query.bias", [w]),
                               k: try r.tensor("attention.self.key.weight", [w, w]), kBias: try r.tensor("attention.self.key.bias", [w]),
                               v: try r.tensor("attention.self.value.weight", [w, w]), vBias: try r.tensor("attention.self.value.bias", [w])),
                outWeight: try r.tensor("attention.output.dense.weight", [w, w]), outBias: try r.tensor("attention.output.dense.bias", [w]),
                norm2Weight: try r.tensor("output.LayerNorm.weight", [w]), norm2Bias: try r.tensor("output.LayerNorm.bias", [w]),
                fcWeight: try r.tensor("intermediate.dense.weight", [m, w]), fcBias: try r.tensor("intermediate.dense.bias", [m]),
                projWeight: try r.tensor("output.dense.weight", [w, m]), projBias: try r.tensor("output.dense.bias", [w]))
        })
        config = BERTConfig(encoder: encoder, vocabularySize: wordShape[0], maxPositions: posShape[0],
                            typeVocabularySize: typeShape[0])
        parameterCount = wordEmbeddings.count + positionEmbeddings.count + tokenTypeEmbeddings.count + 2 * width
            + stack.parameterCount
    }

    public var dimension: Int { config.encoder.width }

    /// Mean-pooled, L2-normalised sentence embeddings `[n, width]` for token id sequences
    /// (each already `[CLS] … [SEP]`). Sequences are sorted by length and batched, each
    /// batch padded only to its own longest sequence.
    public func encode(ids: [[Int]], batchSize: Int = 32) throws -> Tensor {
        let n = ids.count
        let w = dimension
        var out = Tensor(zeros: [n, w])
        guard n > 0 else { return out }
        for (i, seq) in ids.enumerated() {
            guard !seq.isEmpty else { throw ModelError.invalidInput("token sequence \(i) is empty") }
            guard seq.count <= config.maxPositions else {
                throw ModelError.invalidInput("token sequence \(i) has \(seq.count) tokens; the model takes at most \(config.maxPositions)")
            }
            if let bad = seq.first(where: { $0 < 0 || $0 >= config.vocabularySize }) {
                throw ModelError.invalidInput("token id \(bad) outside the vocabulary of \(config.vocabularySize)")
            }
        }
        let order = (0..<n).sorted { ids[$0].count < ids[$1].count }
        let op = out.mutablePointer
        for chunk in Self.lengthGroups(order.map { ids[$0].count }, maxBatch: batchSize).map({ $0.map { order[$0] } }) {
            let pooled = encodeBatch(chunk.map { ids[$0] })
            for (row, original) in chunk.enumerated() {
                (op + original * w).update(from: pooled.pointer + row * w, count: w)
            }
        }
        return out
    }

    /// Splits ascending `lengths` into consecutive batches of at most `maxBatch` whose
    /// padding (every sequence padded to the batch's longest) wastes at most a quarter of
    /// the work — 32 chat sentences of 22–48 tokens padded to 48 did 1.7× the useful work —
    /// while keeping batches of at least 256 tokens whole so products stay efficient.
    static func lengthGroups(_ lengths: [Int], maxBatch: Int) -> [Range<Int>] {
        var groups: [Range<Int>] = []
        var start = 0, sum = 0
        for (i, len) in lengths.enumerated() {
            let count = i - start
            let padded = (count + 1) * len, useful = sum + len
            if count > 0 && (count >= max(1, maxBatch) || (padded > useful + useful / 4 && count * lengths[i - 1] >= 256)) {
                groups.append(start..<i)
                start = i; sum = 0
            }
            sum += len
        }
        if start < lengths.count { groups.append(start..<lengths.count) }
        return groups
    }

    /// Hidden states after the embedding LayerNorm (index 0) and after each layer, for
    /// one sequence — golden tests and debugging.
    public func hiddenStates(ids: [Int]) -> [Tensor] {
        var states: [Tensor] = []
        _ = encodeBatch([ids]) { _, t in states.append(t) }
        return states
    }

    /// The frozen encoder layers, for prompt tuning (DialCLIP wraps them in `Training.Transformer`).
    public var encoderStack: TransformerStack { stack }

    /// The embedding step alone: word + position + token-type embeddings and the embedding
    /// LayerNorm for right-padded sequences, `[batch·seq, width]` (rows past a sequence's
    /// length hold [PAD]). DialCLIP inserts prompt vectors into this block before the stack.
    public func embeddingOutput(ids: [[Int]], seq: Int) throws -> Tensor {
        guard seq >= 1, seq <= config.maxPositions else {
            throw ModelError.invalidInput("sequence length \(seq); the model takes 1...\(config.maxPositions)")
        }
        for (i, row) in ids.enumerated() {
            guard row.count <= seq else { throw ModelError.invalidInput("token sequence \(i) is longer than \(seq)") }
            if let bad = row.first(where: { $0 < 0 || $0 >= config.vocabularySize }) {
                throw ModelError.invalidInput("token id \(bad) outside the vocabulary of \(config.vocabularySize)")
            }
        }
        return embed(ids, seq: seq)
    }

    func embed(_ batchIDs: [[Int]], seq: Int) -> Tensor {
        let batch = batchIDs.count
        let w = dimension
        var x = Tensor(zeros: [batch * seq, w])
        let xp = x.mutablePointer
        for b in 0..<batch {
            for t in 0..<seq {
                let row = xp + (b * seq + t) * w
                let id = t < batchIDs[b].count ? batchIDs[b][t] : 0   // [PAD] = 0, masked out later
                row.update(from: wordEmbeddings.pointer + id * w, count: w)
                Ops.addInPlace(row, positionEmbeddings.pointer + t * w, count: w)
                Ops.addInPlace(row, tokenTypeEmbeddings.pointer, count: w)   // token type 0
            }
        }
        Ops.layerNorm(xp, rows: batch * seq, dim: w, gamma: embedNormWeight.pointer, beta: embedNormBias.pointer,
                      eps: config.encoder.layerNormEps)
        return x
    }

    func encodeBatch(_ batchIDs: [[Int]], observe: ((Int, Tensor) -> Void)? = nil) -> Tensor {
        let batch = batchIDs.count
        let seq = batchIDs.map(\.count).max() ?? 1
        let w = dimension
        let lengths = batchIDs.map(\.count)
        var x = embed(batchIDs, seq: seq)
        observe?(0, x)
        stack.forward(&x, batch: batch, seq: seq, causal: false, keyLengths: lengths,
                      observe: observe.map { f in { f($0 + 1, $1) } })
        // Mean over the real tokens only, then L2-normalise.
        var pooled = Tensor(zeros: [batch, w])
        let pp = pooled.mutablePointer
        for b in 0..<batch {
            let dst = pp + b * w
            for t in 0..<lengths[b] { Ops.addInPlace(dst, x.pointer + (b * seq + t) * w, count: w) }
            let inv = 1 / Float(max(lengths[b], 1))
            for i in 0..<w { dst[i] *= inv }
        }
        Ops.l2Normalize(pp, rows: batch, dim: w)
        return pooled
    }
}

/// Where downloaded model files live: `$DIALCLIP_MODEL_DIR`, else
/// `$XDG_CACHE_HOME/dialclip/models` (default `~/.cache/dialclip/models`).
public enum ModelDirectory {
    public static let miniLMName = "all-MiniLM-L6-v2"

    public static var root: String {
        let env = ProcessInfo.processInfo.environment
        if let d = env["DIALCLIP_MODEL_DIR"], !d.isEmpty { return d }
        let cache = env["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? (NSHomeDirectory() + "/.cache")
        return cache + "/dialclip/models"
    }

    /// Folder of the MiniLM sentence encoder fetched by `Scripts/setup.sh`.
    public static var miniLM: String { root + "/" + miniLMName }
}
