/// A rectangle of terminal cells. `x`/`y` are the top-left cell (0-based).
public struct Rect: Sendable, Equatable, CustomStringConvertible {
    public var x: Int, y: Int, width: Int, height: Int
    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x; self.y = y; self.width = width; self.height = height
    }
    public var maxX: Int { x + width }
    public var maxY: Int { y + height }
    public var isEmpty: Bool { width <= 0 || height <= 0 }
    public func contains(_ other: Rect) -> Bool {
        other.x >= x && other.y >= y && other.maxX <= maxX && other.maxY <= maxY
    }
    public func intersects(_ other: Rect) -> Bool {
        !isEmpty && !other.isEmpty && x < other.maxX && other.x < maxX && y < other.maxY && other.y < maxY
    }
    public var description: String { "(\(x),\(y) \(width)×\(height))" }
}

/// Where every pane goes for one terminal size (DESIGN.md section 7). Computed by a pure
/// function so resizes (SIGWINCH) just recompute it; the state is untouched.
public enum Layout: Sendable, Equatable {
    /// Smallest size the full layout supports.
    public static let minimumWidth = 60
    public static let minimumHeight = 16

    case full(Panes)
    /// The terminal is below the minimum: one line of explanation at the top-left.
    case tooSmall(message: String)

    /// The panes of the full layout. Header rows and separators sit between them.
    public struct Panes: Sendable, Equatable {
        public var screen: Rect
        /// Title row above the chat ("Chat").
        public var chatHeader: Rect
        public var chat: Rect
        /// Horizontal rule between chat and input.
        public var inputRule: Rect
        public var input: Rect
        /// One column between the left and right halves.
        public var divider: Rect
        /// Tab row ("Photos | Replies").
        public var tabs: Rect
        public var results: Rect
        /// Horizontal rule above the thumbnail (carries the selected photo's name).
        public var thumbnailRule: Rect
        public var thumbnail: Rect
        public var status: Rect
        /// Area the overlays (gallery browser) take: everything above the status bar.
        public var main: Rect
    }

    /// The one-line message for terminals below the minimum.
    public static func tooSmallMessage(width: Int, height: Int) -> String {
        "terminal too small (\(width)×\(height)), need \(minimumWidth)×\(minimumHeight)"
    }

    /// Computes the layout for a `width`×`height` terminal.
    public static func compute(width: Int, height: Int) -> Layout {
        guard width >= minimumWidth, height >= minimumHeight else {
            return .tooSmall(message: tooSmallMessage(width: max(0, width), height: max(0, height)))
        }
        let mainHeight = height - 1
        // Results need room for full paths: the right half gets a bit more than half.
        let leftWidth = max(28, (width - 1) * 45 / 100)
        let rightX = leftWidth + 1
        let rightWidth = width - rightX
        // Thumbnail: about 40% of the right column's height, 4...16 rows.
        let thumbHeight = min(16, max(4, (mainHeight - 2) * 2 / 5))
        let resultsHeight = mainHeight - 1 - 1 - thumbHeight
        let p = Panes(
            screen: Rect(x: 0, y: 0, width: width, height: height),
            chatHeader: Rect(x: 0, y: 0, width: leftWidth, height: 1),
            chat: Rect(x: 0, y: 1, width: leftWidth, height: mainHeight - 3),
            inputRule: Rect(x: 0, y: mainHeight - 2, width: leftWidth, height: 1),
            input: Rect(x: 0, y: mainHeight - 1, width: leftWidth, height: 1),
            divider: Rect(x: leftWidth, y: 0, width: 1, height: mainHeight),
            tabs: Rect(x: rightX, y: 0, width: rightWidth, height: 1),
            results: Rect(x: rightX, y: 1, width: rightWidth, height: resultsHeight),
            thumbnailRule: Rect(x: rightX, y: 1 + resultsHeight, width: rightWidth, height: 1),
            thumbnail: Rect(x: rightX, y: 2 + resultsHeight, width: rightWidth, height: thumbHeight),
            status: Rect(x: 0, y: height - 1, width: width, height: 1),
            main: Rect(x: 0, y: 0, width: width, height: mainHeight)
        )
        return .full(p)
    }
}
