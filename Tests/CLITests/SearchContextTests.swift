import Foundation
import XCTest

/// `dialclip search --context FILE`: a stored dialogue as the query (the bundled
/// dialclip-mini + DialCLIP prompts, as the TUI uses them).
extension BadInputTests {
    private func writeDialogues(_ records: [[String: Any]], to name: String) throws {
        let lines = try records.map { String(decoding: try JSONSerialization.data(withJSONObject: $0), as: UTF8.self) }
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: dir.appendingPathComponent(name))
    }

    private func jsonObject(_ o: Outcome, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        XCTAssertEqual(o.status, 0, "stderr: \(o.stderr.prefix(400))", file: file, line: line)
        let object = try JSONSerialization.jsonObject(with: Data(o.stdout.utf8)) as? [String: Any]
        return try XCTUnwrap(object, "not a JSON object: \(o.stdout.prefix(200))", file: file, line: line)
    }

    func testSearchWithDialogueContextPrintsGalleryPathsAndReplies() throws {
        let gallery = try photos(6, in: "g")
        let shared = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: gallery).sorted().first)
        try writeDialogues([
            ["id": "first", "turns": [["speaker": "A", "text": "we went to the old castle last weekend"],
                                      ["speaker": "B", "text": "nice, what did it look like?"],
                                      ["speaker": "A", "text": "here it is", "image": "g/\(shared)"]]],
            ["id": "second", "turns": [["speaker": "A", "text": "my cat sleeps all day"]]],
        ], to: "d.jsonl")
        let base = #""$DIALCLIP" search --context d.jsonl --gallery g --db db.sqlite"#

        let plain = try shell(base + " -k 3")
        XCTAssertEqual(plain.status, 0, plain.stderr)
        let paths = plain.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(paths.count, 3)
        for p in paths {
            XCTAssertTrue(p.hasPrefix("/") && p.contains("/g/"), "not an absolute gallery path: \(p)")
            XCTAssertTrue(FileManager.default.fileExists(atPath: p), p)
        }

        let photos = try jsonObject(try shell(base + " -k 2 --json"))
        let context = try XCTUnwrap(photos["context"] as? [String: Any])
        XCTAssertEqual(context["dialogue"] as? String, "first")
        XCTAssertEqual(context["turns"] as? Int, 3)
        let probability = try XCTUnwrap(photos["photo_share_probability"] as? Double)
        XCTAssertTrue((0...1).contains(probability))
        let results = try XCTUnwrap(photos["results"] as? [[String: Any]])
        XCTAssertEqual(results.map { $0["kind"] as? String }, ["image", "image"])
        XCTAssertEqual(results.map { $0["rank"] as? Int }, [1, 2])

        let replies = try jsonObject(try shell(base + " --kind reply -k 4 --dialogue 1 --json"))
        XCTAssertEqual((replies["context"] as? [String: Any])?["dialogue"] as? String, "second")
        let replyResults = try XCTUnwrap(replies["results"] as? [[String: Any]])
        XCTAssertEqual(replyResults.count, 4)
        XCTAssertTrue(replyResults.allSatisfy { $0["kind"] as? String == "reply" && $0["path"] is NSNull })

        // A QUERY next to --context is one more turn.
        let more = try jsonObject(try shell(base + #" --json "and one of the tower?""#))
        XCTAssertEqual((more["context"] as? [String: Any])?["turns"] as? Int, 4)
        XCTAssertEqual(more["query"] as? String, "and one of the tower?")
    }

    func testLongDialogueContextUsesTheNewestTurns() throws {
        _ = try photos(6, in: "g")
        let turns: [[String: Any]] = (0..<500).map { i in
            ["speaker": i % 2 == 0 ? "A" : "B", "text": i < 460 ? "old turn \(i) about the weather and trains" : "turn \(i): the red flowers in the garden"]
        }
        try writeDialogues([["id": "long", "turns": turns]], to: "long.jsonl")
        try writeDialogues([["id": "tail", "turns": Array(turns.suffix(40))]], to: "tail.jsonl")
        let long = try jsonObject(try shell(#""$DIALCLIP" search --context long.jsonl --gallery g --db db.sqlite --kind all -k 5 --json"#))
        let tail = try jsonObject(try shell(#""$DIALCLIP" search --context tail.jsonl --gallery g --db db.sqlite --kind all -k 5 --json"#))
        XCTAssertEqual((long["context"] as? [String: Any])?["turns"] as? Int, 500)
        func ranked(_ o: [String: Any]) -> [String] {
            ((o["results"] as? [[String: Any]]) ?? []).map { "\($0["path"] ?? "")|\($0["caption"] ?? "")|\($0["score"] ?? "")" }
        }
        XCTAssertFalse(ranked(long).isEmpty)
        XCTAssertEqual(ranked(long), ranked(tail), "a 500-turn context must be read through its newest turns only")
    }

    func testBadDialogueContexts() throws {
        _ = try photos(2, in: "g")
        assertFails(try shell(#""$DIALCLIP" search --context nowhere.jsonl --db db.sqlite"#), message: "nowhere.jsonl")
        try writeDialogues([["id": "x", "turns": [["speaker": "A", "text": "hi"]]]], to: "one.jsonl")
        assertFails(try shell(#""$DIALCLIP" search --context one.jsonl --dialogue 3 --db db.sqlite --gallery g"#),
                    message: "holds 1 dialogue; --dialogue 3 is out of range")
        assertFails(try shell(#""$DIALCLIP" search --context one.jsonl --dialogue=-1 --db db.sqlite"#), status: 64,
                    message: "--dialogue must be 0 or more")
        try writeDialogues([["id": "blank", "turns": [["speaker": "A", "text": "  "], ["speaker": "B", "text": ""]]]], to: "blank.jsonl")
        assertFails(try shell(#""$DIALCLIP" search --context blank.jsonl --db db.sqlite --gallery g"#), message: "has no text turns or photos")
    }
}
