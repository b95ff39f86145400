import Foundation

/// Locates the read-only fixtures in `../shared` (beside the checkout) and the repo's
/// own `assets/`. Tests fail loudly when they are missing: CI always has them.
public enum Fixtures {
    /// The repository root (two levels above this file's folder).
    public static let repoRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `../shared` next to the repository (override with DIALCLIP_SHARED).
    public static var shared: URL {
        if let p = ProcessInfo.processInfo.environment["DIALCLIP_SHARED"] { return URL(fileURLWithPath: p) }
        return repoRoot.deletingLastPathComponent().appendingPathComponent("shared")
    }

    public static var assets: URL { repoRoot.appendingPathComponent("assets") }

    /// Path of a file under ../shared; throws a clear error when it is absent.
    public static func sharedPath(_ relative: String) throws -> String {
        let url = shared.appendingPathComponent(relative)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw FixtureError.missing(url.path)
        }
        return url.path
    }

    /// Lines of a JSONL file decoded as dictionaries.
    public static func jsonLines(_ path: String) throws -> [[String: Any]] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return try text.split(separator: "\n").compactMap { line in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { return nil }
            return try JSONSerialization.jsonObject(with: Data(trimmed.utf8)) as? [String: Any]
        }
    }

    /// A fresh temporary directory, removed by the caller (or left to the OS).
    public static func temporaryDirectory(_ tag: String = "dialclip-test") throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(tag)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

public enum FixtureError: Error, CustomStringConvertible {
    case missing(String)
    public var description: String {
        switch self {
        case .missing(let p): return "fixture not found: \(p) (tests expect ../shared beside the checkout)"
        }
    }
}

/// The project's one agreement rule (DESIGN.md section 3): cosine ≥ minCosine and
/// max |ours − ref| ≤ 1e-4 · max(1, max |ref|).
public struct Agreement: CustomStringConvertible {
    public let cosine: Double
    public let maxAbsError: Double
    public let tolerance: Double

    public init(ours: [Float], reference: [Float], relative: Double = 1e-4) {
        precondition(ours.count == reference.count, "length \(ours.count) vs \(reference.count)")
        var dot = 0.0, na = 0.0, nb = 0.0, maxErr = 0.0, maxRef = 0.0
        for i in 0..<ours.count {
            let a = Double(ours[i]), b = Double(reference[i])
            dot += a * b; na += a * a; nb += b * b
            maxErr = max(maxErr, abs(a - b)); maxRef = max(maxRef, abs(b))
        }
        cosine = (na == 0 || nb == 0) ? (na == nb ? 1 : 0) : dot / (na.squareRoot() * nb.squareRoot())
        maxAbsError = maxErr
        tolerance = relative * max(1, maxRef)
    }

    public func holds(minCosine: Double = 0.9999) -> Bool { cosine >= minCosine && maxAbsError <= tolerance }
    public var description: String { "cosine \(cosine), max abs error \(maxAbsError) (tolerance \(tolerance))" }
}
