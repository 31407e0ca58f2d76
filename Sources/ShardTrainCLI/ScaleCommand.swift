import ArgumentParser
import Foundation
import ShardApplication
import ShardArtifacts
import ShardEngine
import ShardModels
import ShardOptimizers

/// `shardtrain scale`: a scaling experiment — the same training run with several numbers of local worker
/// processes, timed per round and split into compute, straggler wait and communication, with a fitted cost
/// model that predicts larger clusters.
public struct ScaleCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "scale",
        abstract: "Time the same run with several worker counts and fit a cost model of a round.",
        discussion: """
            Every run does the same rounds (tolerances are set to 0), so the timings compare like with like;
            gradient descent (--optimizer gd) gives exactly --rounds rounds. Per worker count it reports the
            median round time and its parts: compute (slowest worker), wait (slowest minus mean worker, the
            straggler cost) and communication (round minus slowest worker: messages, reduction, optimizer
            step), plus rows/s and the parameters' SHA-256, which must be the same for every count. Then it
            fits compute = c₀ + work/N and communication = c₁ + perWorker·N (non-negative least squares) and
            predicts t(N) = c₀ + c₁ + work/N + perWorker·N for larger N. On one machine the workers share
            its cores, so past the core count the compute stops shrinking; on a cluster, run the coordinator
            and workers on separate hosts and compare with the prediction.
              shardtrain scale --data data/fraud_synthetic.csv --standardize --optimizer gd --workers 1,2,3
            """)

    @OptionGroup public var training: TrainingArguments
    @OptionGroup public var threads: ThreadArguments
    @OptionGroup public var cluster: ClusterArguments

    @Option(parsing: .unconditional, help: "Comma-separated worker counts (0 = in-process, reported but not fitted).")
    var workers = CommaSeparated([1, 2, 3])

    @Option(help: "Rounds per run.")
    public var rounds = 50

    @Flag(help: "Print one JSON object instead of the table.")
    public var json = false

    public init() {}

    var workerCounts: [Int] { workers.values }

    public func validate() throws {
        try workers.require(atLeast: 0, "--workers")
        let counts = workerCounts
        guard Set(counts.filter { $0 > 0 }).count >= 2 else {
            throw ValidationError("--workers needs at least two different counts ≥ 1 to fit the cost model")
        }
        guard rounds >= 2 else { throw ValidationError("--rounds must be at least 2") }
    }

    /// Timings of one run.
    struct Measurement {
        var workers: Int
        var rounds: Int
        var roundSeconds: Double
        var computeSeconds: Double
        var waitSeconds: Double
        var communicationSeconds: Double
        var rowsPerSecond: Double
        var parametersSHA256: String
    }

    public func run() throws {
        Interrupt.install()
        let logger = makeLogger("shardtrain.scale")
        var run = try prepareRun(training.request(stopping: nil, evalEvery: nil, threads: threads.threads))
        try refuseIdleWorkers(workerCounts.max() ?? 0, data: run.data)
        for warning in run.warnings { logger.warning("\(warning)") }
        run.options.maxRounds = rounds
        run.options.stopping = StoppingCriteria(gradientTolerance: 0, relativeObjectiveTolerance: 0)
        let (model, prepared, options) = (run.model, run.data, run.options)
        var measurements: [Measurement] = []
        for count in workerCounts {
            let recorder = RoundRecorder()
            do {
                let (executor, finish) = try makeLocalExecutor(workers: count, run: run, cluster: cluster, logger: logger)
                defer { finish() }
                let result = try Trainer(model: model, executor: executor, options: options)
                    .run(observer: recorder, shouldStop: { Interrupt.requested })
                measurements.append(recorder.measurement(workers: count, parameters: result.parameters))
            } catch {
                throw CommandFailure(training: error, context: "\(count) workers: ")
            }
        }
        let fitted: ScalingModel
        do {
            fitted = try ScalingModel.fit(
                measurements.filter { $0.workers > 0 }.map {
                    ScalingModel.Point(workers: $0.workers, compute: $0.computeSeconds, communication: $0.communicationSeconds)
                })
        } catch {
            throw CommandFailure(error)
        }
        let identical = Set(measurements.map(\.parametersSHA256)).count == 1
        let predictions = [4, 8, 16, 32, 64].map { ($0, fitted.roundSeconds(workers: $0)) }
        if json {
            let object: [String: Any] = [
                "rows": prepared.dataset.rowCount, "blocks": prepared.blocks.count,
                "identical_parameters": identical,
                "runs": measurements.map {
                    [
                        "workers": $0.workers, "rounds": $0.rounds, "round_seconds": $0.roundSeconds,
                        "compute_seconds": $0.computeSeconds, "wait_seconds": $0.waitSeconds,
                        "communication_seconds": $0.communicationSeconds, "rows_per_second": $0.rowsPerSecond,
                        "parameters_sha256": $0.parametersSHA256,
                    ] as [String: Any]
                },
                "model": ["latency_seconds": fitted.latency, "work_seconds": fitted.work, "per_worker_seconds": fitted.perWorker],
                "predicted_round_seconds": Dictionary(uniqueKeysWithValues: predictions.map { (String($0.0), $0.1) }),
            ]
            if let line = ProgressJSON.line(object) { FileHandle.standardOutput.write(line + Data("\n".utf8)) }
        } else {
            print("\(prepared.dataset.rowCount) rows in \(prepared.blocks.count) blocks; medians per round (ms)")
            print("workers  rounds     round   compute      wait   communication     rows/s   parameters")
            for m in measurements {
                print(
                    String(
                        format: "%7d  %6d  %8.3f  %8.3f  %8.3f  %14.3f  %9.3gM   %@", m.workers, m.rounds,
                        m.roundSeconds * 1e3, m.computeSeconds * 1e3, m.waitSeconds * 1e3,
                        m.communicationSeconds * 1e3, m.rowsPerSecond / 1e6, String(m.parametersSHA256.prefix(12))))
            }
            print(identical ? "identical parameters for every worker count" : "PARAMETERS DIFFER between worker counts")
            print(
                String(
                    format: "cost model: t(N) = %.4g ms + %.4g ms / N + %.4g ms · N", fitted.latency * 1e3,
                    fitted.work * 1e3, fitted.perWorker * 1e3))
            print(
                "predicted ms per round: "
                    + predictions.map { String(format: "N=%d %.3f", $0.0, $0.1 * 1e3) }.joined(separator: ", "))
        }
        if !identical { throw CommandFailure("the parameters differ between worker counts") }
    }
}

/// Collects the round reports of one run.
final class RoundRecorder: TrainingObserver {
    private var reports: [RoundReport] = []

    func roundFinished(_ report: RoundReport) { reports.append(report) }

    func measurement(workers: Int, parameters: [Double]) -> ScaleCommand.Measurement {
        func median(_ values: [Double]) -> Double {
            guard !values.isEmpty else { return 0 }
            let sorted = values.sorted()
            return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        }
        let slowest = reports.map { $0.workerTimings.map(\.computeSeconds).max() ?? 0 }
        let mean = reports.map { report -> Double in
            let times = report.workerTimings.map(\.computeSeconds)
            return times.isEmpty ? 0 : times.reduce(0, +) / Double(times.count)
        }
        return ScaleCommand.Measurement(
            workers: workers, rounds: reports.count, roundSeconds: median(reports.map(\.roundSeconds)),
            computeSeconds: median(slowest), waitSeconds: median(zip(slowest, mean).map { $0 - $1 }),
            communicationSeconds: median(zip(reports, slowest).map { $0.roundSeconds - $1 }),
            rowsPerSecond: median(reports.map(\.rowsPerSecond)),
            parametersSHA256: Digest.parametersSHA256(parameters))
    }
}
