import Foundation

/// Every failure the gallery reports at its boundary. Descriptions are written for the
/// person at the terminal: they say what went wrong and what to do next.
public enum GalleryError: Error, CustomStringConvertible, Equatable {
    /// The database file exists but is not an SQLite database (or is encrypted/corrupt).
    case notADatabase(path: String)
    /// Another process held the SQLite write lock longer than the busy timeout.
    case databaseLocked(path: String, waitedSeconds: Double)
    /// Another `dialclip index` run holds the indexing lock of this database.
    case indexingInProgress(path: String, waitedSeconds: Double)
    /// The database was written by a newer dialclip (unknown migrations).
    case newerSchema(path: String, unknown: [String])
    /// SQLite reported corruption (`PRAGMA integrity_check` not ok, or SQLITE_CORRUPT).
    case corrupt(path: String, detail: String)
    /// A model with this name is already registered with another embedding size.
    case modelDimensionMismatch(name: String, stored: Int, requested: Int)
    /// The index has no embeddings for the requested model.
    case modelNotIndexed(name: String, available: [String])
    /// An embedding or query vector does not have the model's dimension.
    case vectorDimension(expected: Int, got: Int, context: String)
    /// A vector contains NaN/Inf or is all zeros where a direction is needed.
    case invalidVector(context: String)
    /// A folder given to `index` does not exist or is not a directory.
    case notADirectory(path: String)
    /// A model identity is unusable (empty name, non-positive dimension).
    case invalidModel(String)
    /// A combined query could not be parsed.
    case invalidQuery(String)
    /// Any other database error, with SQLite's message.
    case database(path: String, message: String)
    /// File-system error outside a single indexed file (e.g. cannot create the DB folder).
    case io(path: String, message: String)

    public var description: String {
        switch self {
        case .notADatabase(let p):
            return "\(p) is not a dialclip index (not an SQLite database, or damaged). Remove it to rebuild the index, or point --db at another file."
        case .databaseLocked(let p, let s):
            return "database \(p) is locked by another dialclip process (waited \(Self.seconds(s))). Wait for it to finish, or use another --db."
        case .indexingInProgress(let p, let s):
            return "another 'dialclip index' is already running on \(p) (waited \(Self.seconds(s))). Wait for it to finish, or use another --db."
        case .newerSchema(let p, let unknown):
            return "database \(p) was written by a newer dialclip (unknown migrations: \(unknown.joined(separator: ", "))). Upgrade dialclip or use another --db."
        case .corrupt(let p, let d):
            return "database \(p) is damaged (\(d)). Remove it and run 'dialclip index' again."
        case .modelDimensionMismatch(let n, let stored, let req):
            return "the index already holds model '\(n)' with \(stored)-dimensional embeddings, but this model produces \(req)-dimensional ones; refusing to mix them. Use another --db, or give the model another name."
        case .modelNotIndexed(let n, let avail):
            let list = avail.isEmpty ? "none" : avail.joined(separator: ", ")
            return "the index has no embeddings for model '\(n)' (models in this index: \(list)). Run 'dialclip index DIR' with this model first."
        case .vectorDimension(let e, let g, let ctx):
            return "\(ctx): expected a \(e)-dimensional vector, got \(g)"
        case .invalidVector(let ctx):
            return "\(ctx): vector is zero or not finite"
        case .notADirectory(let p):
            return "\(p) is not a directory (check the path; use --remove to drop a folder that no longer exists)"
        case .invalidModel(let m):
            return "invalid model identity: \(m)"
        case .invalidQuery(let m):
            return "invalid query: \(m)"
        case .database(let p, let m):
            return "database \(p): \(m)"
        case .io(let p, let m):
            return "\(p): \(m)"
        }
    }

    static func seconds(_ s: Double) -> String { String(format: "%.1f s", s) }
}
