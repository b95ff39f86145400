import Engine
import Foundation

/// What the terminal can draw, as far as the view cares.
public struct RenderOptions: Sendable, Equatable {
    /// No UTF-8 locale: ASCII only (`#` bars, plain colour spaces for thumbnails).
    public var asciiOnly: Bool
    /// False under NO_COLOR or on monochrome terminals (thumbnails cannot be shown).
    public var colors: Bool
    public init(asciiOnly: Bool = false, colors: Bool = true) { self.asciiOnly = asciiOnly; self.colors = colors }
}

/// A thumbnail the view wanted but the cache did not have yet.
public struct ThumbnailRequest: Sendable, Hashable {
    public var path: String
    public var width: Int
    public var height: Int
}

/// Facts from drawing that the application feeds back into the state.
public struct RenderInfo: Sendable, Equatable {
    /// Largest useful `chatScroll` for this size.
    public var chatMaxScroll = 0
    /// Rows of the chat pane (PgUp/PgDn step).
    public var chatRows = 0
    public var thumbnailRequests: [ThumbnailRequest] = []
}

/// Draws a `TUIState` into a `Canvas` for a given size. Pure: thumbnails come from the
/// `thumbnail` lookup (nil = not computed yet, reported back as a request).
public struct View {
    public var options: RenderOptions
    public var thumbnail: (String, Int, Int) -> ThumbnailCache.Entry?

    public init(options: RenderOptions = RenderOptions(),
                thumbnail: @escaping (String, Int, Int) -> ThumbnailCache.Entry? = { _, _, _ in nil }) {
        self.options = options
        self.thumbnail = thumbnail
    }

    // MARK: styles

    static func speakerColor(_ speaker: String) -> TermColor {
        switch speaker {
        case "A": return .ansi(6)
        case "B": return .ansi(3)
        default: return .ansi(5)
        }
    }
    private let dim = CellStyle(dim: true)
    private let bold = CellStyle(bold: true)
    private let rule = CellStyle(fg: .ansi(4))
    private var ellipsis: String { options.asciiOnly ? "..." : "…" }
    private var hLine: String { options.asciiOnly ? "-" : "─" }

    /// Renders the whole screen.
    public func render(_ state: TUIState, width: Int, height: Int) -> (Canvas, RenderInfo) {
        var canvas = Canvas(width: width, height: height, asciiOnly: options.asciiOnly)
        var info = RenderInfo()
        switch Layout.compute(width: width, height: height) {
        case .tooSmall(let message):
            if height > 0 { canvas.put(TextWidth.truncate(message, width: width, ellipsis: ellipsis), x: 0, y: 0, maxWidth: width) }
        case .full(let p):
            drawChat(state, p, &canvas, &info)
            drawInput(state, p, &canvas)
            canvas.fill(p.divider, style: rule, with: options.asciiOnly ? "|" : "│")
            if state.focus == .inspector || state.focus == .help && state.returnFocus == .inspector {
                drawInspector(state, p, &canvas)
            } else {
                drawTabs(state, p, &canvas)
                drawResults(state, p, &canvas)
            }
            drawThumbnailPane(path: state.thumbnailPath, ruleRect: p.thumbnailRule, area: p.thumbnail, &canvas, &info)
            if state.focus == .gallery || state.focus == .help && state.returnFocus == .gallery {
                drawGallery(state, p.main, &canvas, &info)
            }
            drawStatus(state, p.status, &canvas)
            if state.focus == .help { drawHelp(p.main, &canvas) }
        }
        return (canvas, info)
    }

    // MARK: chat

    struct Segment { var text: String; var style: CellStyle }

