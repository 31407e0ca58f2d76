import Foundation
import Logging
import ShardData
import ShardEngine
import ShardModels
import ShardNumerics
import ShardProtocol
import ShardWire
import ZeroMQ

/// How a coordinator gets the blocks to its workers.
public enum BlockTransport: Sendable {
    /// BLOCKS messages over the socket (~8 MiB each): works across machines.
    case messages
    /// One shared-memory region, workers told where their blocks lie (`Message.sharedBlocks`) and computing on a
    /// mapping of it: only for workers on the coordinator's machine (they open `/proc/<coordinator pid>/fd/<fd>`).
    /// Blocks reassigned after a loss are mapped from the same region. The region is `arena` when the blocks are
    /// views of it (the data was read into it, `SharedArena`), else the blocks are written into a new one with
    /// `threads` threads while the workers join.
    case sharedMemory(threads: Int, arena: SharedArena? = nil)
}

/// The coordinator over ZeroMQ: binds a ROUTER, lets `CoordinatorInstance` decide, and carries out its
/// directives. As an `Executor` it evaluates rounds on the workers.
public final class ClusterExecutor: Executor {
    public let endpoint: String
    public let workerCount: Int
    public let rowCount: Int
    private let context: Context
    private let router: Socket
    /// With keys: the router's failed handshakes, so a worker with the wrong coordinator key or none at all shows
    /// in this log too.
    private let handshakes: ServerHandshakeLog?
    /// Answers the CURVE handshakes (nil without keys); lives as long as the router.
    private let zapHandler: ZAPHandler?
    /// Messages queued per peer, each way.
    static let queueLimit: Int32 = 1000
    private let blocks: [Block]
    /// Blocks being shipped, per peer, with the frames queued behind them (see `shipNextBatches`).
    private var shipments: [Shipment] = []
    /// The blocks in shared memory (`BlockTransport.sharedMemory`), written while the workers join and kept until
    /// the job ends: workers compute on mappings of it, and a worker given a lost one's blocks maps them from it.
    private var sharedRegion: PendingSharedBlockRegion?
    /// Whether the region's size and write time have been logged.
    private var sharedRegionLogged = false
    private var instance: CoordinatorInstance
    private let logger: Logger
    private let timing: ClusterTiming
    private let interrupted: @Sendable () -> Bool
    /// Asked on every loop pass: worker processes that exited since the last call (local workers), by pid.
    public var processExits: () -> [(pid: UInt32, description: String)] = { [] }
    /// Called for every worker event (loss, reassignment, backup, join) as it happens.
    public var eventHandler: (CoordinatorInstance.Event) -> Void = { _ in }
    /// Faults survived so far.
    public var counters: CoordinatorInstance.Counters { instance.counters }
    private var finished = false
    private let codec = WireCodec()

    /// Largest frame accepted from a worker: PARTIALS with O(log blocks) nodes of the sums width.
    static func maxPartialsBytes(sumsWidth: Int, blockCount: Int) -> Int {
        let nodes = 2 * (Int.bitWidth - blockCount.leadingZeroBitCount) + 2
        return 4096 + nodes * (sumsWidth * 8 + 32)
    }

