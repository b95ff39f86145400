import Foundation
import Tensor

/// Errors raised while loading or running a model. Each names the file or tensor at fault.
public enum ModelError: Error, CustomStringConvertible {
    case notFound(path: String, hint: String)
    case unrecognisedLayout(path: String, reason: String)
    case missingTensor(name: String, path: String)
    case wrongShape(name: String, expected: String, actual: [Int])
    case inconsistent(String)
    case invalidConfig(path: String, reason: String)
    case unsupported(String)
    case invalidInput(String)
    case weights(SafeTensorsError)

    public var description: String {
        switch self {
        case .notFound(let p, let hint): return "model not found at \(p). \(hint)"
        case .unrecognisedLayout(let p, let r): return "\(p): not a CLIP checkpoint this program can read (\(r))"
        case .missingTensor(let n, let p): return "\(p): missing tensor '\(n)'"
        case .wrongShape(let n, let e, let a): return "tensor '\(n)' has shape \(a), expected \(e)"
        case .inconsistent(let s): return "inconsistent checkpoint: \(s)"
        case .invalidConfig(let p, let r): return "\(p): invalid config: \(r)"
        case .unsupported(let s): return "unsupported: \(s)"
        case .invalidInput(let s): return "invalid input: \(s)"
        case .weights(let e): return e.description
        }
    }
}

/// Reads validated tensors out of a safetensors file, turning every problem into a
/// `ModelError` that names the tensor.
struct WeightReader {
    let file: SafeTensorsFile
    let prefix: String

    init(_ file: SafeTensorsFile, prefix: String = "") {
        self.file = file
        self.prefix = prefix
    }

    func scoped(_ more: String) -> WeightReader { WeightReader(file, prefix: prefix + more) }

    func has(_ name: String) -> Bool { file.contains(prefix + name) }

    func shape(_ name: String) throws -> [Int] {
        guard let info = file.tensors[prefix + name] else {
            throw ModelError.missingTensor(name: prefix + name, path: file.path)
        }
        return info.shape
    }

    /// The tensor as fp16 (`--fp16`), which must have exactly `shape`.
    func halfTensor(_ name: String, _ shape: [Int]) throws -> HalfTensor {
        let actual = try self.shape(name)
        guard actual == shape else {
            throw ModelError.wrongShape(name: prefix + name, expected: "\(shape)", actual: actual)
        }
        do { return try file.halfTensor(prefix + name) } catch let e as SafeTensorsError { throw ModelError.weights(e) }
    }

    /// The tensor, which must have exactly `shape`.
    func tensor(_ name: String, _ shape: [Int]) throws -> Tensor {
        let actual = try self.shape(name)
        // PyTorch saves 0-d scalars as [] and some exporters as [1]; accept both for scalars.
        let scalarOK = shape == [] && (actual == [] || actual == [1])
        guard actual == shape || scalarOK else {
            throw ModelError.wrongShape(name: prefix + name, expected: "\(shape)", actual: actual)
        }
        do {
            let t = try file.tensor(prefix + name)
            return scalarOK ? try t.reshaped([1]) : t
        } catch let e as SafeTensorsError {
            throw ModelError.weights(e)
        }
    }
}
