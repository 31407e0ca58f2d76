import ArgumentParser
import Foundation

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
        if let first = arguments.first, let failure = unknownCommand(first) { failure.exit() }
        let expanded: [String]
        do { expanded = try ConfigFile.expand(arguments) } catch { exit(withError: error) }
        // The process ends only after the background work it started (digests) has ended. A `CommandFailure`
        // ends it with its message and status, anything else as ArgumentParser ends it (help and version on
        // standard output with 0, usage errors with 64).
        var command: any ParsableCommand
        do {
            command = try parseAsRoot(expanded)
        } catch {
            exit(withError: error)
        }
        do {
            try command.run()
        } catch let failure as CommandFailure {
            BackgroundWork.finish()
            failure.exit()
        } catch {
            BackgroundWork.finish()
            exitWithUsage(error, of: type(of: command))
        }
        BackgroundWork.finish()
    }

    /// A first argument that is neither an option nor a command (`shardtrain trian --data …`), which the parser would
    /// report as an unknown option further on: named, with the nearest command when one is close.
    static func unknownCommand(_ word: String) -> CommandFailure? {
        let names = configuration.subcommands.map { $0._commandName } + ["help"]
        guard !word.hasPrefix("-"), !names.contains(word) else { return nil }
        let nearest = names.map { (name: $0, distance: editDistance(word, $0)) }.min { $0.distance < $1.distance }
        let suggestion = nearest.flatMap { $0.distance <= ($0.name.count >= 4 ? 2 : 1) ? "; did you mean '\($0.name)'?" : nil }
        return CommandFailure(
            "unknown command '\(word)'\(suggestion ?? "")\ncommands: \(names.dropLast().joined(separator: ", "))",
            status: .usage)
    }

    /// Levenshtein distance (insertions, deletions, substitutions), for command suggestions.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let (a, b) = (Array(a), Array(b))
        var previous = Array(0...b.count)
        for i in 1...max(1, a.count) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in stride(from: 1, through: b.count, by: 1) {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return a.isEmpty ? b.count : previous[b.count]
    }

    /// Ends the process for an error a command's `run` threw: a usage error (a key file, an endpoint checked while
    /// running) with the usage of the command that ran, as ArgumentParser shows it for errors found while
    /// parsing (its own `exit(withError:)` would show the root's); anything else as ArgumentParser ends it.
    static func exitWithUsage(_ error: any Error, of command: any ParsableCommand.Type) -> Never {
        let code = exitCode(for: error)
        guard code == .validationFailure else { exit(withError: error) }
        let usage = usageString(for: command)
        // "shardtrain keys generate NAME …": the command's words are those before the first argument or option.
        let words = usage.split(separator: " ").prefix { !$0.hasPrefix("[") && !$0.hasPrefix("<") && !$0.hasPrefix("-") }
        let text = "\(_errorPrefix)\(message(for: error))\nUsage: \(usage)\n  See '\(words.joined(separator: " ")) --help' "
            + "for more information.\n"
        FileHandle.standardError.write(Data(text.utf8))
        Foundation.exit(code.rawValue)
    }
}
