import XCTest
import TestSupport
@testable import Tensor

/// The safetensors reader trusts nothing: every malformed file is a typed error, never a crash.
final class SafeTensorsTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory("safetensors") }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    /// A file from a raw header string and data bytes.
    func file(header: String, data: [UInt8] = [], declaredLength: UInt64? = nil) throws -> String {
        let h = Array(header.utf8)
        var bytes: [UInt8] = []
        withUnsafeBytes(of: (declaredLength ?? UInt64(h.count)).littleEndian) { bytes.append(contentsOf: $0) }
        bytes += h + data
        let path = dir.appendingPathComponent(UUID().uuidString + ".safetensors").path
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }

    func expectError(_ path: String, _ check: (SafeTensorsError) -> Bool, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try SafeTensorsFile(path: path), file: file, line: line) { error in
            guard let e = error as? SafeTensorsError else { return XCTFail("untyped error \(error)", file: file, line: line) }
            XCTAssertTrue(check(e), "unexpected error: \(e)", file: file, line: line)
            XCTAssertFalse(e.description.isEmpty)
        }
    }

    func testRoundTripF32AndF16WithMetadata() throws {
        let a = try Tensor((0..<12).map { Float($0) * 0.25 }, shape: [3, 4])
        let b = try Tensor([1.5, -2], shape: [2])
        for precision in [SafeTensorsWriter.Precision.f32, .f16] {
            let path = dir.appendingPathComponent("rt-\(precision).safetensors").path
            try SafeTensorsWriter.write([("a", a), ("b.bias", b)], metadata: ["k": "v"], precision: precision, to: path)
            let f = try SafeTensorsFile(path: path)
            XCTAssertEqual(f.names, ["a", "b.bias"])
            XCTAssertEqual(f.metadata, ["k": "v"])
            XCTAssertEqual(try f.tensor("a").array, a.array)   // exactly representable in fp16 too
            XCTAssertEqual(try f.tensor("b.bias", shape: [2]).shape, [2])
            XCTAssertThrowsError(try f.tensor("b.bias", shape: [3])) { XCTAssertEqual($0 as? SafeTensorsError, .wrongShape(tensor: "b.bias", expected: [3], actual: [2])) }
            XCTAssertThrowsError(try f.tensor("nope")) { XCTAssertEqual($0 as? SafeTensorsError, .missingTensor("nope")) }
        }
    }

    func testBF16Conversion() throws {
        // bf16 of 1.0 = 0x3F80, -2.5 = 0xC020
        let path = try file(header: #"{"x":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}"#, data: [0x80, 0x3F, 0x20, 0xC0])
        XCTAssertEqual(try SafeTensorsFile(path: path).tensor("x").array, [1.0, -2.5])
    }

    func testEmptyAndTinyFiles() throws {
        let empty = dir.appendingPathComponent("empty").path
        _ = FileManager.default.createFile(atPath: empty, contents: Data())
        expectError(empty) { if case .tooSmall = $0 { return true }; return false }
        expectError(dir.appendingPathComponent("missing").path) { if case .unreadable = $0 { return true }; return false }
        expectError(dir.path) { if case .unreadable = $0 { return true }; return false }
    }

    func testLyingHeaderLengths() throws {
        expectError(try file(header: "{}", declaredLength: 1 << 40)) { if case .headerTooLarge = $0 { return true }; return false }
        expectError(try file(header: "{}", declaredLength: 5000)) { if case .headerPastEnd = $0 { return true }; return false }
    }

    func testMalformedJSON() throws {
        expectError(try file(header: "{not json")) { if case .invalidHeader = $0 { return true }; return false }
        expectError(try file(header: "[1,2]")) { if case .invalidHeader = $0 { return true }; return false }
        expectError(try file(header: #"{"__metadata__": 3}"#)) { if case .invalidHeader = $0 { return true }; return false }
    }

    func testEntriesAreValidated() throws {
        expectError(try file(header: #"{"t":{"dtype":"Q9","shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0])) {
            $0 == .unknownDType(tensor: "t", dtype: "Q9")
        }
        // shape × dtype size ≠ range
        expectError(try file(header: #"{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0])) {
            if case .byteCountMismatch(let t, _, _, 8, 4) = $0 { return t == "t" }; return false
        }
        // range past the end of the data (truncated file)
        expectError(try file(header: #"{"t":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, data: [0, 0, 0, 0])) {
            if case .rangeOutOfBounds(let t, _, _, _) = $0 { return t == "t" }; return false
        }
        // a header claiming a 10¹² element tensor
        expectError(try file(header: #"{"t":{"dtype":"F32","shape":[1000000,1000000],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0])) {
            if case .byteCountMismatch = $0 { return true }; return false
        }
        // dimensions that overflow Int
        expectError(try file(header: #"{"t":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0])) {
            if case .badEntry = $0 { return true }; return false
        }
        // negative, fractional and boolean numbers
        for bad in [#"[-1]"#, #"[1.5]"#, #"[true]"#] {
            expectError(try file(header: #"{"t":{"dtype":"U8","shape":\#(bad),"data_offsets":[0,1]}}"#, data: [0])) {
                if case .badEntry = $0 { return true }; return false
            }
        }
        // overlapping ranges
        expectError(try file(header: #"{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}"#, data: [0, 0, 0])) {
            if case .overlappingRanges = $0 { return true }; return false
        }
        // offsets reversed
        expectError(try file(header: #"{"t":{"dtype":"U8","shape":[0],"data_offsets":[3,1]}}"#, data: [0, 0, 0])) {
            if case .rangeOutOfBounds = $0 { return true }; return false
        }
        // non-UTF-8 header
        let raw = dir.appendingPathComponent("latin1").path
        let bytes: [UInt8] = [4, 0, 0, 0, 0, 0, 0, 0, 0x7B, 0xFF, 0xFE, 0x7D]
        _ = FileManager.default.createFile(atPath: raw, contents: Data(bytes))
        expectError(raw) { if case .invalidHeader = $0 { return true }; return false }
    }

    /// Property test: random mutations of a valid file never crash the reader; every
    /// outcome is either a valid file whose tensors read back, or a typed error.
    func testRandomMutationsNeverCrash() throws {
        let a = try Tensor((0..<16).map(Float.init), shape: [4, 4])
        let good = dir.appendingPathComponent("good.safetensors").path
        try SafeTensorsWriter.write([("a", a), ("b", a)], metadata: ["x": "y"], to: good)
        let original = try Data(contentsOf: URL(fileURLWithPath: good))
        var generator = SeededGenerator(seed: 1234)
        for trial in 0..<600 {
            var bytes = [UInt8](original)
            let edits = 1 + Int(generator.next() % 4)
            for _ in 0..<edits {
                switch generator.next() % 3 {
                case 0: bytes[Int(generator.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: generator.next())
                case 1: bytes = Array(bytes.prefix(Int(generator.next() % UInt64(bytes.count + 1))))
                default: bytes.insert(UInt8(truncatingIfNeeded: generator.next()), at: Int(generator.next() % UInt64(bytes.count + 1)))
                }
                if bytes.isEmpty { break }
            }
            let path = dir.appendingPathComponent("m\(trial)").path
            _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
            do {
                let f = try SafeTensorsFile(path: path)
                for name in f.names { _ = try? f.tensor(name); _ = try? f.integers(name) }
            } catch is SafeTensorsError {
                // expected for most mutations
            }
        }
    }
}
