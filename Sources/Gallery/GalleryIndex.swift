import Foundation
import GRDB

/// A registered model row.
public struct RegisteredModel: Sendable, Equatable, Codable {
    public var id: Int64
    public var identity: ModelIdentity
    /// Number of items that have an embedding for this model.
    public var embeddingCount: Int
}

/// One row of the `item` table.
public struct GalleryItem: Sendable, Equatable, Codable {
    public var id: Int64
    public var kind: ItemKind
    /// Images: absolute file path. Replies: the synthetic id `pool#replyID`.
    public var path: String
    /// Reply pool name for replies, nil for images.
    public var collection: String?
    public var size: Int64?
    /// Modification time in nanoseconds since the epoch.
    public var mtimeNs: Int64?
    /// SHA-256 hex of the file (images) or of the reply text (replies).
    public var contentHash: String?
    public var width: Int?
    public var height: Int?
    /// First caption of a photo, or the reply text.
    public var caption: String?
    public var category: String?
    public var label: String?
    /// Free-form JSON from the caption source (all captions, licence fields, …).
    public var metadata: String?
    /// Unix time of the last write of this row.
    public var indexedAt: Double
}

/// What to write for one item in `GalleryIndex.upsert`: the row plus, optionally, its
/// embedding for the batch's model.
public struct ItemRecord: Sendable {
    public var kind: ItemKind
    public var path: String
    public var collection: String?
    public var size: Int64?
    public var mtimeNs: Int64?
    public var contentHash: String?
    public var width: Int?
    public var height: Int?
    public var caption: String?
    public var category: String?
    public var label: String?
    public var metadata: String?
    /// Embedding for the model of the upsert; nil keeps the stored one (metadata-only update).
    public var embedding: [Float]?

    public init(kind: ItemKind, path: String, collection: String? = nil, size: Int64? = nil, mtimeNs: Int64? = nil,
                contentHash: String? = nil, width: Int? = nil, height: Int? = nil, caption: String? = nil,
                category: String? = nil, label: String? = nil, metadata: String? = nil, embedding: [Float]? = nil) {
        self.kind = kind; self.path = path; self.collection = collection; self.size = size; self.mtimeNs = mtimeNs
        self.contentHash = contentHash; self.width = width; self.height = height; self.caption = caption
        self.category = category; self.label = label; self.metadata = metadata; self.embedding = embedding
    }
}

/// The gallery database: SQLite through GRDB in WAL mode.
///
/// Tables: `model` (name, weights hash, dim), `item` (images and text replies), `embedding`
/// (one BLOB per (item, model)), `attribute_phrase` (DCAR phrases per item). Every write is
/// one transaction, so a killed process leaves the database at the last commit. Writers
/// wait `busyTimeout` for each other and then fail with `GalleryError.databaseLocked`.
public final class GalleryIndex: Sendable {
    /// Path of the database file.
    public let path: String
    let pool: DatabasePool
    /// Seconds a writer waits for another process's transaction before giving up.
    public let busyTimeout: TimeInterval

