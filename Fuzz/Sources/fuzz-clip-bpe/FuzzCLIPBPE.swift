import Foundation
import FuzzSupport
import Tokenizers

let tokenizer: CLIPTokenizer = {
    let path = FuzzSupport.repositoryRoot + "/assets/clip/bpe_simple_vocab_16e6.txt.gz"
    do { return try CLIPTokenizer(vocabularyGzipPath: path) } catch { FuzzSupport.fail("cannot load \(path): \(error)") }
}()

/// Fuzzes CLIP's text cleaning + byte-level BPE on arbitrary bytes. Properties: every id is
/// in the vocabulary, the sequence is framed by <|startoftext|> … <|endoftext|>, and
/// `tokenize` returns at most 77 ids ending in <|endoftext|>.
@main enum Main { static func main() { FuzzSupport.runLibFuzzer(fuzz) } }

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let ids = tokenizer.encode(bytes: bytes)
    guard ids.count >= 2, ids.first == CLIPTokenizer.startOfText, ids.last == CLIPTokenizer.endOfText else {
        FuzzSupport.fail("encode not framed by SOT/EOT: \(ids.prefix(5))…\(ids.suffix(5))")
    }
    if let bad = ids.first(where: { $0 < 0 || $0 >= CLIPTokenizer.vocabularySize }) { FuzzSupport.fail("id \(bad) out of range") }
    let row = tokenizer.tokenize(String(decoding: bytes, as: UTF8.self))
    guard row.count <= CLIPTokenizer.defaultContextLength, row.last == CLIPTokenizer.endOfText else {
        FuzzSupport.fail("tokenize gave \(row.count) ids")
    }
    _ = tokenizer.decode(ids)
    return 0
}
