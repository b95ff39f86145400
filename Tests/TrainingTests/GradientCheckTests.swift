import Models
import Tensor
@testable import Training
import XCTest

/// Every op and a whole 2-layer transformer, analytic backward (Float) against central
/// finite differences of a naive Double reference. Tolerances: see `gradTolerance`.
final class GradientCheckTests: XCTestCase {
    func assertPasses(_ r: GradCheckResult, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertLessThanOrEqual(r.worst, gradTolerance, "\(r)", file: file, line: line)
        XCTAssertLessThanOrEqual(r.forwardError, forwardTolerance, "\(r)", file: file, line: line)
        XCTAssertEqual(r.vacuous, [], "numeric gradient identically zero: \(r)", file: file, line: line)
        print("gradient check: \(r)")
    }

    // MARK: checks (also used by the mutation tests)

    static func linearCheck() throws -> GradCheckResult {
        var rng = TrainingRNG(seed: 1)
        let lin = Linear(name: "lin", inFeatures: 5, outFeatures: 4, rng: &rng)
        let x = tensor([6, 5], seed: 2)
        let cache = Linear.Cache()
        let y = try lin.forward(x, cache: cache)
        let (rt, r) = GradCheck.projection(y.count, seed: 3)
        let dx = try lin.backward(try rt.reshaped(y.shape), cache: cache)
        return GradCheck.run(params: lin.parameters, inputs: ["x": GradCheck.doubles(x)], output: y, analytic: ["x": dx],
                             naive: { v in Naive.linear(Mat(6, 5, v["x"]!), v["lin.weight"]!, v["lin.bias"]!, out: 4).v }, r: r)
    }

    static func layerNormCheck() throws -> GradCheckResult {
        let ln = LayerNorm(name: "norm", dim: 7)
        randomize(ln.parameters, seed: 4)
        let x = tensor([4, 7], seed: 5, bound: 2)
        let cache = LayerNorm.Cache()
        let y = try ln.forward(x, cache: cache)
        let (rt, r) = GradCheck.projection(y.count, seed: 6)
        let dx = try ln.backward(try rt.reshaped(y.shape), cache: cache)
        return GradCheck.run(params: ln.parameters, inputs: ["x": GradCheck.doubles(x)], output: y, analytic: ["x": dx],
                             naive: { v in Naive.layerNorm(Mat(4, 7, v["x"]!), v["norm.weight"]!, v["norm.bias"]!, eps: 1e-5).v }, r: r)
    }

    static func activationCheck(_ kind: Activation) throws -> GradCheckResult {
        let act = ActivationLayer(kind)
        let x = tensor([3, 10], seed: 7, bound: 3)
        let cache = ActivationLayer.Cache()
        let y = act.forward(x, cache: cache)
        let (rt, r) = GradCheck.projection(y.count, seed: 8)
        let dx = try act.backward(try rt.reshaped(y.shape), cache: cache)
        let f = Naive.activation(kind)
        return GradCheck.run(params: [], inputs: ["x": GradCheck.doubles(x)], output: y, analytic: ["x": dx],
                             naive: { v in v["x"]!.map(f) }, r: r)
    }

    static func attentionCheck(causal: Bool, keyLengths: [Int]?) throws -> GradCheckResult {
        let layout = AttentionLayout(batch: 2, seq: 5, causal: causal, keyLengths: keyLengths)
        let qkv = tensor([10, 24], seed: 9, bound: 1.5)
        let (out, probs) = try AttentionCore.forward(qkv: qkv, layout: layout, heads: 2)
        let (rt, r) = GradCheck.projection(out.count, seed: 10)
        let d = try AttentionCore.backward(gradOut: try rt.reshaped(out.shape), qkv: qkv, probs: probs, layout: layout, heads: 2)
        return GradCheck.run(params: [], inputs: ["qkv": GradCheck.doubles(qkv)], output: out, analytic: ["qkv": d],
                             naive: { v in Naive.attention(Mat(10, 24, v["qkv"]!), batch: 2, seq: 5, heads: 2,
                                                           causal: causal, keyLengths: keyLengths).v }, r: r)
    }