    /// Default location: `$XDG_DATA_HOME/dialclip/gallery.sqlite`, falling back to
    /// `~/.local/share/dialclip/gallery.sqlite` (XDG base directory spec: relative
    /// XDG_DATA_HOME values are ignored).
    public static func defaultDatabasePath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let xdg = environment["XDG_DATA_HOME"], xdg.hasPrefix("/") {
            return (xdg as NSString).appendingPathComponent("dialclip/gallery.sqlite")
        }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return (home as NSString).appendingPathComponent(".local/share/dialclip/gallery.sqlite")
    }

    /// Opens (creating if needed) the index at `path` and migrates it to the current schema.
    /// - Throws: `GalleryError.notADatabase` when the file is not SQLite, `.newerSchema`
    ///   when a newer dialclip wrote it, `.databaseLocked` when another process holds it.
    public init(path: String, busyTimeout: TimeInterval = 5) throws {
        let absolute = GalleryPaths.absolute(path)
        self.path = absolute
        self.busyTimeout = busyTimeout
        let dir = (absolute as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        } catch {
            throw GalleryError.io(path: dir, message: "cannot create the database folder (\(error.localizedDescription)); use --db to choose another location")
        }
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: absolute, isDirectory: &isDir), isDir.boolValue {
            throw GalleryError.io(path: absolute, message: "is a directory, not a database file; use --db FILE")
        }
        var config = Configuration()
        config.busyMode = .timeout(busyTimeout)
        config.foreignKeysEnabled = true
        config.label = "dialclip-gallery"
        config.maximumReaderCount = 2
        let pool: DatabasePool
        do {
            pool = try DatabasePool(path: absolute, configuration: config)
        } catch {
            throw Self.map(error, path: absolute, waited: busyTimeout)
        }
        self.pool = pool
        do {
            try pool.read { db in _ = try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master") }
            let migrator = Self.migrator
            let unknown = try pool.read { db -> [String] in
                let applied = try migrator.appliedIdentifiers(db)
                let known = Set(Self.migrationIdentifiers)
                return applied.filter { !known.contains($0) }.sorted()
            }
            if !unknown.isEmpty { throw GalleryError.newerSchema(path: absolute, unknown: unknown) }
            try migrator.migrate(pool)
        } catch let e as GalleryError {
            throw e
        } catch {
            throw Self.map(error, path: absolute, waited: busyTimeout)
        }
    }

    // MARK: Schema

    /// Migration identifiers in order; a database listing others was written by a newer build.
    public static let migrationIdentifiers = ["v1-schema", "v2-item-indexes"]

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1-schema") { db in
            try db.execute(sql: """
                CREATE TABLE model (
                    id INTEGER PRIMARY KEY,
                    name TEXT NOT NULL,
                    weights_hash TEXT NOT NULL,
                    dim INTEGER NOT NULL CHECK (dim > 0),
                    created_at REAL NOT NULL,
                    UNIQUE (name, weights_hash)
                );
                CREATE TABLE item (
                    id INTEGER PRIMARY KEY,
                    kind TEXT NOT NULL CHECK (kind IN ('image', 'reply')),
                    path TEXT NOT NULL,
                    collection TEXT,
                    size INTEGER,
                    mtime_ns INTEGER,
                    content_hash TEXT,
                    width INTEGER,
                    height INTEGER,
                    caption TEXT,
                    category TEXT,
                    label TEXT,
                    metadata TEXT,
                    indexed_at REAL NOT NULL,
                    UNIQUE (kind, path)
                );
                CREATE TABLE embedding (
                    item_id INTEGER NOT NULL REFERENCES item(id) ON DELETE CASCADE,
                    model_id INTEGER NOT NULL REFERENCES model(id) ON DELETE CASCADE,
                    dtype TEXT NOT NULL CHECK (dtype IN ('fp32', 'fp16')),
                    vector BLOB NOT NULL,
                    PRIMARY KEY (item_id, model_id)
                ) WITHOUT ROWID;
                CREATE TABLE attribute_phrase (
                    item_id INTEGER NOT NULL REFERENCES item(id) ON DELETE CASCADE,
                    position INTEGER NOT NULL CHECK (position >= 0),
                    phrase TEXT NOT NULL,
                    PRIMARY KEY (item_id, position)
                ) WITHOUT ROWID;
                """)
        }
        // Separate step so the migrator's versioning is exercised from day one: the
        // search load scans embeddings by model, replies are synced per pool.
        m.registerMigration("v2-item-indexes") { db in
            try db.execute(sql: """
                CREATE INDEX embedding_by_model ON embedding(model_id);
                CREATE INDEX item_by_collection ON item(kind, collection);
                """)
        }
        return m
    }

    /// Applied migration identifiers (for `doctor` and tests).
    public func appliedMigrations() throws -> [String] {
        try run { db in try Self.migrator.completedMigrations(db) }
    }

    /// `PRAGMA integrity_check` plus `foreign_key_check`; returns ["ok"] on a healthy DB,
    /// otherwise SQLite's list of problems.
    public func integrityCheck() throws -> [String] {
        try run { db in
            var rows = try String.fetchAll(db, sql: "PRAGMA integrity_check")
            let fk = try Row.fetchAll(db, sql: "PRAGMA foreign_key_check")
            if !fk.isEmpty {
                if rows == ["ok"] { rows = [] }
                rows.append("\(fk.count) rows violate foreign keys")
            }
            return rows
        }
    }

    // MARK: Error mapping

    /// Runs a read, mapping GRDB errors to `GalleryError`.
    func run<T>(_ body: (Database) throws -> T) throws -> T {
        do { return try pool.read(body) } catch { throw Self.map(error, path: path, waited: busyTimeout) }
    }

    /// Runs one write transaction, mapping GRDB errors to `GalleryError`.
    func write<T>(_ body: (Database) throws -> T) throws -> T {
        do { return try pool.write(body) } catch { throw Self.map(error, path: path, waited: busyTimeout) }
    }

    static func map(_ error: Error, path: String, waited: Double) -> Error {
        if error is GalleryError { return error }
        guard let e = error as? DatabaseError else { return error }
        switch e.resultCode {
        case .SQLITE_BUSY, .SQLITE_LOCKED: return GalleryError.databaseLocked(path: path, waitedSeconds: waited)
        case .SQLITE_NOTADB: return GalleryError.notADatabase(path: path)
        case .SQLITE_CORRUPT: return GalleryError.corrupt(path: path, detail: e.message ?? "SQLITE_CORRUPT")
        case .SQLITE_READONLY, .SQLITE_CANTOPEN, .SQLITE_PERM:
            return GalleryError.database(path: path, message: "\(e.message ?? "cannot open") — check permissions, or use --db")
        default: return GalleryError.database(path: path, message: e.message ?? "\(e)")
        }
    }

    // MARK: Models

    /// Registers `model` (or finds its row) and returns the model id.
    /// - Throws: `.modelDimensionMismatch` when the name exists with another dimension.
    @discardableResult
    public func register(model: ModelIdentity) throws -> Int64 {
        try model.validate()
        return try write { db in try Self.registerModel(db, model, path: self.path) }
    }

    static func registerModel(_ db: Database, _ model: ModelIdentity, path: String) throws -> Int64 {
        if let stored = try Int.fetchOne(db, sql: "SELECT dim FROM model WHERE name = ? AND dim != ? LIMIT 1",
                                         arguments: [model.name, model.dim]) {
            throw GalleryError.modelDimensionMismatch(name: model.name, stored: stored, requested: model.dim)
        }
        if let id = try Int64.fetchOne(db, sql: "SELECT id FROM model WHERE name = ? AND weights_hash = ?",
                                       arguments: [model.name, model.weightsHash]) {
            return id
        }
        try db.execute(sql: "INSERT INTO model (name, weights_hash, dim, created_at) VALUES (?, ?, ?, ?)",
                       arguments: [model.name, model.weightsHash, model.dim, Date().timeIntervalSince1970])
        return db.lastInsertedRowID
    }

    /// Id of a registered model, nil when absent. Throws `.modelDimensionMismatch` when
    /// the name is registered with another dimension.
    public func modelID(for model: ModelIdentity) throws -> Int64? {
        try run { db in try Self.lookupModel(db, model) }
    }

    static func lookupModel(_ db: Database, _ model: ModelIdentity) throws -> Int64? {
        if let stored = try Int.fetchOne(db, sql: "SELECT dim FROM model WHERE name = ? AND dim != ? LIMIT 1",
                                         arguments: [model.name, model.dim]) {
            throw GalleryError.modelDimensionMismatch(name: model.name, stored: stored, requested: model.dim)
        }
        return try Int64.fetchOne(db, sql: "SELECT id FROM model WHERE name = ? AND weights_hash = ?",
                                  arguments: [model.name, model.weightsHash])
    }

    /// All registered models with their embedding counts.
    public func models() throws -> [RegisteredModel] {
        try run { db in
            try Row.fetchAll(db, sql: """
                SELECT m.id, m.name, m.weights_hash, m.dim,
                       (SELECT count(*) FROM embedding e WHERE e.model_id = m.id) AS n
                FROM model m ORDER BY m.id
                """).map { r in
                RegisteredModel(id: r["id"], identity: ModelIdentity(name: r["name"], weightsHash: r["weights_hash"], dim: r["dim"]),
                                embeddingCount: r["n"])
            }
        }
    }

    /// Deletes a model and all its embeddings; returns whether it existed.
    @discardableResult
    public func dropModel(_ model: ModelIdentity) throws -> Bool {
        try write { db in
            try db.execute(sql: "DELETE FROM model WHERE name = ? AND weights_hash = ?", arguments: [model.name, model.weightsHash])
            return db.changesCount > 0
        }
    }

    // MARK: Items

    static let itemColumns = "id, kind, path, collection, size, mtime_ns, content_hash, width, height, caption, category, label, metadata, indexed_at"

    static func item(from r: Row) -> GalleryItem {
        GalleryItem(id: r["id"], kind: ItemKind(rawValue: r["kind"]) ?? .image, path: r["path"], collection: r["collection"],
                    size: r["size"], mtimeNs: r["mtime_ns"], contentHash: r["content_hash"], width: r["width"], height: r["height"],
                    caption: r["caption"], category: r["category"], label: r["label"], metadata: r["metadata"],
                    indexedAt: r["indexed_at"])
    }

    /// Items of one kind (all kinds when nil), ordered by path.
    public func items(kind: ItemKind? = nil) throws -> [GalleryItem] {
        try run { db in
            let rows: [Row]
            if let kind {
                rows = try Row.fetchAll(db, sql: "SELECT \(Self.itemColumns) FROM item WHERE kind = ? ORDER BY path", arguments: [kind.rawValue])
            } else {
                rows = try Row.fetchAll(db, sql: "SELECT \(Self.itemColumns) FROM item ORDER BY kind, path")
            }
            return rows.map(Self.item(from:))
        }
    }

    /// The item stored under `path` (image path or reply id), nil when absent.
    public func item(path: String, kind: ItemKind = .image) throws -> GalleryItem? {
        try run { db in
            try Row.fetchOne(db, sql: "SELECT \(Self.itemColumns) FROM item WHERE kind = ? AND path = ?",
                             arguments: [kind.rawValue, path]).map(Self.item(from:))
        }
    }

    /// Number of items of a kind (all kinds when nil).
    public func count(kind: ItemKind? = nil) throws -> Int {
        try run { db in
            if let kind { return try Int.fetchOne(db, sql: "SELECT count(*) FROM item WHERE kind = ?", arguments: [kind.rawValue]) ?? 0 }
            return try Int.fetchOne(db, sql: "SELECT count(*) FROM item") ?? 0
        }
    }

    /// The stored embedding of an item for a model (decoded to fp32), nil when absent.
    public func embedding(itemID: Int64, model: ModelIdentity) throws -> [Float]? {
        try run { db in
            guard let mid = try Self.lookupModel(db, model),
                  let r = try Row.fetchOne(db, sql: "SELECT dtype, vector FROM embedding WHERE item_id = ? AND model_id = ?",
                                           arguments: [itemID, mid]) else { return nil }
            let storage = EmbeddingStorage(rawValue: r["dtype"]) ?? .fp32
            let blob: Data = r["vector"]
            guard let v = VectorCoding.decode(blob, storage: storage, dim: model.dim) else {
                throw GalleryError.corrupt(path: self.path, detail: "embedding of item \(itemID) has \(blob.count) bytes, expected \(model.dim * storage.bytesPerValue)")
            }
            return v
        }
    }

    /// Inserts or updates items (matched by kind + path) in ONE transaction, with their
    /// embeddings for `model` (vectors are checked for dimension/finiteness and stored
    /// L2-normalised, so a search score is a cosine). Returns the item ids in order.
    @discardableResult
    public func upsert(_ records: [ItemRecord], model: ModelIdentity, storage: EmbeddingStorage = .fp32) throws -> [Int64] {
        try model.validate()
        // Validate and encode outside the transaction: the write lock is held briefly.
        let blobs: [Data?] = try records.map { r in
            guard let e = r.embedding else { return nil }
            guard e.count == model.dim else { throw GalleryError.vectorDimension(expected: model.dim, got: e.count, context: "embedding of \(r.path)") }
            return VectorCoding.encode(try EmbeddingMath.normalized(e, context: "embedding of \(r.path)"), as: storage)
        }
        let now = Date().timeIntervalSince1970
        return try write { db in
            let modelID = try Self.registerModel(db, model, path: self.path)
            var ids: [Int64] = []
            ids.reserveCapacity(records.count)
            for (r, blob) in zip(records, blobs) {
                let id = try Self.upsertRow(db, r, now: now)
                ids.append(id)
                if let blob {
                    try db.execute(sql: "INSERT OR REPLACE INTO embedding (item_id, model_id, dtype, vector) VALUES (?, ?, ?, ?)",
                                   arguments: [id, modelID, storage.rawValue, blob])
                }
            }
            return ids
        }
    }

    static func upsertRow(_ db: Database, _ r: ItemRecord, now: Double) throws -> Int64 {
        // New content invalidates every model's vector for this item (the caller stores
        // the fresh one for its own model right after): no stale embeddings survive.
        if let old = try Row.fetchOne(db, sql: "SELECT id, content_hash FROM item WHERE kind = ? AND path = ?",
                                      arguments: [r.kind.rawValue, r.path]) {
            let oldHash: String? = old["content_hash"]
            if oldHash != r.contentHash {
                try db.execute(sql: "DELETE FROM embedding WHERE item_id = ?", arguments: [old["id"] as Int64])
            }
        }
        try db.execute(sql: """
            INSERT INTO item (kind, path, collection, size, mtime_ns, content_hash, width, height, caption, category, label, metadata, indexed_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (kind, path) DO UPDATE SET
                collection = excluded.collection, size = excluded.size, mtime_ns = excluded.mtime_ns,
                content_hash = excluded.content_hash, width = excluded.width, height = excluded.height,
                caption = excluded.caption, category = excluded.category, label = excluded.label,
                metadata = excluded.metadata, indexed_at = excluded.indexed_at
            """, arguments: [r.kind.rawValue, r.path, r.collection, r.size, r.mtimeNs, r.contentHash, r.width, r.height,
                             r.caption, r.category, r.label, r.metadata, now])
        guard let id = try Int64.fetchOne(db, sql: "SELECT id FROM item WHERE kind = ? AND path = ?", arguments: [r.kind.rawValue, r.path]) else {
            throw GalleryError.database(path: "", message: "upsert of \(r.path) left no row")
        }
        return id
    }

    /// Deletes items by kind + path (embeddings and phrases cascade); returns rows deleted.
    @discardableResult
    public func delete(paths: [String], kind: ItemKind = .image) throws -> Int {
        if paths.isEmpty { return 0 }
        return try write { db in
            var n = 0
            for p in paths {
                try db.execute(sql: "DELETE FROM item WHERE kind = ? AND path = ?", arguments: [kind.rawValue, p])
                n += db.changesCount
            }
            return n
        }
    }

    /// `--remove DIR`: drops every image under `directory` (the folder itself need not
    /// exist any more). Returns the number of items removed.
    @discardableResult
    public func remove(directory: String) throws -> Int {
        let dir = GalleryPaths.absolute(directory)
        return try write { db in
            try db.execute(sql: "DELETE FROM item WHERE kind = 'image' AND \(GalleryPaths.underSQL)",
                           arguments: GalleryPaths.underArguments(dir))
            return db.changesCount
        }
    }

    /// Image rows under a folder (prefix match on whole path components).
    func imageRows(under dir: String) throws -> [GalleryItem] {
        try run { db in
            try Row.fetchAll(db, sql: "SELECT \(Self.itemColumns) FROM item WHERE kind = 'image' AND \(GalleryPaths.underSQL)",
                             arguments: GalleryPaths.underArguments(dir)).map(Self.item(from:))
        }
    }

    /// Ids of items that have an embedding for the model id.
    func itemIDsWithEmbedding(modelID: Int64) throws -> Set<Int64> {
        try run { db in try Int64.fetchSet(db, sql: "SELECT item_id FROM embedding WHERE model_id = ?", arguments: [modelID]) }
    }

    // MARK: Attribute phrases

    /// Replaces the attribute phrases of an item (DCAR fills these), in order.
    public func setAttributePhrases(_ phrases: [String], itemID: Int64) throws {
        try write { db in
            try db.execute(sql: "DELETE FROM attribute_phrase WHERE item_id = ?", arguments: [itemID])
            for (i, p) in phrases.enumerated() {
                try db.execute(sql: "INSERT INTO attribute_phrase (item_id, position, phrase) VALUES (?, ?, ?)", arguments: [itemID, i, p])
            }
        }
    }

    /// Attribute phrases of an item, in position order (empty when none).
    public func attributePhrases(itemID: Int64) throws -> [String] {
        try run { db in
            try String.fetchAll(db, sql: "SELECT phrase FROM attribute_phrase WHERE item_id = ? ORDER BY position", arguments: [itemID])
        }
    }

    /// All phrases keyed by item id (one query, for loading DCAR state at start-up).
    public func allAttributePhrases() throws -> [Int64: [String]] {
        try run { db in
            var out: [Int64: [String]] = [:]
            for r in try Row.fetchAll(db, sql: "SELECT item_id, phrase FROM attribute_phrase ORDER BY item_id, position") {
                out[r["item_id"], default: []].append(r["phrase"])
            }
            return out
        }
    }
}

