import Foundation
import ShardData
import Logging
import ShardCluster
import ShardEngine
import ShardModels
import ShardNumerics
import ShardProtocol
import ShardWire
import Testing
import ZeroMQ
import _TestSupport

/// Coordinator and worker shells over real ZeroMQ sockets on loopback TCP, in one test process.
@Suite("Cluster over sockets", .serialized)
struct ClusterSocketTests {
    /// `count` blocks of `rows` rows (features uniform in [-1, 1], labels 0/1), the same on every call.
    static func blocks(count: Int, rows: Int, columns: Int) throws -> [Block] {
        var random = SplitMix64(seed: 9)
        return try random.blocks(rows: count * rows, columns: columns, blockRows: rows, features: -1...1)
    }

    static let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    /// Runs a worker shell on its own thread; the outcome lands in `result`.
    final class WorkerThread: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: Result<WorkerShell.Outcome, ClusterError>?
        private let finished = DispatchSemaphore(value: 0)

        convenience init(endpoint: String) {
            self.init(options: .init(endpoint: endpoint, threads: 2, joinTimeout: 20))
        }

        init(options: WorkerShell.Options) {
            Thread { [self] in
                let outcome = Result { () throws(ClusterError) in
                    try WorkerShell(options: options, logger: logger).run()
                }
                lock.withLock { stored = outcome }
                finished.signal()
            }.start()
        }

