import ArgumentParser

/// `shardtrain`: the root command. Subcommands parse and validate, then call library code.
public struct ShardTrainCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "shardtrain",
        abstract: "Deterministic data-parallel training of classic ML models over ZeroMQ.",
        // `--version` is answered by `main()` (with the build identity).
        version: BuildIdentity.version,
        subcommands: [
            TrainCommand.self, CoordinatorCommand.self, WorkerCommand.self, WatchCommand.self, ScaleCommand.self,
            PredictCommand.self, EvaluateCommand.self, IdentifyCommand.self, SampleCommand.self, ReconstructCommand.self,
            LossCommand.self, BenchCommand.self, KeysCommand.self, SimulateCommand.self, ReportCommand.self,
        ]
    )

    public init() {}

    /// Runs the command line: `--version` prints the version and build identity; `train` and `coordinator` with
    /// `--config FILE` take the recorded settings as defaults (`ConfigFile.expand`).
    public static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments == ["--version"] {
            print(BuildIdentity.versionText)
            return
        }
        let expanded: [String]
        do { expanded = try ConfigFile.expand(arguments) } catch { exit(withError: error) }
        // The process ends only after the background work it started (digests) has ended. A `CommandFailure`
        // ends it with its message and status, anything else as ArgumentParser ends it (help and version on
        // standard output with 0, usage errors with 64).
        do {
            var command = try parseAsRoot(expanded)
            try command.run()
        } catch let failure as CommandFailure {
            BackgroundWork.finish()
            failure.exit()
        } catch {
            BackgroundWork.finish()
            exit(withError: error)
        }
        BackgroundWork.finish()
    }
}
