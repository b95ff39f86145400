import ArgumentParser
import Foundation
import Tensor

// OpenBLAS chooses its kernel in a library constructor, before main: pick the right one
// for this CPU and re-execute once if needed, before anything else runs.
OpenBLASKernel.selectBeforeUse()

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
