import ShardData
import ShardEngine
import ShardModels
import ShardNumerics
import ShardOptimizers
import ShardProtocol
import Testing
import _TestSupport

/// Fault scenarios of whole training runs on the in-memory cluster: the real state machines and wire format under
/// a virtual clock. Whatever fails, the result must be the same bits as a fault-free single-process run.
@Suite("In-memory cluster: faults and recovery")
struct InMemoryClusterTests {
    typealias Fault = InMemoryCluster.Fault

    static func blocks(rows: Int = 600, columns: Int = 4, blockRows: Int = 25) throws -> [Block] {
        var random = SplitMix64(seed: 21)
        return try random.blocks(rows: rows, columns: columns, blockRows: blockRows, features: -1...1)
    }

    static let logistic = LogisticRegression(featureCount: 4, l2: 0.05)
    static let lbfgs = TrainingOptions(optimizer: .lbfgs(memory: 5), maxRounds: 60, stopping: StoppingCriteria())

    static func reference(model: any Model, blocks: [Block], options: TrainingOptions, schedule: BatchSchedule? = nil) throws
        -> TrainingResult
    {
        let executor = try LocalExecutor(model: model, blocks: blocks, threads: 1, seed: 4, schedule: schedule)
        return try Trainer(model: model, executor: executor, options: options).run()
    }

    static func cluster(
        model: any Model, blocks: [Block], workers: Int, faults: [Fault], resilience: CoordinatorInstance.Resilience = .init(),
        schedule: BatchSchedule? = nil
    ) throws -> InMemoryCluster {
        try InMemoryCluster(
            model: model, blocks: blocks, workers: workers, timing: ClusterTiming(heartbeatInterval: 0.25, workerTimeout: 3),
            seed: 4, schedule: schedule, resilience: resilience, faults: faults)
    }

    static func lost(_ cluster: InMemoryCluster) -> [Int] {
        cluster.events.compactMap { if case .workerLost(let index, _, _, _) = $0 { index } else { nil } }
    }

    @Test(
        "L-BFGS logistic: one of three workers crashes, vanishes, stalls past the timeout or hangs at some round — same bits",
        arguments: [
            Fault(worker: 1, round: 3, kind: .crash), Fault(worker: 0, round: 5, moment: .afterAnswering, kind: .crash),
            Fault(worker: 2, round: 5, kind: .vanish), Fault(worker: 1, round: 4, kind: .stall(seconds: 10)),
            Fault(worker: 2, round: 4, kind: .hang), Fault(worker: 0, round: 1, kind: .crash),
        ])
    func logisticSurvivesOneLoss(fault: Fault) throws {
        let blocks = try Self.blocks()
        let expected = try Self.reference(model: Self.logistic, blocks: blocks, options: Self.lbfgs)
        #expect(expected.rounds > fault.round + 1)
        // Without backups the fault is a loss and its blocks are reassigned; with them (the default) a silent
        // worker's rounds may be completed by backups before its timeout. The bits are the same either way.
        for resilience in [CoordinatorInstance.Resilience(stragglerFactor: .infinity), .init()] {
            let cluster = try Self.cluster(model: Self.logistic, blocks: blocks, workers: 3, faults: [fault], resilience: resilience)
            let result = try Trainer(model: Self.logistic, executor: cluster, options: Self.lbfgs).run()
            #expect(result.parameters.map(\.bitPattern) == expected.parameters.map(\.bitPattern))
            #expect(result.rounds == expected.rounds)
            guard resilience.stragglerFactor == .infinity else { continue }
            #expect(Self.lost(cluster) == [fault.worker])
            #expect(cluster.coordinator.counters.reassignments >= 1)
            #expect(cluster.coordinator.liveWorkers.count == 2)
        }
    }

