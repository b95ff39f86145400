import Foundation
import FuzzSupport
import Gallery

/// Fuzzes the gallery's caption readers: `gallery.jsonl` and sidecar `.txt` files.
/// Properties: never throws or crashes; every entry's path is absolute; sidecar captions
/// are non-empty and trimmed.
@main enum Main { static func main() { FuzzSupport.runLibFuzzer(fuzz) } }

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let path = FuzzSupport.writeScratch("gallery.jsonl", bytes)
    let (entries, _) = CaptionSources.loadGalleryJSONL(path)
    for key in entries.keys where !key.hasPrefix("/") { FuzzSupport.fail("relative entry path \(key)") }
    let sidecar = FuzzSupport.writeScratch("photo.jpg.txt", bytes)
    if let caption = CaptionSources.readSidecar(sidecar) {
        if caption.isEmpty || caption != caption.trimmingCharacters(in: .whitespacesAndNewlines) {
            FuzzSupport.fail("sidecar caption not trimmed: \(caption.debugDescription)")
        }
    }
    return 0
}
