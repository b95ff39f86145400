import Foundation
import Models
import Tensor
import Tokenizers
import Training

/// Errors of the DialCLIP module, each saying what to do next.
public enum DialCLIPError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, reason: String)
    /// A prompts checkpoint tuned on another backbone.
    case backboneMismatch(path: String, checkpointBackbone: String, checkpointHash: String, modelBackbone: String, modelHash: String)
    case invalidCheckpoint(path: String, reason: String)
    case invalidConfiguration(String)
    case nothingToEvaluate(String)
    case invalidInput(String)

    public var description: String {
        switch self {
        case .unreadable(let p, let r): return "cannot read \(p): \(r)"
        case .backboneMismatch(let p, let cb, let ch, let mb, let mh):
            return "prompts checkpoint \(p) was tuned on backbone '\(cb)' (weights sha256 \(ch)), but the loaded model is '\(mb)' (weights sha256 \(mh)); "
                + "train prompts for this model with `dialclip train --task dialog` or load the matching model"
        case .invalidCheckpoint(let p, let r): return "invalid DialCLIP prompts checkpoint \(p): \(r)"
        case .invalidConfiguration(let s): return "invalid DialCLIP configuration: \(s)"
        case .nothingToEvaluate(let s): return "nothing to evaluate: \(s)"
        case .invalidInput(let s): return "invalid input: \(s)"
        }
    }
}

/// A frozen text encoder with the pieces prompt tuning needs: tokenisation without special
/// tokens, the embedding step, the transformer layers (as hand-written training blocks with
/// frozen weights, so gradients reach inserted prompts), and the pooling head.
///
/// Two towers: MiniLM (BERT: post-LN, key-padding mask, mean pooling; the bundled default)
/// and CLIP's text transformer (pre-LN, causal mask, EOT pooling + final LN + projection).
public final class TextTower: @unchecked Sendable {
    public enum Kind: String, Sendable { case miniLM = "minilm", clip = "clip" }

    public let kind: Kind
    /// Human-readable backbone name stored in checkpoints.
    public let backboneName: String
    /// File whose SHA-256 fingerprints the backbone.
    public let weightsPath: String
    /// Hidden width of the transformer (prompt vectors live here).
    public let width: Int
    /// Output embedding dimension (after pooling / projection).
    public let embedDim: Int
    /// Parameters of the whole backbone model the prompts are tuned for (the entire
    /// CLIP model — both towers — or the MiniLM encoder).
    public let backboneParameterCount: Int
    /// Longest token sequence the embedding step accepts (position table size).
    public let maxPositions: Int
    /// The frozen layers.
    public let layers: Transformer
    /// Causal attention (CLIP) or bidirectional with a padding mask (BERT).
    public var causal: Bool { kind == .clip }

    let bert: BERTModel?
    let clip: CLIPModel?
    let wordPiece: WordPieceTokenizer?
    let bpe: CLIPTokenizer?
    let finalNorm: LayerNorm?
    let projection: ProjectionMatrix?
    private let hashLock = NSLock()
    nonisolated(unsafe) private var cachedHash: String?

    /// MiniLM (all-MiniLM-L6-v2) from its model folder (`ModelDirectory.miniLM`).
    public init(miniLMFolder folder: String) throws {
        let model = try BERTModel(folder: folder)
        let vocab = (folder as NSString).appendingPathComponent("vocab.txt")
        kind = .miniLM
        backboneName = (folder as NSString).lastPathComponent
        weightsPath = model.path
        width = model.dimension
        embedDim = model.dimension
        backboneParameterCount = model.parameterCount
        maxPositions = model.config.maxPositions
        layers = try Transformer(name: "backbone", stack: model.encoderStack, trainable: false)
        bert = model; clip = nil
        wordPiece = try WordPieceTokenizer(vocabularyPath: vocab); bpe = nil
        finalNorm = nil; projection = nil
    }

    /// A CLIP model's text tower. `vocabularyGzipPath` is the BPE vocabulary
    /// (`assets/clip/bpe_simple_vocab_16e6.txt.gz`).
    public init(clip model: CLIPModel, vocabularyGzipPath: String, name: String? = nil) throws {
        kind = .clip
        backboneName = name ?? "clip:" + ((model.path as NSString).deletingLastPathComponent as NSString).lastPathComponent
        weightsPath = model.path
        width = model.config.text.width
        embedDim = model.config.embedDim
        backboneParameterCount = model.parameterCount
        maxPositions = model.config.contextLength
        layers = try Transformer(name: "backbone", stack: model.textStackWeights, trainable: false)
        bert = nil; clip = model
        wordPiece = nil; bpe = try CLIPTokenizer(vocabularyGzipPath: vocabularyGzipPath)
        let n = model.textFinalNorm
        finalNorm = try LayerNorm(name: "backbone.final_ln", gamma: n.weight, beta: n.bias,
                                  eps: model.config.text.layerNormEps, trainable: false)
        projection = model.textProjectionMatrix
    }

    public var layerCount: Int { layers.blocks.count }

    /// SHA-256 of the backbone's weights file (computed once, ~0.5 s per 100 MB).
    public func weightsHash() throws -> String {
        hashLock.lock(); defer { hashLock.unlock() }
        if let h = cachedHash { return h }
        let h = try SHA256.hex(fileAt: weightsPath)
        cachedHash = h
        return h
    }

