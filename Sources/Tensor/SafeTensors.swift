import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Everything that can be wrong with a safetensors file. Every case names the file or
/// the tensor so the user knows what to fix.
public enum SafeTensorsError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, reason: String)
    case tooSmall(path: String, bytes: Int)
    case headerTooLarge(path: String, declared: UInt64, limit: Int)
    case headerPastEnd(path: String, declared: UInt64, fileBytes: Int)
    case invalidHeader(path: String, reason: String)
    case badEntry(tensor: String, reason: String)
    case unknownDType(tensor: String, dtype: String)
    case byteCountMismatch(tensor: String, shape: [Int], dtype: String, expectedBytes: Int, actualBytes: Int)
    case rangeOutOfBounds(tensor: String, begin: Int, end: Int, dataBytes: Int)
    case overlappingRanges(first: String, second: String)
    case missingTensor(String)
    case wrongShape(tensor: String, expected: [Int], actual: [Int])
    case unsupportedDType(tensor: String, dtype: String, wanted: String)
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let p, let r): return "cannot read safetensors file \(p): \(r)"
        case .tooSmall(let p, let b): return "\(p) is not a safetensors file: only \(b) bytes (needs an 8-byte header length)"
        case .headerTooLarge(let p, let d, let l): return "\(p): header length \(d) exceeds the \(l)-byte limit (corrupt or hostile file)"
        case .headerPastEnd(let p, let d, let f): return "\(p): header length \(d) runs past the end of the \(f)-byte file (truncated?)"
        case .invalidHeader(let p, let r): return "\(p): invalid safetensors header: \(r)"
        case .badEntry(let t, let r): return "tensor '\(t)': \(r)"
        case .unknownDType(let t, let d): return "tensor '\(t)': unknown dtype '\(d)'"
        case .byteCountMismatch(let t, let s, let d, let e, let a):
            return "tensor '\(t)': shape \(s) of \(d) needs \(e) bytes but its data range has \(a)"
        case .rangeOutOfBounds(let t, let b, let e, let n):
            return "tensor '\(t)': data range \(b)..<\(e) lies outside the \(n)-byte data section (truncated file?)"
        case .overlappingRanges(let a, let b): return "tensors '\(a)' and '\(b)' overlap in the data section"
        case .missingTensor(let t): return "missing tensor '\(t)'"
        case .wrongShape(let t, let e, let a): return "tensor '\(t)' has shape \(a), expected \(e)"
        case .unsupportedDType(let t, let d, let w): return "tensor '\(t)' is \(d), cannot read it as \(w)"
        case .writeFailed(let p, let r): return "cannot write \(p): \(r)"
        }
    }
}

/// Element types a safetensors file may declare.
public enum SafeTensorsDType: String, Sendable, CaseIterable {
    case F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL
    case F8_E4M3 = "F8_E4M3", F8_E5M2 = "F8_E5M2"

    public var byteSize: Int {
        switch self {
        case .F64, .I64, .U64: return 8
        case .F32, .I32, .U32: return 4
        case .F16, .BF16, .I16, .U16: return 2
        case .I8, .U8, .BOOL, .F8_E4M3, .F8_E5M2: return 1
        }
    }
}

/// Header information of one tensor, validated.
public struct SafeTensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: SafeTensorsDType
    public let shape: [Int]
    /// Byte range inside the data section (after the header).
    public let begin: Int
    public let end: Int
    public var elementCount: Int { shape.reduce(1, *) }
}

/// Keeps an `mmap` alive; tensors borrowing from it hold a reference.
final class MappedFile: @unchecked Sendable {
    let base: UnsafeRawPointer
    let length: Int

    init(path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw SafeTensorsError.unreadable(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw SafeTensorsError.unreadable(path: path, reason: String(cString: strerror(errno))) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw SafeTensorsError.unreadable(path: path, reason: "not a regular file") }
        length = Int(st.st_size)
        guard length >= 8 else { throw SafeTensorsError.tooSmall(path: path, bytes: length) }
        guard let p = mmap(nil, length, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw SafeTensorsError.unreadable(path: path, reason: "mmap failed: \(String(cString: strerror(errno)))")
        }
        base = UnsafeRawPointer(p)
    }

    /// Tells the kernel the pages wholly inside `range` are no longer needed (after
    /// converting fp16 data to fp32), so they stop counting toward resident memory.
    func release(_ range: Range<Int>) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let lo = (range.lowerBound + page - 1) / page * page
        let hi = range.upperBound / page * page
        if hi > lo { madvise(UnsafeMutableRawPointer(mutating: base + lo), hi - lo, Int32(MADV_DONTNEED)) }
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), length) }
}

