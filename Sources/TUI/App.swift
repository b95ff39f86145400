import Engine
import Foundation

/// How the interactive TUI runs.
public struct TUIOptions: Sendable {
    /// Results per list (photos and replies).
    public var k: Int = 10
    /// Dialogue to start from (`--resume`); a retrieval over it runs at start.
    public var initialTurns: [DialogTurn] = []
    /// Where each sent turn is appended (nil: not saved).
    public var session: SessionWriter? = nil
    /// Thumbnail pixels for the preview panes (nil: no previews).
    public var thumbnails: (any ThumbnailProvider)? = nil
    /// Terminal device to draw on (stdout stays free for the marked paths).
    public var ttyPath: String = "/dev/tty"
    /// `NO_COLOR` (any non-empty value) turns colours off.
    public var noColor: Bool = TUIOptions.noColorFromEnvironment()
    /// Draw ASCII only even with a UTF-8 locale.
    public var forceASCII = false
    /// Program that opens a photo; nil looks for `xdg-open` on PATH.
    public var opener: String? = nil
    /// Longest wait for a key before background results are checked (milliseconds).
    public var pollMilliseconds: Int32 = 40
    /// Once the engine is up, bring its gallery index up to date in the background,
    /// with progress in the status bar (`--gallery DIR`, and the bundled gallery).
    public var updateGalleryInBackground = false

    public init() {}

    /// True when NO_COLOR is set to a non-empty value (https://no-color.org).
    public static func noColorFromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        if let v = env["NO_COLOR"], !v.isEmpty { return true }
        return false
    }
}

/// Events that background tasks hand to the UI thread.
enum AppEvent: Sendable {
    case engineReady(any RetrievalEngine)
    case engineFailed(String)
    case retrieval(generation: Int, RetrievalResult)
    case retrievalFailed(generation: Int, String)
    case explained(generation: Int, AttributeExplanation)
    case explainFailed(generation: Int, String)
    case gallery([GalleryEntry])
    case galleryFailed(String)
    case galleryUpdate(GalleryUpdateProgress)
    case galleryUpdateFailed(String)
    case thumbnailReady
    case message(String)
}

/// A lock-protected queue from background tasks to the UI thread, which polls it between
/// key reads (at most `pollMilliseconds` apart), so results are drawn promptly.
final class Mailbox: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [AppEvent] = []
    func post(_ e: AppEvent) { lock.lock(); events.append(e); lock.unlock() }
    func drain() -> [AppEvent] {
        lock.lock(); defer { lock.unlock() }
        let e = events
        events.removeAll()
        return e
    }
}

/// The interactive terminal UI. Create it with an engine (or a loader, so the screen is up
/// while the model loads), then `try await run()`; it returns the marked photo paths, which
/// the caller prints to stdout.
public final class TUIApp: Sendable {
    private let loadEngine: @Sendable () async throws -> any RetrievalEngine
    private let initialModelName: String
    private let startsReady: Bool
    public let options: TUIOptions

    /// Runs with an engine that is already loaded.
    public init(engine: any RetrievalEngine, options: TUIOptions = TUIOptions()) {
        self.loadEngine = { engine }
        self.initialModelName = engine.modelName
        self.startsReady = true
        self.options = options
    }

    /// Shows the UI at once and loads the engine in the background; keys typed meanwhile
    /// are kept and turns sent are retrieved as soon as the engine is ready.
    public init(modelName: String, options: TUIOptions = TUIOptions(),
                loadEngine: @escaping @Sendable () async throws -> any RetrievalEngine) {
        self.loadEngine = loadEngine
        self.initialModelName = modelName
        self.startsReady = false
        self.options = options
    }

