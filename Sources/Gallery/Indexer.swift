import Foundation
import Tensor
import GRDB
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Options of one `dialclip index` run.
public struct IndexOptions: Sendable {
    /// What the walk visits (excluded folders, hidden files, symlinks).
    public var walk = WalkOptions()
    /// Files per encode call and per write transaction: a kill loses at most one batch.
    public var batchSize = 32
    /// Images with more pixels than this (in millions) are reported as too large and
    /// skipped before decoding; nil disables the cap. 100 MP covers any camera photo
    /// while refusing decompression bombs.
    public var maxMegapixels: Double? = 100
    /// Embedding BLOB type in the database.
    public var storage: EmbeddingStorage = .fp32
    /// Seconds to wait for another `index` run on the same database before failing.
    public var lockTimeout: TimeInterval = 5
    /// Delete rows of files that vanished under the indexed roots.
    public var prune = true

    public init(walk: WalkOptions = WalkOptions(), batchSize: Int = 32, maxMegapixels: Double? = 100,
                storage: EmbeddingStorage = .fp32, lockTimeout: TimeInterval = 5, prune: Bool = true) {
        self.walk = walk
        self.batchSize = max(1, batchSize)
        self.maxMegapixels = maxMegapixels
        self.storage = storage
        self.lockTimeout = lockTimeout
        self.prune = prune
    }
}

/// Exclusive "one indexer per database" lock: `flock` on `<db>.lock`. The kernel drops it
/// when the process dies (even by SIGKILL), so a crash never leaves a stale lock.
/// SQLite's own locks keep the *database* consistent; this lock only keeps two indexers
/// from encoding the same files twice and gives the second a clear message.
public final class IndexLock {
    private var fd: Int32

    /// Takes the lock, polling up to `timeout` seconds.
    /// - Throws: `GalleryError.indexingInProgress` when another process keeps it.
    public init(databasePath: String, timeout: TimeInterval) throws {
        let lockPath = databasePath + ".lock"
        fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw GalleryError.io(path: lockPath, message: "cannot create the index lock file: \(String(cString: strerror(errno)))")
        }
        let start = Date()
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            if errno != EWOULDBLOCK && errno != EINTR {
                let msg = String(cString: strerror(errno))
                close(fd)
                throw GalleryError.io(path: lockPath, message: "cannot lock: \(msg)")
            }
            if Date().timeIntervalSince(start) >= timeout {
                close(fd)
                throw GalleryError.indexingInProgress(path: databasePath, waitedSeconds: timeout)
            }
            usleep(50_000)
        }
    }

    /// Releases the lock (also done on deinit).
    public func release() {
        if fd >= 0 { flock(fd, LOCK_UN); close(fd); fd = -1 }
    }

    deinit { release() }
}

/// Walks folders and brings the index up to date for one model.
///
/// Per file: unchanged size+mtime (and an embedding for this model) → skipped without
/// reading; otherwise read, check magic bytes and header size, SHA-256; same hash as
/// stored → only the stat is updated ("touched"); else encoded. Files are encoded in
/// batches; each batch is one write transaction. After the batches, rows of files that
/// vanished under the roots are deleted in one more transaction.
///
/// "In doubt" rule: a row whose mtime is within 2 s of its own indexing time may have been
/// modified again within the same timestamp tick, so it is re-hashed even if size+mtime match.
public final class GalleryIndexer: Sendable {
    public let index: GalleryIndex
    public let encoder: any GalleryEncoder
    public let options: IndexOptions

    public init(index: GalleryIndex, encoder: any GalleryEncoder, options: IndexOptions = IndexOptions()) {
        self.index = index
        self.encoder = encoder
        self.options = options
    }

