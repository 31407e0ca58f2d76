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
            /// The worker and its link vanish without a word: only its silence tells (a remote host that fails).
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

    /// The links between the coordinator and each worker: a message occupies the sender's link for
    /// `bytes / bytesPerSecond`, travels `latency`, then occupies the receiver's link as long (the coordinator has
    /// one link, shared by all its workers). The default is instant delivery.
    public struct Links: Sendable {
        public var latency: Double
        public var bytesPerSecond: Double

        public init(latency: Double = 0, bytesPerSecond: Double = .infinity) {
            self.latency = latency
            self.bytesPerSecond = bytesPerSecond
        }
    }

    /// How long a worker computes, in virtual seconds: a fixed time per request, or a measured cost per row
    /// divided by the worker's cores.
    public enum ComputeTime: Sendable {
        case fixed(Double)
        case perRow(seconds: Double, cores: Int)
    }

    /// Faults drawn at random (seeded): each live worker vanishes at the start of a round with `failureRate` (a
    /// host that fails: only its silence tells), and each computation is `slowdown` times slower with
    /// `stragglerRate`.
    public struct RandomFaults: Sendable {
        public var failureRate: Double
        public var stragglerRate: Double
        public var slowdown: Double
        public var seed: UInt64

        public init(failureRate: Double = 0, stragglerRate: Double = 0, slowdown: Double = 5, seed: UInt64 = 1) {
            self.failureRate = failureRate
            self.stragglerRate = stragglerRate
            self.slowdown = slowdown
            self.seed = seed
        }
    }

    public let rowCount: Int
    public var workerCount: Int { nodes.filter(\.alive).count }
    /// The links and compute times of this simulation.
    public var links = Links()
    public var computeTime = ComputeTime.fixed(0.01)
    /// Whether the coordinator's measured CPU time advances the virtual clock (its sends leave once it is done),
    /// so that a coordinator that cannot keep up with thousands of workers shows in the round time. Off by
    /// default: real CPU time is not reproducible, scripted fault tests want exact virtual times.
    public var chargesCoordinatorCPU = false
    private var coordinatorBusyUntil = 0.0
    public var randomFaults = RandomFaults() {
        didSet { random = SplitMix64(seed: randomFaults.seed) }
    }
    /// Virtual seconds each completed round took, in order.
    public private(set) var roundSeconds: [Double] = []
    /// Real (wall-clock) seconds spent in the coordinator's state machine and its frame encoding/decoding, per
    /// completed round: what the coordinator itself costs, whatever the network.
    public private(set) var coordinatorSeconds: [Double] = []
    /// Virtual time of each worker loss and of the completion of the round it happened in.
    public private(set) var lossTimes: [(lost: Double, roundDone: Double?)] = []
    /// The coordinator, for inspection (phase, workers, counters).
    public private(set) var coordinator: CoordinatorInstance
    /// Every event the coordinator reported, in order.
    public private(set) var events: [CoordinatorInstance.Event] = []
    /// Every log line, in order (coordinator and workers).
    public private(set) var logs: [String] = []
    public private(set) var now = 0.0

    private let blocks: [Block]
    private let codec = WireCodec()
    private let threads: Int
    private let faults: [Fault]
    private var nodes: [Node] = []
    private var coordinatorInbox: [(at: Double, peer: [UInt8], bytes: [UInt8])] = []
    private var coordinatorUpFree = 0.0
    private var coordinatorDownFree = 0.0
    private var peers: [[UInt8]: Int] = [:]
    private var random = SplitMix64(seed: 1)
    private var roundStartedAt = 0.0
    private var coordinatorClock = Duration.zero
    private var roundIndex = 0
    private var outcome: Evaluation?
    private var failure: String?
    private var allReady = false

    /// One worker: its instance, its queue, its computer and its fault state.
    private struct Node {
        var instance: WorkerInstance
        let peer: [UInt8]
        let pid: UInt32
        /// Frames with their arrival time, in arrival order.
        var inbox: [(at: Double, bytes: [UInt8])] = []
        /// When its link is free again, each way.
        var upFree = 0.0
        var downFree = 0.0
        /// When its compute thread is free again.
        var busyUntil = 0.0
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
        if randomFaults.failureRate > 0 {
            for index in nodes.indices where nodes[index].alive && random.nextUnit() < randomFaults.failureRate {
                apply(Fault(worker: index, round: request.round, kind: .vanish))
            }
        }
        outcome = nil
        roundStartedAt = now
        coordinatorClock = .zero
        coordinatorDid(timed { coordinator.startRound(request, parameters: parameters, now: now) })
        do {
            try run(until: { $0.outcome != nil })
        } catch {
            throw .worker(error.description)
        }
        if chargesCoordinatorCPU { now = max(now, coordinatorBusyUntil) }
        roundSeconds.append(now - roundStartedAt)
        coordinatorSeconds.append(coordinatorClock.seconds)
        for position in lossTimes.indices where lossTimes[position].roundDone == nil { lossTimes[position].roundDone = now }
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
        now = max(now, coordinatorUpFree + links.latency + 1)
        deliverAll()
    }

    /// Runs `body` (a call into the coordinator's state machine) and adds its wall time to the round's count.
    private func timed<T>(_ body: () -> T) -> T {
        let start = ContinuousClock.now
        defer {
            let spent = ContinuousClock.now - start
            coordinatorClock += spent
            // The coordinator is one thread: what it spends delays everything it sends next.
            if chargesCoordinatorCPU { coordinatorBusyUntil = max(now, coordinatorBusyUntil) + spent.seconds }
        }
        return body()
    }

    // MARK: The loop

    private func run(until isDone: (InMemoryCluster) -> Bool) throws(ClusterError) {
        let step = coordinator.configuration.timing.heartbeatInterval / 2
        var idleSteps = 0
        var nextTick = now + step
        while !isDone(self) {
            if let failure { throw .jobFailed(failure) }
            if deliverAll() {
                idleSteps = 0
                continue
            }
            // Nothing to deliver now: move to the next arrival, computation or tick.
            // (Indices, not copies of the nodes: with thousands of workers this loop is the simulator's hot path.)
            var earliest = coordinatorInbox.first?.at ?? .infinity
            for index in nodes.indices where nodes[index].alive {
                if let arrival = nodes[index].inbox.first?.at { earliest = min(earliest, max(arrival, nodes[index].stalledUntil)) }
                if let until = nodes[index].pending?.until { earliest = min(earliest, max(until, nodes[index].stalledUntil)) }
            }
            let next = min(earliest, nextTick)
            now = max(now, next)
            // A worker that wakes reads what arrived meanwhile before it looks at the clock, as a shell does.
            deliverAll()
            for index in nodes.indices where nodes[index].alive && now >= nodes[index].stalledUntil {
                if let pending = nodes[index].pending, pending.until <= now {
                    nodes[index].pending = nil
                    workerDid(index, nodes[index].instance.computed(pending.outcome, round: pending.round, now: now))
                }
            }
            if now >= nextTick {
                nextTick = now + step
                for index in nodes.indices where nodes[index].alive && now >= nodes[index].stalledUntil {
                    workerDid(index, nodes[index].instance.tick(now: now))
                }
                coordinatorDid(timed { coordinator.tick(now: now) })
            }
            idleSteps += 1
            if idleSteps > 1_000_000 { throw .jobFailed("the in-memory cluster made no progress") }
        }
        if let failure { throw .jobFailed(failure) }
    }

    /// Delivers every frame that has arrived by now; returns whether anything was delivered.
    @discardableResult
    private func deliverAll() -> Bool {
        var delivered = false
        // The coordinator only sends to workers, so nothing joins its queue meanwhile: the frames that have arrived
        // are taken as one batch (one removal instead of one per frame, with thousands of workers).
        var taken = 0
        while taken < coordinatorInbox.count, coordinatorInbox[taken].at <= now {
            let first = coordinatorInbox[taken]
            taken += 1
            delivered = true
            let directives = timed { () -> [CoordinatorInstance.Directive] in
                do throws(WireError) {
                    return coordinator.received(try codec.decode(first.bytes), from: first.peer, now: now)
                } catch {
                    return coordinator.receivedMalformed(from: first.peer, error: error.description, now: now)
                }
            }
            coordinatorDid(directives)
        }
        coordinatorInbox.removeFirst(taken)
        for index in nodes.indices where nodes[index].alive && now >= nodes[index].stalledUntil {
            while let first = nodes[index].inbox.first, first.at <= now {
                nodes[index].inbox.removeFirst()
                delivered = true
                do {
                    let frame = try codec.decode(first.bytes)
                    if nodes[index].hangs, case .params = frame.message { continue }
                    workerDid(index, nodes[index].instance.received(frame, now: now))
                } catch {
                    workerDid(index, nodes[index].instance.receivedMalformed(error: error.description, now: now))
                }
                if !nodes[index].alive { break }
            }
        }
        return delivered
    }

    /// When a message of `bytes` sent now over a link free from `senderFree` reaches a receiver whose link is free
    /// from `receiverFree`; returns (sender free again, arrival = receiver free again).
    private func transfer(_ bytes: Int, senderFree: Double, receiverFree: Double, departure: Double? = nil) -> (Double, Double) {
        let departure = departure ?? now
        let wire = links.bytesPerSecond.isFinite ? Double(bytes) / links.bytesPerSecond : 0
        let sent = max(departure, senderFree) + wire
        let arrival = max(sent + links.latency, receiverFree) + wire
        return (sent, arrival)
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
                if case .workerLost = event { lossTimes.append((now, nil)) }
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
        guard let index = peers[peer] else { return }
        let encoded = timed { () -> Result<[UInt8], WireError> in
            Result { () throws(WireError) in
                try codec.encode(Frame(jobID: coordinator.configuration.jobID, round: round, message: message))
            }
        }
        let bytes: [UInt8]
        switch encoded {
        case .success(let value): bytes = value
        case .failure(let error):
            failure = "cannot encode \(message.type): \(error)"
            return
        }
        guard nodes[index].alive else { return }
        let (free, arrival) = transfer(
            bytes.count, senderFree: coordinatorUpFree, receiverFree: nodes[index].downFree,
            departure: chargesCoordinatorCPU ? max(now, coordinatorBusyUntil) : nil)
        coordinatorUpFree = free
        nodes[index].downFree = arrival
        nodes[index].inbox.append((arrival, bytes))
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
                    let bytes = try codec.encode(Frame(jobID: jobID, round: round, message: message))
                    let (free, arrival) = transfer(bytes.count, senderFree: nodes[index].upFree, receiverFree: coordinatorDownFree)
                    nodes[index].upFree = free
                    coordinatorDownFree = arrival
                    // Arrivals stay in order: a frame never overtakes one that arrives later.
                    let position = coordinatorInbox.lastIndex { $0.at <= arrival }.map { $0 + 1 } ?? 0
                    coordinatorInbox.insert((arrival, nodes[index].peer, bytes), at: position)
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
                var seconds: Double
                switch computeTime {
                case .fixed(let fixed): seconds = fixed
                case .perRow(let perRow, let cores):
                    let rows = request.blocks.reduce(0) { $0 + $1.reduce(0) { $0 + $1.rows } }
                    seconds = perRow * Double(rows) / Double(max(1, cores))
                }
                if randomFaults.stragglerRate > 0, random.nextUnit() < randomFaults.stragglerRate { seconds *= randomFaults.slowdown }
                let start = max(now, nodes[index].stalledUntil, nodes[index].busyUntil)
                nodes[index].busyUntil = start + seconds
                nodes[index].pending = (start + seconds, request.round, outcome)
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
        let peer: [UInt8] = [0, UInt8(index & 0xFF), UInt8(index >> 8)]
        nodes.append(Node(instance: instance, peer: peer, pid: pid))
        peers[peer] = index
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
                timed {
                    coordinator.processExited(
                        pid: nodes[fault.worker].pid, description: "its process was killed by signal 9", now: now)
                })
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
