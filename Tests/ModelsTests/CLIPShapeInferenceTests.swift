import XCTest
import Tensor
import TestSupport
@testable import Models

/// Full-size architectures are inferred from shapes alone, tested on sparse zero-filled
/// files whose headers follow shared/model/clip/NAMES.md (no 600 MB download, no disk use).
final class CLIPShapeInferenceTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory("clip-shapes") }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    /// (name, shape) rows of one layout's table in NAMES.md, `{i}` expanded to 0…11.
    func namesTable(_ heading: String) throws -> [(String, [Int])] {
        let text = try String(contentsOfFile: try Fixtures.sharedPath("model/clip/NAMES.md"), encoding: .utf8)
        guard let start = text.range(of: heading) else { throw FixtureError.missing("NAMES.md section \(heading)") }
        var rows: [(String, [Int])] = []
        var inTable = false
        for line in text[start.upperBound...].split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("### ") { break }
            guard line.hasPrefix("| `") else { if inTable && !line.hasPrefix("|") { break }; continue }
            inTable = true
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            let name = cells[0].trimmingCharacters(in: CharacterSet(charactersIn: "`"))
            let shape = cells[1].trimmingCharacters(in: CharacterSet(charactersIn: "[]")).split(separator: ",")
                .compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            if name.contains("{i}") {
                for i in 0..<12 { rows.append((name.replacingOccurrences(of: "{i}", with: "\(i)"), shape)) }
            } else {
                rows.append((name, shape))
            }
        }
        return rows
    }

    /// Writes a safetensors header for `entries` (F32) and extends the file sparsely.
    func writeSparse(_ entries: [(String, [Int])], metadata: [String: String] = [:], to name: String) throws -> String {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        for (n, shape) in entries {
            let bytes = shape.reduce(1, *) * 4
            header[n] = ["dtype": "F32", "shape": shape, "data_offsets": [offset, offset + bytes]] as [String: Any]
            offset += bytes
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while (8 + json.count) % 8 != 0 { json.append(0x20) }
        var data = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(json)
        let path = dir.appendingPathComponent(name).path
        try data.write(to: URL(fileURLWithPath: path))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: UInt64(data.count + offset))
        try handle.close()
        return path
    }

    func testViTB32BothLayouts() throws {
        for heading in ["### HF transformers layout", "### OpenAI / open_clip layout"] {
            let rows = try namesTable(heading)
            XCTAssertGreaterThan(rows.count, 300, heading)
            let path = try writeSparse(rows, to: "\(rows.count).safetensors")
            let m = try CLIPModel(path: path)
            XCTAssertEqual(m.config.vision.width, 768, heading)
            XCTAssertEqual(m.config.vision.layers, 12, heading)
            XCTAssertEqual(m.config.vision.heads, 12, heading)
            XCTAssertEqual(m.config.vision.mlpWidth, 3072, heading)
            XCTAssertEqual(m.config.patchSize, 32, heading)
            XCTAssertEqual(m.config.imageSize, 224, heading)
            XCTAssertEqual(m.config.text.width, 512, heading)
            XCTAssertEqual(m.config.text.heads, 8, heading)
            XCTAssertEqual(m.config.text.layers, 12, heading)
            XCTAssertEqual(m.config.contextLength, 77, heading)
            XCTAssertEqual(m.config.vocabularySize, 49408, heading)
            XCTAssertEqual(m.config.embedDim, 512, heading)
            XCTAssertEqual(m.parameterCount, 151_277_313, heading)
            XCTAssertFalse(m.warnings.isEmpty, "heads guessed from width/64 must be announced")
        }
    }

    func testHeadsFromMetadataBeatWidthRule() throws {
        let rows = try namesTable("### OpenAI / open_clip layout")
        let path = try writeSparse(rows, metadata: ["vision_heads": "16", "text_heads": "4", "act": "gelu"], to: "meta.safetensors")
        let m = try CLIPModel(path: path)
        XCTAssertEqual(m.config.vision.heads, 16)
        XCTAssertEqual(m.config.text.heads, 4)
        XCTAssertEqual(m.config.vision.activation, .gelu)
        XCTAssertTrue(m.warnings.isEmpty)
    }

    func testMissingAndMisshapenTensorsAreNamed() throws {
        var rows = try namesTable("### OpenAI / open_clip layout")
        rows.removeAll { $0.0 == "visual.transformer.resblocks.3.mlp.c_proj.bias" }
        XCTAssertThrowsError(try CLIPModel(path: try writeSparse(rows, to: "missing.safetensors"))) {
            XCTAssertTrue("\($0)".contains("visual.transformer.resblocks.3.mlp.c_proj.bias"), "\($0)")
        }
        rows = try namesTable("### HF transformers layout")
        if let i = rows.firstIndex(where: { $0.0 == "text_model.encoder.layers.5.self_attn.k_proj.weight" }) { rows[i].1 = [512, 511] }
        XCTAssertThrowsError(try CLIPModel(path: try writeSparse(rows, to: "shape.safetensors"))) {
            XCTAssertTrue("\($0)".contains("text_model.encoder.layers.5.self_attn.k_proj.weight"), "\($0)")
        }
        XCTAssertThrowsError(try CLIPModel(path: try writeSparse([("foo", [3])], to: "foreign.safetensors"))) {
            XCTAssertTrue("\($0)".contains("not a CLIP checkpoint"), "\($0)")
        }
        let pt = dir.appendingPathComponent("ViT-B-32.pt").path
        _ = FileManager.default.createFile(atPath: pt, contents: Data([0x80, 0x02]))
        XCTAssertThrowsError(try CLIPModel(path: pt)) { XCTAssertTrue("\($0)".contains("convert_checkpoint.py"), "\($0)") }
    }

    func testInconsistentHeadsRejected() throws {
        let rows = try namesTable("### OpenAI / open_clip layout")
        let path = try writeSparse(rows, metadata: ["vision_heads": "7", "text_heads": "8", "act": "quick_gelu"], to: "bad.safetensors")
        XCTAssertThrowsError(try CLIPModel(path: path)) { XCTAssertTrue("\($0)".contains("not divisible"), "\($0)") }
    }
}
