import CFuzzDriver
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Helpers shared by the fuzz targets.
public enum FuzzSupport {
    /// The checkout's root (Fuzz/Sources/FuzzSupport/FuzzSupport.swift → three levels up),
    /// so the targets find `assets/` wherever the clone is.
    public static let repositoryRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// A private scratch folder (in /dev/shm when available: the readers under test take
    /// paths, and writing the input to RAM costs microseconds).
    public static let scratchDirectory: String = {
        let base = FileManager.default.isWritableFile(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let dir = "\(base)/dialclip-fuzz-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(atPath: FuzzSupport.scratchDirectoryIfCreated) }
        scratchDirectoryIfCreated = dir
        return dir
    }()
    nonisolated(unsafe) static var scratchDirectoryIfCreated = ""

    /// Writes `bytes` to `name` in the scratch folder and returns its path.
    public static func writeScratch(_ name: String, _ bytes: UnsafeBufferPointer<UInt8>) -> String {
        let path = "\(scratchDirectory)/\(name)"
        var fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        if fd < 0 && errno == ENOENT {
            // Something outside the fuzzer removed the scratch folder (a parallel fuzz.sh's
            // cleanup did, before it learned to spare live fuzzers): not a finding — recreate it.
            try? FileManager.default.createDirectory(atPath: scratchDirectory, withIntermediateDirectories: true)
            fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        }
        guard fd >= 0 else { fail("cannot create \(path): \(String(cString: strerror(errno)))") }
        var offset = 0
        while offset < bytes.count {
            let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            guard n > 0 else { fail("cannot write \(path)") }
            offset += n
        }
        close(fd)
        return path
    }

    /// Runs libFuzzer (command line as usual: corpus folders, -runs=, -max_total_time=, …)
    /// with `callback` as the target; never returns.
    public static func runLibFuzzer(_ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> Never {
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, callback))
    }

    /// Reports a violated property and aborts, so libFuzzer saves the input as a crash.
    public static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("FUZZ PROPERTY VIOLATED: \(message)\n".utf8))
        abort()
    }
}
