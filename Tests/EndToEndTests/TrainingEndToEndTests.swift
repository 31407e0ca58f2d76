import Foundation
import Testing
import _TestSupport

/// Real processes: the `shardtrain` binary as coordinator and workers over ZeroMQ on loopback.
@Suite("End to end: training with worker processes", .serialized)
struct TrainingEndToEndTests {
    static let dataPath = ReferenceData.repositoryRoot.appendingPathComponent("data/breast_cancer.csv").path

    /// The breast-cancer logistic problem of optima.json: its training rows and optimum.
    struct Problem {
        let trainRows: [Int]
        let objective: Double
        let rtol: Double
    }

    static func problem() throws -> Problem {
        let optima = try ReferenceData.load("optima.json")
        let rows = try #require(optima["splits"]?["breast_cancer"]?["train_rows"]?.ints)
        let problems = try #require(optima["problems"]?.array)
        let entry = try #require(problems.first { $0["id"]?.string == "breast_cancer/logistic/l2=0.01" })
        #expect(entry["l2"]?.double == 0.01)
        let objective = try #require(entry["optimum"]?["objective"]?.double)
        let rtol = try #require(entry["tolerance"]?["objective_rtol"]?.double)
        return Problem(trainRows: rows, objective: objective, rtol: rtol)
    }

