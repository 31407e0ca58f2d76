import ShardData
import ShardEngine
import ShardModels
import ShardNumerics
import ShardProtocol
import ShardWire
import Testing
import _TestSupport

/// The worker's protocol logic, driven without sockets and with a fake clock.
@Suite("Worker instance")
struct WorkerInstanceTests {
    typealias Directive = WorkerInstance.Directive
    static let job: UInt64 = 5
    static let plan = try! BlockPlan(rowCount: 40, blockRows: 10)
    static let spec = JobSpec(
        model: ModelSpec(featureCount: 2, l2: 0, .logistic()), precision: .float64, plan: plan,
        timing: ClusterTiming(heartbeatInterval: 0.25, workerTimeout: 3, joinTimeout: 60), seed: 1)

    static func blocks() throws -> [Block] {
        var random = SplitMix64(seed: 3)
        return try random.blocks(rows: 40, columns: 2, blockRows: 10, features: -1...1)
    }

    static func frame(_ message: Message, round: UInt64 = 0) -> Frame { Frame(jobID: job, round: round, message: message) }

    static func sent(_ directives: [Directive]) -> [Message] {
        directives.compactMap { if case .send(let message, _) = $0 { message } else { nil } }
    }

    static func exit(_ directives: [Directive]) -> WorkerInstance.Exit? {
        directives.lazy.compactMap { if case .finish(let exit) = $0 { exit } else { nil } }.first
    }

    static func welcomed() throws -> WorkerInstance {
        var worker = WorkerInstance(
            configuration: .init(pid: 7, cores: 2, hostname: "h", software: "s", joinTimeout: 10, endpoint: "tcp://c"), now: 0)
        _ = worker.start(now: 0)
        let welcome = worker.received(frame(.welcome(workerIndex: 1, workerCount: 2, jobSpec: try spec.encoded())), now: 0.1)
        #expect(welcome.contains { if case .prepare(let prepared) = $0 { prepared == spec } else { false } })
        return worker
    }

    @Test("HOLD, then BLOCKS: READY once every block of the hold has arrived, with its counts")
    func holdThenReady() throws {
        var worker = try Self.welcomed()
        let blocks = try Self.blocks()
        #expect(Self.sent(worker.received(Self.frame(.hold(ranges: [1..<3])), now: 0.2)).isEmpty)
        #expect(Self.sent(worker.received(Self.frame(.blocks([blocks[1]])), now: 0.3)).isEmpty)
        #expect(Self.sent(worker.received(Self.frame(.blocks([blocks[2]])), now: 0.4)) == [.ready(blockCount: 2, rowCount: 20)])
        // A new HOLD keeps what it names (block 2), drops the rest (block 1) and waits for block 3.
        #expect(Self.sent(worker.received(Self.frame(.hold(ranges: [2..<4])), now: 0.5)).isEmpty)
        #expect(Self.sent(worker.received(Self.frame(.blocks([blocks[3]])), now: 0.6)) == [.ready(blockCount: 2, rowCount: 20)])
        // Block 1 is no longer held: PARAMS naming it are a protocol violation.
        let params = worker.received(Self.frame(.params([0, 0, 0], ranges: [1..<2]), round: 1), now: 0.7)
        #expect(Self.exit(params) == .failed(.protocolViolation("PARAMS of round 1 names blocks 1..<2, which it does not hold (2..<4)")))
        #expect(Self.sent(params).first.map { if case .failure = $0 { true } else { false } } == true)
    }

    @Test("PARAMS become one computation at a time, in order, each with the blocks of its ranges")
    func paramsAreQueued() throws {
        var worker = try Self.welcomed()
        let blocks = try Self.blocks()
        _ = worker.received(Self.frame(.hold(ranges: [0..<4])), now: 0.2)
        _ = worker.received(Self.frame(.blocks(blocks)), now: 0.3)
        let first = worker.received(Self.frame(.params([1, 2, 3], ranges: [0..<2]), round: 4), now: 0.4)
        guard case .compute(let request)? = first.first else {
            Issue.record("expected a computation, got \(first)")
            return
        }
        #expect(request.round == 4 && request.ranges == [0..<2] && request.blocks.map { $0.map(\.id) } == [[0, 1]])
        #expect(request.context == RoundContext(seed: 1, request: RoundRequest(round: 4)))
        // A reassigned range of the same round arrives while it computes: queued.
        #expect(worker.received(Self.frame(.params([1, 2, 3], ranges: [2..<4]), round: 4), now: 0.5).isEmpty)
        let sums = [NodeSums(node: TreeNode(level: 1, index: 0), rowCount: 20, values: [1, 2, 3, 4])]
        let answered = worker.computed(.sums(sums, seconds: 0.1), round: 4, now: 0.6)
        #expect(Self.sent(answered) == [.partials(computeSeconds: 0.1, nodes: sums)])
        #expect(answered.contains { if case .compute(let next) = $0 { next.ranges == [2..<4] } else { false } })
        #expect(worker.rounds == 2)
    }

