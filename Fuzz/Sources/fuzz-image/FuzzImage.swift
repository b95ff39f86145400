import Foundation
import FuzzSupport
import Imaging

/// Fuzzes the JPEG/PNG decoder (C shim around libjpeg-turbo/libpng, EXIF parser, orientation,
/// DCT scaling). The pixel limit is lowered to 2 MP so the fuzzer does not spend its time
/// decoding garbage at 40 MP; the limit logic itself is the same. Property: errors are
/// `ImagingError`s, and a decoded image has width × height × 3 bytes within the limit.
@main enum Main { static func main() { FuzzSupport.runLibFuzzer(fuzz) } }

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = Data(UnsafeBufferPointer(start: data, count: size))
    let limit = 2_000_000
    let variants = [
        DecodeOptions(maxPixels: limit, softPixelBudget: 500_000),
        DecodeOptions(maxPixels: limit, minimumSide: 16, scaling: .toMinimumSide, strict: false),
    ]
    for options in variants {
        do {
            let info = try ImageDecoder.probe(data: input, options: options)
            if info.width <= 0 || info.height <= 0 { FuzzSupport.fail("probe size \(info.width)x\(info.height)") }
        } catch is ImagingError {
        } catch { FuzzSupport.fail("untyped probe error \(error)") }
        do {
            let image = try ImageDecoder.decode(data: input, options: options)
            if image.width <= 0 || image.height <= 0 || image.width * image.height > limit {
                FuzzSupport.fail("decoded size \(image.width)x\(image.height)")
            }
        } catch is ImagingError {
        } catch { FuzzSupport.fail("untyped decode error \(error)") }
    }
    return 0
}
