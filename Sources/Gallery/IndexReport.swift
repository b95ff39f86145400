import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why one file was not indexed.
public enum ProblemReason: String, Sendable, Codable, CaseIterable {
    /// Permission denied or I/O error (file or folder).
    case unreadable
    /// 0-byte file.
    case empty
    /// Extension says JPEG/PNG but the bytes say otherwise (or the header is damaged).
    case notAnImage = "not_an_image"
    /// More pixels than the megapixel cap.
    case tooLarge = "too_large"
    /// The encoder (decoder) rejected the file: corrupt data, truncated, …
    case encodeFailed = "encode_failed"
    /// Size or mtime changed between reading and committing; retried on the next run.
    case changedDuringIndexing = "changed_during_indexing"
}

/// One file that was reported and skipped.
public struct FileProblem: Sendable, Codable, Equatable {
    public var path: String
    public var reason: ProblemReason
    public var message: String
}

/// Counts and problems of one `index` run. Field names are the `--json` contract.
public struct IndexReport: Sendable, Codable, Equatable {
    public var roots: [String] = []
    public var model: String = ""
    public var database: String = ""
    /// Images found by the walk (JPEG/PNG by extension).
    public var found = 0
    /// New items encoded and stored.
    public var added = 0
    /// Known items whose content changed, re-encoded.
    public var updated = 0
    /// Known items left as they were (same size+mtime, or same content hash after a touch).
    public var unchanged = 0
    /// Of `unchanged`: files whose mtime/size changed but whose hash did not (no re-encode).
    public var touched = 0
    /// Items whose caption/category changed without the image changing.
    public var captionsUpdated = 0
    /// Rows deleted because their file vanished (or now fails).
    public var removed = 0
    /// Files in other formats, by extension (reported, not indexed).
    public var skippedOtherFormats: [String: Int] = [:]
    public var skippedHidden = 0
    public var skippedExcludedDirs = 0
    /// Links not followed, symlink loops and second paths to an already-seen file.
    public var skippedLinks = 0
    public var brokenLinks = 0
    /// Files reported and skipped, with reasons.
    public var problems: [FileProblem] = []
    /// Caption-source warnings (malformed gallery.jsonl lines, …).
    public var warnings: [String] = []
    /// Transactions committed (one per batch plus the prune).
    public var batchesCommitted = 0
    public var elapsedSeconds: Double = 0
    /// Images encoded per second of the run.
    public var imagesPerSecond: Double = 0

    public init() {}

    /// Total files in other formats.
    public var skippedOtherFormatsTotal: Int { skippedOtherFormats.values.reduce(0, +) }

    enum CodingKeys: String, CodingKey {
        case roots, model, database, found, added, updated, unchanged, touched, removed, problems, warnings
        case captionsUpdated = "captions_updated"
        case skippedOtherFormats = "skipped_other_formats"
        case skippedHidden = "skipped_hidden"
        case skippedExcludedDirs = "skipped_excluded_dirs"
        case skippedLinks = "skipped_links"
        case brokenLinks = "broken_links"
        case batchesCommitted = "batches_committed"
        case elapsedSeconds = "elapsed_seconds"
        case imagesPerSecond = "images_per_second"
    }

    /// Human summary for a non-TTY run or the end of a TTY run (a few lines, problems listed).
    public var plainSummary: String {
        var lines: [String] = []
        lines.append(String(format: "indexed %d images in %.1f s: %d added, %d updated, %d unchanged, %d removed",
                            found, elapsedSeconds, added, updated, unchanged, removed))
        var skips: [String] = []
        if skippedOtherFormatsTotal > 0 {
            let detail = skippedOtherFormats.sorted { $0.key < $1.key }.map { "\($0.key.isEmpty ? "no extension" : $0.key) \($0.value)" }
            skips.append("\(skippedOtherFormatsTotal) in other formats (\(detail.joined(separator: ", ")))")
        }
        if skippedHidden > 0 { skips.append("\(skippedHidden) hidden") }
        if skippedExcludedDirs > 0 { skips.append("\(skippedExcludedDirs) excluded folders") }
        if skippedLinks > 0 { skips.append("\(skippedLinks) duplicate links") }
        if brokenLinks > 0 { skips.append("\(brokenLinks) broken links") }
        if !skips.isEmpty { lines.append("skipped: " + skips.joined(separator: ", ")) }
        if !problems.isEmpty {
            lines.append("\(problems.count) file(s) could not be indexed:")
            for p in problems.prefix(20) { lines.append("  \(p.path): \(p.message)") }
            if problems.count > 20 { lines.append("  … and \(problems.count - 20) more (use --json for the full list)") }
        }
        for w in warnings.prefix(5) { lines.append("warning: \(w)") }
        return lines.joined(separator: "\n")
    }

    /// The `--json` summary (sorted keys, one object).
    public func jsonData() throws -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        return try enc.encode(self)
    }
}

