import ShardData
import ShardEngine
import ShardModels
import ShardNumerics
import ShardWire

/// The coordinator's protocol logic as a pure state machine: events in, directives out, time passed in.
///
/// It knows nothing of sockets or of the data: a shell (`ClusterExecutor` over ZeroMQ, `InMemoryCluster` in
/// tests) feeds it decoded frames, worker losses it observed and clock ticks, and carries out what it returns.
///
///     joining   — HELLO answered at once with WELCOME; when `expectedWorkers` have joined, blocks are assigned
///     shipping  — HOLD + blocks sent; wait until every live worker has answered READY
///     ready     — idle between rounds
///     round r   — PARAMS sent; the round completes when every task (a block range) has an answer
///     failed    — fewer than `minWorkers` live workers, the join timed out, or the reduction failed
///
/// **Faults.** A worker is lost when it disconnects, its process exits, it is silent for `workerTimeout`, it
/// reports FAILURE, breaks the protocol, or does not answer a round within the round deadline. Its primary
/// blocks go to a live worker (one that already holds them with `replicas` 2, else the one with the fewest rows,
/// which receives them first); the tasks of the round in flight that it had not answered are asked again of the
/// new owner. Tree nodes are values of the blocks alone, so the round's sums, and every later bit, are the same
/// whoever computes them. Answers already received from a lost worker are kept.
///
/// **Stragglers.** When some tasks are answered and others are still pending after
/// `max(stragglerFactor × median answer time, stragglerFloor)`, an idle worker computes the pending ones too
/// (receiving the blocks first if it lacks them); the first answer wins and a later identical one is dropped.
///
/// **Joins.** A worker may join mid-run while fewer than `maxWorkers` are live; the blocks are rebalanced over
/// all live workers at the next round boundary.
///
/// Round numbers must increase from one `startRound` to the next: answers to older rounds are stale, dropped
/// and counted.
public struct CoordinatorInstance: Sendable {
    public typealias PeerID = [UInt8]

    public struct Configuration: Sendable {
        public var expectedWorkers: Int
        public var jobID: UInt64
        /// The job every worker is welcomed with (model, plan, timing, seed, schedule).
        public var jobSpec: JobSpec
        public var resilience: Resilience
        /// The HELLO `software` a worker must send (see `WorkerShell.software`); nil accepts any.
        public var requiredSoftware: String?
        /// Whether the model's loss sum is never negative (every model here), so that a negative one is impossible.
        public var lossIsNonNegative: Bool

        public init(
            expectedWorkers: Int, jobID: UInt64, jobSpec: JobSpec, resilience: Resilience = .init(),
            requiredSoftware: String? = nil, lossIsNonNegative: Bool = true
        ) {
            self.lossIsNonNegative = lossIsNonNegative
            self.expectedWorkers = expectedWorkers
            self.jobID = jobID
            self.jobSpec = jobSpec
            self.resilience = resilience
            self.requiredSoftware = requiredSoftware
        }

        public var plan: BlockPlan { jobSpec.plan }
        public var timing: ClusterTiming { jobSpec.timing }
    }

    /// How the job survives faults: `--min-workers`, `--max-workers`, `--replicas`, `--straggler-factor`.
    public struct Resilience: Sendable, Equatable {
        /// The job fails once fewer live workers remain.
        public var minWorkers: Int
        /// Joins are accepted while fewer workers are live (nil: the expected count).
        public var maxWorkers: Int?
        /// 1: each block on one worker; 2: also on the next worker, so a loss needs no shipping.
        public var replicas: Int
        /// Backups start after this many times the median answer time of the round (∞: never).
        public var stragglerFactor: Double

        /// Backups never start earlier than this many seconds into a round: on a busy machine short rounds
        /// jitter by more than 3× without any worker being slow.
        public static let stragglerFloor = 0.5
        /// The round deadline is this many times the slowest answer seen so far (at least `workerTimeout`).
        public static let deadlineFactor = 10.0

        public init(minWorkers: Int = 1, maxWorkers: Int? = nil, replicas: Int = 1, stragglerFactor: Double = 3) {
            self.minWorkers = minWorkers
            self.maxWorkers = maxWorkers
            self.replicas = replicas
            self.stragglerFactor = stragglerFactor
        }

        /// Flags' names in the messages.
        public func validate(expectedWorkers: Int) throws(ClusterError) {
            guard minWorkers >= 1, minWorkers <= expectedWorkers else {
                throw .invalidConfiguration("--min-workers is \(minWorkers): it must be between 1 and the \(expectedWorkers) workers")
            }
            if let maxWorkers, maxWorkers < expectedWorkers {
                throw .invalidConfiguration("--max-workers (\(maxWorkers)) must be at least the \(expectedWorkers) workers")
            }
            guard replicas == 1 || replicas == 2 else {
                throw .invalidConfiguration("--replicas is \(replicas): it must be 1 or 2")
            }
            guard stragglerFactor >= 1, !stragglerFactor.isNaN else {
                throw .invalidConfiguration("--straggler-factor is \(stragglerFactor): it must be at least 1 (inf: no backups)")
            }
        }
    }

