import Foundation
import Tensor

// Embedding, pooling, normalisation and prompt ops around the transformer, each with its
// backward. Parameter-free ops are static functions; their "cache" is what the caller
// already holds (inputs or outputs).

// MARK: - Patch embedding

/// Conv with stride = kernel over CHW images, as an im2col reshape plus one sgemm:
/// pixels `[B, C, S, S]` → tokens `[B·g², W]` with g = S/p, in the conv weight's
/// (channel, row, column) order, so a PyTorch `[W, C, p, p]` weight is used as `[W, C·p·p]`.
public final class PatchEmbedding: ParameterHolder, @unchecked Sendable {
    public let projection: Linear
    public let channels: Int
    public let patch: Int
    public var width: Int { projection.outFeatures }
    public var parameters: [Parameter] { projection.parameters }

    public final class Cache { let linear = Linear.Cache(); var pixelShape: [Int] = []; public init() {} }

    public init(name: String, channels: Int = 3, patch: Int, width: Int, bias: Bool = false, rng: inout TrainingRNG) {
        projection = Linear(name: name, inFeatures: channels * patch * patch, outFeatures: width, bias: bias, rng: &rng)
        self.channels = channels; self.patch = patch
    }

    /// Wraps a conv weight `[W, C, p, p]` (or already flattened `[W, C·p·p]`).
    public init(name: String, convWeight: Tensor, bias: Tensor?, channels: Int = 3, trainable: Bool = true) throws {
        guard convWeight.rank == 4 || convWeight.rank == 2, let w = convWeight.shape.first, w > 0 else {
            throw TrainingError.shapeMismatch("\(name): conv weight \(convWeight.shape)")
        }
        let flat = convWeight.count / w
        let p = Int(Double(flat / max(channels, 1)).squareRoot().rounded())
        guard channels * p * p == flat else { throw TrainingError.shapeMismatch("\(name): conv weight \(convWeight.shape) is not [W, \(channels), p, p]") }
        projection = try Linear(name: name, weight: try convWeight.reshaped([w, flat]), bias: bias, trainable: trainable)
        self.channels = channels; self.patch = p
    }

    func geometry(_ pixels: [Int]) throws -> (batch: Int, size: Int, grid: Int) {
        guard pixels.count == 4, pixels[1] == channels, pixels[2] == pixels[3], pixels[2] % patch == 0, pixels[2] > 0 else {
            throw TrainingError.shapeMismatch("patch embedding: pixels \(pixels), expected [B, \(channels), S, S] with S a multiple of \(patch)")
        }
        return (pixels[0], pixels[2], pixels[2] / patch)
    }

    public func forward(_ pixels: Tensor, cache: Cache? = nil) throws -> Tensor {
        let (batch, s, g) = try geometry(pixels.shape)
        let p = patch, pd = channels * p * p
        var cols = Tensor(zeros: [batch * g * g, pd])
        let src = pixels.pointer, dst = cols.mutablePointer
        for b in 0..<batch { for gy in 0..<g { for gx in 0..<g {
            var out = dst + ((b * g + gy) * g + gx) * pd
            for c in 0..<channels { for ky in 0..<p {
                out.update(from: src + ((b * channels + c) * s + gy * p + ky) * s + gx * p, count: p)
                out += p
            } }
        } } }
        cache?.pixelShape = pixels.shape
        return try projection.forward(cols, cache: cache?.linear)
    }

    /// Returns the pixel gradient `[B, C, S, S]` (col2im of the patch gradient).
    public func backward(_ dy: Tensor, cache: Cache) throws -> Tensor {
        let (batch, s, g) = try geometry(cache.pixelShape)
        let p = patch, pd = channels * p * p
        let dcols = try projection.backward(dy, cache: cache.linear)
        var dx = Tensor(zeros: cache.pixelShape)
        let src = dcols.pointer, dst = dx.mutablePointer
        for b in 0..<batch { for gy in 0..<g { for gx in 0..<g {
            var inp = src + ((b * g + gy) * g + gx) * pd
            for c in 0..<channels { for ky in 0..<p {
                (dst + ((b * channels + c) * s + gy * p + ky) * s + gx * p).update(from: inp, count: p)
                inp += p
            } }
        } } }
        return dx
    }
}

// MARK: - Token and position embeddings

