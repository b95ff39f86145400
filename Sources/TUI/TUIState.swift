import Engine

/// Which part of the screen receives keys.
public enum Focus: Sendable, Equatable {
    case input, results, gallery, inspector, help
}

/// The two result lists.
public enum ResultsTab: Sendable, Equatable {
    case photos, replies
}

/// A key press, decoded from ncurses (see `KeyDecoder`) or made up by tests.
public enum Key: Sendable, Equatable {
    case char(Character)
    case enter, tab, backTab, escape, backspace, delete
    case left, right, up, down, home, end, pageUp, pageDown
    case f1
    /// Ctrl-C: raw mode delivers it as byte 3 instead of SIGINT.
    case ctrlC
    case ctrlU
    case ctrlL
    /// KEY_RESIZE (SIGWINCH).
    case resize
    /// Anything else (unbound control keys, unknown function keys).
    case other(Int)
}

/// What the application must do after a key (the state itself never does I/O).
public enum TUIEffect: Sendable, Equatable {
    /// A turn was added to the dialogue (append it to the session file).
    case sendTurn(DialogTurn)
    /// Run retrieval over `context` in the background; deliver the answer with
    /// `retrievalFinished(generation:result:)`.
    case retrieve(context: [DialogTurn], generation: Int)
    /// Ask the engine for DCAR's explanation; deliver with `explanationFinished`.
    case explain(text: String, imagePath: String, generation: Int)
    /// Load the gallery list; deliver with `galleryLoaded`.
    case loadGallery
    /// Open the photo with the desktop's opener.
    case openPhoto(String)
    /// Repaint everything (Ctrl-L, resize).
    case redraw
    case quit
}

/// The gallery browser's state: the entries, a category filter and a caption search.
public struct GalleryBrowserState: Sendable, Equatable {
    /// nil until loaded.
    public var entries: [GalleryEntry]? = nil
    public var loading = false
    public var loadError: String? = nil
    /// Index into `categories`; nil shows every category.
    public var categoryIndex: Int? = nil
    public var search = LineEditor()
    /// True while `/` search text is being typed.
    public var editingSearch = false
    /// Index into `filteredIndices`.
    public var selection = 0

    public init() {}

    /// Distinct categories in gallery order of first appearance... sorted for stable cycling.
    public var categories: [String] {
        Array(Set((entries ?? []).compactMap { $0.category })).sorted()
    }

    public var currentCategory: String? {
        guard let i = categoryIndex else { return nil }
        let c = categories
        return i < c.count ? c[i] : nil
    }

    /// Indices of the entries passing the category filter and the (case-insensitive)
    /// caption/path search.
    public var filteredIndices: [Int] {
        guard let entries else { return [] }
        let category = currentCategory
        let needle = search.text.lowercased()
        return entries.indices.filter { i in
            let e = entries[i]
            if let category, e.category != category { return false }
            if !needle.isEmpty && !e.caption.lowercased().contains(needle)
                && !e.path.lowercased().contains(needle) { return false }
            return true
        }
    }

    /// The selected entry after filtering.
    public var selectedEntry: GalleryEntry? {
        let f = filteredIndices
        guard let entries, !f.isEmpty else { return nil }
        return entries[f[min(max(0, selection), f.count - 1)]]
    }
}

/// The attribute inspector's state.
public enum InspectorState: Sendable, Equatable {
    case closed
    case loading(imagePath: String)
    case loaded(AttributeExplanation)
    case failed(imagePath: String, message: String)
}

/// Everything the TUI shows, and the key handling that changes it. Pure: no terminal,
/// no engine; effects tell the application what to run. This is what the unit tests drive.
public struct TUIState: Sendable {
    public var turns: [DialogTurn]
    public var input = LineEditor()
    public var focus: Focus = .input
    /// Where `?` help and the overlays return to.
    public var returnFocus: Focus = .input
    public var tab: ResultsTab = .photos
    public var result: RetrievalResult? = nil
    public var photoSelection = 0
    public var replySelection = 0
    /// Marked photo paths, in marking order; printed to stdout on exit.
    public var marks: [String] = []
    /// Chat lines scrolled back from the newest (0 follows the conversation).
    public var chatScroll = 0
    /// Rows one PgUp/PgDn moves (the renderer updates it from the layout).
    public var chatPageSize = 10
    public var retrieving = false
    public var retrievalGeneration = 0
    public var explainGeneration = 0
    public var gallery = GalleryBrowserState()
    public var inspector: InspectorState = .closed
    /// Transient message for the status bar (errors, "no opener", …).
    public var statusMessage: String? = nil
    public var modelName: String
    public var engineReady: Bool
    /// Number of gallery photos, once known.
    public var gallerySize: Int? = nil
    /// Background indexing under way (nil when idle).
    public var galleryUpdate: GalleryUpdateProgress? = nil
    public var shouldQuit = false