    /// A worker that joined. Indices are never reused within a job.
    public struct Worker: Sendable, Equatable {
        public let index: Int
        public let peer: PeerID
        public let pid: UInt32
        public let hostname: String
        public let cores: Int
        /// Why it was lost (nil while it is live).
        public internal(set) var lostReason: String?
        /// The blocks it answers for in every round.
        public internal(set) var assigned = BlockRanges()
        /// The blocks it holds (the assigned ones, replicas, blocks received for backups).
        public internal(set) var held = BlockRanges()
        /// (blocks, rows) of each HOLD not yet answered by READY, oldest first.
        var awaitingReady: [Counts] = []
        var lastHeard: Double
        var lastSent: Double
        /// Compute seconds it reported in the round in flight.
        var roundCompute = 0.0
        var answeredThisRound = false
        var toldToLeave = false

        public var isLive: Bool { lostReason == nil }

        /// "worker 1 (pid 4242 on node-a)": how messages name a worker.
        public var name: String { "worker \(index) (pid \(pid) on \(hostname))" }
    }

    struct Counts: Sendable, Equatable {
        var blocks: Int
        var rows: Int
    }

    public enum Phase: Sendable, Equatable {
        case joining
        case shipping
        case ready
        case round(Int)
        case failed(String)
    }

    /// What happened to the job's workers, for progress output and the summary.
    public enum Event: Sendable, Equatable {
        case workerJoined(index: Int, name: String)
        /// `round`: the round in flight, if any; `silentSeconds`: time since its last frame.
        case workerLost(index: Int, reason: String, round: Int?, silentSeconds: Double)
        /// Blocks moved to `to` (from a lost worker, or nil for a rebalance); `shipped`: they had to be sent.
        case blocksReassigned(from: Int?, to: Int, blocks: BlockRanges, shipped: Bool, round: Int?)
        /// `backup` also computes `blocks`, pending on `straggler` after `waitedSeconds` of round `round`.
        case backupStarted(straggler: Int, backup: Int, blocks: Range<Int>, round: Int, waitedSeconds: Double)
    }

    /// Running totals for the summary.
    public struct Counters: Sendable, Equatable {
        public var workersLost = 0
        public var workersJoined = 0
        public var reassignments = 0
        public var backups = 0
        /// Answers that arrived after another worker's answer to the same task (dropped).
        public var duplicateAnswers = 0
        /// Duplicate answers whose values differed from the first (a faulty worker: logged).
        public var disagreements = 0
        /// Answers that looked impossible and were recomputed by another worker.
        public var verifications = 0
        /// Frames dropped because they belonged to another job or an earlier round.
        public var staleFrames = 0
        /// Frames from peers that are not workers of the job (garbage, another version, a refused HELLO).
        public var refusedFrames = 0
    }

    /// What the shell must do.
    public enum Directive: Sendable, Equatable {
        case send(to: PeerID, Message, round: UInt64)
        /// Send the blocks of `blocks` to the peer (the shell holds the data), before any later `send` to it.
        case shipBlocks(to: PeerID, blocks: Range<Int>)
        case log(LogLevel, String)
        case event(Event)
        /// Every live worker holds its blocks: rounds can start.
        case allReady
        case roundComplete(Evaluation)
        /// The job cannot go on; the shell stops and exits non-zero with this message.
        case fail(String)
    }

    public enum LogLevel: Sendable, Equatable { case info, warning, error }

    public let configuration: Configuration
    public private(set) var phase: Phase = .joining
    public private(set) var workers: [Worker] = []
    public private(set) var counters = Counters()
    /// Worker index by routing id (a lookup per frame: thousands of workers).
    private var peerIndex: [PeerID: Int] = [:]
    /// Strangers already refused (each is told once).
    private var refusedPeers: Set<PeerID> = []
    static let refusedPeersLimit = 10_000
    private let startedAt: Double
    private let tree: ReductionTree
    /// The round in flight, or the last one.
    private var current: RoundState?
    /// The slowest answer of any completed round so far (for the round deadline).
    private var slowestAnswer: Double?
    /// A live worker has no assigned blocks (it joined mid-run): rebalance at the next round.
    private var needsRebalance = false
    /// Local worker processes that ended before they joined: the job starts without them when the others are enough
    /// (`Resilience.minWorkers`).
    private var endedBeforeJoining = 0
    /// The workers the join waits for: the expected ones less those that ended before joining.
    private var awaitedWorkers: Int { configuration.expectedWorkers - endedBeforeJoining }

    /// One block range asked of one or more workers within a round.
    struct Task: Sendable {
        let range: Range<Int>
        let nodes: [TreeNode]
        let rows: [Int]
        var askedOf: [Int]
        /// When each asked worker was asked (the round deadline counts from there).
        var askedAt: [Int: Double] = [:]
        var result: [NodeSums]?
        var answeredAfter: Double?
        var backedUp = false
        /// An answer that looked impossible, held until another worker's computation of the same blocks decides.
        var suspect: (worker: Int, answer: [NodeSums], why: String)?
    }

