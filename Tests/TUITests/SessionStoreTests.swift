import Engine
import TestSupport
import XCTest
@testable import TUI

final class SessionStoreTests: XCTestCase {
    func testDefaultDirectoryFollowsXDG() {
        XCTAssertEqual(SessionStore.defaultDirectory(environment: ["XDG_STATE_HOME": "/x/state", "HOME": "/home/u"]).path,
                       "/x/state/dialclip/sessions")
        XCTAssertEqual(SessionStore.defaultDirectory(environment: ["HOME": "/home/u"]).path,
                       "/home/u/.local/state/dialclip/sessions")
        XCTAssertEqual(SessionStore.defaultDirectory(environment: ["XDG_STATE_HOME": "relative", "HOME": "/home/u"]).path,
                       "/home/u/.local/state/dialclip/sessions", "a relative XDG_STATE_HOME is ignored (XDG spec)")
    }

    func testAppendIsOnDiskAfterEveryTurn() throws {
        let dir = try Fixtures.temporaryDirectory("dialclip-sessions")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = SessionStore(directory: dir.appendingPathComponent("nested/sessions"))
        let writer = try store.create(now: Date(timeIntervalSince1970: 1_700_000_000))
        XCTAssertEqual(writer.url.lastPathComponent, "20231114T221320.000Z.jsonl")
        let turns = [DialogTurn(speaker: "A", text: "hello \"quoted\" \\ 日本 \u{1B}[0m\nsecond line"),
                     DialogTurn(speaker: "B", text: "hi"),
                     DialogTurn(speaker: "A", text: "", imagePath: "/photos/a b/cat.jpg")]
        for (i, t) in turns.enumerated() {
            try writer.append(t)
            // Read through a separate descriptor, as a process after a crash would.
            let raw = try String(contentsOf: writer.url, encoding: .utf8)
            XCTAssertEqual(raw.filter { $0 == "\n" }.count, i + 1, "one line per turn, complete after append returns")
            XCTAssertTrue(raw.hasSuffix("\n"))
            XCTAssertEqual(try SessionStore.load(writer.url), Array(turns[0...i]))
        }
        let attrs = try FileManager.default.attributesOfItem(atPath: writer.url.path)
        XCTAssertEqual((attrs[.posixPermissions] as? NSNumber)?.intValue, 0o600, "sessions are private")
        // A second session in the same millisecond gets its own file; newest sorts last.
        let second = try store.create(now: Date(timeIntervalSince1970: 1_700_000_000))
        XCTAssertNotEqual(second.url, writer.url)
        let third = try store.create(now: Date(timeIntervalSince1970: 1_700_000_100))
        XCTAssertEqual(store.newest(), third.url)
        XCTAssertEqual(store.sessions().count, 3)
    }

    func testTornTailAndResume() throws {
        let dir = try Fixtures.temporaryDirectory("dialclip-sessions")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = SessionStore(directory: dir)
        let writer = try store.create()
        try writer.append(DialogTurn(speaker: "A", text: "one"))
        writer.close()
        // Simulate a crash in the middle of writing the second record.
        let h = try FileHandle(forWritingTo: writer.url)
        try h.seekToEnd()
        try h.write(contentsOf: Data("{\"speaker\":\"A\",\"te".utf8))
        try h.close()
        XCTAssertEqual(try SessionStore.load(writer.url), [DialogTurn(speaker: "A", text: "one")], "torn last line ignored")
        let (resumed, turns) = try store.resumeNewest()
        XCTAssertEqual(turns, [DialogTurn(speaker: "A", text: "one")])
        try resumed.append(DialogTurn(speaker: "A", text: "two"))
        XCTAssertEqual(try SessionStore.load(writer.url).map(\.text), ["one", "two"], "the torn line does not swallow the next turn")
    }

    func testCorruptMiddleLineIsAnError() throws {
        let dir = try Fixtures.temporaryDirectory("dialclip-sessions")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("x.jsonl")
        try Data("{\"speaker\":\"A\",\"text\":\"ok\"}\nnot json\n{\"speaker\":\"B\",\"text\":\"ok\"}\n".utf8).write(to: url)
        XCTAssertThrowsError(try SessionStore.load(url)) { error in
            XCTAssertEqual(error as? SessionError, .corrupt(path: url.path, line: 2))
        }
        XCTAssertThrowsError(try SessionStore(directory: dir.appendingPathComponent("empty")).resumeNewest()) { error in
            guard case .noSession = error as? SessionError else { return XCTFail("\(error)") }
        }
    }

    func testExportInSharedDialogueFormat() throws {
        let turns = [DialogTurn(speaker: "A", text: "look"), DialogTurn(speaker: "A", text: "", imagePath: "/p/cat.jpg"),
                     DialogTurn(speaker: "B", text: "cute")]
        let line = SessionStore.export(turns: turns, id: "session-1")
        XCTAssertTrue(line.hasSuffix("\n"))
        XCTAssertEqual(line.filter { $0 == "\n" }.count, 1, "one JSONL line")
        let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        XCTAssertEqual(obj["id"] as? String, "session-1")
        let out = try XCTUnwrap(obj["turns"] as? [[String: Any]])
        XCTAssertEqual(out.count, 3)
        XCTAssertEqual(out[0]["speaker"] as? String, "A")
        XCTAssertEqual(out[0]["text"] as? String, "look")
        XCTAssertNil(out[0]["image"], "text turns have no image field")
        XCTAssertEqual(out[1]["image"] as? String, "/p/cat.jpg")
        XCTAssertEqual(out[2]["text"] as? String, "cute")
        // Same shape as the shared dialogue files: every turn has speaker and text.
        let shared = try Fixtures.jsonLines(try Fixtures.sharedPath("data/dialogs/photochat_sample.jsonl"))
        let sharedTurnKeys = Set((shared.first?["turns"] as? [[String: Any]])?.first?.keys.map { $0 } ?? [])
        XCTAssertTrue(sharedTurnKeys.isSubset(of: Set(out[0].keys)), "export must carry the shared format's turn keys \(sharedTurnKeys)")
    }
}