    // MARK: Tokens

    /// Start and end tokens of a sequence.
    var startID: Int { kind == .clip ? CLIPTokenizer.startOfText : (wordPiece?.clsID ?? 101) }
    var endID: Int { kind == .clip ? CLIPTokenizer.endOfText : (wordPiece?.sepID ?? 102) }

    /// Token ids of `text` without start/end tokens, at most `limit` of them (the first ones).
    public func pieces(_ text: String, limit: Int) -> [Int] {
        guard limit > 0 else { return [] }
        if let wp = wordPiece { return Array(wp.encode(text, maxLength: limit + 2).dropFirst().dropLast()) }
        guard let bpe else { return [] }
        let ids = bpe.encode(String(text.prefix(4 * limit + 64)))
        return Array(ids.dropFirst().dropLast().prefix(limit))
    }

    /// `[start] + pieces + [end]`.
    public func wrap(_ pieces: [Int]) -> [Int] { [startID] + pieces + [endID] }

    /// Longest wrapped sequence the frozen encoders accept.
    public var maxTextTokens: Int { kind == .clip ? maxPositions : min(maxPositions, 512) }

    // MARK: Frozen encoding

    /// L2-normalised frozen embeddings `[n, embedDim]` of texts (each cut to `maxTokens`).
    public func encode(texts: [String], maxTokens: Int = 64) throws -> Tensor {
        let cap = max(2, min(maxTokens, maxTextTokens))
        return try encode(ids: texts.map { wrap(pieces($0, limit: cap - 2)) })
    }

    /// L2-normalised frozen embeddings of wrapped id sequences.
    public func encode(ids: [[Int]]) throws -> Tensor {
        if let bert { return try bert.encode(ids: ids) }
        guard let clip else { throw DialCLIPError.invalidConfiguration("text tower without a model") }
        var t = try clip.encodeTexts(ids: ids)
        Ops.l2Normalize(t.mutablePointer, rows: ids.count, dim: embedDim)
        return t
    }

    /// The embedding step for right-padded wrapped sequences: `[batch·seq, width]`.
    public func embed(ids: [[Int]], seq: Int) throws -> Tensor {
        if let bert { return try bert.embeddingOutput(ids: ids, seq: seq) }
        guard let clip else { throw DialCLIPError.invalidConfiguration("text tower without a model") }
        return try clip.textEmbeddingOutput(ids: ids, seq: seq)
    }

    // MARK: Pooling head (forward/backward)

    /// What the pooling head keeps for backward.
    public final class HeadCache {
        var lengths: [Int] = [], positions: [Int] = [], seq = 0, batch = 0
        let ln = LayerNorm.Cache()
        var normed = Tensor(zeros: [0])
        public init() {}
    }

    /// Pools `[batch·seq, width]` into `[batch, embedDim]` (not normalised). MiniLM: mean over
    /// the first `valid[b]` positions; CLIP: the token at `eot[b]`, final LN, projection.
    func pool(_ x: Tensor, batch: Int, seq: Int, valid: [Int], eot: [Int], cache: HeadCache?) throws -> Tensor {
        cache?.batch = batch; cache?.seq = seq
        switch kind {
        case .miniLM:
            cache?.lengths = valid
            return try MeanPooling.forward(x, batch: batch, seq: seq, lengths: valid)
        case .clip:
            guard let finalNorm, let projection else { throw DialCLIPError.invalidConfiguration("CLIP head missing") }
            cache?.positions = eot
            let picked = try TokenSelect.forward(x, batch: batch, seq: seq, positions: eot)
            let normed = try finalNorm.forward(picked, cache: cache?.ln)
            cache?.normed = normed
            return try projection.apply(normed)
        }
    }

    func poolBackward(_ dy: Tensor, cache: HeadCache) throws -> Tensor {
        switch kind {
        case .miniLM:
            return try MeanPooling.backward(dy, batch: cache.batch, seq: cache.seq, lengths: cache.lengths)
        case .clip:
            guard let finalNorm, let projection else { throw DialCLIPError.invalidConfiguration("CLIP head missing") }
            // Frozen projection: only the input gradient. y = x·Wᵀ (linear) or x·P (matrix).
            let rows = cache.batch
            var dn = Tensor(zeros: [rows, width])
            switch projection {
            case .linear(let w):   // dX = dY · W   ([rows, D] × [D, W])
                BLAS.gemm(.none, .none, m: rows, n: width, k: embedDim, a: dy.pointer, lda: embedDim,
                          b: w.pointer, ldb: width, c: dn.mutablePointer, ldc: width)
            case .matrix(let p):   // dX = dY · Pᵀ  ([rows, D] × [D, W])
                BLAS.gemm(.none, .transpose, m: rows, n: width, k: embedDim, a: dy.pointer, lda: embedDim,
                          b: p.pointer, ldb: embedDim, c: dn.mutablePointer, ldc: width)
            }
            let dp = try finalNorm.backward(dn, cache: cache.ln)
            return try TokenSelect.backward(dp, batch: cache.batch, seq: cache.seq, positions: cache.positions)
        }
    }
}
