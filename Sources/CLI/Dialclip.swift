import ArgumentParser
import Foundation

/// `dialclip`: chat in the terminal and get the right photo or reply from your own gallery.

struct Dialclip: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dialclip",
        abstract: "Multi-modal dialog retrieval in the terminal (DialCLIP + DCAR).",
        discussion: """
        With no subcommand, opens the chat on the bundled demo gallery.

        Examples:
          dialclip                                  # chat TUI on the bundled gallery
          dialclip index ~/Pictures                 # index a photo folder
          dialclip search "a dog on the grass"      # print matching photo paths
          dialclip embed --model minilm --text "hello there" --json
          dialclip models verify ~/models/clip-vit-base-patch32
          dialclip bench --json
          dialclip doctor
        """,
        version: "0.1.0",
        subcommands: [Chat.self, Index.self, Search.self, Inspect.self, Embed.self, Train.self, Eval.self, Bench.self, Models.self, Doctor.self, Export.self],
        defaultSubcommand: Chat.self
    )
}

/// A runtime failure the user can act on: printed to stderr, exit code 1.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Writes a JSON value to stdout (sorted keys, one line).
func printJSON(_ value: Any) throws {
    let data = try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes])
    try writeStandardOutput(data + Data("\n".utf8))
}

/// Writes bytes to stdout. Foundation's `FileHandle.write(_:)` traps on a failed write
/// (disk full, `ulimit -f`, a closed pipe with SIGPIPE ignored), so use the throwing variant:
/// the command then fails with a message instead of crashing.
func writeStandardOutput(_ data: Data) throws {
    do {
        try FileHandle.standardOutput.write(contentsOf: data)
    } catch {
        throw CLIError("cannot write to standard output: \(posixReason(error))")
    }
}

/// The errno text inside a Foundation file error ("No space left on device").
func posixReason(_ error: Error) -> String {
    let ns = error as NSError
    if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
        return String(cString: strerror(Int32(underlying.code)))
    }
    if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
    return "\(error)"
}

/// Writes a line to stderr (a failure is ignored: there is nowhere left to report it).
func printError(_ message: String) {
    try? FileHandle.standardError.write(contentsOf: Data((message + "\n").utf8))
}

/// A dialclip subcommand with an async body (see main.swift for why it is not
/// ArgumentParser's AsyncParsableCommand).
protocol AsyncCommand: ParsableCommand {
    mutating func execute() async throws
}
