import ArgumentParser
import Foundation
import ShardNumerics

/// `shardtrain bench`: release-mode benchmarks, each measured against a baseline in the same run.
public struct BenchCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks (build with -c release): each reports a ratio to a baseline measured in the same run.",
        subcommands: [
            GradientBenchCommand.self, LossesBenchCommand.self, IngestBenchCommand.self, DenseBenchCommand.self,
        ]
    )

    public init() {}
}

/// `shardtrain bench gradient`: the logistic gradient pass against a read-only pass over the same bytes.
public struct GradientBenchCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "gradient",
        abstract: "Time the logistic gradient pass over a synthetic float32 matrix against a read-only pass.",
        discussion: """
            Both passes run over the same blocks with the same block runner and thread count, best of
            --repetitions after a warm-up. The ratio (gradient GB/s ÷ read GB/s) says how close the gradient
            is to memory speed. Build with -c release.
            """)

    @Option(help: "Rows of the synthetic matrix.")
    public var rows = 1_000_000

    @Option(help: "Columns (features).")
    public var columns = 20

    @Option(help: "Rows per block.")
    public var blockRows = 4096

    @Option(help: "Comma-separated thread counts to measure.")
    public var threads = "1,2"

    @Option(help: "Timed repetitions per pass (the best is reported).")
    public var repetitions = 5

    @Flag(help: "Also print one JSON object as the last line.")
    public var json = false

    public init() {}

    public func run() throws {
        let threadCounts = threads.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !threadCounts.isEmpty, threadCounts.allSatisfy({ $0 >= 1 }) else {
            throw ValidationError("--threads must list positive integers, e.g. 1,2")
        }
        let result = try GradientBenchmark.run(
            .init(
                rows: rows, columns: columns, blockRows: blockRows, threadCounts: threadCounts,
                repetitions: repetitions, seed: 1, implementation: .fastest))
        print(
            "logistic gradient pass, \(rows) × \(columns) float32 (\(result.bytes / 1_000_000) MB), "
                + "\(result.blockCount) blocks, SIMD kernel: \(KernelImplementation.simdAvailable)")
        print("threads   rows/s        gradient GB/s   read GB/s   ratio")
        for m in result.measurements {
            print(
                String(
                    format: "%7d   %10.1fM   %13.2f   %9.2f   %5.3f", m.threads, m.rowsPerSecond / 1e6,
                    m.gradientGBPerSecond, m.readGBPerSecond, m.ratio))
        }
        if json, let best = result.measurements.last {
            let perThreads = result.measurements.map {
                [
                    "threads": $0.threads, "rows_per_second": $0.rowsPerSecond,
                    "gradient_gigabytes_per_second": $0.gradientGBPerSecond,
                    "read_gigabytes_per_second": $0.readGBPerSecond, "ratio_to_read_bandwidth": $0.ratio,
                ] as [String: Any]
            }
            let object: [String: Any] = [
                "benchmark": "gradient", "rows": rows, "columns": columns, "threads": best.threads,
                "rows_per_second": best.rowsPerSecond, "gradient_gigabytes_per_second": best.gradientGBPerSecond,
                "read_gigabytes_per_second": best.readGBPerSecond, "ratio_to_read_bandwidth": best.ratio,
                "measurements": perThreads,
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }
    }
}
