import ArgumentParser
import Foundation
import Logging
import ShardArtifacts
import ShardCluster
import ShardData
import ShardEngine
import ShardModels
import ShardNumerics

/// `shardtrain train`: coordinator plus N local worker processes (N = 0: single process, no sockets).
public struct TrainCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a model, in this process or with local worker processes over ZeroMQ.",
        discussion: """
            One example per model (data in data/; add --workers N for N local worker
            processes: the result is the same, bit for bit):
            logistic:
              shardtrain train --data breast_cancer.csv --standardize --workers 2
            logistic with focal loss or balanced class weights (imbalanced data):
              shardtrain train --data fraud_synthetic.csv --standardize \\
                --focal-gamma 2 --focal-alpha 0.75 --test-fraction 0.2
              shardtrain train --data fraud_synthetic.csv --standardize \\
                --class-weight balanced --test-fraction 0.2
            svm (solved exactly by smoothing continuation + L-BFGS):
              shardtrain train --data breast_cancer.csv --model svm --standardize
            quantile (one or several τ; coverage and crossing rate reported):
              shardtrain train --data diabetes.csv --model quantile --standardize \\
                --tau 0.1 --tau 0.5 --tau 0.9 --l2 0
            softmax:
              shardtrain train --data digits.csv --model softmax --standardize
            triplet (mini-batches with adam; recall@1 on held-out rows):
              shardtrain train --data digits.csv --model triplet --hidden 32 \\
                --dimension 8 --batch-blocks 2 --max-rounds 2000 --test-fraction 0.2
            vae (mini-batches with adam; ELBO on held-out rows):
              shardtrain train --data digits.csv --model vae --hidden 64 \\
                --dimension 4 --batch-blocks 2 --max-rounds 3000 --test-fraction 0.2
            """)

    @OptionGroup public var training: TrainingArguments
    @OptionGroup public var cluster: ClusterArguments

    @Option(help: "Local worker processes to start (0 = single-process mode).")
    public var workers = 0

    public init() {}

    public func validate() throws {
        guard workers >= 0 else { throw ValidationError("--workers must be 0 or more") }
    }

    public func run() throws {
        Interrupt.install()
        let logger = makeLogger("shardtrain.coordinator")
        try runTraining(training, workers: workers, logger: logger) { model, prepared, schedule in
            try makeLocalExecutor(
                workers: workers, model: model, prepared: prepared, schedule: schedule, training: training,
                cluster: cluster, logger: logger)
        }
    }
}

/// `shardtrain coordinator`: binds and waits for `--workers` workers started separately.
public struct CoordinatorCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "coordinator",
        abstract: "Load the data, wait for workers to connect, ship them their blocks and train.",
        discussion: """
            Binds loopback only unless --bind names another address. Start workers with
              shardtrain worker --connect tcp://HOST:PORT
            """)

    @OptionGroup public var training: TrainingArguments
    @OptionGroup public var cluster: ClusterArguments

    @Option(help: "ZeroMQ endpoint to bind (loopback by default; use tcp://0.0.0.0:PORT to accept other hosts).")
    public var bind = "tcp://127.0.0.1:5555"

    @Option(help: "Number of workers to wait for.")
    public var workers: Int

    public init() {}

    public func validate() throws {
        guard workers >= 1 else { throw ValidationError("--workers must be at least 1") }
    }

    public func run() throws {
        Interrupt.install()
        let logger = makeLogger("shardtrain.coordinator")
        try runTraining(training, workers: workers, logger: logger) { model, prepared, schedule in
            let coordinator = try ClusterExecutor(
                bind: bind, expectedWorkers: workers, model: model, blocks: prepared.blocks, timing: cluster.timing,
                seed: training.seed, schedule: schedule, requiredSoftware: BuildIdentity.current, logger: logger,
                interrupted: { Interrupt.requested })
            try coordinator.waitForWorkers()
            return (coordinator, { try? coordinator.shutdown(reason: "training finished") })
        }
    }
}

