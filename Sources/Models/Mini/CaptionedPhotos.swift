import Foundation
import Tensor

/// One row of a `gallery.jsonl` / `extra.jsonl` file (the shared gallery format): a photo
/// with its captions. Only the fields dialclip-mini needs are read.
public struct CaptionedPhoto: Sendable, Equatable {
    /// Path relative to the folder holding the JSONL file (`photos/…`).
    public var file: String
    public var captions: [String]
    public var category: String
    public var label: String
    public var source: String

    public init(file: String, captions: [String], category: String = "", label: String = "", source: String = "") {
        self.file = file; self.captions = captions; self.category = category; self.label = label; self.source = source
    }
}

/// Problems with a gallery file.
public enum CaptionedPhotoError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, reason: String)
    case badLine(path: String, line: Int, reason: String)
    case empty(path: String)

    public var description: String {
        switch self {
        case .unreadable(let p, let r): return "cannot read \(p): \(r)"
        case .badLine(let p, let l, let r): return "\(p), line \(l): \(r)"
        case .empty(let p): return "\(p) lists no photo with a caption"
        }
    }
}

public enum CaptionedPhotoList {
    /// Reads a gallery JSONL file. Every non-blank line must be an object with a string
    /// `file` (relative, no `..`) and a non-empty `captions` list of strings.
    public static func read(path: String) throws -> [CaptionedPhoto] {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw CaptionedPhotoError.unreadable(path: path, reason: (error as NSError).localizedDescription)
        }
        var rows: [CaptionedPhoto] = []
        for (i, line) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let text = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if text.isEmpty { continue }
            guard let obj = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else {
                throw CaptionedPhotoError.badLine(path: path, line: i + 1, reason: "not a JSON object")
            }
            guard let file = obj["file"] as? String, !file.isEmpty, !file.hasPrefix("/"),
                  !file.split(separator: "/").contains("..") else {
                throw CaptionedPhotoError.badLine(path: path, line: i + 1, reason: "'file' must be a relative path inside the gallery folder")
            }
            guard let caps = obj["captions"] as? [Any], !caps.isEmpty, caps.allSatisfy({ $0 is String }) else {
                throw CaptionedPhotoError.badLine(path: path, line: i + 1, reason: "'captions' must be a non-empty list of strings")
            }
            let captions = (caps as! [String]).map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
            guard !captions.isEmpty else { throw CaptionedPhotoError.badLine(path: path, line: i + 1, reason: "all captions are blank") }
            rows.append(CaptionedPhoto(file: file, captions: captions, category: obj["category"] as? String ?? "",
                                       label: obj["label"] as? String ?? "", source: obj["source"] as? String ?? ""))
        }
        guard !rows.isEmpty else { throw CaptionedPhotoError.empty(path: path) }
        return rows
    }
}

/// Image–caption retrieval ranks over a set of captioned photos, shared by the product's
/// `eval --task gallery` and the trainer's validation.
///
/// Captions are deduplicated by exact text: candidates of image→text are the distinct
/// caption texts, and a text that several photos share counts as correct for each of them
/// (text→image: any photo carrying that caption is a hit). Ranks are pessimistic on ties:
/// the best correct candidate is placed below every wrong candidate with an equal (or NaN)
/// score, so a constant scorer gets the worst rank.
public struct CaptionRetrievalSet: Sendable {
    /// Distinct caption texts, in first-seen order.
    public let texts: [String]
    /// For each text, the photos (indices) carrying it.
    public let photosOfText: [[Int]]
    /// For each photo, its texts (indices into `texts`).
    public let textsOfPhoto: [[Int]]

    public init(photos: [CaptionedPhoto]) {
        var texts: [String] = [], index: [String: Int] = [:]
        var photosOfText: [[Int]] = [], textsOfPhoto: [[Int]] = []
        for (p, photo) in photos.enumerated() {
            var mine: [Int] = []
            for c in photo.captions {
                let j: Int
                if let k = index[c] { j = k } else { j = texts.count; index[c] = j; texts.append(c); photosOfText.append([]) }
                if !mine.contains(j) { mine.append(j); photosOfText[j].append(p) }
            }
            textsOfPhoto.append(mine)
        }
        self.texts = texts; self.photosOfText = photosOfText; self.textsOfPhoto = textsOfPhoto
    }

