import Foundation
import Testing
import _TestSupport

/// Where new users stumble: the message says what to do instead, in one style (`error: …` on standard error) with
/// the exit statuses of README.md ("Exit status"): 1 failure, 64 usage, 130 interrupted.
@Suite("End to end: hints and one error style", .serialized)
struct HintsEndToEndTests {
    static func data(_ name: String) -> String {
        ReferenceData.repositoryRoot.appendingPathComponent("data/\(name)").path
    }

    /// Runs `shardtrain arguments` to its end; the exit status and standard error.
    static func run(_ arguments: [String], in directory: TemporaryDirectory, timeout: Double = 120) throws -> (Int32?, String) {
        let child = try ChildProcess(arguments, directory: directory.url)
        let status = child.wait(timeout: timeout)
        return (status, child.stderr)
    }

    static func summary(at path: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
    }

    /// The last line of `stderr`, which for a failed command is its error.
    static func lastLine(_ stderr: String) -> String {
        String(stderr.split(separator: "\n").last ?? "")
    }

    @Test("a multi-class label with a binary model suggests --model softmax, in one process and in a cluster alike")
    func multiClassLabelSuggestsSoftmax() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (single, singleError) = try Self.run(["train", "--data", Self.data("iris.csv")], in: directory)
        #expect(single == 1)
        let expected =
            "error: \(Self.data("iris.csv")):102: column 5 (\"label\"): label 2 is not a binary label (expected all labels "
            + "in {0, 1} or all in {-1, +1}); for more than two classes (labels 0, 1, 2, …) use --model softmax; for a "
            + "numeric target, --model linear (or quantile)"
        #expect(Self.lastLine(singleError) == expected, "\(singleError)")
        // The coordinator reads the data before any worker joins: the same line, the same status.
        let (cluster, clusterError) = try Self.run(
            ["coordinator", "--bind", "tcp://127.0.0.1:*", "--workers", "2", "--data", Self.data("iris.csv")], in: directory)
        #expect(cluster == 1)
        #expect(Self.lastLine(clusterError) == expected, "\(clusterError)")
        // A fractional label is a numeric target: no softmax suggestion.
        let fractional = try directory.write("x,label\n1,0\n2,1\n3,0.5\n", to: "fractional.csv")
        let (status, stderr) = try Self.run(["train", "--data", fractional, "--model", "svm"], in: directory)
        #expect(status == 1)
        #expect(
            Self.lastLine(stderr).hasSuffix(
                "label 0.5 is not a binary label (expected all labels in {0, 1} or all in {-1, +1}); for a numeric "
                    + "target, --model linear (or quantile); the label was read from column \"label\": if it is another "
                    + "column, name it with --label-column"), "\(stderr)")
    }

    @Test("a worker endpoint without tcp:// is taken as tcp://, localhost as 127.0.0.1, and a malformed one names the form")
    func endpointsWithoutTransport() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let port = Int.random(in: 20_000..<60_000)
        let summaryPath = directory.path("summary.json")
        let coordinator = try ChildProcess(
            [
                "coordinator", "--bind", "localhost:\(port)", "--workers", "2", "--data", Self.data("iris.csv"), "--model",
                "softmax", "--summary-json", summaryPath, "--join-timeout", "60",
            ], directory: directory.url)
        let workers = try ["127.0.0.1:\(port)", "localhost:\(port)"].map {
            try ChildProcess(["worker", "--connect", $0, "--join-timeout", "60"], directory: directory.url)
        }
        #expect(coordinator.wait(timeout: 120) == 0, "\(coordinator.stderr)")
        #expect(coordinator.stderr.contains("waiting on tcp://127.0.0.1:\(port) for 2 workers"), "\(coordinator.stderr)")
        for worker in workers {
            #expect(worker.wait(timeout: 30) == 0, "\(worker.stderr)")
            #expect(worker.stderr.contains("connecting to tcp://127.0.0.1:\(port)"), "\(worker.stderr)")
        }
        let summary = try Self.summary(at: summaryPath)
        #expect(summary["workers"] as? Int == 2)
        for (flag, value) in [
            ("--connect", "localhost"), ("--connect", "udp://127.0.0.1:5555"), ("--connect", "127.0.0.1:port"),
            ("--connect", ":5555"),
        ] {
            let (status, stderr) = try Self.run(["worker", flag, value], in: directory)
            #expect(status == 64, "\(value)")
            #expect(
                stderr.hasPrefix("error: The value '\(value)' is invalid for '--connect <connect>': \"\(value)\": expected "
                    + "tcp://HOST:PORT (or HOST:PORT), e.g. tcp://127.0.0.1:5555, or ipc://PATH"), "\(stderr)")
        }
        let (range, rangeError) = try Self.run(["worker", "--connect", "127.0.0.1:70000"], in: directory)
        #expect(range == 64 && rangeError.contains("port 70000 is out of range (0–65535; * picks a free one)"), "\(rangeError)")
        let (watch, watchError) = try Self.run(["watch", "--connect", "127.0.0.1", "--timeout", "1"], in: directory)
        #expect(watch == 64 && watchError.contains("expected tcp://HOST:PORT"), "\(watchError)")
        let (train, trainError) = try Self.run(
            ["train", "--data", Self.data("iris.csv"), "--progress-endpoint", "5556"], in: directory)
        #expect(train == 64 && trainError.contains("expected tcp://HOST:PORT"), "\(trainError)")
    }

    @Test("--workers beyond the number of blocks is refused, naming both and a --block-rows that fits; that one runs")
    func moreWorkersThanBlocks() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        // 150 rows in blocks of 75: 2 blocks for 3 workers. ceil(150 / 74) = 3 blocks.
        let arguments = ["train", "--data", Self.data("iris.csv"), "--model", "softmax", "--workers", "3"]
        let (status, stderr) = try Self.run(arguments + ["--block-rows", "75"], in: directory)
        #expect(status == 64)
        #expect(
            Self.lastLine(stderr)
                == "error: --workers 3 is more than the 2 blocks of the 150 training rows (75 rows per block), so 1 worker "
                + "would have nothing to do: use --workers 2 or fewer, or smaller blocks: --block-rows 74 or less gives 3 "
                + "or more blocks", "\(stderr)")
        let summaryPath = directory.path("summary.json")
        let (fitting, fittingError) = try Self.run(
            arguments + ["--block-rows", "74", "--summary-json", summaryPath], in: directory)
        #expect(fitting == 0, "\(fittingError)")
        let summary = try Self.summary(at: summaryPath)
        #expect(summary["blocks"] as? Int == 3)
        // `scale` checks its largest count; fewer rows than workers leaves only fewer workers to suggest.
        let (scale, scaleError) = try Self.run(
            ["scale", "--data", Self.data("iris.csv"), "--model", "softmax", "--workers", "1,3", "--block-rows", "75"],
            in: directory)
        #expect(scale == 64 && scaleError.contains("--workers 3 is more than the 2 blocks"), "\(scaleError)")
        let tiny = try directory.write("x,label\n1,0\n2,1\n", to: "tiny.csv")
        let (few, fewError) = try Self.run(["train", "--data", tiny, "--workers", "3"], in: directory)
        #expect(few == 64)
        #expect(Self.lastLine(fewError).hasSuffix("use --workers 1 or fewer"), "\(fewError)")
    }

    @Test("every command ends a failure with one `error: …` line and the documented status")
    func oneErrorStyle() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let missing = directory.path("missing.csv")
        let key = directory.path("keys/coordinator")
        let (generated, generateError) = try Self.run(["keys", "generate", key], in: directory)
        #expect(generated == 0, "keys generate makes the missing folder: \(generateError)")
        let failures: [(arguments: [String], status: Int32, line: String)] = [
            (["train", "--data", missing], 1, "error: \(missing): cannot read the file: No such file or directory"),
            (["train", "--data", missing, "--workers", "2"], 1, "error: \(missing): cannot read the file: No such file or directory"),
            (["coordinator", "--workers", "1", "--bind", "tcp://127.0.0.1:*", "--data", missing], 1, "error: \(missing): cannot read the file: No such file or directory"),
            (["predict", "--model-file", missing, "--data", missing], 1, "error: \(missing): "),
            (["evaluate", "--model-file", missing, "--data", missing], 1, "error: \(missing): "),
            (["identify", "--model-file", missing, "--gallery", missing, "--query", missing], 1, "error: \(missing): "),
            (["sample", "--model-file", missing, "--output", directory.path("x.png")], 1, "error: \(missing): "),
            (["keys", "generate", key], 1, "error: \(key).public exists: a key is never overwritten"),
            (["loss", "no_such_loss"], 64, "error: unknown loss 'no_such_loss'"),
            (["worker", "--connect", "tcp://127.0.0.1:9", "--join-timeout", "0.5"], 1, "error: coordinator at tcp://127.0.0.1:9 did not welcome us for 0.5 s (no connection was ever accepted at tcp://127.0.0.1:9"),
            (["worker", "--connect", "tcp://nosuch.invalid:5555"], 1, "error: cannot resolve the host \"nosuch.invalid\" of tcp://nosuch.invalid:5555"),
            (["watch", "--connect", "tcp://127.0.0.1:9", "--timeout", "0.5"], 1, "error: no progress from tcp://127.0.0.1:9 for 0.5 s"),
            (["train", "--data", missing, "--no-such-flag"], 64, "error: Unknown option '--no-such-flag'"),
            (["train"], 64, "error: Missing expected argument '--data <data>'"),
        ]
        for failure in failures {
            let (status, stderr) = try Self.run(failure.arguments, in: directory, timeout: 60)
            #expect(status == failure.status, "\(failure.arguments): \(stderr)")
            let errorLines = stderr.split(separator: "\n").filter { $0.hasPrefix("error: ") }
            #expect(errorLines.count == 1 && errorLines[0].hasPrefix(failure.line), "\(failure.arguments): \(stderr)")
            // Log lines of a failure carry no second, differently styled error.
            #expect(!stderr.contains(" error shardtrain."), "\(failure.arguments): \(stderr)")
        }
    }
}