/// Token embedding table `[V, W]`; backward scatters the gradient into the used rows.
public final class TokenEmbedding: ParameterHolder, @unchecked Sendable {
    public let table: Parameter
    public var parameters: [Parameter] { [table] }
    public var width: Int { table.shape[1] }

    public init(name: String, vocabulary: Int, width: Int, std: Float = 0.02, rng: inout TrainingRNG) {
        table = Parameter(name: name + ".weight", value: rng.normalTensor([vocabulary, width], std: std), weightDecay: false)
    }

    public init(name: String, table: Tensor, trainable: Bool = true) throws {
        guard table.rank == 2 else { throw TrainingError.shapeMismatch("\(name): table \(table.shape)") }
        self.table = Parameter(name: name + ".weight", value: table, trainable: trainable, weightDecay: false)
    }

    public func forward(_ ids: [Int]) throws -> Tensor {
        let v = table.shape[0], w = width
        var y = Tensor(zeros: [ids.count, w])
        let yp = y.mutablePointer
        for (t, id) in ids.enumerated() {
            guard id >= 0, id < v else { throw TrainingError.shapeMismatch("token id \(id) outside vocabulary of \(v)") }
            (yp + t * w).update(from: table.value.pointer + id * w, count: w)
        }
        return y
    }

    /// Accumulates `dy` rows into the table rows of `ids` (no input gradient: ids are discrete).
    public func backward(_ dy: Tensor, ids: [Int]) throws {
        let w = width
        try checkSame(dy, [ids.count, w], table.name)
        guard let g = table.gradPointer else { return }
        for (t, id) in ids.enumerated() { Ops.addInPlace(g + id * w, dy.pointer + t * w, count: w) }
    }
}

/// Learned absolute positions `[maxSeq, W]` added to every sequence of a block.
public final class PositionEmbedding: ParameterHolder, @unchecked Sendable {
    public let table: Parameter
    public var parameters: [Parameter] { [table] }

    public init(name: String, positions: Int, width: Int, std: Float = 0.01, rng: inout TrainingRNG) {
        table = Parameter(name: name, value: rng.normalTensor([positions, width], std: std), weightDecay: false)
    }

    public init(name: String, table: Tensor, trainable: Bool = true) throws {
        guard table.rank == 2 else { throw TrainingError.shapeMismatch("\(name): table \(table.shape)") }
        self.table = Parameter(name: name, value: table, trainable: trainable, weightDecay: false)
    }

    /// x `[batch·seq, W]` + positions 0..<seq for each sequence.
    public func forward(_ x: Tensor, batch: Int, seq: Int) throws -> Tensor {
        let w = table.shape[1]
        guard seq <= table.shape[0] else { throw TrainingError.shapeMismatch("\(seq) positions, table has \(table.shape[0])") }
        try checkSame(x, [batch * seq, w], table.name)
        var y = x
        let yp = y.mutablePointer
        for b in 0..<batch { Ops.addInPlace(yp + b * seq * w, table.value.pointer, count: seq * w) }
        return y
    }

    /// Returns dx (= dy) and accumulates Σ_b dy[b] into the table.
    public func backward(_ dy: Tensor, batch: Int, seq: Int) throws -> Tensor {
        let w = table.shape[1]
        try checkSame(dy, [batch * seq, w], table.name)
        if let g = table.gradPointer { for b in 0..<batch { Ops.addInPlace(g, dy.pointer + b * seq * w, count: seq * w) } }
        return dy
    }
}

// MARK: - Prompt insertion

/// Puts prompt vectors into token sequences: `insert` makes each sequence P tokens longer
/// (shallow prompts after the start token, or a class token at 0); `replace` overwrites
/// positions at..<at+P (deep prompts at each layer). Prompts are `[P, W]` (shared by the
/// batch, e.g. a learned domain prompt) or `[B, P, W]` (per example, e.g. generated from
/// the dialog context).
public enum PromptInsertion {
    public enum Mode: Sendable { case insert, replace }

