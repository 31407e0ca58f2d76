import ShardData
import ShardEngine
import ShardModels
import ShardNumerics
import ShardWire

/// A coordinator and its workers joined by in-memory queues under a virtual clock: the real state machines
/// and the real wire encoding, without sockets, processes or waiting. Faults are scripted by round, so every
/// recovery path runs deterministically in a unit test (the way swift-nio's `EmbeddedChannel` tests handlers),
/// and as an `Executor` it trains like any other: the result must be bit-identical to a fault-free run.
///
/// Time advances only when nothing is left to deliver: every computation takes `computeSeconds` of virtual time
/// (more for a stalled worker), and the clock then jumps in steps of half a heartbeat, ticking every instance.
public final class InMemoryCluster: Executor {
    /// A scripted fault, applied to `worker` when round `round` starts (before it sees the round's PARAMS) or
    /// right after it has answered that round.
    public struct Fault: Sendable {
        public enum Moment: Sendable { case roundStart, afterAnswering }
        public enum Kind: Sendable {
            /// The process dies; the shell reports the exit at once (a local worker).
            case crash
            /// The worker and its link vanish without a word: only its silence tells.
            case vanish
            /// Like SIGSTOP for `seconds`, then SIGCONT: nothing is processed meanwhile, then everything queued.
            case stall(seconds: Double)
            /// It keeps sending heartbeats but ignores every PARAMS from then on.
            case hang
            /// A new worker connects (the fault's `worker` is ignored).
            case join
            /// From then on every value of its partial sums is multiplied by `factor` (a faulty or hostile worker).
            case corrupt(factor: Double)
        }

        public var worker: Int
        public var round: Int
        public var moment: Moment
        public var kind: Kind

        public init(worker: Int, round: Int, moment: Moment = .roundStart, kind: Kind) {
            self.worker = worker
            self.round = round
            self.moment = moment
            self.kind = kind
        }
    }

    public let rowCount: Int
    public var workerCount: Int { nodes.filter(\.alive).count }
    /// The coordinator, for inspection (phase, workers, counters).
    public private(set) var coordinator: CoordinatorInstance
    /// Every event the coordinator reported, in order.
    public private(set) var events: [CoordinatorInstance.Event] = []
    /// Every log line, in order (coordinator and workers).
    public private(set) var logs: [String] = []
    public private(set) var now = 0.0
    /// Virtual seconds one computation takes.
    public var computeSeconds = 0.01

    private let blocks: [Block]
    private let codec = WireCodec()
    private let threads: Int
    private let faults: [Fault]
    private var nodes: [Node] = []
    private var coordinatorInbox: [(peer: [UInt8], bytes: [UInt8])] = []
    private var outcome: Evaluation?
    private var failure: String?
    private var allReady = false

    /// One worker: its instance, its queue, its computer and its fault state.
    private struct Node {
        var instance: WorkerInstance
        let peer: [UInt8]
        let pid: UInt32
        var inbox: [[UInt8]] = []
        var computer: RangeComputer?
        /// A computation in progress: due at `until`.
        var pending: (until: Double, round: UInt64, outcome: ComputeOutcome)?
        var alive = true
        var stalledUntil = -Double.infinity
        var hangs = false
        var corruption: Double?
    }

    /// A job over `blocks` (the cuts of one plan) with `workers` workers; `faults` happen as the rounds go.
    public init(
        model: any Model, blocks: [Block], workers: Int, timing: ClusterTiming = .init(), seed: UInt64 = 0,
        schedule: BatchSchedule? = nil, resilience: CoordinatorInstance.Resilience = .init(), faults: [Fault] = [],
        threads: Int = 1
    ) throws(ClusterError) {
        let rows = blocks.reduce(0) { $0 + $1.rows }
        let plan: BlockPlan
        do { plan = try BlockPlan(rowCount: rows, blockRows: blocks.first?.rows ?? 0) } catch {
            throw .invalidConfiguration("the blocks cannot form a plan: \(error)")
        }
        try resilience.validate(expectedWorkers: workers)
        self.blocks = blocks
        self.rowCount = rows
        self.faults = faults
        self.threads = threads
        let spec = JobSpec(
            model: model.spec, precision: blocks.first?.precision ?? .float64, plan: plan, timing: timing, seed: seed,
            schedule: schedule)
        coordinator = CoordinatorInstance(
            configuration: .init(expectedWorkers: workers, jobID: 42, jobSpec: spec, resilience: resilience), now: 0)
        for _ in 0..<workers { addWorker() }
        try run(until: { $0.allReady })
    }

