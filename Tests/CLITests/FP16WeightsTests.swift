import Foundation
import XCTest
import TestSupport

/// `--fp16-weights` end to end: on an F16 checkpoint it must not change a single number,
/// and an index built with it serves searches made without it (same model identity).
extension BadInputTests {
    func embedding(_ arguments: String) throws -> [Double] {
        let o = try shell(#""$DIALCLIP" embed "# + arguments + " --json")
        XCTAssertEqual(o.status, 0, o.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(o.stdout.utf8)) as? [String: Any]
        return try XCTUnwrap(object?["embedding"] as? [Double], o.stdout)
    }

    func testFP16WeightsChangeNothingOnAnF16Checkpoint() throws {
        let openAI = try Fixtures.sharedPath("model/tiny-clip-openai/model.safetensors")
        let photo = try photos(1, in: "one")
        let file = try XCTUnwrap(FileManager.default.contentsOfDirectory(atPath: photo).first)
        for input in [#"--image "\#(photo)/\#(file)""#, #"--text "two dogs on a beach""#] {
            let full = try embedding(#"--model "\#(openAI)" "# + input)
            let half = try embedding(#"--model "\#(openAI)" --fp16-weights "# + input)
            XCTAssertEqual(full.count, 32)
            XCTAssertEqual(full, half, input)
        }
    }

    func testIndexBuiltWithFP16WeightsServesFullPrecisionSearch() throws {
        _ = try photos(3, in: "g")
        let index = try shell(#""$DIALCLIP" index g --db db.sqlite --model "$MODEL" --fp16-weights --json"#)
        XCTAssertEqual(index.status, 0, index.stderr)
        let search = try shell(#""$DIALCLIP" search "a photo" --db db.sqlite --model "$MODEL" --no-index --json -k 3"#)
        XCTAssertEqual(search.status, 0, search.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(search.stdout.utf8)) as? [String: Any]
        XCTAssertEqual((object?["results"] as? [Any])?.count, 3, search.stdout)
    }
}
