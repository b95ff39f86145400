import Engine
import XCTest
@testable import TUI

final class ViewTests: XCTestCase {
    static let longPath = "/home/someone/Pictures/2024/beach-at-sunset.jpg"  // 48 columns

    func result() -> RetrievalResult {
        RetrievalResult(
            photos: [RetrievalHit(rank: 1, kind: .image, path: "/photos/cat.jpg", text: "a cat on a sofa", score: 0.3125),
                     RetrievalHit(rank: 2, kind: .image, path: Self.longPath, text: "sunset \u{1B}[31m over the sea", score: -0.05)],
            replies: [RetrievalHit(rank: 1, kind: .reply, path: nil, text: "What a cute cat!", score: 0.4)],
            photoShareProbability: 0.75, latencySeconds: 0.0421)
    }

    func state() -> TUIState {
        var s = TUIState(modelName: "dialclip-tiny")
        s.type("look at my cat")
        _ = s.handle(key: .enter)
        s.retrievalFinished(generation: 1, result: result())
        s.gallerySize = 254
        return s
    }

    func testFullScreenShowsChatResultsAndStatus() {
        let (c, info) = View().render(state(), width: 120, height: 40)
        let text = c.text
        XCTAssertTrue(text.contains("A: look at my cat"))
        XCTAssertTrue(text.contains(" 1  0.312 /photos/cat.jpg"), text)
        XCTAssertTrue(text.contains(Self.longPath), "a path that fits is shown in full\n\(text)")
        XCTAssertTrue(text.contains("a cat on a sofa"))
        XCTAssertTrue(text.contains("sunset ^[[31m over the sea"), "escape sequences are shown, not executed")
        XCTAssertTrue(text.contains("Photos (2)"))
        XCTAssertTrue(text.contains("Replies (1)"))
        let status = c.row(39)
        XCTAssertTrue(status.contains("model: dialclip-tiny"), status)
        XCTAssertTrue(status.contains("gallery: 254"))
        XCTAssertTrue(status.contains("42 ms"))
        XCTAssertTrue(status.contains("p(photo) 0.75"))
        XCTAssertTrue(status.contains("Enter send"), "focus hint")
        XCTAssertEqual(info.thumbnailRequests.count, 1, "the selected photo's preview is requested")
        XCTAssertEqual(info.thumbnailRequests.first?.path, "/photos/cat.jpg")
        XCTAssertNotNil(c.cursor, "cursor on the input line")
    }

    func testLongPathShortenedFromTheLeft() {
        let (c, _) = View().render(state(), width: 60, height: 16)
        let line = (0..<16).map { c.row($0) }.first { $0.contains("beach-at-sunset.jpg") }
        let row = try? XCTUnwrap(line)
        XCTAssertNotNil(row)
        XCTAssertTrue(row?.contains("…") ?? false, "shortened with an ellipsis")
        XCTAssertFalse(row?.contains("/home/someone") ?? true, "the start of the path is what goes")
    }

    func testRetrievingIndicatorAndResultsPlaceholder() {
        var s = TUIState(modelName: "m")
        var (c, _) = View().render(s, width: 80, height: 24)
        XCTAssertTrue(c.text.contains("No results yet"))
        s.type("hi"); _ = s.handle(key: .enter)
        (c, _) = View().render(s, width: 80, height: 24)
        XCTAssertTrue(c.text.contains("retrieving…"))
        s.engineReady = false
        (c, _) = View().render(s, width: 80, height: 24)
        XCTAssertTrue(c.text.contains("loading model…"))
    }

    func testInspectorBars() {
        var s = state()
        _ = s.handle(key: .tab)
        _ = s.handle(key: .char("a"))
        let e = AttributeExplanation(image: "/photos/cat.jpg", text: "look at my cat", globalScore: 0.25, finalScore: 0.31, beta: 0.5,
                                     phrases: [.init(phrase: "cat", weight: 0.75, sImage: 0.32, sBlank: 0.12),
                                               .init(phrase: "my", weight: 0.25, sImage: 0.2, sBlank: 0.19)])
        s.explanationFinished(generation: 1, explanation: e)
        let (c, _) = View().render(s, width: 120, height: 40)
        let rows = (0..<40).map { c.row($0) }
        let catRow = rows.first { $0.contains("│ cat ") }
        let myRow = rows.first { $0.contains("│ my ") }
        XCTAssertNotNil(catRow); XCTAssertNotNil(myRow)
        let catBar = catRow!.filter { $0 == "█" }.count
        let myBar = myRow!.filter { $0 == "█" }.count
        XCTAssertGreaterThan(catBar, 0)
        XCTAssertEqual(Double(myBar), Double(catBar) / 3, accuracy: 1, "bar length follows the weight")
        XCTAssertTrue(catRow!.contains("0.75"))
        XCTAssertTrue(rows.contains { $0.contains("global 0.250  final 0.310  beta 0.50") })
        // ASCII mode draws # bars.
        let (a, _) = View(options: RenderOptions(asciiOnly: true)).render(s, width: 120, height: 40)
        XCTAssertTrue(a.text.contains("###"))
        XCTAssertFalse(a.text.unicodeScalars.contains { $0.value > 0x7E }, "ASCII mode draws ASCII only")
    }

