// swift-tools-version: 6.1
// Fuzz targets for dialclip's readers of untrusted input (libFuzzer). Separate package so the
// main build never sees the sanitizer flags; build and run with ../Scripts/fuzz.sh.
//
//   swift build -c release -Xswiftc -sanitize=fuzzer,address
//   .build/release/fuzz-safetensors corpus/safetensors -max_total_time=60
import PackageDescription

/// Each target exports `LLVMFuzzerTestOneInput` and hands it to libFuzzer from `@main`
/// (SwiftPM links its own `main` symbol to the module's entry point, so libFuzzer's is not used).
let fuzzTarget: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]

let package = Package(
    name: "dialclip-fuzz",
    platforms: [.macOS(.v14)],
    dependencies: [.package(name: "dialclip", path: "..")],
    targets: [
        .target(name: "CFuzzDriver", path: "Sources/CFuzzDriver"),
        .target(name: "FuzzSupport", dependencies: ["CFuzzDriver"], path: "Sources/FuzzSupport"),
        .executableTarget(name: "fuzz-safetensors",
                          dependencies: ["FuzzSupport", .product(name: "DialclipTensor", package: "dialclip")],
                          swiftSettings: fuzzTarget),
        .executableTarget(name: "fuzz-image",
                          dependencies: ["FuzzSupport", .product(name: "DialclipImaging", package: "dialclip")],
                          swiftSettings: fuzzTarget),
        .executableTarget(name: "fuzz-clip-bpe",
                          dependencies: ["FuzzSupport", .product(name: "DialclipTokenizers", package: "dialclip")],
                          swiftSettings: fuzzTarget),
        .executableTarget(name: "fuzz-wordpiece",
                          dependencies: ["FuzzSupport", .product(name: "DialclipTokenizers", package: "dialclip")],
                          swiftSettings: fuzzTarget),
        .executableTarget(name: "fuzz-dialogues",
                          dependencies: ["FuzzSupport", .product(name: "DialclipDialogues", package: "dialclip")],
                          swiftSettings: fuzzTarget),
        .executableTarget(name: "fuzz-captions",
                          dependencies: ["FuzzSupport", .product(name: "DialclipGallery", package: "dialclip")],
                          swiftSettings: fuzzTarget),
    ]
)
