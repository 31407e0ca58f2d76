import ShardData
import ShardEngine
import ShardModels
import ShardNumerics
import ShardWire

/// A worker's protocol logic as a pure state machine: frames, finished computations and clock ticks in,
/// directives out. `WorkerShell` runs it over ZeroMQ with a compute thread; `InMemoryCluster` runs it in tests.
///
///     connecting — HELLO sent; waits up to `joinTimeout` for WELCOME (or REFUSE)
///     joined     — holds the blocks of the latest HOLD (answering READY once they have all arrived) and answers
///                  each PARAMS with the tree nodes of the ranges it names, one computation at a time, in order
///     finished   — DONE (exit 0, or non-zero when the job failed), or a failure (exit non-zero)
///
/// The coordinator counts as gone after `workerTimeout` without a frame once welcomed (`joinTimeout` before).
public struct WorkerInstance: Sendable {
    public struct Configuration: Sendable {
        public var pid: UInt32
        public var cores: Int
        public var hostname: String
        public var software: String
        /// Seconds to wait for WELCOME.
        public var joinTimeout: Double
        /// Heartbeats until the job spec brings the coordinator's timing.
        public var heartbeatInterval: Double
        /// Where the coordinator is, for messages.
        public var endpoint: String
        /// Whether the end of a failed job is this worker's to report (logged as an error). A local worker's
        /// coordinator is its parent and says why the job failed: its DONE is then logged as information.
        public var reportsJobFailure = true

        public init(
            pid: UInt32, cores: Int, hostname: String, software: String, joinTimeout: Double,
            heartbeatInterval: Double = ClusterTiming().heartbeatInterval, endpoint: String
        ) {
            self.pid = pid
            self.cores = cores
            self.hostname = hostname
            self.software = software
            self.joinTimeout = joinTimeout
            self.heartbeatInterval = heartbeatInterval
            self.endpoint = endpoint
        }
    }

    public enum Directive: Sendable {
        case send(Message, round: UInt64)
        /// Build the model of the job (on the compute thread: it may take a while).
        case prepare(JobSpec)
        /// Compute and report with `computed`; at most one at a time.
        case compute(ComputeRequest)
        /// Read these blocks from the coordinator's shared-memory region and report them with `receivedBlocks`
        /// (or `blocksUnreadable`).
        case readSharedBlocks(region: String, regionBytes: UInt64, locations: [SharedBlockLocation])
        case log(CoordinatorInstance.LogLevel, String)
        case finish(Exit)
    }

    /// How a worker's run ended.
    public enum Exit: Sendable, Equatable {
        /// DONE: the job ended (failed or not), or this worker was dropped from it.
        case done(reason: String, jobFailed: Bool)
        case failed(ClusterError)
    }

    public let configuration: Configuration
    public private(set) var spec: JobSpec?
    public private(set) var workerIndex: Int?
    /// PARAMS answered (or being answered).
    public private(set) var rounds = 0
    public private(set) var exit: Exit?
    /// The job id of WELCOME (0 before), sent in every frame.
    public private(set) var jobID: UInt64 = 0
    private var lastHeard: Double
    private var lastSent: Double
    /// When this worker last looked at the clock (a tick or a frame): a gap longer than the timeout means the
    /// worker itself did not run (SIGSTOP, a starved machine), and silence it did not listen to is no verdict.
    private var lastLooked: Double
    /// When the worker last said it is still waiting for WELCOME.
    private var lastWaitingNote: Double
    /// How often a worker that is not yet welcomed says so.
    static let waitingNoteInterval = 10.0
    /// The latest HOLD, and the blocks held.
    private var holding = BlockRanges()
    private var blocks: [Int: Block] = [:]
    private var awaitingBlocks = false
    private var queue: [ComputeRequest] = []
    private var computing = false

    public init(configuration: Configuration, now: Double) {
        self.configuration = configuration
        lastHeard = now
        lastSent = now
        lastLooked = now
        lastWaitingNote = now
    }

    /// The HELLO.
    public mutating func start(now: Double) -> [Directive] {
        lastSent = now
        return [
            .send(
                .hello(
                    pid: configuration.pid, cores: UInt16(clamping: max(1, configuration.cores)),
                    hostname: configuration.hostname, software: configuration.software),
                round: 0),
            .log(.info, "connecting to \(configuration.endpoint)"),
        ]
    }

    public var isFinished: Bool { exit != nil }

