import ShardData
import ShardEngine
import ShardModels
import ShardNumerics
import ShardWire

/// The coordinator's protocol logic as a pure state machine: events in, directives out, time passed in.
///
/// It knows nothing of sockets or of the data: `CoordinatorShell` feeds it decoded frames and clock ticks
/// and carries out what it returns. Life cycle:
///
///     joining   — HELLO from `expectedWorkers` peers (others are refused)
///     shipping  — WELCOME + BLOCKS sent to each worker; wait for READY with the right counts
///     ready     — idle between rounds
///     round r   — PARAMS sent; wait for PARTIALS from every worker, then reduce in tree order
///     failed    — a worker died, went silent (no frame for `workerTimeout` seconds), sent a bad frame,
///                 reported a failure, or broke the protocol; the job stops (recovery is not implemented)
///
/// Round numbers must increase from one `startRound` to the next. PARTIALS are judged by their round
/// against the latest round started, in every phase:
///
///     older than the latest round       stale: dropped and counted in `staleFrames`
///     the round in flight               accepted once per worker (a second one fails the job)
///     the latest round, already reduced a second answer from that worker: fails the job
///     newer than the latest round       fails the job (the worker answers PARAMS it was never sent)
public struct CoordinatorInstance: Sendable {
    public typealias PeerID = [UInt8]

    public struct Configuration: Sendable {
        public var expectedWorkers: Int
        public var jobID: UInt64
        /// The run's blocks (to build the tree and check READY and PARTIALS row counts).
        public var plan: BlockPlan
        public var makeJobSpec: @Sendable (_ workerIndex: Int, _ blocks: Range<Int>) -> JobSpec
        /// Heartbeats, the silence after which a worker is dead, and how long to wait for all to be ready.
        public var timing: ClusterTiming
        /// Which blocks a mini-batch step uses (nil: full-batch rounds only).
        public var schedule: BatchSchedule?
        /// The HELLO `software` a worker must send (by default `WorkerShell.software`: the same protocol
        /// and numeric kernels as the coordinator); nil accepts any.
        public var requiredSoftware: String?

        public init(
            expectedWorkers: Int, jobID: UInt64, plan: BlockPlan,
            makeJobSpec: @escaping @Sendable (Int, Range<Int>) -> JobSpec,
            timing: ClusterTiming, schedule: BatchSchedule? = nil,
            requiredSoftware: String? = nil
        ) {
            self.schedule = schedule
            self.requiredSoftware = requiredSoftware
            self.expectedWorkers = expectedWorkers
            self.jobID = jobID
            self.plan = plan
            self.makeJobSpec = makeJobSpec
            self.timing = timing
        }
    }

    /// A worker that joined.
    public struct Worker: Sendable, Equatable {
        public let index: Int
        public let peer: PeerID
        public let pid: UInt32
        public let hostname: String
        public let cores: Int
        public var blocks: Range<Int> = 0..<0
        public var ready = false
        public var lastHeard: Double
        public var lastSent: Double
        /// Partial sums received for the round in flight.
        public var partials: [TreeNode: [Double]]? = nil
        public var computeSeconds: Double = 0

        /// "worker 1 (pid 4242 on node-a)": how messages name a worker.
        public var name: String { "worker \(index) (pid \(pid) on \(hostname))" }
    }

    public enum Phase: Sendable, Equatable {
        case joining
        case shipping
        case ready
        case round(Int)
        case failed(String)
    }

    /// What the shell must do.
    public enum Directive: Sendable, Equatable {
        case send(to: PeerID, Message, round: UInt64)
        /// Send the blocks of `blocks` to the peer (the shell holds the data).
        case shipBlocks(to: PeerID, blocks: Range<Int>)
        case log(LogLevel, String)
        /// Every worker holds its shard: rounds can start.
        case allReady
        case roundComplete(Evaluation)
        /// The job cannot go on; the shell stops and exits non-zero with this message.
        case fail(String)
    }

