import ArgumentParser
import Foundation
import ShardCluster

/// `shardtrain watch`: follows the progress a training run publishes with --progress-endpoint.
public struct WatchCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Follow a training run's progress from another terminal or host.",
        discussion: """
            Start training with --progress-endpoint tcp://127.0.0.1:5556, then:
              shardtrain watch --connect tcp://127.0.0.1:5556
            Prints each round as it happens and exits after the run's summary. Arriving late, it is sent the latest \
            round at once and says how many it missed; a run that already ended waits --progress-linger seconds \
            (default 5) for a first watcher.
            """)

    @Option(help: "The endpoint given to --progress-endpoint.", transform: EndpointArgument.normalized)
    public var connect: String

    @Option(help: "Output: text (one line per round) or json (the JSON lines as published).")
    public var logFormat: LogFormat = .text

    @Option(
        help: "Give up (exit 1) after this many seconds without a message; a running job sends one at least every second.")
    public var timeout = 30.0

    @OptionGroup public var keys: ClientKeyArguments

    public init() {}

    public func validate() throws {
        if !(timeout > 0 && timeout <= 86_400) {
            throw ValidationError("--timeout must be between 0 and 86400 seconds")
        }
    }

    public func run() throws {
        let subscriber = try ProgressSubscriber(connect: connect, security: try keys.security())
        var lastRound: Int?
        while true {
            guard let (topic, line) = try subscriber.next(timeout: timeout) else {
                let keyHint =
                    keys.secretKey == nil
                    ? ""
                    : " With keys, a refused subscription looks like this too: the run's --allow folder must hold this "
                        + "watcher's .public key, and --coordinator-key must be the run's .public key."
                throw CommandFailure(
                    "no progress from \(connect) for \(timeout) s: is a run publishing there (--progress-endpoint)?" + keyHint)
            }
            if topic == "heartbeat" { continue }
            if topic == "round" {
                let object = (try? JSONSerialization.jsonObject(with: line)) as? [String: Any]
                let round = object?["round"] as? Int
                // The publisher greets every new subscriber with the latest round: skip what was seen already.
                if let round, let lastRound, round <= lastRound { continue }
                if let round, lastRound == nil, round > 1 {
                    FileHandle.standardError.write(Data("watch: joined at round \(round): missed \(round - 1) rounds\n".utf8))
                }
                lastRound = round ?? lastRound
            }
            switch logFormat {
            case .json:
                FileHandle.standardOutput.write(line + Data("\n".utf8))
            case .text:
                print(Self.text(topic: topic, line: line))
            }
            if topic == "summary" { return }
        }
    }

    static func text(topic: String, line: Data) -> String {
        guard let object = (try? JSONSerialization.jsonObject(with: line)) as? [String: Any] else {
            return String(decoding: line, as: UTF8.self)
        }
        func number(_ key: String) -> String {
            (object[key] as? Double).map { String(format: "%.12g", $0) } ?? "?"
        }
        if topic == "summary" {
            return "summary: objective \(number("objective")), rounds \(number("rounds")), "
                + "converged \(object["converged"] as? Bool ?? false), sha256 \(object["parameters_sha256"] as? String ?? "?")"
        }
        return "round \(number("round"))  objective \(number("objective"))  |g| \(number("gradient_norm"))"
    }
}
