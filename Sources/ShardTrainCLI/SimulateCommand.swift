import ArgumentParser
import Foundation
import ShardApplication
import ShardEngine
import ShardModels
import ShardNumerics
import ShardOptimizers
import ShardProtocol

/// `shardtrain simulate`: the real coordinator and worker state machines with many simulated workers under a
/// virtual clock — what one machine cannot show.
public struct SimulateCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Run the real coordinator and worker state machines with up to thousands of simulated workers.",
        discussion: """
            Every worker is a real WorkerInstance computing its real blocks (the result must be the bits of a \
            single-process run), but time is virtual: a computation takes the model's per-row cost, measured here \
            on one thread, times its rows divided by --cores-per-worker; a message takes --latency plus its bytes \
            over --bandwidth on the sender's link and on the receiver's (the coordinator has one link for all its \
            workers). Faults: each worker vanishes at a round's start with --failure-rate (detected by silence \
            after --worker-timeout) and each computation is --straggler-slowdown times slower with \
            --straggler-rate. The coordinator is one thread: its own CPU time (the state machine and frame coding, \
            measured in real time) delays what it sends, so a coordinator that cannot keep up shows in the round \
            time. Reported per worker count: the median round time, speedup and efficiency against one simulated \
            worker, the coordinator's CPU per round and its share of the round, losses and their recovery.
              shardtrain simulate --data data/fraud_synthetic.csv --standardize \\
                --block-rows 16 --workers 16,64 \\
                --bandwidth 1gbit --rounds 5
            """)

    @OptionGroup public var training: TrainingArguments
    @OptionGroup public var cluster: ClusterArguments

    @Option(parsing: .unconditional, help: "Comma-separated simulated worker counts.")
    var workers = CommaSeparated([16, 64, 256])

    @Option(parsing: .unconditional, help: "Rounds per run (gradient tolerances are 0, so every run does them all).")
    public var rounds = 20

    @Option(help: "Link bandwidth: a number with bit/kbit/mbit/gbit (per second), e.g. 10gbit; inf for no limit.")
    public var bandwidth = "10gbit"

    @Option(parsing: .unconditional, help: "One-way link latency in seconds.")
    public var latency = 0.00005

    @Option(parsing: .unconditional, help: "Cores of each simulated worker host.")
    public var coresPerWorker = 8

    @Option(parsing: .unconditional, help: "Probability that a worker vanishes at the start of a round.")
    public var failureRate = 0.0

    @Option(parsing: .unconditional, help: "Probability that a computation is slow.")
    public var stragglerRate = 0.0

    @Option(parsing: .unconditional, help: "How many times slower a slow computation is.")
    public var stragglerSlowdown = 5.0

    @Flag(help: "Print one JSON object instead of the table.")
    public var json = false

    public init() {}

    public func validate() throws {
        try workers.require(atLeast: 1, "--workers")
        guard rounds >= 2 else { throw ValidationError("--rounds must be at least 2") }
        guard Self.bytesPerSecond(bandwidth) != nil else {
            throw ValidationError("--bandwidth \(bandwidth): expected a number with bit, kbit, mbit or gbit, or inf")
        }
        guard latency >= 0, latency.isFinite, coresPerWorker >= 1 else {
            throw ValidationError("--latency must be ≥ 0 seconds and --cores-per-worker at least 1")
        }
        guard (0...1).contains(failureRate), (0...1).contains(stragglerRate), stragglerSlowdown >= 1 else {
            throw ValidationError("--failure-rate and --straggler-rate are probabilities; --straggler-slowdown is at least 1")
        }
    }

    /// Bytes per second of "10gbit", "100mbit", "1e9bit", or infinity for "inf".
    static func bytesPerSecond(_ text: String) -> Double? {
        let lower = text.lowercased()
        if lower == "inf" { return .infinity }
        for (suffix, scale) in [("gbit", 1e9), ("mbit", 1e6), ("kbit", 1e3), ("bit", 1.0)] where lower.hasSuffix(suffix) {
            guard let number = Double(lower.dropLast(suffix.count)), number > 0, number.isFinite else { return nil }
            return number * scale / 8
        }
        return nil
    }

    struct Outcome {
        var workers: Int
        var roundSeconds: Double
        var coordinatorSeconds: Double
        var lost: Int
        var recoverySeconds: Double?
        var sameBits: Bool
    }

    public func run() throws {
        Interrupt.install()
        let logger = makeLogger("shardtrain.simulate")
        var run = try prepareRun(training.request(stopping: nil, evalEvery: nil, threads: 1))
        for warning in run.warnings { logger.warning("\(warning)") }
        run.options.maxRounds = rounds
        run.options.stopping = StoppingCriteria(gradientTolerance: 0, relativeObjectiveTolerance: 0)
        let blocks = run.data.blocks
        guard let largest = workers.values.max(), largest <= blocks.count else {
            let largestCount = workers.values.max() ?? 1
            let rows = blocks.reduce(0) { $0 + $1.rows }
            throw ValidationError(
                "\(largestCount) workers need at least as many blocks; the data has \(blocks.count): give --block-rows "
                    + "\(max(1, rows / largestCount)) or less")
        }
        let rows = blocks.reduce(0) { $0 + $1.rows }
        // The model's cost per row on one thread: the median of a few full passes.
        let local = try LocalExecutor(
            model: run.model, blocks: blocks, threads: 1, seed: run.request.seed, schedule: run.options.batch)
        var passes: [Double] = []
        for round in 1...3 {
            let start = ContinuousClock.now
            _ = try local.evaluate(run.model.initialParameters(), request: RoundRequest(round: round))
            passes.append((ContinuousClock.now - start).seconds)
        }
        let perRow = passes.sorted()[1] / Double(rows)
        let reference = try Trainer(model: run.model, executor: local, options: run.options).run()
        let bandwidthValue = Self.bytesPerSecond(bandwidth)!
        var outcomes: [Outcome] = []
        for count in [1] + workers.values.filter({ $0 != 1 }) {
            let cluster = try InMemoryCluster(
                model: run.model, blocks: blocks, workers: count, timing: cluster.timing, seed: run.request.seed,
                schedule: run.options.batch, resilience: .init(minWorkers: 1))
            cluster.links = .init(latency: latency, bytesPerSecond: bandwidthValue)
            cluster.computeTime = .perRow(seconds: perRow, cores: coresPerWorker)
            cluster.chargesCoordinatorCPU = true
            cluster.randomFaults = .init(
                failureRate: count == 1 ? 0 : failureRate, stragglerRate: stragglerRate, slowdown: stragglerSlowdown)
            let result = try Trainer(model: run.model, executor: cluster, options: run.options)
                .run(shouldStop: { Interrupt.requested })
            let recoveries = cluster.lossTimes.compactMap { loss in loss.roundDone.map { $0 - loss.lost } }
            outcomes.append(
                Outcome(
                    workers: count, roundSeconds: Self.median(cluster.roundSeconds),
                    coordinatorSeconds: Self.median(cluster.coordinatorSeconds), lost: cluster.lossTimes.count,
                    recoverySeconds: recoveries.isEmpty ? nil : recoveries.reduce(0, +) / Double(recoveries.count),
                    sameBits: result.parameters.map(\.bitPattern) == reference.parameters.map(\.bitPattern)))
        }
        report(outcomes, rows: rows, blocks: blocks.count, perRow: perRow)
        if outcomes.contains(where: { !$0.sameBits }) { throw ExitCode(1) }
    }

    static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        return sorted[sorted.count / 2]
    }

    private func report(_ outcomes: [Outcome], rows: Int, blocks: Int, perRow: Double) {
        let single = outcomes.first { $0.workers == 1 }?.roundSeconds ?? 0
        let shown = outcomes.filter { $0.workers != 1 || workers.values.contains(1) }
        if json {
            let object: [String: Any] = [
                "rows": rows, "blocks": blocks, "per_row_seconds": perRow, "cores_per_worker": coresPerWorker,
                "bandwidth_bytes_per_second": Self.bytesPerSecond(bandwidth)!, "latency_seconds": latency,
                "runs": shown.map { outcome in
                    [
                        "workers": outcome.workers, "round_seconds": outcome.roundSeconds,
                        "speedup": single / outcome.roundSeconds,
                        "efficiency": single / outcome.roundSeconds / Double(outcome.workers),
                        "coordinator_cpu_seconds": outcome.coordinatorSeconds, "workers_lost": outcome.lost,
                        "mean_recovery_seconds": outcome.recoverySeconds.map { $0 as Any } ?? NSNull(),
                        "same_bits": outcome.sameBits,
                    ] as [String: Any]
                },
            ]
            if let line = ProgressJSON.line(object) { FileHandle.standardOutput.write(line + Data("\n".utf8)) }
            return
        }
        print(
            String(
                format: "%d rows in %d blocks; %.3g µs per row on one core, %d cores per worker, %@ links, %.3g ms latency",
                rows, blocks, perRow * 1e6, coresPerWorker, bandwidth, latency * 1e3))
        print("workers   round ms   speedup  efficiency   coordinator CPU ms (share)   lost  recovery s   bits")
        for outcome in shown {
            print(
                String(
                    format: "%7d  %9.3f  %8.2f  %10.2f   %12.3f (%5.1f%%)        %4d  %10@   %@", outcome.workers,
                    outcome.roundSeconds * 1e3, single / outcome.roundSeconds,
                    single / outcome.roundSeconds / Double(outcome.workers), outcome.coordinatorSeconds * 1e3,
                    100 * outcome.coordinatorSeconds / max(outcome.roundSeconds, 1e-12), outcome.lost,
                    outcome.recoverySeconds.map { String(format: "%.3f", $0) } ?? "–",
                    outcome.sameBits ? "same" : "DIFFERENT"))
        }
    }
}