    /// Wrapped chat lines, oldest first. Each turn: "A: text" with a hanging indent.
    func chatLines(_ state: TUIState, width: Int) -> [[Segment]] {
        var lines: [[Segment]] = []
        for turn in state.turns {
            let name = TextWidth.truncate(TextWidth.sanitize(turn.speaker), width: 8, ellipsis: ellipsis)
            let prefix = name + ": "
            let indent = TextWidth.displayWidth(of: prefix)
            let bodyWidth = max(1, width - indent)
            let nameStyle = CellStyle(fg: Self.speakerColor(turn.speaker), bold: true)
            var body: [String] = []
            if let image = turn.imagePath {
                let label = options.asciiOnly ? "[photo] " : "[photo] "
                body.append(label + TextWidth.truncateLeft(TextWidth.sanitize(image), width: max(1, bodyWidth - 8), ellipsis: ellipsis))
            }
            if !turn.text.isEmpty || turn.imagePath == nil {
                body += TextWidth.wrap(TextWidth.sanitize(turn.text, keepNewlines: true), width: bodyWidth)
            }
            for (i, line) in body.enumerated() {
                let head = i == 0 ? Segment(text: prefix, style: nameStyle)
                    : Segment(text: String(repeating: " ", count: indent), style: .plain)
                let bodyStyle = turn.imagePath != nil && i == 0 ? CellStyle(fg: .ansi(2)) : CellStyle(fg: Self.speakerColor(turn.speaker))
                lines.append([head, Segment(text: line, style: bodyStyle)])
            }
        }
        return lines
    }

    private func drawChat(_ state: TUIState, _ p: Layout.Panes, _ c: inout Canvas, _ info: inout RenderInfo) {
        let lines = chatLines(state, width: p.chat.width)
        let rows = p.chat.height
        let maxScroll = max(0, lines.count - rows)
        let scroll = min(max(0, state.chatScroll), maxScroll)
        info.chatMaxScroll = maxScroll
        info.chatRows = rows
        var header = " Chat"
        if scroll > 0 { header += "  (\(scroll) lines up, PgDn)" }
        c.putPadded(header, x: p.chatHeader.x, y: p.chatHeader.y, width: p.chatHeader.width,
                    style: CellStyle(bold: true, underline: state.focus == .input))
        if lines.isEmpty {
            let hint = "Type a message and press Enter. Tab moves to the results, F1 shows help."
            for (i, l) in TextWidth.wrap(hint, width: p.chat.width).prefix(rows).enumerated() {
                c.put(l, x: p.chat.x, y: p.chat.y + i, maxWidth: p.chat.width, style: dim)
            }
            return
        }
        let end = lines.count - scroll
        let start = max(0, end - rows)
        for (row, i) in (start..<end).enumerated() {
            var x = p.chat.x
            for seg in lines[i] {
                x += c.put(seg.text, x: x, y: p.chat.y + row, maxWidth: p.chat.maxX - x, style: seg.style)
            }
        }
    }

    private func drawInput(_ state: TUIState, _ p: Layout.Panes, _ c: inout Canvas) {
        c.fill(p.inputRule, style: rule, with: hLine)
        let focused = state.focus == .input
        let prompt = "> "
        c.put(prompt, x: p.input.x, y: p.input.y, style: CellStyle(fg: .ansi(6), bold: focused))
        let fieldWidth = p.input.width - 2
        let view = state.input.viewport(width: fieldWidth)
        c.put(view.text, x: p.input.x + 2, y: p.input.y, maxWidth: fieldWidth, style: focused ? .plain : dim)
        if focused { c.cursor = (p.input.x + 2 + min(view.cursorColumn, fieldWidth - 1), p.input.y) }
    }

    // MARK: results

    private func drawTabs(_ state: TUIState, _ p: Layout.Panes, _ c: inout Canvas) {
        c.fill(p.tabs)
        var x = p.tabs.x + 1
        for (tab, name) in [(ResultsTab.photos, "Photos"), (.replies, "Replies")] {
            let n = tab == .photos ? state.photos.count : state.replies.count
            let label = " \(name)\(n > 0 ? " (\(n))" : "") "
            let active = state.tab == tab
            let style = active ? CellStyle(bold: true, reverse: state.focus == .results, underline: state.focus != .results) : dim
            x += c.put(label, x: x, y: p.tabs.y, maxWidth: p.tabs.maxX - x, style: style)
            x += 1
        }
        if state.retrieving || !state.engineReady {
            let busy = state.engineReady ? "retrieving\(ellipsis)" : "loading model\(ellipsis)"
            let w = TextWidth.displayWidth(of: busy)
            if p.tabs.maxX - w - 1 > x { c.put(busy, x: p.tabs.maxX - w - 1, y: p.tabs.y, style: CellStyle(fg: .ansi(3), bold: true)) }
        }
    }