    @Test("a worker stopped past the timeout is replaced; when it wakes it reads that it was dropped and exits non-zero")
    func stalledWorkerIsToldToLeave() throws {
        let blocks = try Self.blocks()
        let expected = try Self.reference(model: Self.logistic, blocks: blocks, options: Self.lbfgs)
        let cluster = try Self.cluster(
            model: Self.logistic, blocks: blocks, workers: 2, faults: [Fault(worker: 1, round: 2, kind: .stall(seconds: 5))],
            resilience: .init(stragglerFactor: .infinity))
        let result = try Trainer(model: Self.logistic, executor: cluster, options: Self.lbfgs).run()
        #expect(result.parameters.map(\.bitPattern) == expected.parameters.map(\.bitPattern))
        #expect(cluster.exit(ofWorker: 1) == nil, "still stopped")
        try cluster.advance(by: 5)
        guard case .done(let reason, jobFailed: true)? = cluster.exit(ofWorker: 1) else {
            Issue.record("expected DONE with a failure status, got \(String(describing: cluster.exit(ofWorker: 1)))")
            return
        }
        #expect(reason.hasPrefix("dropped from the job: silent for 3"))
        #expect(reason.hasSuffix("s during round 2"))
        #expect(cluster.exit(ofWorker: 0) == nil)
    }

