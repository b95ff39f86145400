/// Vectorised transcendental functions for the element-wise passes (quick-GELU, GELU,
/// softmax). Scalar `expf` costs ~10 ns; a ViT-B/32 forward calls it ~2 M times per image
/// in quick-GELU alone, so these run 16 lanes at a time with a few ulp of error.
public enum VectorMath {
    public typealias V = SIMD16<Float>

    /// e^x for each lane: x = n·ln2 + r with |r| ≤ ln2/2, e^r by a degree-6 polynomial,
    /// scaled by 2^n through the exponent bits. Relative error ≲ 2e-7 on [−87, 88];
    /// below −87 the result flushes to 0, above 88 it saturates to +inf.
    @inline(__always)
    public static func exp(_ x: V) -> V {
        // Note: SIMD `clamped`, `pointwiseMin/Max` and `replace(with: scalar, …)` compile to
        // lane-by-lane loops (10× slower); mask selects with vector operands stay vectorised.
        let hi = V(repeating: 88.7), lo = V(repeating: -87.3)
        let clamped = x.replacing(with: hi, where: x .> hi).replacing(with: lo, where: x .< lo)
        // Round to nearest with the 1.5·2²³ trick: adding it pushes the fraction out of the
        // mantissa, so (t + magic) − magic is t rounded, and the low mantissa bits of
        // (t + magic) hold the integer itself (generic SIMD int conversions are slow).
        let magic = V(repeating: 12_582_912)
        let shifted = clamped * 1.442_695_040_888_963_4 + magic
        let n = shifted - magic
        // Cody–Waite reduction with ln2 split in two for accuracy.
        var r = clamped - n * 0.693_145_751_953_125
        r = r - n * 1.428_606_765_330_187_045e-6
        var p = V(repeating: 1.0 / 720)
        p = p * r + 1.0 / 120
        p = p * r + 1.0 / 24
        p = p * r + 1.0 / 6
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        let integer = unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- unsafeBitCast(magic, to: SIMD16<Int32>.self)
        let bits = (integer &+ 127) &<< 23
        return (p * unsafeBitCast(bits, to: V.self))
            .replacing(with: V(repeating: 0), where: x .< lo)
            .replacing(with: V(repeating: .infinity), where: x .> hi)
            .replacing(with: x, where: x .!= x)   // NaN stays NaN
    }

    /// erf for each lane: one rational function x·P(x²)/Q(x²) on [−4, 4] (degree 6 over
    /// degree 4, the approximation Eigen and XLA use), clamped outside where erf is ±1 to
    /// fp32. One division and no exp: GELU was 13 % of a MiniLM forward with the two-branch
    /// Cody form. Max abs error 4.5e-7 against libm's double erf (the approximation itself
    /// is 6.5e-8; the rest is fp32 rounding near ±1).
    @inline(__always)
    public static func erf(_ x: V) -> V {
        let hi = V(repeating: 4), lo = V(repeating: -4)
        let c = x.replacing(with: hi, where: x .> hi).replacing(with: lo, where: x .< lo)
        let z = c * c
        var p = V(repeating: -2.72614225801306e-10)
        p = p * z + 2.77068142495902e-08
        p = p * z - 2.10102402082508e-06
        p = p * z - 5.69250639462346e-05
        p = p * z - 7.34990630326855e-04
        p = p * z - 2.95459980854025e-03
        p = p * z - 1.60960333262415e-02
        var q = V(repeating: -1.45660718464996e-05)
        q = q * z - 2.13374055278905e-04
        q = q * z - 1.68282697438203e-03
        q = q * z - 7.37332916720468e-03
        q = q * z - 1.42647390514189e-02
        return (c * p / q).replacing(with: x, where: x .!= x)   // NaN stays NaN
    }

    /// Applies `f` to `count` floats in place, 16 at a time (the tail padded).
    @inline(__always)
    public static func map(_ x: UnsafeMutablePointer<Float>, count: Int, _ f: (V) -> V) {
        var i = 0
        while i + 16 <= count {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: V.self)
            UnsafeMutableRawPointer(x + i).storeBytes(of: f(v), as: V.self)
            i += 16
        }
        if i < count {
            // Through memory: assigning lanes one by one by index compiles to a slow chain
            // (the tail is most of a 28-wide attention row).
            let bytes = (count - i) * MemoryLayout<Float>.stride
            var tail = V(repeating: 0)
            withUnsafeMutableBytes(of: &tail) { $0.baseAddress!.copyMemory(from: x + i, byteCount: bytes) }
            let r = f(tail)
            withUnsafeBytes(of: r) { UnsafeMutableRawPointer(x + i).copyMemory(from: $0.baseAddress!, byteCount: bytes) }
        }
    }
    /// Σ x[i]. Four vector accumulators: a scalar loop is one long chain of dependent
    /// adds (strict fp32 order, so the compiler cannot vectorise it).
    @inline(__always)
    public static func sum(_ x: UnsafePointer<Float>, count: Int) -> Float {
        var a0 = V(repeating: 0), a1 = V(repeating: 0), a2 = V(repeating: 0), a3 = V(repeating: 0)
        var i = 0
        while i + 64 <= count {
            a0 += load(x + i); a1 += load(x + i + 16); a2 += load(x + i + 32); a3 += load(x + i + 48)
            i += 64
        }
        while i + 16 <= count { a0 += load(x + i); i += 16 }
        var total = ((a0 + a1) + (a2 + a3)).sum()
        while i < count { total += x[i]; i += 1 }
        return total
    }

    /// Σ (x[i] − center)², vectorised like `sum`.
    @inline(__always)
    public static func sumOfSquaredDeviations(_ x: UnsafePointer<Float>, count: Int, from center: Float) -> Float {
        let c = V(repeating: center)
        var a0 = V(repeating: 0), a1 = V(repeating: 0)
        var i = 0
        while i + 32 <= count {
            let d0 = load(x + i) - c, d1 = load(x + i + 16) - c
            a0 += d0 * d0; a1 += d1 * d1
            i += 32
        }
        while i + 16 <= count { let d = load(x + i) - c; a0 += d * d; i += 16 }
        var total = (a0 + a1).sum()
        while i < count { let d = x[i] - center; total += d * d; i += 1 }
        return total
    }

    /// max x[i] (−inf for an empty range); NaNs are skipped like the scalar `>` scan.
    @inline(__always)
    public static func maximum(_ x: UnsafePointer<Float>, count: Int) -> Float {
        var m = V(repeating: -.infinity)
        var i = 0
        while i + 16 <= count { let v = load(x + i); m = m.replacing(with: v, where: v .> m); i += 16 }
        var best = -Float.infinity
        for lane in 0..<16 where m[lane] > best { best = m[lane] }
        while i < count { if x[i] > best { best = x[i] }; i += 1 }
        return best
    }

    /// x[i] *= factor.
    @inline(__always)
    public static func scale(_ x: UnsafeMutablePointer<Float>, count: Int, by factor: Float) {
        let f = V(repeating: factor)
        var i = 0
        while i + 16 <= count { store(load(x + i) * f, x + i); i += 16 }
        while i < count { x[i] *= factor; i += 1 }
    }

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }

    @inline(__always)
    static func store(_ v: V, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self) }
}
