import ArgumentParser
import Engine
import Foundation
import Models
import Tensor
import Tokenizers
import DialCLIP
import Gallery
import Imaging

/// `dialclip bench`: throughput and memory, as ratios against references measured in
/// the same run (PyTorch / ONNX Runtime on this CPU, OpenBLAS sgemm at the model's shapes).
struct Bench: AsyncCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure encoders and search against PyTorch, ONNX Runtime and sgemm on this machine.",
        discussion: """
        References come from Scripts/reference_bench.py run in the reference virtualenv
        (create it once with Scripts/make-reference-env.sh; override its location with
        DIALCLIP_REFENV). Without it, dialclip's own figures are printed and the
        reference columns say 'unavailable'.
        """)

    @Option(name: .long, help: "Threads (default: all cores).")
    var threads: Int?

    @Flag(name: .long, help: "Fewer repetitions (a rough figure in a few seconds).")
    var quick = false

    @Flag(name: .long, help: "Skip the PyTorch/ONNX Runtime references.")
    var noReference = false

    @Flag(name: .long, help: "Print JSON (DESIGN.md section 8 shape).")
    var json = false

    /// Set by `bench` itself when it re-runs this binary to measure a model's resident
    /// memory in a fresh process (freed heap is never returned, so in-process deltas lie).
    @Option(name: .customLong("memory-probe"), help: .hidden)
    var memoryProbe: WeightPrecision?

    mutating func execute() async throws {
        let n = threads ?? ProcessInfo.processInfo.activeProcessorCount
        Parallelism.setThreads(n)
        if let memoryProbe { try MemoryProbe.run(precision: memoryProbe); return }
        let runs = quick ? 2 : 5
        var rows: [BenchRow] = []
        // MiniLM's input is fixed first: the reference times PyTorch on the same token counts.
        let assets = try Assets.locate()
        let turns = try ReplyPool.read(path: assets.appendingPathComponent("replies/reply_pool.txt").path)
        let miniLMInput = Result { MiniLMBenchInput(encoder: try MiniLMEncoder(), turns: turns) }
        let reference = noReference ? ReferenceResults.unavailable("skipped (--no-reference)")
            : ReferenceResults.measure(threads: n, miniLMLengths: (try? miniLMInput.get())?.lengths ?? [])
        func log(_ s: String) { if !json { printError(s) } }

        // sgemm
        log("sgemm …")
        let square = Benchmarks.sgemmGFLOPS(m: 1024, n: 1024, k: 1024, runs: runs)
        rows.append(BenchRow(name: "sgemm_1024_gflops", ours: square, unit: "GFLOP/s"))
        let config = CLIPConfig.vitB32
        let shapes16 = Benchmarks.vitGemmShapes(config, batch: 16)
        let atShapes = Benchmarks.sgemmAtShapes(shapes16, runs: quick ? 1 : 3)
        rows.append(BenchRow(name: "sgemm_vit_b32_shapes_gflops", ours: atShapes, unit: "GFLOP/s"))

        // ViT-B/32 image tower, random weights
        log("ViT-B/32 image encoder …")
        let model = CLIPModel(randomWeights: config)
        var imageTimes: [Int: Double] = [:]
        for batch in [1, 16] {
            let pixels = Tensor(repeating: 0.1, shape: [batch, 3, 224, 224])
            let t = try Benchmarks.median(warmup: 1, runs: batch == 1 ? runs * 2 : runs) { _ = try model.encodeImages(pixels: pixels) }
            imageTimes[batch] = t
            let imagesPerSecond = Double(batch) / t
            for (engine, key) in [("pytorch", "image_b\(batch)_torch_ms_per_image"), ("onnxruntime", "image_b\(batch)_ort_ms_per_image")] {
                let refMs = reference.rows[key]
                rows.append(BenchRow(name: "image_b\(batch)_vs_\(engine)", ours: imagesPerSecond,
                                     reference: refMs == nil ? reference.unavailableReason(engine) : "\(engine) \(reference.version(engine))",
                                     referenceValue: refMs.map { 1000 / $0 }, unit: "images/s",
                                     speedup: refMs.map { imagesPerSecond / (1000 / $0) }))
            }
            if batch == 16 {
                let effective = Benchmarks.vitFLOPs(config, batch: 16) / t / 1e9
                rows.append(BenchRow(name: "sgemm_fraction_of_peak", ours: effective, reference: "OpenBLAS sgemm at the same shapes",
                                     referenceValue: atShapes, unit: "GFLOP/s", speedup: effective / atShapes,
                                     note: "effective model GFLOP/s over sgemm GFLOP/s at ViT-B/32 batch-16 shapes"))
            }
        }
        // Resident memory, each precision in a fresh process of its own.
        let weightBytes = Double(model.parameterCount) * 4
        for precision in [WeightPrecision.f32, .f16] {
            log("ViT-B/32 resident memory (\(precision.rawValue) weights) …")
            guard let probe = MemoryProbe.measure(precision: precision, threads: n) else { continue }
            let suffix = precision == .f16 ? "_fp16" : ""
            rows.append(BenchRow(name: "vit_b32\(suffix)_rss_vs_fp32_weights", ours: Double(probe) / 1e6,
                                 reference: "fp32 weight bytes", referenceValue: weightBytes / 1e6, unit: "MB",
                                 speedup: weightBytes / Double(max(1, probe)),
                                 note: "growth of VmRSS over loading (layer by layer, random weights) plus one image and one text forward, in a fresh process; speedup = fp32 weight bytes / that growth"))
        }
        // The price of fp16 weights: each layer is widened to fp32 right before use.
        let halfModel = CLIPModel(randomWeights: config, precision: .f16)
        let pixels16 = Tensor(repeating: 0.1, shape: [16, 3, 224, 224])
        let halfTime = try Benchmarks.median(warmup: 1, runs: runs) { _ = try halfModel.encodeImages(pixels: pixels16) }
        if let fullTime = imageTimes[16] {
            rows.append(BenchRow(name: "image_b16_fp16_weights_vs_fp32", ours: 16 / halfTime, reference: "fp32 weights, same run",
                                 referenceValue: 16 / fullTime, unit: "images/s", speedup: fullTime / halfTime,
                                 note: "--fp16-weights: matrices widened to fp32 one layer at a time (F16C: \(HalfTensor.usesF16C ? "yes" : "no"))"))
        }

        // CLIP ViT-B/32 text tower on chat turns: each runs only up to its EOT, batched by length.
        log("CLIP text tower on chat turns …")
        let clipTokenizer = try CLIPTokenizer(vocabularyGzipPath: assets.appendingPathComponent("clip/bpe_simple_vocab_16e6.txt.gz").path)
        let turnIDs = turns.prefix(256).map { clipTokenizer.tokenize($0) }
        let textTime = try Benchmarks.median(warmup: 1, runs: runs) { _ = try model.encodeTexts(ids: Array(turnIDs), batchSize: 32) }
        let msPerTurn = textTime * 1000 / Double(turnIDs.count)
        let refText = reference.rows["text_turn77_torch_ms_per_text"]
        rows.append(BenchRow(name: "text_turn_vs_pytorch", ours: msPerTurn,
                             reference: refText == nil ? reference.unavailableReason("pytorch") : "pytorch \(reference.version("pytorch")), 77 tokens",
                             referenceValue: refText, unit: "ms/turn", speedup: refText.map { $0 / msPerTurn },
                             note: "ours: \(turnIDs.count) real chat turns (mean \(turnIDs.map(\.count).reduce(0, +) / max(1, turnIDs.count)) tokens); reference: the 77-token cost"))

        // MiniLM (real weights when installed) on 20-word sentences made of real turns.
        switch miniLMInput {
        case .success(let miniLM):
            let encoder = miniLM.encoder
            log("MiniLM …")
            for batch in [1, 32] {
                let input = Array(miniLM.sentences.prefix(batch))
                let t = try Benchmarks.median(warmup: 1, runs: runs) { _ = try encoder.embed(texts: input) }
                let ours = Double(batch) / t
                let ref = reference.rows["minilm_real_b\(batch)_torch_sent_per_s"]
                let used = miniLM.lengths.prefix(batch)
                rows.append(BenchRow(name: "minilm_b\(batch)_vs_pytorch", ours: ours,
                                     reference: ref == nil ? reference.unavailableReason("pytorch") : "pytorch \(reference.version("pytorch"))",
                                     referenceValue: ref, unit: "sentences/s", speedup: ref.map { ours / $0 },
                                     note: "real 20-word sentences of \(used.min() ?? 0)–\(used.max() ?? 0) tokens; ours: tokenisation included, batched by length; reference: the same token counts as one batch padded to the longest (sentence-transformers' batching)"))
            }
            // Like for like with the reference: 32 × 28 random token ids, no tokenisation.
            var idRNG = SeededGenerator(seed: 28)
            let ids28 = (0..<32).map { _ in [101] + (0..<26).map { _ in 1000 + Int(idRNG.next() % 29_000) } + [102] }
            let t28 = try Benchmarks.median(warmup: 1, runs: runs) { _ = try encoder.model.encode(ids: ids28) }
            let ours28 = 32 / t28
            let ref32 = reference.rows["minilm_b32_torch_sent_per_s"]
            rows.append(BenchRow(name: "minilm_b32_28tok_vs_pytorch", ours: ours28,
                                 reference: ref32 == nil ? reference.unavailableReason("pytorch") : "pytorch \(reference.version("pytorch"))",
                                 referenceValue: ref32, unit: "sentences/s", speedup: ref32.map { ours28 / $0 },
                                 note: "both: 32 sequences of 28 token ids, no tokenisation"))
        case .failure(let error):
            log("MiniLM rows skipped: \(error)")
        }

        // Index search and write throughput on synthetic 512-d embeddings (reference: the
        // 20 ms/query target of the performance issue; sgemv reads the whole matrix once).
        log("gallery search …")
        for count in quick ? [1_000, 10_000] : [1_000, 10_000, 100_000] {
            let latency = try GalleryBenchmarks.searchLatency(count: count, dim: 512, queries: quick ? 10 : 30)
            rows.append(BenchRow(name: "search_\(count / 1000)k_512d_ms", ours: latency.medianMs, reference: "target 20 ms per query",
                                 referenceValue: 20, unit: "ms/query", speedup: 20 / max(latency.medianMs, 1e-6),
                                 note: String(format: "min %.2f ms, p95 %.2f ms", latency.minMs, latency.p95Ms)))
        }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("dialclip-bench-\(getpid()).sqlite").path
        defer { for suffix in ["", "-wal", "-shm", ".lock"] { try? FileManager.default.removeItem(atPath: scratch + suffix) } }
        let writes = try GalleryBenchmarks.indexThroughput(count: 5_000, dim: 512, databasePath: scratch)
        rows.append(BenchRow(name: "index_write_items_per_s", ours: writes.itemsPerSecond, unit: "items/s",
                             note: "embeddings written to SQLite in batched transactions"))
        // End-to-end indexing of the bundled gallery with the default model vs its encode-only time.
        log("indexing the bundled gallery …")
        let defaultModel: ImageTextModel?
        do { defaultModel = try ModelLoader.load(nil) } catch let error as ModelError {
            log("indexing rows skipped: \(error)")
            defaultModel = nil
        }
        if let defaultModel { rows += try indexingRows(models: defaultModel, assets: assets, scratch: scratch, runs: quick ? 1 : 3) }

        let report: [String: Any] = [
            "machine": Benchmarks.machine, "openblas_kernel": BLAS.coreName, "threads": n,
            "reference_env": reference.description, "rows": rows.map(\.json),
        ]
        if json { try printJSON(report); return }
        print("machine: \(Benchmarks.machine); OpenBLAS kernel: \(BLAS.coreName) (\(OpenBLASKernel.choiceSource)); threads: \(n)")
        print("references: \(reference.description)")
        print(pad("row", 38) + pad("ours", 12, left: true) + "  " + pad("unit", 12) + pad("reference", 12, left: true) + pad("speedup", 9, left: true))
        for r in rows {
            let ref = r.referenceValue.map { String(format: "%.2f", $0) } ?? "-"
            let sp = r.speedup.map { String(format: "%.2fx", $0) } ?? "-"
            print(pad(r.name, 38) + pad(String(format: "%.2f", r.ours), 12, left: true) + "  " + pad(r.unit, 12)
                  + pad(ref, 12, left: true) + pad(sp, 9, left: true))
        }
    }

    /// Rows for indexing the bundled gallery: decode only, encode only and end to end.
    /// `runs`: median of 3 (quick: 1) for both sides; single runs of ~1 s varied by ±10 % here.
    private func indexingRows(models: ImageTextModel, assets: URL, scratch: String, runs: Int) throws -> [BenchRow] {
        var rows: [BenchRow] = []
        let photos = try FileManager.default.contentsOfDirectory(atPath: assets.appendingPathComponent("gallery/photos").path)
            .filter { $0.hasSuffix(".jpg") }.sorted().map { assets.appendingPathComponent("gallery/photos/\($0)").path }
        var images: [RGBImage] = []
        let decodeOnly = try Benchmarks.median(warmup: 0, runs: 1) { images = try photos.map { try ImageDecoder.decode(path: $0) } }
        rows.append(BenchRow(name: "index_decode_only", ours: Double(photos.count) / decodeOnly, unit: "photos/s",
                             note: "JPEG decode at full size (as Pillow), \(photos.count) bundled photos"))
        let encodeOnly = try Benchmarks.median(warmup: 0, runs: runs) {
            var start = 0
            while start < images.count { _ = try models.image.embed(images: Array(images[start..<min(images.count, start + 32)])); start += 32 }
        }
        rows.append(BenchRow(name: "index_encode_only", ours: Double(photos.count) / encodeOnly, unit: "photos/s",
                             note: "image tower on decoded photos, batches of 32, \(models.displayName)"))
        let galleryDB = scratch + ".gallery"
        defer { for suffix in ["", "-wal", "-shm", ".lock"] { try? FileManager.default.removeItem(atPath: galleryDB + suffix) } }
        let endToEnd = try Benchmarks.median(warmup: 0, runs: runs) {
            for suffix in ["", "-wal", "-shm", ".lock"] { try? FileManager.default.removeItem(atPath: galleryDB + suffix) }
            _ = try runIndexer(index: try GalleryIndex(path: galleryDB), model: models, roots: [assets.appendingPathComponent("gallery").path],
                               options: IndexOptions(), quiet: true)
        }
        rows.append(BenchRow(name: "index_gallery_vs_encode_only", ours: Double(photos.count) / endToEnd, reference: "encode only (decoded in memory)",
                             referenceValue: Double(photos.count) / encodeOnly, unit: "photos/s", speedup: encodeOnly / endToEnd,
                             note: "decode + preprocess + encode + write, \(photos.count) photos, \(models.displayName)"))
        return rows
    }
}

