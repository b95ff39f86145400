import Foundation
import XCTest
import TestSupport
@testable import DialCLIP

/// Bad reply pools and dialogue files found while writing docs/robustness.md.
final class ReplyPoolBadInputTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory("replypool-bad") }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    func write(_ name: String, _ bytes: [UInt8]) -> String {
        let path = dir.appendingPathComponent(name).path
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }

    /// A pool of blank lines used to be reported as "holds no dialogues".
    func testBlankPoolSaysItHoldsNoReplies() {
        let p = write("blank.txt", Array("\n   \n\t\n".utf8))
        XCTAssertThrowsError(try ReplyPool.read(path: p)) { e in
            XCTAssertEqual(e as? DialogueFileError, .emptyPool(path: p))
            XCTAssertTrue("\(e)".contains("holds no replies"), "\(e)")
        }
    }

    /// A pool bigger than the cap is refused from its size, before anything is read
    /// (a sparse file: no disk space is used).
    func testOversizedPoolIsRefusedWithoutReading() throws {
        let p = dir.appendingPathComponent("huge.txt").path
        XCTAssertTrue(FileManager.default.createFile(atPath: p, contents: nil))
        XCTAssertEqual(truncate(p, off_t(DialogueFile.maxFileBytes + 1)), 0)
        XCTAssertThrowsError(try ReplyPool.read(path: p)) { e in
            XCTAssertEqual(e as? DialogueFileError, .tooLarge(path: p, bytes: DialogueFile.maxFileBytes + 1, limit: DialogueFile.maxFileBytes))
        }
        XCTAssertThrowsError(try DialogueFile.read(path: p)) { e in
            guard case .tooLarge = e as? DialogueFileError else { return XCTFail("\(e)") }
        }
    }

    /// Invalid UTF-8, missing files and over-long lines: typed errors naming the line, or a cut.
    func testInvalidUTF8MissingAndLongLines() {
        let bad = write("bad.txt", Array("ok\n".utf8) + [0xFF, 0xFE, 0x0A])
        XCTAssertThrowsError(try ReplyPool.read(path: bad)) { XCTAssertEqual($0 as? DialogueFileError, .invalidUTF8(path: bad, line: 2)) }
        let missing = dir.appendingPathComponent("missing.txt").path
        XCTAssertThrowsError(try ReplyPool.read(path: missing)) { e in
            guard case .unreadable = e as? DialogueFileError else { return XCTFail("\(e)") }
        }
        let long = write("long.txt", Array(String(repeating: "é", count: 50_000).utf8))
        XCTAssertEqual(try ReplyPool.read(path: long).map(\.count), [DialogueFile.maxTurnCharacters])
    }

    /// Crash-free fuzz findings are kept as seeds; this checks the property the fuzz target
    /// asserts on a few hand-made tricky files: a parsed file survives serialise → parse.
    func testSerialiseParseRoundTripOnTrickyRecords() throws {
        let lines = [
            #"{"id": 1e3, "turns": [{"text": "a\u0000b"}, {"speaker": "", "text": ""}], "share_turn": 1}"#,
            #"{"turns": [{"text": "x", "image": "p.jpg"}], "photo": {"description": "d", "url": null}}"#,
            #"{"id": "é", "turns": []}"#,
        ]
        let parsed = try DialogueFile.parse(Data(lines.joined(separator: "\n").utf8))
        XCTAssertEqual(parsed.count, 3)
        XCTAssertEqual(try DialogueFile.parse(try DialogueFile.serialize(parsed)), parsed)
    }
}
