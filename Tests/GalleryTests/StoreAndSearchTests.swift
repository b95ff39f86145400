import Foundation
import Tensor
import XCTest
import GRDB
import TestSupport
@testable import Gallery

final class StoreTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory("gallery-store") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func testSchemaMigrationsAreAppliedOnceAndReopenIsIdempotent() throws {
        let path = dir.appendingPathComponent("a/b/gallery.sqlite").path
        do {
            let index = try GalleryIndex(path: path)
            XCTAssertEqual(try index.appliedMigrations(), GalleryIndex.migrationIdentifiers)
            XCTAssertEqual(try index.integrityCheck(), ["ok"])
            let tables = try index.pool.read { db in
                try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'grdb_%' ORDER BY name")
            }
            XCTAssertEqual(tables, ["attribute_phrase", "embedding", "item", "model"])
            let mode = try index.pool.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
            XCTAssertEqual(mode, "wal")
            try index.register(model: ModelIdentity(name: "m", weightsHash: "h", dim: 4))
        }
        let again = try GalleryIndex(path: path)
        XCTAssertEqual(try again.appliedMigrations(), GalleryIndex.migrationIdentifiers)
        XCTAssertEqual(try again.models().map(\.identity), [ModelIdentity(name: "m", weightsHash: "h", dim: 4)])
    }

    func testDatabaseFromANewerDialclipIsRefused() throws {
        let path = dir.appendingPathComponent("g.sqlite").path
        do {
            let index = try GalleryIndex(path: path)
            try index.pool.write { db in try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v9-future')") }
        }
        XCTAssertThrowsError(try GalleryIndex(path: path)) { e in
            XCTAssertEqual(e as? GalleryError, .newerSchema(path: path, unknown: ["v9-future"]))
        }
    }

    func testNonSQLiteFileGivesATypedErrorNamingTheFile() throws {
        let path = dir.appendingPathComponent("photo-notes.sqlite").path
        try Data(repeating: 0x42, count: 8192).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try GalleryIndex(path: path)) { e in
            XCTAssertEqual(e as? GalleryError, .notADatabase(path: path))
            XCTAssertTrue("\(e)".contains(path) && "\(e)".contains("--db"), "\(e)")
        }
        // The file is left untouched.
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), Data(repeating: 0x42, count: 8192))
        XCTAssertThrowsError(try GalleryIndex(path: dir.path)) { e in
            guard case .io? = e as? GalleryError else { return XCTFail("\(e)") }
        }
    }

    func testDefaultDatabasePathFollowsXDG() {
        XCTAssertEqual(GalleryIndex.defaultDatabasePath(environment: ["XDG_DATA_HOME": "/x/data", "HOME": "/home/u"]), "/x/data/dialclip/gallery.sqlite")
        XCTAssertEqual(GalleryIndex.defaultDatabasePath(environment: ["XDG_DATA_HOME": "relative", "HOME": "/home/u"]), "/home/u/.local/share/dialclip/gallery.sqlite")
        XCTAssertEqual(GalleryIndex.defaultDatabasePath(environment: ["HOME": "/home/u"]), "/home/u/.local/share/dialclip/gallery.sqlite")
    }

    func testPathNormalisation() {
        XCTAssertEqual(GalleryPaths.absolute("a/./b/../c/", cwd: "/w"), "/w/a/c")
        XCTAssertEqual(GalleryPaths.absolute("/x//y/", cwd: "/w"), "/x/y")
        XCTAssertTrue(GalleryPaths.isInside("/x/y/z.jpg", "/x/y"))
        XCTAssertFalse(GalleryPaths.isInside("/x/yz/z.jpg", "/x/y"))
    }

    func testUpsertValidatesVectors() throws {
        let index = try GalleryIndex(path: dir.appendingPathComponent("g.sqlite").path)
        let m = ModelIdentity(name: "m", weightsHash: "h", dim: 3)
        XCTAssertThrowsError(try index.upsert([ItemRecord(kind: .image, path: "/a.jpg", embedding: [1, 2])], model: m)) { e in
            XCTAssertEqual(e as? GalleryError, .vectorDimension(expected: 3, got: 2, context: "embedding of /a.jpg"))
        }
        XCTAssertThrowsError(try index.upsert([ItemRecord(kind: .image, path: "/a.jpg", embedding: [0, .nan, 1])], model: m))
        XCTAssertThrowsError(try index.upsert([ItemRecord(kind: .image, path: "/a.jpg", embedding: [0, 0, 0])], model: m))
        XCTAssertEqual(try index.count(), 0, "a rejected batch writes nothing")
        XCTAssertThrowsError(try index.register(model: ModelIdentity(name: " ", weightsHash: "h", dim: 3)))
        XCTAssertThrowsError(try index.register(model: ModelIdentity(name: "z", weightsHash: "h", dim: 0)))
        let ids = try index.upsert([ItemRecord(kind: .image, path: "/a.jpg", embedding: [3, 0, 4])], model: m)
        XCTAssertEqual(try index.embedding(itemID: ids[0], model: m), [0.6, 0, 0.8])
    }

    // MARK: Concurrency

    func testWriterWaitsThenFailsWithAClearLockedMessage() throws {
        let path = dir.appendingPathComponent("g.sqlite").path
        let a = try GalleryIndex(path: path)
        let impatient = try GalleryIndex(path: path, busyTimeout: 0.3)
        let patient = try GalleryIndex(path: path, busyTimeout: 10)
        let m = ModelIdentity(name: "m", weightsHash: "h", dim: 2)
        let holding = expectation(description: "lock held")
        let released = expectation(description: "lock released")
        DispatchQueue.global().async {
            try? a.pool.write { db in
                try db.execute(sql: "INSERT INTO model (name, weights_hash, dim, created_at) VALUES ('x', 'y', 2, 0)")
                holding.fulfill()
                Thread.sleep(forTimeInterval: 1.5)
            }
            released.fulfill()
        }
        wait(for: [holding], timeout: 10)
        XCTAssertThrowsError(try impatient.register(model: m)) { e in
            XCTAssertEqual(e as? GalleryError, .databaseLocked(path: path, waitedSeconds: 0.3))
            XCTAssertTrue("\(e)".contains("locked by another dialclip process"), "\(e)")
        }
        // A reader is never blocked by the writer (WAL).
        XCTAssertEqual(try impatient.models().count, 0)
        // A patient writer waits for the lock and then succeeds.
        XCTAssertNoThrow(try patient.register(model: m))
        wait(for: [released], timeout: 10)
        XCTAssertEqual(try a.models().map(\.identity.name).sorted(), ["m", "x"])
        XCTAssertEqual(try a.integrityCheck(), ["ok"])
    }

    func testConcurrentWritersFromTwoConnectionsDoNotCorrupt() throws {
        let path = dir.appendingPathComponent("g.sqlite").path
        let indexes = [try GalleryIndex(path: path), try GalleryIndex(path: path)]
        let m = ModelIdentity(name: "m", weightsHash: "h", dim: 8)
        DispatchQueue.concurrentPerform(iterations: 2) { w in
            for b in 0..<20 {
                let recs = (0..<10).map { i in
                    ItemRecord(kind: .image, path: "/w\(w)/\(b)-\(i).jpg", embedding: (0..<8).map { Float(($0 + i + b + w) % 5) + 0.5 })
                }
                do { try indexes[w].upsert(recs, model: m) } catch { XCTFail("writer \(w): \(error)") }
            }
        }
        XCTAssertEqual(try indexes[0].count(), 400)
        XCTAssertEqual(try indexes[1].loadMatrix(model: m).count, 400)
        XCTAssertEqual(try indexes[0].integrityCheck(), ["ok"])
    }

    func testSecondIndexerOnTheSameDatabaseFailsClearly() throws {
        let path = dir.appendingPathComponent("g.sqlite").path
        let root = dir.appendingPathComponent("photos")
        _ = try GalleryFixtures.makeGallery(1, in: root)
        let held = try IndexLock(databasePath: path, timeout: 0)
        let index = try GalleryIndex(path: path)
        XCTAssertThrowsError(try GalleryIndexer(index: index, encoder: HistogramEncoder(), options: IndexOptions(lockTimeout: 0.2)).run(roots: [root.path])) { e in
            XCTAssertEqual(e as? GalleryError, .indexingInProgress(path: path, waitedSeconds: 0.2))
            XCTAssertTrue("\(e)".contains("already running"), "\(e)")
        }
        held.release()
        XCTAssertEqual(try GalleryIndexer(index: index, encoder: HistogramEncoder()).run(roots: [root.path]).added, 1)
    }
}

