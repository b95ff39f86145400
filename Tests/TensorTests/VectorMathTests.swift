import XCTest
import Foundation
@testable import Tensor

/// The vectorised exp/erf against libm over their whole useful range.
final class VectorMathTests: XCTestCase {
    func sweep(_ lo: Float, _ hi: Float, _ n: Int) -> [Float] { (0..<n).map { lo + (hi - lo) * Float($0) / Float(n - 1) } }

    func testExpRelativeError() {
        var xs = sweep(-87, 88, 200_001)
        let ref = xs.map { Foundation.exp(Double($0)) }
        xs.withUnsafeMutableBufferPointer { VectorMath.map($0.baseAddress!, count: $0.count, VectorMath.exp) }
        var worst = 0.0
        for (i, r) in ref.enumerated() { worst = max(worst, abs(Double(xs[i]) - r) / r) }
        XCTAssertLessThan(worst, 5e-7, "max relative error \(worst)")
    }

    func testExpEdgeCases() {
        var xs: [Float] = [-1000, -88, 0, 89, 1000, .infinity, -.infinity, .nan, 1, -1, 1e-8]
        xs.withUnsafeMutableBufferPointer { VectorMath.map($0.baseAddress!, count: $0.count, VectorMath.exp) }
        XCTAssertEqual(xs[0], 0)
        XCTAssertEqual(xs[2], 1)
        XCTAssertEqual(xs[4], .infinity)
        XCTAssertEqual(xs[5], .infinity)
        XCTAssertEqual(xs[6], 0)
        XCTAssertTrue(xs[7].isNaN)
        XCTAssertEqual(Double(xs[8]), M_E, accuracy: 1e-6)
    }

    func testErfAbsoluteError() {
        var xs = sweep(-6, 6, 120_001)
        let ref = xs.map { Foundation.erf(Double($0)) }
        xs.withUnsafeMutableBufferPointer { VectorMath.map($0.baseAddress!, count: $0.count, VectorMath.erf) }
        var worst = 0.0
        for (i, r) in ref.enumerated() { worst = max(worst, abs(Double(xs[i]) - r)) }
        // ~7 ulp of 1 near ±1; GELU's golden tolerance (1e-4 relative) is far above it.
        XCTAssertLessThan(worst, 5e-7, "max abs error \(worst)")
    }

    func testErfEdgeCases() {
        var xs: [Float] = [0, -0.0, .infinity, -.infinity, .nan, 1e-30, -1e-30, 10, -10]
        xs.withUnsafeMutableBufferPointer { VectorMath.map($0.baseAddress!, count: $0.count, VectorMath.erf) }
        XCTAssertEqual(xs[0], 0)
        XCTAssertEqual(xs[2], 1, accuracy: 1e-6)
        XCTAssertEqual(xs[3], -1, accuracy: 1e-6)
        XCTAssertTrue(xs[4].isNaN)
        XCTAssertEqual(Double(xs[5]), 1e-30 * 2 / Double.pi.squareRoot(), accuracy: 1e-36)
        XCTAssertEqual(xs[7], 1, accuracy: 1e-6)
        XCTAssertEqual(xs[8], -1, accuracy: 1e-6)
        XCTAssertEqual(xs[5], -xs[6], "odd")
    }

    /// The reductions against plain double loops, at lengths around every vector boundary.
    func testReductionsAtEveryTailLength() {
        var rng = SystemRandomNumberGenerator()
        for count in [0, 1, 15, 16, 17, 28, 31, 32, 63, 64, 65, 384, 1000] {
            let xs = (0..<count).map { _ in Float.random(in: -3...3, using: &rng) }
            let sum = xs.reduce(0.0) { $0 + Double($1) }
            let center: Float = 0.25
            let squares = xs.reduce(0.0) { $0 + Double($1 - center) * Double($1 - center) }
            xs.withUnsafeBufferPointer { p in
                let base = p.baseAddress ?? UnsafePointer(bitPattern: 16)!
                XCTAssertEqual(Double(VectorMath.sum(base, count: count)), sum, accuracy: 1e-4, "sum of \(count)")
                XCTAssertEqual(Double(VectorMath.sumOfSquaredDeviations(base, count: count, from: center)), squares,
                               accuracy: 1e-3, "squares of \(count)")
                XCTAssertEqual(VectorMath.maximum(base, count: count), xs.max() ?? -.infinity, "max of \(count)")
            }
            var scaled = xs
            scaled.withUnsafeMutableBufferPointer { VectorMath.scale($0.baseAddress ?? UnsafeMutablePointer(bitPattern: 16)!, count: count, by: -2) }
            XCTAssertEqual(scaled, xs.map { $0 * -2 })
            var mapped = xs
            mapped.withUnsafeMutableBufferPointer { VectorMath.map($0.baseAddress ?? UnsafeMutablePointer(bitPattern: 16)!, count: count) { $0 + 1 } }
            XCTAssertEqual(mapped, xs.map { $0 + 1 }, "map touches exactly \(count) values")
        }
    }

    func testTailShorterThanAVector() {
        var xs: [Float] = [0, 1, 2]
        xs.withUnsafeMutableBufferPointer { VectorMath.map($0.baseAddress!, count: 3, VectorMath.exp) }
        XCTAssertEqual(Double(xs[2]), exp(2.0), accuracy: 1e-5)
    }
}
