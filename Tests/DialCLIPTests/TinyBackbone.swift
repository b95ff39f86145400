import DialCLIP
import Foundation
import Tensor
import TestSupport
import Training

/// Writes a tiny random BERT-like model folder (config.json, model.safetensors, vocab.txt)
/// in the layout `BERTModel` loads, so DialCLIP's MiniLM path runs on millisecond models.
enum TinyBackbone {
    static let words = ["the", "a", "dog", "cat", "red", "car", "beach", "sunset", "pizza", "party", "photo", "look",
                        "at", "my", "new", "hi", "how", "are", "you", "good", "nice", "wow", "lol", "yes", "no", "?", "!", "."]

    static func bertFolder(width: Int = 8, layers: Int = 2, heads: Int = 2, mlp: Int = 16, seed: UInt64 = 1) throws -> String {
        let dir = try Fixtures.temporaryDirectory("dialclip-tiny-bert")
        var rng = TrainingRNG(seed: seed)
        let vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words
        try vocab.joined(separator: "\n").appending("\n").write(to: dir.appendingPathComponent("vocab.txt"), atomically: true, encoding: .utf8)
        let config: [String: Any] = ["hidden_size": width, "num_hidden_layers": layers, "num_attention_heads": heads,
                                     "intermediate_size": mlp, "hidden_act": "gelu", "layer_norm_eps": 1e-12]
        try JSONSerialization.data(withJSONObject: config).write(to: dir.appendingPathComponent("config.json"))
        func r(_ shape: [Int], _ s: Float = 0.3) -> Tensor { rng.normalTensor(shape, std: s) }
        func gamma(_ n: Int) -> Tensor {
            var t = r([n], 0.1); let p = t.mutablePointer; for i in 0..<n { p[i] += 1 }; return t
        }
        var t: [(name: String, tensor: Tensor)] = [
            ("embeddings.word_embeddings.weight", r([vocab.count, width], 1)),
            ("embeddings.position_embeddings.weight", r([128, width], 0.5)),
            ("embeddings.token_type_embeddings.weight", r([2, width], 0.1)),
            ("embeddings.LayerNorm.weight", gamma(width)), ("embeddings.LayerNorm.bias", r([width], 0.1)),
        ]
        for l in 0..<layers {
            let p = "encoder.layer.\(l)."
            for n in ["query", "key", "value"] {
                t.append((p + "attention.self.\(n).weight", r([width, width], 0.4)))
                t.append((p + "attention.self.\(n).bias", r([width], 0.1)))
            }
            t += [(p + "attention.output.dense.weight", r([width, width], 0.4)), (p + "attention.output.dense.bias", r([width], 0.1)),
                  (p + "attention.output.LayerNorm.weight", gamma(width)), (p + "attention.output.LayerNorm.bias", r([width], 0.1)),
                  (p + "intermediate.dense.weight", r([mlp, width], 0.4)), (p + "intermediate.dense.bias", r([mlp], 0.1)),
                  (p + "output.dense.weight", r([width, mlp], 0.3)), (p + "output.dense.bias", r([width], 0.1)),
                  (p + "output.LayerNorm.weight", gamma(width)), (p + "output.LayerNorm.bias", r([width], 0.1))]
        }
        try SafeTensorsWriter.write(t, to: dir.appendingPathComponent("model.safetensors").path)
        return dir.path
    }

    /// A tiny PhotoChat-format file: each dialogue talks about two objects and shares a photo of them.
    static func photoChatFile(dialogues n: Int = 24, seed: UInt64 = 3) throws -> String {
        let objects = ["dog", "cat", "car", "beach", "sunset", "pizza", "party"]
        var rng = TrainingRNG(seed: seed)
        var lines: [String] = []
        for i in 0..<n {
            let a = objects[i % objects.count], b = objects[(i / objects.count + i + 1) % objects.count]
            let filler = ["hi", "how are you", "good", "nice", "wow", "lol", "yes"]
            var turns: [[String: String]] = []
            for k in 0..<4 { turns.append(["speaker": k % 2 == 0 ? "A" : "B", "text": filler[Int(rng.next() % 7)]]) }
            turns.append(["speaker": "A", "text": "look at my new \(a) and the \(b)"])
            turns.append(["speaker": "B", "text": "wow nice \(a) photo"])
            let rec: [String: Any] = ["id": "tiny-\(i)", "turns": turns, "share_turn": 4,
                                      "photo": ["description": "\(a) \(b)", "url": "", "shared_by": "A"]]
            lines.append(String(decoding: try JSONSerialization.data(withJSONObject: rec, options: [.sortedKeys]), as: UTF8.self))
        }
        let url = try Fixtures.temporaryDirectory("dialclip-tiny-photochat").appendingPathComponent("photochat.jsonl")
        try lines.joined(separator: "\n").write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }
}
