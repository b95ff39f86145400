import CZlib
import Foundation

/// gunzip through the system zlib. Used for the bundled CLIP merges file.
public enum Gzip {
    /// Upper bound on decompressed output; the CLIP merges file is ~1.6 MB, so 64 MB leaves room
    /// for any honest vocabulary while refusing gzip bombs.
    public static let maximumOutputBytes = 64 << 20

    /// Decompresses a complete gzip stream (single member; trailing members are also accepted).
    /// Throws `TokenizerError.corruptGzip` on bad headers, checksums or truncation.
    public static func decompress(_ data: Data, limit: Int = maximumOutputBytes) throws -> Data {
        guard data.count >= 18, data[data.startIndex] == 0x1F, data[data.startIndex + 1] == 0x8B else {
            throw TokenizerError.corruptGzip("missing gzip header")
        }
        var stream = z_stream()
        // 16 + MAX_WBITS: expect a gzip wrapper (not raw zlib).
        var rc = inflateInit2_(&stream, 16 + MAX_WBITS, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard rc == Z_OK else { throw TokenizerError.corruptGzip("inflateInit2 failed (\(rc))") }
        defer { inflateEnd(&stream) }

        var output = Data()
        let chunk = 1 << 16
        var buffer = [UInt8](repeating: 0, count: chunk)
        var input = [UInt8](data)
        let total = input.count
        var finished = false
        try input.withUnsafeMutableBufferPointer { inBuf in
            stream.next_in = inBuf.baseAddress
            stream.avail_in = uInt(total)
            while !finished {
                buffer.withUnsafeMutableBufferPointer { outBuf in
                    stream.next_out = outBuf.baseAddress
                    stream.avail_out = uInt(chunk)
                    rc = inflate(&stream, Z_NO_FLUSH)
                    let produced = chunk - Int(stream.avail_out)
                    if produced > 0 { output.append(outBuf.baseAddress!, count: produced) }
                }
                if output.count > limit { throw TokenizerError.decompressedTooLarge(limit: limit) }
                switch rc {
                case Z_STREAM_END:
                    // Concatenated gzip members are legal; continue if input remains.
                    if stream.avail_in > 0 {
                        guard inflateReset(&stream) == Z_OK else { throw TokenizerError.corruptGzip("inflateReset failed") }
                    } else {
                        finished = true
                    }
                case Z_OK:
                    continue
                case Z_BUF_ERROR:
                    // No progress possible although output space was free: the input ended early.
                    throw TokenizerError.corruptGzip("truncated stream")
                case Z_DATA_ERROR:
                    let msg = stream.msg.map { String(cString: $0) } ?? "data error"
                    throw TokenizerError.corruptGzip(msg)
                default:
                    throw TokenizerError.corruptGzip("inflate returned \(rc)")
                }
            }
        }
        return output
    }
}