/// A memory-mapped, fully validated safetensors file.
///
/// Nothing in the file is trusted until checked: the header length is bounded, the JSON
/// must be an object of well-formed entries, every dtype known, every shape's byte size
/// equal to its range, every range inside the file and no two ranges overlapping.
/// F32 tensors are used in place (zero copy); F16/BF16 are converted to fp32 on access.
public final class SafeTensorsFile: @unchecked Sendable {
    /// Upper bound on the JSON header (the format's own reference implementation uses 100 MB).
    public static let maxHeaderBytes = 100_000_000

    public let path: String
    /// Tensors in file order of their data.
    public let tensors: [String: SafeTensorInfo]
    /// The optional `__metadata__` string map.
    public let metadata: [String: String]
    private let file: MappedFile
    private let dataStart: Int

    /// Names sorted, for listing.
    public var names: [String] { tensors.keys.sorted() }

    public init(path: String) throws {
        self.path = path
        let file = try MappedFile(path: path)
        self.file = file
        let declared = file.base.loadUnaligned(as: UInt64.self).littleEndian
        guard declared <= UInt64(Self.maxHeaderBytes) else {
            throw SafeTensorsError.headerTooLarge(path: path, declared: declared, limit: Self.maxHeaderBytes)
        }
        guard Int(declared) <= file.length - 8 else {
            throw SafeTensorsError.headerPastEnd(path: path, declared: declared, fileBytes: file.length)
        }
        let headerLength = Int(declared)
        dataStart = 8 + headerLength
        let headerData = Data(bytes: file.base + 8, count: headerLength)
        (tensors, metadata) = try Self.parseHeader(headerData, path: path, dataBytes: file.length - dataStart)
    }

