import DCAR
import DialCLIP
import Foundation
import Imaging
import Tensor

/// Errors of `dialclip eval --task attributes`.
public enum AttributeEvaluationError: Error, CustomStringConvertible, Equatable {
    case missingGalleryFile(path: String)
    case badLine(path: String, line: Int, reason: String)
    case nothingToEvaluate(path: String)
    case unreadablePhoto(path: String, reason: String)

    public var description: String {
        switch self {
        case .missingGalleryFile(let p):
            return "\(p) not found: --gallery must be a folder with a gallery.jsonl (one {\"file\", \"captions\", \"category\", \"label\"} per line)"
        case .badLine(let p, let n, let r): return "\(p), line \(n): \(r)"
        case .nothingToEvaluate(let p): return "\(p) has no photo with a caption to evaluate"
        case .unreadablePhoto(let p, let r): return "cannot read photo \(p): \(r)"
        }
    }
}

/// One photo of an evaluation gallery (`gallery.jsonl`).
public struct AttributeGalleryItem: Sendable, Equatable {
    public var path: String
    public var captions: [String]
    public var category: String?
    public var label: String?

    /// Reads `DIR/gallery.jsonl`; paths become absolute (relative to DIR). Rows without a
    /// file or without a non-empty caption are errors (named by line).
    public static func read(galleryDirectory dir: String) throws -> [AttributeGalleryItem] {
        let path = URL(fileURLWithPath: dir).appendingPathComponent("gallery.jsonl").path
        guard let data = FileManager.default.contents(atPath: path) else { throw AttributeEvaluationError.missingGalleryFile(path: path) }
        var items: [AttributeGalleryItem] = []
        for (n, line) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            guard let obj = (try? JSONSerialization.jsonObject(with: Data(trimmed.utf8))) as? [String: Any] else {
                throw AttributeEvaluationError.badLine(path: path, line: n + 1, reason: "not a JSON object")
            }
            guard let file = obj["file"] as? String, !file.isEmpty else {
                throw AttributeEvaluationError.badLine(path: path, line: n + 1, reason: "missing \"file\"")
            }
            let captions = ((obj["captions"] as? [Any]) ?? (obj["caption"].map { [$0] } ?? []))
                .compactMap { $0 as? String }.filter { !$0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }
            guard !captions.isEmpty else {
                throw AttributeEvaluationError.badLine(path: path, line: n + 1, reason: "no caption")
            }
            let absolute = file.hasPrefix("/") ? file : URL(fileURLWithPath: dir).appendingPathComponent(file).path
            items.append(AttributeGalleryItem(path: absolute, captions: captions, category: obj["category"] as? String, label: obj["label"] as? String))
        }
        guard !items.isEmpty else { throw AttributeEvaluationError.nothingToEvaluate(path: path) }
        return items
    }
}

/// Settings of the attribute evaluation.
public struct AttributeEvaluationOptions: Sendable {
    /// β of the reported `<model>+dcar` system.
    public var beta: Float = Reranker.suggestedBeta
    /// How many of the global top candidates DCAR re-ranks.
    public var topK: Int = 20
    /// Swapped captions per true caption in the fine-grained test.
    public var negativesPerCaption: Int = 4
    public var seed: UInt64 = 20_250_805
    /// Extra β values reported under "beta_sweep" (cheap: similarities are computed once).
    public var betaSweep: [Float] = [0, 0.1, 0.2, 0.3, 0.5, 0.7, 1]
    /// System name in the report (default: the image embedder's name).
    public var systemName: String?
    public init() {}
}

/// Text→image and image→text retrieval with and without DCAR re-ranking, and DCAR's
/// fine-grained test: for each photo and each of its captions, the true caption against the
/// same caption with the category or one attribute swapped (NegativeCaptionBuilder); the
/// accuracy is how often the true one scores strictly highest.
public enum AttributeEvaluation {
    public struct Report: @unchecked Sendable {
        public var json: [String: Any]
        public var baseline: (t2i: RetrievalMetrics, i2t: RetrievalMetrics)
        public var dcar: (t2i: RetrievalMetrics, i2t: RetrievalMetrics)
        public var fineGrainedBaseline: Double
        public var fineGrainedDCAR: Double
    }

