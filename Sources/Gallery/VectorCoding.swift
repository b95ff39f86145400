import Foundation

/// Embedding BLOB layout: little-endian fp32 or IEEE-754 binary16 values, `dim` of them,
/// no header (the dtype lives in its own column, the dimension in the model row, and the
/// BLOB length is checked against both when loading).
enum VectorCoding {
    static func encode(_ v: [Float], as storage: EmbeddingStorage) -> Data {
        switch storage {
        case .fp32:
            var out = Data(count: v.count * 4)
            out.withUnsafeMutableBytes { raw in
                for (i, x) in v.enumerated() { raw.storeBytes(of: x.bitPattern.littleEndian, toByteOffset: i * 4, as: UInt32.self) }
            }
            return out
        case .fp16:
            var out = Data(count: v.count * 2)
            out.withUnsafeMutableBytes { raw in
                for (i, x) in v.enumerated() { raw.storeBytes(of: halfBits(x).littleEndian, toByteOffset: i * 2, as: UInt16.self) }
            }
            return out
        }
    }

    /// Decodes into `out` (dim values); false when the BLOB length does not match.
    static func decode(_ data: Data, storage: EmbeddingStorage, dim: Int, into out: UnsafeMutablePointer<Float>) -> Bool {
        guard data.count == dim * storage.bytesPerValue else { return false }
        data.withUnsafeBytes { raw in
            switch storage {
            case .fp32:
                for i in 0..<dim {
                    out[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
                }
            case .fp16:
                for i in 0..<dim {
                    out[i] = floatFromHalf(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)))
                }
            }
        }
        return true
    }

    static func decode(_ data: Data, storage: EmbeddingStorage, dim: Int) -> [Float]? {
        var v = [Float](repeating: 0, count: dim)
        let ok = v.withUnsafeMutableBufferPointer { decode(data, storage: storage, dim: dim, into: $0.baseAddress!) }
        return ok ? v : nil
    }

    /// fp32 → binary16 bits, round to nearest even; overflow → ±inf, NaN stays NaN.
    /// (Written out rather than using `Float16`, which Intel macOS lacks.)
    static func halfBits(_ f: Float) -> UInt16 {
        let x = f.bitPattern
        let sign = UInt16((x >> 16) & 0x8000)
        let exp = Int((x >> 23) & 0xFF)
        var mant = x & 0x7F_FFFF
        if exp == 0xFF { return sign | 0x7C00 | (mant != 0 ? 0x200 : 0) }
        var e = exp - 127 + 15
        if e >= 0x1F { return sign | 0x7C00 }
        if e <= 0 {
            if e < -10 { return sign }
            mant |= 0x80_0000
            let shift = UInt32(14 - e)
            var h = mant >> shift
            let rem = mant & ((1 << shift) - 1), half = UInt32(1) << (shift - 1)
            if rem > half || (rem == half && (h & 1) == 1) { h += 1 }
            return sign | UInt16(h)
        }
        var h = mant >> 13
        let rem = mant & 0x1FFF
        if rem > 0x1000 || (rem == 0x1000 && (h & 1) == 1) {
            h += 1
            if h == 0x400 { h = 0; e += 1; if e >= 0x1F { return sign | 0x7C00 } }
        }
        return sign | UInt16(e << 10) | UInt16(h)
    }

    /// binary16 bits → fp32 (exact).
    static func floatFromHalf(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exp = Int((h >> 10) & 0x1F)
        var mant = UInt32(h & 0x3FF)
        if exp == 0 {
            if mant == 0 { return Float(bitPattern: sign) }
            var e = -14
            while mant & 0x400 == 0 { mant <<= 1; e -= 1 }
            mant &= 0x3FF
            return Float(bitPattern: sign | UInt32(e + 127) << 23 | mant << 13)
        }
        if exp == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | mant << 13) }
        return Float(bitPattern: sign | UInt32(exp - 15 + 127) << 23 | mant << 13)
    }
}