    func testThumbnailHalfBlocks() throws {
        let img = try XCTUnwrap(ThumbnailImage(width: 2, height: 2, rgb: [200, 0, 0, 0, 200, 0, 0, 0, 200, 50, 50, 50]))
        let view = View(options: RenderOptions()) { _, _, _ in .ready(img) }
        let (c, info) = view.render(state(), width: 120, height: 40)
        XCTAssertTrue(info.thumbnailRequests.isEmpty)
        guard case .full(let p) = Layout.compute(width: 120, height: 40) else { return XCTFail() }
        let x0 = p.thumbnail.x + (p.thumbnail.width - 2) / 2
        let left = c[x0, p.thumbnail.y], right = c[x0 + 1, p.thumbnail.y]
        XCTAssertEqual(left.text, "▀")
        XCTAssertEqual(left.style.fg, .rgb(RGB(200, 0, 0)), "fg = upper pixel")
        XCTAssertEqual(left.style.bg, .rgb(RGB(0, 0, 200)), "bg = lower pixel")
        XCTAssertEqual(right.style.fg, .rgb(RGB(0, 200, 0)))
        XCTAssertEqual(right.style.bg, .rgb(RGB(50, 50, 50)))
        // ASCII: plain colour spaces with the mean colour.
        let ascii = View(options: RenderOptions(asciiOnly: true)) { _, _, _ in .ready(img) }
        let (a, _) = ascii.render(state(), width: 120, height: 40)
        XCTAssertEqual(a[x0, p.thumbnail.y].text, " ")
        XCTAssertEqual(a[x0, p.thumbnail.y].style.bg, .rgb(RGB(100, 0, 100)))
        // No colours: no picture, a note instead.
        let mono = View(options: RenderOptions(colors: false)) { _, _, _ in .ready(img) }
        let (m, _) = mono.render(state(), width: 120, height: 40)
        XCTAssertTrue(m.text.contains("no preview without colours"))
    }

    func testHostileChatTextNeverReachesCanvasRaw() {
        var s = TUIState(modelName: "m\u{1B}]0;pwned\u{7}")
        s.turns.append(DialogTurn(speaker: "B\u{1B}[2J", text: "\u{1B}]52;c;ZXZpbA==\u{7}hi\u{9B}2J\r\nnext\u{0}line 日本 e\u{301}"))
        s.statusMessage = "bad\u{1B}[5m"
        for (w, h) in [(120, 40), (60, 16), (30, 10)] {
            let (c, _) = View().render(s, width: w, height: h)
            for cell in c.cells {
                for sc in cell.text.unicodeScalars {
                    XCTAssertFalse(sc.value < 0x20 || (0x7F..<0xA0).contains(sc.value), "raw control U+\(String(sc.value, radix: 16)) in a cell")
                }
            }
        }
        let (c, _) = View().render(s, width: 120, height: 40)
        XCTAssertTrue(c.text.contains("^[]52;c;ZXZpbA==^Ghi"))
    }

    func testCanvasWideCharacters() {
        var c = Canvas(width: 6, height: 1)
        XCTAssertEqual(c.put("日本語", x: 0, y: 0), 6)
        XCTAssertEqual(c.row(0), "日本語")
        c.put("x", x: 1, y: 0)  // overwrites the right half of 日
        XCTAssertEqual(c.row(0), " x本語")
        var d = Canvas(width: 5, height: 1)
        XCTAssertEqual(d.put("ab日本", x: 0, y: 0), 5, "a wide char cut by the edge becomes a space")
        XCTAssertEqual(d.row(0), "ab日 ")
        var e = Canvas(width: 4, height: 1)
        e.put("e\u{301}x", x: 0, y: 0)
        XCTAssertEqual(e[0, 0].text, "e\u{301}", "combining mark stays in its base's cell")
        XCTAssertEqual(e[1, 0].text, "x")
    }

    func testGalleryOverlay() async throws {
        var s = state()
        _ = s.handle(key: .tab)
        _ = s.handle(key: .char("g"))
        var (c, _) = View().render(s, width: 100, height: 30)
        XCTAssertTrue(c.text.contains("loading gallery…"))
        s.galleryLoaded(try await WordEngine().galleryEntries())
        _ = s.handle(key: .down)
        _ = s.handle(key: .char(" "))
        (c, _) = View().render(s, width: 100, height: 30)
        XCTAssertTrue(c.text.contains("Gallery  4/4  category: all"))
        XCTAssertTrue(c.text.contains("* dog.jpg [animal]"), "marked entry")
        XCTAssertTrue(c.text.contains("a dog in the park"), "caption of the selection")
        XCTAssertTrue(c.text.contains("/gallery/dog.jpg"))
    }

    func testHelpOverlay() {
        var s = state()
        _ = s.handle(key: .f1)
        let (c, _) = View().render(s, width: 80, height: 24)
        XCTAssertTrue(c.text.contains("dialclip keys"))
        XCTAssertTrue(c.text.contains("Ctrl-C quits"))
    }
}