    /// Evaluates every photo of `DIR/gallery.jsonl`. `progress` receives short status lines.
    public static func evaluate(galleryDirectory: String, imageEmbedder: ImageEmbedder, textEmbedder: TextEmbedder,
                                options: AttributeEvaluationOptions = AttributeEvaluationOptions(),
                                progress: ((String) -> Void)? = nil) throws -> Report {
        guard options.beta.isFinite, options.beta >= 0, options.beta <= 1 else { throw AttributeInspectorError.invalidBeta(options.beta) }
        guard imageEmbedder.dimension == textEmbedder.dimension else {
            throw AttributeInspectorError.incompatibleEncoders(text: textEmbedder.name, textDimension: textEmbedder.dimension,
                                                               image: imageEmbedder.name, imageDimension: imageEmbedder.dimension)
        }
        let items = try AttributeGalleryItem.read(galleryDirectory: galleryDirectory)
        let d = imageEmbedder.dimension

        // Images, in batches.
        progress?("encoding \(items.count) photos")
        var imageRows: [Tensor] = []
        let batch = 16
        for start in stride(from: 0, to: items.count, by: batch) {
            var decoded: [RGBImage] = []
            for item in items[start..<min(items.count, start + batch)] {
                do { decoded.append(try ImageDecoder.decode(path: item.path)) } catch let e as ImagingError {
                    throw AttributeEvaluationError.unreadablePhoto(path: item.path, reason: e.description)
                }
            }
            let e = try imageEmbedder.embed(images: decoded)
            for r in 0..<decoded.count { imageRows.append(e.row(r)) }
        }
        let images = try Tensor.stack(imageRows)
        let blank = try BlankImageCache.shared.embedding(for: imageEmbedder)

        // Captions (owner = photo index), their negatives and all phrases.
        var captions: [String] = []
        var owner: [Int] = []
        for (i, item) in items.enumerated() { for c in item.captions { captions.append(c); owner.append(i) } }
        let vocabulary = CaptionVocabulary(captions: captions, categories: items.flatMap { [$0.category, $0.label].compactMap { $0 } })
        let builder = NegativeCaptionBuilder(vocabulary: vocabulary)
        var negatives: [[NegativeCaption]] = []
        for (c, text) in captions.enumerated() {
            let item = items[owner[c]]
            negatives.append(builder.negatives(for: text, category: item.label ?? item.category, count: options.negativesPerCaption,
                                               seed: options.seed &+ UInt64(c)))
        }
        let negativeTexts = negatives.flatMap { $0.map(\.text) }
        let chunker = AttributeChunker()
        let allTexts = captions + negativeTexts
        var phraseIndex: [String: Int] = [:]
        var phraseList: [String] = []
        let textPhrases: [[Int]] = allTexts.map { t in
            chunker.analyze(t).phrases.map { p in
                if let k = phraseIndex[p.text] { return k }
                phraseIndex[p.text] = phraseList.count
                phraseList.append(p.text)
                return phraseList.count - 1
            }
        }
        progress?("encoding \(allTexts.count) captions (\(negativeTexts.count) swapped) and \(phraseList.count) phrases")
        let textEmb = try embedAll(allTexts, with: textEmbedder, dimension: d)
        let phraseEmb = try embedAll(phraseList, with: textEmbedder, dimension: d)

        // All similarities: texts × images, phrases × images, phrases × blank.
        let sTI = try textEmb.matmulTransposed(images).array                 // [T, N]
        let sPI = phraseList.isEmpty ? [] : try phraseEmb.matmulTransposed(images).array
        let sPB = phraseList.isEmpty ? [] : try phraseEmb.matmulTransposed(try blank.reshaped([1, d])).array
        let n = items.count

        /// DCAR attribute score of text t against image i (nil without phrases).
        func attribute(_ t: Int, _ i: Int) -> Float? {
            let js = textPhrases[t]
            guard !js.isEmpty else { return nil }
            let sImage = js.map { sPI[$0 * n + i] }
            let (w, _) = AttributeWeighting.weights(sImage: sImage, sBlank: js.map { sPB[$0] })
            var a = 0.0
            for k in w.indices { a += Double(w[k]) * Double(sImage[k]) }
            return Float(a)
        }
        func final(_ t: Int, _ i: Int, beta: Float) -> Float {
            let g = sTI[t * n + i]
            guard beta > 0, let a = attribute(t, i) else { return g }
            return (1 - beta) * g + beta * a
        }

        // Retrieval ranks for one β (β = 0: the baseline).
        let captionCount = captions.count
        func ranks(beta: Float) -> (t2i: [Int], i2t: [Int]) {
            var t2i: [Int] = []
            for q in 0..<captionCount {
                let global = (0..<n).map { sTI[q * n + $0] }
                t2i.append(rerankedRank(global: global, targets: [owner[q]], topK: options.topK, beta: beta) { final(q, $0, beta: beta) })
            }
            var i2t: [Int] = []
            var captionsOf = [[Int]](repeating: [], count: n)
            for (c, o) in owner.enumerated() { captionsOf[o].append(c) }
            for i in 0..<n {
                let global = (0..<captionCount).map { sTI[$0 * n + i] }
                i2t.append(rerankedRank(global: global, targets: Set(captionsOf[i]), topK: options.topK, beta: beta) { final($0, i, beta: beta) })
            }
            return (t2i, i2t)
        }
        // Fine-grained accuracy for one β, overall and per kind of swap.
        func fineGrained(beta: Float) -> (accuracy: Double, bySwap: [String: Double], items: Int) {
            var correct = 0, total = 0
            var perSwap: [String: (Int, Int)] = [:]
            var offset = captionCount
            for c in 0..<captionCount {
                let negs = negatives[c]
                defer { offset += negs.count }
                guard !negs.isEmpty else { continue }
                let i = owner[c]
                let truth = final(c, i, beta: beta)
                var ok = true
                for (k, neg) in negs.enumerated() {
                    let s = final(offset + k, i, beta: beta)
                    let beaten = !(truth > s)
                    if beaten { ok = false }
                    var e = perSwap[neg.swap.rawValue] ?? (0, 0)
                    e = (e.0 + (beaten ? 0 : 1), e.1 + 1)
                    perSwap[neg.swap.rawValue] = e
                }
                total += 1
                if ok { correct += 1 }
            }
            return (total == 0 ? 0 : Double(correct) / Double(total), perSwap.mapValues { Double($0.0) / Double(max($0.1, 1)) }, total)
        }

        progress?("ranking")
        let base = ranks(beta: 0)
        let withDCAR = ranks(beta: options.beta)
        let fgBase = fineGrained(beta: 0)
        let fgDCAR = fineGrained(beta: options.beta)
        let baseline = (t2i: RetrievalMetrics(ranks: base.t2i), i2t: RetrievalMetrics(ranks: base.i2t))
        let dcar = (t2i: RetrievalMetrics(ranks: withDCAR.t2i), i2t: RetrievalMetrics(ranks: withDCAR.i2t))
        let name = options.systemName ?? imageEmbedder.name
        var sweep: [[String: Any]] = []
        for b in options.betaSweep where b.isFinite && b >= 0 && b <= 1 {
            let r = ranks(beta: b)
            let t = RetrievalMetrics(ranks: r.t2i), i = RetrievalMetrics(ranks: r.i2t)
            sweep.append(["beta": jsonNumber(b), "t2i": t.json, "i2t": i.json, "fine_grained_accuracy": fineGrained(beta: b).accuracy])
        }
        let noPhrase = (0..<captionCount).filter { textPhrases[$0].isEmpty }.count
        let json: [String: Any] = [
            "task": "attributes",
            "model": name,
            "candidates": n,
            "queries": captionCount,
            "images": n,
            "captions": captionCount,
            "beta": jsonNumber(options.beta),
            "top_k": options.topK,
            "results": [
                name: ["t2i": baseline.t2i.json, "i2t": baseline.i2t.json],
                name + "+dcar": ["t2i": dcar.t2i.json, "i2t": dcar.i2t.json],
            ],
            "fine_grained": [
                "items": fgBase.items,
                "negatives_per_caption": options.negativesPerCaption,
                "negatives": negativeTexts.count,
                "results": [
                    name: ["accuracy": fgBase.accuracy, "by_swap": fgBase.bySwap],
                    name + "+dcar": ["accuracy": fgDCAR.accuracy, "by_swap": fgDCAR.bySwap],
                ],
            ] as [String: Any],
            "beta_sweep": sweep,
            "captions_without_phrases": noPhrase,
            "phrases": phraseList.count,
        ]
        return Report(json: json, baseline: baseline, dcar: dcar, fineGrainedBaseline: fgBase.accuracy, fineGrainedDCAR: fgDCAR.accuracy)
    }

