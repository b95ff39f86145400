import ArgumentParser
import Models

/// `--fp16-weights`, shared by the commands that load a CLIP checkpoint.
struct WeightFlags: ParsableArguments {
    @Flag(name: .customLong("fp16-weights"),
          help: "Hold a CLIP checkpoint's weights as fp16: about half the memory, results equal up to fp16 rounding of the weights (the small bundled model stays fp32).")
    var fp16Weights = false

    var precision: WeightPrecision { fp16Weights ? .f16 : .f32 }
}
