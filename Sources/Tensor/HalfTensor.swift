import CKernels
import Foundation

/// Backing memory of a `HalfTensor`: an owned allocation or a read-only view into a
/// memory-mapped file (an F16 safetensors tensor used in place).
public final class HalfStorage: @unchecked Sendable {
    public let base: UnsafePointer<UInt16>
    public let count: Int
    private let owner: AnyObject?
    private let ownedAllocation: UnsafeMutableRawPointer?

    /// Narrows `count` floats into a new owned allocation (round to nearest even).
    public init(narrowing source: UnsafePointer<Float>, count: Int) {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 2, alignment: 64)
        let halves = raw.bindMemory(to: UInt16.self, capacity: max(count, 1))
        dc_float_to_half(source, halves, count)
        base = UnsafePointer(halves)
        self.count = count
        owner = nil
        ownedAllocation = raw
    }

    /// A read-only view of `count` halves at `pointer`, kept valid by `owner`.
    public init(borrowing pointer: UnsafePointer<UInt16>, count: Int, owner: AnyObject) {
        base = pointer
        self.count = count
        self.owner = owner
        ownedAllocation = nil
    }

    deinit { ownedAllocation?.deallocate() }
}

/// A dense row-major tensor stored as IEEE fp16: half the bytes of fp32 for weights that
/// are only read. Nothing computes in fp16 (OpenBLAS has no fp16 GEMM); `widen(into:)`
/// turns it back into fp32 right before use, one layer at a time.
public struct HalfTensor: @unchecked Sendable {
    public let shape: [Int]
    public let storage: HalfStorage

    public var count: Int { shape.reduce(1, *) }
    /// Bytes the elements occupy.
    public var byteCount: Int { count * 2 }

    /// The fp16 image of an fp32 tensor.
    public init(narrowing tensor: Tensor) {
        shape = tensor.shape
        storage = HalfStorage(narrowing: tensor.pointer, count: tensor.count)
    }

    /// A tensor over existing fp16 storage (no copy).
    public init(shape: [Int], storage: HalfStorage) {
        precondition(storage.count >= shape.reduce(1, *), "storage too small for \(shape)")
        self.shape = shape
        self.storage = storage
    }

    /// Writes the elements as fp32 to `destination` (room for `count` floats), split over
    /// the cores for large tensors (a ViT-B/32 layer is 7 M elements per forward pass).
    public func widen(into destination: UnsafeMutablePointer<Float>) {
        let block = 1 << 14
        let source = storage.base, total = count
        Ops.forEachRowChunk(rows: (total + block - 1) / block, rowSize: block) { blocks in
            let lo = blocks.lowerBound * block, hi = min(total, blocks.upperBound * block)
            dc_half_to_float(source + lo, destination + lo, hi - lo)
        }
    }

    /// Row `index` of the leading dimension as fp32, written to `destination`.
    public func widenRow(_ index: Int, into destination: UnsafeMutablePointer<Float>) {
        let rowSize = count / max(shape[0], 1)
        dc_half_to_float(storage.base + index * rowSize, destination, rowSize)
    }

    /// A new fp32 tensor with the same elements.
    public func widened() -> Tensor {
        var out = Tensor(zeros: shape)
        widen(into: out.mutablePointer)
        return out
    }

    /// Whether the F16C instructions do the conversions on this CPU.
    public static var usesF16C: Bool { dc_half_uses_f16c() != 0 }
}