    static func blockCheck(norm: NormPlacement, activation: Activation) throws -> GradCheckResult {
        var rng = TrainingRNG(seed: 11)
        let block = try TransformerBlock(name: "blk", width: 8, heads: 2, mlpWidth: 16, activation: activation, norm: norm, rng: &rng)
        randomize(block.parameters, seed: 12)
        let layout = AttentionLayout(batch: 2, seq: 5, causal: true, keyLengths: [5, 3])
        let x = tensor([10, 8], seed: 13)
        let cache = TransformerBlock.Cache()
        let y = try block.forward(x, layout: layout, cache: cache)
        let (rt, r) = GradCheck.projection(y.count, seed: 14)
        let dx = try block.backward(try rt.reshaped(y.shape), cache: cache)
        let f = Naive.activation(activation)
        return GradCheck.run(params: block.parameters, inputs: ["x": GradCheck.doubles(x)], output: y, analytic: ["x": dx],
                             naive: { v in Naive.block(Mat(10, 8, v["x"]!), v, "blk", heads: 2, act: f, post: norm == .post,
                                                       batch: 2, seq: 5, causal: true, keyLengths: [5, 3]).v }, r: r)
    }

    /// prompts inserted after token 0 → positions → 2 pre-LN blocks → LN → masked mean
    /// pooling → L2 norm: 2 sequences × 5 tokens (+2 prompts) × width 8, 2 heads.
    static func transformerCheck(causal: Bool, keyLengths: [Int], frozen: Bool = false) throws -> (GradCheckResult, [Parameter], Transformer.Cache) {
        let batch = 2, seq = 5, w = 8, np = 2, seq2 = seq + np
        var rng = TrainingRNG(seed: 21)
        let tf = try Transformer(name: "tf", layers: 2, width: w, heads: 2, mlpWidth: 16, activation: .quickGELU, rng: &rng)
        let pos = PositionEmbedding(name: "pos", positions: seq2, width: w, rng: &rng)
        let norm = LayerNorm(name: "norm", dim: w)
        let prompts = Parameter(name: "prompts", value: Tensor(zeros: [np, w]))
        let params = tf.parameters + pos.parameters + norm.parameters + [prompts]
        randomize(params, seed: 22)
        if frozen { tf.setTrainable(false); pos.setTrainable(false); norm.setTrainable(false) }
        let layout = AttentionLayout(batch: batch, seq: seq2, causal: causal, keyLengths: keyLengths)
        let x = tensor([batch * seq, w], seed: 23)

        let cache = tf.makeCache(), normCache = LayerNorm.Cache()
        let h0 = try PromptInsertion.forward(x, prompts: prompts.value, batch: batch, seq: seq, at: 1)
        let h1 = try pos.forward(h0, batch: batch, seq: seq2)
        let h2 = try tf.forward(h1, layout: layout, cache: cache)
        let h3 = try norm.forward(h2, cache: normCache)
        let pooled = try MeanPooling.forward(h3, batch: batch, seq: seq2, lengths: keyLengths)
        let (y, norms) = try L2Normalize.forward(pooled)

        let (rt, r) = GradCheck.projection(y.count, seed: 24)
        var g = try L2Normalize.backward(try rt.reshaped(y.shape), y: y, norms: norms)
        g = try MeanPooling.backward(g, batch: batch, seq: seq2, lengths: keyLengths)
        g = try tf.backward(try norm.backward(g, cache: normCache), cache: cache)
        g = try pos.backward(g, batch: batch, seq: seq2)
        let (dx, dp) = try PromptInsertion.backward(g, promptShape: prompts.shape, batch: batch, seq: seq, at: 1)
        try accumulateGradient(dp, into: prompts)

        let result = GradCheck.run(params: params, inputs: ["x": GradCheck.doubles(x)], output: y, analytic: ["x": dx], naive: { v in
            var h = Mat(batch * seq2, w)
            let xs = v["x"]!, ps = v["prompts"]!, pe = v["pos"]!
            for b in 0..<batch { for t in 0..<seq2 { for i in 0..<w {
                let value: Double
                if t < 1 { value = xs[(b * seq + t) * w + i] }
                else if t < 1 + np { value = ps[(t - 1) * w + i] }
                else { value = xs[(b * seq + t - np) * w + i] }
                h[b * seq2 + t, i] = value + pe[t * w + i]
            } } }
            for l in 0..<2 {
                h = Naive.block(h, v, "tf.\(l)", heads: 2, act: Naive.quickGELU, post: false,
                                batch: batch, seq: seq2, causal: causal, keyLengths: keyLengths)
            }
            h = Naive.layerNorm(h, v["norm.weight"]!, v["norm.bias"]!, eps: 1e-5)
            return Naive.l2Normalize(Naive.meanPool(h, batch: batch, seq: seq2, lengths: keyLengths)).v
        }, r: r)
        return (result, params, cache)
    }

