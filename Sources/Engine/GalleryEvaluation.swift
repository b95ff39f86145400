import DialCLIP
import Foundation
import Models
import Tensor

/// Image–caption retrieval on a captioned gallery (`dialclip eval --task gallery`,
/// DESIGN.md section 8): every photo listed in `DIR/gallery.jsonl` is evaluated.
///
/// - `t2i`: one query per distinct caption text (a COCO photo with 5 captions gives 5
///   queries); the candidates are all photos; a photo carrying that exact caption is a hit.
/// - `i2t`: one query per photo; the candidates are all distinct caption texts of the
///   gallery; any of the photo's own captions is a hit.
/// Ranks are pessimistic on ties (`CaptionRetrievalSet.rank`), metrics are
/// `RetrievalMetrics` (R@1/5/10, MRR as fractions).
public enum GalleryEvaluation {
    /// Scores of one system on one set of photos.
    public struct Result: Sendable {
        public var t2i: RetrievalMetrics
        public var i2t: RetrievalMetrics
        public var photos: Int
        public var captions: Int
    }

    /// Chance levels of a random ranking on the same set (exact expectations).
    public struct Chance: Sendable {
        public var t2i: (recall: [Double], mrr: Double)
        public var i2t: (recall: [Double], mrr: Double)
        public var json: [String: Any] {
            func row(_ r: (recall: [Double], mrr: Double)) -> [String: Any] {
                ["r@1": r.recall[0], "r@5": r.recall[1], "r@10": r.recall[2], "mrr": r.mrr]
            }
            return ["t2i": row(t2i), "i2t": row(i2t)]
        }
    }

    /// The photos of `galleryDir/gallery.jsonl`, restricted to `only` (gallery-relative
    /// paths) when given. Throws `EvaluationError.nothingToEvaluate` when none is left.
    public static func photos(galleryDir: String, only: Set<String>? = nil) throws -> [CaptionedPhoto] {
        let all = try CaptionedPhotoList.read(path: galleryDir + "/gallery.jsonl")
        let kept = only.map { set in all.filter { set.contains($0.file) } } ?? all
        guard !kept.isEmpty else { throw EvaluationError.nothingToEvaluate("no listed photo of \(galleryDir)/gallery.jsonl is in the requested subset") }
        return kept
    }

    /// Evaluates one image/text embedder pair on `photos` (paths relative to `galleryDir`).
    public static func evaluate(photos: [CaptionedPhoto], galleryDir: String, imageEmbedder: ImageEmbedder,
                                textEmbedder: TextEmbedder, progress: ((Int, Int) -> Void)? = nil) throws -> Result {
        guard !photos.isEmpty else { throw EvaluationError.nothingToEvaluate("the gallery lists no photo") }
        guard imageEmbedder.dimension == textEmbedder.dimension else {
            throw EvaluationError.nothingToEvaluate("image model '\(imageEmbedder.name)' (\(imageEmbedder.dimension)-d) and text model '\(textEmbedder.name)' (\(textEmbedder.dimension)-d) do not share an embedding space")
        }
        let set = CaptionRetrievalSet(photos: photos)
        var images = Tensor(zeros: [photos.count, imageEmbedder.dimension])
        var start = 0
        let d = imageEmbedder.dimension
        while start < photos.count {
            let chunk = photos[start..<min(photos.count, start + 32)]
            let e = try imageEmbedder.embed(paths: chunk.map { galleryDir + "/" + $0.file })
            (images.mutablePointer + start * d).update(from: e.pointer, count: e.count)
            start += chunk.count
            progress?(start, photos.count)
        }
        var texts = Tensor(zeros: [set.texts.count, d])
        start = 0
        while start < set.texts.count {
            let chunk = Array(set.texts[start..<min(set.texts.count, start + 64)])
            let e = try textEmbedder.embed(texts: chunk)
            (texts.mutablePointer + start * d).update(from: e.pointer, count: e.count)
            start += chunk.count
        }
        let r = try set.ranks(images: images, textEmbeddings: texts)
        return Result(t2i: RetrievalMetrics(ranks: r.t2i), i2t: RetrievalMetrics(ranks: r.i2t),
                      photos: photos.count, captions: set.texts.count)
    }

    /// Convenience: every photo of `galleryDir` (or the subset `only`).
    public static func evaluate(galleryDir: String, only: Set<String>? = nil, imageEmbedder: ImageEmbedder,
                                textEmbedder: TextEmbedder, progress: ((Int, Int) -> Void)? = nil) throws -> Result {
        try evaluate(photos: photos(galleryDir: galleryDir, only: only), galleryDir: galleryDir,
                     imageEmbedder: imageEmbedder, textEmbedder: textEmbedder, progress: progress)
    }