    public enum LogLevel: Sendable, Equatable { case info, warning, error }

    public let configuration: Configuration
    public private(set) var phase: Phase = .joining
    public private(set) var workers: [Worker] = []
    /// Frames dropped because they belonged to another job or an earlier round.
    public private(set) var staleFrames = 0
    private let startedAt: Double
    /// The blocks taking part in the round in flight (nil = all).
    private var activeMask: [Bool]?
    /// The round most recently started (nil before the first).
    private var latestRound: Int?

    public init(configuration: Configuration, now: Double) {
        self.configuration = configuration
        self.startedAt = now
    }

    // MARK: Events

    /// A frame from `peer` that decoded successfully.
    public mutating func received(_ frame: Frame, from peer: PeerID, now: Double) -> [Directive] {
        if case .failed = phase { return [] }
        guard let index = workers.firstIndex(where: { $0.peer == peer }) else {
            return receivedFromStranger(frame, peer: peer, now: now)
        }
        workers[index].lastHeard = now
        let worker = workers[index]
        // HELLO carries no job id (job 0), so it is checked before frames of other jobs are dropped.
        if case .hello = frame.message { return fail("\(worker.name) sent HELLO twice") }
        // Before WELCOME a worker does not know the job id yet: its heartbeats carry 0.
        let earlyHeartbeat = frame.jobID == 0 && frame.message == .heartbeat
        if frame.jobID != configuration.jobID, !earlyHeartbeat {
            staleFrames += 1
            return [.log(.warning, "\(worker.name): dropped a frame of job \(frame.jobID) (this job is \(configuration.jobID))")]
        }
        switch frame.message {
        case .heartbeat:
            return []
        case .failure(let reason):
            return fail("\(worker.name) failed \(phaseDescription): \(reason)")
        case .ready(let blockCount, let rowCount):
            return receivedReady(worker: index, blockCount: Int(blockCount), rowCount: rowCount)
        case .partials(let computeSeconds, let nodes):
            return receivedPartials(worker: index, round: frame.round, computeSeconds: computeSeconds, nodes: nodes)
        default:
            return fail("\(worker.name) sent an unexpected \(frame.message.type) message")
        }
    }

    /// Bytes from `peer` that did not decode.
    public mutating func receivedMalformed(from peer: PeerID, error: String, now: Double) -> [Directive] {
        if case .failed = phase { return [] }
        if let worker = workers.first(where: { $0.peer == peer }) {
            return fail("\(worker.name) sent a malformed frame \(phaseDescription): \(error)")
        }
        return [
            .log(.warning, "refused peer \(hex(peer)): \(error)"),
            .send(to: peer, .refuse(reason: error), round: 0),
        ]
    }

    /// A frame for `peer` could not be sent (it disconnected, or its queue is gone).
    public mutating func sendFailed(to peer: PeerID, error: String, now: Double) -> [Directive] {
        if case .failed = phase { return [] }
        guard let worker = workers.first(where: { $0.peer == peer }) else {
            return [.log(.warning, "could not answer peer \(hex(peer)): \(error)")]
        }
        return fail("\(worker.name) cannot be reached \(phaseDescription): \(error)")
    }

    /// "during round 7", "while receiving its blocks", …: where the job was when something happened.
    var phaseDescription: String {
        switch phase {
        case .round(let round): "during round \(round)"
        case .shipping: "while receiving its blocks"
        case .joining: "while workers were joining"
        case .ready, .failed: "between rounds"
        }
    }

    /// Time passes: send heartbeats, detect silent workers, enforce the join timeout.
    public mutating func tick(now: Double) -> [Directive] {
        switch phase {
        case .failed: return []
        case .joining, .shipping:
            if now - startedAt > configuration.timing.joinTimeout {
                let joined = workers.filter(\.ready).count
                return fail(
                    "only \(workers.count) of \(configuration.expectedWorkers) workers joined and \(joined) became ready "
                        + "within \(formatSeconds(configuration.timing.joinTimeout)) s")
            }
        case .ready, .round: break
        }
        var directives: [Directive] = []
        for index in workers.indices {
            let silence = now - workers[index].lastHeard
            if silence > configuration.timing.workerTimeout {
                return fail(
                    "\(workers[index].name) silent for \(formatSeconds(silence)) s \(phaseDescription); giving up")
            }
            if now - workers[index].lastSent >= configuration.timing.heartbeatInterval {
                workers[index].lastSent = now
                directives.append(.send(to: workers[index].peer, .heartbeat, round: 0))
            }
        }
        return directives
    }