    /// How long the coordinator may be silent: the join timeout before WELCOME, and while the blocks of a HOLD
    /// arrive (a batch of blocks says nothing until its last byte is in: on a link shared by N workers that takes
    /// about N · batch / rate, beyond `workerTimeout` at 100 Mbit/s and 4 workers); `workerTimeout` otherwise.
    private var timeout: Double {
        guard let spec else { return configuration.joinTimeout }
        return awaitingBlocks ? max(spec.timing.workerTimeout, spec.timing.joinTimeout) : spec.timing.workerTimeout
    }
    /// The job's heartbeat interval once welcomed (the configured one before): a shell ticks at least twice per
    /// interval.
    public var heartbeat: Double { spec?.timing.heartbeatInterval ?? configuration.heartbeatInterval }

    /// Heartbeats and the coordinator's silence.
    public mutating func tick(now: Double) -> [Directive] {
        guard exit == nil else { return [] }
        let notRunning = now - lastLooked
        lastLooked = now
        if notRunning > timeout {
            // The frames sent while this process was stopped may not have reached its socket yet: listen for
            // another timeout, and say we are back.
            lastHeard = now
            lastSent = now
            return [
                .log(.warning, "this worker did not run for \(formatSeconds(notRunning)) s (stopped or starved); waiting for the coordinator again"),
                .send(.heartbeat, round: 0),
            ]
        }
        if now - lastHeard > timeout {
            let what = spec == nil ? "did not welcome us" : "went silent"
            return finish(
                .failed(.coordinatorLost("coordinator at \(configuration.endpoint) \(what) for \(formatSeconds(now - lastHeard)) s")))
        }
        var directives: [Directive] = []
        if spec == nil, now - lastWaitingNote >= Self.waitingNoteInterval {
            lastWaitingNote = now
            directives.append(
                .log(.info, "still waiting for the coordinator at \(configuration.endpoint) (\(formatSeconds(now - lastHeard)) s of the "
                    + "\(formatSeconds(configuration.joinTimeout)) s join timeout)"))
        }
        guard now - lastSent >= heartbeat else { return directives }
        lastSent = now
        return directives + [.send(.heartbeat, round: 0)]
    }

    /// A signal asked the worker to stop: it tells the coordinator first.
    public mutating func interrupted(now: Double) -> [Directive] {
        guard exit == nil else { return [] }
        return [.send(.failure(reason: "worker interrupted"), round: 0)] + finish(.failed(.interrupted))
    }

    /// Bytes from the coordinator that did not decode.
    public mutating func receivedMalformed(error: String, now: Double) -> [Directive] {
        guard exit == nil else { return [] }
        return failProtocol("coordinator sent a malformed frame: \(error)")
    }

    public mutating func received(_ frame: Frame, now: Double) -> [Directive] {
        guard exit == nil else { return [] }
        lastHeard = now
        lastLooked = now
        if case .refuse(let reason) = frame.message { return finish(.failed(.refused(reason))) }
        if spec != nil, frame.jobID != jobID {
            return [.log(.warning, "dropped a frame of job \(frame.jobID) (this job is \(jobID))")]
        }
        switch frame.message {
        case .heartbeat:
            return []
        case .done(let reason, let jobFailed):
            return [.log(jobFailed && configuration.reportsJobFailure ? .error : .info, "coordinator says done: \(reason)")]
                + finish(.done(reason: reason, jobFailed: jobFailed))
        case .welcome(let index, let count, let bytes) where spec == nil:
            let decoded: JobSpec
            do {
                decoded = try JobSpec.decode(bytes)
            } catch {
                return [.send(.failure(reason: error.description), round: 0)] + finish(.failed(error))
            }
            spec = decoded
            jobID = frame.jobID
            workerIndex = Int(index)
            return [.log(.info, "joined as worker \(index) of \(count) (indices count from 0; a replacement or late worker gets the next one)"), .prepare(decoded)]
        case .hold(let ranges) where spec != nil:
            return receivedHold(BlockRanges(ranges), now: now)
        case .blocks(let incoming) where spec != nil:
            return receivedBlocks(incoming, now: now)
        case .sharedBlocks(let region, let regionBytes, let locations) where spec != nil:
            return [.readSharedBlocks(region: region, regionBytes: regionBytes, locations: locations)]
        case .params(let parameters, let smoothing, let batchStep, let ranges) where spec != nil:
            return receivedParams(
                round: frame.round, parameters: parameters, smoothing: smoothing, batchStep: batchStep, ranges: ranges,
                now: now)
        default:
            let state = spec == nil ? "before WELCOME" : "after WELCOME"
            return failProtocol("unexpected \(frame.message.type) message \(state)")
        }
    }

