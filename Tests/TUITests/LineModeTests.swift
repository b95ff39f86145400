import Engine
import TestSupport
import XCTest
@testable import TUI

final class LineModeTests: XCTestCase {
    func testPlainOutput() async throws {
        var out = ""
        let n = try await runLineMode(engine: WordEngine(), input: ["the cat sat", "", "  ", "dog \u{1B}[2J"], output: &out, json: false, k: 2, replies: 1)
        XCTAssertEqual(n, 2, "blank lines are not turns")
        // WordEngine: photos are the sorted words of the last turn; reply names the turn count.
        XCTAssertEqual(out, """
        # turn 1: the cat sat
        /gallery/cat.jpg
        /gallery/sat.jpg
        # reply 1 (0.500): reply 1 to 1 turns
        # turn 2: dog ^[[2J
        /gallery/dog.jpg
        /gallery/j.jpg
        # reply 1 (0.500): reply 1 to 2 turns

        """)
    }

    func testJSONOutput() async throws {
        var out = ""
        let dir = try Fixtures.temporaryDirectory("dialclip-linemode")
        defer { try? FileManager.default.removeItem(at: dir) }
        let photo = dir.appendingPathComponent("shared.jpg")
        try Data([0xFF, 0xD8]).write(to: photo)
        let session = try SessionStore(directory: dir.appendingPathComponent("s")).create()
        try await runLineMode(engine: WordEngine(), input: ["Zebra apple", "@" + photo.path, "@/no/such/file.jpg"],
                              output: &out, json: true, k: 5, replies: 2, session: session)
        let lines = out.split(separator: "\n")
        XCTAssertEqual(lines.count, 3)
        let objs = try lines.map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        XCTAssertEqual(objs.map { $0["turn"] as? Int }, [1, 2, 3])
        let photos = try XCTUnwrap(objs[0]["photos"] as? [[String: Any]])
        XCTAssertEqual(photos.map { $0["path"] as? String }, ["/gallery/apple.jpg", "/gallery/zebra.jpg"])
        XCTAssertEqual(photos.map { $0["rank"] as? Int }, [1, 2])
        XCTAssertEqual(photos[1]["score"] as? Double, 0.5)
        XCTAssertEqual(photos[0]["caption"] as? String, "a photo of apple")
        let replies = try XCTUnwrap(objs[0]["replies"] as? [[String: Any]])
        XCTAssertEqual(replies.map { $0["text"] as? String }, ["reply 1 to 1 turns", "reply 2 to 1 turns"])
        XCTAssertEqual(replies[1]["score"] as? Double, 0.4, "floats are written without binary noise")
        XCTAssertEqual(objs[0]["photo_share_probability"] as? Double, 0.5)
        XCTAssertEqual(objs[0]["latency_ms"] as? Double, 12.5)
        // `@path` to an existing file shares a photo; otherwise the line is text.
        XCTAssertEqual(objs[1]["image"] as? String, photo.path)
        XCTAssertEqual(objs[1]["text"] as? String, "")
        XCTAssertNil(objs[2]["image"])
        XCTAssertEqual(objs[2]["text"] as? String, "@/no/such/file.jpg")
        XCTAssertEqual(try SessionStore.load(session.url).count, 3, "turns were saved")
    }

    func testEngineFailureIsATypedError() async {
        var out = ""
        do {
            try await runLineMode(engine: FailingEngine(), input: ["hi"], output: &out, json: true)
            XCTFail("expected an error")
        } catch let e as LineModeError {
            XCTAssertTrue(e.description.contains("model file missing"))
            XCTAssertTrue(e.description.contains("line 1"))
        } catch { XCTFail("untyped error \(error)") }
    }

    func testPhotoShareProbabilityNullWhenUnknown() async throws {
        struct NoRouting: RetrievalEngine {
            var modelName: String { "n" }
            func retrieve(context: [DialogTurn], kinds: Set<RetrievalKind>, k: Int) async throws -> RetrievalResult {
                RetrievalResult(photos: [], replies: [], photoShareProbability: nil, latencySeconds: 0)
            }
            func explain(text: String, imagePath: String) async throws -> AttributeExplanation { throw FailingEngine.Boom() }
            func galleryEntries() async throws -> [GalleryEntry] { [] }
        }
        var out = ""
        try await runLineMode(engine: NoRouting(), input: ["x"], output: &out, json: true)
        XCTAssertTrue(out.contains("\"photo_share_probability\":null"), out)
    }
}