    /// Fixed width (6 columns, sign included) so result rows line up.
    static func formatScore(_ s: Float) -> String { String(format: "%6.3f", Double(s)) }

    private func drawResults(_ state: TUIState, _ p: Layout.Panes, _ c: inout Canvas) {
        let r = p.results
        c.fill(r)
        let hits = state.tab == .photos ? state.photos : state.replies
        guard !hits.isEmpty else {
            let msg: String
            if state.retrieving { msg = "retrieving\(ellipsis)" }
            else if state.result == nil { msg = "No results yet: send a turn." }
            else { msg = state.tab == .photos ? "No photos." : "No replies." }
            c.put(" " + msg, x: r.x, y: r.y, maxWidth: r.width, style: dim)
            return
        }
        let selection = state.tab == .photos ? state.photoSelection : state.replySelection
        let perItem = 2
        let visible = max(1, r.height / perItem)
        let offset = max(0, min(selection - visible + 1, hits.count - visible))
        for (slot, i) in (offset..<min(hits.count, offset + visible)).enumerated() {
            let hit = hits[i]
            let y = r.y + slot * perItem
            let selected = i == selection
            let base: CellStyle = selected ? (state.focus == .results ? CellStyle(reverse: true) : CellStyle(bold: true)) : .plain
            let marked = hit.path.map { state.marks.contains($0) } ?? false
            let head = "\(marked ? "*" : " ")\(String(hit.rank).leftPad(2)) \(Self.formatScore(hit.score)) "
            let headWidth = TextWidth.displayWidth(of: head)
            let room = r.width - headWidth
            var second: String
            let first: String
            if state.tab == .photos {
                first = TextWidth.truncateLeft(TextWidth.sanitize(hit.path ?? hit.text), width: room, ellipsis: ellipsis)
                second = TextWidth.sanitize(hit.text)
            } else {
                let wrapped = TextWidth.wrap(TextWidth.sanitize(hit.text), width: max(1, room))
                first = wrapped.first ?? ""
                second = wrapped.dropFirst().joined(separator: " ")
            }
            second = TextWidth.truncate(second, width: room, ellipsis: ellipsis)
            c.putPadded(head, x: r.x, y: y, width: headWidth, style: marked ? CellStyle(fg: .ansi(2), bold: true, reverse: base.reverse) : base)
            c.putPadded(first, x: r.x + headWidth, y: y, width: room, style: base)
            if slot * perItem + 1 < r.height {
                c.putPadded(String(repeating: " ", count: headWidth), x: r.x, y: y + 1, width: headWidth, style: base)
                c.putPadded(second, x: r.x + headWidth, y: y + 1, width: room,
                            style: selected ? base : CellStyle(fg: state.tab == .photos ? .ansi(2) : .default))
            }
        }
    }

    // MARK: thumbnail

    private func drawThumbnailPane(path: String?, ruleRect: Rect, area: Rect, _ c: inout Canvas, _ info: inout RenderInfo) {
        c.fill(ruleRect, style: rule, with: hLine)
        c.fill(area)
        guard let path else { return }
        let name = TextWidth.truncateLeft(TextWidth.sanitize((path as NSString).lastPathComponent), width: max(1, ruleRect.width - 4), ellipsis: ellipsis)
        c.put(" \(name) ", x: ruleRect.x + 1, y: ruleRect.y, maxWidth: ruleRect.width - 1, style: CellStyle(bold: true))
        drawThumbnail(path: path, area: area, &c, &info)
    }

