import Foundation
import TestSupport
import XCTest

/// Runs the real `dialclip` binary in a detached tmux window, drives it with keys and
/// asserts on `capture-pane` text. The binary is `DIALCLIP_BIN` or, by default, the
/// `dialclip` built next to this test bundle (`swift build --build-tests` builds both).
/// `DIALCLIP_E2E_ARGS` replaces the arguments (default: `chat` on the bundled gallery with
/// a private index database; `DIALCLIP_E2E_MODEL` picks the model).
/// Uses a private tmux server (-L) that the test starts and stops itself.
final class TmuxEndToEndTests: XCTestCase {
    private var socket = ""
    private var workDir: URL!

    override func setUpWithError() throws {
        let bin = Self.binary
        guard FileManager.default.isExecutableFile(atPath: bin) else {
            XCTFail("no dialclip binary at \(bin): build it with `swift build --build-tests` or set DIALCLIP_BIN")
            throw XCTSkip("no binary")
        }
        guard Self.which("tmux") != nil else {
            XCTFail("tmux is not installed: Scripts/setup.sh installs it (apt-get install tmux)")
            throw XCTSkip("no tmux")
        }
        socket = "dialclip-e2e-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        workDir = FileManager.default.temporaryDirectory.appendingPathComponent(socket)
        try FileManager.default.createDirectory(at: workDir, withIntermediateDirectories: true)
    }

    override func tearDown() {
        if !socket.isEmpty, workDir != nil { _ = try? tmux(["kill-server"]) }
        if let workDir { try? FileManager.default.removeItem(at: workDir) }
    }

    /// `DIALCLIP_BIN`, else `dialclip` beside the running test binary.
    static var binary: String {
        if let b = ProcessInfo.processInfo.environment["DIALCLIP_BIN"], !b.isEmpty { return b }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("dialclip").path
    }

