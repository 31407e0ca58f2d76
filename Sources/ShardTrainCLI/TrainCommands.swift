import ArgumentParser
import Foundation
import Logging
import ShardApplication
import ShardArtifacts
import ShardCluster
import ShardData
import ShardEngine
import ShardModels
import ShardNumerics
import ShardProtocol
import Synchronization

/// `shardtrain train`: coordinator plus N local worker processes (N = 0: single process, no sockets).
public struct TrainCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a model, in this process or with local worker processes over ZeroMQ.",
        discussion: """
            One example per model, from the repository root (add --workers N for N local worker \
            processes: the result is the same, bit for bit):
            logistic:
              shardtrain train --data data/breast_cancer.csv --standardize --workers 2
            logistic with focal loss or balanced class weights (imbalanced data):
              shardtrain train --data data/fraud_synthetic.csv --standardize \\
                --focal-gamma 2 --focal-alpha 0.75 --test-fraction 0.2
              shardtrain train --data data/fraud_synthetic.csv --standardize \\
                --class-weight balanced --test-fraction 0.2
            svm (solved exactly by smoothing continuation + L-BFGS):
              shardtrain train --data data/breast_cancer.csv --model svm --standardize
            quantile (one or several τ; coverage and crossing rate reported):
              shardtrain train --data data/diabetes.csv --model quantile --standardize \\
                --tau 0.1 --tau 0.5 --tau 0.9 --l2 0
            softmax:
              shardtrain train --data data/digits.csv --model softmax --standardize
            linear (mse = ridge; huber with --delta; mae by continuation; R², RMSE, MAE reported):
              shardtrain train --data data/diabetes.csv --model linear --standardize \\
                --loss huber --delta 20 --test-fraction 0.2
            triplet (mini-batches with adam; recall@1 on held-out rows):
              shardtrain train --data data/digits.csv --model triplet --hidden 32 \\
                --dimension 8 --batch-blocks 2 --max-rounds 2000 --test-fraction 0.2
            vae (mini-batches with adam; ELBO on held-out rows):
              shardtrain train --data data/digits.csv --model vae --hidden 64 \\
                --dimension 4 --batch-blocks 2 --max-rounds 3000 --test-fraction 0.2
            """)

    @OptionGroup public var config: ConfigArguments
    @OptionGroup public var training: TrainingArguments
    @OptionGroup public var stopping: StoppingArguments
    @OptionGroup public var output: OutputArguments
    @OptionGroup public var threads: ThreadArguments
    @OptionGroup public var cluster: ClusterArguments
    @OptionGroup public var keys: ServerKeyArguments

    @Option(parsing: .unconditional, help: "Local worker processes to start (0 = single-process mode).")
    public var workers = 0

    @Flag(help: "Start a replacement when a local worker process dies (it joins at the next round; at most 2 × --workers replacements).")
    public var restartWorkers = false

    public init() {}

    public func validate() throws {
        guard workers >= 0 else { throw ValidationError("--workers must be 0 or more") }
        // Keys secure a --progress-endpoint here (local workers talk over a Unix socket only this user can open):
        // without one they would secure nothing, and the user might believe they do.
        if output.progressEndpoint == nil, keys.secretKey != nil || keys.allow != nil || keys.insecure {
            throw ValidationError(
                "--secret-key, --allow and --insecure apply to --progress-endpoint in train (its local workers use a "
                    + "Unix socket); for workers on other machines, run shardtrain coordinator")
        }
        // Settings of worker processes mean nothing in one process; a --min-workers above --workers could never hold.
        if workers == 0 {
            if restartWorkers { throw ValidationError("--restart-workers applies to local worker processes: add --workers N") }
            if cluster.replicas != 1 { throw ValidationError("--replicas applies to worker processes: add --workers N") }
        } else if cluster.minWorkers > workers {
            throw ValidationError("--min-workers \(cluster.minWorkers) is more than the \(workers) workers started (--workers)")
        }
        try OutputPaths.refuseClashes(outputs: output.outputFiles, inputs: training.inputFiles)
    }

    public func run() throws {
        Interrupt.install()
        let logger = makeLogger(workers == 0 ? "shardtrain.train" : "shardtrain.coordinator")
        if let endpoint = output.progressEndpoint { try keys.check(bind: endpoint, flag: "--progress-endpoint", logger: logger) }
        // The workers boot while the data loads; they connect once the coordinator has bound, on a socket in a
        // private folder that must be possible to make.
        if workers > 0 { try PrivateFolder.checkBase() }
        let children = try startLocalWorkers(workers, threads: threads.threads, cluster: cluster)
        let request = training.request(stopping: stopping, evalEvery: output.evalEvery, threads: threads.threads)
        try runTraining(
            request, output: output, config: config, workers: workers, logger: logger, progressSecurity: try keys.security(),
            sharedMemory: workers > 0
        ) { run in
            try makeLocalExecutor(
                children: children, run: run, cluster: cluster, restartLimit: restartWorkers ? 2 * workers : 0, logger: logger)
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

    @OptionGroup public var config: ConfigArguments
    @OptionGroup public var training: TrainingArguments
    @OptionGroup public var stopping: StoppingArguments
    @OptionGroup public var output: OutputArguments
    @OptionGroup public var cluster: ClusterArguments
    @OptionGroup public var keys: ServerKeyArguments

    @Option(
        help: "ZeroMQ endpoint to bind (loopback by default; another address needs --secret-key and --allow, or --insecure).",
        transform: EndpointArgument.normalized)
    public var bind = "tcp://127.0.0.1:5555"

    @Option(parsing: .unconditional, help: "Number of workers to wait for.")
    public var workers: Int

    public init() {}

    public func validate() throws {
        guard workers >= 1 else { throw ValidationError("--workers must be at least 1") }
        try OutputPaths.refuseClashes(outputs: output.outputFiles, inputs: training.inputFiles)
    }

    public func run() throws {
        Interrupt.install()
        let logger = makeLogger("shardtrain.coordinator")
        try keys.check(bind: bind, flag: "--bind", logger: logger)
        if let endpoint = output.progressEndpoint { try keys.check(bind: endpoint, flag: "--progress-endpoint", logger: logger) }
        let security = try keys.security()
        // The coordinator computes no blocks: the workers' own --threads apply.
        let request = training.request(stopping: stopping, evalEvery: output.evalEvery, threads: 0)
        try runTraining(request, output: output, config: config, workers: workers, logger: logger, progressSecurity: security) {
            run in
            let coordinator = try ClusterExecutor(
                bind: bind, expectedWorkers: workers, model: run.model, blocks: run.data.blocks, timing: cluster.timing,
                seed: run.request.seed, schedule: run.options.batch, resilience: try cluster.resilience(workers: workers),
                requiredSoftware: BuildIdentity.current, security: security, logger: logger,
                interrupted: { Interrupt.requested })
            try coordinator.waitForWorkers()
            return (coordinator, { failure in try? coordinator.shutdown(reason: failure ?? "training finished", jobFailed: failure != nil) })
        }
    }
}

/// `shardtrain worker`: joins a coordinator and computes on the blocks it is sent.
public struct WorkerCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "worker", abstract: "Join a coordinator and compute partial sums on the blocks it ships.")

    @Option(
        help: "Coordinator endpoint, e.g. tcp://127.0.0.1:5555 (\"-\": read it from the first line of standard input).",
        transform: { $0 == LocalWorkers.endpointFromStandardInput ? $0 : try EndpointArgument.normalized($0) })
    public var connect: String

    @Option(help: "Threads for the blocks (0 = one per core this process may use).")
    public var threads = 0

    @OptionGroup public var keys: ClientKeyArguments

    @Option(help: "Seconds to wait for the coordinator's WELCOME.")
    public var joinTimeout = 120.0

    public func validate() throws {
        do { try ClusterTiming(joinTimeout: joinTimeout).validate() } catch { throw ValidationError(error.description) }
    }

    /// Set by `train --workers N` for its children: exit when that process dies.
    @Option(name: .customLong("exit-with-parent"), help: .hidden)
    public var parentProcess: Int32?

    public init() {}

    public func run() throws {
        // A local worker's parent-death signal (SIGTERM, perhaps once per dying thread of the coordinator): the
        // coordinator had no time to remove its socket folder, so the worker does.
        let parent = parentProcess
        Interrupt.install { signal in
            guard signal == SIGTERM, let parent, let endpoint = localEndpoint.withLock({ $0 }) else { return }
            removeSocketFolderOfDeadParent(endpoint: endpoint, parent: parent)
        }
        if let parent = parentProcess, !exitWithParent(parent) {
            throw CommandFailure("the process that started this worker (pid \(parent)) has exited")
        }
        var logger = makeLogger("shardtrain.worker")
        logger[metadataKey: "pid"] = "\(getpid())"
        let software = BuildIdentity.current
        var endpoint = connect
        let security = try keys.security()
        if connect == LocalWorkers.endpointFromStandardInput {
            // End of file: the coordinator stopped before training.
            guard let line = LocalWorkers.awaitEndpoint() else { throw ExitCode(Interrupt.requested ? 130 : 0) }
            endpoint = line
        }
        if let problem = EndpointArgument.unresolvedHost(endpoint) { throw CommandFailure(problem) }
        localEndpoint.withLock { $0 = endpoint }
        let outcome: WorkerShell.Outcome
        // A local worker's coordinator is its parent, which says why a job failed: the worker adds no error line.
        let local = connect == LocalWorkers.endpointFromStandardInput
        do {
            var options = WorkerShell.Options(
                endpoint: endpoint, threads: threads, joinTimeout: joinTimeout, software: software, security: security)
            options.reportsJobFailure = !local
            let shell = try WorkerShell(options: options, logger: logger, interrupted: { Interrupt.requested })
            outcome = try shell.run()
        } catch {
            // A local worker is stopped by its coordinator (which says why) or by the Ctrl-C the coordinator
            // reports too: no line of its own.
            if error == .interrupted, local { throw ExitCode(130) }
            throw error == .interrupted ? CommandFailure.interrupted() : CommandFailure(error)
        }
        // A failed job (or one that dropped this worker) is a failure of this process too: a Kubernetes Job or
        // a Slurm step must not report success.
        guard !outcome.jobFailed else {
            if local { throw ExitCode.failure }
            throw CommandFailure("worker \(outcome.workerIndex) stopped after \(outcome.rounds) rounds: \(outcome.doneReason)")
        }
        logger.info("worker \(outcome.workerIndex) finished after \(outcome.rounds) rounds")
    }
}

