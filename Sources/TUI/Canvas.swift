/// One screen cell: a grapheme cluster (empty for the right half of a wide character)
/// and its style.
public struct Cell: Sendable, Equatable {
    public var text: String
    public var style: CellStyle
    public init(text: String = " ", style: CellStyle = .plain) { self.text = text; self.style = style }
    /// True for the second column of a wide character (nothing is drawn there).
    public var isContinuation: Bool { text.isEmpty }
}

/// An off-screen grid the views draw into. The ncurses renderer copies it to the terminal;
/// tests read it as text. Everything written is sanitised and clipped here, so nothing a
/// chat partner, caption or file name contains can reach the terminal raw.
public struct Canvas: Sendable {
    public let width: Int
    public let height: Int
    /// Without a UTF-8 locale: only ASCII is drawn (others are transliterated or `?`).
    public let asciiOnly: Bool
    public private(set) var cells: [Cell]
    /// Where the terminal cursor should be (nil: hidden).
    public var cursor: (x: Int, y: Int)? = nil

    public init(width: Int, height: Int, asciiOnly: Bool = false) {
        self.width = max(0, width)
        self.height = max(0, height)
        self.asciiOnly = asciiOnly
        self.cells = Array(repeating: Cell(), count: self.width * self.height)
    }

    public subscript(x: Int, y: Int) -> Cell {
        get { cells[y * width + x] }
        set { cells[y * width + x] = newValue }
    }

    /// Box-drawing and punctuation we use, as ASCII.
    private static let asciiFallback: [Character: String] = [
        "…": "...", "×": "x", "█": "#", "▀": " ", "─": "-", "│": "|", "▸": ">", "•": "*",
        "↑": "^", "↓": "v", "←": "<", "→": ">", "·": ".", "␣": "_", "▏": "|", "░": ".",
    ]

    /// Text of row `y` (continuation cells skipped), for tests and debugging.
    public func row(_ y: Int) -> String {
        var s = ""
        for x in 0..<width { let c = self[x, y]; if !c.isContinuation { s += c.text } }
        return s
    }

    /// All rows joined with newlines.
    public var text: String { (0..<height).map { row($0) }.joined(separator: "\n") }

    /// Fills a rectangle with spaces of `style`.
    public mutating func fill(_ r: Rect, style: CellStyle = .plain, with ch: String = " ") {
        let x0 = max(0, r.x), y0 = max(0, r.y), x1 = min(width, r.maxX), y1 = min(height, r.maxY)
        guard x0 < x1, y0 < y1 else { return }
        for y in y0..<y1 {
            if self[x0, y].isContinuation && x0 > 0 { self[x0 - 1, y].text = " " }
            if x1 < width && self[x1, y].isContinuation { self[x1, y].text = " " }
            for x in x0..<x1 { self[x, y] = Cell(text: ch, style: style) }
        }
    }

    /// Writes `text` at (x, y), clipped to `maxWidth` columns and to the canvas, and
    /// returns the number of columns used. Text is sanitised (single line). Zero-width
    /// clusters (lone combining marks) join the previous cell; a wide character that would
    /// be cut at the edge becomes a space.
    @discardableResult
    public mutating func put(_ text: String, x: Int, y: Int, maxWidth: Int? = nil, style: CellStyle = .plain) -> Int {
        guard y >= 0, y < height, x < width else { return 0 }
        let limit = min(width, x + (maxWidth ?? width))
        var col = x
        for ch in TextWidth.sanitize(text) {
            var glyph = String(ch)
            var w = TextWidth.displayWidth(of: ch)
            if asciiOnly && !(ch.isASCII) {
                glyph = Self.asciiFallback[ch] ?? (w == 0 ? "" : "?")
                w = glyph.count
                if w > 1 {  // multi-character fallback: write each
                    for sub in glyph {
                        if col >= limit { return col - x }
                        if col >= 0 { place(String(sub), width: 1, x: col, y: y, style: style) }
                        col += 1
                    }
                    continue
                }
            }
            if w == 0 {
                // Attach to the previous visible cell (ncurses keeps up to 5 code points).
                if col - 1 >= 0, col - 1 < width, col - 1 >= x {
                    var prev = col - 1
                    if self[prev, y].isContinuation && prev > 0 { prev -= 1 }
                    if self[prev, y].text.unicodeScalars.count < 5 && !glyph.isEmpty {
                        self[prev, y].text += glyph
                    }
                }
                continue
            }
            if col + w > limit {
                if w == 2 && col < limit && col >= 0 { place(" ", width: 1, x: col, y: y, style: style); col += 1 }
                break
            }
            if col >= 0 { place(glyph, width: w, x: col, y: y, style: style) }
            col += w
        }
        return col - x
    }

    /// Stores one glyph, repairing any wide character it partly overwrites.
    private mutating func place(_ glyph: String, width w: Int, x: Int, y: Int, style: CellStyle) {
        if self[x, y].isContinuation && x > 0 { self[x - 1, y].text = " " }
        let end = x + w  // first column after the glyph
        if end < width && self[end, y].isContinuation { self[end, y].text = " " }
        self[x, y] = Cell(text: glyph, style: style)
        if w == 2 && x + 1 < width { self[x + 1, y] = Cell(text: "", style: style) }
    }

    /// Writes `text` padded with spaces to exactly `width` columns (a full row of a pane).
    public mutating func putPadded(_ text: String, x: Int, y: Int, width w: Int, style: CellStyle = .plain) {
        let used = put(text, x: x, y: y, maxWidth: w, style: style)
        if used < w { fill(Rect(x: x + used, y: y, width: w - used, height: 1), style: style) }
    }

    /// Ellipsis suited to the drawing mode.
    public var ellipsis: String { asciiOnly ? "..." : "…" }
}