    /// Blocks read from a shared-memory region (SHAREDBLOCKS) count as if they had arrived in BLOCKS.
    public mutating func receivedBlocks(_ incoming: [Block], now: Double) -> [Directive] {
        guard exit == nil, let spec else { return [] }
        lastHeard = now
        for block in incoming {
            guard holding.contains(block.id) else {
                return failProtocol("received block \(block.id), outside the blocks it holds (\(holding))")
            }
            guard blocks[block.id] == nil else { return failProtocol("received block \(block.id) twice") }
            guard block.rows == spec.plan.rowCount(ofBlock: block.id) else {
                return failProtocol(
                    "block \(block.id) has \(block.rows) rows, the job's plan gives it \(spec.plan.rowCount(ofBlock: block.id))")
            }
            guard block.columns == spec.model.featureCount, block.precision == spec.precision else {
                return failProtocol(
                    "block \(block.id) has \(block.columns) columns in \(block.precision), the job has "
                        + "\(spec.model.featureCount) in \(spec.precision)")
            }
            blocks[block.id] = block
        }
        return answerReadyIfComplete(now: now)
    }

    /// The blocks of a SHAREDBLOCKS message could not be read: the worker tells the coordinator why and stops.
    public mutating func blocksUnreadable(_ error: ClusterError, now: Double) -> [Directive] {
        guard exit == nil else { return [] }
        return [.send(.failure(reason: error.description), round: 0)] + finish(.failed(error))
    }

    /// A computation finished.
    public mutating func computed(_ outcome: ComputeOutcome, round: UInt64, now: Double) -> [Directive] {
        guard exit == nil else { return [] }
        computing = false
        var directives: [Directive]
        switch outcome {
        case .sums(let sums, let seconds):
            lastSent = now
            directives = [.send(.partials(computeSeconds: seconds, nodes: sums), round: round)]
        case .failed(let reason):
            return [.send(.failure(reason: "round \(round): \(reason)"), round: round)]
                + finish(.failed(.computeFailed("round \(round): \(reason)")))
        }
        if !queue.isEmpty {
            computing = true
            directives.append(.compute(queue.removeFirst()))
        }
        return directives
    }

    // MARK: Handlers

    private mutating func receivedHold(_ ranges: BlockRanges, now: Double) -> [Directive] {
        guard let spec else { return [] }
        if awaitingBlocks {
            return failProtocol("HOLD (\(ranges)) before the blocks of the previous HOLD (\(holding)) arrived")
        }
        guard ranges.ranges.allSatisfy({ $0.upperBound <= spec.totalBlocks }) else {
            return failProtocol("HOLD names blocks \(ranges), beyond the \(spec.totalBlocks) blocks of the plan")
        }
        holding = ranges
        blocks = blocks.filter { ranges.contains($0.key) }
        awaitingBlocks = true
        return answerReadyIfComplete(now: now)
    }

    private mutating func answerReadyIfComplete(now: Double) -> [Directive] {
        guard awaitingBlocks, blocks.count == holding.blockCount else { return [] }
        awaitingBlocks = false
        let rows = blocks.values.reduce(0) { $0 + $1.rows }
        lastSent = now
        return [.send(.ready(blockCount: UInt32(blocks.count), rowCount: UInt64(rows)), round: 0)]
    }

    private mutating func receivedParams(
        round wireRound: UInt64, parameters: [Double], smoothing: Double, batchStep: UInt64?, ranges: [Range<Int>],
        now: Double
    ) -> [Directive] {
        guard let spec, let round = Int(exactly: wireRound) else {
            return failProtocol("PARAMS for round \(wireRound), beyond any round")
        }
        var step: Int?
        if let batchStep {
            guard let exact = Int(exactly: batchStep) else {
                return failProtocol("PARAMS of round \(round) for mini-batch step \(batchStep), beyond any step")
            }
            step = exact
        }
        var rangeBlocks: [[Block]] = []
        for range in ranges {
            let held = range.compactMap { blocks[$0] }
            guard held.count == range.count else {
                return failProtocol("PARAMS of round \(round) names blocks \(range.lowerBound)..<\(range.upperBound), which it does not hold (\(holding))")
            }
            rangeBlocks.append(held)
        }
        rounds += 1
        let request = ComputeRequest(
            round: wireRound, parameters: parameters,
            context: RoundContext(seed: spec.seed, request: RoundRequest(round: round, smoothing: smoothing, batchStep: step)),
            ranges: ranges, blocks: rangeBlocks)
        guard !computing else {
            queue.append(request)
            return []
        }
        computing = true
        return [.compute(request)]
    }

    private mutating func failProtocol(_ message: String) -> [Directive] {
        [.send(.failure(reason: message), round: 0)] + finish(.failed(.protocolViolation(message)))
    }

    private mutating func finish(_ exit: Exit) -> [Directive] {
        self.exit = exit
        return [.finish(exit)]
    }
}
