import ShardData
import ShardCluster
import ShardEngine
import ShardModels
import ShardNumerics
import ShardWire
import Testing

/// The coordinator's protocol logic, driven without sockets and with a fake clock.
@Suite("Coordinator instance")
struct CoordinatorInstanceTests {
    typealias Directive = CoordinatorInstance.Directive
    static let job: UInt64 = 77
    static let spec = ModelSpec(featureCount: 2, l2: 0, .logistic())

    /// `blocks` blocks of 10 rows.
    static func plan(blocks: Int) -> BlockPlan {
        // 10·blocks ≥ 10 rows in blocks of 10: always a valid plan.
        try! BlockPlan(rowCount: 10 * blocks, blockRows: 10)
    }

    static func instance(workers: Int = 2, blocks: Int = 5) -> CoordinatorInstance {
        CoordinatorInstance(
            configuration: .init(
                expectedWorkers: workers, jobID: job, plan: plan(blocks: blocks),
                makeJobSpec: { _, shard in
                    JobSpec(
                        model: spec, precision: .float64, plan: plan(blocks: blocks), firstBlock: shard.lowerBound,
                        blockCount: shard.count, timing: ClusterTiming(heartbeatInterval: 0.25, workerTimeout: 3), seed: 1)
                },
                timing: ClusterTiming(heartbeatInterval: 0.25, workerTimeout: 3, joinTimeout: 60)),
            now: 0)
    }

    static func hello(pid: UInt32) -> Frame {
        Frame(jobID: 0, message: .hello(pid: pid, cores: 2, hostname: "test-host", software: "test"))
    }

    static func failures(_ directives: [Directive]) -> [String] {
        directives.compactMap { if case .fail(let message) = $0 { message } else { nil } }
    }

    /// Two workers joined and ready.
    static func readyInstance() -> CoordinatorInstance {
        var coordinator = instance()
        _ = coordinator.received(hello(pid: 100), from: [1], now: 0.1)
        _ = coordinator.received(hello(pid: 101), from: [2], now: 0.2)
        _ = coordinator.received(Frame(jobID: job, message: .ready(blockCount: 2, rowCount: 20)), from: [1], now: 0.3)
        _ = coordinator.received(Frame(jobID: job, message: .ready(blockCount: 3, rowCount: 30)), from: [2], now: 0.3)
        return coordinator
    }

    @Test("the last HELLO triggers WELCOME and block shipping with balanced contiguous shards")
    func joiningShipsShards() throws {
        var coordinator = Self.instance()
        let first = coordinator.received(Self.hello(pid: 100), from: [1], now: 0.1)
        #expect(!first.contains { if case .shipBlocks = $0 { true } else { false } })
        let second = coordinator.received(Self.hello(pid: 101), from: [2], now: 0.2)
        let shipped = second.compactMap { directive -> Range<Int>? in
            if case .shipBlocks(_, let blocks) = directive { blocks } else { nil }
        }
        #expect(shipped == [0..<2, 2..<5])
        let welcomes = second.compactMap { directive -> JobSpec? in
            if case .send(_, .welcome(_, 2, let bytes), _) = directive { try? JobSpec.decode(bytes) } else { nil }
        }
        #expect(welcomes.map(\.blockRange) == [0..<2, 2..<5])
        #expect(coordinator.phase == .shipping)
        // A third worker is refused, and the refusal says why.
        let third = coordinator.received(Self.hello(pid: 102), from: [3], now: 0.3)
        #expect(third.contains { if case .send([3], .refuse(let reason), _) = $0 { reason.contains("already") } else { false } })
    }

