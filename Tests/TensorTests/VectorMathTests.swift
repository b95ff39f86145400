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
        XCTAssertLessThan(worst, 3e-7, "max abs error \(worst)")
    }

    func testTailShorterThanAVector() {
        var xs: [Float] = [0, 1, 2]
        xs.withUnsafeMutableBufferPointer { VectorMath.map($0.baseAddress!, count: 3, VectorMath.exp) }
        XCTAssertEqual(Double(xs[2]), exp(2.0), accuracy: 1e-5)
    }
}
