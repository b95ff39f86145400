import Engine
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Errors of the non-interactive line mode.
public enum LineModeError: Error, CustomStringConvertible {
    case retrievalFailed(turn: Int, reason: String)
    public var description: String {
        switch self {
        case .retrievalFailed(let t, let r): return "retrieval for input line \(t) failed: \(r)"
        }
    }
}

/// Writes to the process's standard output, flushing after every write so a pipe sees each
/// turn's results as soon as they exist.
public struct StandardOutputStream: TextOutputStream {
    public init() {}
    public mutating func write(_ string: String) {
        // write(2) on fd 1: unbuffered, and no access to the C `stdout` global.
        var bytes = Array(string.utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(1, $0.baseAddress! + off, $0.count - off) }
            if n < 0 { if errno == EINTR { continue }; return }
            off += n
        }
    }
}

/// Lines of standard input, read lazily (each `next()` blocks until a line arrives).
public struct StandardInputLines: Sequence, IteratorProtocol {
    public init() {}
    public mutating func next() -> String? { readLine(strippingNewline: true) }
}

/// Line-mode JSON shapes (one object per turn).
struct LineModePhoto: Encodable { var rank: Int; var path: String; var score: Double; var caption: String; var category: String? }
struct LineModeReply: Encodable { var rank: Int; var text: String; var score: Double }
struct LineModeTurn: Encodable {
    var turn: Int
    var text: String
    var image: String?
    var photos: [LineModePhoto]
    var replies: [LineModeReply]
    var photo_share_probability: Double?
    var latency_ms: Double

    func encode(to encoder: Encoder) throws {
        enum K: String, CodingKey { case turn, text, image, photos, replies, photo_share_probability, latency_ms }
        var c = encoder.container(keyedBy: K.self)
        try c.encode(turn, forKey: .turn)
        try c.encode(text, forKey: .text)
        try c.encodeIfPresent(image, forKey: .image)
        try c.encode(photos, forKey: .photos)
        try c.encode(replies, forKey: .replies)
        // Always present (null when the engine has no routing head), so scripts can rely on it.
        try c.encode(photo_share_probability, forKey: .photo_share_probability)
        try c.encode(latency_ms, forKey: .latency_ms)
    }
}

/// Float → Double without binary noise (0.1f prints as 0.1, not 0.10000000149011612).
func cleanDouble(_ f: Float) -> Double { Double(String(describing: f)) ?? Double(f) }

/// Turns one input line into a dialogue turn: `@/path/to/photo.jpg` (an existing file)
/// shares a photo, anything else is text from the user (speaker "A"). Blank lines: nil.
public func lineModeTurn(from line: String, fileExists: (String) -> Bool = { FileManager.default.fileExists(atPath: $0) }) -> DialogTurn? {
    let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
    if trimmed.isEmpty { return nil }
    if trimmed.hasPrefix("@") {
        let path = String(trimmed.dropFirst()).trimmingCharacters(in: .whitespaces)
        if path.hasPrefix("/") && fileExists(path) {
            return DialogTurn(speaker: TUIState.userSpeaker, text: "", imagePath: path)
        }
    }
    return DialogTurn(speaker: TUIState.userSpeaker, text: line)
}

/// Non-interactive mode for pipes and scripts: every input line is a user turn; after
/// each, retrieval runs over the whole dialogue so far and the results are written.
///
/// Plain output, per turn: `# turn N: <text>`, then the top photo paths one per line,
/// then `# reply R (score): <text>` lines — so `grep -v '^#'` yields paths.
/// JSON output (`json: true`): one object per turn,
/// `{"turn", "text", "image"?, "photos": [{"rank","path","score","caption","category"?}],
///   "replies": [{"rank","text","score"}], "photo_share_probability", "latency_ms"}`.
/// Returns the number of turns processed. Turns are appended to `session` when given.
@discardableResult
public func runLineMode<Lines: Sequence, Output: TextOutputStream>(
    engine: any RetrievalEngine, input: Lines, output: inout Output, json: Bool,
    k: Int = 5, replies: Int = 3, session: SessionWriter? = nil
) async throws -> Int where Lines.Element == String {
    var context: [DialogTurn] = []
    var count = 0
    let enc = JSONEncoder()
    enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    var kinds: Set<RetrievalKind> = [.image]
    if replies > 0 { kinds.insert(.reply) }
    for line in input {
        guard let turn = lineModeTurn(from: line) else { continue }
        context.append(turn)
        count += 1
        if let session { try session.append(turn) }
        let result: RetrievalResult
        do {
            result = try await engine.retrieve(context: context, kinds: kinds, k: max(k, replies))
        } catch {
            throw LineModeError.retrievalFailed(turn: count, reason: "\(error)")
        }
        let photos = Array(result.photos.prefix(k))
        let replyHits = Array(result.replies.prefix(replies))
        if json {
            let record = LineModeTurn(
                turn: count, text: turn.text, image: turn.imagePath,
                photos: photos.map { LineModePhoto(rank: $0.rank, path: $0.path ?? "", score: cleanDouble($0.score), caption: $0.text, category: $0.category) },
                replies: replyHits.map { LineModeReply(rank: $0.rank, text: $0.text, score: cleanDouble($0.score)) },
                photo_share_probability: result.photoShareProbability.map(cleanDouble),
                latency_ms: (result.latencySeconds * 1000 * 1000).rounded() / 1000)
            let data = try enc.encode(record)
            output.write(String(decoding: data, as: UTF8.self) + "\n")
        } else {
            let shown = turn.imagePath.map { "[photo] " + $0 } ?? turn.text
            var text = "# turn \(count): \(TextWidth.sanitize(shown))\n"
            for p in photos { text += TextWidth.sanitize(p.path ?? p.text) + "\n" }
            for r in replyHits {
                text += "# reply \(r.rank) (\(String(format: "%.3f", Double(r.score)))): \(TextWidth.sanitize(r.text))\n"
            }
            output.write(text)
        }
    }
    return count
}
