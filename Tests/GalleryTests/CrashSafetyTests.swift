import Foundation
import XCTest
import TestSupport
@testable import Gallery

/// Environment of a child indexing process (see `GalleryChildProcess`).
enum ChildEnv {
    static let mode = "DIALCLIP_GALLERY_CHILD"
    static let db = "DIALCLIP_GALLERY_CHILD_DB"
    static let root = "DIALCLIP_GALLERY_CHILD_ROOT"
    static let delay = "DIALCLIP_GALLERY_CHILD_DELAY"
    static let batch = "DIALCLIP_GALLERY_CHILD_BATCH"
    static let committedMarker = "DIALCLIP-COMMITTED "
    static let doneMarker = "DIALCLIP-DONE"
}

/// Entry point for child processes: the crash and multi-process tests re-run this very
/// test binary with `GalleryTests.GalleryChildProcess/testChildIndexer` as the only test
/// and the DIALCLIP_GALLERY_CHILD* variables set; the child then indexes a folder slowly
/// and prints each committed path. Run directly (no variables), it skips.
final class GalleryChildProcess: XCTestCase {
    func testChildIndexer() throws {
        let env = ProcessInfo.processInfo.environment
        guard env[ChildEnv.mode] == "index", let db = env[ChildEnv.db], let root = env[ChildEnv.root] else {
            throw XCTSkip("child-process entry point; runs only when spawned by CrashSafetyTests")
        }
        let delay = env[ChildEnv.delay].flatMap(Double.init) ?? 0
        let batch = env[ChildEnv.batch].flatMap(Int.init) ?? 4
        let index = try GalleryIndex(path: db, busyTimeout: 30)
        let out = FileHandle.standardOutput
        let report = try GalleryIndexer(index: index, encoder: HistogramEncoder(delayPerImage: delay),
                                        options: IndexOptions(batchSize: batch, lockTimeout: 60))
            .run(roots: [root]) { p in
                for path in p.committedPaths { out.write(Data((ChildEnv.committedMarker + path + "\n").utf8)) }
            }
        out.write(Data("\(ChildEnv.doneMarker) \(report.added)\n".utf8))
    }
}

/// Runs the xctest binary as a child process and collects its marker lines as they come.
final class ChildRun: @unchecked Sendable {
    let process = Process()
    private let lock = NSLock()
    private var buffer = ""
    private var _committed: [String] = []
    private var _done = false

    init(db: String, root: String, delay: Double, batch: Int) throws {
        guard let exe = ProcessInfo.processInfo.arguments.first, FileManager.default.isExecutableFile(atPath: exe) else {
            throw XCTSkip("cannot locate the test executable to spawn a child process")
        }
        #if os(macOS)
        throw XCTSkip("child-process re-entry is implemented for the Linux XCTest runner")
        #endif
        process.executableURL = URL(fileURLWithPath: exe)
        process.arguments = ["GalleryTests.GalleryChildProcess/testChildIndexer"]
        var env = ProcessInfo.processInfo.environment
        env[ChildEnv.mode] = "index"
        env[ChildEnv.db] = db
        env[ChildEnv.root] = root
        env[ChildEnv.delay] = String(delay)
        env[ChildEnv.batch] = String(batch)
        process.environment = env
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        pipe.fileHandleForReading.readabilityHandler = { [weak self] h in
            let data = h.availableData
            guard let self, !data.isEmpty else { return }
            self.lock.lock(); defer { self.lock.unlock() }
            self.buffer += String(decoding: data, as: UTF8.self)
            while let nl = self.buffer.firstIndex(of: "\n") {
                let line = String(self.buffer[..<nl])
                self.buffer = String(self.buffer[self.buffer.index(after: nl)...])
                if line.hasPrefix(ChildEnv.committedMarker) { self._committed.append(String(line.dropFirst(ChildEnv.committedMarker.count))) }
                if line.hasPrefix(ChildEnv.doneMarker) { self._done = true }
            }
        }
        try process.run()
    }

    var committed: [String] { lock.lock(); defer { lock.unlock() }; return _committed }
    var done: Bool { lock.lock(); defer { lock.unlock() }; return _done }

    /// Waits until `condition` holds or the child exits; false on timeout.
    func wait(until condition: () -> Bool, timeout: Double) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if condition() { return true }
            if !process.isRunning { return condition() }
            usleep(2_000)
        }
        return false
    }

    func kill() {
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        usleep(50_000) // let the pipe drain
    }
}