    /// The worker processes' exits, by worker index: nil while running.
    public func exit(ofWorker index: Int) -> WorkerInstance.Exit? {
        nodes.indices.contains(index) ? nodes[index].instance.exit : nil
    }

    public func evaluate(_ parameters: [Double], request: RoundRequest) throws(EngineError) -> Evaluation {
        for fault in faults where fault.round == request.round && fault.moment == .roundStart { apply(fault) }
        outcome = nil
        coordinatorDid(coordinator.startRound(request, parameters: parameters, now: now))
        do {
            try run(until: { $0.outcome != nil })
        } catch {
            throw .worker(error.description)
        }
        return outcome!
    }

    /// Lets `seconds` of virtual time pass between rounds (stalled workers wake, late frames arrive).
    public func advance(by seconds: Double) throws(ClusterError) {
        let target = now + seconds
        try run(until: { $0.now >= target })
    }

    /// DONE to every live worker, delivered.
    public func shutdown(reason: String) {
        coordinatorDid(coordinator.finish(reason: reason))
        deliverAll()
    }

    // MARK: The loop

    private func run(until isDone: (InMemoryCluster) -> Bool) throws(ClusterError) {
        let step = coordinator.configuration.timing.heartbeatInterval / 2
        var idleSteps = 0
        while !isDone(self) {
            if let failure { throw .jobFailed(failure) }
            if deliverAll() {
                idleSteps = 0
                continue
            }
            // Nothing to deliver: finish due computations, else let time pass.
            let due = nodes.filter(\.alive).compactMap { node in node.pending.map { max($0.until, node.stalledUntil) } }.min()
            let next = min(due ?? .infinity, now + step)
            now = max(now, next)
            // A worker that wakes reads what arrived meanwhile before it looks at the clock, as a shell does.
            deliverAll()
            for index in nodes.indices where nodes[index].alive && now >= nodes[index].stalledUntil {
                if let pending = nodes[index].pending, pending.until <= now {
                    nodes[index].pending = nil
                    workerDid(index, nodes[index].instance.computed(pending.outcome, round: pending.round, now: now))
                }
                workerDid(index, nodes[index].instance.tick(now: now))
            }
            coordinatorDid(coordinator.tick(now: now))
            idleSteps += 1
            if idleSteps > 1_000_000 { throw .jobFailed("the in-memory cluster made no progress") }
        }
        if let failure { throw .jobFailed(failure) }
    }

    /// Delivers every queued frame once; returns whether anything was delivered.
    @discardableResult
    private func deliverAll() -> Bool {
        var delivered = false
        let inbox = coordinatorInbox
        coordinatorInbox.removeAll()
        for (peer, bytes) in inbox {
            delivered = true
            do {
                let frame = try codec.decode(bytes)
                coordinatorDid(coordinator.received(frame, from: peer, now: now))
            } catch {
                coordinatorDid(coordinator.receivedMalformed(from: peer, error: error.description, now: now))
            }
        }
        for index in nodes.indices where nodes[index].alive && now >= nodes[index].stalledUntil {
            let frames = nodes[index].inbox
            nodes[index].inbox.removeAll()
            for bytes in frames {
                delivered = true
                do {
                    let frame = try codec.decode(bytes)
                    if nodes[index].hangs, case .params = frame.message { continue }
                    workerDid(index, nodes[index].instance.received(frame, now: now))
                } catch {
                    workerDid(index, nodes[index].instance.receivedMalformed(error: error.description, now: now))
                }
            }
        }
        return delivered
    }