    struct RoundState: Sendable {
        let round: Int
        let request: RoundRequest
        let parameters: [Double]
        let startedAt: Double
        let activeMask: [Bool]?
        var tasks: [Task]
        var complete = false
        /// The task covering each block (-1: none active), and how many tasks have no result yet.
        var taskOfBlock: [Int] = []
        var pending = 0
    }

    public init(configuration: Configuration, now: Double) {
        self.configuration = configuration
        self.startedAt = now
        self.tree = ReductionTree(blockCount: configuration.plan.blockCount)
    }

    public var liveWorkers: [Worker] { workers.filter(\.isLive) }
    private var maxWorkers: Int { configuration.resilience.maxWorkers ?? configuration.expectedWorkers }

    // MARK: Events

    /// A frame from `peer` that decoded successfully.
    public mutating func received(_ frame: Frame, from peer: PeerID, now: Double) -> [Directive] {
        if case .failed = phase { return [] }
        guard let index = peerIndex[peer] else {
            return receivedFromStranger(frame, peer: peer, now: now)
        }
        guard workers[index].isLive else { return toldToLeave(index) }
        workers[index].lastHeard = now
        let worker = workers[index]
        if case .hello = frame.message { return lose(index, "sent HELLO twice", now: now) }
        // Before WELCOME a worker does not know the job id yet: its heartbeats carry 0.
        let earlyHeartbeat = frame.jobID == 0 && frame.message == .heartbeat
        if frame.jobID != configuration.jobID, !earlyHeartbeat {
            counters.staleFrames += 1
            return [.log(.warning, "\(worker.name): dropped a frame of job \(frame.jobID) (this job is \(configuration.jobID))")]
        }
        switch frame.message {
        case .heartbeat:
            return []
        case .failure(let reason):
            return lose(index, "failed \(phaseDescription): \(reason)", now: now)
        case .ready(let blockCount, let rowCount):
            return receivedReady(worker: index, counts: Counts(blocks: Int(blockCount), rows: Int(clamping: rowCount)), now: now)
        case .partials(let computeSeconds, let nodes):
            return receivedPartials(worker: index, round: frame.round, computeSeconds: computeSeconds, nodes: nodes, now: now)
        default:
            return lose(index, "sent an unexpected \(frame.message.type) message", now: now)
        }
    }

    /// Bytes from `peer` that did not decode.
    public mutating func receivedMalformed(from peer: PeerID, error: String, now: Double) -> [Directive] {
        if case .failed = phase { return [] }
        if let index = peerIndex[peer] {
            guard workers[index].isLive else { return toldToLeave(index) }
            return lose(index, "sent a malformed frame \(phaseDescription): \(error)", now: now)
        }
        return refuseStranger(peer, "refused peer \(hex(peer)): \(error)", reason: error)
    }

    /// The first frame a stranger sends that is not a HELLO we accept gets a logged REFUSE; later ones are only
    /// counted (a flood of garbage costs neither a log line nor a reply per frame).
    private mutating func refuseStranger(_ peer: PeerID, _ log: String, reason: String?) -> [Directive] {
        counters.refusedFrames += 1
        guard refusedPeers.count < Self.refusedPeersLimit, refusedPeers.insert(peer).inserted else { return [] }
        var directives: [Directive] = [.log(.warning, log)]
        if let reason { directives.append(.send(to: peer, .refuse(reason: reason), round: 0)) }
        return directives
    }

    /// A frame for `peer` could not be sent (it disconnected, or its queue is gone).
    public mutating func sendFailed(to peer: PeerID, error: String, now: Double) -> [Directive] {
        if case .failed = phase { return [] }
        guard let index = peerIndex[peer] else {
            return [.log(.warning, "could not answer peer \(hex(peer)): \(error)")]
        }
        guard workers[index].isLive else { return [] }
        return lose(index, "cannot be reached \(phaseDescription): \(error)", now: now)
    }

    /// The shell learned that the worker process `pid` exited (local workers).
    public mutating func processExited(pid: UInt32, description: String, now: Double) -> [Directive] {
        if case .failed = phase { return [] }
        guard let index = workers.firstIndex(where: { $0.pid == pid && $0.isLive }) else {
            // A local process that never joined: the job starts without it if the others are enough, as it would go on
            // without a worker lost later.
            guard phase == .joining else { return [] }
            let failure = "a worker process (pid \(pid)) ended before joining: \(description)"
            guard awaitedWorkers - 1 >= configuration.resilience.minWorkers else {
                let minimum = configuration.resilience.minWorkers
                return fail(failure + (awaitedWorkers > 1 ? " (fewer than --min-workers \(minimum) would be left)" : ""))
            }
            endedBeforeJoining += 1
            counters.workersLost += 1
            var directives: [Directive] = [
                .log(.warning, failure + "; the job goes on with \(awaitedWorkers) worker\(awaitedWorkers == 1 ? "" : "s")")
            ]
            if liveWorkers.count == awaitedWorkers {
                phase = .shipping
                directives += rebalance(now: now, round: nil)
            }
            return directives
        }
        return lose(index, description, now: now)
    }