    static func summary(at path: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test("logistic regression reaches the reference optimum with 0, 1, 2 and 3 workers, with identical parameters")
    func optimumAndIdenticalBitsAcrossWorkerCounts() throws {
        let problem = try Self.problem()
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let rows = try directory.write(problem.trainRows.map(String.init).joined(separator: "\n"), to: "train_rows.txt")
        var hashes: [String] = []
        for workers in 0...3 {
            let summaryPath = directory.path("summary-\(workers).json")
            let child = try ChildProcess(
                [
                    "train", "--data", Self.dataPath, "--rows", rows, "--standardize", "--l2", "0.01",
                    "--workers", String(workers), "--summary-json", summaryPath, "--log-format", "json",
                ], directory: directory.url)
            let status = child.wait(timeout: 120)
            try #require(status == 0, "workers \(workers): exit \(String(describing: status))\n\(child.stderr)")
            let summary = try Self.summary(at: summaryPath)
            let objective = try #require(summary["objective"] as? Double)
            let relative = abs(objective - problem.objective) / abs(problem.objective)
            #expect(relative <= problem.rtol, "workers \(workers): objective \(objective) vs \(problem.objective)")
            #expect(summary["converged"] as? Bool == true, "workers \(workers): \(summary["stop_reason"] ?? "")")
            #expect(summary["workers"] as? Int == workers)
            #expect(summary["rows"] as? Int == problem.trainRows.count)
            // The training report reuses the final round's data loss (tree order) instead of a second pass.
            let trainMetrics = try #require(summary["train_metrics"] as? [String: Any])
            #expect(trainMetrics["data_loss"] as? Double == summary["data_loss"] as? Double)
            let accuracy = try #require(summary["train_accuracy"] as? Double)
            #expect(accuracy > 0.97)
            hashes.append(try #require(summary["parameters_sha256"] as? String))
            // The JSON progress stream: one object per round, then the summary.
            let lines = child.stdout.split(separator: "\n")
            let rounds = lines.filter { $0.contains("\"event\":\"round\"") }
            #expect(rounds.count == summary["rounds"] as? Int)
            #expect(lines.last?.contains("\"event\":\"summary\"") == true)
        }
        #expect(Set(hashes).count == 1, "parameters differ between worker counts: \(hashes)")
    }

    @Test("float32 storage reaches the optimum to 1e-5")
    func float32ReachesOptimum() throws {
        let problem = try Self.problem()
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let rows = try directory.write(problem.trainRows.map(String.init).joined(separator: ","), to: "rows.txt")
        let summaryPath = directory.path("summary.json")
        let child = try ChildProcess(
            [
                "train", "--data", Self.dataPath, "--rows", rows, "--standardize", "--precision", "float32",
                "--workers", "2", "--summary-json", summaryPath,
            ], directory: directory.url)
        try #require(child.wait(timeout: 120) == 0, "\(child.stderr)")
        let objective = try #require(try Self.summary(at: summaryPath)["objective"] as? Double)
        #expect(abs(objective - problem.objective) / problem.objective <= 1e-5)
    }

    /// `count` workers started separately, connecting to the endpoint `coordinator` logs once it has bound.
    static func startWorkers(_ count: Int, for coordinator: ChildProcess, in directory: TemporaryDirectory) throws
        -> [ChildProcess]
    {
        let endpoint = coordinator.loggedWord(after: "waiting on ", timeout: 60)
        let bound = try #require(endpoint, "the coordinator did not bind: \(coordinator.stderr)")
        return try (0..<count).map { _ in try ChildProcess(["worker", "--connect", bound], directory: directory.url) }
    }

    static let fraudPath = ReferenceData.repositoryRoot.appendingPathComponent("data/fraud_synthetic.csv").path

    /// Gradient descent on the fraud data for exactly `rounds` rounds (no convergence test): long enough to
    /// interfere with, and with a known end to compare bits at.
    static func fixedRun(rounds: Int) -> [String] {
        [
            "--data", fraudPath, "--standardize", "--optimizer", "gd", "--learning-rate", "1e-3", "--max-rounds",
            String(rounds), "--gradient-tolerance", "0", "--objective-tolerance", "0", "--log-format", "json",
        ]
    }

    /// The `parameters_sha256` of a finished run's JSON progress stream (its closing summary line).
    static func digest(_ stdout: String) -> String? {
        guard let line = stdout.split(separator: "\n").last(where: { $0.contains("\"event\":\"summary\"") }),
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        else { return nil }
        return object["parameters_sha256"] as? String
    }

    /// The digest of the fault-free single-process run of `fixedRun(rounds:)`.
    static func faultFreeDigest(rounds: Int, in directory: TemporaryDirectory) throws -> String {
        let reference = try ChildProcess(["train", "--workers", "0"] + Self.fixedRun(rounds: rounds), directory: directory.url)
        try #require(reference.wait(timeout: 120) == 0, "\(reference.stderr)")
        return try #require(Self.digest(reference.stdout))
    }

    /// Waits until `process` has reported `count` rounds on its JSON progress stream.
    static func waitForRounds(_ count: Int, of process: ChildProcess) throws {
        let running = process.waitForOutput(timeout: 60) { stdout, _ in
            stdout.split(separator: "\n").filter { $0.contains("\"event\":\"round\"") }.count >= count
        }
        try #require(running, "training did not reach round \(count): \(process.stderr)")
    }

    @Test("kill -9 of one of three workers mid-run: the run goes on to the same bits as --workers 0 and counts the loss")
    func killedWorkerIsReplaced() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let rounds = 400
        let expected = try Self.faultFreeDigest(rounds: rounds, in: directory)
        let coordinator = try ChildProcess(
            ["coordinator", "--bind", "tcp://127.0.0.1:*", "--workers", "3", "--worker-timeout", "2"] + Self.fixedRun(rounds: rounds),
            directory: directory.url)
        let workers = try Self.startWorkers(3, for: coordinator, in: directory)
        try Self.waitForRounds(50, of: coordinator)
        let victim = workers[1]
        kill(victim.pid, SIGKILL)
        #expect(coordinator.wait(timeout: 120) == 0, "\(coordinator.stderr)")
        #expect(Self.digest(coordinator.stdout) == expected)
        #expect(coordinator.stderr.contains("(pid \(victim.pid) on"), "the loss does not name the worker: \(coordinator.stderr)")
        let lost = coordinator.stdout.split(separator: "\n").filter { $0.contains("\"event\":\"worker_lost\"") }
        #expect(lost.count == 1)
        #expect(coordinator.stdout.contains("\"event\":\"blocks_reassigned\""))
        #expect(coordinator.stdout.contains("\"workers_lost\":1"), "the summary counts the loss")
        // The survivors finish normally.
        for worker in [workers[0], workers[2]] { #expect(worker.wait(timeout: 10) == 0, "\(worker.stderr)") }
    }

    @Test("below --min-workers a loss fails the run within seconds, naming the worker; the others exit non-zero")
    func lossBelowMinimumFails() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let coordinator = try ChildProcess(
            ["coordinator", "--bind", "tcp://127.0.0.1:*", "--workers", "2", "--min-workers", "2"] + Self.fixedRun(rounds: 1_000_000),
            directory: directory.url)
        let workers = try Self.startWorkers(2, for: coordinator, in: directory)
        try Self.waitForRounds(5, of: coordinator)
        kill(workers[1].pid, SIGKILL)
        let killedAt = Date()
        let status = coordinator.wait(timeout: 20)
        #expect(status == 1, "coordinator exit status \(String(describing: status))")
        #expect(Date().timeIntervalSince(killedAt) < 6)
        #expect(coordinator.stderr.contains("(pid \(workers[1].pid) on"), "\(coordinator.stderr)")
        #expect(coordinator.stderr.contains("fewer than --min-workers 2"), "\(coordinator.stderr)")
        // The survivor is told the job failed: a Kubernetes Job or Slurm step must not report success.
        #expect(workers[0].wait(timeout: 10) == 1, "\(workers[0].stderr)")
    }

    /// The pids of the workers a coordinator's log says joined ("worker 0 (pid 123 on host) joined (…").
    static func joinedWorkerPids(_ log: String) -> Set<Int32> {
        Set(log.split(separator: "\n").compactMap { line -> Int32? in
            guard line.contains("joined ("), let range = line.range(of: "(pid ") else { return nil }
            return Int32(line[range.upperBound...].prefix { $0.isNumber })
        })
    }

    /// `train --workers 2` running gradient descent with a tiny step on the fraud data (long enough to
    /// interfere with), and the pids of its two worker processes read from the coordinator's log.
    static func startLocalLongRun(in directory: TemporaryDirectory) throws -> (ChildProcess, Set<Int32>) {
        let train = try ChildProcess(["train", "--workers", "2"] + Self.fixedRun(rounds: 1_000_000), directory: directory.url)
        let running = train.waitForOutput(timeout: 60) { stdout, _ in stdout.contains("\"event\":\"round\"") }
        try #require(running, "training did not start: \(train.stderr)")
        let pids = Self.joinedWorkerPids(train.stderr)
        try #require(pids.count == 2, "expected two worker pids in: \(train.stderr)")
        return (train, pids)
    }

    @Test("train --workers 3: a local worker stopped (SIGSTOP) is replaced after --worker-timeout; same bits; once continued it exits non-zero")
    func stoppedLocalWorkerIsReplaced() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let rounds = 400
        let expected = try Self.faultFreeDigest(rounds: rounds, in: directory)
        let train = try ChildProcess(
            ["train", "--workers", "3", "--worker-timeout", "1", "--heartbeat-interval", "0.1"] + Self.fixedRun(rounds: rounds),
            directory: directory.url)
        try Self.waitForRounds(50, of: train)
        let pids = Self.joinedWorkerPids(train.stderr)
        try #require(pids.count == 3, "\(train.stderr)")
        let victim = pids.min()!
        kill(victim, SIGSTOP)
        let stoppedAt = Date()
        let lost = train.waitForOutput(timeout: 30) { stdout, _ in stdout.contains("\"event\":\"worker_lost\"") }
        #expect(lost, "\(train.stderr)")
        // Detected by silence: a little over the 1 s timeout.
        #expect(Date().timeIntervalSince(stoppedAt) < 4)
        kill(victim, SIGCONT)
        #expect(train.wait(timeout: 120) == 0, "\(train.stderr)")
        #expect(Self.digest(train.stdout) == expected)
        let loss = train.stderr.split(separator: "\n").first { $0.contains("(pid \(victim) on") && $0.contains(") lost: ") }
        #expect(loss?.contains("lost: silent for") == true, "\(train.stderr)")
        // Told it was dropped, the continued worker exits non-zero (and is reaped).
        #expect(train.stderr.contains("pid=\(victim)") && train.stderr.contains("dropped from the job"), "\(train.stderr)")
        #expect(!processIsAlive(victim))
    }