    /// Binds `bind` (e.g. `tcp://127.0.0.1:*`) and returns; call `waitForWorkers` next.
    ///
    /// Workers whose HELLO names another software than `requiredSoftware` are refused (their numerics could
    /// differ, and with them the bits of the result).
    ///
    /// Throws `.invalidConfiguration` for fewer than one worker, timing `ClusterTiming.validate` rejects,
    /// blocks not numbered 0, 1, … in order, or blocks of another width or precision than the first
    /// (each worker checks its blocks against the job spec).
    public init(
        bind: String, expectedWorkers: Int, model: any Model, blocks: [Block], timing: ClusterTiming,
        seed: UInt64 = 0, schedule: BatchSchedule? = nil, resilience: CoordinatorInstance.Resilience = .init(),
        requiredSoftware: String = WorkerShell.software, blockTransport: BlockTransport = .messages,
        security: ServerSecurity = .insecure, logger: Logger,
        interrupted: @escaping @Sendable () -> Bool = { false }
    ) throws(ClusterError) {
        guard expectedWorkers >= 1 else {
            throw .invalidConfiguration("a cluster job needs at least one worker, not \(expectedWorkers)")
        }
        try timing.validate()
        try resilience.validate(expectedWorkers: expectedWorkers)
        // The blocks must be the cuts of one plan: every block `blockRows` rows, the last one possibly fewer.
        let rowCount = blocks.reduce(0) { $0 + $1.rows }
        let plan: BlockPlan
        do { plan = try BlockPlan(rowCount: rowCount, blockRows: blocks.first?.rows ?? 0) } catch {
            throw .invalidConfiguration("the blocks cannot form a plan: \(error)")
        }
        guard plan.blockCount == blocks.count else {
            throw .invalidConfiguration(
                "\(blocks.count) blocks of \(rowCount) rows are not the cuts of one plan of \(plan.blockRows)-row blocks")
        }
        for (position, block) in blocks.enumerated() {
            guard block.rows == plan.rowCount(ofBlock: position) else {
                throw .invalidConfiguration(
                    "block \(position) has \(block.rows) rows: blocks of one plan hold \(plan.blockRows) rows each "
                        + "(the last one possibly fewer)")
            }
            guard block.id == position else {
                throw .invalidConfiguration("block \(position) has id \(block.id): blocks must be numbered 0, 1, … in order")
            }
            guard block.columns == model.spec.featureCount, block.precision == blocks[0].precision else {
                throw .invalidConfiguration(
                    "block \(position) has \(block.columns) columns in \(block.precision), expected "
                        + "\(model.spec.featureCount) in \(blocks[0].precision)")
            }
        }
        self.workerCount = expectedWorkers
        self.blocks = blocks
        self.rowCount = rowCount
        self.logger = logger
        self.timing = timing
        self.interrupted = interrupted
        if case .sharedMemory(let threads, let arena) = blockTransport {
            sharedRegion = PendingSharedBlockRegion(blocks: blocks, threads: threads, arena: arena)
        }
        do {
            context = try Context()
            // With CURVE the ZAP handler answers handshakes before the router accepts anyone.
            let (securityOptions, handler) = try security.serverSetup(context: context, logger: logger, role: "coordinator")
            zapHandler = handler
            router = try context.socket(
                .router,
                options: securityOptions + [
                    // Bounded queues: a peer that never reads its replies cannot grow ours without limit (sends
                    // to strangers never wait; sends to workers wait for room, as BLOCKS streams need).
                    .routerMandatory(true), .sendHighWaterMark(messages: Self.queueLimit),
                    .receiveHighWaterMark(messages: Self.queueLimit),
                    .maxMessageSize(
                        bytes: Int64(Self.maxPartialsBytes(sumsWidth: model.sumsWidth, blockCount: blocks.count))),
                ])
            handshakes =
                handler == nil ? nil : ServerHandshakeLog(monitor: try SocketMonitor(router), role: "coordinator", logger: logger)
            endpoint = try router.bind(bind)
        } catch {
            throw .transport("\(error)")
        }
        let spec = JobSpec(
            model: model.spec, precision: blocks.first?.precision ?? .float64, plan: plan, timing: timing, seed: seed,
            schedule: schedule)
        instance = CoordinatorInstance(
            configuration: .init(
                expectedWorkers: expectedWorkers, jobID: UInt64.random(in: 1...UInt64.max), jobSpec: spec,
                resilience: resilience, requiredSoftware: requiredSoftware),
            now: Self.now())
    }

    deinit {
        if !finished { try? shutdown(reason: "coordinator stopped") }
    }

    /// Blocks until every worker has joined and holds its blocks. With `BlockTransport.sharedMemory`, throws
    /// `.transport` when the block region (written meanwhile) could not be made.
    public func waitForWorkers() throws(ClusterError) {
        // A fixed form that scripts look for (the endpoint bound, e.g. for tcp://host:*).
        logger.info("waiting on \(endpoint) for \(workerCount) worker\(workerCount == 1 ? "" : "s")")
        try runUntil { directive in
            if case .allReady = directive { return true }
            return false
        }
    }

    public func evaluate(_ parameters: [Double], request: RoundRequest) throws(EngineError) -> Evaluation {
        var result: Evaluation?
        do {
            try carryOut(instance.startRound(request, parameters: parameters, now: Self.now()))
            try runUntil { directive in
                if case .roundComplete(let evaluation) = directive {
                    result = evaluation
                    return true
                }
                return false
            }
        } catch ClusterError.interrupted {
            throw .interrupted
        } catch {
            throw .worker(error.description)
        }
        return result!
    }

    /// Tells the workers to exit (DONE; `jobFailed`: with a non-zero status) and closes the socket.
    public func shutdown(reason: String, jobFailed: Bool = false) throws(ClusterError) {
        guard !finished else { return }
        finished = true
        shipments.removeAll()
        sharedRegion = nil
        for directive in instance.finish(reason: reason, jobFailed: jobFailed) {
            if case .send(let peer, let message, let round) = directive {
                try? send(message, to: peer, round: round)
            }
        }
    }

