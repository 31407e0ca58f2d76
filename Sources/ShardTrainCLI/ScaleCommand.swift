import ArgumentParser
import Foundation
import Logging
import ShardApplication
import ShardArtifacts
import ShardCluster
import ShardEngine
import ShardModels
import ShardNumerics
import ShardOptimizers
import ShardProtocol

/// `shardtrain scale`: a scaling experiment — the same training run with several numbers of worker processes, on
/// this machine or on emulated hosts (network namespaces joined by rate-capped links), timed per round and split
/// into compute, straggler wait and communication, with a fitted cost model that predicts the counts it has not
/// seen before they are measured, and larger clusters.
public struct ScaleCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "scale",
        abstract: "Time the same run with several worker counts, fit a cost model of a round and check its predictions.",
        discussion: """
            Every run does the same rounds (tolerances are set to 0), so the timings compare like with like; \
            gradient descent (--optimizer gd) gives exactly --rounds rounds. Per worker count it reports the \
            median round time and its parts: compute (the median of the slowest worker's), wait (slowest minus \
            mean worker, the straggler cost, a part of compute) and communication (the median round minus that \
            compute: messages, reduction, optimizer step), plus rows/s and the parameters' SHA-256, which must be the same for every count.

            Every worker computes with --cores-per-worker threads. The cost model (README, "Scaling experiments") is
              t = c₀ + work / cores + c₁ + perWorker · N + linkBytes / rate
            where cores = min(N × cores per worker, this machine's cores), linkBytes are the bytes of the round's \
            PARAMS and PARTIALS frames (from the wire format, with ZeroMQ, CURVE and TCP/IP framing; on emulated \
            links less one tbf burst per direction) and rate the link's; c₀, work, c₁, perWorker are fitted (non-negative least squares) on --fit-workers, then the \
            --predict-workers counts are predicted, measured, and the error is printed. The model's prediction \
            for --cluster-workers assumes hosts with --cores-per-worker cores each and links of --bandwidth.

            --hosts N (Linux, root, iproute2) runs the coordinator and every worker in network namespaces of \
            their own, joined by a bridge over veth links capped with tc tbf at --bandwidth in both directions: \
            real TCP between network stacks, CURVE keys made for the run (or --insecure). The namespaces are \
            removed at the end, on failure and on Ctrl-C; those of a run killed outright are removed by the next.
              shardtrain scale --data data/fraud_synthetic.csv --standardize \\
                --optimizer gd --workers 1,2,3
              shardtrain scale --hosts 3 --bandwidth 100mbit --data data/digits.csv \\
                --model softmax \\
                --standardize --optimizer gd --fit-workers 1,2 --predict-workers 3
            """)

    @OptionGroup public var training: TrainingArguments
    @OptionGroup public var cluster: ClusterArguments

    @Option(parsing: .unconditional, help: "Comma-separated worker counts, all fitted (0 = in-process, reported but not fitted; default 1,2,3, or 1 … --hosts).")
    var workers: CommaSeparated<Int>?

    @Option(parsing: .unconditional, help: "Worker counts the cost model is fitted on (instead of --workers).")
    var fitWorkers: CommaSeparated<Int>?

    @Option(parsing: .unconditional, help: "Worker counts predicted by the fitted model first, then measured (needs --fit-workers).")
    var predictWorkers: CommaSeparated<Int>?

    @Option(parsing: .unconditional, help: "Threads of every worker: the cores of one emulated host.")
    public var coresPerWorker = 1

    @Option(parsing: .unconditional, help: "Rounds per run.")
    public var rounds = 50

    @Option(parsing: .unconditional, help: "Emulated worker hosts: one network namespace each, plus the coordinator's (Linux, root).")
    public var hosts: Int?

    @Option(help: "Link rate, e.g. 100mbit or 1gbit: the tc cap of every emulated host's link, and the link of the cluster predictions (inf: none).")
    public var bandwidth = "1gbit"

    @Flag(help: "With --hosts: no CURVE keys (the addresses exist only inside the run's namespaces).")
    public var insecure = false

    @Option(parsing: .unconditional, help: "Worker counts of the model's cluster prediction.")
    var clusterWorkers = CommaSeparated([16, 32, 64])

    @Flag(help: "Print the JSON document instead of the table.")
    public var json = false

    @Option(help: "Write the JSON document (keys in README.md, \"The scale document\") to this file, atomically.")
    public var summaryJson: String?

    @Option(help: "Write an HTML report of the sweep to this file: throughput, speedup, efficiency and the round's parts against workers, with the cost model and its cluster prediction.")
    public var report: String?

    public init() {}

    /// The counts fitted, and the counts predicted before they are measured.
    var sweep: (fit: [Int], predict: [Int]) {
        if let fitWorkers { return (fitWorkers.values, predictWorkers?.values ?? []) }
        return (workers?.values ?? hosts.map { Array(1...max($0, 1)) } ?? [1, 2, 3], [])
    }

    var bytesPerSecond: Double? { SimulateCommand.bytesPerSecond(bandwidth) }

    public func validate() throws {
        guard workers == nil || fitWorkers == nil else {
            throw ValidationError("--workers and --fit-workers are two ways to name the fitted counts: give one")
        }
        guard predictWorkers == nil || fitWorkers != nil else {
            throw ValidationError("--predict-workers needs --fit-workers (the counts the model is fitted on)")
        }
        try workers?.require(atLeast: 0, "--workers")
        try fitWorkers?.require(atLeast: 0, "--fit-workers")
        try predictWorkers?.require(atLeast: 1, "--predict-workers")
        try clusterWorkers.require(atLeast: 1, "--cluster-workers")
        let (fit, predict) = sweep
        guard Set(fit.filter { $0 > 0 }).count >= 2 else {
            throw ValidationError("the fitted counts need at least two different counts ≥ 1 to fit the cost model")
        }
        guard rounds >= 2 else { throw ValidationError("--rounds must be at least 2") }
        guard coresPerWorker >= 1 else { throw ValidationError("--cores-per-worker must be at least 1") }
        guard let rate = bytesPerSecond else {
            throw ValidationError("--bandwidth \(bandwidth): expected a number with bit, kbit, mbit or gbit, or inf")
        }
        if let hosts {
            guard (1...EmulatedHostsPlan.maximumHosts).contains(hosts) else {
                throw ValidationError("--hosts must be 1 ... \(EmulatedHostsPlan.maximumHosts)")
            }
            guard rate.isFinite else { throw ValidationError("--hosts needs a finite --bandwidth: tc caps every link at it") }
            guard let largest = (fit + predict).max(), largest <= hosts, !(fit + predict).contains(0) else {
                throw ValidationError(
                    "with --hosts \(hosts) every worker count must be 1 ... \(hosts) (one host per worker; no 0)")
            }
        } else if insecure {
            throw ValidationError("--insecure goes with --hosts (local workers use a private Unix socket)")
        }
        try OutputPaths.refuseClashes(outputs: outputFiles, inputs: training.inputFiles)
    }

    /// The files the sweep writes, by flag.
    var outputFiles: [(flag: String, path: String?)] { [("--summary-json", summaryJson), ("--report", report)] }

    /// Timings of one run, and where it ran.
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

    /// One worker count of the sweep: its setting, its measurement, and what the model said of it.
    struct Entry {
        enum Role: String { case fit, predict, inProcess = "in-process" }
        var role: Role
        var setting: ScalingModel.Setting
        var bytes: RoundBytes
        var measured: Measurement
        /// The model's round time: of the fit for fitted counts, before measuring for predicted ones.
        var modelled: (round: Double, compute: Double, communication: Double)?
    }

    public func run() throws {
        Interrupt.install()
        let logger = makeLogger("shardtrain.scale")
        for case let (flag, path?) in outputFiles {
            do { try AtomicFile.checkWritable(path) } catch { throw CommandFailure("\(flag): \(error)", status: .usage) }
        }
        // Local workers (no emulated hosts) map the shared memory the data is read into, at every point of the sweep.
        var run = try prepareRun(
            training.request(stopping: nil, evalEvery: nil, threads: coresPerWorker), sharedMemory: hosts == nil)
        let (fit, predict) = sweep
        try refuseIdleWorkers((fit + predict + [1]).max()!, data: run.data)
        for warning in run.warnings { logger.warning("\(warning)") }
        run.options.maxRounds = rounds
        run.options.stopping = StoppingCriteria(gradientTolerance: 0, relativeObjectiveTolerance: 0)
        let rate = bytesPerSecond!
        let network = try hosts.map { try Self.emulatedHosts($0, bitsPerSecond: Int((rate * 8).rounded()), logger: logger) }
        defer {
            network?.leaveCoordinatorNamespace()
            network?.tearDown()
        }
        let keys = try network.map { _ in try insecure ? nil : RunKeys(workers: hosts!) } ?? nil
        let framing = LinkFraming(curve: network != nil && !insecure)
        let sweepRun = SweepRun(
            command: self, run: run, network: network, keys: keys, framing: framing,
            linkRate: network == nil ? .infinity : rate, logger: logger)

        var entries = try fit.map { try sweepRun.entry(workers: $0, role: $0 == 0 ? .inProcess : .fit) }
        let model: ScalingModel
        do {
            model = try ScalingModel.fit(
                entries.filter { $0.role == .fit }.map {
                    ScalingModel.Point(
                        setting: $0.setting, compute: $0.measured.computeSeconds,
                        communication: $0.measured.communicationSeconds)
                })
        } catch {
            throw CommandFailure(error)
        }
        for index in entries.indices where entries[index].role == .fit {
            entries[index].modelled = Self.modelled(model, entries[index].setting)
        }
        // Predictions are made, and printed, before the counts are run.
        let predictions = predict.map { count in
            (count, sweepRun.setting(workers: count), Self.modelled(model, sweepRun.setting(workers: count).setting))
        }
        if !json, !predictions.isEmpty {
            print(
                "predicted before measuring: "
                    + predictions.map { String(format: "N=%d %.3f ms", $0.0, $0.2.round * 1e3) }.joined(separator: ", "))
        }
        for (count, _, modelled) in predictions {
            var entry = try sweepRun.entry(workers: count, role: .predict)
            entry.modelled = modelled
            entries.append(entry)
        }
        let document = ScaleDocument(
            command: self, run: run, entries: entries, model: model, network: network, framing: framing,
            linkRate: rate, predictCluster: { sweepRun.clusterSetting(workers: $0) })
        let data = document.json()
        try writeOutputs(document: data)
        if json { FileHandle.standardOutput.write(data + Data("\n".utf8)) } else { print(document.text()) }
        if !document.identicalParameters { throw CommandFailure("the parameters differ between worker counts") }
        withExtendedLifetime(keys) {}
    }

    /// --summary-json and --report, put in place together (`OutputSet`, the document as the record); the report is
    /// drawn from the document itself, so `--report` shows what `--json` prints.
    func writeOutputs(document data: Data) throws {
        var files: [OutputFile] = []
        if let report {
            let sweep: ScaleSweep
            do { sweep = try ScaleSweep(json: data, path: "the scale document") } catch { throw CommandFailure(error) }
            files.append(OutputFile(path: report, contents: ScaleReport.page(sweep)))
        }
        let record = summaryJson.map { OutputFile(path: $0, contents: data + Data("\n".utf8)) }
        guard !files.isEmpty || record != nil else { return }
        do {
            try OutputSet(files: files, record: record).commit(rescueFolders: OutputPaths.rescueFolders)
        } catch {
            throw CommandFailure(error)
        }
    }

    static func modelled(_ model: ScalingModel, _ setting: ScalingModel.Setting) -> (
        round: Double, compute: Double, communication: Double
    ) {
        (model.roundSeconds(setting), model.computeSeconds(setting), model.communicationSeconds(setting))
    }

    /// Builds the emulated network and moves this thread into the coordinator's namespace; a second Ctrl-C still
    /// removes the namespaces before the process ends.
    static func emulatedHosts(_ hosts: Int, bitsPerSecond: Int, logger: Logger) throws -> EmulatedHosts {
        if let missing = EmulatedHosts.missingRequirement() { throw CommandFailure("--hosts: \(missing)", status: .usage) }
        let network: EmulatedHosts
        do { network = try EmulatedHosts(hosts: hosts, bitsPerSecond: bitsPerSecond) } catch {
            throw CommandFailure("--hosts: cannot build the emulated network: \(error)")
        }
        Interrupt.beforeForcedExit { network.tearDown() }
        do { try network.enterCoordinatorNamespace() } catch {
            network.tearDown()
            throw CommandFailure(error)
        }
        let plan = network.plan
        logger.info(
            "emulated hosts: coordinator \(plan.coordinatorAddress) in \(plan.coordinatorNamespace), workers \(plan.workerAddress(1))…\(plan.workerAddress(plan.hosts)) in \(plan.workerNamespace(1))…, links \(plan.bitsPerSecond) bit/s (tbf, burst \(plan.burstBytes) B)"
        )
        return network
    }
}