/// The coordinator endpoint of this worker process once known (read by its signal handler).
private let localEndpoint = Mutex<String?>(nil)

/// `workers` local worker processes with their share of `threads` (nil for 0: single-process mode).
func startLocalWorkers(_ workers: Int, threads: Int, cluster: ClusterArguments) throws -> LocalWorkers? {
    guard workers > 0 else { return nil }
    return try LocalWorkers(
        count: workers, threads: ThreadCount.share(threads, among: workers),
        extraArguments: ["--join-timeout", String(cluster.joinTimeout)])
}

/// `makeLocalExecutor(children:…)` with `workers` local worker processes started now.
func makeLocalExecutor(
    workers: Int, run: PreparedRun, cluster: ClusterArguments, logger: Logger
) throws -> (any Executor, ExecutorFinish) {
    try makeLocalExecutor(
        children: try startLocalWorkers(workers, threads: run.request.threads, cluster: cluster), run: run,
        cluster: cluster, logger: logger)
}

/// Ends an executor's job: `failure` nil when training finished, else why it stopped (cluster workers get DONE with
/// the failure flag and exit non-zero).
typealias ExecutorFinish = (_ failure: String?) -> Void

enum ExecutorEnd {
    /// What an executor's workers are told at the end: nil when training `finished`, else why not — an interrupt
    /// (Ctrl-C/SIGTERM) or an error.
    static func failure(finished: Bool) -> String? {
        guard !finished else { return nil }
        return Interrupt.requested ? "the coordinator was interrupted" : "training stopped by an error"
    }
}

