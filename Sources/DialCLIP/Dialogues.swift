import Foundation

/// A turn of a stored dialogue (the shared PhotoChat / Chit-Chat JSONL format).
public struct DialogueTurn: Sendable, Equatable, Codable {
    public var speaker: String
    public var text: String
    /// A photo shared in this turn (dialclip's own sessions; not in the public data).
    public var image: String?

    public init(speaker: String, text: String, image: String? = nil) {
        self.speaker = speaker; self.text = text; self.image = image
    }
}

/// The photo a PhotoChat dialogue shares.
public struct SharedPhoto: Sendable, Equatable, Codable {
    public var description: String
    public var url: String?
    public var sharedBy: String?
}

/// One dialogue: `{"id", "turns": [{"speaker", "text"}], "share_turn"?, "photo"?}`.
public struct Dialogue: Sendable, Equatable {
    public var id: String
    public var turns: [DialogueTurn]
    /// Index of the last turn before the photo is sent (PhotoChat).
    public var shareTurn: Int?
    public var photo: SharedPhoto?

    public init(id: String, turns: [DialogueTurn], shareTurn: Int? = nil, photo: SharedPhoto? = nil) {
        self.id = id; self.turns = turns; self.shareTurn = shareTurn; self.photo = photo
    }

    /// The record as a JSON object in the shared format.
    public var jsonObject: [String: Any] {
        var o: [String: Any] = ["id": id, "turns": turns.map { t -> [String: Any] in
            var d: [String: Any] = ["speaker": t.speaker, "text": t.text]
            if let i = t.image { d["image"] = i }
            return d
        }]
        if let s = shareTurn { o["share_turn"] = s }
        if let p = photo {
            var d: [String: Any] = ["description": p.description]
            if let u = p.url { d["url"] = u }
            if let b = p.sharedBy { d["shared_by"] = b }
            o["photo"] = d
        }
        return o
    }
}

/// Problems in a dialogue file, with the line they are on.
public enum DialogueFileError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, reason: String)
    case tooLarge(path: String, bytes: Int, limit: Int)
    case invalidUTF8(path: String, line: Int)
    case invalidJSON(path: String, line: Int)
    case invalidRecord(path: String, line: Int, reason: String)
    case empty(path: String)
    /// A reply pool with no non-blank line.
    case emptyPool(path: String)

    public var description: String {
        switch self {
        case .unreadable(let p, let r): return "cannot read \(p): \(r)"
        case .tooLarge(let p, let b, let l): return "\(p) is \(b) bytes; dialogue and reply files are limited to \(l) bytes"
        case .invalidUTF8(let p, let l): return "\(p):\(l): not valid UTF-8"
        case .invalidJSON(let p, let l): return "\(p):\(l): not a JSON object"
        case .invalidRecord(let p, let l, let r): return "\(p):\(l): \(r)"
        case .empty(let p): return "\(p) holds no dialogues"
        case .emptyPool(let p): return "\(p) holds no replies (one reply per line)"
        }
    }
}

/// Reads and writes dialogue JSONL. Untrusted input: every line is validated, sizes are
/// capped, and each problem is reported with its line number.
public enum DialogueFile {
    /// Largest file read (1 GiB).
    public static let maxFileBytes = 1 << 30
    /// Longest turn text kept; longer texts are cut (a chat turn, not a book).
    public static let maxTurnCharacters = 10_000
    /// Most turns kept per dialogue (the newest are kept when cutting).
    public static let maxTurns = 1_000

    public static func read(path: String) throws -> [Dialogue] {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        if let size = (attributes?[.size] as? NSNumber)?.intValue, size > maxFileBytes {
            throw DialogueFileError.tooLarge(path: path, bytes: size, limit: maxFileBytes)
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            let reason = FileManager.default.fileExists(atPath: path) ? "permission denied or not a file" : "no such file"
            throw DialogueFileError.unreadable(path: path, reason: reason)
        }
        let dialogues = try parse(data, path: path)
        guard !dialogues.isEmpty else { throw DialogueFileError.empty(path: path) }
        return dialogues
    }