    // MARK: tests

    func testLinear() throws { assertPasses(try Self.linearCheck()) }
    func testLayerNorm() throws { assertPasses(try Self.layerNormCheck()) }
    func testQuickGELU() throws { assertPasses(try Self.activationCheck(.quickGELU)) }
    func testGELU() throws { assertPasses(try Self.activationCheck(.gelu)) }
    func testAttentionNoMask() throws { assertPasses(try Self.attentionCheck(causal: false, keyLengths: nil)) }
    func testAttentionCausal() throws { assertPasses(try Self.attentionCheck(causal: true, keyLengths: nil)) }
    func testAttentionPadding() throws { assertPasses(try Self.attentionCheck(causal: false, keyLengths: [5, 2])) }
    func testAttentionCausalAndPadding() throws { assertPasses(try Self.attentionCheck(causal: true, keyLengths: [3, 5])) }
    func testPreLNBlockQuickGELU() throws { assertPasses(try Self.blockCheck(norm: .pre, activation: .quickGELU)) }
    func testPostLNBlockGELU() throws { assertPasses(try Self.blockCheck(norm: .post, activation: .gelu)) }

    func testTwoLayerTransformerCausalPadding() throws {
        assertPasses(try Self.transformerCheck(causal: true, keyLengths: [7, 5]).0)
    }

    func testTwoLayerTransformerPaddingOnly() throws {
        assertPasses(try Self.transformerCheck(causal: false, keyLengths: [7, 4]).0)
    }

    /// Frozen mode: weights get no gradient buffers, no weight-gradient work and keep no
    /// inputs for it, while inputs and prompts still get exact gradients.
    func testFrozenTransformerGradientsFlowToInputsAndPrompts() throws {
        let (result, params, cache) = try Self.transformerCheck(causal: true, keyLengths: [7, 5], frozen: true)
        assertPasses(result)
        let trainable = params.filter(\.trainable).map(\.name)
        XCTAssertEqual(trainable, ["prompts"])
        for p in params where p.name != "prompts" {
            XCTAssertNil(p.gradPointer, p.name)
            XCTAssertEqual(p.grad.count, 0, p.name)
        }
        XCTAssertNil(cache.blocks[0].attn.qkvCache.input, "frozen linear kept its input")
        XCTAssertNil(cache.blocks[1].mlp.fc.input)
        let set = try ParameterSet(params)
        XCTAssertEqual(set.trainableCount, 16)
    }

