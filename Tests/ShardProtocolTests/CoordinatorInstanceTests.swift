import ShardData
import ShardEngine
import ShardModels
import ShardNumerics
import ShardProtocol
import ShardWire
import Testing

/// The coordinator's protocol logic, driven without sockets and with a fake clock.
@Suite("Coordinator instance")
struct CoordinatorInstanceTests {
    typealias Directive = CoordinatorInstance.Directive
    static let job: UInt64 = 77
    static let timing = ClusterTiming(heartbeatInterval: 0.25, workerTimeout: 3, joinTimeout: 60)

    /// `blocks` blocks of 10 rows.
    static func plan(blocks: Int) -> BlockPlan {
        // 10·blocks ≥ 10 rows in blocks of 10: always a valid plan.
        try! BlockPlan(rowCount: 10 * blocks, blockRows: 10)
    }

    static func instance(
        workers: Int = 2, blocks: Int = 5, resilience: CoordinatorInstance.Resilience = .init(), software: String? = nil
    ) -> CoordinatorInstance {
        let spec = JobSpec(
            model: ModelSpec(featureCount: 2, l2: 0, .logistic()), precision: .float64, plan: plan(blocks: blocks),
            timing: timing, seed: 1)
        return CoordinatorInstance(
            configuration: .init(
                expectedWorkers: workers, jobID: job, jobSpec: spec, resilience: resilience, requiredSoftware: software),
            now: 0)
    }

    static func hello(pid: UInt32, software: String = "test") -> Frame {
        Frame(jobID: 0, message: .hello(pid: pid, cores: 2, hostname: "test-host", software: software))
    }

    static func failures(_ directives: [Directive]) -> [String] {
        directives.compactMap { if case .fail(let message) = $0 { message } else { nil } }
    }

    static func losses(_ directives: [Directive]) -> [String] {
        directives.compactMap { directive in
            if case .event(.workerLost(let index, let reason, _, _)) = directive { "worker \(index): \(reason)" } else { nil }
        }
    }

    static func shipped(_ directives: [Directive]) -> [([UInt8], Range<Int>)] {
        directives.compactMap { if case .shipBlocks(let peer, let blocks) = $0 { (peer, blocks) } else { nil } }
    }

    static func holds(_ directives: [Directive]) -> [([UInt8], [Range<Int>])] {
        directives.compactMap { if case .send(let peer, .hold(let ranges), _) = $0 { (peer, ranges) } else { nil } }
    }

    /// PARAMS sent, as (peer, round, ranges).
    static func params(_ directives: [Directive]) -> [([UInt8], UInt64, [Range<Int>])] {
        directives.compactMap { directive in
            if case .send(let peer, .params(_, _, _, let ranges), let round) = directive { (peer, round, ranges) } else { nil }
        }
    }

    static func ready(_ blocks: UInt32, _ rows: UInt64) -> Frame {
        Frame(jobID: job, message: .ready(blockCount: blocks, rowCount: rows))
    }

    /// Workers joined and ready: peer [k + 1] is worker k (pid 100 + k), holding its balanced shard of 5 blocks.
    static func readyInstance(
        workers: Int = 2, resilience: CoordinatorInstance.Resilience = .init()
    ) -> CoordinatorInstance {
        var coordinator = instance(workers: workers, resilience: resilience)
        var holds: [([UInt8], [Range<Int>])] = []
        for k in 0..<workers {
            holds += Self.holds(coordinator.received(hello(pid: UInt32(100 + k)), from: [UInt8(k + 1)], now: 0.1))
        }
        for (peer, ranges) in holds {
            let blocks = ranges.reduce(0) { $0 + $1.count }
            _ = coordinator.received(ready(UInt32(blocks), UInt64(10 * blocks)), from: peer, now: 0.3)
        }
        return coordinator
    }

    /// PARTIALS of `round` for `range` (of the 5 blocks of `readyInstance`), every value `value`.
    static func partials(round: UInt64, _ range: Range<Int>, rowsPerBlock: Int = 10, value: Double = 1) -> Frame {
        let tree = ReductionTree(blockCount: 5)
        let nodes = tree.coveringNodes(of: range).map {
            NodeSums(node: $0, rowCount: tree.blocks(of: $0).count * rowsPerBlock, values: [value, 2, 3])
        }
        return Frame(jobID: job, round: round, message: .partials(computeSeconds: 0.01, nodes: nodes))
    }