/// `shardtrain worker`: joins a coordinator and computes on the blocks it is sent.
public struct WorkerCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "worker", abstract: "Join a coordinator and compute partial sums on the blocks it ships.")

    @Option(help: "Coordinator endpoint, e.g. tcp://127.0.0.1:5555.")
    public var connect: String

    @Option(help: "Threads for the blocks (0 = one per core this process may use).")
    public var threads = 0

    @Option(help: "Seconds to wait for the coordinator's WELCOME.")
    public var joinTimeout = 120.0

    public func validate() throws {
        guard joinTimeout > 0, joinTimeout <= 86_400 else { throw ValidationError("need 0 < --join-timeout ≤ 86400") }
    }

    /// Set by `train --workers N` for its children: exit when that process dies.
    @Option(name: .customLong("exit-with-parent"), help: .hidden)
    public var parentProcess: Int32?

    public init() {}

    public func run() throws {
        Interrupt.install()
        if let parent = parentProcess, !exitWithParent(parent) {
            throw ExitCode(1)
        }
        var logger = makeLogger("shardtrain.worker")
        logger[metadataKey: "pid"] = "\(getpid())"
        do {
            let shell = try WorkerShell(
                options: .init(
                    endpoint: connect, threads: threads, joinTimeout: joinTimeout, software: BuildIdentity.current),
                logger: logger,
                interrupted: { Interrupt.requested })
            let outcome = try shell.run()
            logger.info("worker \(outcome.workerIndex) finished after \(outcome.rounds) rounds")
        } catch {
            logger.error("\(error)")
            throw ExitCode(error == .interrupted ? 130 : 1)
        }
    }
}

/// The executor of `train --workers N`: in this process for N = 0, otherwise a coordinator on a free loopback
/// port with N local worker processes (always reaped by the returned finish closure).
func makeLocalExecutor(
    workers: Int, model: any Model, prepared: PreparedData, schedule: BatchSchedule?, training: TrainingArguments,
    cluster: ClusterArguments, logger: Logger
) throws -> (any Executor, () -> Void) {
    if workers == 0 {
        return (
            try LocalExecutor(
                model: model, blocks: prepared.blocks, threads: training.threads, seed: training.seed,
                schedule: schedule), {}
        )
    }
    let coordinator = try ClusterExecutor(
        bind: "tcp://127.0.0.1:*", expectedWorkers: workers, model: model, blocks: prepared.blocks,
        timing: cluster.timing, seed: training.seed, schedule: schedule, requiredSoftware: BuildIdentity.current,
        logger: logger, interrupted: { Interrupt.requested })
    let children = try LocalWorkers(
        count: workers, endpoint: coordinator.endpoint, threads: ThreadCount.share(training.threads, among: workers),
        extraArguments: ["--join-timeout", String(cluster.joinTimeout)])
    coordinator.failureCheck = { children.firstExit() }
    do {
        try coordinator.waitForWorkers()
    } catch {
        children.stop()
        throw error
    }
    return (
        coordinator,
        {
            try? coordinator.shutdown(reason: "training finished")
            children.stop(waitingUpTo: 2)
        }
    )
}