/// Progress of an indexing run, delivered to an observer (the CLI's bar).
public struct IndexProgress: Sendable, Equatable {
    public enum Phase: String, Sendable {
        /// Walking folders; `filesFound` grows.
        case scanning
        /// Reading, hashing and encoding changed files; `done` of `total`.
        case indexing
        /// Deleting rows of vanished files.
        case pruning
        case finished
    }
    public var phase: Phase
    /// Images found so far by the walk.
    public var filesFound: Int
    /// Files that need work (new or changed); unchanged files are not counted here.
    public var total: Int
    public var done: Int
    /// Seconds since the run started.
    public var elapsed: Double
    /// Seconds since the indexing phase started (rate/ETA base).
    public var indexingElapsed: Double
    /// Paths whose rows the transaction just committed (set only on the report that
    /// follows a batch commit; empty otherwise).
    public var committedPaths: [String]

    /// Files per second in the indexing phase, nil before the first file.
    public var rate: Double? { done > 0 && indexingElapsed > 0 ? Double(done) / indexingElapsed : nil }
    /// Seconds left at the current rate.
    public var eta: Double? { rate.map { Double(max(0, total - done)) / $0 } }
}

/// Renders one progress line: `indexing  [#####·····]  120/480  25.3 img/s  ETA 0:14`.
public struct ProgressBar: Sendable {
    public var width: Int
    public var unicode: Bool

    public init(width: Int = 80, unicode: Bool = true) {
        self.width = max(20, width)
        self.unicode = unicode
    }

    public func render(_ p: IndexProgress) -> String {
        switch p.phase {
        case .scanning: return fit("scanning… \(p.filesFound) images found")
        case .pruning: return fit("pruning removed files…")
        case .finished: return fit("done: \(p.done)/\(p.total)")
        case .indexing: break
        }
        let rate = p.rate.map { String(format: "%.1f img/s", $0) } ?? "– img/s"
        let eta = p.eta.map { "ETA " + Self.clock($0) } ?? "ETA –"
        let counts = "\(p.done)/\(p.total)"
        let tail = "  \(counts)  \(rate)  \(eta)"
        let barWidth = max(5, width - 1 - tail.count - 3)
        let frac = p.total > 0 ? min(1, Double(p.done) / Double(p.total)) : 1
        let filled = Int((frac * Double(barWidth)).rounded(.down))
        let (on, off) = unicode ? ("█", "░") : ("#", "-")
        let bar = String(repeating: on, count: filled) + String(repeating: off, count: barWidth - filled)
        return fit("[\(bar)]" + tail)
    }

    private func fit(_ s: String) -> String { s.count < width ? s : String(s.prefix(width - 1)) }

    /// `m:ss` or `h:mm:ss`.
    public static func clock(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "–" }
        let s = Int(seconds.rounded())
        if s >= 3600 { return String(format: "%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60) }
        return String(format: "%d:%02d", s / 60, s % 60)
    }
}

/// Draws `ProgressBar` lines on a terminal (carriage return, at most 10 redraws/s) and
/// stays silent when the output is not a TTY, so logs only get the final summary.
public final class TerminalProgress: @unchecked Sendable {
    private let fd: Int32
    public let isTTY: Bool
    private let lock = NSLock()
    private var lastDraw: Double = 0
    private var drew = false
    private let unicode: Bool

    /// - Parameters:
    ///   - fd: output descriptor (stderr by default, keeping stdout for results).
    ///   - unicode: block characters; pass false without a UTF-8 locale.
    public init(fd: Int32 = 2, unicode: Bool = true) {
        self.fd = fd
        self.isTTY = isatty(fd) == 1
        self.unicode = unicode
    }

    /// Terminal width from TIOCGWINSZ, then $COLUMNS, then 80.
    public var columns: Int {
        var ws = winsize()
        if ioctl(fd, UInt(TIOCGWINSZ), &ws) == 0, ws.ws_col > 0 { return Int(ws.ws_col) }
        if let c = ProcessInfo.processInfo.environment["COLUMNS"].flatMap(Int.init), c > 0 { return c }
        return 80
    }

    /// Observer to pass to `GalleryIndexer.run`.
    public func update(_ p: IndexProgress) {
        guard isTTY else { return }
        lock.lock(); defer { lock.unlock() }
        let now = Date().timeIntervalSinceReferenceDate
        if p.phase == .indexing && p.done < p.total && now - lastDraw < 0.1 { return }
        lastDraw = now
        let line = ProgressBar(width: columns, unicode: unicode).render(p)
        emit("\r\u{1B}[2K" + line)
        drew = true
    }

    /// Clears the bar line (call before printing the summary).
    public func finish() {
        lock.lock(); defer { lock.unlock() }
        if isTTY && drew { emit("\r\u{1B}[2K") }
        drew = false
    }

    private func emit(_ s: String) {
        var bytes = Array(s.utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress! + off, $0.count - off) }
            if n <= 0 { return }
            off += n
        }
    }
}
