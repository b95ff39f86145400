import XCTest
@testable import TUI

final class LayoutTests: XCTestCase {
    private func panes(_ w: Int, _ h: Int, file: StaticString = #filePath, line: UInt = #line) throws -> Layout.Panes {
        guard case .full(let p) = Layout.compute(width: w, height: h) else {
            XCTFail("expected the full layout at \(w)×\(h)", file: file, line: line)
            throw XCTSkip("no layout")
        }
        return p
    }

    private func checkInvariants(_ p: Layout.Panes, _ w: Int, _ h: Int) {
        let screen = Rect(x: 0, y: 0, width: w, height: h)
        let named: [(String, Rect)] = [("chatHeader", p.chatHeader), ("chat", p.chat), ("inputRule", p.inputRule),
                                       ("input", p.input), ("divider", p.divider), ("tabs", p.tabs), ("results", p.results),
                                       ("thumbnailRule", p.thumbnailRule), ("thumbnail", p.thumbnail), ("status", p.status)]
        for (name, r) in named {
            XCTAssertFalse(r.isEmpty, "\(name) empty at \(w)×\(h)")
            XCTAssertTrue(screen.contains(r), "\(name) \(r) outside \(w)×\(h)")
        }
        for i in named.indices { for j in named.indices where j > i {
            XCTAssertFalse(named[i].1.intersects(named[j].1), "\(named[i].0) overlaps \(named[j].0) at \(w)×\(h)")
        } }
        // Every cell is covered exactly once.
        let area = named.reduce(0) { $0 + $1.1.width * $1.1.height }
        XCTAssertEqual(area, w * h, "panes must tile the screen at \(w)×\(h)")
        XCTAssertEqual(p.status, Rect(x: 0, y: h - 1, width: w, height: 1))
        XCTAssertEqual(p.input.height, 1)
        XCTAssertEqual(p.input.maxY, h - 1, "input sits right above the status bar")
        XCTAssertEqual(p.chat.x, 0)
        XCTAssertEqual(p.results.x, p.divider.maxX)
        XCTAssertGreaterThanOrEqual(p.results.height, 4, "room for two results")
        XCTAssertGreaterThanOrEqual(p.thumbnail.height, 4)
    }

    func testFullLayout120x40() throws {
        let p = try panes(120, 40)
        checkInvariants(p, 120, 40)
        XCTAssertGreaterThan(p.results.width, p.chat.width, "results get the wider half for full paths")
        XCTAssertGreaterThanOrEqual(p.results.height, 20)
        XCTAssertEqual(p.thumbnail.maxY, 39)
    }

    func testMinimumLayout60x16() throws {
        let p = try panes(60, 16)
        checkInvariants(p, 60, 16)
        XCTAssertGreaterThanOrEqual(p.chat.height, 8)
    }

    func testOtherSizesTile() throws {
        for (w, h) in [(61, 17), (80, 24), (100, 30), (200, 60), (300, 100)] {
            checkInvariants(try panes(w, h), w, h)
        }
    }

    func testTooSmall() {
        XCTAssertEqual(Layout.compute(width: 59, height: 16), .tooSmall(message: "terminal too small (59×16), need 60×16"))
        XCTAssertEqual(Layout.compute(width: 60, height: 15), .tooSmall(message: "terminal too small (60×15), need 60×16"))
        XCTAssertEqual(Layout.compute(width: 20, height: 5), .tooSmall(message: "terminal too small (20×5), need 60×16"))
        XCTAssertEqual(Layout.compute(width: 0, height: 0), .tooSmall(message: "terminal too small (0×0), need 60×16"))
    }

    func testTooSmallRendersOneLine() {
        var state = TUIState(modelName: "m")
        state.type("kept")
        let (canvas, _) = View().render(state, width: 20, height: 5)
        XCTAssertEqual(canvas.row(0), "terminal too small …")
        for y in 1..<5 { XCTAssertEqual(canvas.row(y).trimmingCharacters(in: .whitespaces), "") }
        let (wide, _) = View().render(state, width: 59, height: 16)
        XCTAssertTrue(wide.row(0).hasPrefix("terminal too small (59×16), need 60×16"))
        // Growing back shows everything again, with the typed text kept.
        let (full, _) = View().render(state, width: 60, height: 16)
        XCTAssertTrue(full.text.contains("> kept"))
    }
}
