import Foundation
import XCTest
import TestSupport
import Gallery

/// Runs the built `dialclip` binary (next to this test bundle; `swift build --build-tests`
/// builds both) on bad inputs and checks exit status and message. The rows of the table in
/// docs/robustness.md that name this file are these tests.
final class BadInputTests: XCTestCase {
    var dir: URL!
    var model: String!

    override func setUpWithError() throws {
        dir = try Fixtures.temporaryDirectory("cli-bad")
        model = try Fixtures.sharedPath("model/tiny-clip-hf")
    }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    struct Outcome {
        var status: Int32
        var signalled: Bool
        var stdout: String
        var stderr: String
    }

    /// The dialclip binary beside the test bundle, or a skip saying how to build it.
    static func binary() throws -> String {
        if let env = ProcessInfo.processInfo.environment["DIALCLIP_BINARY"] { return env }
        var candidates: [URL] = [Bundle.main.bundleURL, Bundle(for: BadInputTests.self).bundleURL]
        if let exe = CommandLine.arguments.first { candidates.append(URL(fileURLWithPath: exe)) }
        for c in candidates {
            var d = c
            for _ in 0..<3 {
                d.deleteLastPathComponent()
                let p = d.appendingPathComponent("dialclip").path
                if FileManager.default.isExecutableFile(atPath: p) { return p }
            }
        }
        throw XCTSkip("dialclip binary not found next to the test bundle; run `swift build --build-tests` first")
    }

