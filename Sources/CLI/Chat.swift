import ArgumentParser
import Engine
import Foundation
import Imaging
import TUI

/// `dialclip [chat]`: the chat TUI, or a plain line mode when stdin is not a terminal.
struct Chat: AsyncCommand {
    static let configuration = CommandConfiguration(
        abstract: "Chat; after every turn see the photos and replies that fit (the default command).",
        discussion: """
        Keys: type and press Enter to send a turn. Tab/Esc moves to the results, where ↑/↓ select,
        ←/→ switch Photos/Replies, a opens the attribute inspector, g the gallery browser,
        o opens the photo, Space marks it, ? shows help, q quits. Ctrl-C quits from anywhere.
        Marked photo paths are printed on exit, so `dialclip | xargs -r cp -t ~/picked` works.

        With stdin not a terminal, each input line is a turn and the results are printed
        (`--json`: one object per turn); a line `@/path/photo.jpg` shares that photo.

        Examples:
          dialclip
          dialclip --gallery ~/Pictures
          echo "we went hiking in the mountains" | dialclip --json
        """)

    @Option(name: .long, help: "Model: dialclip-mini (default) or a CLIP checkpoint path.")
    var model: String?

    @OptionGroup var weights: WeightFlags

    @Option(name: .long, help: "Photo folder (default: the bundled demo gallery); indexed on start.")
    var gallery: String?

    @Option(name: .long, help: "Index database (default: $XDG_DATA_HOME/dialclip/index.sqlite).")
    var db: String?

    @Option(name: .long, help: "Reply pool, one reply per line (default: the bundled pool).")
    var replies: String?

    @Option(name: .long, help: "DialCLIP prompts checkpoint (default: the bundled one; `none` for zero-shot retrieval).")
    var prompts: String?

    @Flag(name: .long, help: "Reopen the last session.")
    var resume = false

    @Option(name: .short, help: "Photos and replies per list.")
    var k: Int = 10

    @Flag(name: .long, help: "Line mode: print one JSON object per turn.")
    var json = false

    func validate() throws {
        guard k > 0 else { throw ValidationError("-k must be at least 1") }
    }

    mutating func execute() async throws {
        let options = EngineOptions(model: model, gallery: gallery, database: db, replies: replies, prompts: prompts,
                                    precision: weights.precision)
        let store = SessionStore(directory: SessionStore.defaultDirectory())
        if standardInputIsTerminal() && !json {
            var o = TUIOptions()
            o.k = k
            o.thumbnails = ImagingThumbnails()
            if resume {
                let r = try store.resumeNewest()
                o.session = r.writer
                o.initialTurns = r.turns
            } else {
                o.session = try store.create()
            }
            let name = model.map { ($0 as NSString).lastPathComponent } ?? "dialclip-mini"
            // The engine opens with what is indexed already; the gallery folder is brought
            // up to date in the background with progress in the status bar.
            o.updateGalleryInBackground = true
            let app = TUIApp(modelName: name, options: o) { try DialclipEngine(options: options) }
            for path in try await app.run() { print(path) }
        } else {
            let engine = try DialclipEngine(options: options)
            let report = try engine.indexGallery()
            if report.added + report.updated > 0 { printError(report.plainSummary) }
            var out = StandardOutputStream()
            try await runLineMode(engine: engine, input: StandardInputLines(), output: &out, json: json, k: k,
                                  session: try? store.create())
        }
    }
}

/// Colour thumbnails for the TUI: DCT-scaled decode to about the needed size.
struct ImagingThumbnails: ThumbnailProvider {
    func thumbnail(path: String, maxWidth: Int, maxHeight: Int) -> ThumbnailImage? {
        guard let image = try? Thumbnailer.thumbnail(path: path, fittingWidth: maxWidth, height: maxHeight) else { return nil }
        return ThumbnailImage(width: image.width, height: image.height, rgb: image.pixels)
    }
}

/// `dialclip export`: a saved chat session as JSONL in the shared dialogue format.
struct Export: AsyncCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a saved chat session as JSONL (the shared dialogue format).",
        discussion: """
        Examples:
          dialclip export > session.jsonl
          dialclip export --session ~/.local/state/dialclip/sessions/2026-11-23T21-30-00.jsonl
        """)

    @Option(name: .long, help: "Session file (default: the newest session).")
    var session: String?

    @Flag(name: .long, help: "Export every saved session, one line each.")
    var all = false

    mutating func execute() async throws {
        let store = SessionStore(directory: SessionStore.defaultDirectory())
        let urls: [URL]
        if let session {
            urls = [URL(fileURLWithPath: session)]
        } else if all {
            urls = store.sessions()
        } else if let newest = store.newest() {
            urls = [newest]
        } else {
            throw CLIError("no saved sessions in \(SessionStore.defaultDirectory().path); chat first with `dialclip`")
        }
        for url in urls {
            let turns = try SessionStore.load(url)
            print(SessionStore.export(turns: turns, id: SessionStore.sessionID(of: url)))
        }
    }
}