    private func drawThumbnail(path: String, area: Rect, _ c: inout Canvas, _ info: inout RenderInfo) {
        guard !area.isEmpty else { return }
        guard options.colors else {
            c.put("(no preview without colours)", x: area.x + 1, y: area.y, maxWidth: area.width - 1, style: dim)
            return
        }
        let px = HalfBlock.pixelSize(columns: area.width, rows: area.height)
        switch thumbnail(path, px.width, px.height) {
        case nil:
            info.thumbnailRequests.append(ThumbnailRequest(path: path, width: px.width, height: px.height))
            c.put("loading preview\(ellipsis)", x: area.x + 1, y: area.y, maxWidth: area.width - 1, style: dim)
        case .pending:
            c.put("loading preview\(ellipsis)", x: area.x + 1, y: area.y, maxWidth: area.width - 1, style: dim)
        case .failed:
            c.put("(no preview)", x: area.x + 1, y: area.y, maxWidth: area.width - 1, style: dim)
        case .ready(let image):
            let cells = HalfBlock.cells(for: image)
            let cols = min(area.width, image.width)
            let x0 = area.x + (area.width - cols) / 2
            for (ry, row) in cells.prefix(area.height).enumerated() {
                for (rx, cell) in row.prefix(cols).enumerated() {
                    if options.asciiOnly {
                        let colour = cell.bottom.map { RGB.mean(cell.top, $0) } ?? cell.top
                        c[x0 + rx, area.y + ry] = Cell(text: " ", style: CellStyle(bg: .rgb(colour)))
                    } else {
                        c[x0 + rx, area.y + ry] = Cell(text: HalfBlock.glyph,
                                                       style: CellStyle(fg: .rgb(cell.top), bg: cell.bottom.map { .rgb($0) } ?? .default))
                    }
                }
            }
        }
    }

    // MARK: inspector

    private func drawInspector(_ state: TUIState, _ p: Layout.Panes, _ c: inout Canvas) {
        let area = Rect(x: p.tabs.x, y: p.tabs.y, width: p.tabs.width, height: p.results.maxY - p.tabs.y)
        c.fill(area)
        var y = area.y
        func line(_ s: String, _ style: CellStyle = .plain) {
            guard y < area.maxY else { return }
            c.putPadded(" " + s, x: area.x, y: y, width: area.width, style: style)
            y += 1
        }
        switch state.inspector {
        case .closed:
            line("Attributes", CellStyle(bold: true, reverse: true))
        case .loading(let path):
            line("Attributes: \((path as NSString).lastPathComponent)", CellStyle(bold: true, reverse: true))
            line("explaining\(ellipsis)", dim)
        case .failed(let path, let message):
            line("Attributes: \((path as NSString).lastPathComponent)", CellStyle(bold: true, reverse: true))
            for l in TextWidth.wrap(TextWidth.sanitize(message), width: area.width - 2) { line(l, CellStyle(fg: .ansi(1))) }
        case .loaded(let e):
            line("Attributes: \((e.image as NSString).lastPathComponent)", CellStyle(bold: true, reverse: true))
            line("text: " + TextWidth.truncate(TextWidth.sanitize(e.text), width: area.width - 8, ellipsis: ellipsis), dim)
            line(String(format: "global %.3f  final %.3f  beta %.2f", Double(e.globalScore), Double(e.finalScore), Double(e.beta)))
            if let note = e.note { line(TextWidth.truncate(TextWidth.sanitize(note), width: area.width - 2, ellipsis: ellipsis), dim) }
            guard !e.phrases.isEmpty else { line("(no attribute phrases)", dim); return }
            let maxWeight = max(e.phrases.map(\.weight).max() ?? 0, 1e-6)
            let phraseWidth = min(18, max(6, e.phrases.map { TextWidth.displayWidth(of: TextWidth.sanitize($0.phrase)) }.max() ?? 6))
            let full = "img/blank"
            let inner = area.width - 2
            let showParts = inner - phraseWidth - 1 - 5 - 12 >= 8
            let barWidth = max(1, inner - phraseWidth - 1 - 5 - (showParts ? 12 : 0) - 1)
            if showParts {
                line(TextWidth.pad("phrase", width: phraseWidth) + " " + TextWidth.pad("weight", width: barWidth) + "     w" + "   " + full, dim)
            }
            for ph in e.phrases {
                let name = TextWidth.pad(TextWidth.sanitize(ph.phrase), width: phraseWidth, ellipsis: ellipsis)
                let filled = max(0, min(barWidth, Int((Double(ph.weight / maxWeight) * Double(barWidth)).rounded())))
                let bar = String(repeating: options.asciiOnly ? "#" : "█", count: filled)
                    + String(repeating: options.asciiOnly ? "-" : "░", count: barWidth - filled)
                guard y < area.maxY else { break }
                var x = area.x + 1
                x += c.put(name + " ", x: x, y: y, maxWidth: area.maxX - x)
                x += c.put(bar, x: x, y: y, maxWidth: area.maxX - x, style: CellStyle(fg: .ansi(2)))
                var tail = String(format: " %.2f", Double(ph.weight))
                if showParts { tail += String(format: " %5.2f/%5.2f", Double(ph.sImage), Double(ph.sBlank)) }
                c.put(tail, x: x, y: y, maxWidth: area.maxX - x)
                y += 1
            }
        }
    }

