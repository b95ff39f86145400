import Models
import Tensor
@testable import Training
import XCTest

/// Wrapping a loaded Models `TransformerStack` must reproduce its inference forward, for
/// both q/k/v layouts and both norm placements (DialCLIP trains prompts through it).
final class ModelInteropTests: XCTestCase {
    func testWrappedStackMatchesModelsForward() throws {
        var rng = TrainingRNG(seed: 91)
        let w = 8, m = 16
        func t(_ s: [Int]) -> Tensor { rng.uniformTensor(s, bound: 0.5) }
        for norm in [NormPlacement.pre, .post] {
            for packed in [true, false] {
                let layers = (0..<2).map { _ in
                    TransformerLayerWeights(
                        norm1Weight: t([w]), norm1Bias: t([w]),
                        qkv: packed ? .packed(weight: t([3 * w, w]), bias: t([3 * w]))
                                    : .separate(q: t([w, w]), qBias: t([w]), k: t([w, w]), kBias: t([w]), v: t([w, w]), vBias: t([w])),
                        outWeight: t([w, w]), outBias: t([w]), norm2Weight: t([w]), norm2Bias: t([w]),
                        fcWeight: t([m, w]), fcBias: t([m]), projWeight: t([w, m]), projBias: t([w]))
                }
                let config = TransformerConfig(width: w, layers: 2, heads: 2, mlpWidth: m, activation: norm == .pre ? .quickGELU : .gelu,
                                               layerNormEps: 1e-5, norm: norm)
                let stack = TransformerStack(config: config, layers: layers)
                let x = t([2 * 5, w])
                var reference = x
                stack.forward(&reference, batch: 2, seq: 5, causal: norm == .pre, keyLengths: [5, 3])
                let wrapped = try Transformer(name: "text", stack: stack, trainable: false)
                XCTAssertTrue(wrapped.parameters.allSatisfy { !$0.trainable })
                let ours = try wrapped.forward(x, layout: AttentionLayout(batch: 2, seq: 5, causal: norm == .pre, keyLengths: [5, 3]))
                let err = zip(ours.array, reference.array).map { abs($0 - $1) }.max()!
                XCTAssertLessThanOrEqual(err, 1e-5, "norm \(norm), packed \(packed)")
            }
        }
    }
}