func makeLogger(_ label: String) -> Logger {
    var logger = Logger(label: label) { StreamLogHandler.standardError(label: $0) }
    let level = ProcessInfo.processInfo.environment["SHARDTRAIN_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:))
    logger.logLevel = level ?? .info
    return logger
}

/// The common path of `train` and `coordinator`: prepare, build the executor, train, report, save.
func runTraining(
    _ arguments: TrainingArguments, workers: Int, logger: Logger,
    makeExecutor: (any Model, PreparedData, BatchSchedule?) throws -> (any Executor, () -> Void)
) throws {
    // Progress is written off this thread while training; everything is out before the process exits.
    defer { OutputQueue.standardOutput.drain() }
    let prepared: PreparedData
    let model: any Model
    let options: TrainingOptions
    let loadStart = ContinuousClock.now
    do {
        prepared = try TrainingJob.prepare(arguments.dataConfiguration, for: arguments.model, classCount: arguments.classes)
        if let classCount = prepared.classCount, arguments.classes == nil {
            let supports = prepared.dataset.classSupports(classCount: classCount)
            let empty = supports.indices.filter { supports[$0] == 0 }
            if !empty.isEmpty {
                logger.warning(
                    "classes \(empty.map(String.init).joined(separator: ", ")) have no training rows: labels are class indices 0…\(classCount - 1) (the largest label + 1); relabel from 0 or give --classes")
            }
        }
        model = try arguments.modelSpec(for: prepared).makeModel()
        options = try arguments.trainingOptions(for: model, prepared: prepared)
    } catch {
        logger.error("\(error)")
        throw ExitCode(1)
    }
    let loadSeconds = (ContinuousClock.now - loadStart).seconds
    let progress = ProgressPrinter(format: arguments.logFormat)
    var publisher: ProgressPublisher?
    if let endpoint = arguments.progressEndpoint {
        do {
            publisher = try ProgressPublisher(bind: endpoint)
        } catch {
            logger.error("\(error)")
            throw ExitCode(1)
        }
        logger.info("publishing progress on \(publisher!.endpoint)")
    }
    var observers: [any TrainingObserver] = [progress]
    if let publisher { observers.append(PublishingObserver(publisher: publisher)) }
    if arguments.evalEvery != nil {
        observers.append(
            HeldOutEvaluator(
                model: model, data: prepared, seed: arguments.seed, logger: logger,
                emit: { object in
                    progress.report(event: object)
                    if let publisher, let line = ProgressJSON.line(object) { publisher.publish(topic: "eval", line: line) }
                }))
    }
    let observer = ProgressFanOut(observers)
    let result: TrainingResult
    let start = ContinuousClock.now
    do {
        let (executor, finish) = try makeExecutor(model, prepared, options.batch)
        defer { finish() }
        result = try Trainer(model: model, executor: executor, options: options)
            .run(observer: observer, shouldStop: { Interrupt.requested })
    } catch {
        progress.finishLiveLine()
        let interrupted = (error as? EngineError) == .interrupted || (error as? ClusterError) == .interrupted
        logger.error("\(interrupted ? "interrupted" : "\(error)")")
        throw ExitCode(interrupted ? 130 : 1)
    }
    progress.finishLiveLine()
    guard result.objective.value.isFinite, result.parameters.allSatisfy(\.isFinite) else {
        // Nothing is written: a diverged model is not a result.
        let message =
            "training diverged: the objective is \(result.objective.value) after \(result.rounds) rounds "
            + "(\(result.stopReason)); nothing was saved — lower --learning-rate"
        logger.error("\(message)")
        throw ExitCode(1)
    }
    let wall = (ContinuousClock.now - start).seconds
    // Metrics on the training rows and, when held out, the test rows (computed here on the coordinator).
    let trained = TrainingJob.trainedModel(model, parameters: result.parameters, data: prepared)
    let metricsStart = ContinuousClock.now
    var trainReport: EvaluationReport?
    var testReport: EvaluationReport?
    do {
        // The run's own blocks, and its final data loss where no random numbers enter the loss (the training
        // report of a triplet or VAE model draws the round-1 mining and noise, as `evaluate` does later).
        trainReport = try trained.evaluate(
            ModelInput(dataset: prepared.dataset, hasLabels: true), seed: arguments.seed, blocks: prepared.blocks,
            knownDataLoss: model.spec.kind.lossDrawsRandomNumbers ? nil : result.objective.dataLoss)
        if let test = prepared.test {
            testReport = try trained.evaluate(ModelInput(dataset: test, hasLabels: true), seed: arguments.seed)
        }
    } catch {
        logger.warning("metrics could not be computed: \(error)")
    }
    let metricsSeconds = (ContinuousClock.now - metricsStart).seconds
    // Classifiers' training accuracy, from the same report (one pass over the rows).
    let accuracy = trainReport?.classification?.accuracy
    var summary = RunSummary(
        model: model.spec.kind.rawValue, workers: workers, rounds: result.rounds, objective: result.objective.value,
        dataLoss: result.objective.dataLoss, l2Term: result.objective.l2Term,
        gradientNorm: result.objective.gradientNorm, converged: result.converged, stopReason: result.stopReason,
        trainAccuracy: accuracy, wallSeconds: wall, parametersSHA256: Digest.parametersSHA256(result.parameters),
        parameters: result.parameters, optimizer: arguments.optimizerName.rawValue,
        precision: arguments.precision.rawValue, l2: arguments.l2, rows: prepared.dataset.rowCount,
        features: prepared.dataset.featureCount, blockRows: prepared.blockRows, blocks: prepared.blocks.count,
        dataFile: arguments.data)
    summary.loadSeconds = loadSeconds
    summary.metricsSeconds = metricsSeconds
    var document = SummaryDocument(summary: summary, train: trainReport, test: testReport)
    do {
        // The model first: a summary on disk means its model is there too.
        if let path = arguments.save { try trained.file.write(to: path) }
        if let path = arguments.summaryJson { try TrainingJob.writeJSON(document, to: path) }
    } catch {
        logger.error("\(error)")
        throw ExitCode(1)
    }
    document.event = "summary"
    let line = try? document.jsonData(pretty: false)
    if let publisher, let line { publisher.publish(topic: "summary", line: line) }
    switch arguments.logFormat {
    case .json:
        if let line { OutputQueue.standardOutput.write(line + Data("\n".utf8)) }
    case .text:
        OutputQueue.standardOutput.write(
            """
            \(summary.converged ? "converged" : "stopped"): \(summary.stopReason)
              model \(summary.model), \(summary.rows) rows × \(summary.features) features, \(summary.blocks) blocks, \
            \(workers == 0 ? "single process" : "\(workers) workers")
              rounds \(summary.rounds), objective \(format12(summary.objective)) \
            (data loss \(format12(summary.dataLoss)) + l2 \(format12(summary.l2Term))), |g| \(scientific(summary.gradientNorm))
              train accuracy \(accuracy.map { String(format: "%.4f", $0) } ?? "n/a"); seconds: data \(String(format: "%.3f", loadSeconds)), \
            training \(String(format: "%.3f", wall)), metrics \(String(format: "%.3f", metricsSeconds))
              parameters sha256 \(summary.parametersSHA256)

            """)
        if let report = testReport ?? trainReport {
            OutputQueue.standardOutput.write(
                "\n\(testReport == nil ? "training" : "held-out") rows:\n" + report.renderText())
        }
    }
}

/// Sends each round to the progress publisher's subscribers.
struct PublishingObserver: TrainingObserver {
    let publisher: ProgressPublisher

    func roundFinished(_ report: RoundReport) {
        if let line = ProgressJSON.line(ProgressJSON.round(report)) { publisher.publish(topic: "round", line: line) }
    }
}

/// Evaluates the current parameters on the held-out rows (the training rows when none are held out) at
/// each checkpoint and emits `{"event": "eval", "round": r, "split": …, "metrics": {…}}`.
final class HeldOutEvaluator: TrainingObserver {
    let model: any Model
    let data: PreparedData
    let seed: UInt64
    let logger: Logger
    let emit: ([String: Any]) -> Void

    init(model: any Model, data: PreparedData, seed: UInt64, logger: Logger, emit: @escaping ([String: Any]) -> Void) {
        self.model = model
        self.data = data
        self.seed = seed
        self.logger = logger
        self.emit = emit
    }

    func roundFinished(_ report: RoundReport) {}

    func checkpoint(round: Int, parameters: [Double]) {
        let trained = TrainingJob.trainedModel(model, parameters: parameters, data: data)
        let rows = data.test ?? data.dataset
        do {
            let report = try trained.evaluate(ModelInput(dataset: rows, hasLabels: true), seed: seed)
            guard let metrics = (try? JSONSerialization.jsonObject(with: report.jsonData())) as? [String: Any] else {
                return
            }
            emit(["event": "eval", "round": round, "split": data.test == nil ? "train" : "test", "metrics": metrics])
        } catch {
            logger.warning("round \(round): held-out evaluation failed: \(error)")
        }
    }
}