/// The bytes of one round: its PARAMS and PARTIALS frames, the same on the wire with transport framing, and the part
/// of those the link's rate applies to (see `LinkFraming.roundBytes`).
struct RoundBytes {
    var frames: Int
    var wire: Int
    var rateLimited: Int
}

/// CURVE keys made for one run of emulated hosts, in a folder only this user can enter, removed with this object.
/// Every path is read through `folder`, so the folder lives as long as they are used (Swift may release an object
/// after the last use of its reference, before the end of the scope).
final class RunKeys {
    private let folder: PrivateFolder

    private var allowed: String { folder.path + "/workers" }
    private var coordinator: String { folder.path + "/coordinator" }

    init(workers: Int) throws {
        PrivateFolder.removeOrphans()
        folder = try PrivateFolder(owned: true)
        do {
            try FileManager.default.createDirectory(
                atPath: allowed, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
            _ = try KeyFiles.generate(at: coordinator)
            for k in 1...workers { _ = try KeyFiles.generate(at: "\(allowed)/w\(k)") }
        } catch {
            throw CommandFailure("cannot make the run's CURVE keys: \(error)")
        }
    }

    func security() throws -> ServerSecurity {
        do { return .curve(try KeyFiles.loadSecret(coordinator + ".secret"), allowed: try KeyFiles.loadAllowed(allowed)) } catch {
            throw CommandFailure(error)
        }
    }

    func workerArguments(_ k: Int) -> [String] {
        ["--secret-key", "\(allowed)/w\(k).secret", "--coordinator-key", coordinator + ".public"]
    }
}

/// Runs the counts of one sweep with the same data, network and keys.
struct SweepRun {
    let command: ScaleCommand
    let run: PreparedRun
    let network: EmulatedHosts?
    let keys: RunKeys?
    let framing: LinkFraming
    let linkRate: Double
    let logger: Logger