    // MARK: gallery

    private func drawGallery(_ state: TUIState, _ area: Rect, _ c: inout Canvas, _ info: inout RenderInfo) {
        c.fill(area)
        let g = state.gallery
        let listWidth = max(20, area.width * 45 / 100)
        let filtered = g.filteredIndices
        var header = " Gallery"
        if let entries = g.entries { header += "  \(filtered.count)/\(entries.count)" }
        header += "  category: \(g.currentCategory ?? "all") (c)"
        c.putPadded(header, x: area.x, y: area.y, width: area.width, style: CellStyle(bold: true, reverse: true))
        let searchLabel = " / search: "
        let sx = area.x + c.put(searchLabel, x: area.x, y: area.y + 1, maxWidth: listWidth, style: g.editingSearch ? bold : dim)
        let view = g.search.viewport(width: max(1, listWidth - (sx - area.x) - 1))
        c.put(view.text, x: sx, y: area.y + 1, maxWidth: area.x + listWidth - sx)
        if g.editingSearch { c.cursor = (min(area.x + listWidth - 1, sx + view.cursorColumn), area.y + 1) }
        let listTop = area.y + 2
        let rows = area.maxY - listTop
        c.fill(Rect(x: area.x + listWidth, y: area.y + 1, width: 1, height: area.height - 1), style: rule, with: options.asciiOnly ? "|" : "│")
        guard let entries = g.entries else {
            let msg = g.loadError.map { "gallery unavailable: \($0)" } ?? "loading gallery\(ellipsis)"
            c.put(" " + msg, x: area.x, y: listTop, maxWidth: listWidth, style: g.loadError == nil ? dim : CellStyle(fg: .ansi(1)))
            return
        }
        if filtered.isEmpty {
            c.put(" no photo matches", x: area.x, y: listTop, maxWidth: listWidth, style: dim)
        }
        let selection = min(max(0, g.selection), max(0, filtered.count - 1))
        let offset = max(0, min(selection - rows + 1, filtered.count - rows))
        for (slot, fi) in (offset..<min(filtered.count, offset + max(0, rows))).enumerated() {
            let e = entries[filtered[fi]]
            let marked = state.marks.contains(e.path)
            let selected = fi == selection
            let cat = e.category.map { " [\($0)]" } ?? ""
            let name = (e.path as NSString).lastPathComponent
            let text = "\(marked ? "*" : " ") " + TextWidth.truncateLeft(TextWidth.sanitize(name), width: max(1, listWidth - 3 - TextWidth.displayWidth(of: cat)), ellipsis: ellipsis) + cat
            c.putPadded(text, x: area.x, y: listTop + slot, width: listWidth,
                        style: selected ? CellStyle(reverse: true) : (marked ? CellStyle(fg: .ansi(2), bold: true) : .plain))
        }
        // Right side: thumbnail, then caption and path.
        let rx = area.x + listWidth + 1
        let rw = area.maxX - rx
        guard rw > 4, let entry = g.selectedEntry else { return }
        let captionLines = TextWidth.wrap(TextWidth.sanitize(entry.caption), width: rw - 1)
        let textRows = min(captionLines.count, 4) + 1
        let thumbRows = max(0, area.maxY - (area.y + 1) - textRows - 1)
        drawThumbnail(path: entry.path, area: Rect(x: rx, y: area.y + 1, width: rw, height: thumbRows), &c, &info)
        var y = area.y + 1 + thumbRows + 1
        for l in captionLines.prefix(4) where y < area.maxY { c.put(" " + l, x: rx, y: y, maxWidth: rw); y += 1 }
        if y < area.maxY {
            c.put(" " + TextWidth.truncateLeft(TextWidth.sanitize(entry.path), width: rw - 1, ellipsis: ellipsis), x: rx, y: y, maxWidth: rw, style: dim)
        }
    }

    // MARK: help and status

