import Foundation

/// Errors about the program's own installation.
public enum InstallationError: Error, CustomStringConvertible {
    case assetsNotFound(searched: [String])

    public var description: String {
        switch self {
        case .assetsNotFound(let s):
            return "cannot find dialclip's assets folder (looked in: \(s.joined(separator: ", "))). Set DIALCLIP_ASSETS to the checkout's assets/ folder."
        }
    }
}

/// Finds the top-level `assets/` folder at run time: `$DIALCLIP_ASSETS`, then next to the
/// executable or any of its parents (works from `.build/*/dialclip` in a checkout), then
/// an install prefix (`<prefix>/share/dialclip`). Never the current directory alone.
public enum Assets {
    public static func locate(environment: [String: String] = ProcessInfo.processInfo.environment,
                              executable: String = Assets.executablePath) throws -> URL {
        var searched: [String] = []
        if let env = environment["DIALCLIP_ASSETS"], !env.isEmpty {
            if isAssets(env) { return URL(fileURLWithPath: env) }
            searched.append(env)
        }
        var dir = URL(fileURLWithPath: executable).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<8 {
            let candidate = dir.appendingPathComponent("assets")
            if isAssets(candidate.path) { return candidate }
            searched.append(candidate.path)
            let share = dir.appendingPathComponent("share/dialclip")
            if isAssets(share.path) { return share }
            let parent = dir.deletingLastPathComponent()
            if parent.path == dir.path { break }
            dir = parent
        }
        throw InstallationError.assetsNotFound(searched: searched)
    }

    /// The running executable (Linux: /proc/self/exe).
    public static var executablePath: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    static func isAssets(_ path: String) -> Bool {
        FileManager.default.fileExists(atPath: path + "/gallery/gallery.jsonl")
    }
}