/// `s` padded with spaces to `width` columns (String(format:) cannot take Swift strings on Linux).
func pad(_ s: String, _ width: Int, left: Bool = false) -> String {
    let fill = String(repeating: " ", count: max(0, width - s.count))
    return left ? fill + s : s + fill
}

/// Figures from Scripts/reference_bench.py, run in the reference virtualenv.
struct ReferenceResults: CustomStringConvertible {
    var rows: [String: Double]
    var versions: [String: String]
    var description: String

    static func unavailable(_ why: String) -> ReferenceResults { ReferenceResults(rows: [:], versions: [:], description: "unavailable: \(why)") }

    func version(_ engine: String) -> String { versions[engine] ?? "?" }
    func unavailableReason(_ engine: String) -> String { "unavailable (\(engine))" }

    /// Runs `Scripts/reference_bench.py` in the reference virtualenv; `miniLMLengths` are the
    /// token counts of the sentences dialclip times, so PyTorch runs on the same shapes.
    static func measure(threads: Int, miniLMLengths: [Int]) -> ReferenceResults {
        let env = ProcessInfo.processInfo.environment
        let home = NSHomeDirectory()
        let refenv = env["DIALCLIP_REFENV"] ?? ((env["XDG_CACHE_HOME"] ?? home + "/.cache") + "/dialclip/refenv")
        let python = refenv + "/bin/python"
        guard FileManager.default.isExecutableFile(atPath: python) else {
            return .unavailable("no reference env at \(refenv) (create it with Scripts/make-reference-env.sh)")
        }
        guard let assets = try? Assets.locate() else { return .unavailable("assets not found") }
        let script = assets.deletingLastPathComponent().appendingPathComponent("Scripts/reference_bench.py").path
        guard FileManager.default.fileExists(atPath: script) else { return .unavailable("\(script) not found") }
        printErrorIfTTY("running the PyTorch/ONNX Runtime reference (\(script)) …")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = [script, "--threads", "\(threads)", "--json"]
            + (miniLMLengths.isEmpty ? [] : ["--minilm-lengths", miniLMLengths.map(String.init).joined(separator: ",")])
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.standardError
        do { try p.run() } catch { return .unavailable("cannot start \(python): \(error)") }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0,
              let obj = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
              let rows = obj["rows"] as? [String: Any] else {
            return .unavailable("reference script failed (exit \(p.terminationStatus))")
        }
        var values: [String: Double] = [:]
        for (k, v) in rows { if let d = (v as? NSNumber)?.doubleValue { values[k] = d } }
        let torch = obj["torch_version"] as? String ?? "?"
        let ort = obj["onnxruntime_version"] as? String ?? "?"
        return ReferenceResults(rows: values, versions: ["pytorch": torch, "onnxruntime": ort],
                                description: "PyTorch \(torch), ONNX Runtime \(ort), \(threads) threads, measured in this run")
    }
}