    /// Parses JSONL bytes (blank lines are skipped).
    public static func parse(_ data: Data, path: String = "<input>") throws -> [Dialogue] {
        var out: [Dialogue] = []
        var lineNumber = 0
        for rawLine in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            guard let line = String(bytes: rawLine, encoding: .utf8) else {
                throw DialogueFileError.invalidUTF8(path: path, line: lineNumber)
            }
            if line.allSatisfy({ $0.isWhitespace }) { continue }
            guard let object = (try? JSONSerialization.jsonObject(with: Data(rawLine))) as? [String: Any] else {
                throw DialogueFileError.invalidJSON(path: path, line: lineNumber)
            }
            out.append(try record(object, path: path, line: lineNumber))
        }
        return out
    }

    static func record(_ o: [String: Any], path: String, line: Int) throws -> Dialogue {
        func bad(_ reason: String) -> DialogueFileError { .invalidRecord(path: path, line: line, reason: reason) }
        let id: String
        switch o["id"] {
        case let s as String: id = s
        case let n as NSNumber: id = n.stringValue
        case nil: id = "line-\(line)"
        default: throw bad("'id' is neither a string nor a number")
        }
        guard let rawTurns = o["turns"] as? [Any] else { throw bad("'turns' is missing or not a list") }
        var turns: [DialogueTurn] = []
        for (i, t) in rawTurns.enumerated() {
            guard let turn = t as? [String: Any] else { throw bad("turn \(i) is not an object") }
            guard let text = turn["text"] as? String else { throw bad("turn \(i) has no string 'text'") }
            let speaker = (turn["speaker"] as? String) ?? (i % 2 == 0 ? "A" : "B")
            turns.append(DialogueTurn(speaker: String(speaker.prefix(32)), text: String(text.prefix(maxTurnCharacters)),
                                      image: turn["image"] as? String))
        }
        var shareTurn: Int?
        if let s = o["share_turn"] {
            guard let n = s as? Int, n >= 0, n < turns.count else {
                throw bad("'share_turn' must be a turn index below \(turns.count)")
            }
            shareTurn = n
        }
        if turns.count > maxTurns {
            let drop = turns.count - maxTurns
            turns.removeFirst(drop)
            if let s = shareTurn { shareTurn = s >= drop ? s - drop : nil }
        }
        var photo: SharedPhoto?
        if let p = o["photo"] {
            guard let d = p as? [String: Any], let desc = d["description"] as? String else {
                throw bad("'photo' has no string 'description'")
            }
            photo = SharedPhoto(description: String(desc.prefix(maxTurnCharacters)), url: d["url"] as? String,
                                sharedBy: d["shared_by"] as? String)
        }
        return Dialogue(id: id, turns: turns, shareTurn: shareTurn, photo: photo)
    }

    /// One JSON line per dialogue.
    public static func serialize(_ dialogues: [Dialogue]) throws -> Data {
        var out = Data()
        for d in dialogues {
            out.append(try JSONSerialization.data(withJSONObject: d.jsonObject, options: [.sortedKeys, .withoutEscapingSlashes]))
            out.append(UInt8(ascii: "\n"))
        }
        return out
    }
}

/// Reply pools: one reply per line (UTF-8). Blank lines and duplicates are dropped.
public enum ReplyPool {
    public static func read(path: String) throws -> [String] {
        // Same cap as dialogue files: the pool is read into memory whole.
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        if let size = (attributes?[.size] as? NSNumber)?.intValue, size > DialogueFile.maxFileBytes {
            throw DialogueFileError.tooLarge(path: path, bytes: size, limit: DialogueFile.maxFileBytes)
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DialogueFileError.unreadable(path: path, reason: FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file")
        }
        var seen = Set<String>()
        var replies: [String] = []
        var lineNumber = 0
        for raw in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            guard let line = String(bytes: raw, encoding: .utf8) else { throw DialogueFileError.invalidUTF8(path: path, line: lineNumber) }
            let t = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if t.isEmpty || seen.contains(t) { continue }
            seen.insert(t)
            replies.append(String(t.prefix(DialogueFile.maxTurnCharacters)))
        }
        guard !replies.isEmpty else { throw DialogueFileError.emptyPool(path: path) }
        return replies
    }
}
