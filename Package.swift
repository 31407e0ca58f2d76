// swift-tools-version: 6.0
//
// ShardTrain: a deterministic data-parallel trainer for classic ML models.
// Layers, bottom to top (see README.md, "Architecture"):
//   C shims → numerics → losses / data / optimizers → models → engine → wire / ZeroMQ → cluster → CLI
import PackageDescription

// MARK: - Public products

let products: [Product] = [
    .executable(name: "shardtrain", targets: ["shardtrain"]),
    .library(name: "ShardTrain", targets: [
        "ShardNumerics", "ShardLosses", "ShardData", "ShardOptimizers", "ShardModels", "ShardMetrics", "ShardEngine",
        "ShardArtifacts", "ShardWire", "ZeroMQ", "ShardProtocol", "ShardCluster",
    ]),
]

// MARK: - C shims (no Swift code imports these except the modules or files named beside each)

let cTargets: [Target] = [
    // libzmq from Debian. Linked through the modulemap (`link "zmq"`): pkg-config's flags add -isystem
    // paths that SwiftPM warns about. Imported only by `ZeroMQ`.
    .systemLibrary(name: "CZeroMQ", providers: [.apt(["libzmq3-dev"])]),
    // libcrypto (OpenSSL) from Debian, for SHA-256 of parameter vectors.
    // Imported only by `ShardArtifacts/Digest.swift` and `ShardArtifacts/FileDigest.swift` (streaming file digests).
    .systemLibrary(name: "CLibCrypto", providers: [.apt(["libssl-dev"])]),
    // OpenBLAS from Debian (CBLAS gemm, pinned to one BLAS thread). Imported only by `ShardNumerics/BLAS.swift`.
    .systemLibrary(name: "COpenBLAS", providers: [.apt(["libopenblas-dev"])]),
    // Hot numeric kernels in C with per-function `target("avx2,fma")` and runtime CPU dispatch.
    // Imported only by `ShardNumerics` and `ShardOptimizers/AdaptiveMoments.swift` (the one-pass Adam step).
    .target(name: "CShardKernels"),
    // Process-level calls that Swift cannot make directly (variadic prctl, the CPU_COUNT macro) and the libc
    // version, memfd, fallocate, setns, a write without SIGPIPE. Imported only by `ShardNumerics/ThreadCount.swift`,
    // `ShardNumerics/SharedArena.swift`, `ShardCluster/LocalWorkers.swift`, `ShardCluster/SharedBlockRegion.swift`,
    // `ShardCluster/EmulatedHosts.swift`, `ShardTrainCLI/BuildIdentity.swift`.
    .target(name: "CShardSystem"),
    // zlib from Debian, for gzip-compressed data files. Imported only by `ShardData/Gzip.swift`.
    .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
    // Correctly rounded decimal parsing: fast_float (header-only C++, Debian libfast-float-dev) behind C functions:
    // one number, and whole lines of numbers (short decimals 16 bytes at a time with SSE4.1 where the CPU has it).
    // Imported only by `ShardData/DecimalField.swift`.
    .target(name: "CFastFloat"),
]

// MARK: - Implementation targets

let argumentParser: Target.Dependency = .product(name: "ArgumentParser", package: "swift-argument-parser")
let logging: Target.Dependency = .product(name: "Logging", package: "swift-log")