    static func check(_ x: Tensor, _ prompts: Tensor, batch: Int, seq: Int, at: Int, mode: Mode) throws -> (p: Int, w: Int, shared: Bool) {
        guard x.rank == 2, x.shape[0] == batch * seq else { throw TrainingError.shapeMismatch("prompt insertion: x \(x.shape), batch \(batch) × seq \(seq)") }
        let w = x.shape[1]
        let shared = prompts.rank == 2
        guard (shared && prompts.shape[1] == w) || (prompts.rank == 3 && prompts.shape[0] == batch && prompts.shape[2] == w) else {
            throw TrainingError.shapeMismatch("prompts \(prompts.shape) for batch \(batch), width \(w)")
        }
        let p = prompts.shape[prompts.rank - 2]
        let limit = mode == .insert ? seq : seq - p
        guard at >= 0, at <= limit else { throw TrainingError.shapeMismatch("prompt position \(at) with \(p) prompts in \(seq) tokens") }
        return (p, w, shared)
    }

    /// Output `[batch·seq', W]`, seq' = seq + P (insert) or seq (replace).
    public static func forward(_ x: Tensor, prompts: Tensor, batch: Int, seq: Int, at: Int, mode: Mode = .insert) throws -> Tensor {
        let (p, w, shared) = try check(x, prompts, batch: batch, seq: seq, at: at, mode: mode)
        let outSeq = mode == .insert ? seq + p : seq
        var y = Tensor(zeros: [batch * outSeq, w])
        let yp = y.mutablePointer, xp = x.pointer
        for b in 0..<batch {
            let dst = yp + b * outSeq * w, src = xp + b * seq * w
            let pr = prompts.pointer + (shared ? 0 : b * p * w)
            switch mode {
            case .insert:
                dst.update(from: src, count: at * w)
                (dst + at * w).update(from: pr, count: p * w)
                (dst + (at + p) * w).update(from: src + at * w, count: (seq - at) * w)
            case .replace:
                dst.update(from: src, count: seq * w)
                (dst + at * w).update(from: pr, count: p * w)
            }
        }
        return y
    }

    /// Splits the output gradient into the sequence gradient `[batch·seq, W]` and the prompt
    /// gradient (shape of `prompts`; summed over the batch when shared).
    public static func backward(_ dy: Tensor, promptShape: [Int], batch: Int, seq: Int, at: Int, mode: Mode = .insert) throws -> (dx: Tensor, dPrompts: Tensor) {
        let shared = promptShape.count == 2
        guard promptShape.count == 2 || promptShape.count == 3 else { throw TrainingError.shapeMismatch("prompt shape \(promptShape)") }
        let p = promptShape[promptShape.count - 2], w = promptShape.last!
        let outSeq = mode == .insert ? seq + p : seq
        try checkSame(dy, [batch * outSeq, w], "prompt insertion backward")
        var dx = Tensor(zeros: [batch * seq, w])
        var dp = Tensor(zeros: promptShape)
        let dxp = dx.mutablePointer, dpp = dp.mutablePointer, g = dy.pointer
        for b in 0..<batch {
            let src = g + b * outSeq * w, dst = dxp + b * seq * w
            let pd = dpp + (shared ? 0 : b * p * w)
            Ops.addInPlace(pd, src + at * w, count: p * w)
            switch mode {
            case .insert:
                dst.update(from: src, count: at * w)
                (dst + at * w).update(from: src + (at + p) * w, count: (seq - at) * w)
            case .replace:
                dst.update(from: src, count: at * w)
                (dst + (at + p) * w).update(from: src + (at + p) * w, count: (seq - at - p) * w)
            }
        }
        return (dx, dp)
    }
}

// MARK: - Pooling and normalisation

/// Mean over the first `lengths[b]` tokens of each sequence (padding excluded).
public enum MeanPooling {
    static func check(_ x: Tensor, batch: Int, seq: Int, lengths: [Int]?) throws -> Int {
        guard x.rank == 2, x.shape[0] == batch * seq else { throw TrainingError.shapeMismatch("mean pooling: x \(x.shape), batch \(batch) × seq \(seq)") }
        if let l = lengths {
            guard l.count == batch, l.allSatisfy({ $0 >= 1 && $0 <= seq }) else {
                throw TrainingError.shapeMismatch("mean pooling: lengths \(l) for \(batch) sequences of \(seq)")
            }
        }
        return x.shape[1]
    }