    private func coordinatorDid(_ directives: [CoordinatorInstance.Directive]) {
        for directive in directives {
            switch directive {
            case .send(let peer, let message, let round):
                send(message, round: round, toPeer: peer)
            case .shipBlocks(let peer, let range):
                // BLOCKS of at most 64 blocks each, like the socket shell's batches.
                var start = range.lowerBound
                while start < range.upperBound {
                    let end = min(start + 64, range.upperBound)
                    send(.blocks(Array(blocks[start..<end])), round: 0, toPeer: peer)
                    start = end
                }
            case .log(_, let message):
                logs.append("coordinator: \(message)")
            case .event(let event):
                events.append(event)
            case .allReady:
                allReady = true
            case .roundComplete(let evaluation):
                outcome = evaluation
            case .fail(let message):
                failure = message
            }
        }
    }

    private func send(_ message: Message, round: UInt64, toPeer peer: [UInt8]) {
        guard let index = nodes.firstIndex(where: { $0.peer == peer }) else { return }
        let bytes: [UInt8]
        do {
            bytes = try codec.encode(Frame(jobID: coordinator.configuration.jobID, round: round, message: message))
        } catch {
            failure = "cannot encode \(message.type): \(error)"
            return
        }
        guard nodes[index].alive else { return }
        nodes[index].inbox.append(bytes)
    }

    private func workerDid(_ index: Int, _ directives: [WorkerInstance.Directive]) {
        for directive in directives {
            switch directive {
            case .send(var message, let round):
                guard nodes[index].alive else { continue }
                if let factor = nodes[index].corruption, case .partials(let seconds, let sums) = message {
                    message = .partials(
                        computeSeconds: seconds,
                        nodes: sums.map { NodeSums(node: $0.node, rowCount: $0.rowCount, values: $0.values.map { $0 * factor }) })
                }
                let jobID: UInt64 = nodes[index].instance.spec == nil ? 0 : coordinator.configuration.jobID
                do {
                    coordinatorInbox.append(
                        (nodes[index].peer, try codec.encode(Frame(jobID: jobID, round: round, message: message))))
                } catch {
                    failure = "worker \(index) cannot encode \(message.type): \(error)"
                }
                if case .partials = message {
                    for fault in faults
                    where fault.moment == .afterAnswering && fault.worker == index && UInt64(fault.round) == round {
                        apply(fault)
                    }
                }
            case .prepare(let spec):
                nodes[index].computer = RangeComputer(spec: spec, threads: threads)
            case .compute(let request):
                let outcome = nodes[index].computer?.compute(request) ?? .failed("no job")
                let start = max(now, nodes[index].stalledUntil)
                nodes[index].pending = (start + computeSeconds, request.round, outcome)
            case .readSharedBlocks:
                // This cluster ships BLOCKS only.
                workerDid(index, nodes[index].instance.blocksUnreadable(.protocolViolation("this cluster has no shared memory"), now: now))
            case .log(_, let message):
                logs.append("worker \(index): \(message)")
            case .finish:
                break
            }
        }
    }

    private func addWorker() {
        let index = nodes.count
        let pid = UInt32(1000 + index)
        var instance = WorkerInstance(
            configuration: .init(
                pid: pid, cores: 1, hostname: "memory", software: "in-memory", joinTimeout: 60, endpoint: "memory"),
            now: now)
        let hello = instance.start(now: now)
        nodes.append(Node(instance: instance, peer: [0, UInt8(index & 0xFF), UInt8(index >> 8)], pid: pid))
        workerDid(index, hello)
    }

    private func apply(_ fault: Fault) {
        if case .join = fault.kind {
            addWorker()
            return
        }
        guard nodes.indices.contains(fault.worker), nodes[fault.worker].alive else { return }
        switch fault.kind {
        case .crash:
            nodes[fault.worker].alive = false
            coordinatorDid(
                coordinator.processExited(
                    pid: nodes[fault.worker].pid, description: "its process was killed by signal 9", now: now))
        case .vanish:
            nodes[fault.worker].alive = false
        case .stall(let seconds):
            nodes[fault.worker].stalledUntil = now + seconds
        case .hang:
            nodes[fault.worker].hangs = true
        case .corrupt(let factor):
            nodes[fault.worker].corruption = factor
        case .join:
            break
        }
    }
}
