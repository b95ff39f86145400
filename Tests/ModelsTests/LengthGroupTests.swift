import XCTest
@testable import Models
import Tensor

/// BERT batches sequences of similar length together so padding stays a small share of the work.
final class LengthGroupTests: XCTestCase {
    func testGroupsCoverEverythingInOrderWithinLimits() {
        var g = SeededGenerator(seed: 11)
        for trial in 0..<200 {
            let n = Int(g.next() % 200)
            let lengths = (0..<n).map { _ in 2 + Int(g.next() % 120) }.sorted()
            let maxBatch = 1 + Int(g.next() % 64)
            let groups = BERTModel.lengthGroups(lengths, maxBatch: maxBatch)
            XCTAssertEqual(groups.flatMap { Array($0) }, Array(0..<n), "trial \(trial): contiguous cover")
            for r in groups {
                XCTAssertFalse(r.isEmpty)
                XCTAssertLessThanOrEqual(r.count, maxBatch)
                let padded = r.count * lengths[r.upperBound - 1]
                let useful = lengths[r].reduce(0, +)
                // Padding beyond a quarter only when the group without its last member was small.
                if padded > useful + useful / 4 {
                    XCTAssertLessThan((r.count - 2 >= 0 ? (r.count - 1) * lengths[r.upperBound - 2] : 0), 256,
                                      "trial \(trial): wasteful group \(lengths[r])")
                }
            }
        }
    }

    func testChatSentencesSplitWhereLengthsJump() {
        let lengths = [22, 23, 24, 25, 26, 27, 28, 29, 30, 30, 31, 31, 32, 33, 34, 48]
        let groups = BERTModel.lengthGroups(lengths, maxBatch: 32)
        XCTAssertEqual(groups.count, 2)
        XCTAssertEqual(groups.last, 15..<16, "the 48-token sentence is not padded onto 15 short ones")
        XCTAssertEqual(BERTModel.lengthGroups([5, 5, 5], maxBatch: 2), [0..<2, 2..<3])
        XCTAssertEqual(BERTModel.lengthGroups([], maxBatch: 8), [])
    }
}
