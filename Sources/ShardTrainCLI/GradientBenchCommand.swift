import ArgumentParser
import Foundation
import ShardApplication
import ShardModels
import ShardNumerics

/// `shardtrain bench gradient`: a model's block-sums pass (what a training round runs per block) against a
/// read-only pass over the same bytes, per model, storage precision and thread count.
public struct GradientBenchCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "gradient",
        abstract: "Time models' gradient passes over a synthetic matrix against a read-only pass of the same bytes.",
        discussion: """
            For every model and precision: the model's own blockSums over all blocks (the ParallelBlocks \
            runner of training) and ReadPass over the same blocks, alternately, best of --repetitions after \
            a warm-up. ratio = gradient GB/s ÷ read GB/s (1.0 = memory speed). Models and their data:
              logistic  BCE from logits, labels {0,1}
              focal     focal logistic (--focal-gamma, --focal-alpha), labels {0,1}
              svm       hinge (Huber-smoothed with --smoothing μ > 0), labels {-1,+1}
              quantile  pinball at --taus (smoothed with --smoothing μ > 0), real targets
              softmax   K = --classes classes, class weights c_k = 1 + k/K, labels 0…K-1
            The matrix has --megabytes of features and labels per precision (default 1024, beyond the \
            caches of most machines) unless --rows is given. Build with -c release.
            """)

    @Option(help: "Comma-separated models: logistic, focal, svm, quantile, softmax (default: all).")
    var models = CommaSeparated(BenchModel.allCases)

    @Option(help: "Comma-separated storage precisions: float32, float64.")
    var precisions = CommaSeparated<Precision>([.float32, .float64])

    @Option(help: "Size of the matrix (features + labels) in MB (10^6 bytes); ignored when --rows is given.")
    public var megabytes = 1024

    @Option(help: "Rows of the synthetic matrix (default: from --megabytes).")
    public var rows: Int?

    @Option(help: "Columns (features).")
    public var columns = 20

    @Option(help: "Rows per block.")
    public var blockRows = 4096

    @Option(parsing: .unconditional, help: "Comma-separated thread counts to measure.")
    var threads = CommaSeparated([1, 2])

    @Option(help: "Timed repetitions per pass (the best is reported).")
    public var repetitions = 5

    @Option(help: "Classes of the softmax model.")
    public var classes = 4

    @Option(help: "Comma-separated quantile levels τ of the quantile model.")
    var taus = CommaSeparated([0.1, 0.5, 0.9])

    @Option(help: "Smoothing μ of the svm and quantile losses (0 = the exact hinge and pinball).")
    public var smoothing = 0.0

    @Option(help: "Focal exponent γ of the focal model.")
    public var focalGamma = 2.0

    @Option(help: "Focal class weight α of the focal model.")
    public var focalAlpha = 0.25

    @Flag(help: "Also print one JSON object as the last line.")
    public var json = false

    public init() {}

    enum BenchModel: String, CaseIterable, ExpressibleByArgument {
        case logistic, focal, svm, quantile, softmax
    }

    public func run() throws {
        try threads.require(atLeast: 1, "--threads")
        let (threadCounts, models, precisions, levels) = (threads.values, self.models.values, self.precisions.values, taus.values)
        guard megabytes >= 1, columns >= 1, blockRows >= 1, repetitions >= 1 else {
            throw ValidationError("--megabytes, --columns, --block-rows and --repetitions must be positive")
        }
        print("gradient passes vs read pass, \(columns) columns, \(blockRows)-row blocks, "
              + "kernels: \(KernelImplementation.fastestCode)")
        print("model      precision  rows        MB     threads  M rows/s   GB/s    read GB/s  ratio")
        var reports: [[String: Any]] = []
        for precision in precisions {
            let rowCount = rows ?? max(1, megabytes * 1_000_000 / ((columns + 1) * precision.byteWidth))
            var cached: (labels: GradientBenchmark.Labels, blocks: [Block])?
            for benchModel in models {
                let (instance, parameters, labels) = try make(benchModel, levels: levels)
                let configuration = GradientBenchmark.Configuration(
                    rows: rowCount, columns: columns, blockRows: blockRows, precision: precision, labels: labels,
                    threadCounts: threadCounts, repetitions: repetitions, seed: 1)
                let blocks: [Block]
                if let cached, cached.labels == labels {
                    blocks = cached.blocks
                } else {
                    cached = nil  // release the previous matrix before making the next one
                    blocks = try GradientBenchmark.makeBlocks(configuration)
                    cached = (labels, blocks)
                }
                let result = try measure(instance, parameters: parameters, configuration: configuration, blocks: blocks)
                for m in result.measurements {
                    let names = benchModel.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0)
                        + precision.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0)
                    print(
                        names
                            + String(
                                format: "%-10d  %5d  %7d  %8.1f  %6.2f  %9.2f  %5.3f", rowCount,
                                result.bytes / 1_000_000, m.threads, m.rowsPerSecond / 1e6, m.gradientGBPerSecond,
                                m.readGBPerSecond, m.ratio))
                }
                reports.append([
                    "model": benchModel.rawValue, "precision": precision.rawValue, "rows": rowCount,
                    "columns": columns, "bytes": result.bytes, "blocks": result.blockCount,
                    "measurements": result.measurements.map {
                        [
                            "threads": $0.threads, "rows_per_second": $0.rowsPerSecond,
                            "gradient_gigabytes_per_second": $0.gradientGBPerSecond,
                            "read_gigabytes_per_second": $0.readGBPerSecond, "ratio_to_read_bandwidth": $0.ratio,
                        ] as [String: Any]
                    },
                ])
            }
        }
        if json {
            let object: [String: Any] = [
                "benchmark": "gradient", "simd_kernels": KernelImplementation.simdAvailable,
                "kernels": KernelImplementation.fastestCode, "block_rows": blockRows,
                "smoothing": smoothing, "classes": classes, "taus": levels, "results": reports,
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }
    }

    /// The model, its parameters for the pass (near the data's generating direction v, see
    /// GradientBenchmark) and the labels it needs.
    private func make(_ benchModel: BenchModel, levels: [Double]) throws
        -> (any Model, [Double], GradientBenchmark.Labels)
    {
        let (w, b) = GradientBenchmark.parameters(columns: columns)
        switch benchModel {
        case .logistic:
            return (LogisticRegression(featureCount: columns, l2: 0), w + [b], .binary)
        case .focal:
            let focal = FocalParameters(gamma: focalGamma, alpha: focalAlpha)
            return (
                try LogisticRegression(featureCount: columns, l2: 0, focal: focal, classWeights: nil), w + [b], .binary
            )
        case .svm:
            return (LinearSVM(featureCount: columns, l2: 0), w + [b], .signed)
        case .quantile:
            // W_dq = 1.8 w_d = 0.9 v_d, b_q = τ_q − 1/2 (the τ-quantile of the noise).
            let model = try QuantileRegression(featureCount: columns, l2: 0, taus: levels)
            let weights = w.flatMap { value in levels.map { _ in 1.8 * value } }
            return (model, weights + levels.map { $0 - 0.5 }, .real)
        case .softmax:
            // W_dk = w_d (k − (K−1)/2), b = 0.
            let weights = (0..<classes).map { 1 + Double($0) / Double(classes) }
            let model = try SoftmaxRegression(
                featureCount: columns, l2: 0, classCount: classes, classWeights: weights)
            let center = Double(classes - 1) / 2
            let matrix = w.flatMap { value in (0..<classes).map { value * (Double($0) - center) } }
            return (model, matrix + [Double](repeating: 0, count: classes), .classes(classes))
        }
    }

    /// Runs the model's blockSums (checked once on the first block, so that a shape or label error is
    /// reported instead of timed) against the read pass.
    private func measure(
        _ instance: any Model, parameters: [Double], configuration: GradientBenchmark.Configuration, blocks: [Block]
    ) throws -> GradientBenchmark.Result {
        let context = RoundContext(seed: 1, round: 1, smoothing: smoothing)
        var check = [Double](repeating: 0, count: instance.sumsWidth)
        try parameters.withUnsafeBufferPointer { p in
            try check.withUnsafeMutableBufferPointer { out in
                try instance.blockSums(blocks[0], parameters: p, context: context, into: out)
            }
        }
        return try GradientBenchmark.run(configuration, blocks: blocks, sumsWidth: instance.sumsWidth) { block, slot in
            parameters.withUnsafeBufferPointer { p in
                do {
                    try instance.blockSums(block, parameters: p, context: context, into: slot)
                } catch {
                    slot.update(repeating: .nan)  // not reached: the first block was checked above
                }
            }
        }
    }
}