    /// Speaker of the user's turns.
    public static let userSpeaker = "A"

    public init(modelName: String = "", engineReady: Bool = true, turns: [DialogTurn] = []) {
        self.modelName = modelName
        self.engineReady = engineReady
        self.turns = turns
        self.input = LineEditor(history: turns.filter { $0.speaker == Self.userSpeaker && $0.imagePath == nil && !$0.text.isEmpty }.map(\.text))
    }

    // MARK: - Derived values

    public var photos: [RetrievalHit] { result?.photos ?? [] }
    public var replies: [RetrievalHit] { result?.replies ?? [] }

    public var selectedPhoto: RetrievalHit? {
        let p = photos
        return p.isEmpty ? nil : p[min(max(0, photoSelection), p.count - 1)]
    }

    public var selectedReply: RetrievalHit? {
        let r = replies
        return r.isEmpty ? nil : r[min(max(0, replySelection), r.count - 1)]
    }

    /// The photo whose thumbnail to show: the gallery's selection while browsing, else the
    /// selected photo result.
    public var thumbnailPath: String? {
        if focus == .gallery || (focus == .help && returnFocus == .gallery) { return gallery.selectedEntry?.path }
        if case .loaded(let e) = inspector, focus == .inspector { return e.image }
        return selectedPhoto?.path
    }

    /// Text of the newest user turn that has text (what the inspector explains).
    public var lastUserText: String? {
        turns.last(where: { $0.speaker == Self.userSpeaker && !$0.text.isEmpty })?.text
    }

    // MARK: - Results delivered by the application

    /// Starts a retrieval over the whole dialogue.
    public mutating func startRetrieval() -> TUIEffect {
        retrievalGeneration += 1
        retrieving = true
        return .retrieve(context: turns, generation: retrievalGeneration)
    }

    /// A background retrieval finished. Stale answers (an older generation) are dropped.
    public mutating func retrievalFinished(generation: Int, result: RetrievalResult) {
        guard generation == retrievalGeneration else { return }
        retrieving = false
        self.result = result
        photoSelection = 0
        replySelection = 0
        statusMessage = nil
    }

    public mutating func retrievalFailed(generation: Int, message: String) {
        guard generation == retrievalGeneration else { return }
        retrieving = false
        statusMessage = "retrieval failed: \(message)"
    }

    public mutating func explanationFinished(generation: Int, explanation: AttributeExplanation) {
        guard generation == explainGeneration, case .loading = inspector else { return }
        inspector = .loaded(explanation)
    }

    public mutating func explanationFailed(generation: Int, message: String) {
        guard generation == explainGeneration, case .loading(let path) = inspector else { return }
        inspector = .failed(imagePath: path, message: message)
    }

    public mutating func galleryLoaded(_ entries: [GalleryEntry]) {
        gallery.entries = entries
        gallery.loading = false
        gallery.loadError = nil
        gallerySize = entries.count
    }

    /// Records indexing progress; returns true when this report ends a run that changed
    /// the index (so the caller retrieves the dialogue again over the complete gallery).
    public mutating func galleryUpdateFinished(_ progress: GalleryUpdateProgress) -> Bool {
        guard progress.phase == .finished else {
            galleryUpdate = progress
            return false
        }
        galleryUpdate = nil
        if progress.problems > 0 {
            statusMessage = "\(progress.problems) file\(progress.problems == 1 ? "" : "s") could not be indexed (run `dialclip index` for details)"
        }
        return progress.done > 0
    }

    public mutating func galleryFailed(_ message: String) {
        gallery.loading = false
        gallery.loadError = message
    }

