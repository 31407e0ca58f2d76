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
            StepBenchCommand.self,
        ]
    )

    public init() {}
}