    static let helpLines: [String] = [
        "dialclip keys",
        "",
        "Input line",
        "  Enter send turn    Up/Down history    Left/Right Home End",
        "  Backspace Delete   Ctrl-U clear       PgUp/PgDn scroll chat",
        "  Tab or Esc: results                   F1: this help",
        "Results (Photos / Replies)",
        "  Up/Down select     Left/Right or Tab switch tab",
        "  a attributes       g gallery          o open photo",
        "  Space mark         i, Enter or Esc: input     q quit",
        "Gallery",
        "  Up/Down select     c category         / search captions",
        "  Enter share photo into the chat       Esc back",
        "Anywhere: Ctrl-C quits; marked paths print to stdout.",
        "",
        "Press any key to close.",
    ]

    private func drawHelp(_ area: Rect, _ c: inout Canvas) {
        let w = min(area.width - 2, (Self.helpLines.map { TextWidth.displayWidth(of: $0) }.max() ?? 20) + 4)
        let h = min(area.height - 2, Self.helpLines.count + 2)
        let box = Rect(x: area.x + (area.width - w) / 2, y: area.y + (area.height - h) / 2, width: w, height: h)
        let border = CellStyle(fg: .ansi(6), bold: true)
        c.fill(box, style: CellStyle(reverse: false))
        c.fill(Rect(x: box.x, y: box.y, width: box.width, height: 1), style: border, with: hLine)
        c.fill(Rect(x: box.x, y: box.maxY - 1, width: box.width, height: 1), style: border, with: hLine)
        let side = options.asciiOnly ? "|" : "│"
        c.fill(Rect(x: box.x, y: box.y + 1, width: 1, height: box.height - 2), style: border, with: side)
        c.fill(Rect(x: box.maxX - 1, y: box.y + 1, width: 1, height: box.height - 2), style: border, with: side)
        for (i, l) in Self.helpLines.prefix(box.height - 2).enumerated() {
            c.put(l, x: box.x + 2, y: box.y + 1 + i, maxWidth: box.width - 3, style: i == 0 ? bold : .plain)
        }
    }

    static func focusHint(_ focus: Focus) -> String {
        switch focus {
        case .input: return "Enter send · Tab results · F1 help · Ctrl-C quit"
        case .results: return "↑↓ select · ←→ tab · a attrs · g gallery · o open · ␣ mark · i input · q quit"
        case .gallery: return "↑↓ select · c category · / search · Enter share · ␣ mark · Esc back"
        case .inspector: return "Esc back · i input · Ctrl-C quit"
        case .help: return "any key closes help"
        }
    }

    /// The status bar text (before truncation).
    func statusText(_ state: TUIState) -> String {
        var parts: [String] = []
        parts.append("model: " + (state.modelName.isEmpty ? "?" : TextWidth.sanitize(state.modelName)))
        if let u = state.galleryUpdate {
            switch u.phase {
            case .scanning: parts.append("scanning \(u.found) photos\(ellipsis)")
            default: parts.append("indexing \(u.done)/\(u.total)\(ellipsis)")
            }
        } else if let n = state.gallerySize { parts.append("gallery: \(n)") }
        if !state.engineReady { parts.append("loading model\(ellipsis)") }
        else if state.retrieving { parts.append("retrieving\(ellipsis)") }
        else if let r = state.result { parts.append(String(format: "%.0f ms", r.latencySeconds * 1000)) }
        if let p = state.result?.photoShareProbability { parts.append(String(format: "p(photo) %.2f", Double(p))) }
        if !state.marks.isEmpty { parts.append("marked: \(state.marks.count)") }
        let sep = options.asciiOnly ? " | " : " │ "
        let left = " " + parts.joined(separator: sep)
        let right = state.statusMessage.map { TextWidth.sanitize($0) } ?? Self.focusHint(state.focus)
        return left + sep + right
    }

    private func drawStatus(_ state: TUIState, _ r: Rect, _ c: inout Canvas) {
        let text = TextWidth.truncate(statusText(state), width: r.width, ellipsis: ellipsis)
        let style = state.statusMessage != nil ? CellStyle(fg: .ansi(3), bold: true, reverse: true) : CellStyle(reverse: true)
        c.putPadded(text, x: r.x, y: r.y, width: r.width, style: style)
    }
}

extension String {
    fileprivate func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}