    /// Runs until the user quits (q, Ctrl-C) or SIGINT/SIGTERM/SIGHUP arrives; the terminal
    /// is restored in every case. The ncurses loop runs on its own thread so it never ties
    /// up the concurrency pool the engine computes on.
    public func run() async throws -> [String] {
        try await withCheckedThrowingContinuation { (cont: CheckedContinuation<[String], Error>) in
            let thread = Thread { [self] in
                let loop = EventLoop(app: self)
                cont.resume(with: Result { try loop.run() })
            }
            thread.name = "dialclip-tui"
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    fileprivate var loader: @Sendable () async throws -> any RetrievalEngine { loadEngine }
    fileprivate var modelName: String { initialModelName }
    fileprivate var ready: Bool { startsReady }
}

/// The UI thread's loop: read keys, apply them to the state, run effects, draw.
private final class EventLoop {
    let app: TUIApp
    let options: TUIOptions
    let mailbox = Mailbox()
    let thumbnails = ThumbnailCache(capacity: 128)
    let sessionQueue = DispatchQueue(label: "dialclip.session")
    var engine: (any RetrievalEngine)? = nil
    var state: TUIState
    var pendingRetrieval: TUIEffect? = nil
    var pendingGallery = false
    var engineError: String? = nil
    var dirty = true

    init(app: TUIApp) {
        self.app = app
        self.options = app.options
        self.state = TUIState(modelName: app.modelName, engineReady: false, turns: app.options.initialTurns)
    }

    func run() throws -> [String] {
        let terminal = try Terminal(ttyPath: options.ttyPath, noColor: options.noColor, forceASCII: options.forceASCII)
        defer { terminal.shutdown() }
        let view = View(options: RenderOptions(asciiOnly: terminal.asciiOnly, colors: terminal.colorMode != .none),
                        thumbnail: { [thumbnails] path, w, h in thumbnails.entry(path: path, width: w, height: h) })
        startEngine()
        if !state.turns.isEmpty { perform(state.startRetrieval()) }

        while !state.shouldQuit && engineError == nil {
            if terminal.pendingSignal != 0 { break }
            for event in mailbox.drain() { apply(event) }
            if dirty {
                let (w, h) = terminal.size
                let (canvas, info) = view.render(state, width: w, height: h)
                terminal.draw(canvas)
                if info.chatRows > 0 { state.chatPageSize = info.chatRows }
                state.clampChatScroll(maximum: info.chatMaxScroll)
                for request in info.thumbnailRequests { requestThumbnail(request) }
                dirty = false
            }
            // Wait briefly for a key, then take everything already typed (pastes) before
            // drawing again.
            var key = terminal.readKey(timeoutMs: options.pollMilliseconds)
            while let k = key {
                for effect in state.handle(key: k) {
                    if effect == .redraw { terminal.invalidate() }
                    perform(effect)
                }
                dirty = true
                if state.shouldQuit { break }
                key = terminal.readKey(timeoutMs: 0)
            }
        }
        terminal.shutdown()
        sessionQueue.sync {}  // the last turn is on disk before we return
        if let engineError { throw TUIError.engineFailed(engineError) }
        return state.marks
    }

    private func startEngine() {
        let mailbox = self.mailbox
        let loader = app.loader
        let update = options.updateGalleryInBackground
        Task.detached {
            let engine: any RetrievalEngine
            do {
                engine = try await loader()
            } catch {
                mailbox.post(.engineFailed("\(error)"))
                return
            }
            mailbox.post(.engineReady(engine))
            do { mailbox.post(.gallery(try await engine.galleryEntries())) } catch {
                mailbox.post(.galleryFailed("\(error)"))
            }
            guard update else { return }
            do {
                let summary = try await engine.updateGallery { mailbox.post(.galleryUpdate($0)) }
                mailbox.post(.galleryUpdate(summary))
                mailbox.post(.gallery(try await engine.galleryEntries()))
            } catch {
                mailbox.post(.galleryUpdateFailed("\(error)"))
            }
        }
    }

    private func apply(_ event: AppEvent) {
        dirty = true
        switch event {
        case .engineReady(let e):
            engine = e
            state.engineReady = true
            state.modelName = e.modelName
            if let p = pendingRetrieval { pendingRetrieval = nil; perform(p) }
            if pendingGallery { pendingGallery = false; perform(.loadGallery) }
        case .engineFailed(let m):
            engineError = m
        case .retrieval(let g, let r):
            state.retrievalFinished(generation: g, result: r)
        case .retrievalFailed(let g, let m):
            state.retrievalFailed(generation: g, message: m)
        case .explained(let g, let e):
            state.explanationFinished(generation: g, explanation: e)
        case .explainFailed(let g, let m):
            state.explanationFailed(generation: g, message: m)
        case .gallery(let entries):
            state.galleryLoaded(entries)
        case .galleryFailed(let m):
            state.galleryFailed(m)
        case .galleryUpdate(let p):
            // Turns sent while photos were still being indexed are retrieved again once
            // the index is complete, so nothing typed during start-up is left unanswered.
            if state.galleryUpdateFinished(p), !state.turns.isEmpty { perform(state.startRetrieval()) }
        case .galleryUpdateFailed(let m):
            state.galleryUpdate = nil
            state.statusMessage = "indexing failed: \(m)"
        case .thumbnailReady:
            break
        case .message(let m):
            state.statusMessage = m
        }
    }

    private func perform(_ effect: TUIEffect) {
        let mailbox = self.mailbox
        switch effect {
        case .sendTurn(let turn):
            guard let session = options.session else { return }
            sessionQueue.async {
                do { try session.append(turn) } catch { mailbox.post(.message("\(error)")) }
            }
        case .retrieve(let context, let generation):
            guard let engine else { pendingRetrieval = effect; return }
            let k = options.k
            Task.detached {
                do {
                    let r = try await engine.retrieve(context: context, kinds: [.image, .reply], k: k)
                    mailbox.post(.retrieval(generation: generation, r))
                } catch {
                    mailbox.post(.retrievalFailed(generation: generation, "\(error)"))
                }
            }
        case .explain(let text, let path, let generation):
            guard let engine else {
                state.explanationFailed(generation: generation, message: "the model is still loading")
                return
            }
            Task.detached {
                do {
                    mailbox.post(.explained(generation: generation, try await engine.explain(text: text, imagePath: path)))
                } catch {
                    mailbox.post(.explainFailed(generation: generation, "\(error)"))
                }
            }
        case .loadGallery:
            guard let engine else { pendingGallery = true; return }
            Task.detached {
                do { mailbox.post(.gallery(try await engine.galleryEntries())) } catch {
                    mailbox.post(.galleryFailed("\(error)"))
                }
            }
        case .openPhoto(let path):
            state.statusMessage = open(path)
        case .redraw, .quit:
            break
        }
    }

    private func requestThumbnail(_ r: ThumbnailRequest) {
        guard thumbnails.begin(path: r.path, width: r.width, height: r.height) else { return }
        guard let provider = options.thumbnails else {
            thumbnails.finish(path: r.path, width: r.width, height: r.height, image: nil)
            dirty = true
            return
        }
        let cache = thumbnails, mailbox = self.mailbox
        Task.detached {
            let image = provider.thumbnail(path: r.path, maxWidth: r.width, maxHeight: r.height)
            cache.finish(path: r.path, width: r.width, height: r.height, image: image)
            mailbox.post(.thumbnailReady)
        }
    }

    /// Starts the desktop opener detached from the terminal; returns a status message.
    private func open(_ path: String) -> String {
        guard let opener = options.opener ?? Opener.find() else {
            return "no opener found (install xdg-utils); path: \(path)"
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: opener)
        p.arguments = [path]
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        do {
            try p.run()
            return "opened \((path as NSString).lastPathComponent)"
        } catch {
            return "cannot run \(opener): \(error.localizedDescription)"
        }
    }
}

/// Finds the desktop's opener.
public enum Opener {
    /// Absolute path of `xdg-open` on PATH, nil when absent.
    public static func find(name: String = "xdg-open", path: String? = ProcessInfo.processInfo.environment["PATH"]) -> String? {
        for dir in (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") where !dir.isEmpty {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}

/// True when standard input is a terminal. The CLI runs `TUIApp` then, and `runLineMode`
/// when input comes from a pipe or file.
public func standardInputIsTerminal() -> Bool { isatty(0) == 1 }