    static func isComplete(_ directives: [Directive]) -> Bool {
        directives.contains { if case .roundComplete = $0 { true } else { false } }
    }

    // MARK: Joining

    @Test("each HELLO is welcomed at once; the last one assigns balanced contiguous shards and ships them")
    func joiningShipsShards() throws {
        var coordinator = Self.instance()
        let first = coordinator.received(Self.hello(pid: 100), from: [1], now: 0.1)
        #expect(first.contains { if case .send([1], .welcome(0, 2, _), _) = $0 { true } else { false } })
        #expect(Self.shipped(first).isEmpty)
        let second = coordinator.received(Self.hello(pid: 101), from: [2], now: 0.2)
        #expect(Self.holds(second).map(\.1) == [[0..<2], [2..<5]])
        #expect(Self.shipped(second).map(\.1) == [0..<2, 2..<5])
        #expect(coordinator.phase == .shipping)
        // A third worker is refused while the job has its workers, and the refusal says why.
        let third = coordinator.received(Self.hello(pid: 102), from: [3], now: 0.3)
        #expect(third.contains { if case .send([3], .refuse(let reason), _) = $0 { reason.contains("already") } else { false } })
        _ = coordinator.received(Self.ready(2, 20), from: [1], now: 0.4)
        #expect(coordinator.phase == .shipping)
        let all = coordinator.received(Self.ready(3, 30), from: [2], now: 0.5)
        #expect(all.contains(.allReady))
        #expect(coordinator.phase == .ready)
    }

    @Test("a worker with other numerics (protocol or kernels) is refused with the reason, and not counted")
    func incompatibleSoftwareRefused() {
        var coordinator = Self.instance(workers: 1, blocks: 1, software: "build A")
        let refused = coordinator.received(Self.hello(pid: 5, software: "build B"), from: [1], now: 0.1)
        #expect(refused.contains { if case .send([1], .refuse(let reason), _) = $0 { reason.contains("build B") } else { false } })
        #expect(coordinator.workers.isEmpty)
        let accepted = coordinator.received(Self.hello(pid: 6, software: "build A"), from: [2], now: 0.2)
        #expect(Self.shipped(accepted).map(\.1) == [0..<1])
    }

    @Test("workers that never all join make the job fail after the join timeout")
    func joinTimeout() {
        var coordinator = Self.instance()
        _ = coordinator.received(Self.hello(pid: 100), from: [1], now: 0.1)
        for now in stride(from: 1.0, through: 60, by: 1) {
            _ = coordinator.received(Frame(jobID: Self.job, message: .heartbeat), from: [1], now: now)
            #expect(Self.failures(coordinator.tick(now: now)).isEmpty)
        }
        #expect(Self.failures(coordinator.tick(now: 60.5)).first?.contains("only 1 of 2 workers joined") == true)
    }

