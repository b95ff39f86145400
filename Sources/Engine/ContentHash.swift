import Foundation

/// FNV-1a 64-bit: a fast, dependency-free fingerprint for cache keys (not for security).
public enum ContentHash {
    public static func fnv1a64<S: Sequence>(_ bytes: S, seed: UInt64 = 0xCBF2_9CE4_8422_2325) -> UInt64 where S.Element == UInt8 {
        var h = seed
        for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return h
    }

    public static func hex(_ value: UInt64) -> String { String(format: "%016llx", value) }

    /// Fingerprint of a model file from its size and its first and last MiB (cheap even
    /// for 600 MB checkpoints; a changed tensor changes the header or the data ends).
    public static func fileFingerprint(path: String) throws -> String {
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        let size = try handle.seekToEnd()
        try handle.seek(toOffset: 0)
        var h = fnv1a64(withUnsafeBytes(of: size.littleEndian) { Array($0) })
        h = fnv1a64(try handle.read(upToCount: 1 << 20) ?? Data(), seed: h)
        if size > 2 << 20 {
            try handle.seek(toOffset: size - (1 << 20))
            h = fnv1a64(try handle.read(upToCount: 1 << 20) ?? Data(), seed: h)
        }
        return hex(h)
    }
}
