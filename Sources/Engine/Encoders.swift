import Foundation
import Models
import Tensor
import Tokenizers

/// Turns texts into L2-normalised embeddings `[n, dimension]`.
public protocol TextEmbedder: AnyObject, Sendable {
    /// Model name for reports (`minilm`, a checkpoint path, …).
    var name: String { get }
    var dimension: Int { get }
    func embed(texts: [String]) throws -> Tensor
    /// The text a dialogue context becomes for this tower: the newest turns that fit its
    /// token window (older turns are dropped first).
    func contextText(turns: [String]) -> String
}

/// The sentence encoder all-MiniLM-L6-v2 (WordPiece + BERT), real pretrained weights
/// fetched by `Scripts/setup.sh`.
public final class MiniLMEncoder: TextEmbedder, @unchecked Sendable {
    public let name = "minilm"
    public let tokenizer: WordPieceTokenizer
    public let model: BERTModel
    /// Token budget of a dialogue context (newest turns kept).
    public var contextTokens = 64

    public init(folder: String = ModelDirectory.miniLM) throws {
        let vocab = folder + "/vocab.txt"
        guard FileManager.default.fileExists(atPath: vocab) else {
            throw ModelError.notFound(path: folder, hint: "The MiniLM sentence encoder is not installed: run Scripts/setup.sh (or set DIALCLIP_MODEL_DIR).")
        }
        tokenizer = try WordPieceTokenizer(vocabularyPath: vocab)
        model = try BERTModel(folder: folder)
    }

    public var dimension: Int { model.dimension }

    public func embed(texts: [String]) throws -> Tensor {
        try model.encode(ids: texts.map { tokenizer.encode($0) })
    }

    public func contextText(turns: [String]) -> String {
        newestTurns(turns, budget: contextTokens) { tokenizer.encode($0, maxLength: contextTokens + 2).count - 2 }
    }
}

/// A CLIP checkpoint's text tower (BPE tokenizer from the bundled vocabulary).
public final class CLIPTextEncoder: TextEmbedder, @unchecked Sendable {
    public let name: String
    public let tokenizer: CLIPTokenizer
    public let model: CLIPModel

    public init(model: CLIPModel, name: String, assets: URL) throws {
        self.model = model
        self.name = name
        tokenizer = try CLIPTokenizer(vocabularyGzipPath: assets.appendingPathComponent("clip/bpe_simple_vocab_16e6.txt.gz").path)
    }

    public var dimension: Int { model.config.embedDim }

    public func embed(texts: [String]) throws -> Tensor {
        let ids = texts.map { tokenizer.tokenize($0, contextLength: model.config.contextLength, truncate: true) }
        return try model.encodeTexts(ids: ids).l2Normalized()
    }

    public func contextText(turns: [String]) -> String {
        newestTurns(turns, budget: model.config.contextLength - 2) { tokenizer.encode($0).count - 2 }
    }
}

/// Joins the newest turns whose token count fits `budget` (at least the newest one, which
/// the tokenizer then truncates itself).
func newestTurns(_ turns: [String], budget: Int, count: (String) -> Int) -> String {
    var kept: [String] = []
    var used = 0
    for turn in turns.reversed() {
        let trimmed = turn.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty { continue }
        let n = count(trimmed)
        if !kept.isEmpty && used + n > budget { break }
        kept.append(trimmed)
        used += n
        if used >= budget { break }
    }
    return kept.reversed().joined(separator: " ")
}

/// Which model a `--model` value names.
public enum ModelSpec: Equatable, Sendable {
    /// The bundled image–text model (dialclip-mini: its own image tower into MiniLM space).
    case bundled
    /// The MiniLM sentence encoder alone (text only).
    case miniLM
    /// A CLIP checkpoint folder or file.
    case clip(path: String)

    public init(_ value: String?) {
        switch value?.lowercased() {
        case nil, "", "dialclip-mini", "default": self = .bundled
        case "minilm", "all-minilm-l6-v2": self = .miniLM
        default: self = .clip(path: value!)
        }
    }
}
