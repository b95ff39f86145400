import Foundation

/// Caption and category of one photo, from a sidecar or a gallery.jsonl line.
public struct CaptionInfo: Sendable, Equatable {
    public var caption: String?
    public var category: String?
    public var label: String?
    /// The source's JSON (all captions, licence fields, …) as compact JSON text.
    public var metadata: String?

    public init(caption: String? = nil, category: String? = nil, label: String? = nil, metadata: String? = nil) {
        self.caption = caption; self.category = category; self.label = label; self.metadata = metadata
    }
}

/// Reads captions. Sources, strongest first:
/// 1. a sidecar `photo.jpg.txt` beside the photo (its trimmed text is the caption);
/// 2. a `gallery.jsonl` in the photo's folder or any folder above it inside the indexed
///    root — one JSON object per line with `file` (path relative to the jsonl's folder),
///    `captions` (list; the first is the caption) or `caption`, `category`, `label`; the
///    whole object is kept as metadata (licence and attribution fields included).
/// Malformed lines are reported as warnings and ignored.
public enum CaptionSources {
    /// Sidecar text is capped so a huge .txt cannot bloat the index.
    static let maxSidecarBytes = 16 * 1024
    /// A gallery.jsonl is read into memory whole; a bigger one is ignored with a warning
    /// (the bundled one is 100 KB; 256 MiB is a million photos' worth of captions).
    public static let maxGalleryJSONLBytes = 256 << 20

    /// Parses a gallery.jsonl file; returns absolute photo path → info, plus warnings.
    public static func loadGalleryJSONL(_ path: String) -> (entries: [String: CaptionInfo], warnings: [String]) {
        var entries: [String: CaptionInfo] = [:]
        var warnings: [String] = []
        if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber,
           size.intValue > maxGalleryJSONLBytes {
            return ([:], ["\(path): captions file is \(size.intValue) bytes, over the \(maxGalleryJSONLBytes >> 20) MiB limit; ignored"])
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            return ([:], ["\(path): cannot read captions file"])
        }
        let base = (path as NSString).deletingLastPathComponent
        var lineNo = 0
        for line in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNo += 1
            let trimmed = line.drop { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }
            if trimmed.isEmpty || trimmed.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            guard let obj = (try? JSONSerialization.jsonObject(with: Data(trimmed))) as? [String: Any],
                  let file = obj["file"] as? String, !file.isEmpty else {
                warnings.append("\(path):\(lineNo): not a JSON object with a \"file\" field; line ignored")
                continue
            }
            var caption: String?
            if let list = obj["captions"] as? [String] { caption = list.first { !$0.isEmpty } }
            if caption == nil { caption = obj["caption"] as? String }
            let meta = (try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])).flatMap { String(data: $0, encoding: .utf8) }
            let abs = GalleryPaths.absolute(file, cwd: base)
            entries[abs] = CaptionInfo(caption: caption?.trimmingCharacters(in: .whitespacesAndNewlines),
                                       category: obj["category"] as? String, label: obj["label"] as? String, metadata: meta)
        }
        return (entries, warnings)
    }

    /// Reads a sidecar caption; nil when unreadable or empty.
    public static func readSidecar(_ path: String) -> String? {
        guard let h = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? h.close() }
        guard let data = try? h.read(upToCount: maxSidecarBytes), !data.isEmpty else { return nil }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }
}