    public static func chance(photos: [CaptionedPhoto]) -> Chance {
        let c = CaptionRetrievalSet(photos: photos).chance()
        return Chance(t2i: c.t2i, i2t: c.i2t)
    }

    /// The full `eval --task gallery --json` report (DESIGN.md section 8 shape):
    /// `results` covers every photo of the folder for `model` and, when given, `floor`
    /// (`random_init`); plus `chance`; and, when the model is dialclip-mini and the folder
    /// holds its held-out photos, a `held_out` block with the same systems on those photos
    /// only (the honest numbers) and `training_photos_in_gallery` saying how many of the
    /// folder's photos the model was trained on.
    public static func report(galleryDir: String, model: ImageEmbedder, floor: ImageEmbedder?, textEmbedder: TextEmbedder,
                              progress: ((String, Int, Int) -> Void)? = nil) throws -> [String: Any] {
        let all = try photos(galleryDir: galleryDir)
        var systems: [ImageEmbedder] = [model]
        if let floor { systems.append(floor) }
        func block(_ subset: [CaptionedPhoto], label: String) throws -> [String: Any] {
            var results: [String: Any] = [:]
            var count = (photos: 0, captions: 0)
            for s in systems {
                let r = try evaluate(photos: subset, galleryDir: galleryDir, imageEmbedder: s, textEmbedder: textEmbedder) {
                    progress?("\(label): \(s.name)", $0, $1)
                }
                results[s.name] = ["t2i": r.t2i.json, "i2t": r.i2t.json]
                count = (r.photos, r.captions)
            }
            return ["photos": count.photos, "captions": count.captions, "queries": ["t2i": count.captions, "i2t": count.photos],
                    "results": results, "chance": chance(photos: subset).json]
        }
        let main = try block(all, label: "all photos")
        var report: [String: Any] = [
            "task": "gallery", "model": model.name, "text_model": textEmbedder.name, "gallery": galleryDir,
            "candidates": ["t2i": main["photos"]!, "i2t": main["captions"]!],
            "queries": main["queries"]!, "results": main["results"]!, "chance": main["chance"]!,
            "notes": ["t2i: one query per distinct caption text, candidates = all photos (a photo with that exact caption is a hit)",
                      "i2t: one query per photo, candidates = all distinct captions (any of its captions is a hit)",
                      "ties ranked pessimistically"],
        ]
        if let mini = (model as? MiniImageEncoder)?.model {
            let files = Set(all.map(\.file))
            let trained = Set(mini.trainingGalleryFiles).intersection(files)
            report["training_photos_in_gallery"] = trained.count
            let held = Set(mini.validationFiles).intersection(files)
            if !held.isEmpty && !trained.isEmpty {
                var h = try block(all.filter { held.contains($0.file) }, label: "held-out photos")
                h["note"] = "photos of this gallery that \(model.name) never saw in training (its validation split)"
                report["held_out"] = h
                report["notes"] = (report["notes"] as! [String]) + ["results include \(trained.count) photos \(model.name) was trained on; see held_out for the honest numbers"]
            }
        }
        return report
    }

    /// A plain-text table of a `report` (rows: set × system × direction).
    public static func table(_ report: [String: Any]) -> String {
        var lines = ["set           system            dir   R@1    R@5    R@10   MRR"]
        func rows(_ set: String, _ block: [String: Any]) {
            guard let results = block["results"] as? [String: Any] else { return }
            var systems = results.keys.sorted { ($0 == "random_init" ? 1 : 0, $0) < ($1 == "random_init" ? 1 : 0, $1) }
            systems.append("chance")
            for s in systems {
                let dirs = s == "chance" ? block["chance"] as? [String: Any] : results[s] as? [String: Any]
                for d in ["t2i", "i2t"] {
                    guard let m = dirs?[d] as? [String: Any] else { continue }
                    func v(_ k: String) -> String { String(format: "%.3f", (m[k] as? Double) ?? .nan) }
                    lines.append(String(format: "%@ %@ %@ %@  %@  %@  %@",
                                        set.padding(toLength: 13, withPad: " ", startingAt: 0),
                                        s.padding(toLength: 17, withPad: " ", startingAt: 0),
                                        d.padding(toLength: 5, withPad: " ", startingAt: 0), v("r@1"), v("r@5"), v("r@10"), v("mrr")))
                }
            }
        }
        if let h = report["held_out"] as? [String: Any] { rows("held-out", h) }
        rows(report["held_out"] != nil ? "all (trained)" : "all", report)
        return lines.joined(separator: "\n")
    }
}
