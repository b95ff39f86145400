import XCTest
@testable import Tensor

/// fp16 storage must be exact where IEEE says it is: every half widens to the float of
/// the same value, and narrowing rounds to nearest even exactly as Swift's `Float16` does.
final class HalfTensorTests: XCTestCase {
    /// Widens every one of the 65,536 bit patterns and narrows it back.
    func testEveryHalfRoundTrips() throws {
        let bits = (0...UInt16.max).map { $0 }
        let storage = bits.withUnsafeBufferPointer { HalfStorage(borrowing: $0.baseAddress!, count: bits.count, owner: self) }
        let half = HalfTensor(shape: [bits.count], storage: storage)
        let widened = half.widened()
        for (i, b) in bits.enumerated() {
            let expected = Float(Float16(bitPattern: b))
            let got = widened[flat: i]
            if expected.isNaN { XCTAssertTrue(got.isNaN, "bits \(b)"); continue }
            XCTAssertEqual(got.bitPattern, expected.bitPattern, "bits \(String(b, radix: 16))")
        }
        // The same patterns one at a time: the portable loop that handles vector tails
        // (and CPUs without F16C) must agree too.
        for b in bits {
            let one = [b].withUnsafeBufferPointer { HalfTensor(shape: [1], storage: HalfStorage(borrowing: $0.baseAddress!, count: 1, owner: self)) }.widened()[flat: 0]
            let expected = Float(Float16(bitPattern: b))
            if expected.isNaN { XCTAssertTrue(one.isNaN); continue }
            if one.bitPattern != expected.bitPattern { XCTFail("scalar widening of \(String(b, radix: 16))"); break }
            var narrowed: UInt16 = 0
            let single = HalfTensor(narrowing: try Tensor([expected], shape: [1]))
            narrowed = single.storage.base[0]
            if narrowed != b { XCTFail("scalar narrowing of \(expected)"); break }
        }
        let back = HalfTensor(narrowing: widened)
        for (i, b) in bits.enumerated() where !Float(Float16(bitPattern: b)).isNaN {
            XCTAssertEqual(back.storage.base[i], b, "bits \(String(b, radix: 16))")
        }
    }

    /// Narrowing agrees with `Float16(Float)` on ties, subnormals, overflow and random
    /// values, on the vector path (8-wide blocks) and on the scalar tail (lengths 1…7).
    func testNarrowingRoundsLikeFloat16() throws {
        var values: [Float] = [0, -0, 1, -1, 65504, 65519.99, 65520, -65520, 1e9, .infinity, -.infinity,
                               6.1035156e-05, 5.9604645e-08, 2.9802322e-08, 2.9802326e-08, 8.940697e-08,
                               1 + 1.0 / 2048, 1 + 3.0 / 2048, 1.1920929e-07, Float.leastNonzeroMagnitude]
        var rng = SeededGenerator(seed: 7)
        for _ in 0..<4000 {
            let bits = UInt32(truncatingIfNeeded: rng.next())
            let f = Float(bitPattern: bits)
            if !f.isNaN { values.append(f) }
            values.append(Float(Int64(bitPattern: rng.next()) % 1_000_000) / 997)
        }
        for length in [values.count, 1, 3, 7] {
            let slice = Array(values.prefix(length))
            let half = HalfTensor(narrowing: try Tensor(slice, shape: [slice.count]))
            for (i, f) in slice.enumerated() {
                XCTAssertEqual(half.storage.base[i], Float16(f).bitPattern, "value \(f) (length \(length))")
            }
        }
    }

    func testNaNStaysNaN() throws {
        let half = HalfTensor(narrowing: try Tensor([.nan, -.nan, 1], shape: [3]))
        let back = half.widened()
        XCTAssertTrue(back[flat: 0].isNaN)
        XCTAssertTrue(back[flat: 1].isNaN)
        XCTAssertEqual(back[flat: 2], 1)
    }

    /// F16 tensors are borrowed from the mapping; F32 ones are narrowed into owned memory.
    func testSafeTensorsHalfReading() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("half-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let values: [Float] = (0..<37).map { Float($0) * 0.37 - 5 }
        let t = try Tensor(values, shape: [37])
        for precision in [SafeTensorsWriter.Precision.f32, .f16] {
            let path = dir.appendingPathComponent("\(precision).safetensors").path
            try SafeTensorsWriter.write([("w", t)], precision: precision, to: path)
            let file = try SafeTensorsFile(path: path)
            let half = try file.halfTensor("w")
            XCTAssertEqual(half.shape, [37])
            for i in 0..<37 { XCTAssertEqual(half.storage.base[i], Float16(values[i]).bitPattern) }
            XCTAssertEqual(half.widened().array, try file.tensor("w").array.map { Float(Float16($0)) })
        }
    }
}
