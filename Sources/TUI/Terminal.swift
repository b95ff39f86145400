import CNcursesw
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Errors starting or running the terminal UI.
public enum TUIError: Error, CustomStringConvertible {
    case noTerminal(path: String, reason: String)
    case unknownTerminal(term: String)
    case engineFailed(String)

    public var description: String {
        switch self {
        case .noTerminal(let p, let r):
            return "cannot open the terminal \(p): \(r); run dialclip from a terminal, or pipe lines into it for line mode"
        case .unknownTerminal(let t):
            return "terminal type '\(t)' is unknown to ncurses; set TERM (e.g. TERM=xterm-256color)"
        case .engineFailed(let m):
            return "the retrieval engine could not start: \(m)"
        }
    }
}

/// Maps what `wget_wch` returned to a `Key`. Pure, so tests can check the table.
public enum KeyDecoder {
    /// `status` is wget_wch's return value (OK, KEY_CODE_YES, ERR); `value` the wint_t.
    public static func decode(status: Int32, value: UInt32) -> Key? {
        if status == ERR { return nil }
        if status == dc_key_code_yes() {
            switch Int32(value) {
            case KEY_UP: return .up
            case KEY_DOWN: return .down
            case KEY_LEFT: return .left
            case KEY_RIGHT: return .right
            case KEY_HOME: return .home
            case KEY_END: return .end
            case KEY_PPAGE: return .pageUp
            case KEY_NPAGE: return .pageDown
            case KEY_BACKSPACE: return .backspace
            case KEY_DC: return .delete
            case KEY_BTAB: return .backTab
            case KEY_ENTER: return .enter
            case dc_key_resize(): return .resize
            case dc_key_f(1): return .f1
            default: return .other(Int(value))
            }
        }
        return decodeCharacter(value)
    }

    /// A plain character (raw mode: control keys arrive as their byte values).
    public static func decodeCharacter(_ value: UInt32) -> Key {
        switch value {
        case 3: return .ctrlC
        case 9: return .tab
        case 10, 13: return .enter
        case 27: return .escape
        case 8, 127: return .backspace
        case 21: return .ctrlU
        case 12: return .ctrlL
        case 1: return .home  // Ctrl-A
        case 5: return .end  // Ctrl-E
        case 4: return .delete  // Ctrl-D
        case 0..<32: return .other(Int(value))
        default:
            guard let s = Unicode.Scalar(value) else { return .other(Int(value)) }
            return .char(Character(s))
        }
    }
}

/// Chooses how to draw text for the process locale: tries the environment's locale,
/// then C.UTF-8; without UTF-8 the UI draws ASCII only.
public enum LocaleSetup {
    /// Calls setlocale(LC_ALL, "") (and C.UTF-8 as fallback); returns true for UTF-8.
    public static func activate() -> Bool {
        _ = setlocale(LC_ALL, "")
        if isUTF8() { return true }
        _ = setlocale(LC_ALL, "C.UTF-8")
        if isUTF8() { return true }
        _ = setlocale(LC_ALL, "C.utf8")
        return isUTF8()
    }

    static func isUTF8() -> Bool {
        guard let cs = dc_codeset() else { return false }
        let name = String(cString: cs).uppercased()
        return name == "UTF-8" || name == "UTF8"
    }
}

/// The ncurses screen on /dev/tty. Used from the UI thread only.
final class Terminal {
    private let screen: OpaquePointer
    private let file: UnsafeMutablePointer<FILE>
    private let window: UnsafeMutablePointer<WINDOW>
    let colorMode: ColorMode
    let asciiOnly: Bool
    private var pairs: ColorPairCache
    private var previous: Canvas? = nil
    private var ended = false

