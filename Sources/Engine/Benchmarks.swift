import Foundation
import Models
import Tensor

/// One row of `dialclip bench` (DESIGN.md section 8): our figure, the reference measured in
/// the same run, and the speedup (> 1 means dialclip is faster / better).
public struct BenchRow: Sendable {
    public var name: String
    public var ours: Double
    public var reference: String?
    public var referenceValue: Double?
    public var unit: String
    public var speedup: Double?
    public var note: String?

    public init(name: String, ours: Double, reference: String? = nil, referenceValue: Double? = nil,
                unit: String, speedup: Double? = nil, note: String? = nil) {
        self.name = name; self.ours = ours; self.reference = reference; self.referenceValue = referenceValue
        self.unit = unit; self.speedup = speedup; self.note = note
    }

    public var json: [String: Any] {
        var d: [String: Any] = ["name": name, "ours": ours, "unit": unit,
                                "reference": reference ?? NSNull(), "reference_value": referenceValue ?? NSNull(),
                                "speedup": speedup ?? NSNull()]
        if let note { d["note"] = note }
        return d
    }
}

/// Measuring kernels for `dialclip bench`.
public enum Benchmarks {
    /// Monotonic seconds.
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// Median wall time of `body` over `runs` runs after `warmup` runs.
    public static func median(warmup: Int = 1, runs: Int = 5, _ body: () throws -> Void) rethrows -> Double {
        for _ in 0..<warmup { try body() }
        var times: [Double] = []
        for _ in 0..<max(1, runs) {
            let t0 = now()
            try body()
            times.append(now() - t0)
        }
        times.sort()
        return times[times.count / 2]
    }

    /// sgemm GFLOP/s for C[m×n] = A[m×k]·B[k×n] (B used transposed, as the models do).
    public static func sgemmGFLOPS(m: Int, n: Int, k: Int, runs: Int = 5) -> Double {
        let a = Tensor(repeating: 0.01, shape: [m, k])
        let b = Tensor(repeating: 0.02, shape: [n, k])
        var c = Tensor(zeros: [m, n])
        let cp = c.mutablePointer
        let t = median(warmup: 1, runs: runs) {
            BLAS.gemm(.none, .transpose, m: m, n: n, k: k, a: a.pointer, lda: k, b: b.pointer, ldb: k, c: cp, ldc: n)
        }
        return 2.0 * Double(m) * Double(n) * Double(k) / t / 1e9
    }

    /// The matrix-product shapes (m, n, k) of one forward of a ViT tower over `batch`
    /// images, with how often each occurs; used for FLOP counts and the sgemm bound.
    public static func vitGemmShapes(_ c: CLIPConfig, batch: Int) -> [(m: Int, n: Int, k: Int, count: Int)] {
        let t = batch * c.visionTokens, w = c.vision.width, mlp = c.vision.mlpWidth, l = c.vision.layers
        let patches = batch * c.gridSize * c.gridSize
        return [
            (patches, w, 3 * c.patchSize * c.patchSize, 1),
            (t, 3 * w, w, l), (t, w, w, l), (t, mlp, w, l), (t, w, mlp, l),
            (batch, c.embedDim, w, 1),
        ]
    }

    /// FLOPs of one ViT forward over `batch` images (products and attention).
    public static func vitFLOPs(_ c: CLIPConfig, batch: Int) -> Double {
        var f = vitGemmShapes(c, batch: batch).reduce(0.0) { $0 + 2.0 * Double($1.m * $1.n * $1.k * $1.count) }
        let s = Double(c.visionTokens), w = Double(c.vision.width)
        f += Double(batch) * Double(c.vision.layers) * 2 * (2 * s * s * w)   // QKᵀ and P·V
        return f
    }

    /// sgemm GFLOP/s at the model's own shapes: total product FLOPs over total time.
    public static func sgemmAtShapes(_ shapes: [(m: Int, n: Int, k: Int, count: Int)], runs: Int = 3) -> Double {
        var flops = 0.0, seconds = 0.0
        for s in shapes {
            let g = sgemmGFLOPS(m: s.m, n: s.n, k: s.k, runs: runs)
            let f = 2.0 * Double(s.m * s.n * s.k) * Double(s.count)
            flops += f
            seconds += f / (g * 1e9)
        }
        return flops / seconds / 1e9
    }

    /// Resident memory of this process in bytes (VmRSS), or nil when unavailable.
    public static func residentBytes() -> Int? {
        guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in s.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let kb = line.split(separator: " ").compactMap { Int($0) }.first
            return kb.map { $0 * 1024 }
        }
        return nil
    }

    /// Machine description for reports.
    public static var machine: String {
        let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { $0.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "" } ?? "unknown CPU"
        return "\(cpu), \(ProcessInfo.processInfo.activeProcessorCount) cores"
    }
}