    /// "during round 7", "while receiving its blocks", …: where the job was when something happened.
    public var phaseDescription: String {
        switch phase {
        case .round(let round): "during round \(round)"
        case .shipping: "while the blocks were shipped"
        case .joining: "while workers were joining"
        case .ready, .failed: "between rounds"
        }
    }

    /// Time passes: heartbeats, silent workers, the join timeout, the round deadline and stragglers.
    public mutating func tick(now: Double) -> [Directive] {
        switch phase {
        case .failed: return []
        case .joining, .shipping:
            if now - startedAt > configuration.timing.joinTimeout {
                let live = liveWorkers
                let ready = live.filter { $0.awaitingReady.isEmpty && !$0.held.isEmpty }.count
                return fail(
                    "only \(live.count) of \(configuration.expectedWorkers) workers joined and \(ready) became ready "
                        + "within \(formatSeconds(configuration.timing.joinTimeout)) s")
            }
        case .ready, .round: break
        }
        var directives: [Directive] = []
        for index in workers.indices where workers[index].isLive {
            let silence = now - workers[index].lastHeard
            if silence > configuration.timing.workerTimeout {
                directives += lose(index, "silent for \(formatSeconds(silence)) s \(phaseDescription)", now: now)
                if case .failed = phase { return directives }
                continue
            }
            if now - workers[index].lastSent >= configuration.timing.heartbeatInterval {
                workers[index].lastSent = now
                directives.append(.send(to: workers[index].peer, .heartbeat, round: 0))
            }
        }
        if case .round = phase {
            directives += enforceDeadline(now: now)
            if case .round = phase { directives += startBackups(now: now) }
        }
        return directives
    }

    /// Starts a round at `parameters` under `request` (only in the ready phase, and with a round number
    /// above every earlier one: stale answers are recognised by their older round).
    public mutating func startRound(_ request: RoundRequest, parameters: [Double], now: Double) -> [Directive] {
        let round = request.round
        guard phase == .ready else { return fail("round \(round) requested in phase \(phase)") }
        if let latest = current?.round, round <= latest {
            return fail("round \(round) requested after round \(latest): round numbers must increase")
        }
        guard round >= 0 else { return fail("round \(round) requested: round numbers are never negative") }
        let mask: [Bool]?
        do {
            mask = try ShardEngine.activeMask(configuration.jobSpec.schedule, request)
        } catch {
            return fail("\(error)")
        }
        var directives: [Directive] = []
        if needsRebalance { directives += rebalance(now: now, round: round) }
        var state = RoundState(
            round: round, request: request, parameters: parameters, startedAt: now, activeMask: mask, tasks: [])
        for index in workers.indices {
            workers[index].roundCompute = 0
            workers[index].answeredThisRound = false
        }
        for index in workers.indices where workers[index].isLive {
            var ranges: [Range<Int>] = []
            for range in workers[index].assigned.ranges {
                guard var task = Self.task(range, tree: tree, plan: configuration.plan, mask: mask, askedOf: index) else {
                    continue
                }
                task.askedAt[index] = now
                state.tasks.append(task)
                ranges.append(range)
            }
            if !ranges.isEmpty { directives.append(params(round: state, to: index, ranges: ranges, now: now)) }
        }
        state.taskOfBlock = [Int](repeating: -1, count: configuration.plan.blockCount)
        for (position, task) in state.tasks.enumerated() {
            for block in task.range { state.taskOfBlock[block] = position }
        }
        state.pending = state.tasks.count
        current = state
        phase = .round(round)
        if state.tasks.isEmpty { return directives + complete(now: now) }
        return directives
    }

    /// Tells every live worker to exit (`jobFailed`: with a non-zero status).
    public mutating func finish(reason: String, jobFailed: Bool = false) -> [Directive] {
        liveWorkers.map { .send(to: $0.peer, .done(reason: reason, jobFailed: jobFailed), round: 0) }
    }

    // MARK: Joining