    /// Indexes `roots` (folders; relative paths resolve against the current directory).
    /// - Parameter progress: called on the calling thread: during the scan, after each
    ///   file, after each committed batch (with `committedPaths`), and at the end.
    /// - Throws: `.notADirectory` for a missing root (nothing is written or pruned),
    ///   `.indexingInProgress`, `.modelDimensionMismatch`, `.databaseLocked`, or an error
    ///   thrown by the encoder for a whole batch (batches committed before it remain).
    public func run(roots: [String], progress: ((IndexProgress) -> Void)? = nil) throws -> IndexReport {
        let start = Date()
        let model = encoder.identity
        try model.validate()
        var roots = roots.map { GalleryPaths.absolute($0) }
        var uniqueRoots: [String] = []
        for r in roots where !uniqueRoots.contains(r) { uniqueRoots.append(r) }
        roots = uniqueRoots
        for r in roots {
            guard let st = FileStat.of(r), st.isDirectory else { throw GalleryError.notADirectory(path: r) }
        }

        let lock = try IndexLock(databasePath: index.path, timeout: options.lockTimeout)
        defer { lock.release() }
        let modelID = try index.register(model: model)

        var report = IndexReport()
        report.roots = roots
        report.model = model.name
        report.database = index.path

        func emit(_ phase: IndexProgress.Phase, total: Int = 0, done: Int = 0, indexingStart: Date? = nil, committed: [String] = []) {
            guard let progress else { return }
            progress(IndexProgress(phase: phase, filesFound: report.found, total: total, done: done,
                                   elapsed: Date().timeIntervalSince(start),
                                   indexingElapsed: indexingStart.map { Date().timeIntervalSince($0) } ?? 0,
                                   committedPaths: committed))
        }

        // 1. Walk.
        emit(.scanning)
        let own = Set(["", "-wal", "-shm", "-journal", ".lock"].map { index.path + $0 })
        let walk = FileWalker(options: options.walk, ignorePaths: own).walk(roots: roots) { n in
            report.found = n
            emit(.scanning)
        }
        report.found = walk.files.count
        report.skippedHidden = walk.skippedHidden
        report.skippedExcludedDirs = walk.skippedExcludedDirs
        report.skippedLinks = walk.skippedLinks
        report.brokenLinks = walk.brokenLinks
        report.skippedOtherFormats = walk.otherFormats
        report.problems = walk.problems

        // 2. Caption sources: shallow gallery.jsonl files first, deeper ones override.
        var captions: [String: CaptionInfo] = [:]
        for file in walk.captionFiles.sorted(by: { $0.split(separator: "/").count < $1.split(separator: "/").count }) {
            let (entries, warnings) = CaptionSources.loadGalleryJSONL(file)
            captions.merge(entries) { _, new in new }
            report.warnings += warnings
        }
        func captionInfo(_ f: WalkedFile) -> CaptionInfo {
            var info = captions[f.path] ?? CaptionInfo()
            if let sidecar = f.sidecar, let text = CaptionSources.readSidecar(sidecar) { info.caption = text }
            return info
        }

        // 3. What the database knows under these roots.
        var existing: [String: GalleryItem] = [:]
        for r in roots { for item in try index.imageRows(under: r) { existing[item.path] = item } }
        let embedded = try index.itemIDsWithEmbedding(modelID: modelID)

        // 4. Classify.
        var work: [(WalkedFile, CaptionInfo)] = []
        var metadataOnly: [ItemRecord] = []
        for f in walk.files {
            let info = captionInfo(f)
            if let row = existing[f.path], row.size == f.stat.size, row.mtimeNs == f.stat.mtimeNs,
               embedded.contains(row.id), !Self.isRacy(row) {
                report.unchanged += 1
                if row.caption != info.caption || row.category != info.category || row.label != info.label || row.metadata != info.metadata {
                    metadataOnly.append(Self.record(row: row, info: info))
                }
            } else {
                work.append((f, info))
            }
        }
        for chunk in metadataOnly.chunked(256) {
            try index.commitBatch(modelID: modelID, storage: options.storage, records: Array(chunk), deleteIDs: [])
            report.captionsUpdated += chunk.count
            report.batchesCommitted += 1
        }

        // 5. Batches: read, hash and prepare (decode) batch i+1 on a background thread while
        //    batch i is encoded and committed here, so decoding overlaps the model.
        let indexingStart = Date()
        var done = 0
        var encodedCount = 0
        emit(.indexing, total: work.count, done: 0, indexingStart: indexingStart)
        let batches = work.chunked(options.batchSize)
        let planner = BatchPlanner(encoder: encoder, options: options, existing: existing, embedded: embedded)
        let prefetch = Prefetcher { planner.plan(batches[$0]) }
        defer { prefetch.finish() }
        if !batches.isEmpty { prefetch.start(0) }
        for b in batches.indices {
            let plan = prefetch.take()
            if b + 1 < batches.count { prefetch.start(b + 1) }
            let batch = batches[b]
            var records: [ItemRecord] = []
            var deleteIDs = plan.deleteIDs
            var touched = plan.touched
            report.problems += plan.problems

            func fail(_ f: WalkedFile, _ reason: ProblemReason, _ message: String) {
                report.problems.append(FileProblem(path: f.path, reason: reason, message: message))
                if reason != .changedDuringIndexing, let row = existing[f.path] { deleteIDs.append(row.id) }
            }

            if let prepared = plan.prepared {
                let toEncode = plan.toEncode
                let results = try encoder.encodeImages(prepared: prepared)
                guard results.count == toEncode.count else {
                    throw GalleryError.invalidModel("encoder '\(model.name)' returned \(results.count) results for \(toEncode.count) images")
                }
                for ((f, rec), result) in zip(toEncode, results) {
                    switch result {
                    case .failure(let error):
                        fail(f, .encodeFailed, "\(error)")
                    case .success(let v):
                        guard v.count == model.dim else {
                            throw GalleryError.vectorDimension(expected: model.dim, got: v.count, context: "encoder '\(model.name)' on \(f.path)")
                        }
                        guard v.allSatisfy({ $0.isFinite }), v.contains(where: { $0 != 0 }) else {
                            fail(f, .encodeFailed, "the model produced an invalid (zero or non-finite) embedding")
                            continue
                        }
                        var r = rec
                        r.embedding = v
                        touched.append((f, r)) // re-stat below, same as touched files
                    }
                }
            }

            // A file whose stat moved since the walk changed under us: keep the old row,
            // the next run will pick the new content up.
            for (f, rec) in touched {
                guard let now = FileStat.of(f.path), now.size == f.stat.size, now.mtimeNs == f.stat.mtimeNs else {
                    fail(f, .changedDuringIndexing, "file changed while it was being indexed; run index again")
                    continue
                }
                records.append(rec)
            }

            try index.commitBatch(modelID: modelID, storage: options.storage, records: records, deleteIDs: deleteIDs)
            report.batchesCommitted += 1
            report.removed += deleteIDs.count
            for r in records {
                if r.embedding == nil {
                    report.unchanged += 1
                    report.touched += 1
                } else if let row = existing[r.path], embedded.contains(row.id) {
                    report.updated += 1; encodedCount += 1
                } else {
                    report.added += 1; encodedCount += 1
                }
            }
            done += batch.count
            emit(.indexing, total: work.count, done: done, indexingStart: indexingStart, committed: records.map(\.path))
        }

        // 6. Prune rows of files that are gone (or no longer pass the walk's filters).
        if options.prune {
            emit(.pruning, total: work.count, done: done, indexingStart: indexingStart)
            let walked = Set(walk.files.map(\.path))
            let gone = existing.values.filter { !walked.contains($0.path) }.map(\.id)
            if !gone.isEmpty {
                try index.commitBatch(modelID: modelID, storage: options.storage, records: [], deleteIDs: gone)
                report.batchesCommitted += 1
                report.removed += gone.count
            }
        }

        report.elapsedSeconds = Date().timeIntervalSince(start)
        let encodeTime = Date().timeIntervalSince(indexingStart)
        report.imagesPerSecond = encodeTime > 0 ? Double(encodedCount) / encodeTime : 0
        emit(.finished, total: work.count, done: done, indexingStart: indexingStart)
        return report
    }

