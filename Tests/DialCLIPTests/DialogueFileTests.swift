import XCTest
import TestSupport
@testable import DialCLIP

final class DialogueFileTests: XCTestCase {
    func testReadsEverySharedDialogueFile() throws {
        for (name, count) in [("photochat_sample.jsonl", 106), ("photochat_train.jsonl", 608),
                              ("chitchat_sample.jsonl", 1500), ("topicalchat_sample.jsonl", 400)] {
            let ds = try DialogueFile.read(path: try Fixtures.sharedPath("data/dialogs/\(name)"))
            XCTAssertEqual(ds.count, count, name)
            XCTAssertTrue(ds.allSatisfy { !$0.turns.isEmpty }, name)
            if name.hasPrefix("photochat") {
                XCTAssertTrue(ds.allSatisfy { $0.photo != nil && $0.shareTurn != nil }, name)
            }
        }
    }

    func testRoundTrip() throws {
        let d = [Dialogue(id: "x", turns: [DialogueTurn(speaker: "A", text: "hi 🙂"), DialogueTurn(speaker: "B", text: "look", image: "/p/a.jpg")],
                          shareTurn: 1, photo: SharedPhoto(description: "a dog", url: nil, sharedBy: "B"))]
        XCTAssertEqual(try DialogueFile.parse(try DialogueFile.serialize(d)), d)
    }

    func testBadRecordsNameTheLine() {
        let cases: [(String, (DialogueFileError) -> Bool)] = [
            ("{\"id\":\"a\",\"turns\":[]}\nnot json\n", { $0 == .invalidJSON(path: "<input>", line: 2) }),
            ("{\"id\":\"a\"}", { if case .invalidRecord(_, 1, _) = $0 { return true }; return false }),
            ("{\"turns\":[{\"speaker\":\"A\"}]}", { if case .invalidRecord(_, 1, _) = $0 { return true }; return false }),
            ("{\"turns\":[{\"text\":\"a\"}],\"share_turn\":5}", { if case .invalidRecord(_, 1, _) = $0 { return true }; return false }),
            ("[1,2]", { $0 == .invalidJSON(path: "<input>", line: 1) }),
        ]
        for (text, check) in cases {
            XCTAssertThrowsError(try DialogueFile.parse(Data(text.utf8))) { e in
                XCTAssertTrue(check(e as! DialogueFileError), "\(text): \(e)")
            }
        }
        let bytes = Array("{\"turns\":[{\"text\":\"".utf8) + [0xC3, 0x28] + Array("\"}]}".utf8)
        XCTAssertThrowsError(try DialogueFile.parse(Data(bytes))) { XCTAssertEqual($0 as? DialogueFileError, .invalidUTF8(path: "<input>", line: 1)) }
    }

    func testLongDialoguesKeepTheNewestTurns() throws {
        let turns = (0..<1500).map { "{\"speaker\":\"A\",\"text\":\"t\($0)\"}" }.joined(separator: ",")
        let d = try DialogueFile.parse(Data("{\"id\":\"long\",\"turns\":[\(turns)]}".utf8))
        XCTAssertEqual(d[0].turns.count, DialogueFile.maxTurns)
        XCTAssertEqual(d[0].turns.last?.text, "t1499")
    }

    func testEmptyFileIsAnError() throws {
        let dir = try Fixtures.temporaryDirectory()
        let p = dir.appendingPathComponent("e.jsonl").path
        _ = FileManager.default.createFile(atPath: p, contents: Data("\n\n".utf8))
        XCTAssertThrowsError(try DialogueFile.read(path: p)) { XCTAssertEqual($0 as? DialogueFileError, .empty(path: p)) }
        XCTAssertThrowsError(try DialogueFile.read(path: dir.appendingPathComponent("missing").path))
    }

    func testMetrics() {
        let m = RetrievalMetrics(ranks: [1, 2, 6, 11])
        XCTAssertEqual(m.recallAt1, 0.25)
        XCTAssertEqual(m.recallAt5, 0.5)
        XCTAssertEqual(m.recallAt10, 0.75)
        XCTAssertEqual(m.meanReciprocalRank, (1 + 0.5 + 1 / 6.0 + 1 / 11.0) / 4, accuracy: 1e-12)
        XCTAssertEqual(RetrievalMetrics.rank(of: 0, in: [0.5, 0.5, 0.1]), 2, "ties count against the target")
        XCTAssertEqual(RetrievalMetrics.rank(of: 2, in: [0.1, 0.2, 0.9]), 1)
    }
}