    var machineCores: Int { ThreadCount.availableCores }

    /// The bytes of a round with `workers` workers on a link with `framing` and a token bucket of `burst` bytes;
    /// nil with more workers than blocks.
    func bytes(workers: Int, framing: LinkFraming, burst: Int) -> RoundBytes? {
        guard
            let traffic = RoundTraffic(
                parameterCount: run.model.parameterCount, sumsWidth: run.model.sumsWidth, blockCount: run.data.blocks.count,
                workers: workers)
        else { return nil }
        let link = framing.roundBytes(outbound: traffic.params, inbound: traffic.partials, burst: burst)
        return RoundBytes(frames: traffic.frames.reduce(0, +), wire: link.wire, rateLimited: link.rateLimited)
    }

    /// A run of `workers` on this machine: its cores are shared (at most the machine's); emulated links let one
    /// tbf burst per direction pass at line speed.
    func setting(workers: Int) -> (bytes: RoundBytes, setting: ScalingModel.Setting) {
        let bytes =
            bytes(workers: workers, framing: framing, burst: network?.plan.burstBytes ?? 0)
            ?? RoundBytes(frames: 0, wire: 0, rateLimited: 0)
        let cores = Double(min(max(workers, 1) * command.coresPerWorker, machineCores))
        return (
            bytes,
            ScalingModel.Setting(
                workers: workers, cores: cores, linkBytes: Double(bytes.rateLimited), bytesPerSecond: linkRate)
        )
    }