    // MARK: The loop

    private func runUntil(_ isDone: (CoordinatorInstance.Directive) -> Bool) throws(ClusterError) {
        let pollMilliseconds = max(1, Int(timing.heartbeatInterval * 1000 / 2))
        while true {
            if try shipNextBatches(isDone) { return }
            if interrupted() {
                try? shutdown(reason: "the coordinator was interrupted", jobFailed: true)
                throw .interrupted
            }
            if try carryOut(exitedProcesses(), isDone) { return }
            do {
                // While shards are being shipped, only look for messages between batches.
                _ = try poll(
                    [router] + (handshakes.map { [$0.monitor.socket] } ?? []),
                    timeoutMilliseconds: shipments.isEmpty ? pollMilliseconds : 0)
            } catch {
                throw .transport("\(error)")
            }
            handshakes?.readEvents()
            // Read whatever is waiting before the clock is looked at (even if the poll timed out: after this
            // process was descheduled, frames that arrived meanwhile prove the workers alive).
            while let parts = try receiveNow() {
                if try handle(parts, isDone) { return }
            }
            for directive in instance.tick(now: Self.now()) where try carryOut([directive], isDone) {
                return
            }
        }
    }

    private func receiveNow() throws(ClusterError) -> [[UInt8]]? {
        do {
            return try router.receive(.none)
        } catch {
            throw .transport("\(error)")
        }
    }

    /// Decodes one ROUTER message ([peer id, frame]) and feeds it to the instance.
    private func handle(_ parts: [[UInt8]], _ isDone: (CoordinatorInstance.Directive) -> Bool) throws(ClusterError)
        -> Bool
    {
        let now = Self.now()
        guard parts.count == 2 else {
            let peer = parts.first ?? []
            return try carryOut(
                instance.receivedMalformed(from: peer, error: "expected one frame per message, got \(parts.count - 1)", now: now),
                isDone)
        }
        let directives: [CoordinatorInstance.Directive]
        do throws(WireError) {
            let frame = try codec.decode(parts[1])
            directives = instance.received(frame, from: parts[0], now: now)
        } catch {
            directives = instance.receivedMalformed(from: parts[0], error: error.description, now: now)
        }
        return try carryOut(directives, isDone)
    }

    @discardableResult
    private func carryOut(
        _ directives: [CoordinatorInstance.Directive], _ isDone: (CoordinatorInstance.Directive) -> Bool = { _ in false }
    ) throws(ClusterError) -> Bool {
        var done = false
        for directive in directives {
            switch directive {
            case .send(let peer, let message, let round):
                // Behind blocks still being shipped to that peer, it waits its turn.
                if let position = shipments.firstIndex(where: { $0.peer == peer }) {
                    shipments[position].items.append(.message(message, round: round))
                    break
                }
                do {
                    try send(message, to: peer, round: round)
                } catch {
                    if try carryOut(sendFailed(to: peer, error: "\(error)"), isDone) { done = true }
                }
            case .shipBlocks(let peer, let range):
                if range.isEmpty { break }
                if let pending = sharedRegion, !shipments.contains(where: { $0.peer == peer }) {
                    let (region, seconds) = try pending.region()
                    if !sharedRegionLogged {
                        sharedRegionLogged = true
                        let written = seconds.map { "written in " + String(format: "%.3f", $0) + " s" } ?? "placed there as the data was read (nothing written for the workers)"
                        logger.info("blocks in shared memory: \(region.byteCount) bytes at \(region.path), \(written)")
                    }
                    let message = Message.sharedBlocks(
                        region: region.path, regionBytes: region.byteCount, blocks: region.locations(of: range))
                    if try carryOut([.send(to: peer, message, round: 0)], isDone) { done = true }
                } else if let position = shipments.firstIndex(where: { $0.peer == peer }) {
                    shipments[position].items.append(.blocks(range))
                } else {
                    shipments.append(Shipment(peer: peer, items: [.blocks(range)]))
                }
            case .event(let event):
                eventHandler(event)
            case .log(let level, let message):
                switch level {
                case .info: logger.info("\(message)")
                case .warning: logger.warning("\(message)")
                case .error: logger.error("\(message)")
                }
            case .fail(let message):
                try? shutdown(reason: "job failed: \(message)", jobFailed: true)
                throw .jobFailed(message)
            case .allReady, .roundComplete:
                if isDone(directive) { done = true }
            }
        }
        return done
    }

