import CBLAS
import Foundation

/// Errors raised by tensor operations when shapes do not fit together.
public enum TensorError: Error, CustomStringConvertible, Equatable {
    case shapeMismatch(String)
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .shapeMismatch(let s): return "shape mismatch: \(s)"
        case .invalidArgument(let s): return "invalid argument: \(s)"
        }
    }
}

/// Backing memory of a tensor: either an owned heap allocation or a read-only view into
/// memory owned by someone else (a memory-mapped safetensors file). The owner object keeps
/// the mapping alive as long as any tensor refers to it.
public final class TensorStorage: @unchecked Sendable {
    public let base: UnsafeMutablePointer<Float>
    public let count: Int
    /// false for views into mmap'd files: writing would fault (PROT_READ), so
    /// mutation copies first.
    public let isWritable: Bool
    private let owner: AnyObject?
    private let ownsAllocation: Bool

    /// A zero-filled owned allocation of `count` floats (64-byte aligned for SIMD/BLAS).
    public init(zeroed count: Int) {
        _ = AllocatorTuning.applied
        let n = max(count, 1)
        let raw = UnsafeMutableRawPointer.allocate(byteCount: n * MemoryLayout<Float>.stride, alignment: 64)
        raw.initializeMemory(as: Float.self, repeating: 0, count: n)
        self.base = raw.assumingMemoryBound(to: Float.self)
        self.count = count
        self.isWritable = true
        self.owner = nil
        self.ownsAllocation = true
    }

    /// An uninitialised-then-copied owned allocation.
    public convenience init(copying source: UnsafePointer<Float>, count: Int) {
        self.init(zeroed: count)
        base.update(from: source, count: count)
    }

    /// A read-only view of `count` floats at `pointer`, kept valid by `owner`.
    public init(borrowing pointer: UnsafePointer<Float>, count: Int, owner: AnyObject) {
        self.base = UnsafeMutablePointer(mutating: pointer)
        self.count = count
        self.isWritable = false
        self.owner = owner
        self.ownsAllocation = false
    }

    deinit {
        if ownsAllocation { UnsafeMutableRawPointer(base).deallocate() }
    }
}

/// glibc serves blocks over its mmap threshold (≤ 32 MB, adjusted on the fly) with fresh
/// `mmap`s and trims the heap top on free, so a forward pass that allocates its activation
/// buffers layer after layer page-faults and zero-fills them every time (a reply eval spent
/// 20 % of its CPU in the kernel). Raising both thresholds once lets freed buffers be reused.
enum AllocatorTuning {
    static let applied: Void = {
        #if os(Linux)
        _ = mallopt(M_MMAP_THRESHOLD, 32 << 20)   // glibc's maximum on 64-bit
        _ = mallopt(M_TRIM_THRESHOLD, 1 << 30)
        #endif
    }()
}

/// A dense, row-major fp32 tensor. Value semantics: copies share storage until one of
/// them is mutated (copy-on-write), so passing tensors around is cheap.
public struct Tensor: @unchecked Sendable, CustomStringConvertible {
    public private(set) var shape: [Int]
    public private(set) var storage: TensorStorage

    /// Number of elements.
    public var count: Int { shape.reduce(1, *) }
    public var rank: Int { shape.count }

    /// A zero-filled tensor.
    public init(zeros shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        self.storage = TensorStorage(zeroed: shape.reduce(1, *))
    }

    /// A tensor filled with `value`.
    public init(repeating value: Float, shape: [Int]) {
        self.init(zeros: shape)
        if value != 0 { storage.base.update(repeating: value, count: count) }
    }

    /// A tensor holding a copy of `values` (count must equal the shape's product).
    public init(_ values: [Float], shape: [Int]) throws {
        guard values.count == shape.reduce(1, *) else {
            throw TensorError.shapeMismatch("\(values.count) values for shape \(shape)")
        }
        self.shape = shape
        self.storage = values.withUnsafeBufferPointer { TensorStorage(copying: $0.baseAddress!, count: max(values.count, 0)) }
    }

    /// A tensor over existing storage (no copy).
    public init(shape: [Int], storage: TensorStorage) {
        precondition(storage.count >= shape.reduce(1, *), "storage too small for \(shape)")
        self.shape = shape
        self.storage = storage
    }

    /// Read-only pointer to the first element.
    public var pointer: UnsafePointer<Float> { UnsafePointer(storage.base) }

    /// Mutable pointer to the first element; copies the storage first when it is shared
    /// or read-only (copy-on-write).
    public var mutablePointer: UnsafeMutablePointer<Float> {
        mutating get {
            if !storage.isWritable || !isKnownUniquelyReferenced(&storage) {
                storage = TensorStorage(copying: storage.base, count: count)
            }
            return storage.base
        }
    }

    /// The elements as a Swift array (a copy).
    public var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

    public subscript(flat i: Int) -> Float {
        get { storage.base[i] }
        set { mutablePointer[i] = newValue }
    }

    /// Same elements, new shape (no copy).
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        var resolved = newShape
        if let wild = newShape.firstIndex(of: -1) {
            let known = newShape.enumerated().filter { $0.offset != wild }.map(\.element).reduce(1, *)
            guard known > 0, count % known == 0 else {
                throw TensorError.shapeMismatch("cannot reshape \(shape) to \(newShape)")
            }
            resolved[wild] = count / known
        }
        guard resolved.reduce(1, *) == count else {
            throw TensorError.shapeMismatch("cannot reshape \(shape) to \(newShape)")
        }
        return Tensor(shape: resolved, storage: storage)
    }

    /// Rows `range` of the leading dimension, copied into a new tensor.
    public func rows(_ range: Range<Int>) -> Tensor {
        precondition(rank >= 1 && range.lowerBound >= 0 && range.upperBound <= shape[0])
        let rowSize = count / max(shape[0], 1)
        var out = Tensor(zeros: [range.count] + shape.dropFirst())
        out.mutablePointer.update(from: pointer + range.lowerBound * rowSize, count: range.count * rowSize)
        return out
    }

    /// One row of the leading dimension.
    public func row(_ i: Int) -> Tensor { rows(i..<(i + 1)).squeezedLeading() }

    private func squeezedLeading() -> Tensor { Tensor(shape: Array(shape.dropFirst()), storage: storage) }

    /// Stacks equally-shaped tensors along a new leading dimension.
    public static func stack(_ parts: [Tensor]) throws -> Tensor {
        guard let first = parts.first else { throw TensorError.invalidArgument("stack of zero tensors") }
        for p in parts where p.shape != first.shape {
            throw TensorError.shapeMismatch("stack: \(p.shape) vs \(first.shape)")
        }
        var out = Tensor(zeros: [parts.count] + first.shape)
        let n = first.count
        let dst = out.mutablePointer
        for (i, p) in parts.enumerated() { (dst + i * n).update(from: p.pointer, count: n) }
        return out
    }

    public var description: String {
        let preview = array.prefix(6).map { String(format: "%.5g", $0) }.joined(separator: ", ")
        return "Tensor(\(shape), [\(preview)\(count > 6 ? ", …" : "")])"
    }
}
