/// A single-line text editor with a cursor and a history of sent lines (the input line
/// of the chat, and the gallery's search field). Text is kept as grapheme clusters so the
/// cursor never lands inside one.
public struct LineEditor: Sendable, Equatable {
    /// Refuse to grow beyond this many characters: a runaway paste must not eat memory.
    public static let maximumLength = 65_536

    public private(set) var characters: [Character] = []
    /// Cursor position in `characters` (0...count).
    public private(set) var cursor: Int = 0
    /// Previously sent lines, oldest first.
    public private(set) var history: [String] = []
    /// Index into `history` while browsing with ↑/↓; nil when editing a fresh line.
    private var historyIndex: Int? = nil
    /// The unsent line saved when history browsing started, restored by ↓ past the end.
    private var draft: [Character] = []

    public init(text: String = "", history: [String] = []) {
        self.characters = Array(text)
        self.cursor = characters.count
        self.history = history
    }

    public var text: String { String(characters) }
    public var isEmpty: Bool { characters.isEmpty }

    /// Inserts typed or pasted text at the cursor. A combining mark typed on its own joins
    /// the character before the cursor, as it would in a String.
    public mutating func insert(_ string: String) {
        for ch in string {
            if characters.count >= Self.maximumLength { return }
            if cursor > 0, let first = ch.unicodeScalars.first, TextWidth.displayWidth(of: first) == 0,
               first.properties.generalCategory != .format {
                let merged = String(characters[cursor - 1]) + String(ch)
                if merged.count == 1 {
                    characters[cursor - 1] = Character(merged)
                    continue
                }
            }
            characters.insert(ch, at: cursor)
            cursor += 1
        }
        historyIndex = nil
    }

    public mutating func moveLeft() { cursor = max(0, cursor - 1) }
    public mutating func moveRight() { cursor = min(characters.count, cursor + 1) }
    public mutating func moveHome() { cursor = 0 }
    public mutating func moveEnd() { cursor = characters.count }

    /// Deletes the character before the cursor.
    public mutating func backspace() {
        guard cursor > 0 else { return }
        characters.remove(at: cursor - 1)
        cursor -= 1
    }

    /// Deletes the character under the cursor.
    public mutating func deleteForward() {
        guard cursor < characters.count else { return }
        characters.remove(at: cursor)
    }

    /// Ctrl-U: deletes everything before the cursor (readline's unix-line-discard).
    public mutating func killToStart() {
        characters.removeFirst(cursor)
        cursor = 0
    }

    /// ↑: the previous history entry (the current line is kept as a draft).
    public mutating func historyPrevious() {
        guard !history.isEmpty else { return }
        let next: Int
        if let i = historyIndex { next = max(0, i - 1) } else { draft = characters; next = history.count - 1 }
        historyIndex = next
        characters = Array(history[next])
        cursor = characters.count
    }

    /// ↓: the next history entry, or back to the draft after the newest one.
    public mutating func historyNext() {
        guard let i = historyIndex else { return }
        if i + 1 < history.count {
            historyIndex = i + 1
            characters = Array(history[i + 1])
        } else {
            historyIndex = nil
            characters = draft
        }
        cursor = characters.count
    }

    /// Enter: returns the line, records it in history (no consecutive duplicates) and clears.
    public mutating func submit() -> String {
        let line = text
        if !line.isEmpty && history.last != line { history.append(line) }
        characters = []
        cursor = 0
        historyIndex = nil
        draft = []
        return line
    }

    /// Clears the line without recording it.
    public mutating func clear() {
        characters = []
        cursor = 0
        historyIndex = nil
    }

    /// The part of the line to show in `width` columns and the cursor's column in it. The
    /// view scrolls horizontally so the cursor stays visible (long pasted lines).
    public func viewport(width: Int) -> (text: String, cursorColumn: Int) {
        let width = max(1, width)
        let widths = characters.map { TextWidth.displayWidth(of: $0) }
        // Start as far left as possible while the cursor (plus one cell for it) still fits.
        var start = 0
        var before = widths[0..<cursor].reduce(0, +)
        while before + 1 > width && start < cursor {
            before -= widths[start]
            start += 1
        }
        var out = ""
        var used = 0
        var i = start
        while i < characters.count && used + widths[i] <= width {
            out.append(characters[i]); used += widths[i]; i += 1
        }
        return (out, before)
    }
}