    @Test("train --workers 2 --restart-workers: a killed local worker is replaced, the new one joins at a round boundary; same bits")
    func killedLocalWorkerIsRestarted() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let rounds = 400
        let expected = try Self.faultFreeDigest(rounds: rounds, in: directory)
        let train = try ChildProcess(
            ["train", "--workers", "2", "--restart-workers"] + Self.fixedRun(rounds: rounds), directory: directory.url)
        try Self.waitForRounds(50, of: train)
        let pids = Self.joinedWorkerPids(train.stderr)
        try #require(pids.count == 2, "\(train.stderr)")
        kill(pids.max()!, SIGKILL)
        #expect(train.wait(timeout: 120) == 0, "\(train.stderr)")
        #expect(Self.digest(train.stdout) == expected)
        let events = train.stdout.split(separator: "\n").filter { !$0.contains("\"event\":\"round\"") }
        #expect(events.filter { $0.contains("\"event\":\"worker_lost\"") }.count == 1)
        #expect(events.filter { $0.contains("\"event\":\"worker_joined\"") }.count == 1, "\(events)")
        let all = Self.joinedWorkerPids(train.stderr)
        #expect(all.count == 3)
        for pid in all { #expect(!processIsAlive(pid), "worker \(pid) still running") }
    }

    @Test("a worker still waiting for the others exits within 2 s of its coordinator's death (not after the join timeout)")
    func joiningWorkerNoticesADeadCoordinator() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let coordinator = try ChildProcess(
            ["coordinator", "--bind", "tcp://127.0.0.1:*", "--workers", "2", "--worker-timeout", "1", "--join-timeout", "300"]
                + Self.fixedRun(rounds: 10),
            directory: directory.url)
        let worker = try Self.startWorkers(1, for: coordinator, in: directory)[0]
        // Killed once the worker holds the job's timing (WELCOME), not merely once the coordinator saw its HELLO.
        let joined = worker.waitForOutput(timeout: 30) { _, stderr in stderr.contains("joined as worker") }
        try #require(joined, "\(worker.stderr)")
        kill(coordinator.pid, SIGKILL)
        let killedAt = Date()
        #expect(worker.wait(timeout: 20) == 1, "\(worker.stderr)")
        #expect(Date().timeIntervalSince(killedAt) < 2, "the worker waited for the join timeout")
        #expect(worker.stderr.contains("went silent"), "\(worker.stderr)")
    }

    @Test("Ctrl-C stops training and reaps every local worker")
    func interruptReapsChildren() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (train, pids) = try Self.startLocalLongRun(in: directory)
        kill(train.pid, SIGINT)
        let status = train.wait(timeout: 15)
        #expect(status == 130)
        for pid in pids { #expect(!processIsAlive(pid), "worker \(pid) still running") }
        // The workers are told the job did not finish (a Slurm step or Kubernetes Job must not report success).
        #expect(!train.stderr.contains("finished after"), "\(train.stderr)")
        #expect(train.stderr.contains("the coordinator was interrupted"), "\(train.stderr)")
    }

    /// The issue's `train … --workers 2 | (sleep 8; wc -l)`, which used to end with "coordinator went silent": the
    /// pipe is shrunk to 4 KiB, so it is full after about 20 rounds and the rest of the run (thousands of rounds, more
    /// than two worker timeouts) goes on with nobody reading.
    @Test("a stdout reader that pauses 8 s does not kill a run with 2 workers")
    func pausedReaderDoesNotStopHeartbeats() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ShardTrainBinary.path)
        process.arguments = [
            "train", "--data", Self.dataPath, "--standardize", "--workers", "2", "--log-format", "json", "--optimizer",
            "gd", "--l2", "0", "--max-rounds", "6000", "--gradient-tolerance", "0", "--objective-tolerance", "0",
            "--heartbeat-interval", "0.1", "--worker-timeout", "1",
        ]
        let output = Pipe()
        let setPipeSize: Int32 = 1031  // F_SETPIPE_SZ (Linux)
        #expect(fcntl(output.fileHandleForWriting.fileDescriptor, setPipeSize, 4096) >= 4096)
        process.standardOutput = output
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: directory.write("", to: "stderr.txt")))
        process.standardInput = FileHandle.nullDevice
        try process.run()
        Thread.sleep(forTimeInterval: 8)
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let stderr = (try? String(contentsOfFile: directory.path("stderr.txt"), encoding: .utf8)) ?? ""
        #expect(process.terminationStatus == 0, "stderr: \(stderr.suffix(800))")
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n")
        let summary = try #require(
            try JSONSerialization.jsonObject(with: Data((lines.last ?? "").utf8)) as? [String: Any], "\(lines.suffix(2))")
        #expect(summary["event"] as? String == "summary")
        // Every round's line arrived, in order, after the pause, and no worker was lost meanwhile.
        let rounds = try #require(summary["rounds"] as? Int)
        #expect(rounds == 6000 && lines.filter { $0.contains("\"event\":\"round\"") }.count == rounds)
        let faults = try #require(summary["faults"] as? [String: Any])
        #expect(faults["workers_lost"] as? Int == 0, "\(faults)")
        // Training outlasted two worker timeouts while the pipe was full.
        #expect(try #require(summary["wall_seconds"] as? Double) > 2)
    }

    @Test("shardtrain watch follows the progress a run publishes and ends with its summary")
    func watchFollowsProgress() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let summaryPath = directory.path("summary.json")
        let train = try ChildProcess(
            [
                "train", "--workers", "1", "--data",
                ReferenceData.repositoryRoot.appendingPathComponent("data/fraud_synthetic.csv").path,
                "--optimizer", "gd", "--learning-rate", "1e-5", "--max-rounds", "3000", "--gradient-tolerance", "0",
                "--objective-tolerance", "0", "--progress-endpoint", "tcp://127.0.0.1:*", "--summary-json", summaryPath,
            ], directory: directory.url)
        let endpoint = train.loggedWord(after: "publishing progress on ", timeout: 60)
        let bound = try #require(endpoint, "no progress endpoint in: \(train.stderr)")
        let watch = try ChildProcess(
            ["watch", "--connect", bound, "--log-format", "json", "--timeout", "60"], directory: directory.url)
        #expect(train.wait(timeout: 120) == 0, "\(train.stderr)")
        #expect(watch.wait(timeout: 30) == 0, "\(watch.stderr)")
        let lines = watch.stdout.split(separator: "\n")
        #expect(lines.contains { $0.contains("\"event\":\"round\"") }, "no round received: \(watch.stdout.prefix(500))")
        let summary = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: summaryPath))) as? [String: Any])
        let hash = try #require(summary["parameters_sha256"] as? String)
        #expect(lines.last?.contains("\"event\":\"summary\"") == true)
        #expect(lines.last?.contains(hash) == true, "the watched summary names other parameters")
    }

    @Test("cluster/local.sh starts a coordinator and workers as separate commands and cleans up")
    func localClusterScript() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let summaryPath = directory.path("summary.json")
        let script = ReferenceData.repositoryRoot.appendingPathComponent("cluster/local.sh").path
        let child = try ChildProcess(
            [
                script, "--workers", "3", "--port", String(Int.random(in: 20_000..<60_000)), "--bin", ShardTrainBinary.path,
                "--", "--data", Self.dataPath, "--standardize", "--summary-json", summaryPath,
            ], executable: "/bin/bash", directory: directory.url)
        #expect(child.wait(timeout: 120) == 0, "\(child.stderr)")
        let summary = try Self.summary(at: summaryPath)
        #expect(summary["workers"] as? Int == 3)
        #expect(summary["converged"] as? Bool == true)
        let pids = Self.joinedWorkerPids(child.stderr)
        #expect(pids.count == 3, "\(child.stderr)")
        for pid in pids { #expect(!processIsAlive(pid), "worker \(pid) outlived the script") }
    }

    struct RejectedOptions: CustomTestStringConvertible, Sendable {
        let arguments: [String]
        let message: String
        var testDescription: String { arguments.joined(separator: " ") }
    }

    static let rejectedOptions: [RejectedOptions] = [
        RejectedOptions(arguments: ["--model", "svm", "--focal-gamma", "2"], message: "--focal-gamma applies to --model logistic only"),
        RejectedOptions(arguments: ["--focal-alpha", "2"], message: "--focal-alpha needs --focal-gamma"),
        RejectedOptions(arguments: ["--hidden", "8"], message: "--hidden applies to --model triplet, vae only"),
        RejectedOptions(arguments: ["--momentum", "0.5"], message: "--momentum applies to --optimizer sgd only"),
        RejectedOptions(arguments: ["--model", "svm", "--smoothing-final", "10"], message: "--smoothing-final"),
        RejectedOptions(arguments: ["--model", "vae", "--optimizer", "lbfgs"], message: "its objective is random"),
        RejectedOptions(
            arguments: ["--optimizer", "adam", "--block-rows", "128", "--batch-blocks", "99"],
            message: "--batch-blocks 99 is more than the 5 blocks"),
        RejectedOptions(arguments: ["--model", "quantile"], message: "--model quantile needs --tau"),
        RejectedOptions(arguments: ["--learning-rate", "1000"], message: "--learning-rate applies to --optimizer gd, sgd, adam, adamw only"),
        RejectedOptions(arguments: ["--optimizer", "adam", "--lbfgs-memory", "3"], message: "--lbfgs-memory applies to --optimizer lbfgs only"),
    ]

    @Test("option combinations that cannot mean anything are refused with the flag named", arguments: rejectedOptions)
    func rejectedOptionCombinations(_ testCase: RejectedOptions) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let child = try ChildProcess(["train", "--data", Self.dataPath] + testCase.arguments, directory: directory.url)
        let status = child.wait(timeout: 60)
        #expect(status != nil && status != 0)
        #expect(child.stderr.contains(testCase.message), "\(child.stderr)")
    }

    @Test("--test-rows are held out of training; listing a row for both is an error")
    func heldOutRowsDoNotTrain() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let testRows = try directory.write("0,1,2,3,4,5,6,7,8,9", to: "test.txt")
        let summaryPath = directory.path("summary.json")
        let child = try ChildProcess(
            ["train", "--data", Self.dataPath, "--standardize", "--test-rows", testRows, "--summary-json", summaryPath],
            directory: directory.url)
        #expect(child.wait(timeout: 60) == 0, "\(child.stderr)")
        let summary = try Self.summary(at: summaryPath)
        #expect(summary["rows"] as? Int == 559)
        #expect((summary["test_metrics"] as? [String: Any])?["rows"] as? Int == 10)
        let trainRows = try directory.write("9,10,11", to: "train.txt")
        let overlap = try ChildProcess(
            ["train", "--data", Self.dataPath, "--rows", trainRows, "--test-rows", testRows], directory: directory.url)
        #expect(overlap.wait(timeout: 60) == 1)
        #expect(overlap.stderr.contains("data row 9 is both a training row"), "\(overlap.stderr)")
    }

    @Test("the embedding model mixes classes into blocks: a file sorted by class still trains")
    func sortedFileStillTrainsTriplets() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let summaryPath = directory.path("summary.json")
        // iris.csv is sorted by class; with 50-row blocks every block would hold one class.
        let child = try ChildProcess(
            [
                "train", "--data", ReferenceData.repositoryRoot.appendingPathComponent("data/iris.csv").path,
                "--standardize", "--model", "triplet", "--block-rows", "50", "--max-rounds", "30",
                "--summary-json", summaryPath,
            ], directory: directory.url)
        #expect(child.wait(timeout: 60) == 0, "\(child.stderr)")
        let dataLoss = try #require(try Self.summary(at: summaryPath)["data_loss"] as? Double)
        #expect(dataLoss > 0.01, "no triplet was formed: data loss \(dataLoss)")
    }

    @Test("shardtrain scale: the same rounds per worker count, identical parameters, a non-negative cost model")
    func scalingExperiment() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let child = try ChildProcess(
            [
                "scale", "--data", Self.dataPath, "--standardize", "--optimizer", "gd", "--workers", "0,1,2",
                "--rounds", "12", "--json",
            ], directory: directory.url)
        #expect(child.wait(timeout: 120) == 0, "\(child.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(child.stdout.utf8)) as? [String: Any])
        #expect(report["identical_parameters"] as? Bool == true)
        let runs = try #require(report["runs"] as? [[String: Any]])
        #expect(runs.map { $0["workers"] as? Int } == [0, 1, 2])
        #expect(runs.allSatisfy { $0["rounds"] as? Int == 12 })
        for run in runs {
            let round = try #require(run["round_seconds"] as? Double)
            let compute = try #require(run["compute_seconds"] as? Double)
            #expect(round > 0 && compute > 0 && compute <= round * 1.5, "\(run)")
        }
        let model = try #require(report["model"] as? [String: Double])
        #expect(model.values.allSatisfy { $0 >= 0 && $0.isFinite }, "\(model)")
    }

    @Test("train --workers 2 ships blocks through shared memory, with the same bits as BLOCKS messages to separate workers")
    func sharedMemoryMatchesMessages() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let common = ["--data", Self.dataPath, "--standardize", "--l2", "0.01", "--log-format", "json"]
        let local = try ChildProcess(
            ["train", "--workers", "2", "--summary-json", directory.path("local.json")] + common, directory: directory.url)
        #expect(local.wait(timeout: 120) == 0, "\(local.stderr)")
        #expect(local.stderr.contains("blocks in shared memory: "), "\(local.stderr)")
        let coordinator = try ChildProcess(
            ["coordinator", "--bind", "tcp://127.0.0.1:*", "--workers", "2", "--summary-json", directory.path("remote.json")]
                + common, directory: directory.url)
        let workers = try Self.startWorkers(2, for: coordinator, in: directory)
        #expect(coordinator.wait(timeout: 120) == 0, "\(coordinator.stderr)")
        for worker in workers { #expect(worker.wait(timeout: 20) == 0, "\(worker.stderr)") }
        #expect(!coordinator.stderr.contains("shared memory"), "\(coordinator.stderr)")
        let hashes = try ["local.json", "remote.json"].map {
            try #require(try Self.summary(at: directory.path($0))["parameters_sha256"] as? String)
        }
        #expect(hashes[0] == hashes[1])
    }

    /// The names a coordinator's shared memory shows under: a region written for the workers, or the file the data
    /// was read into (`SharedArena`).
    static let sharedMemoryNames = ["memfd:shardtrain-blocks", "memfd:shardtrain-data"]

    /// The pids among `pids` that hold a coordinator's shared block region open (a memfd link in /proc/PID/fd).
    static func holdersOfBlockRegion(_ pids: [Int32]) -> [Int32] {
        pids.filter { pid in
            let links = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
            return links.contains {
                let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)")) ?? ""
                return sharedMemoryNames.contains { target.contains($0) }
            }
        }
    }

    /// The pids among `pids` that map a coordinator's shared block region (a memfd line in /proc/PID/maps).
    static func mappersOfBlockRegion(_ pids: [Int32]) -> [Int32] {
        pids.filter { pid in
            // Read to the end: a /proc file reports size 0, and a sized read would stop short of a long map.
            let maps = FileHandle(forReadingAtPath: "/proc/\(pid)/maps").flatMap { try? $0.readToEnd() } ?? Data()
            let text = String(decoding: maps, as: UTF8.self)
            return sharedMemoryNames.contains { text.contains($0) }
        }
    }

    @Test("train --workers: the workers compute on mappings of the shared memory the coordinator read its data into, which only the coordinator holds open; a killed coordinator leaves nothing behind")
    func sharedRegionIsReleased() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let shmBefore = Set((try? FileManager.default.contentsOfDirectory(atPath: "/dev/shm")) ?? [])
        let (train, pids) = try Self.startLocalLongRun(in: directory)
        let everyone = [train.pid] + Array(pids)
        #expect(Self.holdersOfBlockRegion(everyone) == [train.pid])
        // The coordinator read its data into the file it shares, so it maps it too.
        #expect(
            Set(Self.mappersOfBlockRegion(everyone)) == pids.union([train.pid]),
            "the workers copied their blocks instead of mapping them")
        // The workers' shards sit in 2 MiB pages where the kernel allows (see LocalWorkers.mallocTunables).
        for pid in pids {
            let environment = (try? String(contentsOfFile: "/proc/\(pid)/environ", encoding: .utf8)) ?? ""
            #expect(environment.contains("GLIBC_TUNABLES=glibc.malloc.hugetlb=1"), "worker \(pid)")
        }
        let socket = try #require(train.loggedWord(after: "waiting on ipc://", timeout: 1), "\(train.stderr)")
        let folder = (socket as NSString).deletingLastPathComponent
        #expect(FileManager.default.fileExists(atPath: folder))
        kill(train.pid, SIGKILL)
        _ = train.wait(timeout: 10)
        // The workers follow their parent (PR_SET_PDEATHSIG); the region never had a name to leave behind, and the
        // workers remove the dead coordinator's socket folder.
        let gone = Date().addingTimeInterval(5)
        while pids.contains(where: processIsAlive), Date() < gone { usleep(10_000) }
        for pid in pids { #expect(!processIsAlive(pid), "worker \(pid) still running") }
        #expect(!FileManager.default.fileExists(atPath: folder), "\(folder) left behind")
        let shmAfter = Set((try? FileManager.default.contentsOfDirectory(atPath: "/dev/shm")) ?? [])
        #expect(shmAfter.subtracting(shmBefore).filter { $0.contains("shardtrain") }.isEmpty)
    }

    @Test("train --workers 2 with data that cannot be read fails at once and its waiting workers exit quietly")
    func loadFailureWithWorkers() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let missing = directory.path("missing.csv")
        let start = Date()
        let child = try ChildProcess(["train", "--data", missing, "--workers", "2"], directory: directory.url)
        #expect(child.wait(timeout: 30) == 1)
        #expect(Date().timeIntervalSince(start) < 10)
        #expect(child.stderr.contains("missing.csv"), "\(child.stderr)")
        // The workers were started before loading; told nothing, they exit without an error of their own.
        #expect(!child.stderr.contains("shardtrain.worker"), "\(child.stderr)")
    }

    @Test("a malformed CSV is reported with file, line and column, and exit status 1")
    func badDataIsReported() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let csv = try directory.write("a,b,label\n1,2,0\n3,x4,1\n", to: "bad.csv")
        let child = try ChildProcess(["train", "--data", csv, "--workers", "0"], directory: directory.url)
        #expect(child.wait(timeout: 30) == 1)
        #expect(child.stderr.contains("bad.csv:3"), "\(child.stderr)")
        #expect(child.stderr.contains("x4"), "\(child.stderr)")
    }
}