    private mutating func receivedFromStranger(_ frame: Frame, peer: PeerID, now: Double) -> [Directive] {
        guard case .hello(let pid, let cores, let rawHostname, let rawSoftware) = frame.message else {
            return refuseStranger(
                peer, "ignored a \(frame.message.type) message from unknown peer \(hex(peer))", reason: nil)
        }
        // Peer strings reach the logs: control characters escaped, lengths bounded.
        let hostname = Self.printable(rawHostname, limit: 64)
        let software = Self.printable(rawSoftware, limit: 256)
        func refuse(_ reason: String) -> [Directive] {
            refuseStranger(peer, "refused worker pid \(pid) on \(hostname): \(reason)", reason: reason)
        }
        if let required = configuration.requiredSoftware, software != required {
            return refuse("incompatible worker: it runs \(software), the coordinator \(required)")
        }
        let live = liveWorkers.count
        switch phase {
        case .joining where live < awaitedWorkers: break
        case .shipping, .ready, .round:
            guard live < maxWorkers else { return refuse("the job already has its \(maxWorkers) workers") }
        default:
            return refuse("the job already has its \(configuration.expectedWorkers) workers")
        }
        let spec: [UInt8]
        do {
            spec = try configuration.jobSpec.encoded()
        } catch {
            return fail("cannot welcome worker pid \(pid) on \(hostname): \(error)")
        }
        let worker = Worker(
            index: workers.count, peer: peer, pid: pid, hostname: hostname, cores: Int(cores), lastHeard: now,
            lastSent: now)
        workers.append(worker)
        peerIndex[peer] = worker.index
        var directives: [Directive] = [
            .log(.info, "\(worker.name) joined (\(cores) cores, \(software)); \(live + 1)/\(configuration.expectedWorkers)"),
            .send(
                to: peer,
                .welcome(
                    workerIndex: UInt32(worker.index), workerCount: UInt32(max(configuration.expectedWorkers, worker.index + 1)),
                    jobSpec: spec),
                round: 0),
        ]
        if phase == .joining {
            if live + 1 == awaitedWorkers {
                phase = .shipping
                directives += rebalance(now: now, round: nil)
            }
        } else {
            counters.workersJoined += 1
            needsRebalance = true
            directives.append(.event(.workerJoined(index: worker.index, name: worker.name)))
        }
        return directives
    }

    /// Balanced contiguous shards over the live workers (by index), each also held by the next one with two
    /// replicas; every worker is sent the HOLD and the blocks it lacks.
    private mutating func rebalance(now: Double, round: Int?) -> [Directive] {
        needsRebalance = false
        let live = workers.indices.filter { workers[$0].isLive }
        let shards = Self.shards(blockCount: configuration.plan.blockCount, workers: live.count)
        var directives: [Directive] = []
        for (position, index) in live.enumerated() {
            var held = BlockRanges([shards[position]])
            if configuration.resilience.replicas == 2, live.count > 1 {
                held.insert(shards[(position + 1) % live.count])
            }
            let previous = workers[index].assigned
            workers[index].assigned = BlockRanges([shards[position]])
            let moved = workers[index].assigned.subtracting(previous)
            directives += hold(held, for: index, now: now)
            if phase != .shipping, !moved.isEmpty {
                directives.append(
                    .event(.blocksReassigned(from: nil, to: index, blocks: moved, shipped: true, round: round)))
            }
        }
        return directives
    }

    /// Sends `held` as the worker's new holdings, and the blocks it lacks.
    private mutating func hold(_ held: BlockRanges, for index: Int, now: Double) -> [Directive] {
        // Unchanged holdings need no HOLD, except the first one a worker gets (even an empty one: it answers READY).
        let first = workers[index].held.isEmpty && workers[index].awaitingReady.isEmpty
        guard held != workers[index].held || first else { return [] }
        let missing = held.subtracting(workers[index].held)
        workers[index].held = held
        workers[index].awaitingReady.append(Counts(blocks: held.blockCount, rows: rows(held)))
        workers[index].lastSent = now
        return [.send(to: workers[index].peer, .hold(ranges: held.ranges), round: 0)]
            + missing.ranges.map { .shipBlocks(to: workers[index].peer, blocks: $0) }
    }

    private mutating func receivedReady(worker index: Int, counts: Counts, now: Double) -> [Directive] {
        let worker = workers[index]
        guard let expected = worker.awaitingReady.first else {
            return lose(index, "sent READY without a HOLD to answer", now: now)
        }
        guard counts == expected else {
            return lose(
                index,
                "holds \(counts.blocks) blocks / \(counts.rows) rows, expected \(expected.blocks) / \(expected.rows)",
                now: now)
        }
        workers[index].awaitingReady.removeFirst()
        return checkAllReady()
    }

    private mutating func checkAllReady() -> [Directive] {
        guard phase == .shipping, liveWorkers.allSatisfy(\.awaitingReady.isEmpty) else { return [] }
        phase = .ready
        return [.log(.info, liveWorkers.count == 1 ? "the worker is ready" : "all \(liveWorkers.count) workers ready"), .allReady]
    }

    // MARK: Rounds

    /// The task of `range` in a round with `mask`, or nil when none of its blocks is active.
    static func task(_ range: Range<Int>, tree: ReductionTree, plan: BlockPlan, mask: [Bool]?, askedOf: Int) -> Task? {
        let isActive = { (block: Int) in mask?[block] ?? true }
        let nodes = tree.coveringNodes(of: range).filter { tree.blocks(of: $0).contains(where: isActive) }
        guard !nodes.isEmpty else { return nil }
        let rows = nodes.map { node in tree.blocks(of: node).filter(isActive).reduce(0) { $0 + plan.rowCount(ofBlock: $1) } }
        return Task(range: range, nodes: nodes, rows: rows, askedOf: [askedOf])
    }

    private mutating func params(round state: RoundState, to index: Int, ranges: [Range<Int>], now: Double) -> Directive {
        workers[index].lastSent = now
        let message = Message.params(
            state.parameters, smoothing: state.request.smoothing, batchStep: state.request.batchStep.map { UInt64($0) },
            ranges: ranges)
        return .send(to: workers[index].peer, message, round: UInt64(state.round))
    }