    static func which(_ name: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let p = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    /// Runs a tmux client command through /bin/sh with posix_spawn + waitpid. Not
    /// Foundation's Process: the tmux server that `new-session` forks inherits what
    /// Process uses to notice termination, and waitUntilExit then never returns.
    @discardableResult
    private func tmux(_ args: [String]) throws -> String {
        let outPath = workDir.appendingPathComponent("tmux-out-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: outPath) }
        let tmuxPath = Self.which("tmux") ?? "/usr/bin/tmux"
        let command = ([tmuxPath, "-L", socket] + args).map(Self.shellQuote).joined(separator: " ")
            + " </dev/null >\(Self.shellQuote(outPath)) 2>/dev/null"
        let words: [String] = ["/bin/sh", "-c", command]
        var argv: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) }
        argv.append(nil)
        defer { for a in argv { free(a) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, "/bin/sh", nil, nil, argv, environ)
        guard rc == 0 else { throw XCTSkip("cannot spawn /bin/sh: \(rc)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
    }

    private func capture() throws -> String { try tmux(["capture-pane", "-p", "-t", "e2e"]) }

    private func keys(_ k: String...) throws { try tmux(["send-keys", "-t", "e2e"] + k); usleep(150_000) }

    /// Polls the pane until `condition` holds; fails with the last capture otherwise.
    @discardableResult
    private func waitFor(_ what: String, timeout: TimeInterval = 60, _ condition: (String) -> Bool,
                         file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        var last = ""
        while Date() < deadline {
            last = try capture()
            if condition(last) { return last }
            usleep(200_000)
        }
        XCTFail("timed out waiting for \(what); pane was:\n\(last)", file: file, line: line)
        throw XCTSkip("aborted after timeout")
    }

    private static func shellQuote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    func testChatTabsInspectorGalleryResizeAndQuit() throws {
        let env = ProcessInfo.processInfo.environment
        let bin = Self.binary
        var defaultArgs = ["chat", "--db", workDir.appendingPathComponent("index.sqlite").path]
        if let model = env["DIALCLIP_E2E_MODEL"], !model.isEmpty {
            defaultArgs += ["--model", model]
        } else if !FileManager.default.fileExists(atPath: Fixtures.assets.appendingPathComponent("models/dialclip-mini.safetensors").path) {
            // Without the bundled model, the tiny CLIP fixture drives the same code paths.
            defaultArgs += ["--model", try Fixtures.sharedPath("model/tiny-clip-hf")]
        }
        let args = env["DIALCLIP_E2E_ARGS"].map { $0.split(separator: " ").map(String.init) } ?? defaultArgs
        let out = workDir.appendingPathComponent("stdout").path
        let err = workDir.appendingPathComponent("stderr").path
        let rc = workDir.appendingPathComponent("rc").path
        let command = ([bin] + args).map(Self.shellQuote).joined(separator: " ")
            + " >\(Self.shellQuote(out)) 2>\(Self.shellQuote(err)); echo $? >\(Self.shellQuote(rc)); exec sleep 600"
        try tmux(["new-session", "-d", "-s", "e2e", "-x", "120", "-y", "40",
                  "env TERM=xterm-256color LANG=C.UTF-8 LC_ALL=C.UTF-8 XDG_STATE_HOME=\(Self.shellQuote(workDir.path)) sh -c \(Self.shellQuote(command))"])

        try waitFor("the chat screen") { $0.contains("Chat") && $0.contains("model:") }

        // Two turns; each retrieval shows absolute photo paths.
        try keys("-l", "a dog playing in the park")
        try keys("Enter")
        // The first retrieval waits for the model and, on a fresh machine, the one-time
        // encoding of the reply pool (cached afterwards).
        let first = try waitFor("photo results", timeout: 240) { $0.contains("Photos (") && !$0.contains("retrieving") }
        XCTAssertTrue(first.contains("A: a dog playing in the park"))
        let pathLines = first.split(separator: "\n").filter { $0.contains(" /") || $0.contains(" …") }
        XCTAssertFalse(pathLines.isEmpty, "result rows show paths:\n\(first)")
        try keys("-l", "it was sunny")
        try keys("Enter")
        try waitFor("second retrieval") { $0.contains("A: it was sunny") && !$0.contains("retrieving") }

        // Results focus, tab switching.
        try keys("Tab")
        try waitFor("results focus hint") { $0.contains("a attrs") }
        try keys("Right")
        try waitFor("replies tab") { $0.contains("Replies (") }
        try keys("Left")

        // Attribute inspector with bars.
        try keys("a")
        let inspector = try waitFor("attribute bars") { $0.contains("Attributes:") && ($0.contains("█") || $0.contains("(no attribute phrases)")) }
        XCTAssertTrue(inspector.contains("global"), inspector)
        try keys("Escape")

        // Mark the selected photo, remember its file name.
        try keys("Space")
        let marked = try waitFor("mark shown") { $0.contains("marked: 1") }
        let markedRow = marked.split(separator: "\n").first { $0.contains("│*") }
        XCTAssertNotNil(markedRow, "marked row has a star:\n\(marked)")

        // Gallery browser with category filter.
        try keys("g")
        try waitFor("gallery") { $0.contains("Gallery") && $0.contains("category: all") }
        try keys("c")
        try waitFor("category filter") { $0.contains("Gallery") && !$0.contains("category: all") }
        try keys("Escape")

        // Resize: the layout follows, the chat stays.
        try tmux(["resize-window", "-t", "e2e", "-x", "60", "-y", "20"])
        let small = try waitFor("re-layout at 60×20") { $0.contains("A: a dog playing") && $0.contains("Photos") }
        XCTAssertTrue(small.split(separator: "\n").allSatisfy { $0.count <= 60 }, small)
        try tmux(["resize-window", "-t", "e2e", "-x", "50", "-y", "10"])
        try waitFor("too-small message") { $0.contains("terminal too small (50×10), need 60×16") }
        try tmux(["resize-window", "-t", "e2e", "-x", "120", "-y", "40"])
        try waitFor("full layout again") { $0.contains("A: it was sunny") }

        // Ctrl-C quits, restores the terminal, prints the marked path.
        try keys("C-c")
        let deadline = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: rc) && Date() < deadline { usleep(100_000) }
        let code = (try? String(contentsOfFile: rc, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(code, "0", "exit status; stderr: \((try? String(contentsOfFile: err, encoding: .utf8)) ?? "")")
        let printed = ((try? String(contentsOfFile: out, encoding: .utf8)) ?? "").split(separator: "\n")
        XCTAssertEqual(printed.count, 1, "one marked path on stdout: \(printed)")
        if let path = printed.first {
            XCTAssertTrue(path.hasPrefix("/"), "absolute path")
            let name = (String(path) as NSString).lastPathComponent
            XCTAssertTrue(markedRow.map { $0.contains(name) || $0.contains("…") } ?? false, "stdout names the marked photo \(name)")
        }
        let after = try capture()
        XCTAssertFalse(after.contains("model:"), "the TUI screen is gone (terminal restored):\n\(after)")
    }
}