    func testPatchEmbedding() throws {
        var rng = TrainingRNG(seed: 31)
        let pe = PatchEmbedding(name: "patch", channels: 3, patch: 2, width: 5, bias: true, rng: &rng)
        let pixels = tensor([2, 3, 4, 4], seed: 32)
        let cache = PatchEmbedding.Cache()
        let y = try pe.forward(pixels, cache: cache)
        XCTAssertEqual(y.shape, [8, 5])
        let (rt, r) = GradCheck.projection(y.count, seed: 33)
        let dx = try pe.backward(try rt.reshaped(y.shape), cache: cache)
        // Naive direct convolution with stride = kernel, weight read as [W, C, p, p].
        let result = GradCheck.run(params: pe.parameters, inputs: ["x": GradCheck.doubles(pixels)], output: y, analytic: ["x": dx], naive: { v in
            let px = v["x"]!, wt = v["patch.weight"]!, bs = v["patch.bias"]!
            var out = [Double]()
            for b in 0..<2 { for gy in 0..<2 { for gx in 0..<2 { for o in 0..<5 {
                var s = bs[o]
                for c in 0..<3 { for ky in 0..<2 { for kx in 0..<2 {
                    s += wt[((o * 3 + c) * 2 + ky) * 2 + kx] * px[((b * 3 + c) * 4 + gy * 2 + ky) * 4 + gx * 2 + kx]
                } } }
                out.append(s)
            } } } }
            return out
        }, r: r)
        assertPasses(result)
    }

    func testTokenAndPositionEmbedding() throws {
        var rng = TrainingRNG(seed: 41)
        let emb = TokenEmbedding(name: "tok", vocabulary: 6, width: 4, std: 0.5, rng: &rng)
        let pos = PositionEmbedding(name: "pos", positions: 4, width: 4, std: 0.5, rng: &rng)
        let ids = [1, 3, 1, 0, 5, 3]   // 2 sequences × 3, repeated ids accumulate
        let x = try emb.forward(ids)
        let y = try pos.forward(x, batch: 2, seq: 3)
        let (rt, r) = GradCheck.projection(y.count, seed: 42)
        try emb.backward(try pos.backward(try rt.reshaped(y.shape), batch: 2, seq: 3), ids: ids)
        let result = GradCheck.run(params: emb.parameters + pos.parameters, inputs: [:], output: y, analytic: [:], naive: { v in
            let t = v["tok.weight"]!, p = v["pos"]!
            var out = [Double]()
            for (k, id) in ids.enumerated() { for i in 0..<4 { out.append(t[id * 4 + i] + p[(k % 3) * 4 + i]) } }
            return out
        }, r: r)
        XCTAssertLessThanOrEqual(result.worst, gradTolerance, "\(result)")
        XCTAssertLessThanOrEqual(result.forwardError, forwardTolerance)
        // Rows 2 and 4 of the table are unused: exactly zero gradient.
        XCTAssertEqual(Array(emb.table.grad.array[8..<12]), [0, 0, 0, 0])
        XCTAssertThrowsError(try emb.forward([6]))
    }

    func testPromptInsertionModes() throws {
        for mode in [PromptInsertion.Mode.insert, .replace] {
            for perExample in [false, true] {
                let x = tensor([2 * 4, 3], seed: 51)
                let prompts = tensor(perExample ? [2, 2, 3] : [2, 3], seed: 52)
                let at = mode == .insert ? 1 : 2
                let y = try PromptInsertion.forward(x, prompts: prompts, batch: 2, seq: 4, at: at, mode: mode)
                let outSeq = mode == .insert ? 6 : 4
                XCTAssertEqual(y.shape, [2 * outSeq, 3])
                let (rt, r) = GradCheck.projection(y.count, seed: 53)
                let (dx, dp) = try PromptInsertion.backward(try rt.reshaped(y.shape), promptShape: prompts.shape,
                                                            batch: 2, seq: 4, at: at, mode: mode)
                let result = GradCheck.run(params: [], inputs: ["x": GradCheck.doubles(x), "p": GradCheck.doubles(prompts)],
                                           output: y, analytic: ["x": dx, "p": dp], naive: { v in
                    let xs = v["x"]!, ps = v["p"]!
                    var out = [Double]()
                    for b in 0..<2 {
                        var rows: [[Double]] = (0..<4).map { t in Array(xs[((b * 4 + t) * 3)..<((b * 4 + t) * 3 + 3)]) }
                        let pr: [[Double]] = (0..<2).map { k in
                            let base = (perExample ? b * 6 : 0) + k * 3
                            return Array(ps[base..<(base + 3)])
                        }
                        if mode == .insert { rows.insert(contentsOf: pr, at: at) } else { rows[at] = pr[0]; rows[at + 1] = pr[1] }
                        out += rows.flatMap { $0 }
                    }
                    return out
                }, r: r)
                XCTAssertLessThanOrEqual(result.worst, gradTolerance, "\(mode) perExample \(perExample): \(result)")
                XCTAssertLessThanOrEqual(result.forwardError, 0)
            }
        }
        XCTAssertThrowsError(try PromptInsertion.forward(tensor([8, 3], seed: 1), prompts: tensor([2, 3], seed: 2),
                                                         batch: 2, seq: 4, at: 3, mode: .replace))
    }