let swiftTargets: [Target] = [
    .target(name: "ShardNumerics", dependencies: ["CShardKernels", "CShardSystem", "COpenBLAS"]),
    .target(name: "ShardLosses", dependencies: ["ShardNumerics"]),
    .target(name: "ShardData", dependencies: ["ShardNumerics", "CFastFloat", "CZlib"]),
    .target(name: "ShardOptimizers", dependencies: ["ShardNumerics", "CShardKernels"]),
    .target(name: "ShardModels", dependencies: ["ShardNumerics", "ShardLosses"]),
    // Evaluation metrics: classification report, ROC/PR curves, quantile coverage, embedding retrieval.
    .target(name: "ShardMetrics", dependencies: ["ShardNumerics"]),
    .target(name: "ShardEngine", dependencies: ["ShardNumerics", "ShardOptimizers", "ShardModels"]),
    // What a run leaves behind: summary JSON, model files (safetensors), SHA-256 digests, atomic writes.
    .target(name: "ShardArtifacts", dependencies: ["ShardModels", "ShardData", "CLibCrypto"]),
    .target(name: "ZeroMQ", dependencies: ["CZeroMQ"]),
    .target(name: "ShardWire", dependencies: ["ShardNumerics"]),
    // The protocol's logic without any transport: the coordinator's and the worker's state machines, the job
    // spec, and an in-memory cluster that runs both under a virtual clock (fault scenarios in unit tests).
    .target(name: "ShardProtocol", dependencies: ["ShardNumerics", "ShardData", "ShardModels", "ShardEngine", "ShardWire"]),
    // The ZeroMQ shells around those state machines, local worker processes, the compute thread, shared memory.
    .target(name: "ShardCluster", dependencies: [
        "ShardNumerics", "ShardData", "ShardModels", "ShardEngine", "ShardWire", "ShardProtocol", "ZeroMQ", "CShardSystem",
        logging,
    ]),
    // Self-contained HTML reports with inline SVG charts, from plain numbers (`train --report`, `evaluate --report`).
    .target(name: "ShardReport"),
    // The application: preparing data, choosing the solver, running a job, applying saved models, the loss
    // registry. No printing, no process concerns: those stay in the CLI.
    .target(name: "ShardApplication", dependencies: [
        "ShardNumerics", "ShardLosses", "ShardData", "ShardOptimizers", "ShardModels", "ShardMetrics",
        "ShardEngine", "ShardArtifacts", "ShardReport",
    ]),
    .target(name: "ShardTrainCLI", dependencies: [
        "ShardNumerics", "ShardLosses", "ShardData", "ShardOptimizers", "ShardModels", "ShardMetrics",
        "ShardEngine", "ShardArtifacts", "ShardProtocol", "ShardCluster", "ShardApplication", "CShardSystem", argumentParser,
        logging,
    ]),
    .executableTarget(name: "shardtrain", dependencies: ["ShardTrainCLI"]),
]

// MARK: - Tests (one test target per module; `_TestSupport` holds shared reference loading, processes and test data)

let testTargets: [Target] = [
    .target(name: "_TestSupport", dependencies: ["ShardNumerics"], path: "Tests/_TestSupport"),
    .testTarget(name: "ShardNumericsTests", dependencies: ["ShardNumerics", "_TestSupport"]),
    .testTarget(name: "ShardLossesTests", dependencies: ["ShardLosses", "ShardNumerics", "_TestSupport"]),
    .testTarget(
        name: "ShardDataTests", dependencies: ["ShardData", "ShardNumerics", "_TestSupport"], exclude: ["Fixtures"]),
    .testTarget(name: "ShardOptimizersTests", dependencies: ["ShardOptimizers", "ShardNumerics", "_TestSupport"]),
    .testTarget(
        name: "ShardModelsTests", dependencies: ["ShardModels", "ShardLosses", "ShardNumerics", "_TestSupport"]),
    .testTarget(name: "ShardMetricsTests", dependencies: ["ShardMetrics", "ShardNumerics"]),
    .testTarget(
        name: "ShardEngineTests",
        dependencies: ["ShardEngine", "ShardModels", "ShardNumerics", "ShardOptimizers", "_TestSupport"]),
    .testTarget(
        name: "ShardArtifactsTests", dependencies: ["ShardArtifacts", "ShardData", "ShardModels", "_TestSupport"]),
    .testTarget(name: "ZeroMQTests", dependencies: ["ZeroMQ"]),
    .testTarget(name: "ShardWireTests", dependencies: ["ShardWire", "ShardNumerics"]),
    .testTarget(
        name: "ShardProtocolTests",
        dependencies: [
            "ShardProtocol", "ShardData", "ShardEngine", "ShardModels", "ShardNumerics", "ShardOptimizers", "ShardWire",
            "_TestSupport",
        ]),
    .testTarget(name: "ShardClusterTests", dependencies: [
        "ShardCluster", "ShardProtocol", "ShardData", "ShardEngine", "ShardModels", "ShardNumerics", "ShardWire", "ZeroMQ", logging,
        "_TestSupport",
    ]),
    .testTarget(
        name: "ShardApplicationTests",
        dependencies: [
            "ShardApplication", "ShardArtifacts", "ShardData", "ShardEngine", "ShardLosses", "ShardMetrics", "ShardModels", "ShardNumerics", "ShardReport",
            "_TestSupport",
        ]),
    .testTarget(name: "ShardReportTests", dependencies: ["ShardReport"]),
    .testTarget(name: "ShardTrainCLITests", dependencies: ["ShardTrainCLI", "ShardEngine", "ShardNumerics"]),
    .testTarget(name: "EndToEndTests", dependencies: ["_TestSupport"]),
]

let package = Package(
    name: "ShardTrain",
    platforms: [.macOS(.v15)],
    products: products,
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: cTargets + swiftTargets + testTargets,
    swiftLanguageModes: [.v6],
    cxxLanguageStandard: .cxx17
)