    static func isRacy(_ row: GalleryItem) -> Bool {
        guard let m = row.mtimeNs else { return true }
        return Double(m) / 1e9 >= row.indexedAt - 2
    }

    static func record(row: GalleryItem, info: CaptionInfo) -> ItemRecord {
        ItemRecord(kind: row.kind, path: row.path, collection: row.collection, size: row.size, mtimeNs: row.mtimeNs,
                   contentHash: row.contentHash, width: row.width, height: row.height, caption: info.caption,
                   category: info.category, label: info.label, metadata: info.metadata)
    }

    static func readMessage(_ error: Error, path: String) -> String {
        if let c = error as? CocoaError {
            switch c.code {
            case .fileReadNoPermission: return "permission denied"
            case .fileReadNoSuchFile: return "file vanished while indexing"
            default: break
            }
        }
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        return "cannot read: \(ns.localizedDescription)"
    }
}

/// What the read-and-hash stage found for one batch, and the encoder's prepared input.
struct PlannedBatch: @unchecked Sendable {
    var problems: [FileProblem] = []
    var deleteIDs: [Int64] = []
    /// Same content as indexed: only the stat is updated.
    var touched: [(WalkedFile, ItemRecord)] = []
    var toEncode: [(WalkedFile, ItemRecord)] = []
    var prepared: PreparedImages?
}

/// The read, check, hash and decode stage of the indexer, run off the calling thread.
/// It only reads what the run fixed before the batches started.
struct BatchPlanner: @unchecked Sendable {
    let encoder: any GalleryEncoder
    let options: IndexOptions
    let existing: [String: GalleryItem]
    let embedded: Set<Int64>