    private mutating func receivedPartials(
        worker index: Int, round wireRound: UInt64, computeSeconds: Double, nodes: [NodeSums], now: Double
    ) -> [Directive] {
        let worker = workers[index]
        guard let snapshot = current, let round = Int(exactly: wireRound), round <= snapshot.round else {
            return lose(index, "sent partial sums for round \(wireRound), which was never started", now: now)
        }
        if round < snapshot.round {
            counters.staleFrames += 1
            return [.log(.warning, "\(worker.name): dropped partial sums of old round \(round)")]
        }
        // Each node belongs to the one task whose range contains it; a task is answered whole or not at all.
        var byTask: [Int: [NodeSums]] = [:]
        for sums in nodes {
            let blocks = tree.blocks(of: sums.node)
            let candidate = tree.exists(sums.node) ? snapshot.taskOfBlock[blocks.lowerBound] : -1
            guard candidate >= 0, blocks.upperBound <= snapshot.tasks[candidate].range.upperBound,
                case let task = candidate
            else {
                return lose(index, "sent sums for \(sums.node), which no task of round \(round) covers", now: now)
            }
            byTask[task, default: []].append(sums)
        }
        for (task, answer) in byTask.sorted(by: { $0.key < $1.key }) {
            let expected = snapshot.tasks[task]
            guard expected.askedOf.contains(index) else {
                return lose(index, "sent sums for blocks \(expected.range) in round \(round), which it was not asked for", now: now)
            }
            guard answer.map(\.node) == expected.nodes else {
                return lose(index, "sent sums for \(answer.map(\.node)) in round \(round), expected \(expected.nodes)", now: now)
            }
            if let mismatch = zip(answer, expected.rows).first(where: { $0.rowCount != $1 }) {
                return lose(index, "reports \(mismatch.0.rowCount) rows for \(mismatch.0.node) in round \(round)", now: now)
            }
        }
        workers[index].roundCompute += computeSeconds
        workers[index].answeredThisRound = true
        var directives: [Directive] = []
        // Moved out of `current` so that the task array is mutated in place, not copied per answer.
        var state = consume snapshot
        current = nil
        var faulty: [(worker: Int, reason: String)] = []
        for (task, answer) in byTask.sorted(by: { $0.key < $1.key }) {
            if let first = state.tasks[task].result {
                counters.duplicateAnswers += 1
                if !Self.sameBits(first, answer) {
                    counters.disagreements += 1
                    directives.append(
                        .log(
                            .warning,
                            "\(worker.name) and another worker disagree on blocks \(state.tasks[task].range) in round "
                                + "\(round): the first answer was kept"))
                }
                continue
            }
            if let suspect = state.tasks[task].suspect, suspect.worker != index {
                // A second worker's computation decides: the same bits make the values genuine (the parameters
                // or the data produce them); other bits make the suspect faulty.
                if !Self.sameBits(suspect.answer, answer) {
                    faulty.append(
                        (suspect.worker, "returned impossible partial sums for blocks \(state.tasks[task].range) in round "
                            + "\(round) (\(suspect.why)); \(worker.name) computed other values"))
                } else {
                    directives.append(.log(.info, "round \(round): \(worker.name) confirms the \(suspect.why) of blocks \(state.tasks[task].range)"))
                }
                state.tasks[task].result = answer
                state.tasks[task].answeredAfter = now - state.startedAt
                state.pending -= 1
                continue
            }
            if state.tasks[task].suspect == nil, let why = suspicion(answer) {
                let others = workers.indices.filter { workers[$0].isLive && $0 != index }
                if let verifier = others.first(where: { workers[$0].held.contains(state.tasks[task].range) })
                    ?? others.min(by: { rows(workers[$0].held) < rows(workers[$1].held) })
                {
                    counters.verifications += 1
                    state.tasks[task].suspect = (index, answer, why)
                    state.tasks[task].askedOf.removeAll { $0 == index }
                    state.tasks[task].askedOf.append(verifier)
                    state.tasks[task].askedAt[verifier] = now
                    state.tasks[task].backedUp = true
                    let range = state.tasks[task].range
                    directives.append(
                        .log(
                            .warning,
                            "round \(round): \(worker.name) sent \(why) for blocks \(range); \(workers[verifier].name) computes them to check"))
                    directives += hold(workers[verifier].held.union(BlockRanges([range])), for: verifier, now: now)
                    directives.append(params(round: state, to: verifier, ranges: [range], now: now))
                    continue
                }
                directives.append(
                    .log(.warning, "round \(round): \(worker.name) sent \(why); no other worker can check it"))
            }
            state.tasks[task].result = answer
            state.tasks[task].answeredAfter = now - state.startedAt
            state.pending -= 1
        }
        current = state
        for (faultyWorker, reason) in faulty {
            directives += lose(faultyWorker, reason, now: now)
            if case .failed = phase { return directives }
        }
        guard let state = current, !state.complete, state.pending == 0 else { return directives }
        return directives + complete(now: now)
    }