    /// Parses and validates a header; exposed for fuzzing and property tests.
    public static func parseHeader(_ header: Data, path: String, dataBytes: Int) throws
        -> (tensors: [String: SafeTensorInfo], metadata: [String: String]) {
        guard String(data: header, encoding: .utf8) != nil else {
            throw SafeTensorsError.invalidHeader(path: path, reason: "header is not UTF-8")
        }
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: header, options: [])
        } catch {
            throw SafeTensorsError.invalidHeader(path: path, reason: "malformed JSON")
        }
        guard let object = json as? [String: Any] else {
            throw SafeTensorsError.invalidHeader(path: path, reason: "top level is not a JSON object")
        }
        var metadata: [String: String] = [:]
        var infos: [String: SafeTensorInfo] = [:]
        for (name, value) in object {
            if name == "__metadata__" {
                guard let m = value as? [String: Any] else {
                    throw SafeTensorsError.invalidHeader(path: path, reason: "__metadata__ is not an object")
                }
                for (k, v) in m {
                    guard let s = v as? String else {
                        throw SafeTensorsError.invalidHeader(path: path, reason: "__metadata__ value of '\(k)' is not a string")
                    }
                    metadata[k] = s
                }
                continue
            }
            guard let entry = value as? [String: Any] else {
                throw SafeTensorsError.badEntry(tensor: name, reason: "entry is not an object")
            }
            guard let dtypeName = entry["dtype"] as? String else {
                throw SafeTensorsError.badEntry(tensor: name, reason: "missing or non-string dtype")
            }
            guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
                throw SafeTensorsError.unknownDType(tensor: name, dtype: dtypeName)
            }
            guard let shapeList = entry["shape"] as? [Any] else {
                throw SafeTensorsError.badEntry(tensor: name, reason: "missing or non-list shape")
            }
            var shape: [Int] = []
            var elements = 1
            for d in shapeList {
                guard let n = exactInt(d), n >= 0 else {
                    throw SafeTensorsError.badEntry(tensor: name, reason: "shape \(shapeList) has a non-integer or negative dimension")
                }
                let (product, overflow) = elements.multipliedReportingOverflow(by: n)
                guard !overflow else {
                    throw SafeTensorsError.badEntry(tensor: name, reason: "shape \(shapeList) has more elements than can be addressed")
                }
                elements = product
                shape.append(n)
            }
            guard let offsets = entry["data_offsets"] as? [Any], offsets.count == 2,
                  let begin = exactInt(offsets[0]), let end = exactInt(offsets[1]) else {
                throw SafeTensorsError.badEntry(tensor: name, reason: "data_offsets must be two integers")
            }
            guard begin >= 0, end >= begin, end <= dataBytes else {
                throw SafeTensorsError.rangeOutOfBounds(tensor: name, begin: begin, end: end, dataBytes: dataBytes)
            }
            let (bytes, overflow) = elements.multipliedReportingOverflow(by: dtype.byteSize)
            guard !overflow, bytes == end - begin else {
                throw SafeTensorsError.byteCountMismatch(
                    tensor: name, shape: shape, dtype: dtypeName,
                    expectedBytes: overflow ? Int.max : bytes, actualBytes: end - begin)
            }
            infos[name] = SafeTensorInfo(name: name, dtype: dtype, shape: shape, begin: begin, end: end)
        }
        // Overlap check: sort by start; each range must begin at or after the previous end.
        let sorted = infos.values.filter { $0.end > $0.begin }.sorted { ($0.begin, $0.name) < ($1.begin, $1.name) }
        for (a, b) in zip(sorted, sorted.dropFirst()) where b.begin < a.end {
            throw SafeTensorsError.overlappingRanges(first: a.name, second: b.name)
        }
        return (infos, metadata)
    }

    /// An integer from a JSON number only when it is exactly integral and in range.
    private static func exactInt(_ value: Any) -> Int? {
        guard let n = value as? NSNumber else { return nil }
        // true/false arrive as NSNumbers whose objCType is "c" (`is Bool` is also true for 0 and 1, so it cannot tell).
        if String(cString: n.objCType) == "c" { return nil }
        let d = n.doubleValue
        guard d.isFinite, d == d.rounded(), abs(d) < 9.0e15 else { return nil }
        return Int(n.int64Value) == Int(d) ? Int(d) : nil
    }

    /// Validated header information of `name`.
    public func info(_ name: String) throws -> SafeTensorInfo {
        guard let info = tensors[name] else { throw SafeTensorsError.missingTensor(name) }
        return info
    }

    public func contains(_ name: String) -> Bool { tensors[name] != nil }

    /// The tensor as fp32. F32 data is borrowed from the mapping without a copy (when
    /// aligned); F16/BF16/F64 are converted and the source pages released.
    public func tensor(_ name: String) throws -> Tensor {
        let info = try self.info(name)
        let raw = file.base + dataStart + info.begin
        let n = info.elementCount
        switch info.dtype {
        case .F32:
            if Int(bitPattern: raw) % MemoryLayout<Float>.alignment == 0 {
                let storage = TensorStorage(borrowing: raw.assumingMemoryBound(to: Float.self), count: n, owner: file)
                return Tensor(shape: info.shape, storage: storage)
            }
            var t = Tensor(zeros: info.shape)
            memcpy(t.mutablePointer, raw, n * 4)
            return t
        case .F16:
            var t = Tensor(zeros: info.shape)
            let dst = t.mutablePointer
            for i in 0..<n {
                let bits = raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian
                dst[i] = Float(Float16(bitPattern: bits))
            }
            file.release((dataStart + info.begin)..<(dataStart + info.end))
            return t
        case .BF16:
            var t = Tensor(zeros: info.shape)
            let dst = t.mutablePointer
            for i in 0..<n {
                let bits = raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian
                dst[i] = Float(bitPattern: UInt32(bits) << 16)
            }
            file.release((dataStart + info.begin)..<(dataStart + info.end))
            return t
        case .F64:
            var t = Tensor(zeros: info.shape)
            let dst = t.mutablePointer
            for i in 0..<n {
                dst[i] = Float(raw.loadUnaligned(fromByteOffset: 8 * i, as: Double.self))
            }
            return t
        default:
            throw SafeTensorsError.unsupportedDType(tensor: name, dtype: info.dtype.rawValue, wanted: "float")
        }
    }

    /// The tensor stored as fp16 (for `--fp16` weights). F16 data is used in place from the
    /// mapping (zero copy, when 2-byte aligned); other float dtypes are read, narrowed to
    /// fp16 and their source pages released so only the half-size copy stays resident.
    public func halfTensor(_ name: String) throws -> HalfTensor {
        let info = try self.info(name)
        let raw = file.base + dataStart + info.begin
        if info.dtype == .F16, Int(bitPattern: raw) % MemoryLayout<UInt16>.alignment == 0 {
            let storage = HalfStorage(borrowing: raw.assumingMemoryBound(to: UInt16.self), count: info.elementCount, owner: file)
            return HalfTensor(shape: info.shape, storage: storage)
        }
        let half = HalfTensor(narrowing: try tensor(name))
        releasePages(of: name)
        return half
    }

    /// Drops the resident pages wholly inside a tensor's data (read-only private mapping:
    /// anything still borrowing them faults them back in from the file on next use).
    private func releasePages(of name: String) {
        guard let info = tensors[name] else { return }
        file.release((dataStart + info.begin)..<(dataStart + info.end))
    }

    /// The tensor as fp32, checking its shape.
    public func tensor(_ name: String, shape expected: [Int]) throws -> Tensor {
        let info = try self.info(name)
        guard info.shape == expected else {
            throw SafeTensorsError.wrongShape(tensor: name, expected: expected, actual: info.shape)
        }
        return try tensor(name)
    }

    /// Integer tensors (I64/I32/I16/I8/U8/BOOL) as Int64 values.
    public func integers(_ name: String) throws -> [Int64] {
        let info = try self.info(name)
        let raw = file.base + dataStart + info.begin
        let n = info.elementCount
        switch info.dtype {
        case .I64: return (0..<n).map { raw.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self).littleEndian }
        case .I32: return (0..<n).map { Int64(raw.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self).littleEndian) }
        case .I16: return (0..<n).map { Int64(raw.loadUnaligned(fromByteOffset: 2 * $0, as: Int16.self).littleEndian) }
        case .I8: return (0..<n).map { Int64(raw.load(fromByteOffset: $0, as: Int8.self)) }
        case .U8, .BOOL: return (0..<n).map { Int64(raw.load(fromByteOffset: $0, as: UInt8.self)) }
        default: throw SafeTensorsError.unsupportedDType(tensor: name, dtype: info.dtype.rawValue, wanted: "integer")
        }
    }

    /// Raw bytes of a tensor (for U8 image fixtures and hashing).
    public func bytes(_ name: String) throws -> [UInt8] {
        let info = try self.info(name)
        return Array(UnsafeRawBufferPointer(start: file.base + dataStart + info.begin, count: info.end - info.begin))
    }
}