    private func send(_ message: Message, to peer: [UInt8], round: UInt64) throws(ClusterError) {
        let frame = Frame(jobID: instance.configuration.jobID, round: round, message: message)
        let bytes: [UInt8]
        do {
            bytes = try codec.encode(frame)
        } catch {
            throw .protocolViolation("cannot encode \(message.type): \(error)")
        }
        // A refusal is best effort: a stranger whose queue is full (it never reads) gets nothing more.
        if case .refuse = message {
            try? router.send([peer, bytes], dontWait: true)
            return
        }
        do {
            try router.send([peer, bytes])
        } catch {
            throw .transport("\(error)")
        }
    }

    /// What is still to be sent to one peer, in order: blocks, and the frames sent to it meanwhile.
    private struct Shipment {
        enum Item {
            case blocks(Range<Int>)
            case message(Message, round: UInt64)
        }

        let peer: [UInt8]
        var items: [Item]
    }

    /// The values of one BLOCKS message while shipping, at most (a single larger block goes alone). A worker
    /// hears nothing else from the coordinator while one arrives: with N workers sharing a link of rate R, it
    /// waits about N · blockBatchBytes / R between messages (so a worker waiting for blocks allows the coordinator
    /// the join timeout, not the worker timeout: `WorkerInstance`).
    static let blockBatchBytes = 8 << 20

    /// Sends one BLOCKS message (at most `blockBatchBytes` of values) of every shipment, round robin, so that workers
    /// receive and decode their blocks at the same time rather than one after the other; frames queued behind
    /// blocks go out as soon as those blocks have. Returns whether a failed send ended the wait.
    private func shipNextBatches(_ isDone: (CoordinatorInstance.Directive) -> Bool) throws(ClusterError) -> Bool {
        let limit = Self.blockBatchBytes
        var done = false
        var position = 0
        while position < shipments.count {
            var shipment = shipments[position]
            shipments.remove(at: position)
            var messages: [(Message, UInt64)] = []
            var sentBlocks = false
            while let item = shipment.items.first {
                switch item {
                case .message(let message, let round):
                    messages.append((message, round))
                    shipment.items.removeFirst()
                    continue
                case .blocks(let range) where !sentBlocks:
                    var end = range.lowerBound
                    var bytes = 0
                    while end < range.upperBound {
                        let block = blocks[end]
                        let size = block.rows * (block.columns + 1) * block.precision.byteWidth
                        if end > range.lowerBound, bytes + size > limit { break }
                        bytes += size
                        end += 1
                    }
                    messages.append((.blocks(Array(blocks[range.lowerBound..<end])), 0))
                    if end == range.upperBound { shipment.items.removeFirst() } else { shipment.items[0] = .blocks(end..<range.upperBound) }
                    sentBlocks = true
                    continue
                case .blocks:
                    break
                }
                break
            }
            // The rest stays queued, ahead of anything a failure below may queue for other peers.
            if !shipment.items.isEmpty {
                shipments.insert(shipment, at: position)
                position += 1
            }
            for (message, round) in messages {
                do {
                    try send(message, to: shipment.peer, round: round)
                } catch {
                    if let stale = shipments.firstIndex(where: { $0.peer == shipment.peer }) {
                        shipments.remove(at: stale)
                        if stale < position { position -= 1 }
                    }
                    if try carryOut(sendFailed(to: shipment.peer, error: "\(error)"), isDone) { done = true }
                    break
                }
            }
        }
        return done
    }

    /// What a frame that could not be sent to `peer` means. A local worker process killed a moment ago usually makes
    /// the send fail after its exit is known: the exits are looked at first, so that such a worker is lost with how its
    /// process ended ("killed by signal 9") rather than with the transport's error ("Host unreachable").
    private func sendFailed(to peer: CoordinatorInstance.PeerID, error: String) -> [CoordinatorInstance.Directive] {
        exitedProcesses() + instance.sendFailed(to: peer, error: error, now: Self.now())
    }

    /// What the worker processes that exited since the last look mean (local workers).
    private func exitedProcesses() -> [CoordinatorInstance.Directive] {
        processExits().flatMap { instance.processExited(pid: $0.pid, description: $0.description, now: Self.now()) }
    }

    static func now() -> Double { ContinuousClock.now.secondsSinceStart }
}

extension ContinuousClock.Instant {
    /// Seconds on the monotonic clock, for the state machines' injected time.
    var secondsSinceStart: Double {
        let reference = ContinuousClock.Instant.processStart
        return (self - reference).seconds
    }

    static let processStart = ContinuousClock.now
}
