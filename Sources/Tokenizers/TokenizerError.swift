import Foundation

/// Errors raised while loading a tokenizer vocabulary. Encoding itself never throws: any
/// String (and any byte sequence, via `encode(bytes:)`) has a defined tokenization.
public enum TokenizerError: Error, CustomStringConvertible, Equatable {
    /// The vocabulary file does not exist or cannot be read.
    case fileUnreadable(path: String, reason: String)
    /// The gzip stream is corrupt, truncated or not gzip at all.
    case corruptGzip(String)
    /// Decompressed data would exceed the safety limit (protects against gzip bombs).
    case decompressedTooLarge(limit: Int)
    /// The vocabulary bytes are not valid UTF-8.
    case notUTF8(String)
    /// The vocabulary has no entries.
    case emptyVocabulary(String)
    /// The BPE merges list is shorter than the CLIP vocabulary requires.
    case tooFewMerges(found: Int, required: Int)
    /// A merges line is not two space-separated symbols.
    case malformedMerge(line: Int, text: String)
    /// A token the tokenizer relies on (e.g. `[CLS]`) is missing from the vocabulary.
    case missingSpecialToken(String)

    public var description: String {
        switch self {
        case .fileUnreadable(let path, let reason): return "cannot read vocabulary file \(path): \(reason)"
        case .corruptGzip(let why): return "corrupt gzip vocabulary: \(why)"
        case .decompressedTooLarge(let limit): return "decompressed vocabulary exceeds \(limit) bytes"
        case .notUTF8(let what): return "vocabulary \(what) is not valid UTF-8"
        case .emptyVocabulary(let what): return "vocabulary \(what) is empty"
        case .tooFewMerges(let found, let required): return "BPE vocabulary has \(found) merges, \(required) required"
        case .malformedMerge(let line, let text): return "malformed BPE merge on line \(line): \(text.debugDescription)"
        case .missingSpecialToken(let token): return "vocabulary lacks the special token \(token)"
        }
    }
}
