import Engine
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Errors of the session files.
public enum SessionError: Error, CustomStringConvertible, Equatable {
    case cannotCreate(path: String, reason: String)
    case cannotWrite(path: String, reason: String)
    case cannotRead(path: String, reason: String)
    case corrupt(path: String, line: Int)
    case noSession(directory: String)

    public var description: String {
        switch self {
        case .cannotCreate(let p, let r): return "cannot create session file \(p): \(r)"
        case .cannotWrite(let p, let r): return "cannot write session file \(p): \(r) (the chat goes on, but is no longer saved)"
        case .cannotRead(let p, let r): return "cannot read session file \(p): \(r)"
        case .corrupt(let p, let l): return "session file \(p) line \(l) is not a turn record; fix or delete that line"
        case .noSession(let d): return "no saved session in \(d); start without --resume"
        }
    }
}

/// One line of a session file.
struct SessionRecord: Codable {
    var speaker: String
    var text: String
    var image: String?
    /// ISO 8601 time the turn was sent (informational).
    var time: String?
}

/// Chat sessions as JSONL files, one turn per line, in
/// `${XDG_STATE_HOME:-~/.local/state}/dialclip/sessions/<timestamp>.jsonl`.
/// Lines are appended and fsync'ed one by one, so a crash loses at most the line being
/// written; `load` tolerates such a torn last line.
public struct SessionStore: Sendable {
    public let directory: URL

    public init(directory: URL) { self.directory = directory }

    /// The XDG state location (XDG_STATE_HOME must be absolute to count, as the spec says).
    public static func defaultDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        let base: URL
        if let xdg = environment["XDG_STATE_HOME"], xdg.hasPrefix("/") {
            base = URL(fileURLWithPath: xdg)
        } else {
            let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
            base = URL(fileURLWithPath: home).appendingPathComponent(".local/state")
        }
        return base.appendingPathComponent("dialclip/sessions")
    }

    /// A file name that sorts by time: `20250131T235959.123Z.jsonl`.
    public static func fileName(for date: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd'T'HHmmss.SSS'Z'"
        return f.string(from: date) + ".jsonl"
    }

    /// Starts a new session file.
    public func create(now: Date = Date()) throws -> SessionWriter {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw SessionError.cannotCreate(path: directory.path, reason: "\(error.localizedDescription)")
        }
        let base = Self.fileName(for: now)
        for attempt in 0..<100 {
            let name = attempt == 0 ? base : base.replacingOccurrences(of: ".jsonl", with: "-\(attempt).jsonl")
            let url = directory.appendingPathComponent(name)
            let fd = open(url.path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0o600)
            if fd >= 0 {
                SessionWriter.syncDirectory(directory.path)
                return SessionWriter(url: url, fd: fd)
            }
            if errno != EEXIST { throw SessionError.cannotCreate(path: url.path, reason: String(cString: strerror(errno))) }
        }
        throw SessionError.cannotCreate(path: directory.appendingPathComponent(base).path, reason: "too many sessions with the same time stamp")
    }

    /// Session files, oldest first.
    public func sessions() -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".jsonl") }.sorted().map { directory.appendingPathComponent($0) }
    }

    /// The newest session, nil when there is none.
    public func newest() -> URL? { sessions().last }

    /// Opens the newest session for appending, with its turns (`--resume`).
    public func resumeNewest() throws -> (writer: SessionWriter, turns: [DialogTurn]) {
        guard let url = newest() else { throw SessionError.noSession(directory: directory.path) }
        let turns = try Self.load(url)
        let fd = open(url.path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard fd >= 0 else { throw SessionError.cannotWrite(path: url.path, reason: String(cString: strerror(errno))) }
        let writer = SessionWriter(url: url, fd: fd)
        writer.repairTornTail()
        return (writer, turns)
    }

    /// Reads a session file. A torn last line (crash while writing) is ignored; a bad line
    /// anywhere else is an error.
    public static func load(_ url: URL) throws -> [DialogTurn] {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw SessionError.cannotRead(path: url.path, reason: error.localizedDescription)
        }
        let text = String(decoding: data, as: UTF8.self)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        var turns: [DialogTurn] = []
        let decoder = JSONDecoder()
        for (i, line) in lines.enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            if let r = try? decoder.decode(SessionRecord.self, from: Data(trimmed.utf8)) {
                turns.append(DialogTurn(speaker: r.speaker, text: r.text, imagePath: r.image))
            } else if i == lines.count - 1 {
                continue  // torn tail: the crash happened mid-write
            } else {
                throw SessionError.corrupt(path: url.path, line: i + 1)
            }
        }
        return turns
    }

    /// One dialogue in the shared format: `{"id", "turns": [{"speaker", "text", "image"?}]}`
    /// as a single JSON line (with trailing newline).
    public static func export(turns: [DialogTurn], id: String) -> String {
        struct ExportTurn: Encodable { var speaker: String; var text: String; var image: String? }
        struct ExportDialogue: Encodable { var id: String; var turns: [ExportTurn] }
        let d = ExportDialogue(id: id, turns: turns.map { ExportTurn(speaker: $0.speaker, text: $0.text, image: $0.imagePath) })
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? enc.encode(d)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// Session id from a file URL (its name without `.jsonl`).
    public static func sessionID(of url: URL) -> String {
        "session-" + url.deletingPathExtension().lastPathComponent
    }
}