    /// Every task answered: reduce in tree order.
    private mutating func complete(now: Double) -> [Directive] {
        guard var state = current else { return [] }
        state.complete = true
        current = state
        var received: [TreeNode: [Double]] = [:]
        for sums in state.tasks.flatMap({ $0.result ?? [] }) { received[sums.node] = sums.values }
        let isActive = { (block: Int) in state.activeMask?[block] ?? true }
        let sums: [Double]
        do {
            sums = try tree.combine(received, isActive: isActive)
        } catch {
            return fail("round \(state.round): \(error)")
        }
        if let slowest = state.tasks.compactMap(\.answeredAfter).max() {
            slowestAnswer = max(slowestAnswer ?? 0, slowest)
        }
        phase = .ready
        let rows = state.tasks.reduce(0) { $0 + $1.rows.reduce(0, +) }
        let timings = workers.filter(\.answeredThisRound).map {
            WorkerTiming(worker: $0.index, computeSeconds: $0.roundCompute)
        }
        return [.roundComplete(Evaluation(sums: sums, rowCount: rows, workerTimings: timings))]
    }

    /// Workers that have not answered a task of theirs for `deadlineFactor` × the slowest answer so far (at
    /// least `workerTimeout`; the join timeout before any round completed) are lost: heartbeats alone do not
    /// keep a worker in the job.
    private mutating func enforceDeadline(now: Double) -> [Directive] {
        guard let state = current, !state.complete else { return [] }
        let timing = configuration.timing
        let limit = slowestAnswer.map { max(timing.workerTimeout, Resilience.deadlineFactor * $0) } ?? timing.joinTimeout
        var late = Set<Int>()
        for task in state.tasks where task.result == nil {
            for index in task.askedOf where workers[index].isLive && now - (task.askedAt[index] ?? state.startedAt) > limit {
                late.insert(index)
            }
        }
        var directives: [Directive] = []
        for index in late.sorted() {
            directives += lose(
                index, "did not answer round \(state.round) within \(formatSeconds(limit)) s (its heartbeats alone do not count)",
                now: now)
            if case .failed = phase { break }
        }
        return directives
    }

    /// Backups for pending tasks once the round's answered tasks show what "slow" means.
    private mutating func startBackups(now: Double) -> [Directive] {
        guard var state = current, !state.complete, configuration.resilience.stragglerFactor.isFinite else { return [] }
        let times = state.tasks.compactMap(\.answeredAfter).sorted()
        guard !times.isEmpty else { return [] }
        let median = times[times.count / 2]
        let waited = now - state.startedAt
        guard waited > max(configuration.resilience.stragglerFactor * median, Resilience.stragglerFloor) else { return [] }
        let busy = Set(state.tasks.filter { $0.result == nil }.flatMap(\.askedOf))
        var idle = workers.indices.filter { workers[$0].isLive && !busy.contains($0) }
        var directives: [Directive] = []
        for position in state.tasks.indices where state.tasks[position].result == nil && !state.tasks[position].backedUp {
            let range = state.tasks[position].range
            // A worker that holds the blocks answers soonest; otherwise the one holding the fewest rows.
            guard let backup = idle.first(where: { workers[$0].held.contains(range) }) ?? idle.min(by: { rows(workers[$0].held) < rows(workers[$1].held) })
            else { break }
            idle.removeAll { $0 == backup }
            state.tasks[position].backedUp = true
            state.tasks[position].askedOf.append(backup)
            state.tasks[position].askedAt[backup] = now
            counters.backups += 1
            let straggler = state.tasks[position].askedOf[0]
            directives.append(
                .event(.backupStarted(straggler: straggler, backup: backup, blocks: range, round: state.round, waitedSeconds: waited)))
            directives.append(
                .log(
                    .warning,
                    "round \(state.round): \(workers[straggler].name) still computing blocks \(range.lowerBound)..<\(range.upperBound) "
                        + "after \(formatSeconds(waited)) s (median answer \(formatSeconds(median)) s); \(workers[backup].name) computes them too"))
            directives += hold(workers[backup].held.union(BlockRanges([range])), for: backup, now: now)
            directives.append(params(round: state, to: backup, ranges: [range], now: now))
        }
        current = state
        return directives
    }

    /// Why `answer` cannot be what honest blocks produce: a non-finite value, or a negative loss sum when the
    /// model's loss is never negative (nil: plausible).
    private func suspicion(_ answer: [NodeSums]) -> String? {
        for sums in answer {
            if let position = sums.values.firstIndex(where: { !$0.isFinite }) {
                return "a non-finite value (\(sums.values[position]) at position \(position) of \(sums.node))"
            }
            if configuration.lossIsNonNegative, let loss = sums.values.first, loss < 0 {
                return "a negative loss sum (\(loss) for \(sums.node))"
            }
        }
        return nil
    }