    /// 1-based rank of the best positive among `scores` (pessimistic on ties and NaN).
    public static func rank(scores: [Float], positives: [Int]) -> Int {
        let pos = Set(positives)
        var best = -Float.infinity
        for p in positives where scores[p] > best { best = scores[p] }   // NaN never wins
        var rank = 1
        for (i, s) in scores.enumerated() where !pos.contains(i) && (s >= best || s.isNaN) { rank += 1 }
        return rank
    }

    /// Ranks for text→image (one query per distinct text) and image→text (one per photo).
    /// `images` `[photos, D]`, `textEmbeddings` `[texts, D]`, both L2-normalised.
    public func ranks(images: Tensor, textEmbeddings: Tensor) throws -> (t2i: [Int], i2t: [Int]) {
        let n = textsOfPhoto.count, m = texts.count
        guard images.rank == 2, textEmbeddings.rank == 2, images.shape[0] == n, textEmbeddings.shape[0] == m,
              images.shape[1] == textEmbeddings.shape[1] else {
            throw ModelError.invalidInput("retrieval: images \(images.shape) for \(n) photos, texts \(textEmbeddings.shape) for \(m) captions")
        }
        let sim = try textEmbeddings.matmulTransposed(images)   // [m, n]
        let sp = sim.pointer
        var t2i: [Int] = [], i2t: [Int] = []
        for j in 0..<m {
            t2i.append(Self.rank(scores: Array(UnsafeBufferPointer(start: sp + j * n, count: n)), positives: photosOfText[j]))
        }
        for i in 0..<n {
            let column = (0..<m).map { sp[$0 * n + i] }
            i2t.append(Self.rank(scores: column, positives: textsOfPhoto[i]))
        }
        return (t2i, i2t)
    }

    /// Expected R@k and MRR of a scorer that orders candidates uniformly at random:
    /// P(best positive beyond rank k) = C(n−p, k)/C(n, k) for p positives among n.
    /// `positiveCounts` holds one entry per query: how many of the n candidates are correct.
    public static func chance(candidates n: Int, positiveCounts: [Int], ks: [Int] = [1, 5, 10]) -> (recall: [Double], mrr: Double) {
        guard !positiveCounts.isEmpty, n > 0 else { return (ks.map { _ in 0 }, 0) }
        var recall = ks.map { _ in 0.0 }
        var mrr = 0.0
        for p in positiveCounts {
            // q(r) = P(first positive is beyond rank r) = Π_{i<r} (n−p−i)/(n−i).
            var beyond = 1.0
            for r in 1...max(n, 1) {
                let next = r - 1 < n - p ? beyond * Double(n - p - (r - 1)) / Double(n - (r - 1)) : 0
                mrr += (beyond - next) / Double(r)
                for (x, k) in ks.enumerated() where k == r { recall[x] += 1 - next }
                beyond = next
                if beyond == 0 { for (x, k) in ks.enumerated() where k > r { recall[x] += 1 }; break }
            }
        }
        let q = Double(positiveCounts.count)
        return (recall.map { $0 / q }, mrr / q)
    }

    /// Chance levels for both directions: (t2i recall@ks, t2i MRR, i2t recall@ks, i2t MRR).
    public func chance(ks: [Int] = [1, 5, 10]) -> (t2i: (recall: [Double], mrr: Double), i2t: (recall: [Double], mrr: Double)) {
        // Group queries by their positive count (the formula only depends on it).
        func average(_ counts: [Int], candidates: Int) -> (recall: [Double], mrr: Double) {
            var recall = ks.map { _ in 0.0 }, mrr = 0.0
            var cache: [Int: ([Double], Double)] = [:]
            for p in counts {
                let r = cache[p] ?? Self.chance(candidates: candidates, positiveCounts: [p], ks: ks)
                cache[p] = r
                for x in 0..<ks.count { recall[x] += r.0[x] }
                mrr += r.1
            }
            let q = Double(max(counts.count, 1))
            return (recall.map { $0 / q }, mrr / q)
        }
        return (average(photosOfText.map(\.count), candidates: textsOfPhoto.count),
                average(textsOfPhoto.map(\.count), candidates: texts.count))
    }
}