    /// Keeps the chat scroll within what exists (called by the renderer's caller).
    public mutating func clampChatScroll(maximum: Int) {
        chatScroll = min(max(0, chatScroll), max(0, maximum))
    }

    // MARK: - Keys

    /// Applies one key and returns the effects to run, in order.
    public mutating func handle(key: Key) -> [TUIEffect] {
        switch key {
        case .ctrlC:
            shouldQuit = true
            return [.quit]
        case .ctrlL, .resize:
            return [.redraw]
        default:
            break
        }
        switch focus {
        case .input: return handleInput(key)
        case .results: return handleResults(key)
        case .gallery: return handleGallery(key)
        case .inspector: return handleInspector(key)
        case .help:
            focus = returnFocus
            return []
        }
    }

    private mutating func scrollChat(_ key: Key) -> Bool {
        switch key {
        case .pageUp: chatScroll += max(1, chatPageSize - 1); return true
        case .pageDown: chatScroll = max(0, chatScroll - max(1, chatPageSize - 1)); return true
        default: return false
        }
    }

    private mutating func showHelp() {
        returnFocus = focus
        focus = .help
    }

    private mutating func handleInput(_ key: Key) -> [TUIEffect] {
        if scrollChat(key) { return [] }
        switch key {
        case .char(let c):
            // Only printable text enters the line (ESC sequences arrive as separate keys).
            guard let s = c.unicodeScalars.first, s.value >= 0x20, s.value != 0x7F,
                  !(0x80..<0xA0).contains(s.value) else { return [] }
            input.insert(String(c))
        case .enter:
            return sendInputLine()
        case .tab, .escape:
            focus = .results
        case .backTab:
            focus = .results
            tab = .replies
        case .backspace: input.backspace()
        case .delete: input.deleteForward()
        case .left: input.moveLeft()
        case .right: input.moveRight()
        case .home: input.moveHome()
        case .end: input.moveEnd()
        case .ctrlU: input.killToStart()
        case .up: input.historyPrevious()
        case .down: input.historyNext()
        case .f1: showHelp()
        default: break
        }
        return []
    }

    /// Enter on the input line: appends a user turn and starts retrieval over the dialogue.
    private mutating func sendInputLine() -> [TUIEffect] {
        let text = input.text
        guard !text.allSatisfy({ $0.isWhitespace }) else { return [] }
        _ = input.submit()
        return appendUserTurn(DialogTurn(speaker: Self.userSpeaker, text: text))
    }

    private mutating func appendUserTurn(_ turn: DialogTurn) -> [TUIEffect] {
        turns.append(turn)
        chatScroll = 0
        return [.sendTurn(turn), startRetrieval()]
    }

    private mutating func moveSelection(_ delta: Int, toEnd: Bool? = nil) {
        switch tab {
        case .photos:
            let n = photos.count
            guard n > 0 else { return }
            if let toEnd { photoSelection = toEnd ? n - 1 : 0 } else { photoSelection = min(n - 1, max(0, photoSelection + delta)) }
        case .replies:
            let n = replies.count
            guard n > 0 else { return }
            if let toEnd { replySelection = toEnd ? n - 1 : 0 } else { replySelection = min(n - 1, max(0, replySelection + delta)) }
        }
    }

    /// Space: marks or unmarks a photo path.
    public mutating func toggleMark(_ path: String) {
        if let i = marks.firstIndex(of: path) { marks.remove(at: i) } else { marks.append(path) }
    }

    private mutating func handleResults(_ key: Key) -> [TUIEffect] {
        if scrollChat(key) { return [] }
        switch key {
        case .up, .char("k"): moveSelection(-1)
        case .down, .char("j"): moveSelection(1)
        case .home: moveSelection(0, toEnd: false)
        case .end: moveSelection(0, toEnd: true)
        case .left: tab = .photos
        case .right: tab = .replies
        case .tab:
            // Tab cycles input → Photos → Replies → input.
            if tab == .photos { tab = .replies } else { tab = .photos; focus = .input }
        case .backTab:
            if tab == .replies { tab = .photos } else { focus = .input }
        case .escape, .enter, .char("i"):
            focus = .input
        case .char("a"):
            return openInspector()
        case .char("g"):
            return openGallery()
        case .char("o"):
            guard tab == .photos, let path = selectedPhoto?.path else {
                statusMessage = "select a photo to open"
                return []
            }
            return [.openPhoto(path)]
        case .char(" "):
            guard tab == .photos, let path = selectedPhoto?.path else { return [] }
            toggleMark(path)
        case .char("?"), .f1:
            showHelp()
        case .char("q"):
            shouldQuit = true
            return [.quit]
        default:
            break
        }
        return []
    }