    @Test("a worker with other numerics (protocol or kernels) is refused with the reason, and not counted")
    func incompatibleSoftwareRefused() {
        var coordinator = CoordinatorInstance(
            configuration: .init(
                expectedWorkers: 1, jobID: Self.job, plan: Self.plan(blocks: 1),
                makeJobSpec: { _, shard in
                    JobSpec(
                        model: Self.spec, precision: .float64, plan: Self.plan(blocks: 1), firstBlock: shard.lowerBound,
                        blockCount: shard.count, timing: ClusterTiming(heartbeatInterval: 0.25, workerTimeout: 3), seed: 1)
                },
                timing: ClusterTiming(heartbeatInterval: 0.25, workerTimeout: 3, joinTimeout: 60), requiredSoftware: "build A"),
            now: 0)
        let refused = coordinator.received(
            Frame(jobID: 0, message: .hello(pid: 5, cores: 1, hostname: "h", software: "build B")), from: [1], now: 0.1)
        #expect(refused.contains { if case .send([1], .refuse(let reason), _) = $0 { reason.contains("build B") } else { false } })
        #expect(coordinator.workers.isEmpty)
        let accepted = coordinator.received(
            Frame(jobID: 0, message: .hello(pid: 6, cores: 1, hostname: "h", software: "build A")), from: [2], now: 0.2)
        #expect(accepted.contains { if case .shipBlocks([2], 0..<1) = $0 { true } else { false } })
    }

    @Test("READY with the wrong counts fails the job naming the worker")
    func readyCountsAreChecked() {
        var coordinator = Self.instance()
        _ = coordinator.received(Self.hello(pid: 100), from: [1], now: 0.1)
        _ = coordinator.received(Self.hello(pid: 101), from: [2], now: 0.2)
        let directives = coordinator.received(
            Frame(jobID: Self.job, message: .ready(blockCount: 2, rowCount: 19)), from: [1], now: 0.3)
        let failures = Self.failures(directives)
        #expect(failures.count == 1)
        #expect(failures.first?.contains("worker 0 (pid 100 on test-host)") == true)
    }

    @Test("a worker that cannot read its shared block region fails the job, naming the worker and the region")
    func sharedRegionFailureNamesTheWorker() {
        var coordinator = Self.instance()
        _ = coordinator.received(Self.hello(pid: 100), from: [1], now: 0.1)
        _ = coordinator.received(Self.hello(pid: 101), from: [2], now: 0.2)
        // What `WorkerShell` sends when the region it was offered has another size.
        let reason = "protocol violation: the shared block region /proc/9/fd/5 holds 40 bytes, the coordinator announced 48"
        let directives = coordinator.received(Frame(jobID: Self.job, message: .failure(reason: reason)), from: [2], now: 0.3)
        #expect(Self.failures(directives) == ["worker 1 (pid 101 on test-host) failed while receiving its blocks: \(reason)"])
    }

    @Test("a round collects every worker's subtree sums and reduces them in tree order")
    func roundReducesInTreeOrder() throws {
        var coordinator = Self.readyInstance()
        #expect(coordinator.phase == .ready)
        let sends = coordinator.startRound(RoundRequest(round: 1), parameters: [0.5, -1, 2], now: 1)
        #expect(sends.count == 2)
        // The tree over 5 blocks is root (3,0) = (2,0) + (2,1) with (2,0) = (1,0) + (1,1). Worker 0 holds
        // blocks 0..<2, the subtree (1,0) = a; worker 1 holds blocks 2..<5, the subtrees (1,1) = b (blocks 2, 3)
        // and (2,1) = c (block 4). The tree adds (a + b) + c; the values make the other orders give other bits:
        //   column 0: (1e16 + 1) + 1 = 1e16,  but a + (b + c) = 1e16 + 2 = 1.0000000000000002e16
        //   column 1: (0.1 + 0.2) + 3.3 = 3.5999999999999996,  but (a + c) + b = a + (b + c) = 3.6
        let workerZero = [NodeSums(node: TreeNode(level: 1, index: 0), rowCount: 20, values: [1e16, 0.1, 1])]
        let workerOne = [
            NodeSums(node: TreeNode(level: 1, index: 1), rowCount: 20, values: [1, 0.2, 2]),
            NodeSums(node: TreeNode(level: 2, index: 1), rowCount: 10, values: [1, 3.3, 3]),
        ]
        let none = coordinator.received(
            Frame(jobID: Self.job, round: 1, message: .partials(computeSeconds: 0.01, nodes: workerZero)), from: [1],
            now: 1.1)
        #expect(none.isEmpty)
        let done = coordinator.received(
            Frame(jobID: Self.job, round: 1, message: .partials(computeSeconds: 0.02, nodes: workerOne)), from: [2],
            now: 1.2)
        let treeOrderSums = [1e16, 3.5999999999999996, 6]
        #expect(
            done == [
                .roundComplete(
                    Evaluation(
                        sums: treeOrderSums, rowCount: 50,
                        workerTimings: [
                            WorkerTiming(worker: 0, computeSeconds: 0.01), WorkerTiming(worker: 1, computeSeconds: 0.02),
                        ]))
            ])
        #expect(coordinator.phase == .ready)