/// How the coordinator of worker processes it started reaches them.
enum WorkerLink {
    /// A Unix socket in a private folder, the blocks through shared memory: workers on this machine.
    case unixSocket
    /// TCP on `bind` with `security`, the blocks as messages: workers on other hosts (emulated or not).
    case tcp(bind: String, security: ServerSecurity)
}

/// The executor of `train --workers N`: in this process for N = 0 (`children` nil), otherwise a coordinator for
/// the N worker processes, on a Unix socket that only this user can enter with the blocks in shared memory, or
/// over `link` (always reaped by the returned finish closure).
func makeLocalExecutor(
    children: LocalWorkers?, run: PreparedRun, cluster: ClusterArguments, restartLimit: Int = 0,
    link: WorkerLink = .unixSocket, logger: Logger
) throws -> (any Executor, ExecutorFinish) {
    let (model, blocks, seed, schedule) = (run.model, run.data.blocks, run.request.seed, run.options.batch)
    guard let children else {
        return (
            try LocalExecutor(model: model, blocks: blocks, threads: run.request.threads, seed: seed, schedule: schedule),
            { _ in }
        )
    }
    // A Unix socket in a folder only this user can enter: no other user can connect (as with CURVE keys), and
    // frames are not encrypted (CURVE cost 1.65x per round on the VAE benchmark, scripts/curve_cost.py).
    let folder: PrivateFolder?
    let (bind, security, transport): (String, ServerSecurity, BlockTransport)
    switch link {
    case .unixSocket:
        let socketFolder = try PrivateFolder()
        folder = socketFolder
        (bind, security) = ("ipc://\(socketFolder.path)/coordinator", .insecure)
        transport = .sharedMemory(threads: ThreadCount.resolve(run.request.threads), arena: run.data.arena)
    case .tcp(let address, let keys):
        folder = nil
        (bind, security, transport) = (address, keys, .messages)
    }
    let coordinator: ClusterExecutor
    do {
        coordinator = try ClusterExecutor(
            bind: bind, expectedWorkers: children.count, model: model, blocks: blocks,
            timing: cluster.timing, seed: seed, schedule: schedule,
            resilience: try cluster.resilience(workers: children.count), requiredSoftware: BuildIdentity.current,
            blockTransport: transport, security: security, logger: logger, interrupted: { Interrupt.requested })
    } catch {
        children.stop()
        throw error
    }
    children.connect(to: coordinator.endpoint)
    coordinator.processExits = {
        let exits = children.newExits()
        for _ in exits where restartLimit > 0 {
            if let pid = children.restart(limit: restartLimit) { logger.info("started local worker pid \(pid) in place of the lost one") }
        }
        return exits
    }
    do {
        try coordinator.waitForWorkers()
    } catch {
        children.stop()
        throw error
    }
    return (
        coordinator,
        { failure in
            try? coordinator.shutdown(reason: failure ?? "training finished", jobFailed: failure != nil)
            children.stop(waitingUpTo: 2)
            withExtendedLifetime(folder) {}
        }
    )
}