    private mutating func openInspector() -> [TUIEffect] {
        guard let path = selectedPhoto?.path else {
            statusMessage = "no photo selected to inspect"
            return []
        }
        guard let text = lastUserText else {
            statusMessage = "type a turn first: the inspector explains it against the photo"
            return []
        }
        tab = .photos
        explainGeneration += 1
        inspector = .loading(imagePath: path)
        returnFocus = .results
        focus = .inspector
        return [.explain(text: text, imagePath: path, generation: explainGeneration)]
    }

    private mutating func handleInspector(_ key: Key) -> [TUIEffect] {
        switch key {
        case .escape, .char("q"), .char("a"), .enter:
            inspector = .closed
            focus = .results
        case .char("i"):
            inspector = .closed
            focus = .input
        case .char("?"), .f1:
            showHelp()
        default:
            break
        }
        return []
    }

    private mutating func openGallery() -> [TUIEffect] {
        returnFocus = focus
        focus = .gallery
        if gallery.entries == nil && !gallery.loading {
            gallery.loading = true
            gallery.loadError = nil
            return [.loadGallery]
        }
        return []
    }

    private mutating func handleGallery(_ key: Key) -> [TUIEffect] {
        if gallery.editingSearch {
            switch key {
            case .char(let c):
                guard let s = c.unicodeScalars.first, s.value >= 0x20, s.value != 0x7F else { return [] }
                gallery.search.insert(String(c))
                gallery.selection = 0
            case .backspace: gallery.search.backspace(); gallery.selection = 0
            case .delete: gallery.search.deleteForward(); gallery.selection = 0
            case .left: gallery.search.moveLeft()
            case .right: gallery.search.moveRight()
            case .home: gallery.search.moveHome()
            case .end: gallery.search.moveEnd()
            case .ctrlU: gallery.search.killToStart(); gallery.selection = 0
            case .enter, .tab: gallery.editingSearch = false
            case .escape:
                gallery.search.clear()
                gallery.editingSearch = false
                gallery.selection = 0
            case .up: gallery.editingSearch = false; moveGallery(-1)
            case .down: gallery.editingSearch = false; moveGallery(1)
            default: break
            }
            return []
        }
        switch key {
        case .up, .char("k"): moveGallery(-1)
        case .down, .char("j"): moveGallery(1)
        case .pageUp: moveGallery(-max(1, chatPageSize - 1))
        case .pageDown: moveGallery(max(1, chatPageSize - 1))
        case .home: gallery.selection = 0
        case .end: gallery.selection = max(0, gallery.filteredIndices.count - 1)
        case .char("c"):
            let n = gallery.categories.count
            if n == 0 { gallery.categoryIndex = nil } else if let i = gallery.categoryIndex {
                gallery.categoryIndex = i + 1 < n ? i + 1 : nil
            } else { gallery.categoryIndex = 0 }
            gallery.selection = 0
        case .char("/"):
            gallery.editingSearch = true
        case .enter:
            guard let entry = gallery.selectedEntry else { return [] }
            focus = .input
            return appendUserTurn(DialogTurn(speaker: Self.userSpeaker, text: "", imagePath: entry.path))
        case .char("o"):
            guard let entry = gallery.selectedEntry else { return [] }
            return [.openPhoto(entry.path)]
        case .char(" "):
            guard let entry = gallery.selectedEntry else { return [] }
            toggleMark(entry.path)
        case .char("?"), .f1:
            showHelp()
        case .char("i"):
            focus = .input
        case .escape, .char("q"), .char("g"):
            focus = returnFocus == .gallery || returnFocus == .help ? .results : returnFocus
        default:
            break
        }
        return []
    }

    private mutating func moveGallery(_ delta: Int) {
        let n = gallery.filteredIndices.count
        guard n > 0 else { gallery.selection = 0; return }
        gallery.selection = min(n - 1, max(0, gallery.selection + delta))
    }
}