    @Test("a local worker process that ends before joining fails the job at once, naming it, when too few would be left")
    func processExitBeforeJoining() {
        var coordinator = Self.instance(resilience: .init(minWorkers: 2))
        _ = coordinator.received(Self.hello(pid: 100), from: [1], now: 0.1)
        let directives = coordinator.processExited(pid: 555, description: "its process exited with status 1", now: 0.2)
        #expect(
            Self.failures(directives) == [
                "a worker process (pid 555) ended before joining: its process exited with status 1 (fewer than "
                    + "--min-workers 2 would be left)"
            ])
        var single = Self.instance(workers: 1)
        #expect(
            Self.failures(single.processExited(pid: 7, description: "its process was killed by signal 9", now: 0.1)) == [
                "a worker process (pid 7) ended before joining: its process was killed by signal 9"
            ])
    }

    @Test("a local worker process that ends before joining is done without when the others are enough (--min-workers)")
    func processExitBeforeJoiningLeavesEnough() {
        // 3 expected, at least 1: one joins, one ends, the third joins, and the job starts with 2.
        var coordinator = Self.instance(workers: 3, blocks: 6)
        #expect(Self.shipped(coordinator.received(Self.hello(pid: 100), from: [1], now: 0.1)).isEmpty)
        let ended = coordinator.processExited(pid: 555, description: "its process was killed by signal 9", now: 0.2)
        #expect(Self.failures(ended).isEmpty)
        #expect(ended.contains { if case .log(.warning, let text) = $0 { text.hasSuffix("the job goes on with 2 workers") } else { false } })
        #expect(coordinator.phase == .joining)
        let started = coordinator.received(Self.hello(pid: 101), from: [2], now: 0.3)
        #expect(Self.shipped(started).map(\.1) == [0..<3, 3..<6])
        #expect(coordinator.counters.workersLost == 1)
        // The last one ending while the others have all joined starts the job at once.
        var waiting = Self.instance(workers: 2, blocks: 4)
        _ = waiting.received(Self.hello(pid: 100), from: [1], now: 0.1)
        let alone = waiting.processExited(pid: 9, description: "its process exited with status 1", now: 0.2)
        #expect(Self.shipped(alone).map(\.1) == [0..<4])
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

    // MARK: Rounds

    @Test("a round collects every worker's subtree sums and reduces them in tree order")
    func roundReducesInTreeOrder() throws {
        var coordinator = Self.readyInstance()
        #expect(coordinator.phase == .ready)
        let sends = coordinator.startRound(RoundRequest(round: 1), parameters: [0.5, -1, 2], now: 1)
        #expect(Self.params(sends).map(\.2) == [[0..<2], [2..<5]])
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
            Frame(jobID: Self.job, round: 1, message: .partials(computeSeconds: 0.01, nodes: workerZero)), from: [1], now: 1.1)
        #expect(none.isEmpty)
        let done = coordinator.received(
            Frame(jobID: Self.job, round: 1, message: .partials(computeSeconds: 0.02, nodes: workerOne)), from: [2], now: 1.2)
        #expect(
            done == [
                .roundComplete(
                    Evaluation(
                        sums: [1e16, 3.5999999999999996, 6], rowCount: 50,
                        workerTimings: [
                            WorkerTiming(worker: 0, computeSeconds: 0.01), WorkerTiming(worker: 1, computeSeconds: 0.02),
                        ]))
            ])
        #expect(coordinator.phase == .ready)
    }

    @Test("answers of old rounds and of other jobs are dropped and counted, never applied")
    func staleAnswersAreDropped() {
        var coordinator = Self.readyInstance()
        for round in 1...2 {
            _ = coordinator.startRound(RoundRequest(round: round), parameters: [0, 0, 0], now: Double(round))
            _ = coordinator.received(Self.partials(round: UInt64(round), 0..<2), from: [1], now: Double(round) + 0.1)
            if round == 1 { _ = coordinator.received(Self.partials(round: 1, 2..<5), from: [2], now: 1.2) }
        }
        let stale = coordinator.received(Self.partials(round: 1, 2..<5), from: [2], now: 2.2)
        #expect(stale.allSatisfy { if case .log(.warning, _) = $0 { true } else { false } })
        let otherJob = coordinator.received(
            Frame(jobID: 5, round: 2, message: .partials(computeSeconds: 0, nodes: [])), from: [2], now: 2.3)
        #expect(Self.losses(otherJob).isEmpty)
        #expect(coordinator.counters.staleFrames == 2)
        #expect(Self.isComplete(coordinator.received(Self.partials(round: 2, 2..<5), from: [2], now: 2.4)))
        // An answer to a round already reduced (a late duplicate) is dropped too.
        let late = coordinator.received(Self.partials(round: 2, 2..<5), from: [2], now: 2.5)
        #expect(Self.losses(late).isEmpty && Self.failures(late).isEmpty)
        #expect(coordinator.counters.duplicateAnswers == 1)
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

    @Test("heartbeats go to workers that have not heard from us for a heartbeat interval")
    func heartbeatsAreSent() {
        var coordinator = Self.readyInstance()
        let directives = coordinator.tick(now: 0.6)
        #expect(directives.filter { if case .send(_, .heartbeat, _) = $0 { true } else { false } }.count == 2)
        #expect(coordinator.tick(now: 0.7).isEmpty)
    }

    // MARK: Misbehaving workers are dropped, the job goes on

    @Test(
        "a worker that breaks the protocol is dropped (told why) and its blocks go to the other worker",
        arguments: [
            ("wrong subtrees", Self.partials(round: 1, 0..<1), "sent sums for [node(level 0, index 0)] in round 1, expected [node(level 1, index 0)]"),
            ("a future round", Self.partials(round: 3, 0..<2), "sent partial sums for round 3, which was never started"),
            ("a round beyond Int", Self.partials(round: .max, 0..<2), "sent partial sums for round \(UInt64.max), which was never started"),
            ("huge row counts", Self.partials(round: 1, 0..<2, rowsPerBlock: Int.max / 4), "reports \(Int.max / 4 * 2) rows for node(level 1, index 0) in round 1"),
            ("blocks of another worker", Self.partials(round: 1, 2..<5), "sent sums for blocks 2..<5 in round 1, which it was not asked for"),
            ("HELLO twice", Self.hello(pid: 100), "sent HELLO twice"),
            ("READY without HOLD", Self.ready(2, 20), "sent READY without a HOLD to answer"),
        ])
    func protocolViolationsDropTheWorker(_ name: String, frame: Frame, reason: String) {
        var coordinator = Self.readyInstance()
        _ = coordinator.startRound(RoundRequest(round: 1), parameters: [0, 0, 0], now: 1)
        let directives = coordinator.received(frame, from: [1], now: 1.1)
        #expect(Self.losses(directives) == ["worker 0: \(reason)"], "\(name)")
        #expect(Self.failures(directives).isEmpty)
        #expect(directives.contains { if case .send([1], .done(_, jobFailed: true), _) = $0 { true } else { false } })
        // Worker 1 now holds every block and is asked for the lost worker's part of round 1.
        #expect(Self.holds(directives).map(\.1) == [[0..<5]])
        #expect(Self.shipped(directives).map(\.1) == [0..<2])
        #expect(Self.params(directives).map(\.2) == [[0..<2]])
        _ = coordinator.received(Self.ready(5, 50), from: [2], now: 1.2)
        _ = coordinator.received(Self.partials(round: 1, 2..<5), from: [2], now: 1.3)
        #expect(Self.isComplete(coordinator.received(Self.partials(round: 1, 0..<2), from: [2], now: 1.4)))
        // Its later frames are dropped; it is told to leave once.
        let later = coordinator.received(Frame(jobID: Self.job, message: .heartbeat), from: [1], now: 1.5)
        #expect(later.isEmpty)
    }

    @Test("malformed frames: a stranger is refused, a worker is dropped")
    func malformedFrames() {
        var coordinator = Self.readyInstance()
        let stranger = coordinator.receivedMalformed(from: [9], error: "unsupported protocol version 7 (expected 1)", now: 1)
        #expect(stranger.contains { if case .send([9], .refuse(let reason), _) = $0 { reason.contains("version 7") } else { false } })
        let worker = coordinator.receivedMalformed(from: [2], error: "truncated", now: 1)
        #expect(Self.losses(worker) == ["worker 1: sent a malformed frame between rounds: truncated"])
    }

    @Test("READY with the wrong counts drops the worker; below --min-workers the job fails naming it")
    func readyCountsAreChecked() {
        var coordinator = Self.instance(resilience: .init(minWorkers: 2))
        _ = coordinator.received(Self.hello(pid: 100), from: [1], now: 0.1)
        _ = coordinator.received(Self.hello(pid: 101), from: [2], now: 0.2)
        let directives = coordinator.received(Self.ready(2, 19), from: [1], now: 0.3)
        #expect(Self.losses(directives) == ["worker 0: holds 2 blocks / 19 rows, expected 2 / 20"])
        #expect(
            Self.failures(directives) == [
                "worker 0 (pid 100 on test-host) lost (holds 2 blocks / 19 rows, expected 2 / 20); 1 live worker left, "
                    + "fewer than --min-workers 2"
            ])
    }

    // MARK: Losses inside a round

    @Test("a silent worker is lost after workerTimeout; its blocks are shipped to a live worker and its task re-asked")
    func silentWorkerIsReplacedWithinTheRound() {
        var coordinator = Self.readyInstance(workers: 3)
        _ = coordinator.startRound(RoundRequest(round: 7), parameters: [0, 0, 0], now: 1)
        // Workers 0 and 2 answer; worker 1 (blocks 1..<3) goes silent.
        _ = coordinator.received(Self.partials(round: 7, 0..<1), from: [1], now: 1.1)
        _ = coordinator.received(Self.partials(round: 7, 3..<5), from: [3], now: 1.1)
        for now in stride(from: 1.2, through: 3.2, by: 0.2) {
            _ = coordinator.received(Frame(jobID: Self.job, message: .heartbeat), from: [1], now: now)
            _ = coordinator.received(Frame(jobID: Self.job, message: .heartbeat), from: [3], now: now)
        }
        let directives = coordinator.tick(now: 3.4)
        #expect(Self.losses(directives) == ["worker 1: silent for 3.1 s during round 7"])
        // The worker with fewer rows (worker 0: 1 block) takes blocks 1..<3.
        #expect(Self.holds(directives).map(\.0) == [[1]])
        #expect(Self.holds(directives).map(\.1) == [[0..<3]])
        #expect(Self.shipped(directives).map(\.1) == [1..<3])
        #expect(Self.params(directives).map { $0.0 + [UInt8($0.1)] } == [[1, 7]])
        #expect(Self.params(directives).map(\.2) == [[1..<3]])
        #expect(
            directives.contains(
                .event(.blocksReassigned(from: 1, to: 0, blocks: BlockRanges([1..<3]), shipped: true, round: 7))))
        _ = coordinator.received(Self.ready(3, 30), from: [1], now: 3.5)
        #expect(Self.isComplete(coordinator.received(Self.partials(round: 7, 1..<3), from: [1], now: 3.6)))
        // The next round asks worker 0 for its merged range.
        let next = coordinator.startRound(RoundRequest(round: 8), parameters: [0, 0, 0], now: 4)
        #expect(Self.params(next).map(\.2) == [[0..<3], [3..<5]])
        #expect(coordinator.counters.workersLost == 1 && coordinator.counters.reassignments == 1)
    }

    @Test("with two replicas a loss needs no shipping: the next worker already holds the blocks")
    func replicasAvoidShipping() {
        var coordinator = Self.readyInstance(workers: 2, resilience: .init(replicas: 2))
        #expect(coordinator.workers.map(\.held) == [BlockRanges([0..<5]), BlockRanges([0..<5])])
        _ = coordinator.startRound(RoundRequest(round: 1), parameters: [0, 0, 0], now: 1)
        let directives = coordinator.processExited(pid: 101, description: "its process was killed by signal 9", now: 1.1)
        #expect(Self.losses(directives) == ["worker 1: its process was killed by signal 9"])
        #expect(Self.shipped(directives).isEmpty)
        #expect(Self.holds(directives).isEmpty)
        #expect(Self.params(directives).map(\.2) == [[2..<5]])
        _ = coordinator.received(Self.partials(round: 1, 0..<2), from: [1], now: 1.2)
        #expect(Self.isComplete(coordinator.received(Self.partials(round: 1, 2..<5), from: [1], now: 1.3)))
    }

    @Test("a straggler gets a backup after factor × median; the first answer wins and the late one is dropped")
    func stragglerBackup() {
        var coordinator = Self.readyInstance(workers: 3)
        _ = coordinator.startRound(RoundRequest(round: 1), parameters: [0, 0, 0], now: 1)
        _ = coordinator.received(Self.partials(round: 1, 0..<1), from: [1], now: 1.1)
        _ = coordinator.received(Self.partials(round: 1, 3..<5), from: [3], now: 1.2)
        // Median answer 0.2 s: 3 × 0.2 = 0.6 s, above the 0.5 s floor.
        #expect(Self.params(coordinator.tick(now: 1.55)).isEmpty)
        let backup = coordinator.tick(now: 1.65)
        #expect(backup.contains { if case .event(.backupStarted(1, 0, 1..<3, 1, _)) = $0 { true } else { false } })
        #expect(Self.params(backup).map(\.2) == [[1..<3]])
        #expect(Self.shipped(backup).map(\.1) == [1..<3])
        _ = coordinator.received(Self.ready(3, 30), from: [1], now: 1.7)
        #expect(Self.isComplete(coordinator.received(Self.partials(round: 1, 1..<3), from: [1], now: 1.8)))
        // The straggler's own (identical) answer arrives later: dropped, nothing lost.
        let late = coordinator.received(Self.partials(round: 1, 1..<3), from: [2], now: 1.9)
        #expect(Self.losses(late).isEmpty)
        #expect(coordinator.counters.backups == 1 && coordinator.counters.duplicateAnswers == 1)
        #expect(coordinator.counters.disagreements == 0)
    }

    @Test("a worker that heartbeats but never answers is lost at the round deadline")
    func roundDeadline() {
        var coordinator = Self.readyInstance(workers: 2, resilience: .init(stragglerFactor: .infinity))
        // Round 1 completes in 0.2 s: the deadline becomes max(3 s, 10 × 0.2 s) = 3 s.
        _ = coordinator.startRound(RoundRequest(round: 1), parameters: [0, 0, 0], now: 1)
        _ = coordinator.received(Self.partials(round: 1, 0..<2), from: [1], now: 1.1)
        _ = coordinator.received(Self.partials(round: 1, 2..<5), from: [2], now: 1.2)
        _ = coordinator.startRound(RoundRequest(round: 2), parameters: [0, 0, 0], now: 2)
        _ = coordinator.received(Self.partials(round: 2, 0..<2), from: [1], now: 2.1)
        var lost: [String] = []
        for now in stride(from: 2.25, through: 6, by: 0.25) {
            _ = coordinator.received(Frame(jobID: Self.job, message: .heartbeat), from: [1], now: now)
            _ = coordinator.received(Frame(jobID: Self.job, message: .heartbeat), from: [2], now: now)
            lost += Self.losses(coordinator.tick(now: now))
        }
        #expect(lost == ["worker 1: did not answer round 2 within 3.0 s (its heartbeats alone do not count)"])
    }

    @Test("a worker joining mid-run gets blocks at the next round boundary (rebalanced over every live worker)")
    func elasticJoin() {
        var coordinator = Self.readyInstance(workers: 2, resilience: .init(maxWorkers: 3))
        let joined = coordinator.received(Self.hello(pid: 102), from: [3], now: 1)
        #expect(joined.contains { if case .send([3], .welcome(2, 3, _), _) = $0 { true } else { false } })
        #expect(joined.contains { if case .event(.workerJoined(index: 2, name: _)) = $0 { true } else { false } })
        #expect(Self.holds(joined).isEmpty)
        let round = coordinator.startRound(RoundRequest(round: 1), parameters: [0, 0, 0], now: 2)
        // Shards of 5 blocks over 3 workers: 0..<1, 1..<3, 3..<5.
        #expect(Self.holds(round).map(\.1) == [[0..<1], [1..<3], [3..<5]])
        #expect(Self.shipped(round).map(\.1) == [1..<2, 3..<5])
        #expect(Self.params(round).map(\.2) == [[0..<1], [1..<3], [3..<5]])
        #expect(coordinator.counters.workersJoined == 1)
    }

    @Test("peer strings are escaped before they reach a log line; a stranger's garbage is answered once, then only counted")
    func hostileStrings() {
        var coordinator = Self.instance(workers: 1, blocks: 1)
        let forged = "evil\n2026-12-06 info all 1 workers ready\u{1B}[2J"
        let joined = coordinator.received(
            Frame(jobID: 0, message: .hello(pid: 9, cores: 1, hostname: forged, software: "s\r\n")), from: [1], now: 0.1)
        let logs = joined.compactMap { if case .log(_, let text) = $0 { text } else { nil } }
        #expect(logs.allSatisfy { !$0.contains("\n") && !$0.contains("\u{1B}") && !$0.contains("\r") }, "\(logs)")
        #expect(coordinator.workers.first?.hostname == "evil\\u{a}2026-12-06 info all 1 workers ready\\u{1b}[2J")
        var replies = 0
        for attempt in 0..<100 {
            let answer = coordinator.receivedMalformed(from: [7], error: "truncated", now: 0.2 + Double(attempt) / 1000)
            replies += answer.filter { if case .send(_, .refuse, _) = $0 { true } else { false } }.count
        }
        #expect(replies == 1)
        #expect(coordinator.counters.refusedFrames == 100)
    }
}
