import ArgumentParser

/// `shardtrain`: the root command. Subcommands parse and validate, then call library code.
public struct ShardTrainCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "shardtrain",
        abstract: "Deterministic data-parallel training of classic ML models over ZeroMQ.",
        subcommands: [
            TrainCommand.self, CoordinatorCommand.self, WorkerCommand.self, WatchCommand.self, ScaleCommand.self,
            PredictCommand.self, EvaluateCommand.self, IdentifyCommand.self, SampleCommand.self, ReconstructCommand.self,
            LossCommand.self, BenchCommand.self, KeysCommand.self, SimulateCommand.self,
        ]
    )

    public init() {}
}
