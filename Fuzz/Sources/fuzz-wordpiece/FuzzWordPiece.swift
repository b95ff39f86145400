import Foundation
import FuzzSupport
import Tokenizers

let tokenizer: WordPieceTokenizer = {
    let env = ProcessInfo.processInfo.environment
    let cache = env["XDG_CACHE_HOME"] ?? (NSHomeDirectory() + "/.cache")
    let dir = env["DIALCLIP_MODEL_DIR"] ?? (cache + "/dialclip/models")
    let path = dir + "/all-MiniLM-L6-v2/vocab.txt"
    do { return try WordPieceTokenizer(vocabularyPath: path) } catch {
        FuzzSupport.fail("cannot load \(path) (run Scripts/setup.sh): \(error)")
    }
}()

/// Fuzzes BERT's WordPiece tokenizer on arbitrary bytes. Properties: [CLS] first, [SEP]
/// last, at most maxLength ids, every id in the vocabulary.
@main enum Main { static func main() { FuzzSupport.runLibFuzzer(fuzz) } }

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    for maxLength in [WordPieceTokenizer.defaultMaxLength, 8] {
        let ids = tokenizer.encode(bytes: bytes, maxLength: maxLength)
        guard ids.count >= 2, ids.count <= maxLength, ids.first == 101, ids.last == 102 else {
            FuzzSupport.fail("maxLength \(maxLength): bad framing or length \(ids.count)")
        }
        if let bad = ids.first(where: { $0 < 0 || $0 >= 30522 }) { FuzzSupport.fail("id \(bad) out of range") }
    }
    return 0
}
