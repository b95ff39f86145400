import XCTest
@testable import TUI

final class ColorTests: XCTestCase {
    func testPaletteDefinition() {
        // xterm's documented values (256colres.pl): cube levels 0,95,135,...,255; greys 8+10i.
        XCTAssertEqual(XtermPalette.rgb(ofIndex: 16), RGB(0, 0, 0))
        XCTAssertEqual(XtermPalette.rgb(ofIndex: 196), RGB(255, 0, 0))
        XCTAssertEqual(XtermPalette.rgb(ofIndex: 21), RGB(0, 0, 255))
        XCTAssertEqual(XtermPalette.rgb(ofIndex: 67), RGB(95, 135, 175))
        XCTAssertEqual(XtermPalette.rgb(ofIndex: 231), RGB(255, 255, 255))
        XCTAssertEqual(XtermPalette.rgb(ofIndex: 232), RGB(8, 8, 8))
        XCTAssertEqual(XtermPalette.rgb(ofIndex: 255), RGB(238, 238, 238))
        XCTAssertNil(XtermPalette.rgb(ofIndex: 15), "the 16 system colours depend on the theme")
    }

    /// The fast search must agree with an exhaustive search over indices 16...255.
    func testNearestMatchesBruteForce() {
        func brute(_ c: RGB) -> Int {
            (16...255).map { XtermPalette.distance(c, XtermPalette.rgb(ofIndex: $0)!) }.min()!
        }
        var generator = SystemRandomNumberGenerator()
        var colours: [RGB] = []
        for r in stride(from: 0, through: 255, by: 15) { for g in stride(from: 0, through: 255, by: 15) {
            for b in stride(from: 0, through: 255, by: 15) { colours.append(RGB(UInt8(r), UInt8(g), UInt8(b))) } } }
        for _ in 0..<2000 { colours.append(RGB(.random(in: 0...255, using: &generator), .random(in: 0...255, using: &generator), .random(in: 0...255, using: &generator))) }
        for v in 0...255 { colours.append(RGB(UInt8(v), UInt8(v), UInt8(v))) }
        for c in colours {
            let i = XtermPalette.nearestIndex(to: c)
            XCTAssertTrue((16...255).contains(i))
            XCTAssertEqual(XtermPalette.distance(c, XtermPalette.rgb(ofIndex: i)!), brute(c), "not nearest for \(c)")
        }
        XCTAssertEqual(XtermPalette.nearestIndex(to: RGB(255, 0, 0)), 196)
        XCTAssertEqual(XtermPalette.nearestIndex(to: RGB(128, 128, 128)), 244, "mid grey is on the grey ramp (128)")
    }

    func testColorModeDetection() {
        XCTAssertEqual(ColorMode.detect(colors: 1 << 24, hasColors: true, noColor: false), .direct)
        XCTAssertEqual(ColorMode.detect(colors: 256, hasColors: true, noColor: false), .palette256)
        XCTAssertEqual(ColorMode.detect(colors: 8, hasColors: true, noColor: false), .ansi16)
        XCTAssertEqual(ColorMode.detect(colors: 256, hasColors: true, noColor: true), .none, "NO_COLOR wins")
        XCTAssertEqual(ColorMode.detect(colors: 0, hasColors: false, noColor: false), .none)
        XCTAssertTrue(TUIOptions.noColorFromEnvironment(["NO_COLOR": "1"]))
        XCTAssertFalse(TUIOptions.noColorFromEnvironment(["NO_COLOR": ""]), "an empty NO_COLOR does not count")
        XCTAssertFalse(TUIOptions.noColorFromEnvironment([:]))
    }

    func testPairCache() {
        var cache = ColorPairCache(mode: .palette256, colorPairs: 4)
        XCTAssertEqual(cache.pair(fg: .default, bg: .default).pair, 0, "default colours need no pair")
        let a = cache.pair(fg: .rgb(RGB(255, 0, 0)), bg: .default)
        XCTAssertEqual(a.pair, 1); XCTAssertTrue(a.isNew); XCTAssertEqual(a.fg, 196); XCTAssertEqual(a.bg, -1)
        let again = cache.pair(fg: .rgb(RGB(250, 5, 5)), bg: .default)
        XCTAssertEqual(again.pair, 1, "colours mapping to the same index share a pair")
        XCTAssertFalse(again.isNew)
        XCTAssertEqual(cache.pair(fg: .ansi(6), bg: .default).pair, 2)
        XCTAssertEqual(cache.pair(fg: .ansi(3), bg: .ansi(4)).pair, 3)
        XCTAssertEqual(cache.generation, 0)
        let wrapped = cache.pair(fg: .ansi(1), bg: .ansi(2))
        XCTAssertEqual(wrapped.pair, 1, "pairs are reused from the start when exhausted")
        XCTAssertTrue(wrapped.isNew)
        XCTAssertEqual(cache.generation, 1)

        let direct = ColorPairCache(mode: .direct, colorPairs: 65536)
        XCTAssertEqual(direct.colorNumber(.rgb(RGB(0x12, 0x34, 0x56))), 0x123456)
        XCTAssertEqual(direct.colorNumber(.rgb(RGB(0, 0, 5))), 8, "numbers below 8 would be ANSI colours on xterm-direct")
        let none = ColorPairCache(mode: .none, colorPairs: 256)
        XCTAssertEqual(none.colorNumber(.rgb(RGB(9, 9, 9))), -1)
        let ansi = ColorPairCache(mode: .ansi16, colorPairs: 64)
        XCTAssertEqual(ansi.colorNumber(.rgb(RGB(250, 10, 10))), 1)
    }

    func testHalfBlockCells() throws {
        // 2×3 image: rows 0/1 in the first cell row, row 2 alone in the second.
        let px: [UInt8] = [255, 0, 0, 0, 255, 0,
                           0, 0, 255, 9, 9, 9,
                           1, 2, 3, 4, 5, 6]
        let img = try XCTUnwrap(ThumbnailImage(width: 2, height: 3, rgb: px))
        let cells = HalfBlock.cells(for: img)
        XCTAssertEqual(cells.count, 2)
        XCTAssertEqual(cells[0][0], HalfBlock.CellColors(top: RGB(255, 0, 0), bottom: RGB(0, 0, 255)))
        XCTAssertEqual(cells[0][1], HalfBlock.CellColors(top: RGB(0, 255, 0), bottom: RGB(9, 9, 9)))
        XCTAssertEqual(cells[1][1], HalfBlock.CellColors(top: RGB(4, 5, 6), bottom: nil))
        XCTAssertNil(ThumbnailImage(width: 2, height: 2, rgb: [0, 0, 0]), "wrong buffer size is refused")
        let big = try XCTUnwrap(ThumbnailImage(width: 300, height: 200, rgb: [UInt8](repeating: 7, count: 300 * 200 * 3)))
        let fitted = try XCTUnwrap(HalfBlock.fit(big, maxWidth: 60, maxHeight: 28))
        XCTAssertEqual(fitted.height, 28)
        XCTAssertEqual(fitted.width, 42, "aspect 3:2 kept")
    }
}