    func testMeanPoolingTokenSelectL2() throws {
        let x = tensor([2 * 4, 3], seed: 61)
        let lengths = [4, 2]
        let pooled = try MeanPooling.forward(x, batch: 2, seq: 4, lengths: lengths)
        let sel = try TokenSelect.forward(x, batch: 2, seq: 4, positions: [3, 1])
        let (yp, np) = try L2Normalize.forward(pooled)
        let (ys, ns) = try L2Normalize.forward(sel)
        let y = try Tensor.stack([yp, ys]).reshaped([4, 3])
        let (rt, r) = GradCheck.projection(12, seed: 62)
        let gp = try L2Normalize.backward(try Tensor(Array(rt.array[0..<6]), shape: [2, 3]), y: yp, norms: np)
        let gs = try L2Normalize.backward(try Tensor(Array(rt.array[6..<12]), shape: [2, 3]), y: ys, norms: ns)
        var dx = try MeanPooling.backward(gp, batch: 2, seq: 4, lengths: lengths)
        let dxs = try TokenSelect.backward(gs, batch: 2, seq: 4, positions: [3, 1])
        Ops.addInPlace(dx.mutablePointer, dxs.pointer, count: dx.count)
        let result = GradCheck.run(params: [], inputs: ["x": GradCheck.doubles(x)], output: y, analytic: ["x": dx], naive: { v in
            let m = Mat(8, 3, v["x"]!)
            let a = Naive.l2Normalize(Naive.meanPool(m, batch: 2, seq: 4, lengths: lengths)).v
            var s = Mat(2, 3)
            for i in 0..<3 { s[0, i] = m[3, i]; s[1, i] = m[5, i] }
            return a + Naive.l2Normalize(s).v
        }, r: r)
        assertPasses(result)
        // Padding tokens (sequence 1, positions 2, 3) get no gradient.
        XCTAssertEqual(Array(dx.array[18..<24]), [0, 0, 0, 0, 0, 0])
    }

    static func infoNCECheck(n: Int, m: Int, positives: [Bool]?, weights: [Float]?, logScale: Float) throws -> GradCheckResult {
        let a = tensor([n, 6], seed: 71), b = tensor([m, 6], seed: 72)
        let scale = LogitScale(initial: logScale)
        let res = try scale.loss(a: a, b: b, positives: positives, weights: weights)
        let pos = positives ?? (0..<(n * m)).map { $0 / m == $0 % m }
        let w = weights?.map(Double.init)
        return GradCheck.run(params: scale.parameters, inputs: ["a": GradCheck.doubles(a), "b": GradCheck.doubles(b)],
                             output: try Tensor([res.loss], shape: [1]), analytic: ["a": res.gradA, "b": res.gradB], naive: { v in
            [Naive.infoNCE(a: Mat(n, 6, v["a"]!), b: Mat(m, 6, v["b"]!), t: v["logit_scale"]![0], maxScale: 100, positives: pos, weights: w)]
        }, r: [1])
    }

    func testInfoNCEPlainLearnableScale() throws {
        assertPasses(try Self.infoNCECheck(n: 4, m: 4, positives: nil, weights: nil, logScale: logf(5)))
    }

    func testInfoNCEMultiPositiveWeighted() throws {
        var rng = TrainingRNG(seed: 73)
        let weights = (0..<25).map { _ in 1 + 0.6 * rng.uniform() }
        assertPasses(try Self.infoNCECheck(n: 5, m: 5, positives: InfoNCE.positiveMask(groups: [0, 1, 1, 2, 1]),
                                          weights: weights, logScale: logf(8)))
    }