        // Partial sums of an old round are dropped and counted, never applied.
        _ = coordinator.startRound(RoundRequest(round: 2), parameters: [0, 0, 0], now: 2)
        let stale = coordinator.received(
            Frame(jobID: Self.job, round: 1, message: .partials(computeSeconds: 0.01, nodes: workerZero)), from: [1],
            now: 2.1)
        #expect(Self.failures(stale).isEmpty)
        #expect(coordinator.staleFrames == 1)
        // Sums for the wrong subtrees fail the job, naming worker and round.
        let blockZeroOnly = [NodeSums(node: TreeNode(level: 0, index: 0), rowCount: 10, values: [1, 2, 3])]
        let wrong = coordinator.received(
            Frame(jobID: Self.job, round: 2, message: .partials(computeSeconds: 0.01, nodes: blockZeroOnly)), from: [1],
            now: 2.2)
        #expect(Self.failures(wrong).first?.contains("worker 0 (pid 100 on test-host)") == true)
        #expect(Self.failures(wrong).first?.contains("round 2") == true)
    }

    @Test("a silent worker is declared dead after workerTimeout seconds, naming the worker and the round")
    func silentWorkerFails() {
        var coordinator = Self.readyInstance()
        _ = coordinator.startRound(RoundRequest(round: 7), parameters: [0, 0, 0], now: 1)
        // Worker 1 keeps talking, worker 0 does not.
        _ = coordinator.received(Frame(jobID: Self.job, message: .heartbeat), from: [2], now: 3.5)
        #expect(Self.failures(coordinator.tick(now: 3.2)).isEmpty)
        let failures = Self.failures(coordinator.tick(now: 3.4))
        #expect(failures.count == 1)
        #expect(failures.first?.contains("worker 0 (pid 100 on test-host) silent for 3.1 s during round 7") == true)
        #expect(coordinator.tick(now: 10).isEmpty, "a failed job emits nothing more")
    }

    @Test("heartbeats go to workers that have not heard from us for a heartbeat interval")
    func heartbeatsAreSent() {
        var coordinator = Self.readyInstance()
        let directives = coordinator.tick(now: 0.6)
        #expect(directives.filter { if case .send(_, .heartbeat, _) = $0 { true } else { false } }.count == 2)
        #expect(coordinator.tick(now: 0.7).isEmpty)
    }

    @Test("malformed frames: a stranger is refused, a worker fails the job")
    func malformedFrames() {
        var coordinator = Self.readyInstance()
        let stranger = coordinator.receivedMalformed(from: [9], error: "unsupported protocol version 7 (expected 1)", now: 1)
        #expect(stranger.contains { if case .send([9], .refuse(let reason), _) = $0 { reason.contains("version 7") } else { false } })
        #expect(Self.failures(stranger).isEmpty)
        let worker = coordinator.receivedMalformed(from: [2], error: "truncated", now: 1)
        #expect(Self.failures(worker).first?.contains("worker 1 (pid 101 on test-host) sent a malformed frame") == true)
    }

    @Test("workers that never all join make the job fail after the join timeout")
    func joinTimeout() {
        var coordinator = Self.instance()
        _ = coordinator.received(Self.hello(pid: 100), from: [1], now: 0.1)
        // The joined worker keeps sending heartbeats while it waits.
        for now in stride(from: 1.0, through: 60, by: 1) {
            _ = coordinator.received(Frame(jobID: 0, message: .heartbeat), from: [1], now: now)
            #expect(Self.failures(coordinator.tick(now: now)).isEmpty)
        }
        let failures = Self.failures(coordinator.tick(now: 60.5))
        #expect(failures.first?.contains("only 1 of 2 workers joined") == true)
    }

    @Test("frames of another job are dropped")
    func otherJobDropped() {
        var coordinator = Self.readyInstance()
        _ = coordinator.startRound(RoundRequest(round: 1), parameters: [0, 0, 0], now: 1)
        let directives = coordinator.received(
            Frame(jobID: 5, round: 1, message: .partials(computeSeconds: 0, nodes: [])), from: [1], now: 1.1)
        #expect(Self.failures(directives).isEmpty)
        #expect(coordinator.staleFrames == 1)
    }

    @Test("shards are contiguous, balanced and cover every block", arguments: [(1, 1), (5, 2), (7, 3), (2, 3), (100, 7)])
    func shards(blocks: Int, workers: Int) {
        let shards = CoordinatorInstance.shards(blockCount: blocks, workers: workers)
        #expect(shards.count == workers)
        #expect(shards.first?.lowerBound == 0 && shards.last?.upperBound == blocks)
        for (a, b) in zip(shards, shards.dropFirst()) { #expect(a.upperBound == b.lowerBound) }
        let sizes = shards.map(\.count)
        #expect(sizes.max()! - sizes.min()! <= 1)
    }

    /// PARTIALS of `round` from the worker holding `range` (of the 5 blocks of `readyInstance`).
    static func partials(round: UInt64, _ range: Range<Int>, rowsPerBlock: Int = 10) -> Frame {
        let tree = ReductionTree(blockCount: 5)
        let nodes = tree.coveringNodes(of: range).map {
            NodeSums(node: $0, rowCount: tree.blocks(of: $0).count * rowsPerBlock, values: [1, 2, 3])
        }
        return Frame(jobID: job, round: round, message: .partials(computeSeconds: 0.01, nodes: nodes))
    }

    @Test("PARTIALS twice in a round fail the job")
    func partialsTwiceInARound() {
        var coordinator = Self.readyInstance()
        _ = coordinator.startRound(RoundRequest(round: 1), parameters: [0, 0, 0], now: 1)
        #expect(Self.failures(coordinator.received(Self.partials(round: 1, 0..<2), from: [1], now: 1.1)).isEmpty)
        let twice = Self.failures(coordinator.received(Self.partials(round: 1, 0..<2), from: [1], now: 1.2))
        #expect(twice == ["worker 0 (pid 100 on test-host) sent partial sums twice in round 1"])
    }

    @Test("a second PARTIALS for a round already reduced fails the job")
    func partialsTwiceAfterTheRound() {
        var coordinator = Self.readyInstance()
        _ = coordinator.startRound(RoundRequest(round: 1), parameters: [0, 0, 0], now: 1)
        _ = coordinator.received(Self.partials(round: 1, 0..<2), from: [1], now: 1.1)
        let complete = coordinator.received(Self.partials(round: 1, 2..<5), from: [2], now: 1.2)
        #expect(complete.contains { if case .roundComplete = $0 { true } else { false } })
        let twice = Self.failures(coordinator.received(Self.partials(round: 1, 2..<5), from: [2], now: 1.3))
        #expect(twice == ["worker 1 (pid 101 on test-host) sent partial sums twice in round 1"])
    }

    @Test("PARTIALS for a round after the one in flight fail the job, whatever the round", arguments: [3, UInt64.max])
    func partialsForAFutureRound(round: UInt64) {
        var coordinator = Self.readyInstance()
        _ = coordinator.startRound(RoundRequest(round: 2), parameters: [0, 0, 0], now: 1)
        let failures = Self.failures(coordinator.received(Self.partials(round: round, 0..<2), from: [1], now: 1.1))
        #expect(failures == ["worker 0 (pid 100 on test-host) sent partial sums for round \(round) while round 2 is in flight"])
    }

    @Test("PARTIALS before any round fail the job, whatever the round", arguments: [0, 1, UInt64.max])
    func partialsBeforeAnyRound(round: UInt64) {
        var coordinator = Self.readyInstance()
        let failures = Self.failures(coordinator.received(Self.partials(round: round, 0..<2), from: [1], now: 1.1))
        #expect(failures == ["worker 0 (pid 100 on test-host) sent partial sums for round \(round) while no round is in flight"])
    }

    @Test("PARTIALS of an old round between rounds are dropped and counted, like during a round")
    func oldPartialsBetweenRoundsAreStale() {
        var coordinator = Self.readyInstance()
        for round in 1...2 {
            _ = coordinator.startRound(RoundRequest(round: round), parameters: [0, 0, 0], now: Double(round))
            _ = coordinator.received(Self.partials(round: UInt64(round), 0..<2), from: [1], now: Double(round) + 0.1)
            _ = coordinator.received(Self.partials(round: UInt64(round), 2..<5), from: [2], now: Double(round) + 0.2)
        }
        #expect(coordinator.phase == .ready)
        let stale = coordinator.received(Self.partials(round: 1, 0..<2), from: [1], now: 3)
        #expect(Self.failures(stale).isEmpty)
        #expect(coordinator.staleFrames == 1)
        #expect(coordinator.phase == .ready)
        let later = coordinator.received(Self.partials(round: 3, 0..<2), from: [1], now: 3.1)
        #expect(Self.failures(later).first?.contains("round 3 while no round is in flight") == true)
    }

    @Test("a round number that does not increase fails the job")
    func roundsMustIncrease() {
        var coordinator = Self.readyInstance()
        _ = coordinator.startRound(RoundRequest(round: 4), parameters: [0, 0, 0], now: 1)
        _ = coordinator.received(Self.partials(round: 4, 0..<2), from: [1], now: 1.1)
        _ = coordinator.received(Self.partials(round: 4, 2..<5), from: [2], now: 1.2)
        let failures = Self.failures(coordinator.startRound(RoundRequest(round: 4), parameters: [0, 0, 0], now: 2))
        #expect(failures == ["round 4 requested after round 4: round numbers must increase"])
    }

    @Test("row counts beyond Int fail the job naming the worker instead of trapping")
    func hugeRowCounts() {
        var coordinator = Self.instance()
        _ = coordinator.received(Self.hello(pid: 100), from: [1], now: 0.1)
        _ = coordinator.received(Self.hello(pid: 101), from: [2], now: 0.2)
        let ready = Self.failures(
            coordinator.received(Frame(jobID: Self.job, message: .ready(blockCount: 2, rowCount: .max)), from: [1], now: 0.3))
        #expect(ready == ["worker 0 (pid 100 on test-host) holds 2 blocks / \(UInt64.max) rows, expected 2 / 20"])

        var running = Self.readyInstance()
        _ = running.startRound(RoundRequest(round: 1), parameters: [0, 0, 0], now: 1)
        let partial = Self.failures(
            running.received(Self.partials(round: 1, 0..<2, rowsPerBlock: Int.max / 4), from: [1], now: 1.1))
        #expect(partial.first?.hasPrefix("worker 0 (pid 100 on test-host) reports \(Int.max / 4 * 2) rows") == true)
    }

    @Test("READY out of turn fails the job: twice while shipping, or between rounds")
    func readyOutOfTurn() {
        var coordinator = Self.instance()
        _ = coordinator.received(Self.hello(pid: 100), from: [1], now: 0.1)
        _ = coordinator.received(Self.hello(pid: 101), from: [2], now: 0.2)
        let ready = Frame(jobID: Self.job, message: .ready(blockCount: 2, rowCount: 20))
        #expect(Self.failures(coordinator.received(ready, from: [1], now: 0.3)).isEmpty)
        #expect(
            Self.failures(coordinator.received(ready, from: [1], now: 0.4))
                == ["worker 0 (pid 100 on test-host) sent READY out of turn"])

        var between = Self.readyInstance()
        #expect(
            Self.failures(between.received(ready, from: [1], now: 0.4))
                == ["worker 0 (pid 100 on test-host) sent READY out of turn"])
    }

    @Test("HELLO twice from a worker fails the job")
    func helloTwice() {
        var coordinator = Self.instance()
        _ = coordinator.received(Self.hello(pid: 100), from: [1], now: 0.1)
        let failures = Self.failures(coordinator.received(Self.hello(pid: 100), from: [1], now: 0.2))
        #expect(failures == ["worker 0 (pid 100 on test-host) sent HELLO twice"])
        #expect(coordinator.workers.count == 1)
    }
}
