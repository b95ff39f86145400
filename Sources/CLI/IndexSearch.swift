import ArgumentParser
import Engine
import Foundation
import Gallery
import Models
import Tensor

/// Options shared by `index` and `search` for walking photo folders.
struct WalkFlags: ParsableArguments {
    @Option(name: .customLong("exclude-dir"), help: "Folder name or absolute path to skip (repeatable; default skips .git, node_modules, @eaDir).")
    var excludeDirs: [String] = []

    @Flag(name: .long, help: "Include hidden files and folders.")
    var hidden = false

    @Option(name: .customLong("max-megapixels"), help: "Skip images larger than this (guards against huge or malicious files).")
    var maxMegapixels: Double = 100

    @Flag(name: .long, help: "Store embeddings as fp16 (half the space).")
    var fp16 = false

    var indexOptions: IndexOptions {
        IndexOptions(walk: WalkOptions(excludeDirs: WalkOptions.defaultExcludeDirs + excludeDirs, includeHidden: hidden),
                     maxMegapixels: maxMegapixels, storage: fp16 ? .fp16 : .fp32)
    }
}

/// `dialclip index DIR…`
struct Index: AsyncCommand {
    static let configuration = CommandConfiguration(
        abstract: "Index photo folders (incremental: unchanged files are skipped, deleted ones pruned).",
        discussion: """
        Examples:
          dialclip index ~/Pictures
          dialclip index assets/gallery --json
          dialclip index --remove ~/Pictures/old
        """)

    @Argument(help: "Folders to index.")
    var folders: [String] = []

    @Option(name: .long, help: "Drop a folder (and everything under it) from the index.")
    var remove: String?

    @Option(name: .long, help: "Model: dialclip-mini (default) or a CLIP checkpoint path.")
    var model: String?

    @OptionGroup var weights: WeightFlags

    @Option(name: .long, help: "Index database (default: $XDG_DATA_HOME/dialclip/index.sqlite).")
    var db: String?

    @OptionGroup var walk: WalkFlags

    @Flag(name: .long, help: "Print the summary as JSON.")
    var json = false

    func validate() throws {
        if folders.isEmpty && remove == nil { throw ValidationError("give at least one folder to index, or --remove DIR") }
    }

    mutating func execute() async throws {
        let index = try GalleryIndex(path: db ?? GalleryIndex.defaultDatabasePath())
        if let remove {
            let n = try index.remove(directory: GalleryPaths.absolute(remove))
            if json { try printJSON(["removed": n, "directory": GalleryPaths.absolute(remove)]) } else { print("removed \(n) items under \(GalleryPaths.absolute(remove))") }
            if folders.isEmpty { return }
        }
        let models = try ModelLoader.load(model, precision: weights.precision)
        let report = try runIndexer(index: index, model: models, roots: folders, options: walk.indexOptions, quiet: json)
        if json {
            try writeStandardOutput(try report.jsonData() + Data("\n".utf8))
        } else {
            print(report.plainSummary)
        }
    }
}

/// Runs the indexer with a progress bar on a terminal.
func runIndexer(index: GalleryIndex, model: ImageTextModel, roots: [String], options: IndexOptions, quiet: Bool) throws -> IndexReport {
    let indexer = GalleryIndexer(index: index, encoder: ModelGalleryEncoder(model: model), options: options)
    let progress = TerminalProgress()
    defer { progress.finish() }
    return try indexer.run(roots: roots.map { GalleryPaths.absolute($0) }, progress: quiet ? nil : { progress.update($0) })
}

/// `dialclip search QUERY…`
struct Search: AsyncCommand {
    static let configuration = CommandConfiguration(
        abstract: "Search the gallery (or the reply pool) and print the best matches.",
        discussion: """
        Prints one absolute photo path per line (pipe it into other tools); --json for details.
        A query may combine weighted terms: texts and image paths, added or subtracted.

        Examples:
          dialclip search "a dog on the grass"
          dialclip search ./cat.jpg -k 5
          dialclip search '"2:golden retriever" + ./pool.jpg - night'
          dialclip search --kind reply "want to grab lunch?"
          dialclip search --gallery assets/gallery --json "red flowers"
          dialclip search --context chat.jsonl --kind all
          dialclip search --context chat.jsonl "and one of the beach?"

        With --context FILE (a dialogue JSONL in the shared format: {"id", "turns":
        [{"speaker", "text", "image"?}]}), the whole dialogue is the query, as in the TUI:
        DialCLIP's prompts encode the turns and the photos shared earlier (a turn's "image"
        path, relative to the file's folder). The first dialogue is used unless --dialogue N
        (0-based) picks another; a PhotoChat record stops at its "share_turn", as in
        `eval --task dialog`. A QUERY given as well is appended as one more turn (plain text).
        """)

    enum Kind: String, ExpressibleByArgument, CaseIterable { case image, reply, all }

    @Argument(help: "The query: text, an image path, or a combination (optional with --context).")
    var query: [String] = []

    @Option(name: .long, help: "Dialogue JSONL whose turns are the query context (see below).")
    var context: String?

    @Option(name: .long, help: "Which dialogue of --context, 0-based.")
    var dialogue: Int = 0

    @Option(name: .long, help: "DialCLIP prompts checkpoint for --context (default: the bundled one; `none` for zero-shot).")
    var prompts: String?

    @Option(name: .short, help: "How many results.")
    var k: Int = 10