    init(ttyPath: String, noColor: Bool, forceASCII: Bool) throws {
        let utf8 = LocaleSetup.activate()
        guard let f = fopen(ttyPath, "r+") else {
            throw TUIError.noTerminal(path: ttyPath, reason: String(cString: strerror(errno)))
        }
        guard let scr = newterm(nil, f, f) else {
            fclose(f)
            throw TUIError.unknownTerminal(term: ProcessInfo.processInfo.environment["TERM"] ?? "(unset)")
        }
        screen = scr
        file = f
        _ = set_term(scr)
        guard let w = dc_stdscr() else {
            endwin(); delscreen(scr); fclose(f)
            throw TUIError.unknownTerminal(term: ProcessInfo.processInfo.environment["TERM"] ?? "(unset)")
        }
        window = w
        asciiOnly = forceASCII || !utf8
        raw()
        noecho()
        nonl()
        keypad(window, true)
        set_escdelay(25)
        var mode = ColorMode.none
        if !noColor && has_colors() {
            start_color()
            _ = use_default_colors()
            mode = ColorMode.detect(colors: Int(dc_colors()), hasColors: true, noColor: false)
        }
        colorMode = mode
        pairs = ColorPairCache(mode: mode, colorPairs: Int(dc_color_pairs()))
        dc_install_signal_handlers()
    }

    deinit { shutdown() }

    /// The signal (SIGINT/SIGTERM/SIGHUP) received, or 0.
    var pendingSignal: Int32 { dc_pending_signal() }

    var size: (width: Int, height: Int) { (Int(dc_cols()), Int(dc_lines())) }

    /// Waits up to `timeoutMs` (0: just polls) for a key.
    func readKey(timeoutMs: Int32) -> Key? {
        wtimeout(window, timeoutMs)
        var value: wint_t = 0
        let status = wget_wch(window, &value)
        return KeyDecoder.decode(status: status, value: UInt32(value))
    }

    /// Forgets what is on screen (Ctrl-L, resize): the next draw repaints everything.
    func invalidate() {
        previous = nil
        clearok(window, true)
    }

    private func attributes(_ s: CellStyle) -> attr_t {
        var a = dc_a_normal()
        if s.bold { a |= dc_a_bold() }
        if s.reverse { a |= dc_a_reverse() }
        if s.dim { a |= dc_a_dim() }
        if s.underline { a |= dc_a_underline() }
        return a
    }

    /// Copies the canvas to the terminal (only the cells that changed) and refreshes.
    func draw(_ canvas: Canvas) {
        let generationBefore = pairs.generation
        let full = previous == nil || previous!.width != canvas.width || previous!.height != canvas.height
        if full { werase(window) }
        var cell = cchar_t()
        var wide: [wchar_t] = []
        for y in 0..<canvas.height {
            for x in 0..<canvas.width {
                let c = canvas[x, y]
                if c.isContinuation { continue }
                if !full, let prev = previous, prev[x, y] == c,
                   !(x + 1 < canvas.width && prev[x + 1, y].isContinuation != canvas[x + 1, y].isContinuation) { continue }
                let p = pairs.pair(fg: c.style.fg, bg: c.style.bg)
                if p.isNew { _ = init_extended_pair(Int32(p.pair), Int32(p.fg), Int32(p.bg)) }
                wide.removeAll(keepingCapacity: true)
                for s in c.text.unicodeScalars.prefix(5) { wide.append(wchar_t(bitPattern: s.value)) }
                if wide.isEmpty { wide.append(32) }
                wide.append(0)
                _ = dc_setcchar(&cell, wide, attributes(c.style), Int32(p.pair))
                _ = mvwadd_wch(window, Int32(y), Int32(x), &cell)
            }
        }
        if let cur = canvas.cursor {
            _ = curs_set(1)
            _ = wmove(window, Int32(cur.y), Int32(cur.x))
        } else {
            _ = curs_set(0)
        }
        _ = wrefresh(window)
        // The pair table started over mid-frame: cells drawn earlier may show wrong colours.
        previous = pairs.generation == generationBefore ? canvas : nil
    }

    /// Restores the terminal (idempotent).
    func shutdown() {
        guard !ended else { return }
        ended = true
        _ = curs_set(1)
        endwin()
        delscreen(screen)
        fclose(file)
        dc_restore_signal_handlers()
    }
}

extension wchar_t {
    init(bitPattern v: UInt32) { self = wchar_t(truncatingIfNeeded: Int64(v)) }
}