    /// DCAR shape: 3 images, 3 captions + 2 extra same-category negative captions weighted 1+α.
    func testInfoNCERectangularCategoryNegatives() throws {
        var pos = [Bool](repeating: false, count: 15), weights = [Float](repeating: 1, count: 15)
        for i in 0..<3 { pos[i * 5 + i] = true; weights[i * 5 + 3] = 1.5; weights[i * 5 + 4] = 1.5 }
        assertPasses(try Self.infoNCECheck(n: 3, m: 5, positives: pos, weights: weights, logScale: logf(4)))
    }

    func testInfoNCEClosedFormAndClamp() throws {
        // Orthonormal A = B, s = 1: each direction's loss is log(e + 1) − 1 = log(1 + e⁻¹).
        let eye = try Tensor([1, 0, 0, 1], shape: [2, 2])
        let r = try InfoNCE.compute(a: eye, b: eye, logScale: 0)
        XCTAssertEqual(Double(r.loss), log(1 + exp(-1.0)), accuracy: 1e-6)
        // Above the clamp the scale is 100 and t gets no gradient.
        let a = tensor([3, 4], seed: 74), b = tensor([3, 4], seed: 75)
        let c = try InfoNCE.compute(a: a, b: b, logScale: logf(300))
        XCTAssertEqual(c.scale, 100)
        XCTAssertEqual(c.gradLogScale, 0)
        let ref = Naive.infoNCE(a: Mat(3, 4, GradCheck.doubles(a)), b: Mat(3, 4, GradCheck.doubles(b)), t: log(300.0),
                                maxScale: 100, positives: (0..<9).map { $0 / 3 == $0 % 3 }, weights: nil)
        XCTAssertEqual(Double(c.loss), ref, accuracy: 1e-4 * max(1, abs(ref)))
        // A row without positives is refused.
        XCTAssertThrowsError(try InfoNCE.compute(a: a, b: b, logScale: 0, positives: [Bool](repeating: false, count: 9)))
        // A fixed (frozen) scale gets no gradient buffer.
        let fixed = LogitScale(initial: logf(10), trainable: false)
        _ = try fixed.loss(a: a, b: b)
        XCTAssertNil(fixed.logScale.gradPointer)
    }

    // MARK: the checks can fail

    /// Each test-only fault corrupts one backward formula; the same check that passes above
    /// must then report an error far above the tolerance.
    func testGradientCheckCatchesCorruptedBackward() throws {
        defer { BackwardFaults.active = nil }
        let cases: [(BackwardFaults.Fault, () throws -> GradCheckResult)] = [
            (.layerNormMeanTerm, { try Self.layerNormCheck() }),
            (.linearWeightTranspose, { try Self.linearCheck() }),
            (.geluDerivative, { try Self.activationCheck(.gelu) }),
            (.softmaxJacobian, { try Self.attentionCheck(causal: true, keyLengths: [3, 5]) }),
        ]
        for (fault, check) in cases {
            BackwardFaults.active = fault
            let bad = try check()
            XCTAssertGreaterThan(bad.worst, 100 * gradTolerance, "fault \(fault) not caught: \(bad)")
            print("fault \(fault): \(bad)")
            BackwardFaults.active = nil
            XCTAssertLessThanOrEqual(try check().worst, gradTolerance)
        }
        // And in the whole transformer: a broken LayerNorm or softmax backward is caught there too.
        // (One fault suffices here; each formula's own check is above.)
        for fault in [BackwardFaults.Fault.softmaxJacobian] {
            BackwardFaults.active = fault
            let bad = try Self.transformerCheck(causal: true, keyLengths: [7, 5]).0
            XCTAssertGreaterThan(bad.worst, 100 * gradTolerance, "fault \(fault) not caught in the transformer: \(bad)")
            print("fault \(fault) in the transformer: \(bad)")
        }
    }
}