    static func sameBits(_ a: [NodeSums], _ b: [NodeSums]) -> Bool {
        a.count == b.count
            && zip(a, b).allSatisfy { $0.node == $1.node && $0.values.map(\.bitPattern) == $1.values.map(\.bitPattern) }
    }

    /// Rows of the plan in `blocks`.
    private func rows(_ blocks: BlockRanges) -> Int {
        blocks.ranges.reduce(0) { $0 + configuration.plan.rowCount(ofBlocks: $1) }
    }

    // MARK: Losses

    /// Removes a worker from the job and gives its blocks (and its unanswered tasks) to live workers.
    private mutating func lose(_ index: Int, _ reason: String, now: Double) -> [Directive] {
        guard workers[index].isLive else { return [] }
        workers[index].lostReason = reason
        counters.workersLost += 1
        let lost = workers[index]
        let inFlight: Int? = if case .round(let round) = phase { round } else { nil }
        var directives: [Directive] = [
            .log(.warning, "\(lost.name) lost: \(reason)"),
            .event(.workerLost(index: index, reason: reason, round: inFlight, silentSeconds: now - lost.lastHeard)),
            // If it is still there (a protocol violation, a missed deadline), it stops.
            .send(to: lost.peer, .done(reason: "dropped from the job: \(reason)", jobFailed: true), round: 0),
        ]
        workers[index].toldToLeave = true
        if phase == .joining { return directives }
        let live = liveWorkers.count
        guard live >= configuration.resilience.minWorkers else {
            return directives
                + fail(
                    "\(lost.name) lost (\(reason)); \(live) live worker\(live == 1 ? "" : "s") left, fewer than --min-workers "
                        + "\(configuration.resilience.minWorkers)")
        }
        for range in lost.assigned.ranges {
            let candidates = workers.indices.filter { workers[$0].isLive }
            let holders = candidates.filter { workers[$0].held.contains(range) }
            let target = (holders.isEmpty ? candidates : holders).min { rows(workers[$0].assigned) < rows(workers[$1].assigned) }!
            let shipped = holders.isEmpty
            workers[target].assigned.insert(range)
            counters.reassignments += 1
            directives += hold(workers[target].held.union(BlockRanges([range])), for: target, now: now)
            directives.append(
                .event(.blocksReassigned(from: index, to: target, blocks: BlockRanges([range]), shipped: shipped, round: inFlight)))
            directives.append(
                .log(
                    .info,
                    "blocks \(range.lowerBound)..<\(range.upperBound) of \(lost.name) go to \(workers[target].name)"
                        + (shipped ? " (shipped)" : " (already held)")))
        }
        workers[index].assigned = BlockRanges()
        if var state = current, !state.complete {
            for position in state.tasks.indices where state.tasks[position].result == nil {
                guard !state.tasks[position].askedOf.contains(where: { workers[$0].isLive }) else { continue }
                let range = state.tasks[position].range
                guard let owner = workers.indices.first(where: { workers[$0].isLive && workers[$0].assigned.contains(range) })
                else { continue }
                state.tasks[position].askedOf.append(owner)
                state.tasks[position].askedAt[owner] = now
                // Re-asked just now: no backup on top of it.
                state.tasks[position].backedUp = true
                directives.append(params(round: state, to: owner, ranges: [range], now: now))
            }
            current = state
        }
        return directives + checkAllReady()
    }

    /// A lost worker that still sends frames is told once to leave; the frames are dropped.
    private mutating func toldToLeave(_ index: Int) -> [Directive] {
        counters.staleFrames += 1
        guard !workers[index].toldToLeave else { return [] }
        workers[index].toldToLeave = true
        let reason = workers[index].lostReason ?? "lost"
        return [.send(to: workers[index].peer, .done(reason: "dropped from the job: \(reason)", jobFailed: true), round: 0)]
    }

    private mutating func fail(_ message: String) -> [Directive] {
        phase = .failed(message)
        return [.log(.error, message), .fail(message)]
    }

    /// Contiguous, balanced shards: worker k gets blocks [k·n/W, (k+1)·n/W).
    public static func shards(blockCount: Int, workers: Int) -> [Range<Int>] {
        (0..<workers).map { k in (k * blockCount / workers)..<((k + 1) * blockCount / workers) }
    }
}

extension CoordinatorInstance {
    /// `text` with control characters (newlines, ANSI escapes) written as `\u{…}` and cut to `limit` characters,
    /// so that a peer cannot forge or garble log lines.
    static func printable(_ text: String, limit: Int) -> String {
        var result = ""
        for scalar in text.unicodeScalars.prefix(limit) {
            if scalar.properties.generalCategory == .control || scalar.properties.generalCategory == .format {
                result += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return text.unicodeScalars.count > limit ? result + "…" : result
    }
}

func hex(_ bytes: [UInt8]) -> String {
    bytes.map { byte in
        let digits = String(byte, radix: 16)
        return digits.count == 1 ? "0" + digits : digits
    }.joined()
}

/// Seconds rounded to tenths, for messages.
public func formatSeconds(_ seconds: Double) -> String {
    let tenths = (seconds * 10).rounded() / 10
    return String(tenths)
}
