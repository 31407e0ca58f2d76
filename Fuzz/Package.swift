// swift-tools-version: 6.0
//
// libFuzzer targets for ShardTrain's decoders, kept out of the main package so that its `swift build` and
// `swift test` never see the sanitizer flags. Build and run them with `scripts/fuzz.sh TARGET SECONDS`
// (`swift build -c release -Xswiftc -sanitize=fuzzer,address` inside this folder); the seed corpora are in
// `Tests/Fuzz/<target>/`, written by `swift run --package-path Fuzz fuzz-seeds Tests/Fuzz` (no sanitizer).
import PackageDescription

/// One executable per decoder: its `main.swift` defines `LLVMFuzzerTestOneInput` and hands the command line to
/// libFuzzer (`runLibFuzzer`).
let fuzzTargets: [(name: String, dependencies: [Target.Dependency])] = [
    ("fuzz-frame", [.product(name: "ShardTrain", package: "ShardTrain")]),
    ("fuzz-jobspec", [.product(name: "ShardTrain", package: "ShardTrain")]),
    ("fuzz-csv", [.product(name: "ShardTrain", package: "ShardTrain")]),
    ("fuzz-npy", [.product(name: "ShardTrain", package: "ShardTrain")]),
    ("fuzz-safetensors", [.product(name: "ShardTrain", package: "ShardTrain")]),
    ("fuzz-modelfile", [.product(name: "ShardTrain", package: "ShardTrain")]),
]

let package = Package(
    name: "ShardTrainFuzz",
    dependencies: [.package(name: "ShardTrain", path: "..")],
    targets: fuzzTargets.map { target in
        .executableTarget(
            name: target.name, dependencies: target.dependencies + ["FuzzSupport"])
    } + [
        // libFuzzer's entry point with the target's callback (SwiftPM renames an executable's `main`, so
        // libFuzzer's own `main` cannot be linked).
        .target(name: "CFuzzerDriver"),
        // Starting libFuzzer; the file through which readers that only take a path get the input.
        .target(name: "FuzzSupport", dependencies: ["CFuzzerDriver"]),
        // Writes the seed corpora from the encoders (valid frames of every type, job specs, model files).
        .executableTarget(name: "fuzz-seeds", dependencies: [.product(name: "ShardTrain", package: "ShardTrain")]),
    ],
    swiftLanguageModes: [.v6]
)
