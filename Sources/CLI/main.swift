import ArgumentParser
import Foundation
import Tensor

// A write past the file-size limit (`ulimit -f`) must fail with EFBIG and be reported like
// a full disk, not kill the process halfway through a database transaction.
signal(SIGXFSZ, SIG_IGN)

// OpenBLAS chooses its kernel in a library constructor, before main: pick the right one
// for this CPU and re-execute once if needed, before anything else runs.
OpenBLASKernel.selectBeforeUse()

// Threads for products and element-wise work: all cores unless DIALCLIP_THREADS says otherwise
// (`bench --threads` overrides it for one run).
if let value = ProcessInfo.processInfo.environment["DIALCLIP_THREADS"], let n = Int(value), n > 0 {
    Parallelism.setThreads(n)
}

// Parse and dispatch by hand. (With AsyncParsableCommand, overload resolution from
// top-level code picks the synchronous `main`/`run`, which only prints help; a
// differently named async entry point avoids the ambiguity.)
do {
    var command = try Dialclip.parseAsRoot()
    if var ours = command as? AsyncCommand {
        try await ours.execute()
    } else {
        try command.run()
    }
} catch {
    Dialclip.exit(withError: error)
}
// `print` buffers stdout; a failed write (disk full, `ulimit -f`) shows up only here. Output
// the user asked for that never arrived must not end in a successful exit status.
if fflush(nil) != 0 {
    printError("Error: cannot write to standard output: \(String(cString: strerror(errno)))")
    exit(1)
}
