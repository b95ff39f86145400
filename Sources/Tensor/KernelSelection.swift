import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Chooses OpenBLAS's kernel from the CPU's flags.
///
/// Debian's OpenBLAS 0.3.21 (DYNAMIC_ARCH) does not recognise recent Xeon/EPYC models and
/// falls back to SSE3 "Prescott" kernels, about 5× slower. It picks its kernel in a
/// library constructor, before `main`, so the only way to fix it from inside the
/// program is to set `OPENBLAS_CORETYPE` and re-execute once.
public enum OpenBLASKernel {
    public static let environmentKey = "OPENBLAS_CORETYPE"
    static let reexecMarker = "DIALCLIP_OPENBLAS_REEXEC"

    /// CPU feature flags from /proc/cpuinfo (empty where unavailable).
    public static func cpuFlags(cpuinfo: String? = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) -> Set<String> {
        guard let cpuinfo else { return [] }
        for line in cpuinfo.split(separator: "\n") where line.hasPrefix("flags") {
            if let colon = line.firstIndex(of: ":") {
                return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
            }
        }
        return []
    }

    /// The core type to force for these flags: AVX-512 → SkylakeX, AVX2+FMA → Haswell,
    /// otherwise nil (let OpenBLAS decide). Never AVX-512 kernels without `avx512f`.
    public static func preferredCoreType(flags: Set<String>) -> String? {
        if flags.contains("avx512f") && flags.contains("avx512bw") && flags.contains("avx512vl") { return "SkylakeX" }
        if flags.contains("avx2") && flags.contains("fma") { return "Haswell" }
        return nil
    }

    /// Where the kernel choice came from, for `doctor` and `bench`.
    public static var choiceSource: String {
        let env = ProcessInfo.processInfo.environment
        if env[reexecMarker] != nil { return "chosen by dialclip from CPU flags" }
        if env[environmentKey] != nil { return "set in the environment" }
        return "OpenBLAS's own detection"
    }

    /// Call first thing in `main`: if the user has not set `OPENBLAS_CORETYPE` and the
    /// CPU has a better kernel than OpenBLAS may detect, set it and re-execute this
    /// program once with the same arguments. Returns normally when no re-exec is needed
    /// (or when it fails, in which case OpenBLAS's own choice stands).
    public static func selectBeforeUse(arguments: [String] = CommandLine.arguments) {
        let env = ProcessInfo.processInfo.environment
        if env[environmentKey] != nil || env[reexecMarker] != nil { return }
        guard let core = preferredCoreType(flags: cpuFlags()) else { return }
        setenv(environmentKey, core, 1)
        setenv(reexecMarker, "1", 1)
        var cArgs: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
        cArgs.append(nil)
        execv("/proc/self/exe", &cArgs)
        // exec failed: continue with OpenBLAS's own choice; undo the marker.
        unsetenv(environmentKey)
        unsetenv(reexecMarker)
    }
}
