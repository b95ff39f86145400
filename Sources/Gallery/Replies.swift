import Foundation
import Tensor
import GRDB

/// One text reply of a reply pool.
public struct ReplyRecord: Sendable, Equatable {
    /// Stable id inside its pool (e.g. the line number or the dataset's id).
    public var id: String
    public var text: String
    public var category: String?

    public init(id: String, text: String, category: String? = nil) {
        self.id = id
        self.text = text
        self.category = category
    }
}

/// Counts of one reply-pool sync.
public struct ReplySyncReport: Sendable, Equatable, Codable {
    public var added = 0
    public var updated = 0
    public var unchanged = 0
    public var removed = 0
}

extension GalleryIndex {
    /// Synthetic item path of a reply: `pool#id`.
    public static func replyPath(pool: String, id: String) -> String { "\(pool)#\(id)" }

    /// Makes the index hold exactly `replies` for `pool` (kind `.reply`, text in `caption`,
    /// SHA-256 of the text as content hash): new or changed texts are encoded in batches
    /// (one transaction each), unchanged ones with an embedding for the encoder's model
    /// are skipped, and replies no longer in the list are deleted.
    @discardableResult
    public func syncReplies(pool: String, replies: [ReplyRecord], encoder: any GalleryEncoder,
                            batchSize: Int = 64, storage: EmbeddingStorage = .fp32) throws -> ReplySyncReport {
        let model = encoder.identity
        let modelID = try register(model: model)
        var report = ReplySyncReport()
        let rows = try run { db in
            try Row.fetchAll(db, sql: "SELECT \(Self.itemColumns) FROM item WHERE kind = 'reply' AND collection = ?", arguments: [pool])
                .map(Self.item(from:))
        }
        var existing: [String: GalleryItem] = [:]
        for r in rows { existing[r.path] = r }
        let embedded = try itemIDsWithEmbedding(modelID: modelID)

        var seen = Set<String>()
        var work: [ItemRecord] = []
        for r in replies {
            let path = Self.replyPath(pool: pool, id: r.id)
            guard seen.insert(path).inserted else { continue }
            let hash = SHA256.hex(Data(r.text.utf8))
            let rec = ItemRecord(kind: .reply, path: path, collection: pool, size: Int64(r.text.utf8.count), contentHash: hash,
                                 caption: r.text, category: r.category)
            if let row = existing[path], row.contentHash == hash, embedded.contains(row.id) {
                if row.category != r.category { try commitBatch(modelID: modelID, storage: storage, records: [rec], deleteIDs: []) }
                report.unchanged += 1
            } else {
                work.append(rec)
            }
        }
        for batch in work.chunked(batchSize) {
            let vectors = try encoder.encodeTexts(batch.map { $0.caption ?? "" })
            guard vectors.count == batch.count else {
                throw GalleryError.invalidModel("encoder '\(model.name)' returned \(vectors.count) vectors for \(batch.count) texts")
            }
            var records: [ItemRecord] = []
            for (rec, v) in zip(batch, vectors) {
                guard v.count == model.dim else { throw GalleryError.vectorDimension(expected: model.dim, got: v.count, context: "reply \(rec.path)") }
                var r = rec
                r.embedding = v
                records.append(r)
                if existing[rec.path] != nil { report.updated += 1 } else { report.added += 1 }
            }
            try commitBatch(modelID: modelID, storage: storage, records: records, deleteIDs: [])
        }
        let gone = existing.values.filter { !seen.contains($0.path) }.map(\.id)
        try commitBatch(modelID: modelID, storage: storage, records: [], deleteIDs: gone)
        report.removed = gone.count
        return report
    }
}