    /// Starts a round at `parameters` under `request` (only in the ready phase, and with a round number
    /// above every earlier one: stale answers are recognised by their older round).
    public mutating func startRound(_ request: RoundRequest, parameters: [Double], now: Double) -> [Directive] {
        let round = request.round
        guard phase == .ready else { return fail("round \(round) requested in phase \(phase)") }
        if let latestRound, round <= latestRound {
            return fail("round \(round) requested after round \(latestRound): round numbers must increase")
        }
        guard round >= 0 else { return fail("round \(round) requested: round numbers are never negative") }
        do {
            activeMask = try ShardEngine.activeMask(configuration.schedule, request)
        } catch {
            return fail("\(error)")
        }
        phase = .round(round)
        latestRound = round
        var directives: [Directive] = []
        for index in workers.indices {
            workers[index].partials = nil
            workers[index].lastSent = now
            let message = Message.params(
                parameters, smoothing: request.smoothing, batchStep: request.batchStep.map { UInt64($0) })
            directives.append(.send(to: workers[index].peer, message, round: UInt64(round)))
        }
        return directives
    }

    private func isActive(_ block: Int) -> Bool { activeMask?[block] ?? true }

    /// Tells every worker to exit.
    public mutating func finish(reason: String) -> [Directive] {
        workers.map { .send(to: $0.peer, .done(reason: reason), round: 0) }
    }

    // MARK: Handlers

    private mutating func receivedFromStranger(_ frame: Frame, peer: PeerID, now: Double) -> [Directive] {
        guard case .hello(let pid, let cores, let hostname, let software) = frame.message else {
            return [
                .log(.warning, "ignored a \(frame.message.type) message from unknown peer \(hex(peer))"),
            ]
        }
        if let required = configuration.requiredSoftware, software != required {
            let reason = "incompatible worker: it runs \(software), the coordinator \(required)"
            return [
                .log(.warning, "refused worker pid \(pid) on \(hostname): \(reason)"),
                .send(to: peer, .refuse(reason: reason), round: 0),
            ]
        }
        guard phase == .joining, workers.count < configuration.expectedWorkers else {
            let reason = "the job already has its \(configuration.expectedWorkers) workers"
            return [
                .log(.warning, "refused worker pid \(pid) on \(hostname): \(reason)"),
                .send(to: peer, .refuse(reason: reason), round: 0),
            ]
        }
        let worker = Worker(
            index: workers.count, peer: peer, pid: pid, hostname: hostname, cores: Int(cores), lastHeard: now,
            lastSent: now)
        workers.append(worker)
        var directives: [Directive] = [
            .log(.info, "\(worker.name) joined (\(cores) cores, \(software)); \(workers.count)/\(configuration.expectedWorkers)")
        ]
        if workers.count == configuration.expectedWorkers {
            phase = .shipping
            let shards = Self.shards(blockCount: configuration.plan.blockCount, workers: workers.count)
            for index in workers.indices {
                workers[index].blocks = shards[index]
                workers[index].lastSent = now
                let spec: [UInt8]
                do {
                    spec = try configuration.makeJobSpec(index, shards[index]).encoded()
                } catch {
                    return directives + fail("cannot welcome \(workers[index].name): \(error)")
                }
                directives.append(
                    .send(
                        to: workers[index].peer,
                        .welcome(workerIndex: UInt32(index), workerCount: UInt32(workers.count), jobSpec: spec),
                        round: 0))
                directives.append(.shipBlocks(to: workers[index].peer, blocks: shards[index]))
            }
        }
        return directives
    }

