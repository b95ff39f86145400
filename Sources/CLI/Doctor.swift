import ArgumentParser
import Engine
import Foundation
import Models
import Tensor

/// `dialclip doctor`: what this installation has and lacks.
struct Doctor: AsyncCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check libraries, the OpenBLAS kernel, models, locale and terminal.")

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    mutating func execute() async throws {
        var checks: [(String, Bool, String)] = []
        let flags = OpenBLASKernel.cpuFlags()
        let simd = ["avx512f", "avx2", "fma"].filter(flags.contains).joined(separator: " ")
        checks.append(("openblas", true, "\(BLAS.coreName) kernel (\(OpenBLASKernel.choiceSource)); CPU: \(simd.isEmpty ? "no AVX" : simd); \(BLAS.threads) threads"))
        do {
            let assets = try Assets.locate()
            checks.append(("assets", true, assets.path))
        } catch {
            checks.append(("assets", false, "\(error)"))
        }
        let minilm = ModelDirectory.miniLM
        let haveMiniLM = FileManager.default.fileExists(atPath: minilm + "/model.safetensors")
        checks.append(("minilm", haveMiniLM, haveMiniLM ? minilm : "missing at \(minilm): run Scripts/setup.sh"))
        let env = ProcessInfo.processInfo.environment
        let locale = env["LC_ALL"] ?? env["LC_CTYPE"] ?? env["LANG"] ?? "(unset)"
        let utf8 = locale.uppercased().contains("UTF-8") || locale.uppercased().contains("UTF8")
        checks.append(("locale", true, "\(locale)\(utf8 ? "" : " — not UTF-8: the TUI falls back to C.UTF-8 or ASCII drawing")"))
        let term = env["TERM"] ?? "(unset)"
        let truecolor = (env["COLORTERM"] ?? "").contains("truecolor") || (env["COLORTERM"] ?? "").contains("24bit") || term.hasSuffix("-direct")
        let noColor = env["NO_COLOR"].map { !$0.isEmpty } ?? false
        checks.append(("terminal", true, "TERM=\(term)\(truecolor ? ", true colour" : "")\(noColor ? ", NO_COLOR set (no colours)" : "")"))

        if json {
            try printJSON(["checks": checks.map { ["name": $0.0, "ok": $0.1, "detail": $0.2] }])
        } else {
            for (name, ok, detail) in checks {
                print("\(ok ? "ok " : "!! ") \(name.padding(toLength: 9, withPad: " ", startingAt: 0)) \(detail)")
            }
        }
        if checks.contains(where: { !$0.1 }) { throw ExitCode(1) }
    }
}