    @Option(name: .long, help: "What to search: image (default), reply or all.")
    var kind: Kind = .image

    @Option(name: .long, help: "Model: dialclip-mini (default) or a CLIP checkpoint path.")
    var model: String?

    @OptionGroup var weights: WeightFlags

    @Option(name: .long, help: "Photo folder to (re)index before searching (default: the bundled gallery when the index is empty).")
    var gallery: String?

    @Option(name: .long, help: "Index database (default: $XDG_DATA_HOME/dialclip/index.sqlite).")
    var db: String?

    @Option(name: .long, help: "Reply pool, one reply per line (default: the bundled pool).")
    var replies: String?

    @Flag(name: .customLong("no-index"), help: "Search the index as it is, without re-scanning --gallery.")
    var noIndex = false

    @OptionGroup var walk: WalkFlags

    @Flag(name: .long, help: "Print JSON (DESIGN.md section 8 shape).")
    var json = false

    @Flag(name: .long, help: "Report latency on stderr.")
    var verbose = false

    func validate() throws {
        guard k > 0 else { throw ValidationError("-k must be at least 1") }
        guard dialogue >= 0 else { throw ValidationError("--dialogue must be 0 or more") }
        guard context != nil || !query.allSatisfy({ $0.trimmingCharacters(in: .whitespaces).isEmpty }) else {
            throw ValidationError("the query is empty")
        }
    }

    mutating func execute() async throws {
        if let context {
            try await searchWithContext(file: context)
            return
        }
        let text = query.joined(separator: " ")
        var hits: [RetrievalHit] = []
        var latency = 0.0
        if kind != .reply {
            let (photoHits, t) = try searchPhotos()
            hits += photoHits
            latency += t
        }
        if kind != .image {
            let t0 = Benchmarks.now()
            let encoder = try MiniLMEncoder()
            let pool = try ReplyIndex(poolPath: try replies ?? Assets.locate().appendingPathComponent("replies/reply_pool.txt").path, encoder: encoder)
            let q = try encoder.embed(texts: [text])
            let t1 = Benchmarks.now()
            hits += try pool.search(query: q, k: k).enumerated().map {
                RetrievalHit(rank: $0.offset + 1, kind: .reply, path: nil, text: $0.element.reply, score: $0.element.score)
            }
            latency += Benchmarks.now() - t1
            if verbose { printError(String(format: "reply pool: %.1f ms to load/encode, %.2f ms to search", (t1 - t0) * 1000, (Benchmarks.now() - t1) * 1000)) }
        }
        if kind == .all {
            hits.sort { $0.score > $1.score }
            hits = Array(hits.prefix(k))
            for i in hits.indices { hits[i].rank = i + 1 }
        }
        if verbose { printError(String(format: "search latency: %.2f ms", latency * 1000)) }
        try printHits(hits, query: text, latency: latency)
    }

    /// Prints hits as paths/reply lines, or the DESIGN.md section 8 JSON plus `extra` fields.
    func printHits(_ hits: [RetrievalHit], query: String, latency: Double, extra: [String: Any] = [:]) throws {
        if json {
            var object: [String: Any] = ["query": query, "latency_ms": latency * 1000, "results": hits.map { h -> [String: Any] in
                var d: [String: Any] = ["rank": h.rank, "score": Double(h.score), "kind": h.kind.rawValue, "caption": h.text]
                d["path"] = h.path ?? NSNull()
                if let c = h.category { d["category"] = c }
                return d
            }]
            object.merge(extra) { _, new in new }
            try printJSON(object)
            return
        }
        for h in hits { print(h.path ?? h.text) }
    }

    /// Photo hits for the (possibly combined) query; returns hits and query+search latency.
    func searchPhotos() throws -> ([RetrievalHit], Double) {
        let index = try GalleryIndex(path: db ?? GalleryIndex.defaultDatabasePath())
        let models = try ModelLoader.load(model, precision: weights.precision)
        let root = try gallery ?? (index.count(kind: .image) == 0 ? Assets.locate().appendingPathComponent("gallery").path : nil)
        if let root, !noIndex {
            let report = try runIndexer(index: index, model: models, roots: [root], options: walk.indexOptions, quiet: json)
            if verbose || (report.added + report.updated > 0 && !json) { printError(report.plainSummary) }
        }
        let searcher = try GallerySearcher(index: index, model: models.identity, kinds: [.image])
        guard searcher.count > 0 else {
            throw CLIError("the index has no photos for \(models.identity.name); run `dialclip index DIR` first")
        }
        let t0 = Benchmarks.now()
        let terms = try CombinedQuery.parse(arguments: query)
        let encoder = ModelGalleryEncoder(model: models)
        var weighted: [(weight: Float, embedding: [Float])] = []
        for term in terms {
            switch term.content {
            case .text(let t): weighted.append((term.weight, try encoder.encodeTexts([t])[0]))
            case .image(let p): weighted.append((term.weight, try encoder.encodeImages(paths: [p])[0].get()))
            }
        }
        let q = try CombinedQuery.combine(weighted)
        let found = try searcher.search(q, k: k, kind: .image)
        let latency = Benchmarks.now() - t0
        return (found.map { RetrievalHit(rank: $0.rank, kind: .image, path: $0.path, text: $0.caption ?? "", score: $0.score, category: $0.category) }, latency)
    }
}