/// Path normalisation shared by the index, the walker and `--remove`.
public enum GalleryPaths {
    /// Absolute, standardised path (`~` expanded, `.`/`..` removed, no trailing slash);
    /// symlinks are NOT resolved, so paths stay the ones the user sees.
    public static func absolute(_ p: String, cwd: String = FileManager.default.currentDirectoryPath) -> String {
        var s = (p as NSString).expandingTildeInPath
        if !s.hasPrefix("/") { s = (cwd as NSString).appendingPathComponent(s) }
        var parts: [Substring] = []
        for c in s.split(separator: "/", omittingEmptySubsequences: true) {
            if c == "." { continue }
            if c == ".." { if !parts.isEmpty { parts.removeLast() }; continue }
            parts.append(c)
        }
        return "/" + parts.joined(separator: "/")
    }

    static func withSlash(_ dir: String) -> String { dir.hasSuffix("/") ? dir : dir + "/" }

    /// SQL for "path is dir or inside it" as a byte range ('0' follows '/' in ASCII), which
    /// works for any UTF-8 and uses the (kind, path) index; SQLite's substr counts
    /// characters, not bytes, so it is avoided.
    static let underSQL = "(path = ? OR (path >= ? AND path < ?))"

    static func underArguments(_ dir: String) -> StatementArguments {
        if dir == "/" { return [dir, "/", "0"] }
        return [dir, dir + "/", dir + "0"]
    }

    /// Whether `path` is `dir` or inside it (whole components).
    static func isInside(_ path: String, _ dir: String) -> Bool {
        path == dir || path.hasPrefix(withSlash(dir))
    }
}