/// The MiniLM rows' input: 32 sentences of 20 consecutive words from the reply pool.
struct MiniLMBenchInput {
    let encoder: MiniLMEncoder
    let sentences: [String]
    /// Token counts with [CLS] and [SEP], as the encoder sees them.
    let lengths: [Int]

    init(encoder: MiniLMEncoder, turns: [String]) {
        self.encoder = encoder
        let words = turns.joined(separator: " ").split(separator: " ")
        sentences = (0..<32).compactMap { i in
            i * 20 + 20 <= words.count ? words[(i * 20)..<(i * 20 + 20)].joined(separator: " ") : nil
        }
        lengths = sentences.map { encoder.tokenizer.encode($0).count }
    }
}

func printErrorIfTTY(_ s: String) {
    if isatty(2) != 0 { printError(s) }
}

/// Resident memory of a ViT-B/32 measured in a child process (`bench --memory-probe`).
enum MemoryProbe {
    /// In the child: build the model, run one image and one text, print the VmRSS growth.
    static func run(precision: WeightPrecision) throws {
        let before = Benchmarks.residentBytes() ?? 0
        let model = CLIPModel(randomWeights: .vitB32, precision: precision)
        _ = try model.encodeImages(pixels: Tensor(repeating: 0.1, shape: [1, 3, 224, 224]))
        _ = try model.encodeTexts(ids: [[CLIPModel.startOfText, 320, 1125, 539, 320, 2368, CLIPModel.endOfText]])
        let after = Benchmarks.residentBytes() ?? 0
        print(after - before)
    }

    /// In the parent: the child's figure in bytes, or nil when it could not run.
    static func measure(precision: WeightPrecision, threads: Int) -> Int? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        p.arguments = ["bench", "--memory-probe", precision.rawValue, "--threads", "\(threads)"]
        let out = Pipe()
        p.standardOutput = out
        do { try p.run() } catch { return nil }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { return nil }
        return Int(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

extension WeightPrecision: ExpressibleByArgument {}
