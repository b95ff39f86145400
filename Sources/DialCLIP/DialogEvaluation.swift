import Foundation
import Tensor
import Training

/// Settings of `dialclip eval --task dialog`.
public struct DialogEvalOptions: Sendable {
    /// Seeds the 99 reply distractors drawn per query from the pool.
    public var seed: UInt64
    public var replyCandidates: Int
    /// Evaluate at most this many reply queries (nil: all).
    public var maxReplyQueries: Int?
    public init(seed: UInt64 = 20240607, replyCandidates: Int = 100, maxReplyQueries: Int? = nil) {
        self.seed = seed; self.replyCandidates = replyCandidates; self.maxReplyQueries = maxReplyQueries
    }
}

/// One evaluated system: `model == nil` is zero-shot (the frozen tower on the token window,
/// no prompts, no experts).
public struct DialogEvalSystem: @unchecked Sendable {
    public var name: String
    public var model: DialCLIPModel?
    public var note: String?
    public init(name: String, model: DialCLIPModel?, note: String? = nil) { self.name = name; self.model = model; self.note = note }
}

/// The report in DESIGN.md section 8's shape, plus a text table.
public struct DialogEvalReport: @unchecked Sendable {
    public var json: [String: Any]
    public var results: [String: [String: RetrievalMetrics]]
    public var routing: [String: (accuracy: Double, f1: Double)]
    public var photoCandidates: Int
    public var photoQueries: Int
    public var replyQueries: Int

    /// Rows `system direction r@1 r@5 r@10 mrr`.
    public var table: String {
        func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
        var lines = [pad("system", 22) + " " + pad("dir", 6) + "    R@1    R@5   R@10    MRR"]
        for name in results.keys.sorted(by: DialogEvaluator.systemOrder) {
            for dir in ["photo", "reply"] {
                guard let m = results[name]?[dir] else { continue }
                lines.append(pad(name, 22) + " " + pad(dir, 6) + String(format: " %6.3f %6.3f %6.3f %6.3f",
                                    m.recallAt1, m.recallAt5, m.recallAt10, m.meanReciprocalRank))
            }
        }
        for (name, r) in routing.sorted(by: { $0.key < $1.key }) {
            lines.append(String(format: "routing (%@): accuracy %.3f, F1 %.3f", name, r.accuracy, r.f1))
        }
        return lines.joined(separator: "\n")
    }
}

/// Photo and reply retrieval over every dialogue of a PhotoChat-format file.
public enum DialogEvaluator {
    /// Anchors from DESIGN.md section 10 (published numbers, not measured here).
    public static var anchors: [[String: Any]] { [
        ["system": "PhotoChat paper, best baseline", "direction": "photo", "r@1": 0.104, "source": "paper (Zang et al., ACL 2021), full PhotoChat test set with real images"],
        ["system": "PaCE", "direction": "photo", "r@1": 0.152, "r@5": 0.367, "r@10": 0.496, "source": "paper (PaCE, ACL 2023), full PhotoChat test set with real images"],
    ] }

    static func systemOrder(_ a: String, _ b: String) -> Bool {
        let order = ["zero_shot", "tuned", "no_context_generator", "no_domain_prompt", "single_expert"]
        let ia = order.firstIndex(of: a) ?? order.count, ib = order.firstIndex(of: b) ?? order.count
        return ia != ib ? ia < ib : a < b
    }

