import DialCLIP
import Foundation
import Gallery
import Tensor

/// A pool of candidate text replies with their embeddings, cached on disk per (model,
/// pool) so only the first use pays for encoding.
public final class ReplyIndex: @unchecked Sendable {
    public let replies: [String]
    public let embeddings: Tensor   // [n, d], L2-normalised
    public let poolPath: String

    /// Loads `poolPath` (one reply per line) and its embeddings from the cache, encoding
    /// and caching them when absent. `progress` is told how many are encoded so far.
    public init(poolPath: String, encoder: TextEmbedder, cacheDirectory: String = ReplyIndex.defaultCacheDirectory,
                progress: ((Int, Int) -> Void)? = nil) throws {
        self.poolPath = poolPath
        replies = try ReplyPool.read(path: poolPath)
        let key = ContentHash.hex(ContentHash.fnv1a64(Array(replies.joined(separator: "\n").utf8)))
        let cachePath = "\(cacheDirectory)/replies-\(encoder.name.replacingOccurrences(of: "/", with: "_"))-\(encoder.dimension)-\(key).safetensors"
        if let cached = try? SafeTensorsFile(path: cachePath), let t = try? cached.tensor("embeddings", shape: [replies.count, encoder.dimension]) {
            embeddings = t
            return
        }
        var out = Tensor(zeros: [replies.count, encoder.dimension])
        let chunk = 256
        var done = 0
        while done < replies.count {
            let part = Array(replies[done..<min(replies.count, done + chunk)])
            let e = try encoder.embed(texts: part)
            (out.mutablePointer + done * encoder.dimension).update(from: e.pointer, count: e.count)
            done += part.count
            progress?(done, replies.count)
        }
        embeddings = out
        try? FileManager.default.createDirectory(atPath: cacheDirectory, withIntermediateDirectories: true)
        try? SafeTensorsWriter.write([("embeddings", out)], metadata: ["pool": poolPath, "model": encoder.name], to: cachePath)
    }

    /// `$XDG_CACHE_HOME/dialclip/embeddings` (default `~/.cache/dialclip/embeddings`).
    public static var defaultCacheDirectory: String {
        let env = ProcessInfo.processInfo.environment
        let cache = env["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? (NSHomeDirectory() + "/.cache")
        return cache + "/dialclip/embeddings"
    }

    /// The k best replies for an L2-normalised query embedding (one product + partial top-k).
    public func search(query: Tensor, k: Int) throws -> [(reply: String, score: Float)] {
        let scores = try embeddings.matmulTransposed(try query.reshaped([1, -1]))
        return FilteredTopK.select(count: scores.count, k: k, scores: scores.pointer).map { (replies[$0.index], $0.score) }
    }
}