/// Appends turns to one session file. Thread-safe.
public final class SessionWriter: @unchecked Sendable {
    public let url: URL
    private let lock = NSLock()
    private var fd: Int32

    init(url: URL, fd: Int32) {
        self.url = url
        self.fd = fd
    }

    deinit { if fd >= 0 { _ = Glibc.close(fd) } }

    /// Cuts a torn last line (a crash mid-write) off the file, so the next record starts
    /// on a line of its own and the file stays valid JSONL.
    func repairTornTail() {
        guard let data = FileManager.default.contents(atPath: url.path), let last = data.last, last != 0x0A else { return }
        let keep = data.lastIndex(of: 0x0A).map { data.distance(from: data.startIndex, to: $0) + 1 } ?? 0
        lock.lock(); defer { lock.unlock() }
        if ftruncate(fd, off_t(keep)) == 0 { _ = fsync(fd) }
    }

    /// Appends one turn and waits until it is on disk (write + fsync).
    public func append(_ turn: DialogTurn, time: Date = Date()) throws {
        let iso = ISO8601DateFormatter().string(from: time)
        let record = SessionRecord(speaker: turn.speaker, text: turn.text, image: turn.imagePath, time: iso)
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var data: Data
        do { data = try enc.encode(record) } catch {
            throw SessionError.cannotWrite(path: url.path, reason: "\(error)")
        }
        data.append(0x0A)
        try writeAll(data)
    }

    private func writeAll(_ data: Data) throws {
        lock.lock(); defer { lock.unlock() }
        guard fd >= 0 else { throw SessionError.cannotWrite(path: url.path, reason: "closed") }
        try data.withUnsafeBytes { (buf: UnsafeRawBufferPointer) in
            var off = 0
            while off < buf.count {
                let n = write(fd, buf.baseAddress! + off, buf.count - off)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw SessionError.cannotWrite(path: url.path, reason: String(cString: strerror(errno)))
                }
                off += n
            }
        }
        if fsync(fd) != 0 {
            throw SessionError.cannotWrite(path: url.path, reason: "fsync: " + String(cString: strerror(errno)))
        }
    }

    /// Closes the file (appends after this fail).
    public func close() {
        lock.lock(); defer { lock.unlock() }
        if fd >= 0 { _ = Glibc.close(fd); fd = -1 }
    }

    /// fsync the directory so a new file's name survives a crash too.
    static func syncDirectory(_ path: String) {
        let dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 { _ = fsync(dfd); _ = Glibc.close(dfd) }
    }
}
