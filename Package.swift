// swift-tools-version: 6.1
// dialclip — multi-modal dialog retrieval (DialCLIP + DCAR) in the terminal.
import PackageDescription

/// `-O` for the numeric modules in debug builds too (tests stay fast; see Tensor's note).
let optimisedInDebug: [SwiftSetting] = [.unsafeFlags(["-O"], .when(configuration: .debug))]

let package = Package(
    name: "dialclip",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "dialclip", targets: ["CLI"]),
        // Library products only so the nested fuzzing package (Fuzz/) can import the readers
        // it fuzzes; nothing in this package uses them.
        .library(name: "DialclipTensor", targets: ["Tensor"]),
        .library(name: "DialclipImaging", targets: ["Imaging"]),
        .library(name: "DialclipTokenizers", targets: ["Tokenizers"]),
        .library(name: "DialclipDialogues", targets: ["DialCLIP"]),
        .library(name: "DialclipGallery", targets: ["Gallery"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
    ],
    targets: [
        // MARK: C libraries (Debian -dev packages) and the small C shims around them.
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        .systemLibrary(name: "CLibJPEG", path: "Sources/CLibJPEG"),
        .systemLibrary(name: "CLibPNG", path: "Sources/CLibPNG"),
        .systemLibrary(name: "CNcursesw", path: "Sources/CNcursesw"),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .target(name: "CImageCodecs", dependencies: ["CLibJPEG", "CLibPNG"], path: "Sources/CImageCodecs"),
        .target(name: "CKernels", path: "Sources/CKernels", cSettings: [.unsafeFlags(["-O2"])]),

        // MARK: Engine, one module per concern; data flows top to bottom.
        // Numeric kernels are optimised even in debug builds: `swift test` builds debug, and
        // unoptimised SIMD code is ~100× slower (the golden tests would take minutes).
        .target(name: "Tensor", dependencies: ["CBLAS", "CKernels"], swiftSettings: optimisedInDebug),
        .target(name: "Imaging", dependencies: ["CImageCodecs"], swiftSettings: optimisedInDebug),
        .target(name: "Tokenizers", dependencies: ["CZlib"]),
        .target(name: "Models", dependencies: ["Tensor", "Tokenizers", "Imaging"], swiftSettings: optimisedInDebug),
        .target(name: "Training", dependencies: ["Tensor", "Imaging", "Models"], swiftSettings: optimisedInDebug),
        .target(name: "DialCLIP", dependencies: ["Tensor", "Models", "Training", "Tokenizers"], swiftSettings: optimisedInDebug),
        .target(name: "DCAR", dependencies: ["Tensor", "Models", "Tokenizers"], swiftSettings: optimisedInDebug),
        .target(name: "Gallery", dependencies: ["Tensor", "Imaging", .product(name: "GRDB", package: "GRDB.swift")]),
        .target(name: "Engine", dependencies: ["Tensor", "Imaging", "Tokenizers", "Models", "DialCLIP", "DCAR", "Gallery"]),
        .target(name: "TUI", dependencies: ["CNcursesw", "Engine"]),
        .executableTarget(
            name: "CLI",
            dependencies: ["Engine", "TUI", "Training", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/CLI"
        ),

        // MARK: Tests (fixtures are read from ../shared, next to the checkout).
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "TensorTests", dependencies: ["TestSupport", "Tensor"]),
        .testTarget(name: "ImagingTests", dependencies: ["TestSupport", "Imaging", "Tensor"]),
        .testTarget(name: "TokenizersTests", dependencies: ["TestSupport", "Tokenizers"]),
        .testTarget(name: "ModelsTests", dependencies: ["TestSupport", "Models", "Tensor", "Tokenizers", "Imaging"]),
        .testTarget(name: "TrainingTests", dependencies: ["TestSupport", "Training", "Tensor", "Models", "Imaging", "Engine"]),
        .testTarget(name: "DialCLIPTests", dependencies: ["TestSupport", "DialCLIP", "Tensor", "Models", "Training", "Tokenizers"]),
        .testTarget(name: "DCARTests", dependencies: ["TestSupport", "DCAR", "Tensor", "Models", "Imaging", "Engine"]),
        .testTarget(name: "GalleryTests", dependencies: ["TestSupport", "Gallery", "Tensor", "Imaging"]),
        .testTarget(name: "TUITests", dependencies: ["TestSupport", "TUI", "Engine"]),
        .testTarget(name: "CLITests", dependencies: ["TestSupport", "CLI", "Engine"]),
    ]
)