    /// Runs `sh -c script` with $DIALCLIP set to the binary; waits at most `timeout` s.
    func shell(_ script: String, timeout: Double = 120) throws -> Outcome {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", script]
        var env = ProcessInfo.processInfo.environment
        env["DIALCLIP"] = try Self.binary()
        env["MODEL"] = model
        p.environment = env
        p.currentDirectoryURL = dir
        let out = dir.appendingPathComponent(".out-\(UUID().uuidString)"), err = dir.appendingPathComponent(".err-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        FileManager.default.createFile(atPath: err.path, contents: nil)
        p.standardOutput = try FileHandle(forWritingTo: out)
        p.standardError = try FileHandle(forWritingTo: err)
        try p.run()
        let end = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < end { usleep(10_000) }
        if p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExit(); XCTFail("timed out: \(script)") }
        p.waitUntilExit()
        return Outcome(status: p.terminationStatus, signalled: p.terminationReason == .uncaughtSignal,
                       stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
                       stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }

    func photos(_ n: Int, in name: String) throws -> String {
        let folder = dir.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let src = Fixtures.assets.appendingPathComponent("gallery/photos")
        let names = try FileManager.default.contentsOfDirectory(atPath: src.path).sorted().prefix(n)
        for f in names { try FileManager.default.copyItem(at: src.appendingPathComponent(f), to: folder.appendingPathComponent(f)) }
        return folder.path
    }

    func assertFails(_ o: Outcome, status: Int32 = 1, message: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertFalse(o.signalled, "dialclip crashed: \(o.stderr.prefix(400))", file: file, line: line)
        XCTAssertEqual(o.status, status, "stderr: \(o.stderr.prefix(400))", file: file, line: line)
        XCTAssertTrue(o.stderr.contains(message), "expected '\(message)' in: \(o.stderr.prefix(400))", file: file, line: line)
        XCTAssertFalse(o.stderr.contains("Fatal error"), file: file, line: line)
    }

    // MARK: Output and file-size limits (regressions)

    /// Regression: `FileHandle.write` trapped ("Fatal error: 'try!' … File too large/No space
    /// left") when stdout could not be written; now exit 1 with a message.
    func testJSONToAFullDiskIsAnErrorNotACrash() throws {
        _ = try photos(1, in: "g")
        assertFails(try shell(#""$DIALCLIP" index g --db db.sqlite --model "$MODEL" --json > /dev/full"#),
                    message: "cannot write to standard output: No space left on device")
    }

    /// Regression: results printed with `print` to a full disk used to vanish with exit 0.
    func testPrintedResultsToAFullDiskFail() throws {
        _ = try photos(2, in: "g")
        XCTAssertEqual(try shell(#""$DIALCLIP" index g --db db.sqlite --model "$MODEL" --json"#).status, 0)
        assertFails(try shell(#""$DIALCLIP" search hammer --db db.sqlite --model "$MODEL" --no-index > /dev/full"#),
                    message: "cannot write to standard output")
    }

    /// Regression: dialclip did not ignore SIGXFSZ. It is checked on a running process (the
    /// second `index` waits for the lock this test holds), then the lock message is checked.
    func testIgnoresSIGXFSZAndReportsARunningIndexer() throws {
        let g = try photos(1, in: "g")
        let db = dir.appendingPathComponent("db.sqlite").path
        let fd = open(db + ".lock", O_RDWR | O_CREAT, 0o644)
        XCTAssertGreaterThanOrEqual(fd, 0)
        XCTAssertEqual(flock(fd, LOCK_EX), 0)
        defer { close(fd) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try Self.binary())
        p.arguments = ["index", g, "--db", db, "--model", model, "--json"]
        p.standardOutput = FileHandle.nullDevice
        let errPipe = Pipe()
        p.standardError = errPipe
        try p.run()
        var ignored: Bool?
        let end = Date().addingTimeInterval(4)
        while Date() < end, p.isRunning {
            // SigIgn is a hex mask; SIGXFSZ (25) is bit 24. Wait for the dialclip image
            // (OpenBLAS kernel selection may re-exec once) to be waiting for the lock.
            if let status = try? String(contentsOfFile: "/proc/\(p.processIdentifier)/status", encoding: .utf8),
               status.contains("State:\tS"),
               let line = status.split(separator: "\n").first(where: { $0.hasPrefix("SigIgn:") }),
               let mask = UInt64(line.split(separator: "\t").last.map(String.init) ?? "", radix: 16) {
                ignored = mask & (1 << (UInt64(SIGXFSZ) - 1)) != 0
                if ignored == true { break }
            }
            usleep(50_000)
        }
        p.waitUntilExit()
        let err = String(decoding: errPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(ignored, true, "SIGXFSZ is not ignored by the running dialclip")
        XCTAssertEqual(p.terminationStatus, 1)
        XCTAssertTrue(err.contains("already running"), err)
    }

    /// `ulimit -f` hit while writing the database: exit 1 with a message (not killed by
    /// SIGXFSZ), a consistent database, and a rerun without the limit completes.
    func testFileSizeLimitThenRecovery() throws {
        _ = try photos(40, in: "g")
        let o = try shell(#"ulimit -f 60; exec "$DIALCLIP" index g --db db.sqlite --model "$MODEL" --json"#)
        assertFails(o, message: "Error: database")
        let db = dir.appendingPathComponent("db.sqlite").path
        XCTAssertEqual(try GalleryIndex(path: db).integrityCheck(), ["ok"])
        let again = try shell(#""$DIALCLIP" index g --db db.sqlite --model "$MODEL" --json"#)
        XCTAssertEqual(again.status, 0, again.stderr)
        let index = try GalleryIndex(path: db)
        XCTAssertEqual(try index.integrityCheck(), ["ok"])
        XCTAssertEqual(try index.count(kind: .image), 40)
    }

    // MARK: Damaged databases

    func testGarbageDatabaseIsNamedAndNeverOverwritten() throws {
        _ = try photos(1, in: "g")
        var bytes = [UInt8](repeating: 0, count: 8192)
        for i in bytes.indices { bytes[i] = UInt8(truncatingIfNeeded: i &* 2654435761 >> 7) }
        let db = dir.appendingPathComponent("db.sqlite")
        try Data(bytes).write(to: db)
        assertFails(try shell(#""$DIALCLIP" index g --db db.sqlite --model "$MODEL" --json"#), message: "is not a dialclip index")
        XCTAssertEqual(try Data(contentsOf: db), Data(bytes))
        assertFails(try shell(#""$DIALCLIP" search cat --db db.sqlite --model "$MODEL" --no-index"#), message: "is not a dialclip index")
        XCTAssertEqual(try Data(contentsOf: db), Data(bytes))
    }

    func testTruncatedDatabaseIsReportedAndGarbageWALIsHarmless() throws {
        _ = try photos(6, in: "g")
        XCTAssertEqual(try shell(#""$DIALCLIP" index g --db good.sqlite --model "$MODEL" --json"#).status, 0)
        let good = dir.appendingPathComponent("good.sqlite")
        let full = try Data(contentsOf: good)
        // garbage -wal: SQLite rejects its frames by checksum; nothing is lost
        try Data((0..<40_000).map { UInt8(truncatingIfNeeded: $0 &* 7919) }).write(to: URL(fileURLWithPath: good.path + "-wal"))
        let o = try shell(#""$DIALCLIP" index g --db good.sqlite --model "$MODEL" --json"#)
        XCTAssertEqual(o.status, 0, o.stderr)
        XCTAssertTrue(o.stdout.contains(#""unchanged":6"#), o.stdout)
        // truncated main file
        let half = dir.appendingPathComponent("half.sqlite")
        try full.prefix(full.count / 2).write(to: half)
        assertFails(try shell(#""$DIALCLIP" index g --db half.sqlite --model "$MODEL" --json"#), message: "is damaged")
        XCTAssertEqual(try Data(contentsOf: half), full.prefix(full.count / 2))
    }

    func testReadOnlyDatabaseIsRefusedAndUnchanged() throws {
        let g = try photos(2, in: "g")
        XCTAssertEqual(try shell(#""$DIALCLIP" index g --db db.sqlite --model "$MODEL" --json"#).status, 0)
        try FileManager.default.copyItem(atPath: Fixtures.assets.appendingPathComponent("gallery/photos/gcompris-hammer8.jpg").path,
                                         toPath: g + "/new.jpg")
        let db = dir.appendingPathComponent("db.sqlite")
        let before = try Data(contentsOf: db)
        let o: Outcome
        if getuid() == 0 {
            guard FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") else { throw XCTSkip("root without setpriv: cannot drop write access") }
            _ = chmod(dir.path, 0o755); _ = chmod(g, 0o755)
            for f in try FileManager.default.contentsOfDirectory(atPath: g) { _ = chmod(g + "/" + f, 0o644) }
            o = try shell(#"exec setpriv --reuid=65534 --regid=65534 --clear-groups "$DIALCLIP" index g --db db.sqlite --model "$MODEL" --json"#)
        } else {
            _ = chmod(db.path, 0o444); _ = chmod(dir.path, 0o555)
            o = try shell(#""$DIALCLIP" index g --db db.sqlite --model "$MODEL" --json"#)
            _ = chmod(dir.path, 0o755); _ = chmod(db.path, 0o644)
        }
        assertFails(o, message: "readonly database")
        XCTAssertEqual(try Data(contentsOf: db), before)
        let again = try shell(#""$DIALCLIP" index g --db db.sqlite --model "$MODEL" --json"#)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(try GalleryIndex(path: db.path).count(kind: .image), 3)
    }

    /// SIGKILL the real binary at random points (the 50-run version is
    /// Scripts/fault-injection.sh): entries seen committed before the kill survive.
    func testKilledIndexCommandLosesNoCommittedEntry() throws {
        let g = try photos(254, in: "g")
        let db = dir.appendingPathComponent("kill.sqlite").path
        func start(_ database: String) throws -> Process {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: try Self.binary())
            p.arguments = ["index", g, "--db", database, "--model", model, "--json"]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            return p
        }
        // Kill points are drawn from the duration of an uninterrupted run on this machine
        // (a fixed window missed every run once the indexer got faster).
        let t0 = Date()
        let calibration = try start(dir.appendingPathComponent("calibration.sqlite").path)
        calibration.waitUntilExit()
        let full = Date().timeIntervalSince(t0)
        var rng = SystemRandomNumberGenerator()
        var midRun = 0
        for round in 0..<6 {
            // A fresh database each round (the last one is then resumed to completion).
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: db + suffix) }
            let p = try start(db)
            usleep(UInt32(full * Double.random(in: 0.15...0.85, using: &rng) * 1e6))
            let before = FileManager.default.fileExists(atPath: db)
                ? Set((try? GalleryIndex(path: db).items(kind: .image).map(\.path)) ?? []) : []
            if p.isRunning { kill(p.processIdentifier, SIGKILL); midRun += 1 }
            p.waitUntilExit()
            guard FileManager.default.fileExists(atPath: db) else { continue }
            let index = try GalleryIndex(path: db)
            XCTAssertEqual(try index.integrityCheck(), ["ok"], "round \(round)")
            let after = Set(try index.items(kind: .image).map(\.path))
            XCTAssertTrue(before.isSubset(of: after), "round \(round): lost \(before.subtracting(after).count) committed entries")
        }
        let final = try shell("\"$DIALCLIP\" index g --db kill.sqlite --model \"$MODEL\" --json")
        XCTAssertEqual(final.status, 0, final.stderr)
        XCTAssertEqual(try GalleryIndex(path: db).count(kind: .image), 254)
        XCTAssertGreaterThan(midRun, 0, "no run was killed mid-way; the test exercised nothing")
    }

    // MARK: Hostile model files and other inputs

    func testHostileCheckpointsAreRefusedWithoutAllocating() throws {
        _ = try photos(1, in: "g")
        func st(_ header: String, declared: UInt64? = nil, data: Int = 4) throws {
            var bytes = [UInt8]()
            withUnsafeBytes(of: (declared ?? UInt64(header.utf8.count)).littleEndian) { bytes += $0 }
            bytes += Array(header.utf8) + [UInt8](repeating: 0, count: data)
            try Data(bytes).write(to: dir.appendingPathComponent("m.safetensors"))
        }
        try st("{}", declared: 1_000_000_000_000_000)
        assertFails(try shell(#""$DIALCLIP" index g --db db.sqlite --model m.safetensors --json"#), message: "exceeds the 100000000-byte limit")
        try st(#"{"t":{"dtype":"F32","shape":[1000000,1000000],"data_offsets":[0,4]}}"#)
        assertFails(try shell(#""$DIALCLIP" index g --db db.sqlite --model m.safetensors --json"#), message: "needs 4000000000000 bytes but its data range has 4")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("cut"), withIntermediateDirectories: true)
        for f in ["config.json", "model.safetensors"] {
            try FileManager.default.copyItem(atPath: model + "/" + f, toPath: dir.appendingPathComponent("cut/" + f).path)
        }
        XCTAssertEqual(truncate(dir.appendingPathComponent("cut/model.safetensors").path, 100_000), 0)
        assertFails(try shell(#""$DIALCLIP" index g --db db.sqlite --model cut --json"#), message: "(truncated file?)")
    }

    func testBombsAndFakesAreReportedPerFileNotFatal() throws {
        let g = try photos(1, in: "g")
        let jpeg = try Data(contentsOf: URL(fileURLWithPath: g).appendingPathComponent(try FileManager.default.contentsOfDirectory(atPath: g)[0]))
        var bomb = [UInt8](jpeg)
        var i = 2
        while i + 9 < bomb.count, !(bomb[i] == 0xFF && [0xC0, 0xC1, 0xC2].contains(bomb[i + 1])) { i += 2 + Int(bomb[i + 2]) << 8 + Int(bomb[i + 3]) }
        bomb[i + 5] = 0xEA; bomb[i + 6] = 0x60; bomb[i + 7] = 0xEA; bomb[i + 8] = 0x60   // 60000 × 60000
        try Data(bomb).write(to: URL(fileURLWithPath: g + "/bomb.jpg"))
        try Data("not a photo".utf8).write(to: URL(fileURLWithPath: g + "/text.jpg"))
        try Data().write(to: URL(fileURLWithPath: g + "/empty.jpg"))
        try jpeg.prefix(jpeg.count / 2).write(to: URL(fileURLWithPath: g + "/cut.jpg"))
        let o = try shell(#""$DIALCLIP" index g --db db.sqlite --model "$MODEL" --json"#)
        XCTAssertEqual(o.status, 0, o.stderr)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(o.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(json["added"] as? Int, 1)
        let reasons = Dictionary(uniqueKeysWithValues: ((json["problems"] as? [[String: Any]]) ?? []).map {
            (URL(fileURLWithPath: $0["path"] as? String ?? "").lastPathComponent, $0["reason"] as? String ?? "")
        })
        XCTAssertEqual(reasons, ["bomb.jpg": "too_large", "text.jpg": "not_an_image", "empty.jpg": "empty", "cut.jpg": "encode_failed"])
    }

    func testBadDialogueAndReplyFiles() throws {
        try Data("{\"turns\": \"nope\"}\n".utf8).write(to: dir.appendingPathComponent("d.jsonl"))
        assertFails(try shell(#""$DIALCLIP" eval --task reply --dialogs d.jsonl"#), message: "d.jsonl:1: 'turns' is missing or not a list")
        try Data([0x6F, 0x6B, 0x0A, 0xFF, 0xFE, 0x0A]).write(to: dir.appendingPathComponent("r.txt"))
        assertFails(try shell(#""$DIALCLIP" search hi --kind reply --replies r.txt --db db.sqlite --model "$MODEL""#), message: "r.txt:2: not valid UTF-8")
        try Data("\n \n".utf8).write(to: dir.appendingPathComponent("blank.txt"))
        assertFails(try shell(#""$DIALCLIP" search hi --kind reply --replies blank.txt --db db.sqlite --model "$MODEL""#), message: "holds no replies")
        try Data("just notes".utf8).write(to: dir.appendingPathComponent("notes.jpg"))
        assertFails(try shell(#""$DIALCLIP" inspect notes.jpg "a cat" --model "$MODEL""#), message: "is not an image dialclip can read")
        assertFails(try shell(#""$DIALCLIP" search "   " --db db.sqlite --model "$MODEL" --no-index"#), status: 64, message: "the query is empty")
        assertFails(try shell(#""$DIALCLIP" index nowhere --db db.sqlite --model "$MODEL""#), message: "nowhere is not a directory")
    }

    func testDatabasePathsModelPathsAndArguments() throws {
        _ = try photos(1, in: "g")
        assertFails(try shell(#""$DIALCLIP" index g --db g --model "$MODEL" --json"#), message: "is a directory, not a database file")
        assertFails(try shell(#""$DIALCLIP" index g --db /proc/dialclip-none/db.sqlite --model "$MODEL" --json"#), message: "cannot create the database folder")
        assertFails(try shell(#""$DIALCLIP" index g --db db.sqlite --model nowhere.safetensors --json"#), message: "model not found at nowhere.safetensors")
        assertFails(try shell(#""$DIALCLIP" search cat -k 0 --db db.sqlite --model "$MODEL" --no-index"#), status: 64, message: "-k must be at least 1")
        assertFails(try shell(#""$DIALCLIP" embed --model "$MODEL" --image nowhere.jpg"#), message: "nowhere.jpg: cannot read file: No such file or directory")
        try Data("just notes".utf8).write(to: dir.appendingPathComponent("notes.jpg"))
        assertFails(try shell(#""$DIALCLIP" search ./notes.jpg --db db.sqlite --model "$MODEL" --gallery g"#), message: "a text file is not supported")
        try Data([0x00, 0xFF, 0xFE, 0x20]).write(to: dir.appendingPathComponent("bin.jsonl"))
        assertFails(try shell(#""$DIALCLIP" eval --task reply --dialogs bin.jsonl"#), message: "bin.jsonl:1: not valid UTF-8")
    }
}