    /// `workers` hosts of a cluster with --cores-per-worker cores each and real links of --bandwidth (no burst; CURVE
    /// framing unless --insecure); nil with more workers than blocks.
    func clusterSetting(workers: Int) -> (bytes: RoundBytes, setting: ScalingModel.Setting)? {
        guard let bytes = bytes(workers: workers, framing: LinkFraming(curve: !command.insecure), burst: 0) else {
            return nil
        }
        return (
            bytes,
            ScalingModel.Setting(
                workers: workers, cores: Double(workers * command.coresPerWorker), linkBytes: Double(bytes.rateLimited),
                bytesPerSecond: command.bytesPerSecond!)
        )
    }

    func entry(workers count: Int, role: ScaleCommand.Entry.Role) throws -> ScaleCommand.Entry {
        let (bytes, setting) = setting(workers: count)
        return ScaleCommand.Entry(
            role: role, setting: setting, bytes: bytes, measured: try measure(workers: count), modelled: nil)
    }

    func measure(workers count: Int) throws -> ScaleCommand.Measurement {
        let recorder = RoundRecorder()
        do {
            let (executor, finish) = try makeExecutor(workers: count)
            var finished = false
            defer { finish(ExecutorEnd.failure(finished: finished)) }
            let result = try Trainer(model: run.model, executor: executor, options: run.options)
                .run(observer: recorder, shouldStop: { Interrupt.requested })
            finished = true
            return recorder.measurement(workers: count, parameters: result.parameters)
        } catch {
            throw CommandFailure(training: error, context: "\(count) workers: ")
        }
    }