    @Test(
        "blocks the worker was not told to hold, twice, or of another shape are refused with the reason",
        arguments: [
            (Block?.none, 2, "received block 3, outside the blocks it holds (0..<2)"),
            (nil, 0, "received block 0 twice"),
        ])
    func unexpectedBlocks(_ unused: Block?, blockIndex: Int, expected: String) throws {
        var worker = try Self.welcomed()
        let blocks = try Self.blocks()
        _ = worker.received(Self.frame(.hold(ranges: [0..<2])), now: 0.2)
        _ = worker.received(Self.frame(.blocks([blocks[0]])), now: 0.3)
        let block = blockIndex == 2 ? blocks[3] : blocks[0]
        let directives = worker.received(Self.frame(.blocks([block])), now: 0.4)
        #expect(Self.exit(directives) == .failed(.protocolViolation(expected)))
    }

    @Test("a HOLD before the blocks of the previous one arrived, or beyond the plan, is a protocol violation")
    func holdsOutOfOrder() throws {
        var worker = try Self.welcomed()
        _ = worker.received(Self.frame(.hold(ranges: [0..<2])), now: 0.2)
        let early = worker.received(Self.frame(.hold(ranges: [2..<4])), now: 0.3)
        #expect(Self.exit(early) == .failed(.protocolViolation("HOLD (2..<4) before the blocks of the previous HOLD (0..<2) arrived")))
        var other = try Self.welcomed()
        let beyond = other.received(Self.frame(.hold(ranges: [3..<9])), now: 0.3)
        #expect(Self.exit(beyond) == .failed(.protocolViolation("HOLD names blocks 3..<9, beyond the 4 blocks of the plan")))
    }