    private mutating func receivedReady(worker index: Int, blockCount: Int, rowCount: UInt64) -> [Directive] {
        let worker = workers[index]
        guard phase == .shipping, !worker.ready else { return fail("\(worker.name) sent READY out of turn") }
        let expectedRows = configuration.plan.rowCount(ofBlocks: worker.blocks)
        guard blockCount == worker.blocks.count, Int(exactly: rowCount) == expectedRows else {
            return fail(
                "\(worker.name) holds \(blockCount) blocks / \(rowCount) rows, expected \(worker.blocks.count) / \(expectedRows)")
        }
        workers[index].ready = true
        guard workers.allSatisfy(\.ready) else { return [] }
        phase = .ready
        return [.log(.info, "all \(workers.count) workers ready"), .allReady]
    }

    private mutating func receivedPartials(
        worker index: Int, round wireRound: UInt64, computeSeconds: Double, nodes: [NodeSums]
    ) -> [Directive] {
        let worker = workers[index]
        var inFlight: Int?
        if case .round(let current) = phase { inFlight = current }
        // A round beyond Int.max is newer than any round started.
        if let round = Int(exactly: wireRound), let latestRound, round <= latestRound {
            if round < latestRound {
                staleFrames += 1
                return [.log(.warning, "\(worker.name): dropped partial sums of old round \(round)")]
            }
            // The latest round was reduced, so this worker's answer to it has been counted already.
            if inFlight == nil { return fail("\(worker.name) sent partial sums twice in round \(round)") }
        }
        guard let round = inFlight, Int(exactly: wireRound) == round else {
            let state = inFlight.map { "round \($0) is in flight" } ?? "no round is in flight"
            return fail("\(worker.name) sent partial sums for round \(wireRound) while \(state)")
        }
        guard worker.partials == nil else { return fail("\(worker.name) sent partial sums twice in round \(round)") }
        let tree = ReductionTree(blockCount: configuration.plan.blockCount)
        let expected = tree.coveringNodes(of: worker.blocks).filter { tree.blocks(of: $0).contains(where: isActive) }
        let got = nodes.map(\.node)
        guard got == expected else {
            return fail("\(worker.name) sent sums for \(got) in round \(round), expected \(expected)")
        }
        var received: [TreeNode: [Double]] = [:]
        for (node, partial) in zip(got, nodes) {
            let rows = tree.blocks(of: node).filter(isActive).reduce(0) { $0 + configuration.plan.rowCount(ofBlock: $1) }
            guard partial.rowCount == rows else {
                return fail("\(worker.name) reports \(partial.rowCount) rows for \(node), expected \(rows)")
            }
            received[node] = partial.values
        }
        workers[index].partials = received
        workers[index].computeSeconds = computeSeconds
        guard workers.allSatisfy({ $0.partials != nil }) else { return [] }

        var all: [TreeNode: [Double]] = [:]
        for worker in workers { all.merge(worker.partials!) { first, _ in first } }
        let sums: [Double]
        do {
            sums = try tree.combine(all, isActive: isActive)
        } catch {
            return fail("round \(round): \(error)")
        }
        phase = .ready
        let rows = (0..<configuration.plan.blockCount).filter(isActive).reduce(0) { $0 + configuration.plan.rowCount(ofBlock: $1) }
        let evaluation = Evaluation(
            sums: sums, rowCount: rows,
            workerTimings: workers.map { WorkerTiming(worker: $0.index, computeSeconds: $0.computeSeconds) })
        return [.roundComplete(evaluation)]
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

func hex(_ bytes: [UInt8]) -> String {
    bytes.map { byte in
        let digits = String(byte, radix: 16)
        return digits.count == 1 ? "0" + digits : digits
    }.joined()
}

func formatSeconds(_ seconds: Double) -> String {
    let tenths = (seconds * 10).rounded() / 10
    return String(tenths)
}