    private func makeExecutor(workers count: Int) throws -> (any Executor, ExecutorFinish) {
        var cluster = command.cluster
        guard let network, count > 0 else {
            return try makeLocalExecutor(
                children: try startLocalWorkers(count, threads: command.coresPerWorker, cluster: cluster), run: run,
                cluster: cluster, logger: logger)
        }
        // Every block must arrive within the join timeout, over a link the workers share.
        let dataBytes = run.data.blocks.reduce(0) { $0 + $1.rows * ($1.columns + 1) * $1.precision.byteWidth }
        cluster.joinTimeout = min(max(cluster.joinTimeout, 30 + 2 * Double(dataBytes) * 1.1 / linkRate), 86_400)
        let keys = self.keys
        let children = try LocalWorkers(
            count: count, threads: command.coresPerWorker, extraArguments: ["--join-timeout", String(cluster.joinTimeout)],
            placement: { index in (network.commandPrefix(workerHost: index + 1), keys?.workerArguments(index + 1) ?? []) })
        let security = try keys?.security() ?? .insecure
        return try makeLocalExecutor(
            children: children, run: run, cluster: cluster,
            link: .tcp(bind: "tcp://\(network.plan.coordinatorAddress):*", security: security), logger: logger)
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
        let (round, compute) = (median(reports.map(\.roundSeconds)), median(slowest))
        return ScaleCommand.Measurement(
            workers: workers, rounds: reports.count, roundSeconds: round, computeSeconds: compute,
            waitSeconds: median(zip(slowest, mean).map { $0 - $1 }), communicationSeconds: round - compute,
            rowsPerSecond: median(reports.map(\.rowsPerSecond)),
            parametersSHA256: Digest.parametersSHA256(parameters))
    }
}
