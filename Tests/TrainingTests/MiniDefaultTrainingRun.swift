import Engine
import Foundation
import Models
import Tensor
import TestSupport
import Training
import XCTest

/// Reproduces the bundled dialclip-mini: the default recipe on ../shared/data/gallery (minus
/// its held-out split) and ../shared/data/extra, frozen MiniLM captions. Opt-in (it trains
/// for many minutes); run in release:
///
///     DIALCLIP_TRAIN_MINI=1 OPENBLAS_CORETYPE=SkylakeX swift test -c release -Xswiftc -enable-testing \
///         --filter MiniDefaultTrainingRun
///
/// Writes `DIALCLIP_MINI_OUTPUT` (default: `assets/models/dialclip-mini.safetensors`).
/// `dialclip train --task gallery` runs the same `MiniTrainer.train` call.
final class MiniDefaultTrainingRun: XCTestCase {
    func testTrainTheBundledModel() throws {
        let env = ProcessInfo.processInfo.environment
        guard env["DIALCLIP_TRAIN_MINI"] == "1" else { throw XCTSkip("set DIALCLIP_TRAIN_MINI=1 to train dialclip-mini (many minutes)") }
        let output = env["DIALCLIP_MINI_OUTPUT"] ?? Fixtures.assets.appendingPathComponent(MiniModel.bundledRelativePath).path
        let text = try MiniLMEncoder()
        let result = try MiniTrainer.train(
            config: MiniTrainingConfig(), galleryDir: try Fixtures.sharedPath("data/gallery"),
            extraDir: try Fixtures.sharedPath("data/extra"), output: output,
            textEncoder: { try text.embed(texts: $0) }, reporter: ProgressReporter(style: .plain),
            log: { FileHandle.standardError.write(Data(($0 + "\n").utf8)) })
        let scores = try XCTUnwrap(result.validation)
        let floor = try XCTUnwrap(result.randomInitValidation)
        print(String(format: "trained in %.0f s; held-out %@; random_init %@", result.seconds, scores.summary, floor.summary))
        XCTAssertGreaterThan(scores.t2iRecall[1], floor.t2iRecall[1], "beats the untrained tower")
    }
}