    @Test("two workers lost one after the other, down to one: same bits; below --min-workers the run fails")
    func severalLosses() throws {
        let blocks = try Self.blocks()
        let expected = try Self.reference(model: Self.logistic, blocks: blocks, options: Self.lbfgs)
        let faults = [Fault(worker: 0, round: 2, kind: .crash), Fault(worker: 2, round: 6, kind: .vanish)]
        let cluster = try Self.cluster(
            model: Self.logistic, blocks: blocks, workers: 3, faults: faults, resilience: .init(stragglerFactor: .infinity))
        let result = try Trainer(model: Self.logistic, executor: cluster, options: Self.lbfgs).run()
        #expect(result.parameters.map(\.bitPattern) == expected.parameters.map(\.bitPattern))
        #expect(Self.lost(cluster) == [0, 2])

        let strict = try Self.cluster(
            model: Self.logistic, blocks: blocks, workers: 3, faults: faults, resilience: .init(minWorkers: 3))
        #expect {
            try Trainer(model: Self.logistic, executor: strict, options: Self.lbfgs).run()
        } throws: { error in
            "\(error)".contains("2 live workers left, fewer than --min-workers 3")
        }
    }

    @Test("with --replicas 2 a crash ships no blocks; same bits")
    func replicas() throws {
        let blocks = try Self.blocks()
        let expected = try Self.reference(model: Self.logistic, blocks: blocks, options: Self.lbfgs)
        let cluster = try Self.cluster(
            model: Self.logistic, blocks: blocks, workers: 3, faults: [Fault(worker: 1, round: 4, kind: .crash)],
            resilience: .init(replicas: 2))
        let result = try Trainer(model: Self.logistic, executor: cluster, options: Self.lbfgs).run()
        #expect(result.parameters.map(\.bitPattern) == expected.parameters.map(\.bitPattern))
        let shipped = cluster.events.compactMap { event -> Bool? in
            if case .blocksReassigned(_, _, _, let shipped, _) = event { shipped } else { nil }
        }
        #expect(shipped == [false])
    }

    @Test("a worker joining at round 6 is given blocks at the next round (rebalanced); same bits")
    func joinMidRun() throws {
        let blocks = try Self.blocks()
        let expected = try Self.reference(model: Self.logistic, blocks: blocks, options: Self.lbfgs)
        let cluster = try Self.cluster(
            model: Self.logistic, blocks: blocks, workers: 2, faults: [Fault(worker: 0, round: 1, kind: .crash), Fault(worker: 0, round: 6, kind: .join)])
        let result = try Trainer(model: Self.logistic, executor: cluster, options: Self.lbfgs).run()
        #expect(result.parameters.map(\.bitPattern) == expected.parameters.map(\.bitPattern))
        #expect(cluster.coordinator.counters.workersJoined == 1)
        #expect(cluster.coordinator.liveWorkers.map(\.index) == [1, 2])
        #expect(cluster.coordinator.liveWorkers.allSatisfy { !$0.assigned.isEmpty })
    }

    @Test("a straggler (stalled 1 s, below the worker timeout) gets a backup; the first answer wins; same bits")
    func stragglerBackup() throws {
        let blocks = try Self.blocks()
        let expected = try Self.reference(model: Self.logistic, blocks: blocks, options: Self.lbfgs)
        let cluster = try Self.cluster(
            model: Self.logistic, blocks: blocks, workers: 3, faults: [Fault(worker: 2, round: 5, kind: .stall(seconds: 1))])
        let result = try Trainer(model: Self.logistic, executor: cluster, options: Self.lbfgs).run()
        #expect(result.parameters.map(\.bitPattern) == expected.parameters.map(\.bitPattern))
        #expect(Self.lost(cluster).isEmpty)
        // Round 5 and, while the worker is still stopped, the next ones get backups; its late answers are dropped.
        let counters = cluster.coordinator.counters
        #expect(counters.backups >= 1)
        #expect(counters.duplicateAnswers + counters.staleFrames >= 1)
        #expect(counters.disagreements == 0)
    }

    @Test("SVM with a smoothing continuation and mini-batch Adam on a VAE survive a crash mid-run: same bits")
    func otherSolvers() throws {
        // The SVM's labels are ±1.
        let blocks = try Self.blocks().map { block in
            guard case .float64(let features, let labels) = block.storage else { return block }
            return try Block(
                features: features, labels: labels.map { 2 * $0 - 1 }, columns: block.columns, id: block.id, precision: .float64)
        }
        let svm = LinearSVM(featureCount: 4, l2: 0.05)
        var continuation = Self.lbfgs
        continuation.continuation = try Continuation(initial: 0.1, factor: 0.1, final: 1e-3)
        let svmExpected = try Self.reference(model: svm, blocks: blocks, options: continuation)
        let svmCluster = try Self.cluster(model: svm, blocks: blocks, workers: 3, faults: [Fault(worker: 1, round: 20, kind: .crash)])
        let svmResult = try Trainer(model: svm, executor: svmCluster, options: continuation).run()
        #expect(svmResult.parameters.map(\.bitPattern) == svmExpected.parameters.map(\.bitPattern))
        #expect(Self.lost(svmCluster) == [1])

        // The VAE's inputs lie in [0, 1].
        let unit = try blocks.map { block in
            guard case .float64(let features, let labels) = block.storage else { return block }
            return try Block(
                features: features.map { ($0 + 1) / 2 }, labels: labels, columns: block.columns, id: block.id, precision: .float64)
        }
        let vae = try VariationalAutoencoder(featureCount: 4, latentDimension: 2, hiddenUnits: 8, l2: 1e-4)
        let schedule = try BatchSchedule(blockCount: blocks.count, blocksPerStep: 3, seed: 2)
        let adam = TrainingOptions(
            optimizer: .adam(schedule: .constant(rate: 0.01), beta1: 0.9, beta2: 0.999, epsilon: 1e-8), maxRounds: 40,
            stopping: StoppingCriteria(), batch: schedule)
        let vaeExpected = try Self.reference(model: vae, blocks: unit, options: adam, schedule: schedule)
        let vaeCluster = try Self.cluster(
            model: vae, blocks: unit, workers: 3, faults: [Fault(worker: 2, round: 13, kind: .crash)], schedule: schedule)
        let vaeResult = try Trainer(model: vae, executor: vaeCluster, options: adam).run()
        #expect(vaeResult.parameters.map(\.bitPattern) == vaeExpected.parameters.map(\.bitPattern))
        #expect(Self.lost(vaeCluster) == [2])
    }

    @Test(
        "a worker whose sums are impossible (negative loss, non-finite) is checked by another worker, dropped, and the run keeps the fault-free bits",
        arguments: [-50.0, .infinity])
    func impossiblePartialsAreCaught(factor: Double) throws {
        let blocks = try Self.blocks()
        let expected = try Self.reference(model: Self.logistic, blocks: blocks, options: Self.lbfgs)
        let cluster = try Self.cluster(
            model: Self.logistic, blocks: blocks, workers: 3, faults: [Fault(worker: 1, round: 3, kind: .corrupt(factor: factor))])
        let result = try Trainer(model: Self.logistic, executor: cluster, options: Self.lbfgs).run()
        #expect(result.parameters.map(\.bitPattern) == expected.parameters.map(\.bitPattern))
        #expect(Self.lost(cluster) == [1])
        #expect(cluster.coordinator.counters.verifications == 1)
        let reason = cluster.events.compactMap { if case .workerLost(1, let reason, _, _) = $0 { reason } else { nil } }.first
        #expect(reason?.contains("returned impossible partial sums") == true, "\(String(describing: reason))")
    }

    @Test("non-finite sums that every worker computes (a diverging step) are confirmed, not blamed on a worker")
    func genuineNonFiniteSumsAreConfirmed() throws {
        let blocks = try Self.blocks()
        let diverging = TrainingOptions(optimizer: .gradientDescent(learningRate: 1e308), maxRounds: 6, stopping: StoppingCriteria())
        let expected = try Self.reference(model: Self.logistic, blocks: blocks, options: diverging)
        let cluster = try Self.cluster(model: Self.logistic, blocks: blocks, workers: 3, faults: [])
        let result = try Trainer(model: Self.logistic, executor: cluster, options: diverging).run()
        #expect(result.parameters.map(\.bitPattern) == expected.parameters.map(\.bitPattern))
        #expect(result.diverged == expected.diverged)
        #expect(Self.lost(cluster).isEmpty)
    }
}