    func plan(_ batch: ArraySlice<(WalkedFile, CaptionInfo)>) -> PlannedBatch {
        var plan = PlannedBatch()
        var contents: [Data] = []
        func fail(_ f: WalkedFile, _ reason: ProblemReason, _ message: String) {
            plan.problems.append(FileProblem(path: f.path, reason: reason, message: message))
            if reason != .changedDuringIndexing, let row = existing[f.path] { plan.deleteIDs.append(row.id) }
        }
        for (f, info) in batch {
            let data: Data
            do {
                data = try Data(contentsOf: URL(fileURLWithPath: f.path))
            } catch {
                fail(f, .unreadable, GalleryIndexer.readMessage(error, path: f.path))
                continue
            }
            if data.isEmpty { fail(f, .empty, "empty file (0 bytes)"); continue }
            guard let header = ImageHeader.probe(data) else {
                let sniffed = ImageFormat.sniff(data)
                fail(f, .notAnImage, sniffed == nil ? "not a \(f.format == .png ? "PNG" : "JPEG") file (content does not match its extension)"
                                                    : "damaged \(sniffed!.rawValue.uppercased()) header")
                continue
            }
            if let cap = options.maxMegapixels, Double(header.width) * Double(header.height) > cap * 1_000_000 {
                fail(f, .tooLarge, String(format: "%d×%d pixels is more than the %.0f-megapixel cap", header.width, header.height, cap))
                continue
            }
            let hash = SHA256.hex(data)
            var rec = ItemRecord(kind: .image, path: f.path, size: f.stat.size, mtimeNs: f.stat.mtimeNs, contentHash: hash,
                                 width: header.width, height: header.height, caption: info.caption, category: info.category,
                                 label: info.label, metadata: info.metadata)
            if data.count != Int(f.stat.size) {
                fail(f, .changedDuringIndexing, "file changed while it was being indexed; run index again")
                continue
            }
            if let row = existing[f.path], row.contentHash == hash, embedded.contains(row.id) {
                plan.touched.append((f, rec))
            } else {
                rec.embedding = nil
                plan.toEncode.append((f, rec))
                contents.append(data)
            }
        }
        if !plan.toEncode.isEmpty {
            // Decoded from the bytes just hashed: the file is read once.
            plan.prepared = encoder.prepareImages(zip(plan.toEncode, contents).map { (path: $0.0.0.path, contents: $0.1) })
        }
        return plan
    }
}

/// Runs one job at a time on a background queue, one step ahead of its consumer.
final class Prefetcher: @unchecked Sendable {
    private let queue = DispatchQueue(label: "dialclip.index.prepare", qos: .userInitiated)
    private let job: (Int) -> PlannedBatch
    private var result: PlannedBatch?
    private let ready = DispatchSemaphore(value: 0)
    private var pending = false

    init(_ job: @escaping (Int) -> PlannedBatch) { self.job = job }

    /// Starts job `index` (the previous one must have been taken).
    func start(_ index: Int) {
        precondition(!pending, "Prefetcher: the previous job was not taken")
        pending = true
        queue.async {
            self.result = self.job(index)
            self.ready.signal()
        }
    }

    /// Waits for the started job and returns its result.
    func take() -> PlannedBatch {
        ready.wait()
        pending = false
        defer { result = nil }
        return result!
    }

    /// Waits for a job still running (when the consumer stopped early on an error).
    func finish() {
        if pending { ready.wait(); pending = false; result = nil }
    }
}

extension GalleryIndex {
    /// One write transaction: upsert `records` (with their embeddings for `modelID`, when
    /// set) and delete `deleteIDs`. Vectors are validated and L2-normalised first.
    func commitBatch(modelID: Int64, storage: EmbeddingStorage, records: [ItemRecord], deleteIDs: [Int64]) throws {
        if records.isEmpty && deleteIDs.isEmpty { return }
        let blobs: [Data?] = try records.map { r in
            guard let e = r.embedding else { return nil }
            return VectorCoding.encode(try EmbeddingMath.normalized(e, context: "embedding of \(r.path)"), as: storage)
        }
        let now = Date().timeIntervalSince1970
        try write { db in
            for id in deleteIDs { try db.execute(sql: "DELETE FROM item WHERE id = ?", arguments: [id]) }
            for (r, blob) in zip(records, blobs) {
                let id = try Self.upsertRow(db, r, now: now)
                if let blob {
                    try db.execute(sql: "INSERT OR REPLACE INTO embedding (item_id, model_id, dtype, vector) VALUES (?, ?, ?, ?)",
                                   arguments: [id, modelID, storage.rawValue, blob])
                }
            }
        }
    }
}

extension Array {
    /// Consecutive slices of at most `n` elements.
    func chunked(_ n: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: Swift.max(1, n)).map { self[$0..<Swift.min($0 + n, count)] }
    }
}