    /// 1-based rank of the best target after DCAR re-scores the global top-K (pessimistic on
    /// ties: a non-target with an equal score ranks first). Targets outside the top-K keep
    /// their global rank.
    static func rerankedRank(global: [Float], targets: Set<Int>, topK: Int, beta: Float, final: (Int) -> Float) -> Int {
        let best = targets.map { global[$0] }.max() ?? -.infinity
        let globalRank = 1 + global.indices.filter { !targets.contains($0) && !(global[$0] < best) }.count
        guard beta > 0, topK > 0 else { return globalRank }
        let top = Array(global.indices.sorted { global[$0] != global[$1] ? global[$0] > global[$1] : $0 < $1 }.prefix(topK))
        let inTop = top.filter { targets.contains($0) }
        guard !inTop.isEmpty else { return globalRank }
        let rescored = Dictionary(uniqueKeysWithValues: top.map { ($0, final($0)) })
        let bestFinal = inTop.map { rescored[$0]! }.max()!
        return 1 + top.filter { !targets.contains($0) && !(rescored[$0]! < bestFinal) }.count
    }

    static func embedAll(_ texts: [String], with embedder: TextEmbedder, dimension d: Int) throws -> Tensor {
        guard !texts.isEmpty else { return Tensor(zeros: [0, d]) }
        var rows: [Tensor] = []
        for start in stride(from: 0, to: texts.count, by: 64) {
            let e = try embedder.embed(texts: Array(texts[start..<min(texts.count, start + 64)]))
            for r in 0..<e.shape[0] { rows.append(e.row(r)) }
        }
        return try Tensor.stack(rows)
    }
}