/// The in-memory cluster as a simulator: links, compute times, random faults — the bits never change.
@Suite("In-memory cluster: simulated links and random faults")
struct SimulatedClusterTests {
    @Test("latency and bandwidth lengthen the virtual round as the model says; random failures and stragglers keep the bits")
    func linksAndRandomFaults() throws {
        let blocks = try InMemoryClusterTests.blocks(rows: 4_000, columns: 4, blockRows: 25)
        let model = InMemoryClusterTests.logistic
        let options = TrainingOptions(
            optimizer: .gradientDescent(learningRate: 0.5), maxRounds: 12,
            stopping: StoppingCriteria(gradientTolerance: 0, relativeObjectiveTolerance: 0))
        let expected = try InMemoryClusterTests.reference(model: model, blocks: blocks, options: options)
        let cluster = try InMemoryCluster(
            model: model, blocks: blocks, workers: 8, timing: ClusterTiming(heartbeatInterval: 0.25, workerTimeout: 3), seed: 4)
        cluster.links = .init(latency: 0.001, bytesPerSecond: 1e6)
        cluster.computeTime = .perRow(seconds: 1e-6, cores: 2)
        let result = try Trainer(model: model, executor: cluster, options: options).run()
        #expect(result.parameters.map(\.bitPattern) == expected.parameters.map(\.bitPattern))
        // A round: PARAMS (84 bytes of values in a ~130-byte frame) leave one by one over the coordinator's link,
        // each worker computes 500 rows on 2 cores (0.25 ms), PARTIALS come back: at least two latencies and the
        // compute, and the 8 PARAMS serialised on one 1 MB/s link.
        let round = try #require(cluster.roundSeconds.last)
        let lowerBound: Double = 2 * 0.001 + 0.000_25 + 8.0 * 100 / 1e6
        #expect(round > lowerBound, "\(round)")
        #expect(round < 0.05, "\(round)")

        let faulty = try InMemoryCluster(
            model: model, blocks: blocks, workers: 8, timing: ClusterTiming(heartbeatInterval: 0.25, workerTimeout: 3), seed: 4)
        faulty.randomFaults = .init(failureRate: 0.05, stragglerRate: 0.2, slowdown: 400, seed: 9)
        faulty.computeTime = .perRow(seconds: 1e-5, cores: 1)
        let survived = try Trainer(model: model, executor: faulty, options: options).run()
        #expect(survived.parameters.map(\.bitPattern) == expected.parameters.map(\.bitPattern))
        #expect(!faulty.lossTimes.isEmpty, "the seed draws at least one failure")
        #expect(faulty.coordinator.counters.backups > 0, "slow computations get backups")
    }
}