    /// Evaluates `systems` on `dialogues`. Photo: context = turns[0...share_turn], candidates
    /// = the distinct photo descriptions of the file (frozen tower). Reply: for 1 ≤ k < n,
    /// context = turns[0..<k], candidates = turns[k] + 99 pool replies drawn with a fixed
    /// seed (pool texts equal to the target are skipped).
    public static func evaluate(dialogues: [Dialogue], replyPool: [String], tower: TextTower, systems: [DialogEvalSystem],
                                options: DialogEvalOptions = DialogEvalOptions(), modelName: String? = nil) throws -> DialogEvalReport {
        let d = tower.embedDim
        let maxTokens = systems.compactMap { $0.model?.config.maxContextTokens }.max() ?? DialCLIPConfig().maxContextTokens
        let encoder = ContextEncoder(tower: tower, maxContextTokens: maxTokens)
        // Photo queries.
        var descriptions: [String] = [], descIndex: [String: Int] = [:]
        var photoQueries: [(dialogue: Int, end: Int, target: Int)] = []
        for (i, dl) in dialogues.enumerated() {
            guard let s = dl.shareTurn, let p = dl.photo, !p.description.isEmpty else { continue }
            let t = descIndex[p.description] ?? { descIndex[p.description] = descriptions.count; descriptions.append(p.description); return descriptions.count - 1 }()
            photoQueries.append((i, s + 1, t))
        }
        // Reply queries.
        var replyQueries: [(dialogue: Int, end: Int)] = []
        for (i, dl) in dialogues.enumerated() where dl.turns.count > 1 {
            for k in 1..<dl.turns.count where !dl.turns[k].text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                replyQueries.append((i, k))
            }
        }
        if let m = options.maxReplyQueries { replyQueries = Array(replyQueries.prefix(m)) }
        let usablePool = replyPool.filter { !$0.isEmpty }
        if usablePool.count < options.replyCandidates - 1 { replyQueries = [] }
        guard !photoQueries.isEmpty || !replyQueries.isEmpty else {
            throw DialCLIPError.nothingToEvaluate("no dialogue with a shared photo or with two or more turns")
        }
        let descEmb = try descriptions.isEmpty ? Tensor(zeros: [0, d]) : tower.encode(texts: descriptions)
        let poolEmb = try replyQueries.isEmpty ? Tensor(zeros: [0, d]) : tower.encode(texts: usablePool)
        let replyTargets = replyQueries.map { dialogues[$0.dialogue].turns[$0.end].text }
        let targetEmb = try replyTargets.isEmpty ? Tensor(zeros: [0, d]) : tower.encode(texts: replyTargets)
        // Distractors: fixed seed per query.
        var distractors: [[Int]] = []
        for (qi, t) in replyTargets.enumerated() {
            var rng = TrainingRNG(seed: options.seed &+ UInt64(qi) &* 0x9E37_79B9)
            var picked: [Int] = [], seen = Set<Int>()
            while picked.count < options.replyCandidates - 1 {
                let j = Int(rng.next() % UInt64(usablePool.count))
                if seen.contains(j) || usablePool[j] == t { continue }
                seen.insert(j); picked.append(j)
            }
            distractors.append(picked)
        }
        try encoder.warm(dialogues.flatMap { $0.turns.map(\.text) })
        func ctx(_ dialogue: Int, _ end: Int, imageAllowed: Bool) -> DialogueContext {
            let dl = dialogues[dialogue]
            var images: [[Float]] = []
            if imageAllowed, let s = dl.shareTurn, end > s, let p = dl.photo, let t = descIndex[p.description] {
                images.append(Array(UnsafeBufferPointer(start: descEmb.pointer + t * d, count: d)))
            }
            return DialogueContext(turns: Array(dl.turns[0..<end]), imageEmbeddings: images)
        }
        func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>) -> Float { var s: Float = 0; for i in 0..<d { s += a[i] * b[i] }; return s }

        var results: [String: [String: RetrievalMetrics]] = [:]
        var routing: [String: (Double, Double)] = [:]
        var notes = ["photo candidates are the photos' text descriptions encoded by the frozen text tower (no images available)",
                     "reply candidates: the target turn plus \(options.replyCandidates - 1) replies drawn with seed \(options.seed) from the reply pool (\(usablePool.count) replies)",
                     "zero_shot: the frozen text tower on the newest turns that fit \(maxTokens) tokens; no prompts, no experts",
                     "tuned reply contexts after the share turn get the photo's description embedding as the stand-in for the shared image"]
        for sys in systems {
            var perDir: [String: RetrievalMetrics] = [:]
            func queries(_ items: [(Int, Int)], expert: DialCLIPExpert) throws -> Tensor {
                if let m = sys.model {
                    let q = DialCLIPQueryEncoder(model: m)
                    return try q.encode(items.map { ctx($0.0, $0.1, imageAllowed: expert == .reply) }, expert: expert)
                }
                return try tower.encode(ids: items.map { encoder.window(Array(dialogues[$0.0].turns[0..<$0.1])) })
            }
            if !photoQueries.isEmpty {
                let q = try queries(photoQueries.map { ($0.dialogue, $0.end) }, expert: .image)
                var ranks: [Int] = []
                for (i, pq) in photoQueries.enumerated() {
                    let scores = (0..<descriptions.count).map { dot(q.pointer + i * d, descEmb.pointer + $0 * d) }
                    ranks.append(RetrievalMetrics.rank(of: pq.target, in: scores))
                }
                perDir["photo"] = RetrievalMetrics(ranks: ranks)
            }
            if !replyQueries.isEmpty {
                let q = try queries(replyQueries.map { ($0.dialogue, $0.end) }, expert: .reply)
                var ranks: [Int] = []
                for i in 0..<replyQueries.count {
                    var scores = [dot(q.pointer + i * d, targetEmb.pointer + i * d)]
                    for j in distractors[i] { scores.append(dot(q.pointer + i * d, poolEmb.pointer + j * d)) }
                    ranks.append(RetrievalMetrics.rank(of: 0, in: scores))
                }
                perDir["reply"] = RetrievalMetrics(ranks: ranks)
            }
            results[sys.name] = perDir
            if let note = sys.note { notes.append("\(sys.name): \(note)") }
            // Routing: share-turn contexts are positives, earlier positions negatives.
            if let m = sys.model, !photoQueries.isEmpty {
                let enc = ContextEncoder(tower: tower, maxContextTokens: m.config.maxContextTokens, maxFeatureTurns: m.config.maxFeatureTurns)
                var tp = 0, fp = 0, tn = 0, fn = 0
                for pq in photoQueries {
                    for end in 1...pq.end {
                        let p = try m.photoShareProbability(try enc.prepare(DialogueContext(turns: Array(dialogues[pq.dialogue].turns[0..<end]))))
                        let positive = end == pq.end, predicted = p > 0.5
                        switch (positive, predicted) {
                        case (true, true): tp += 1
                        case (true, false): fn += 1
                        case (false, true): fp += 1
                        case (false, false): tn += 1
                        }
                    }
                }
                let acc = Double(tp + tn) / Double(max(tp + tn + fp + fn, 1))
                let f1 = tp == 0 ? 0 : 2 * Double(tp) / Double(2 * tp + fp + fn)
                routing[sys.name] = (acc, f1)
            }
        }
        var json: [String: Any] = [
            "task": "dialog",
            "model": modelName ?? tower.backboneName,
            "candidates": ["photo": descriptions.count, "reply": replyQueries.isEmpty ? 0 : options.replyCandidates],
            "queries": ["photo": photoQueries.count, "reply": replyQueries.count],
            "results": results.mapValues { $0.mapValues { $0.json } },
            "anchors": anchors,
            "notes": notes,
        ]
        if let r = routing["tuned"] ?? routing.first?.value {
            json["routing"] = ["accuracy": r.0, "f1": r.1, "system": routing["tuned"] != nil ? "tuned" : (routing.first?.key ?? "")]
        }
        json["routing_by_system"] = routing.mapValues { ["accuracy": $0.0, "f1": $0.1] }
        return DialogEvalReport(json: json, results: results, routing: routing.mapValues { (accuracy: $0.0, f1: $0.1) },
                                photoCandidates: descriptions.count, photoQueries: photoQueries.count, replyQueries: replyQueries.count)
    }
}