        /// The outcome, waiting at most `timeout` seconds for it (may be asked again).
        func result(timeout: Double) -> Result<WorkerShell.Outcome, ClusterError>? {
            if let stored = lock.withLock({ stored }) { return stored }
            guard finished.wait(timeout: .now() + timeout) == .success else { return nil }
            return lock.withLock { stored }
        }
    }

    @Test("rounds over sockets give the same bits as the local executor; strangers are refused")
    func roundsMatchLocalAndStrangersAreRefused() throws {
        let blocks = try Self.blocks(count: 7, rows: 33, columns: 4)
        let model = LogisticRegression(featureCount: 4, l2: 0.5)
        let coordinator = try ClusterExecutor(
            bind: "tcp://127.0.0.1:*", expectedWorkers: 2, model: model, blocks: blocks,
            timing: ClusterTiming(heartbeatInterval: 0.05, workerTimeout: 5, joinTimeout: 20), logger: Self.logger)

        // A peer speaking another protocol version, and one sending garbage, are refused with a reason.
        let context = try Context()
        let codec = WireCodec()
        var hello = try codec.encode(Frame(jobID: 0, message: .hello(pid: 1, cores: 1, hostname: "old", software: "v0")))
        hello[4] = 7
        let oldPeer = try context.socket(.dealer)
        try oldPeer.connect(coordinator.endpoint)
        try oldPeer.send([hello])
        let garbagePeer = try context.socket(.dealer)
        try garbagePeer.connect(coordinator.endpoint)
        try garbagePeer.send([[0xde, 0xad, 0xbe, 0xef]])

        let workers = [WorkerThread(endpoint: coordinator.endpoint), WorkerThread(endpoint: coordinator.endpoint)]
        try coordinator.waitForWorkers()

        // The coordinator reads (and refuses) strangers only while it waits for workers or runs a round, and on a
        // busy machine their connections may complete after the workers': run rounds until both replies are in.
        let peers = [(oldPeer, "protocol version 7"), (garbagePeer, "truncated")]
        var replies: [Int: [[UInt8]]] = [:]
        var round = 0
        let deadline = Date().addingTimeInterval(20)
        while replies.count < peers.count, Date() < deadline {
            for (index, (peer, _)) in peers.enumerated() where replies[index] == nil {
                replies[index] = try peer.receive(.milliseconds(10))
            }
            round += 1
            _ = try coordinator.evaluate([0, 0, 0, 0, 0], request: RoundRequest(round: round))
        }
        for (index, (_, expected)) in peers.enumerated() {
            let reply = try #require(replies[index], "no REFUSE for the peer expecting \"\(expected)\"")
            let frame = try codec.decode(reply[0])
            guard case .refuse(let reason) = frame.message else {
                Issue.record("expected REFUSE, got \(frame.message.type)")
                continue
            }
            #expect(reason.contains(expected), "\(reason)")
        }

        let local = try LocalExecutor(model: model, blocks: blocks, threads: 1)
        let pumped = round
        for round in (pumped + 1)...(pumped + 3) {
            let parameters = (0..<5).map { Double($0 + round) * 0.37 - 1 }
            let remote = try coordinator.evaluate(parameters, request: RoundRequest(round: round))
            let expected = try local.evaluate(parameters, request: RoundRequest(round: round))
            #expect(remote.sums.map(\.bitPattern) == expected.sums.map(\.bitPattern), "round \(round)")
            #expect(remote.rowCount == 7 * 33)
            #expect(remote.workerTimings.map(\.worker) == [0, 1])
        }
        try coordinator.shutdown(reason: "test finished")
        for worker in workers {
            let outcome = try #require(worker.result(timeout: 10)).get()
            #expect(outcome.rounds == pumped + 3)
            #expect(outcome.doneReason == "test finished")
        }
    }

    @Test("a worker whose coordinator disappears gives up after the worker timeout")
    func workerNoticesSilentCoordinator() throws {
        let context = try Context()
        let router = try context.socket(.router)
        let endpoint = try router.bind("tcp://127.0.0.1:*")
        let worker = WorkerThread(endpoint: endpoint)
        let hello = try #require(try router.receive(.milliseconds(5000)))
        let codec = WireCodec()
        let spec = JobSpec(
            model: ModelSpec(featureCount: 2, l2: 0, .logistic()), precision: .float64,
            plan: try BlockPlan(rowCount: 3, blockRows: 3), timing: ClusterTiming(heartbeatInterval: 0.05, workerTimeout: 0.5),
            seed: 0)
        try router.send([
            hello[0],
            try codec.encode(
                Frame(jobID: 3, message: .welcome(workerIndex: 0, workerCount: 1, jobSpec: spec.encoded()))),
        ])
        let start = Date()
        let result = try #require(worker.result(timeout: 10))
        #expect(Date().timeIntervalSince(start) < 3)
        guard case .failure(.coordinatorLost(let message)) = result else {
            Issue.record("expected coordinatorLost, got \(result)")
            return
        }
        #expect(message.contains(endpoint))
    }

    /// A ROUTER playing the coordinator: it answers the worker's HELLO with WELCOME for `spec`.
    struct FakeCoordinator {
        static let jobID: UInt64 = 3
        let context: Context
        let router: Socket
        let endpoint: String
        let codec = WireCodec()
        var worker: [UInt8] = []

        init() throws {
            context = try Context()
            router = try context.socket(.router)
            endpoint = try router.bind("tcp://127.0.0.1:*")
        }

        /// Waits for HELLO (returning its software string) and remembers the worker's routing id.
        mutating func awaitHello() throws -> String {
            let hello = try #require(try router.receive(.milliseconds(5000)))
            worker = hello[0]
            guard case .hello(_, _, _, let software) = try codec.decode(hello[1]).message else {
                throw ClusterError.protocolViolation("expected HELLO")
            }
            return software
        }

        func send(_ message: Message, round: UInt64 = 0) throws {
            try router.send([worker, try codec.encode(Frame(jobID: Self.jobID, round: round, message: message))])
        }

        func welcome(_ spec: JobSpec) throws {
            try send(.welcome(workerIndex: 0, workerCount: 1, jobSpec: spec.encoded()))
        }

        /// The next message from the worker, or nil after `milliseconds`.
        func next(milliseconds: Int = 5000) throws -> Frame? {
            guard let parts = try router.receive(.milliseconds(milliseconds)) else { return nil }
            return try codec.decode(parts[1])
        }
    }

    static func spec(
        blocks: Int, rowsPerBlock: Int, columns: Int = 2, heartbeat: Double = 0.05, workerTimeout: Double = 5,
        schedule: BatchSchedule? = nil
    ) -> JobSpec {
        JobSpec(
            model: ModelSpec(featureCount: columns, l2: 0, .logistic()), precision: .float64,
            // The test sizes always form a plan (at least one block of at least one row).
            plan: try! BlockPlan(rowCount: max(1, blocks * rowsPerBlock), blockRows: max(1, rowsPerBlock)),
            timing: ClusterTiming(heartbeatInterval: heartbeat, workerTimeout: workerTimeout), seed: 0, schedule: schedule)
    }

    @Test("a worker whose coordinator vanished gives up even when its heartbeats fill the send queue")
    func workerNeverBlocksOnAFullQueue() throws {
        var coordinator = try FakeCoordinator()
        let endpoint = coordinator.endpoint
        // Heartbeats every millisecond fill the DEALER's queue (high-water mark 1000) in about a second,
        // well before the worker's 3 s worker timeout: a blocking send would hang there for ever.
        let worker = WorkerThread(
            options: .init(endpoint: endpoint, threads: 1, joinTimeout: 20, timing: .init(heartbeatInterval: 10, workerTimeout: 20)))
        _ = try coordinator.awaitHello()
        try coordinator.welcome(Self.spec(blocks: 1, rowsPerBlock: 3, heartbeat: 0.001, workerTimeout: 3))
        _ = try #require(try coordinator.next())
        coordinator = try FakeCoordinator()  // closes the first ROUTER: the coordinator is gone
        let result = try #require(worker.result(timeout: 15), "the worker hangs in a blocking send")
        guard case .failure(.coordinatorLost(let message)) = result else {
            Issue.record("expected coordinatorLost, got \(result)")
            return
        }
        #expect(message.contains(endpoint))
    }

    @Test("a worker draining a long stream of BLOCKS frames keeps sending heartbeats")
    func heartbeatsWhileDrainingBlocks() throws {
        var coordinator = try FakeCoordinator()
        let worker = WorkerThread(
            options: .init(
                endpoint: coordinator.endpoint, threads: 1, joinTimeout: 20, timing: .init(heartbeatInterval: 10, workerTimeout: 20)))
        _ = try coordinator.awaitHello()
        let count = 400
        let blocks = try Self.blocks(count: count, rows: 50, columns: 8)
        // A heartbeat interval shorter than any loop pass: the worker is due to heartbeat on every pass.
        try coordinator.welcome(Self.spec(blocks: count, rowsPerBlock: 50, columns: 8, heartbeat: 1e-6, workerTimeout: 20))
        try coordinator.send(.hold(ranges: [0..<count]))
        for block in blocks { try coordinator.send(.blocks([block])) }
        var heartbeats = 0
        while let frame = try coordinator.next() {
            if frame.message == .heartbeat { heartbeats += 1 }
            if case .ready = frame.message { break }
        }
        try coordinator.send(.done(reason: "test finished"))
        #expect(try #require(worker.result(timeout: 10)).get().doneReason == "test finished")
        #expect(heartbeats >= count / 2, "\(heartbeats) heartbeats while draining \(count) BLOCKS frames")
    }

    @Test("a coordinator refuses settings that cannot work instead of trapping")
    func coordinatorSettingsAreChecked() throws {
        let model = LogisticRegression(featureCount: 4, l2: 0.5)
        let blocks = try Self.blocks(count: 3, rows: 5, columns: 4)
        func make(workers: Int = 1, blocks: [Block], timing: ClusterTiming = .init()) throws(ClusterError) {
            _ = try ClusterExecutor(
                bind: "tcp://127.0.0.1:*", expectedWorkers: workers, model: model, blocks: blocks, timing: timing,
                logger: Self.logger)
        }
        #expect(throws: ClusterError.invalidConfiguration("a cluster job needs at least one worker, not 0")) {
            try make(workers: 0, blocks: blocks)
        }
        #expect(throws: ClusterError.self) { try make(blocks: blocks, timing: .init(heartbeatInterval: .infinity)) }
        #expect(
            throws: ClusterError.invalidConfiguration("block 0 has id 1: blocks must be numbered 0, 1, … in order")
        ) { try make(blocks: Array(blocks.dropFirst())) }
        let wide = try Self.blocks(count: 1, rows: 5, columns: 3)
        #expect(
            throws: ClusterError.invalidConfiguration("block 0 has 3 columns in float64, expected 4 in float64")
        ) { try make(blocks: wide) }
        // Blocks are the cuts of one plan: all of `blockRows` rows but possibly the last.
        let short = try Self.blocks(count: 1, rows: 2, columns: 4).map { block in
            try Block(id: 1, rows: block.rows, columns: block.columns, storage: block.storage)
        }
        #expect(
            throws: ClusterError.invalidConfiguration(
                "block 1 has 2 rows: blocks of one plan hold 5 rows each (the last one possibly fewer)")
        ) { try make(blocks: [blocks[0], short[0], blocks[2]]) }
    }

    @Test("a worker refuses a job spec it cannot honour and tells the coordinator why")
    func workerRefusesAnInvalidSpec() throws {
        var coordinator = try FakeCoordinator()
        let worker = WorkerThread(endpoint: coordinator.endpoint)
        _ = try coordinator.awaitHello()
        var spec = Self.spec(blocks: 2, rowsPerBlock: 3)
        spec.schedule = try BatchSchedule(blockCount: 3, blocksPerStep: 1, seed: 1)
        try coordinator.send(
            .welcome(workerIndex: 0, workerCount: 1, jobSpec: [UInt8](try JSONEncoder().encode(spec))))
        let expected = "job spec is not valid: the batch schedule covers 3 blocks, the plan has 2"
        var reported: String?
        while let frame = try coordinator.next() {
            if case .failure(let reason) = frame.message {
                reported = reason
                break
            }
        }
        #expect(reported == "protocol violation: \(expected)")
        guard case .failure(.protocolViolation(expected)) = try #require(worker.result(timeout: 10)) else {
            Issue.record("expected the worker to fail with \(expected)")
            return
        }
    }

    @Test("PARAMS for a round beyond Int make the worker fail with a message, not trap")
    func workerRejectsHugeRound() throws {
        var coordinator = try FakeCoordinator()
        let worker = WorkerThread(endpoint: coordinator.endpoint)
        _ = try coordinator.awaitHello()
        try coordinator.welcome(Self.spec(blocks: 1, rowsPerBlock: 3))
        try coordinator.send(.hold(ranges: [0..<1]))
        try coordinator.send(.blocks(try Self.blocks(count: 1, rows: 3, columns: 2)))
        while let frame = try coordinator.next(), frame.message != .ready(blockCount: 1, rowCount: 3) {}
        try coordinator.send(.params([0, 0, 0], ranges: [0..<1]), round: .max)
        let expected = "PARAMS for round \(UInt64.max), beyond any round"
        guard case .failure(.protocolViolation(expected)) = try #require(worker.result(timeout: 10)) else {
            Issue.record("expected the worker to fail with \(expected)")
            return
        }
    }

    /// Drives a worker through WELCOME (`spec`) and the BLOCKS of its shard up to READY.
    static func readyWorker(_ spec: JobSpec, rowsPerBlock: Int) throws -> (FakeCoordinator, WorkerThread) {
        var coordinator = try FakeCoordinator()
        let worker = WorkerThread(endpoint: coordinator.endpoint)
        _ = try coordinator.awaitHello()
        try coordinator.welcome(spec)
        try coordinator.send(.hold(ranges: [0..<spec.totalBlocks]))
        try coordinator.send(
            .blocks(try Self.blocks(count: spec.totalBlocks, rows: rowsPerBlock, columns: spec.model.featureCount)))
        return (coordinator, worker)
    }

    /// The reason of the worker's FAILURE message, if one arrives.
    static func reportedFailure(_ coordinator: FakeCoordinator) throws -> String? {
        while let frame = try coordinator.next() {
            if case .failure(let reason) = frame.message { return reason }
        }
        return nil
    }

    @Test(
        "a round the worker cannot compute is a compute failure, reported to the coordinator",
        arguments: [
            ([0.0, 0, 0], UInt64?(0), "round 1 asks for mini-batch step 0, but the job has no batch schedule"),
            ([0.0, 0], nil, "got 2 parameters, the model has 3"),
        ] as [([Double], UInt64?, String)])
    func computeFailures(parameters: [Double], batchStep: UInt64?, expected: String) throws {
        let (coordinator, worker) = try Self.readyWorker(Self.spec(blocks: 2, rowsPerBlock: 3), rowsPerBlock: 3)
        while let frame = try coordinator.next(), frame.message != .ready(blockCount: 2, rowCount: 6) {}
        try coordinator.send(.params(parameters, batchStep: batchStep, ranges: [0..<2]), round: 1)
        let reported = try #require(try Self.reportedFailure(coordinator))
        let result = try #require(worker.result(timeout: 10))
        guard case .failure(.computeFailed(let message)) = result else {
            Issue.record("expected computeFailed, got \(result)")
            return
        }
        #expect(reported == message)
        // "round 1: <the engine's error>", whose wording ends with the reason.
        #expect(message.hasPrefix("round 1: ") && message.hasSuffix(expected), "\(message)")
    }

    @Test("a worker whose blocks do not hold the rows of its job's plan refuses to go on")
    func rowCountOfTheSpecIsChecked() throws {
        let spec = Self.spec(blocks: 1, rowsPerBlock: 10)
        let (coordinator, worker) = try Self.readyWorker(spec, rowsPerBlock: 3)
        let expected = "block 0 has 3 rows, the job's plan gives it 10"
        #expect(try Self.reportedFailure(coordinator) == expected)
        guard case .failure(.protocolViolation(expected)) = try #require(worker.result(timeout: 10)) else {
            Issue.record("expected the worker to fail with \(expected)")
            return
        }
    }

    @Test("the default software identity names the kernels this CPU runs, the OpenBLAS build and its core kernel")
    func softwareIdentityNamesBLAS() {
        #expect(WorkerShell.software.contains("; kernels \(KernelImplementation.fastestCode); "))
        #expect(["avx512+avx2+fma", "avx2+fma", "portable"].contains(KernelImplementation.fastestCode))
        #expect(KernelImplementation.fastestCode.hasPrefix("avx512") == KernelImplementation.wideVectorsAvailable)
        #expect(WorkerShell.software.contains("; blas \(BLAS.identity))"))
        #expect(BLAS.identity.contains("OpenBLAS") && BLAS.identity.contains("core \(BLAS.coreName)"))
    }

    @Test("the coordinator refuses a worker whose software identity differs from the one it requires")
    func softwareIdentityIsPassedThrough() throws {
        let blocks = try Self.blocks(count: 3, rows: 5, columns: 4)
        let coordinator = try ClusterExecutor(
            bind: "tcp://127.0.0.1:*", expectedWorkers: 1, model: LogisticRegression(featureCount: 4, l2: 0.5),
            blocks: blocks, timing: ClusterTiming(heartbeatInterval: 0.05, workerTimeout: 5, joinTimeout: 20),
            requiredSoftware: "build A", logger: Self.logger)
        func worker(_ software: String) -> WorkerThread {
            WorkerThread(options: .init(endpoint: coordinator.endpoint, threads: 1, joinTimeout: 20, software: software))
        }
        let other = worker("build B")
        let same = worker("build A")
        try coordinator.waitForWorkers()
        // The refusal is sent while the coordinator runs its loop: keep it running until it is.
        var round = 0
        while other.result(timeout: 0.05) == nil, round < 100 {
            round += 1
            _ = try coordinator.evaluate([0, 0, 0, 0, 0], request: RoundRequest(round: round))
        }
        try coordinator.shutdown(reason: "test finished")
        #expect(try #require(same.result(timeout: 10)).get().doneReason == "test finished")
        guard case .failure(.refused(let reason)) = try #require(other.result(timeout: 1)) else {
            Issue.record("expected the worker with build B to be refused")
            return
        }
        #expect(reason == "incompatible worker: it runs build B, the coordinator build A")
    }
}
