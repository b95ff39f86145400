import Foundation
import FuzzSupport
import Tensor

/// Fuzzes the safetensors reader two ways: the header parser on the raw bytes, and the
/// whole mmap reader (length prefix, header, every tensor converted to fp32) on the input
/// written to a file. Property: errors are typed `SafeTensorsError`s; accepted tensors have
/// the declared element count.
@main enum Main { static func main() { FuzzSupport.runLibFuzzer(fuzz) } }

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    _ = try? SafeTensorsFile.parseHeader(Data(bytes), path: "<fuzz>", dataBytes: 1 << 20)
    let path = FuzzSupport.writeScratch("input.safetensors", bytes)
    do {
        let file = try SafeTensorsFile(path: path)
        for name in file.names {
            _ = try? file.integers(name)
            let info = try file.info(name)
            if info.dtype == .F32 || info.dtype == .F16 || info.dtype == .BF16 || info.dtype == .F64 {
                let t = try file.tensor(name)
                if t.shape != info.shape { FuzzSupport.fail("tensor \(name): shape \(t.shape) != \(info.shape)") }
            } else {
                _ = try? file.tensor(name)
            }
        }
    } catch is SafeTensorsError {
    } catch {
        FuzzSupport.fail("untyped error \(error)")
    }
    return 0
}