final class CrashSafetyTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory("gallery-crash") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// SIGKILL a child indexer at random points after some batches committed; the database
    /// must pass integrity_check, keep every committed item, and after a re-run equal a
    /// clean full index.
    func testKilledIndexerLeavesAConsistentDatabase() throws {
        let root = dir.appendingPathComponent("photos")
        let n = 24
        let names = try GalleryFixtures.photoNames(n)
        for (i, name) in names.enumerated() {
            try GalleryFixtures.copyPhoto(name, to: root.appendingPathComponent("d\(i % 3)/\(name)").path)
        }
        try (try String(contentsOfFile: try GalleryFixtures.galleryJSONL(), encoding: .utf8))
            .split(separator: "\n").map { $0.replacingOccurrences(of: "\"photos/", with: "\"d0/") }.joined(separator: "\n")
            .write(to: root.appendingPathComponent("gallery.jsonl"), atomically: true, encoding: .utf8)
        let model = HistogramEncoder().identity

        let cleanIndex = try GalleryIndex(path: dir.appendingPathComponent("clean.sqlite").path)
        _ = try GalleryIndexer(index: cleanIndex, encoder: HistogramEncoder()).run(roots: [root.path])
        let clean = try IndexSnapshot(cleanIndex, model: model)
        XCTAssertEqual(clean.rows.count, n)

        var rng = SplitMix(2024)
        var killsMidRun = 0
        for round in 0..<3 {
            let db = dir.appendingPathComponent("crash\(round).sqlite").path
            // Two kills per database: the second one interrupts a resumed run.
            for _ in 0..<2 {
                let child = try ChildRun(db: db, root: root.path, delay: 0.03, batch: 3)
                let before = try GalleryIndex(path: db).count()
                let target = 1 + Int(rng.next() % 4)
                _ = child.wait(until: { child.committed.count >= target * 3 || child.done }, timeout: 120)
                usleep(UInt32(rng.next() % 60_000))
                let finished = child.done
                child.kill()
                let committed = child.committed
                XCTAssertTrue(finished || !committed.isEmpty || before > 0, "child never committed a batch (did it start?)")
                if !finished && committed.count + before < n { killsMidRun += 1 }

                let index = try GalleryIndex(path: db)
                XCTAssertEqual(try index.integrityCheck(), ["ok"], "round \(round)")
                for path in committed {
                    let item = try XCTUnwrap(try index.item(path: path), "committed item lost: \(path)")
                    XCTAssertNotNil(try index.embedding(itemID: item.id, model: model), path)
                }
                XCTAssertGreaterThanOrEqual(try index.count(), max(before, committed.count))
            }
            let index = try GalleryIndex(path: db)
            let report = try GalleryIndexer(index: index, encoder: HistogramEncoder()).run(roots: [root.path])
            XCTAssertEqual(report.problems, [])
            XCTAssertEqual(try IndexSnapshot(index, model: model), clean, "round \(round): resumed index differs from a clean one")
            XCTAssertEqual(try index.integrityCheck(), ["ok"])
        }
        XCTAssertGreaterThan(killsMidRun, 0, "no child was killed mid-run; the test did not exercise a crash")
    }

    /// A child process indexes while this process writes text items into the same database:
    /// both finish (SQLite's lock makes one wait), nothing is lost, integrity holds.
    func testTwoProcessesWritingTheSameDatabase() throws {
        let root = dir.appendingPathComponent("photos")
        let paths = try GalleryFixtures.makeGallery(12, in: root)
        let db = dir.appendingPathComponent("shared.sqlite").path
        let child = try ChildRun(db: db, root: root.path, delay: 0.01, batch: 2)
        let index = try GalleryIndex(path: db, busyTimeout: 30)
        let enc = HistogramEncoder()
        XCTAssertTrue(child.wait(until: { !child.committed.isEmpty }, timeout: 120))
        for b in 0..<10 {
            let records = try (0..<20).map { i in
                var r = ItemRecord(kind: .reply, path: "pool\(b)#\(i)", collection: "pool\(b)", caption: "reply \(b) \(i)")
                r.embedding = try enc.encodeTexts(["reply \(b) \(i)"])[0]
                return r
            }
            try index.upsert(records, model: enc.identity)
        }
        XCTAssertTrue(child.wait(until: { child.done }, timeout: 120), "child indexer did not finish")
        child.process.waitUntilExit()
        XCTAssertEqual(child.process.terminationStatus, 0)
        XCTAssertEqual(try index.count(kind: .reply), 200)
        XCTAssertEqual(Set(try index.items(kind: .image).map(\.path)), Set(paths))
        XCTAssertEqual(try index.loadMatrix(model: enc.identity).count, 212)
        XCTAssertEqual(try index.integrityCheck(), ["ok"])
    }
}
