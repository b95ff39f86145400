import Foundation
import XCTest
import TestSupport
@testable import Gallery

/// Caption sources that users did not write carefully (or at all).
final class CaptionBadInputTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory("captions-bad") }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    /// A gallery.jsonl over the cap is ignored with one warning, without being read
    /// (sparse file: no disk space used). Before the cap it was read into memory whole.
    func testOversizedGalleryJSONLIsIgnoredWithAWarning() throws {
        let p = dir.appendingPathComponent("gallery.jsonl").path
        XCTAssertTrue(FileManager.default.createFile(atPath: p, contents: Data(#"{"file":"a.jpg","caption":"x"}"#.utf8 + [0x0A])))
        XCTAssertEqual(CaptionSources.loadGalleryJSONL(p).entries.count, 1)
        XCTAssertEqual(truncate(p, off_t(CaptionSources.maxGalleryJSONLBytes + 1)), 0)
        let (entries, warnings) = CaptionSources.loadGalleryJSONL(p)
        XCTAssertEqual(entries, [:])
        XCTAssertEqual(warnings.count, 1)
        XCTAssertTrue(warnings[0].contains("over the 256 MiB limit"), warnings[0])
    }

    /// Broken lines are warnings naming the line; good lines around them still count;
    /// invalid UTF-8, NUL bytes, nesting and wrong types never crash.
    func testBrokenLinesAreWarningsNamingTheLine() throws {
        let p = dir.appendingPathComponent("gallery.jsonl").path
        var bytes = Data()
        bytes += Data(#"{"file": "a.jpg", "captions": ["", "  first  "], "category": 3}"#.utf8) + Data([0x0A])
        bytes += Data("{not json\n".utf8)
        bytes += Data([0xFF, 0xFE, 0x00, 0x0A])
        bytes += Data((String(repeating: "[", count: 10_000) + "\n").utf8)
        bytes += Data(#"{"file": 7}"#.utf8) + Data([0x0A])
        bytes += Data(#"  {"file": "sub/b.png", "caption": "second"}"#.utf8)
        XCTAssertTrue(FileManager.default.createFile(atPath: p, contents: bytes))
        let (entries, warnings) = CaptionSources.loadGalleryJSONL(p)
        XCTAssertEqual(entries[dir.appendingPathComponent("a.jpg").path]?.caption, "first")
        XCTAssertNil(entries[dir.appendingPathComponent("a.jpg").path]?.category)
        XCTAssertEqual(entries[dir.appendingPathComponent("sub/b.png").path]?.caption, "second")
        XCTAssertEqual(entries.count, 2)
        XCTAssertEqual(warnings.map { $0.split(separator: ":").dropFirst().first.map(String.init) }, ["2", "3", "4", "5"])
    }

    /// A huge sidecar is read only up to its cap.
    func testHugeSidecarIsCapped() throws {
        let p = dir.appendingPathComponent("a.jpg.txt").path
        XCTAssertTrue(FileManager.default.createFile(atPath: p, contents: Data(repeating: 0x61, count: 5_000_000)))
        XCTAssertEqual(CaptionSources.readSidecar(p)?.utf8.count, CaptionSources.maxSidecarBytes)
    }
}