    public static func forward(_ x: Tensor, batch: Int, seq: Int, lengths: [Int]? = nil) throws -> Tensor {
        let w = try check(x, batch: batch, seq: seq, lengths: lengths)
        var y = Tensor(zeros: [batch, w])
        let yp = y.mutablePointer
        for b in 0..<batch {
            let n = lengths?[b] ?? seq
            let o = yp + b * w
            for t in 0..<n { Ops.addInPlace(o, x.pointer + (b * seq + t) * w, count: w) }
            let inv = 1 / Float(n)
            for i in 0..<w { o[i] *= inv }
        }
        return y
    }

    public static func backward(_ dy: Tensor, batch: Int, seq: Int, lengths: [Int]? = nil) throws -> Tensor {
        guard dy.rank == 2, dy.shape[0] == batch else { throw TrainingError.shapeMismatch("mean pooling backward: \(dy.shape)") }
        let w = dy.shape[1]
        var dx = Tensor(zeros: [batch * seq, w])
        let dxp = dx.mutablePointer
        for b in 0..<batch {
            let n = lengths?[b] ?? seq
            guard n >= 1, n <= seq else { throw TrainingError.shapeMismatch("mean pooling: length \(n) of \(seq)") }
            let inv = 1 / Float(n)
            for t in 0..<n { let o = dxp + (b * seq + t) * w; for i in 0..<w { o[i] = dy.pointer[b * w + i] * inv } }
        }
        return dx
    }
}

/// Picks one token per sequence (CLIP: the EOT token for text, the class token for images).
public enum TokenSelect {
    public static func forward(_ x: Tensor, batch: Int, seq: Int, positions: [Int]) throws -> Tensor {
        guard x.rank == 2, x.shape[0] == batch * seq, positions.count == batch,
              positions.allSatisfy({ $0 >= 0 && $0 < seq }) else {
            throw TrainingError.shapeMismatch("token select: x \(x.shape), positions \(positions), seq \(seq)")
        }
        let w = x.shape[1]
        var y = Tensor(zeros: [batch, w])
        for b in 0..<batch { (y.mutablePointer + b * w).update(from: x.pointer + (b * seq + positions[b]) * w, count: w) }
        return y
    }

    public static func backward(_ dy: Tensor, batch: Int, seq: Int, positions: [Int]) throws -> Tensor {
        guard dy.rank == 2, dy.shape[0] == batch, positions.count == batch, positions.allSatisfy({ $0 >= 0 && $0 < seq }) else {
            throw TrainingError.shapeMismatch("token select backward: \(dy.shape), positions \(positions)")
        }
        let w = dy.shape[1]
        var dx = Tensor(zeros: [batch * seq, w])
        for b in 0..<batch { (dx.mutablePointer + (b * seq + positions[b]) * w).update(from: dy.pointer + b * w, count: w) }
        return dx
    }
}

/// Row-wise L2 normalisation `y = x/‖x‖`; backward `dx = (dy − y·(y·dy))/‖x‖`.
/// Zero rows stay zero and get zero gradient.
public enum L2Normalize {
    /// Returns the normalised rows and the norms (keep both for backward).
    public static func forward(_ x: Tensor) throws -> (y: Tensor, norms: [Float]) {
        guard let d = x.shape.last, d > 0 else { throw TrainingError.shapeMismatch("l2 normalise: \(x.shape)") }
        let rows = x.count / d
        var y = x
        let yp = y.mutablePointer
        var norms = [Float](repeating: 0, count: rows)
        for r in 0..<rows {
            let row = yp + r * d
            var s: Float = 0
            for i in 0..<d { s += row[i] * row[i] }
            let n = s.squareRoot()
            norms[r] = n
            if n > 0 { let inv = 1 / n; for i in 0..<d { row[i] *= inv } }
        }
        return (y, norms)
    }

    public static func backward(_ dy: Tensor, y: Tensor, norms: [Float]) throws -> Tensor {
        try checkSame(dy, y.shape, "l2 normalise backward")
        let d = y.shape.last ?? 1
        var dx = Tensor(zeros: y.shape)
        let o = dx.mutablePointer
        for r in 0..<norms.count where norms[r] > 0 {
            let yr = y.pointer + r * d, gr = dy.pointer + r * d, out = o + r * d
            var dot: Float = 0
            for i in 0..<d { dot += yr[i] * gr[i] }
            let inv = 1 / norms[r]
            for i in 0..<d { out[i] = (gr[i] - yr[i] * dot) * inv }
        }
        return dx
    }
}