/// Writes safetensors files (fp32 or fp16), atomically: a temporary file in the same
/// folder is fsync'd and renamed over the target, so a crash never leaves half a file.
public enum SafeTensorsWriter {
    public enum Precision: Sendable { case f32, f16 }

    public static func write(_ tensors: [(name: String, tensor: Tensor)], metadata: [String: String] = [:],
                             precision: Precision = .f32, to path: String) throws {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        let elementBytes = precision == .f32 ? 4 : 2
        let dtype = precision == .f32 ? "F32" : "F16"
        for (name, t) in tensors {
            guard header[name] == nil else { throw SafeTensorsError.writeFailed(path: path, reason: "duplicate tensor name '\(name)'") }
            let bytes = t.count * elementBytes
            header[name] = ["dtype": dtype, "shape": t.shape, "data_offsets": [offset, offset + bytes]] as [String: Any]
            offset += bytes
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        // Pad the header with spaces so the data section starts 8-byte aligned (zero-copy mmap).
        while (8 + json.count) % 8 != 0 { json.append(0x20) }
        var out = Data(capacity: 8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        for (_, t) in tensors {
            switch precision {
            case .f32:
                out.append(UnsafeBufferPointer(start: t.pointer, count: t.count))
            case .f16:
                let halves = (0..<t.count).map { Float16(t.pointer[$0]).bitPattern.littleEndian }
                halves.withUnsafeBufferPointer { out.append($0) }
            }
        }
        try AtomicFile.write(out, to: path)
    }
}

/// Crash-safe whole-file writes: write a sibling temp file, fsync it, rename it into place.
public enum AtomicFile {
    public static func write(_ data: Data, to path: String) throws {
        let dir = (path as NSString).deletingLastPathComponent
        let tmp = (dir.isEmpty ? "." : dir) + "/.\((path as NSString).lastPathComponent).tmp-\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw SafeTensorsError.writeFailed(path: path, reason: String(cString: strerror(errno))) }
        var ok = true
        var failure = ""
        data.withUnsafeBytes { buf in
            var done = 0
            while done < buf.count {
                let n = Glibc.write(fd, buf.baseAddress! + done, buf.count - done)
                if n < 0 { if errno == EINTR { continue }; ok = false; failure = String(cString: strerror(errno)); return }
                done += n
            }
        }
        if ok && fsync(fd) != 0 { ok = false; failure = String(cString: strerror(errno)) }
        close(fd)
        guard ok else { unlink(tmp); throw SafeTensorsError.writeFailed(path: path, reason: failure) }
        guard rename(tmp, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(tmp)
            throw SafeTensorsError.writeFailed(path: path, reason: reason)
        }
    }
}