    @Test("the coordinator counts as gone after the join timeout before WELCOME, after workerTimeout once welcomed")
    func silenceEndsTheWorker() throws {
        var waiting = WorkerInstance(
            configuration: .init(pid: 7, cores: 2, hostname: "h", software: "s", joinTimeout: 10, endpoint: "tcp://c"), now: 0)
        _ = waiting.start(now: 0)
        for now in stride(from: 0.5, through: 9.5, by: 0.5) { #expect(Self.exit(waiting.tick(now: now)) == nil) }
        // Every 10 s a worker that is not welcomed yet says it is still waiting.
        #expect(waiting.tick(now: 10.0).contains {
            if case .log(.info, let text) = $0 { text == "still waiting for the coordinator at tcp://c (10.0 s of the 10.0 s join timeout)" } else { false }
        })
        #expect(Self.exit(waiting.tick(now: 9.9)) == nil)
        #expect(Self.exit(waiting.tick(now: 10.1)) == .failed(.coordinatorLost("coordinator at tcp://c did not welcome us for 10.1 s")))
        var joined = try Self.welcomed()
        #expect(Self.exit(joined.tick(now: 3.0)) == nil)
        #expect(Self.exit(joined.tick(now: 3.2)) == .failed(.coordinatorLost("coordinator at tcp://c went silent for 3.1 s")))
        #expect(joined.tick(now: 4).isEmpty, "a finished worker does nothing more")
    }

    @Test("a worker that itself did not run for longer than the timeout listens again before calling the coordinator silent")
    func ownPauseIsNoVerdict() throws {
        var worker = try Self.welcomed()
        #expect(Self.exit(worker.tick(now: 1.0)) == nil)
        // Stopped from 1.0 to 60.0: the coordinator's frames of that time may still be on their way.
        let back = worker.tick(now: 60.0)
        #expect(Self.exit(back) == nil)
        #expect(Self.sent(back) == [.heartbeat])
        #expect(Self.exit(worker.tick(now: 62.0)) == nil)
        #expect(
            Self.exit(worker.received(Self.frame(.done(reason: "dropped from the job: silent", jobFailed: true)), now: 62.5))
                == .done(reason: "dropped from the job: silent", jobFailed: true))
        var unanswered = try Self.welcomed()
        _ = unanswered.tick(now: 1.0)
        _ = unanswered.tick(now: 60.0)
        _ = unanswered.tick(now: 62.0)
        #expect(Self.exit(unanswered.tick(now: 63.1)) == .failed(.coordinatorLost("coordinator at tcp://c went silent for 3.1 s")))
    }

    @Test("while the blocks of a HOLD arrive the coordinator may be silent up to the join timeout, then workerTimeout again")
    func shippingIsNotSilence() throws {
        var worker = try Self.welcomed()
        let blocks = try Self.blocks()
        _ = worker.received(Self.frame(.hold(ranges: [0..<2])), now: 1)
        for now in stride(from: 1.5, through: 55, by: 0.5) { #expect(Self.exit(worker.tick(now: now)) == nil) }
        _ = worker.received(Self.frame(.blocks([blocks[0]])), now: 55.2)
        #expect(Self.exit(worker.tick(now: 60)) == nil)
        #expect(Self.exit(worker.tick(now: 115.3)) == .failed(.coordinatorLost("coordinator at tcp://c went silent for 60.1 s")))
        var ready = try Self.welcomed()
        _ = ready.received(Self.frame(.hold(ranges: [0..<1])), now: 1)
        #expect(Self.sent(ready.received(Self.frame(.blocks([blocks[0]])), now: 2)) == [.ready(blockCount: 1, rowCount: 10)])
        _ = ready.tick(now: 4.5)
        #expect(Self.exit(ready.tick(now: 5.1)) == .failed(.coordinatorLost("coordinator at tcp://c went silent for 3.1 s")))
    }

    @Test("the DONE of a failed job is the worker's error to log, unless its coordinator reports it (a local worker)")
    func doneOfAFailedJobIsLoggedByWhoReportsIt() throws {
        func doneLogLevel(reportsJobFailure: Bool, jobFailed: Bool) throws -> CoordinatorInstance.LogLevel? {
            var configuration = WorkerInstance.Configuration(
                pid: 7, cores: 2, hostname: "h", software: "s", joinTimeout: 10, endpoint: "tcp://c")
            configuration.reportsJobFailure = reportsJobFailure
            var worker = WorkerInstance(configuration: configuration, now: 0)
            _ = worker.start(now: 0)
            _ = worker.received(Self.frame(.welcome(workerIndex: 1, workerCount: 2, jobSpec: try Self.spec.encoded())), now: 0.1)
            let directives = worker.received(Self.frame(.done(reason: "the coordinator was interrupted", jobFailed: jobFailed)), now: 1)
            #expect(Self.exit(directives) == .done(reason: "the coordinator was interrupted", jobFailed: jobFailed))
            return directives.lazy.compactMap { if case .log(let level, let message) = $0, message.hasPrefix("coordinator says done") { level } else { nil } }.first
        }
        #expect(try doneLogLevel(reportsJobFailure: true, jobFailed: true) == .error)
        #expect(try doneLogLevel(reportsJobFailure: false, jobFailed: true) == .info)
        #expect(try doneLogLevel(reportsJobFailure: true, jobFailed: false) == .info)
    }

    @Test("DONE ends the worker, with the job's failure flag; REFUSE ends it with the reason")
    func doneAndRefuse() throws {
        var worker = try Self.welcomed()
        #expect(
            Self.exit(worker.received(Self.frame(.done(reason: "dropped from the job: late", jobFailed: true)), now: 1))
                == .done(reason: "dropped from the job: late", jobFailed: true))
        var refused = WorkerInstance(
            configuration: .init(pid: 7, cores: 2, hostname: "h", software: "s", joinTimeout: 10, endpoint: "tcp://c"), now: 0)
        _ = refused.start(now: 0)
        #expect(Self.exit(refused.received(Frame(jobID: 0, message: .refuse(reason: "full")), now: 1)) == .failed(.refused("full")))
    }

    @Test("heartbeats go out when the worker has sent nothing for a heartbeat interval")
    func heartbeats() throws {
        var worker = try Self.welcomed()
        #expect(Self.sent(worker.tick(now: 0.3)) == [.heartbeat])
        #expect(Self.sent(worker.tick(now: 0.4)).isEmpty)
    }
}