/// A new folder readable and enterable by this user only (mode 0700, `mkdtemp`), removed with its contents when
/// released: the home of local workers' Unix socket.
final class PrivateFolder {
    let path: String

    /// Where the folders go. Unix socket paths are limited to 107 bytes: a long TMPDIR falls back to /tmp.
    static var base: String {
        ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.utf8.count < 60 ? $0 : nil } ?? "/tmp"
    }

    /// `owned`: the folder's name carries this process's id (`shardtrain-<pid>-XXXXXX`), so that a later run can
    /// remove it when this one was killed before it could (`removeOrphans`).
    init(owned: Bool = false) throws {
        let base = Self.base
        var template = Array((base + "/shardtrain-" + (owned ? "\(getpid())-" : "") + "XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) != nil }
        guard made else { throw ValidationError(Self.failure(in: base, errno)) }
        path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Throws when no folder can be made in `base` (missing, not a folder, not writable): checked before the data is
    /// read, so that a bad TMPDIR does not cost a whole load first.
    static func checkBase() throws {
        let base = Self.base
        var info = stat()
        guard stat(base, &info) == 0 else { throw ValidationError(failure(in: base, errno)) }
        guard info.st_mode & S_IFMT == S_IFDIR else { throw ValidationError(failure(in: base, ENOTDIR)) }
        guard access(base, W_OK | X_OK) == 0 else { throw ValidationError(failure(in: base, errno)) }
    }

    private static func failure(in base: String, _ code: Int32) -> String {
        let origin = ProcessInfo.processInfo.environment["TMPDIR"] == base ? " (TMPDIR)" : ""
        return "cannot make a private folder in \(base)\(origin): \(String(cString: strerror(code)))"
    }

    /// Removes the owned folders (`init(owned: true)`) of processes that no longer exist: a run killed with -9
    /// (or ended by `exit` before its objects were released) leaves its folder, which may hold secret keys.
    static func removeOrphans() {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []
        for name in names where name.hasPrefix("shardtrain-") {
            let parts = name.split(separator: "-")
            guard parts.count == 3, let pid = Int32(parts[1]), pid != getpid() else { continue }
            guard kill(pid, 0) != 0, errno == ESRCH else { continue }
            try? FileManager.default.removeItem(atPath: base + "/" + name)
        }
    }
}

func makeLogger(_ label: String) -> Logger {
    var logger = Logger(label: label) { StreamLogHandler.standardError(label: $0) }
    let level = ProcessInfo.processInfo.environment["SHARDTRAIN_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:))
    logger.logLevel = level ?? .info
    return logger
}

/// Reads and prepares the data of `request` (its blocks in shared memory with `sharedMemory`, for local workers),
/// stopping the read on Ctrl-C/SIGTERM (exit 130); other failures exit 1.
func prepareRun(_ request: TrainingRequest, sharedMemory: Bool = false) throws(CommandFailure) -> PreparedRun {
    do {
        return try PreparedRun(request, sharedMemory: sharedMemory, cancellation: ReadCancellation { Interrupt.requested })
    } catch {
        if case .data(.interrupted) = error { throw .interrupted("interrupted while reading the data") }
        // A setting that does not fit the data (--classes, --batch-blocks, --class-weight, …) is fixed on the
        // command line: a usage error, as the checks made before reading are.
        if case .setup = error { throw CommandFailure(error.description, status: .usage) }
        // A flag that names what the file does not have (--positive-class, --ignore, --id-column, --categorical):
        // the schema's refusals of the whole file start with the flag.
        if case .data(.schema(_, nil, nil, nil, let detail)) = error, detail.hasPrefix("--") {
            throw CommandFailure(error.description, status: .usage)
        }
        // --label-column naming no column, a --test-fraction that leaves no training or no test rows: the same.
        if case .data(.missingLabelColumn(let path, _, _)) = error, path == request.data.path {
            throw CommandFailure(error.description, status: .usage)
        }
        if case .data(.invalidSplit) = error { throw CommandFailure(error.description, status: .usage) }
        throw CommandFailure(error)
    }
}

/// Refuses more workers than blocks: blocks are the unit of work, so the others would idle, and the block size
/// never depends on the worker count (that keeps the bits the same for any count). The message names a block
/// size that gives every worker a block: `ceil(rows / b) ≥ workers` for `b = floor((rows − 1) / (workers − 1))`.
func refuseIdleWorkers(_ workers: Int, data: PreparedData) throws(CommandFailure) {
    let (blocks, rows) = (data.blocks.count, data.dataset.rowCount)
    guard workers > blocks else { return }
    let smallerBlocks =
        rows >= workers
        ? ", or smaller blocks: --block-rows \((rows - 1) / (workers - 1)) or less gives \(workers) or more blocks" : ""
    throw CommandFailure(
        "--workers \(workers) is more than the \(blocks) block\(blocks == 1 ? "" : "s") of the \(rows) training "
            + "row\(rows == 1 ? "" : "s") (\(data.blockRows) row\(data.blockRows == 1 ? "" : "s") per "
            + "block), so \(workers - blocks) worker\(workers - blocks == 1 ? "" : "s") would have nothing to do: use --workers "
            + "\(blocks) or fewer"
            + smallerBlocks, status: .usage)
}

/// The common path of `train` and `coordinator`: prepare, build the executor, train, save, print. `sharedMemory`:
/// the workers are local processes that map the blocks (`makeLocalExecutor` over a Unix socket).
func runTraining(
    _ request: TrainingRequest, output arguments: OutputArguments, config: ConfigArguments, workers: Int, logger: Logger,
    progressSecurity: ServerSecurity = .insecure, sharedMemory: Bool = false,
    makeExecutor: (PreparedRun) throws -> (any Executor, ExecutorFinish)
) throws {
    // The build identity and the input files' SHA-256 (for the summary) are computed while the data loads.
    BackgroundWork.run { _ = BuildIdentity.current }
    let dataConfiguration = request.data
    let digests = BackgroundValue { () throws(CheckpointError) in
        try InputDigests(dataConfiguration) { Interrupt.requested }
    }
    // Progress is written off this thread while training; everything is out before the process exits.
    defer { OutputQueue.standardOutput.drain() }
    // A run that ends before saving leaves earlier output files as they were, and says so.
    var saving = false
    defer {
        if !saving, let note = OutputPaths.earlierRunNote(arguments.outputFiles) { logger.warning("\(note)") }
    }
    let run = try prepareRun(request, sharedMemory: sharedMemory)
    for note in run.data.notes { logger.info("\(note)") }
    try refuseIdleWorkers(workers, data: run.data)
    for warning in run.warnings { logger.warning("\(warning)") }
    if let path = config.config {
        do {
            try ConfigFile.compare(
                recorded: try ConfigFile.read(path), path: path, current: try digests.value(),
                files: InputDigests.files(of: request.data), verify: config.verifyData, logger: logger)
        } catch let error as CommandFailure {
            throw error
        } catch {
            throw CommandFailure(error)
        }
    }
    // The rounds, for the history file and for the report's curves.
    let history =
        arguments.history != nil || arguments.report != nil ? TrainingHistory(optimizer: run.options.optimizer) : nil
    // The end is known for mini-batch runs and for runs with both tolerances 0 (a fixed number of rounds).
    let options = run.options
    let fixedLength =
        options.optimizer.isStochastic
        || (options.stopping.gradientTolerance == 0 && options.stopping.relativeObjectiveTolerance == 0
            && options.continuation == nil)
    let progress = ProgressPrinter(format: arguments.logFormat, expectedRounds: fixedLength ? options.maxRounds : nil)
    var publisher: ProgressPublisher?
    if let endpoint = arguments.progressEndpoint {
        do {
            publisher = try ProgressPublisher(bind: endpoint, security: progressSecurity, logger: logger)
        } catch {
            throw CommandFailure(error)
        }
        logger.info("publishing progress on \(publisher!.endpoint)")
    }
    var observers: [any TrainingObserver] = [progress]
    if let history { observers.append(history) }
    if let publisher { observers.append(PublishingObserver(publisher: publisher)) }
    if arguments.evalEvery != nil {
        observers.append(
            HeldOutEvaluator(run: run) { round, split, outcome in
                switch outcome {
                case .success(let report):
                    history?.recordEvaluation(report, round: round, split: split)
                    guard let data = try? report.jsonData(),
                        let metrics = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
                    else { return }
                    let object: [String: Any] = ["event": "eval", "round": round, "split": split, "metrics": metrics]
                    progress.report(event: object)
                    if let publisher, let line = ProgressJSON.line(object) { publisher.publish(topic: "eval", line: line) }
                case .failure(let error):
                    logger.warning("round \(round): held-out evaluation failed: \(error)")
                }
            })
    }
    let checkpoints: Checkpointing
    do {
        checkpoints = try Checkpointing(arguments, run: run, digests: digests, logger: logger)
    } catch {
        // --resume of a folder without checkpoints, or of another run's: the command line names the wrong folder
        // or options (exit 64, as a missing folder is); a damaged or unreadable file is a failure.
        switch error {
        case .empty, .mismatch: throw CommandFailure(error.description, status: .usage)
        default: throw CommandFailure(error)
        }
    }
    var outcome: TrainingOutcome
    var faults: FaultCounts?
    do {
        let start = ContinuousClock.now
        let (executor, finish) = try makeExecutor(run)
        var finished = false
        defer { finish(ExecutorEnd.failure(finished: finished)) }
        (executor as? ClusterExecutor)?.eventHandler = { event in
            progress.report(clusterEvent: event, publisher: publisher, since: start)
        }
        outcome = try run.train(
            executor: executor, workers: workers, observer: ProgressFanOut(observers),
            shouldStop: { Interrupt.requested }, since: start, resume: checkpoints.resume?.state,
            saving: checkpoints.saving)
        faults = (executor as? ClusterExecutor).map { FaultCounts($0.counters) }
        finished = true
    } catch {
        progress.finishLiveLine()
        if let note = checkpoints.interruptedNote { logger.notice("\(note)") }
        throw CommandFailure(training: error)
    }
    progress.finishLiveLine()
    outcome.document.faults = faults
    outcome.document.build = BuildIdentity.current
    outcome.document.version = BuildIdentity.version
    do {
        outcome.document.inputSHA256 = try digests.value().summaryKeys
    } catch {
        logger.warning("the input files' SHA-256 is not in the summary: \(error)")
    }
    let written = [
        ("model", arguments.save), ("summary", arguments.summaryJson), ("history", arguments.history), ("report", arguments.report),
    ]
        .compactMap { name, path in path.map { (name, $0) } }
    outcome.document.outputs = written.isEmpty ? nil : Dictionary(uniqueKeysWithValues: written)
    if let note = checkpoints.writtenNote { logger.info("\(note)") }
    if let error = outcome.metricsError { logger.warning("metrics could not be computed: \(error)") }
    if let threshold = outcome.document.decisionThreshold, !threshold.targetMet { logger.warning("\(threshold.sentence)") }
    saving = true
    var historyFiles: [OutputFile] = []
    if let path = arguments.history, let history { historyFiles.append(OutputFile(path: path, contents: history.csv())) }
    if let path = arguments.report, let history {
        historyFiles.append(OutputFile(path: path, contents: RunReport.training(outcome, run: run, history: history, workers: workers)))
    }
    var saveFailure: CommandFailure?
    do {
        try outcome.save(
            model: arguments.save, summary: arguments.summaryJson,
            extraFiles: historyFiles,
            // The run's checkpoint folder first: its state is already there.
            rescueFolders: [arguments.checkpoint ?? arguments.resume].compactMap { $0 } + OutputPaths.rescueFolders,
            betweenSteps: OutputPaths.testPauseBetweenSteps)
    } catch {
        saveFailure = CommandFailure(error)
    }
    var document = outcome.document
    document.event = "summary"
    if saveFailure != nil { document.outputs = nil }
    let line = try? document.jsonData(pretty: false)
    if let publisher, let line { publisher.publish(topic: "summary", line: line) }
    switch arguments.logFormat {
    case .json:
        if let line { OutputQueue.standardOutput.write(line + Data("\n".utf8)) }
    case .text:
        OutputQueue.standardOutput.write(renderSummary(outcome.document, workers: workers))
        if saveFailure == nil, !written.isEmpty {
            OutputQueue.standardOutput.write(
                "\nwrote " + written.map { "\($0.0) \($0.1)" }.joined(separator: ", ") + "\n")
        }
    }
    if let publisher {
        // A watcher started next to a short run (`train … & watch …`) still gets the summary.
        if publisher.subscriptions == 0, arguments.lingerSeconds > 0 {
            logger.info("waiting up to \(arguments.lingerSeconds) s for a first watcher of \(publisher.endpoint) (--progress-linger)")
        }
        publisher.finish(linger: max(0, arguments.lingerSeconds))
    }
    if let saveFailure { throw saveFailure }
    // A Ctrl-C while the outputs were written let them be completed (a second one would have left the earlier
    // files as they were): the run still ends as an interrupted one.
    if Interrupt.requested {
        throw CommandFailure.interrupted("interrupted while the outputs were written; they were completed first")
    }
}

extension CommandFailure {
    /// A failure of the round loop: "interrupted" (130) when Ctrl-C or SIGTERM stopped it, else the error (1), after
    /// `context` (e.g. "2 workers: ").
    init(training error: any Error, context: String = "") {
        let interrupted = (error as? EngineError) == .interrupted || (error as? ClusterError) == .interrupted
        self = interrupted ? .interrupted() : CommandFailure(context + "\(error)")
    }
}

/// The closing text of a run: how it stopped, its sizes, objective, timings and digest, then the report of the
/// held-out rows (else of the training rows).
func renderSummary(_ document: SummaryDocument, workers: Int) -> Data {
    let summary = document.summary
    var text = """
        \(summary.converged ? "converged" : "stopped"): \(summary.stopReason)
          model \(summary.model), \(summary.rows) rows × \(summary.features) features, \(summary.blocks) blocks, \
        \(workers == 0 ? "single process" : "\(workers) workers")
          rounds \(summary.rounds), objective \(format12(summary.objective)) \
        (data loss \(format12(summary.dataLoss)) + l2 \(format12(summary.l2Term))), |g| \(scientific(summary.gradientNorm))
          \(summary.trainAccuracy.map { String(format: "train accuracy %.4f; ", $0) } ?? "")seconds: data \(String(format: "%.3f", summary.loadSeconds ?? 0)), \
        training \(String(format: "%.3f", summary.wallSeconds)), metrics \(String(format: "%.3f", summary.metricsSeconds ?? 0))
          parameters sha256 \(summary.parametersSHA256)

        """
    if let threshold = document.decisionThreshold { text += "  \(threshold.sentence)\n" }
    if let report = document.test ?? document.train {
        text += "\n\(document.test == nil ? "training" : "held-out") rows:\n" + report.renderText()
    }
    return Data(text.utf8)
}

/// Sends each round to the progress publisher's subscribers.
struct PublishingObserver: TrainingObserver {
    let publisher: ProgressPublisher

    func roundFinished(_ report: RoundReport) {
        publisher.publish(topic: "round", line: ProgressJSON.roundLine(report))
    }
}
