import XCTest
@testable import TUI

final class TextWidthTests: XCTestCase {
    func testScalarAndClusterWidths() {
        XCTAssertEqual(TextWidth.displayWidth(of: "abc"), 3)
        XCTAssertEqual(TextWidth.displayWidth(of: "日本"), 4, "CJK ideographs are wide")
        XCTAssertEqual(TextWidth.displayWidth(of: "ｱ"), 1, "half-width katakana is narrow")
        XCTAssertEqual(TextWidth.displayWidth(of: "Ａ"), 2, "full-width Latin is wide")
        XCTAssertEqual(TextWidth.displayWidth(of: "한국"), 4, "Hangul syllables are wide")
        XCTAssertEqual(TextWidth.displayWidth(of: "e\u{301}"), 1, "a combining accent adds nothing")
        XCTAssertEqual(TextWidth.displayWidth(of: Unicode.Scalar(0x301)!), 0)
        XCTAssertEqual(TextWidth.displayWidth(of: Unicode.Scalar(0x200B)!), 0, "zero-width space")
        XCTAssertEqual(TextWidth.displayWidth(of: "😀"), 2, "emoji presentation is wide")
        XCTAssertEqual(TextWidth.displayWidth(of: "\u{2764}\u{FE0F}"), 2, "VS16 makes a text-default emoji wide")
        XCTAssertEqual(TextWidth.displayWidth(of: "\u{2764}"), 1)
        XCTAssertEqual(TextWidth.displayWidth(of: "a\u{0308}\u{0323}b"), 2, "stacked marks")
    }

    func testWrapKeepsWidthAndContent() {
        let samples = [
            "the quick brown fox jumps over the lazy dog",
            "日本語のテキストを折り返して表示します。漢字とかなが混ざっています",
            "Cafe\u{301} de\u{301}ja\u{300} vu — re\u{301}sume\u{301} nai\u{308}ve",
            "mixed 日本 text with 😀 emoji and ｶﾀｶﾅ",
            String(repeating: "x", count: 123),
            "https://example.com/a/very/long/url/that/does/not/contain/any/spaces/at/all?q=1",
        ]
        for text in samples {
            for width in [1, 2, 3, 5, 7, 10, 17, 40] {
                let lines = TextWidth.wrap(text, width: width)
                for l in lines {
                    // A wide char cannot be split: at width 1 it overflows alone.
                    let w = TextWidth.displayWidth(of: l)
                    XCTAssertTrue(w <= width || (width == 1 && l.count == 1), "\(l.debugDescription) is \(w) > \(width)")
                }
                XCTAssertEqual(lines.joined().filter { $0 != " " }, text.filter { $0 != " " },
                               "wrapping lost or reordered text at width \(width)")
                for l in lines { XCTAssertFalse(l.hasSuffix(" "), "trailing space in \(l.debugDescription)") }
            }
        }
    }

    func testWrapBreaksAtSpacesWhenPossible() {
        XCTAssertEqual(TextWidth.wrap("aaa bbb ccc", width: 7), ["aaa bbb", "ccc"])
        XCTAssertEqual(TextWidth.wrap("aaa bbbbbbbbbb", width: 5), ["aaa", "bbbbb", "bbbbb"])
        XCTAssertEqual(TextWidth.wrap("日本語", width: 3), ["日", "本", "語"], "a wide char never straddles the edge")
        XCTAssertEqual(TextWidth.wrap("e\u{301}e\u{301}e\u{301}e\u{301}", width: 2), ["e\u{301}e\u{301}", "e\u{301}e\u{301}"],
                       "combining marks stay with their base")
        XCTAssertEqual(TextWidth.wrap("one\n\ntwo", width: 10), ["one", "", "two"], "paragraphs and blank lines survive")
        XCTAssertEqual(TextWidth.wrap("", width: 10), [""])
    }

    func testLongPastedLine() {
        let blob = String(repeating: "0123456789", count: 1024)  // 10 KB, no spaces
        let start = Date()
        let lines = TextWidth.wrap(blob, width: 53)
        XCTAssertEqual(lines.count, (10240 + 52) / 53)
        XCTAssertEqual(lines.joined(), blob)
        XCTAssertLessThan(Date().timeIntervalSince(start), 2.0, "wrapping 10 KB must be fast")
        var editor = LineEditor()
        editor.insert(blob)
        XCTAssertEqual(editor.characters.count, 10240)
        let view = editor.viewport(width: 40)
        XCTAssertEqual(view.cursorColumn, 39, "cursor stays visible at the right edge")
        XCTAssertTrue(blob.hasSuffix(view.text))
    }

    func testSanitizeControlCharacters() {
        XCTAssertEqual(TextWidth.sanitize("\u{1B}[31mred\u{1B}[0m"), "^[[31mred^[[0m")
        XCTAssertEqual(TextWidth.sanitize("a\u{7}b\u{0}c"), "a^Gb^@c")
        XCTAssertEqual(TextWidth.sanitize("del\u{7F}"), "del^?")
        XCTAssertEqual(TextWidth.sanitize("csi\u{9B}31m"), "csi\u{FFFD}31m", "8-bit CSI is neutralised")
        XCTAssertEqual(TextWidth.sanitize("rtl\u{202E}txt"), "rtl\u{FFFD}txt", "bidi override is neutralised")
        XCTAssertEqual(TextWidth.sanitize("a\r\nb\rc\nd", keepNewlines: true), "a\nb\nc\nd")
        XCTAssertEqual(TextWidth.sanitize("a\r\nb\nc"), "a b c")
        XCTAssertEqual(TextWidth.sanitize("t\tx"), "t    x")
        XCTAssertEqual(TextWidth.sanitize("日本 e\u{301} ok"), "日本 e\u{301} ok", "printable text is untouched")
        // Property: nothing in C0, DEL or C1 survives, whatever the input.
        var all = ""
        for v in 0..<0x100 { all.unicodeScalars.append(Unicode.Scalar(UInt8(v))) }
        for keep in [false, true] {
            for s in TextWidth.sanitize(all + all, keepNewlines: keep).unicodeScalars {
                let v = s.value
                if keep && v == 0x0A { continue }
                XCTAssertFalse(v < 0x20 || (0x7F..<0xA0).contains(v), "control U+\(String(v, radix: 16)) leaked")
            }
        }
    }

    func testTruncation() {
        XCTAssertEqual(TextWidth.truncate("abcdef", width: 6), "abcdef")
        XCTAssertEqual(TextWidth.truncate("abcdefg", width: 6), "abcde…")
        XCTAssertEqual(TextWidth.truncate("日本語テキスト", width: 6), "日本…", "never cuts a wide char in half")
        XCTAssertEqual(TextWidth.truncate("abc", width: 0), "")
        XCTAssertEqual(TextWidth.truncate("abcdef", width: 5, ellipsis: "..."), "ab...")
        let path = "/home/user/Pictures/2024/holiday/beach-sunset.jpg"
        XCTAssertEqual(TextWidth.truncateLeft(path, width: 200), path)
        let short = TextWidth.truncateLeft(path, width: 20)
        XCTAssertEqual(short, "…ay/beach-sunset.jpg")
        XCTAssertEqual(TextWidth.displayWidth(of: short), 20)
        XCTAssertEqual(TextWidth.truncateLeft("写真/東京タワー.jpg", width: 9), "…ワー.jpg", "wide chars at the cut")
        XCTAssertEqual(TextWidth.pad("ab", width: 4), "ab  ")
    }
}