final class CodingTests: XCTestCase {
    func testSHA256KnownAnswers() {
        // FIPS 180-4 / NIST examples.
        XCTAssertEqual(SHA256.hex(Data()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex(Data("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex(Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(SHA256.hex(Data(repeating: UInt8(ascii: "a"), count: 1_000_000)),
                       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        // Streaming in odd pieces equals one shot.
        let data = Data((0..<1000).map { UInt8($0 % 251) })
        var h = SHA256()
        var off = 0
        for step in [1, 63, 64, 65, 7, 300] { h.update(data[off..<min(data.count, off + step)]); off += step }
        h.update(data[off...])
        XCTAssertEqual(h.finalizeHex(), SHA256.hex(data))
    }

    func testHalfPrecisionMatchesFloat16() throws {
        #if arch(x86_64) && os(macOS)
        throw XCTSkip("Float16 reference unavailable on Intel macOS")
        #else
        var rng = SplitMix(3)
        var values: [Float] = [0, -0, 1, -1, 65504, 65520, 1e-8, 6e-8, 5.96e-8, 3e-5, 6.1e-5, .infinity, -.infinity, 0.1, 1.0009765625, 2049]
        for _ in 0..<20000 { values.append((rng.nextFloat() * 2 - 1) * pow(2, Float(Int(rng.next() % 40)) - 26)) }
        for v in values {
            XCTAssertEqual(VectorCoding.halfBits(v), Float16(v).bitPattern, "\(v)")
            XCTAssertEqual(VectorCoding.floatFromHalf(VectorCoding.halfBits(v)), Float(Float16(v)), "\(v)")
        }
        XCTAssertTrue(VectorCoding.floatFromHalf(VectorCoding.halfBits(.nan)).isNaN)
        let v: [Float] = [0.25, -1, 3.5]
        XCTAssertEqual(VectorCoding.decode(VectorCoding.encode(v, as: .fp16), storage: .fp16, dim: 3), v)
        XCTAssertEqual(VectorCoding.decode(VectorCoding.encode(v, as: .fp32), storage: .fp32, dim: 3), v)
        XCTAssertNil(VectorCoding.decode(VectorCoding.encode(v, as: .fp32), storage: .fp32, dim: 4))
        #endif
    }

    func testHeaderProbeMatchesGalleryDimensions() throws {
        // gallery.jsonl records each photo's width/height: the probe must agree on all.
        let jsonl = try GalleryFixtures.galleryJSONL()
        let base = (jsonl as NSString).deletingLastPathComponent
        var checked = 0
        for obj in try Fixtures.jsonLines(jsonl) {
            guard let file = obj["file"] as? String, let w = obj["width"] as? Int, let h = obj["height"] as? Int else { continue }
            let data = try Data(contentsOf: URL(fileURLWithPath: (base as NSString).appendingPathComponent(file)))
            XCTAssertEqual(ImageHeader.probe(data), ImageHeader(format: .jpeg, width: w, height: h), file)
            checked += 1
        }
        XCTAssertGreaterThan(checked, 100)
        XCTAssertEqual(ImageHeader.probe(GalleryFixtures.pngHeader(width: 640, height: 480)), ImageHeader(format: .png, width: 640, height: 480))
        XCTAssertNil(ImageHeader.probe(Data([0xFF, 0xD8, 0xFF, 0xE0, 0x00])))
        XCTAssertNil(ImageHeader.probe(Data("GIF89a".utf8)))
        XCTAssertEqual(ImageFormat.fromExtension(of: "/a/B.JPEG"), .jpeg)
        XCTAssertNil(ImageFormat.fromExtension(of: "/a/b.webp"))
    }

    func testHeaderProbeNeverCrashesOnTruncatedOrMutatedInput() throws {
        let name = try GalleryFixtures.photoNames(1)[0]
        let data = try Data(contentsOf: URL(fileURLWithPath: (try GalleryFixtures.photosFolder() as NSString).appendingPathComponent(name)))
        for cut in stride(from: 0, to: 2048, by: 3) { _ = ImageHeader.probe(data.prefix(cut)) }
        var rng = SplitMix(11)
        for _ in 0..<300 {
            var d = [UInt8](data.prefix(4096))
            for _ in 0..<8 { d[Int(rng.next() % UInt64(d.count))] = UInt8(truncatingIfNeeded: rng.next()) }
            d[0] = 0xFF; d[1] = 0xD8; d[2] = 0xFF
            if let h = ImageHeader.probe(Data(d)) { XCTAssertTrue(h.width > 0 && h.height > 0) }
        }
    }
}

final class SearchTests: XCTestCase {
    func testTopKAgreesWithAFullSortAt10k() throws {
        let n = 10_000, d = 64
        let model = ModelIdentity(name: "s", weightsHash: "h", dim: d)
        let values = GalleryBenchmarks.syntheticMatrix(count: n, dim: d, seed: 5)
        let kinds: [ItemKind] = (0..<n).map { $0 % 3 == 0 ? .reply : .image }
        let m = try EmbeddingMatrix(model: model, ids: (0..<n).map(Int64.init), kinds: kinds, paths: (0..<n).map { "/p/\($0)" },
                                    captions: Array(repeating: nil, count: n), categories: Array(repeating: nil, count: n), values: values)
        let s = GallerySearcher(matrix: m)
        let queries = (0..<5).map { j in Array(GalleryBenchmarks.syntheticMatrix(count: 1, dim: d, seed: 100 + UInt64(j))) }
        let batch = try s.search(batch: queries, k: 25)
        for (j, q) in queries.enumerated() {
            // Reference: naive dot products in Double, full sort.
            let ref = (0..<n).map { i -> (Int, Double) in
                var acc = 0.0
                for c in 0..<d { acc += Double(values[i * d + c]) * Double(q[c]) }
                return (i, acc)
            }.sorted { $0.1 > $1.1 }
            let single = try s.search(q, k: 25)
            XCTAssertEqual(single.map(\.itemID), ref.prefix(25).map { Int64($0.0) })
            XCTAssertEqual(batch[j].map(\.itemID), single.map(\.itemID))
            for (h, r) in zip(single, ref) { XCTAssertEqual(Double(h.score), r.1, accuracy: 1e-5) }
            XCTAssertEqual(single.map(\.rank), Array(1...25))
            let images = try s.search(q, k: 10, kind: .image)
            XCTAssertEqual(images.map(\.itemID), ref.filter { kinds[$0.0] == .image }.prefix(10).map { Int64($0.0) })
        }
        XCTAssertEqual(try s.search(queries[0], k: 0), [])
        XCTAssertEqual(try s.search(queries[0], k: n + 5).count, n)
        XCTAssertThrowsError(try s.search([Float](repeating: 0, count: d), k: 3))
    }

    func testTopKTiesNaNAndFilter() {
        let scores: [Float] = [0.5, .nan, 0.9, 0.5, 0.9, -1, 0.7]
        let top = scores.withUnsafeBufferPointer { FilteredTopK.select(count: scores.count, k: 4, scores: $0.baseAddress!) }
        XCTAssertEqual(top.map(\.index), [2, 4, 6, 0])
        let filtered = scores.withUnsafeBufferPointer { FilteredTopK.select(count: scores.count, k: 2, scores: $0.baseAddress!) { $0 % 2 == 1 } }
        XCTAssertEqual(filtered.map(\.index), [3, 5])
    }

    func testEmptyMatrixSearchesToNothing() throws {
        let m = try EmbeddingMatrix(model: ModelIdentity(name: "e", weightsHash: "h", dim: 4), ids: [], kinds: [], paths: [],
                                    captions: [], categories: [], values: [])
        XCTAssertEqual(try GallerySearcher(matrix: m).search([1, 0, 0, 0], k: 5), [])
    }

    func testBenchmarkFunctionsRun() throws {
        let lat = try GalleryBenchmarks.searchLatency(count: 1000, dim: 64, k: 10, queries: 5)
        XCTAssertEqual(lat.count, 1000)
        XCTAssertTrue(lat.medianMs > 0 && lat.p95Ms >= lat.medianMs)
        let dir = try Fixtures.temporaryDirectory("gallery-bench")
        defer { try? FileManager.default.removeItem(at: dir) }
        let t = try GalleryBenchmarks.indexThroughput(count: 500, dim: 16, storage: .fp16, batchSize: 100,
                                                      databasePath: dir.appendingPathComponent("b.sqlite").path)
        XCTAssertEqual(t.count, 500)
        XCTAssertGreaterThan(t.itemsPerSecond, 0)
        XCTAssertGreaterThan(t.databaseBytes, 500 * 16 * 2)
    }
}

final class CombinedQueryTests: XCTestCase {
    func testParsesTheIssueExample() throws {
        XCTAssertEqual(try CombinedQuery.parse(#""2:golden retriever" + ./pool.jpg - night"#), [
            QueryTerm(weight: 2, content: .text("golden retriever")),
            QueryTerm(weight: 1, content: .image("./pool.jpg")),
            QueryTerm(weight: -1, content: .text("night")),
        ])
        // The same query as the shell hands it over.
        XCTAssertEqual(try CombinedQuery.parse(arguments: ["2:golden retriever", "+", "./pool.jpg", "-", "night"]),
                       try CombinedQuery.parse(#""2:golden retriever" + ./pool.jpg - night"#))
        XCTAssertEqual(try CombinedQuery.parse(arguments: ["a", "black-and-white", "photo", "-", "0.5:/x/y.PNG"]), [
            QueryTerm(weight: 1, content: .text("a black-and-white photo")),
            QueryTerm(weight: -0.5, content: .image("/x/y.PNG")),
        ])
    }

    func testTermKindsWeightsAndQuotes() throws {
        XCTAssertEqual(try CombinedQuery.parse("- cat"), [QueryTerm(weight: -1, content: .text("cat"))])
        XCTAssertEqual(try CombinedQuery.parse("dog.jpg"), [QueryTerm(weight: 1, content: .image("dog.jpg"))])
        XCTAssertEqual(try CombinedQuery.parse("'a + b'"), [QueryTerm(weight: 1, content: .text("a + b"))])
        XCTAssertEqual(try CombinedQuery.parse("time: noon"), [QueryTerm(weight: 1, content: .text("time: noon"))])
        XCTAssertEqual(try CombinedQuery.parse("1.5:sunset -2:x"), [QueryTerm(weight: 1.5, content: .text("sunset -2:x"))])
        if let home = ProcessInfo.processInfo.environment["HOME"] {
            XCTAssertEqual(try CombinedQuery.parse("~/p.png"), [QueryTerm(weight: 1, content: .image(home + "/p.png"))])
        }
        for bad in ["", "  ", "cat +", "cat + + dog", "\"open", "2: + x"] {
            XCTAssertThrowsError(try CombinedQuery.parse(bad), bad) { e in
                guard case .invalidQuery? = e as? GalleryError else { return XCTFail("\(bad): \(e)") }
            }
        }
    }

    func testCombineWeightsNormalisedTerms() throws {
        let a: [Float] = [3, 0, 4], b: [Float] = [0, 10, 0]
        let c = try CombinedQuery.combine([(2, a), (-1, b)])
        // 2·(0.6, 0, 0.8) − (0, 1, 0) = (1.2, −1, 1.6), norm √5
        let r: [Float] = [1.2, -1, 1.6].map { $0 / Float(5).squareRoot() }
        XCTAssertTrue(Agreement(ours: c, reference: r).holds())
        XCTAssertThrowsError(try CombinedQuery.combine([(1, a), (-1, a)]))
        XCTAssertThrowsError(try CombinedQuery.combine([(1, a), (1, [1, 2])]))
        XCTAssertThrowsError(try CombinedQuery.combine([]))
    }
}
