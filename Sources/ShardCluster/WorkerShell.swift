import Foundation
import Logging
import ShardData
import ShardEngine
import ShardModels
import ShardNumerics
import ShardWire
import ZeroMQ

/// A worker process: connects a DEALER to the coordinator, says HELLO, receives its shard, then answers
/// every PARAMS with the partial sums of its blocks until DONE.
///
/// The worker never opens the data file: everything it computes on arrives in BLOCKS frames, or, from a
/// coordinator on the same machine, in the shared-memory region a SHAREDBLOCKS frame points to.
public final class WorkerShell {
    public struct Options: Sendable {
        public var endpoint: String
        /// Threads for the blocks (`DispatchQueue.concurrentPerform`); 0 = one per core.
        public var threads: Int
        /// Seconds to wait for WELCOME (the coordinator may wait for other workers first).
        public var joinTimeout: Double
        /// Heartbeat settings until the job spec brings the coordinator's.
        public var timing: ClusterTiming
        /// The identity sent in HELLO; the coordinator refuses a worker whose identity differs from the one
        /// it requires (see `WorkerShell.software`; a caller may pass a stronger build identity).
        public var software: String

        public init(
            endpoint: String, threads: Int = 0, joinTimeout: Double = 120, timing: ClusterTiming = .init(),
            software: String = WorkerShell.software
        ) {
            self.endpoint = endpoint
            self.threads = threads
            self.joinTimeout = joinTimeout
            self.timing = timing
            self.software = software
        }
    }

    /// What ended a worker's run normally.
    public struct Outcome: Sendable, Equatable {
        public var workerIndex: Int
        public var rounds: Int
        public var doneReason: String
    }

    private let options: Options
    private let logger: Logger
    private let context: Context
    private let dealer: Socket
    private let interrupted: @Sendable () -> Bool
    private let codec = WireCodec()

    public init(options: Options, logger: Logger, interrupted: @escaping @Sendable () -> Bool = { false })
        throws(ClusterError)
    {
        self.options = options
        self.logger = logger
        self.interrupted = interrupted
        try options.timing.validate()
        guard options.joinTimeout.isFinite, options.joinTimeout > 0 else {
            throw .invalidConfiguration("the join timeout is \(options.joinTimeout), it must be a positive number of seconds")
        }
        do {
            context = try Context()
            // Not `.immediate(true)`: it would queue nothing until the TCP connection is up, so HELLO, sent
            // right after `connect` and possibly before the coordinator listens, would not fit. Queuing during
            // a reconnect gains nothing either way (the ROUTER sees a reconnected DEALER as a new peer); the
            // silence check and the non-blocking sends end a worker whose coordinator is gone.
            dealer = try context.socket(.dealer, options: [.maxMessageSize(bytes: Int64(WireCodec().maxPayloadBytes + 64))])
            try dealer.connect(options.endpoint)
        } catch {
            throw .transport("\(error)")
        }
    }

    /// The default software identification sent in HELLO: the protocol version, the kernel path and the BLAS
    /// (OpenBLAS build and the core kernel it picked for this CPU). The coordinator refuses a worker whose
    /// numerics differ from its own: the SIMD and portable kernels round differently, and so do OpenBLAS's
    /// kernels for different cores, so mixing them would break the "same bits whatever the workers" guarantee. (Two builds
    /// with the same kernels but another compiler or libm could still differ; callers that can name the
    /// build more precisely pass that through `Options.software` and `ClusterExecutor`'s
    /// `requiredSoftware`.)
    public static var software: String {
        softwareIdentity(simd: KernelImplementation.simdAvailable, blas: BLAS.identity)
    }

    static func softwareIdentity(simd: Bool, blas: String) -> String {
        "shardtrain (protocol \(WireCodec.protocolVersion); kernels \(simd ? "avx2+fma" : "portable"); blas \(blas))"
    }

    /// Runs until DONE (returns) or a failure (throws): `.coordinatorLost` (silent for `workerTimeout`, or its
    /// queue full), `.refused`, `.protocolViolation` (a frame out of order, an invalid job spec, blocks that
    /// do not match it), `.computeFailed` (the model could not be built or a round not computed),
    /// `.transport` or `.interrupted`. For an unexpected frame, an invalid spec or shard, a failed round and
    /// an interrupt the worker first tells the coordinator why with FAILURE.
    public func run() throws(ClusterError) -> Outcome {
        var state = State.awaitingWelcome
        var jobID: UInt64 = 0
        var workerTimeout = options.joinTimeout
        var seed: UInt64 = 0
        var heartbeat = options.timing.heartbeatInterval
        var lastHeard = Self.now()
        var lastSent = Self.now()
        var rounds = 0
        let threads = ThreadCount.resolve(options.threads)

        /// Sends without ever blocking. The DEALER queues up to its high-water mark (1000 messages) while
        /// the coordinator is unreachable; once that is full a blocking send would wait for ever and the
        /// worker would never notice the silence nor an interrupt. A heartbeat that does not fit is dropped
        /// (the silence check decides); any other message that does not fit means the coordinator is gone.
        func send(_ message: Message, round: UInt64 = 0) throws(ClusterError) {
            let bytes: [UInt8]
            do {
                bytes = try codec.encode(Frame(jobID: jobID, round: round, message: message))
            } catch {
                throw .protocolViolation("cannot encode \(message.type): \(error)")
            }
            do {
                try dealer.send([bytes], dontWait: true)
            } catch {
                guard case .wouldBlock = error else { throw .transport("sending to \(options.endpoint): \(error)") }
                if message == .heartbeat { return }
                throw .coordinatorLost(
                    "cannot send \(message.type) to \(options.endpoint): the coordinator's queue is full; it is probably gone")
            }
            lastSent = Self.now()
        }

        try send(
            .hello(
                pid: UInt32(getpid()), cores: UInt16(clamping: ThreadCount.availableCores), hostname: ProcessInfo.processInfo.hostName,
                software: options.software))
        logger.info("connecting to \(options.endpoint)")

        while true {
            if interrupted() {
                try? send(.failure(reason: "worker interrupted"))
                throw .interrupted
            }
            var sockets = [dealer]
            if case .ready(let compute, _, _) = state { sockets.append(compute.signal) }
            let readable: [Int]
            do {
                readable = try poll(sockets, timeoutMilliseconds: max(1, Int(heartbeat * 500)))
            } catch {
                throw .transport("\(error)")
            }
            let now = Self.now()
            // On every pass, not only when idle: draining a long stream of BLOCKS keeps the DEALER readable.
            if now - lastSent >= heartbeat { try send(.heartbeat) }
            if readable.contains(1), case .ready(let compute, let index, let round?) = state {
                let outcome: ComputeThread.Outcome?
                do {
                    outcome = try compute.takeOutcome()
                } catch {
                    throw .transport("\(error)")
                }
                guard let outcome else { continue }
                state = .ready(compute, index, computing: nil)
                switch outcome {
                case .sums(let sums, let seconds):
                    try send(.partials(computeSeconds: seconds, nodes: sums), round: round)
                case .failed(let reason):
                    try? send(.failure(reason: "round \(round): \(reason)"), round: round)
                    throw .computeFailed("round \(round): \(reason)")
                }
                continue
            }
            if !readable.contains(0) {
                if now - lastHeard > workerTimeout {
                    let what = state.isAwaitingWelcome ? "did not welcome us" : "went silent"
                    throw .coordinatorLost(
                        "coordinator at \(options.endpoint) \(what) for \(formatSeconds(now - lastHeard)) s")
                }
                continue
            }
            let parts: [[UInt8]]?
            do {
                parts = try dealer.receive(.none)
            } catch {
                throw .transport("\(error)")
            }
            guard let parts else { continue }
            lastHeard = Self.now()
            guard parts.count == 1 else {
                throw .protocolViolation("coordinator sent a message of \(parts.count) frames")
            }
            let frame: Frame
            do {
                frame = try codec.decode(parts[0])
            } catch {
                throw .protocolViolation("coordinator sent a malformed frame: \(error)")
            }
            if case .refuse(let reason) = frame.message { throw .refused(reason) }
            if !state.isAwaitingWelcome, frame.jobID != jobID {
                logger.warning("dropped a frame of job \(frame.jobID) (this job is \(jobID))")
                continue
            }
            switch (state, frame.message) {
            case (_, .heartbeat):
                continue
            case (_, .done(let reason)):
                logger.info("coordinator says done: \(reason)")
                return Outcome(workerIndex: state.workerIndex ?? -1, rounds: rounds, doneReason: reason)
            case (.awaitingWelcome, .welcome(let index, let count, let specBytes)):
                let spec: JobSpec
                do {
                    spec = try JobSpec.decode(specBytes)
                } catch {
                    try? send(.failure(reason: "\(error)"))
                    throw error
                }
                jobID = frame.jobID
                workerTimeout = spec.timing.workerTimeout
                seed = spec.seed
                heartbeat = spec.timing.heartbeatInterval
                logger.info(
                    "joined as worker \(index) of \(count): blocks \(spec.firstBlock)..<\(spec.firstBlock + spec.blockCount)")
                state = .receiving(Shard(spec: spec, workerIndex: Int(index)))
            case (.receiving(var shard), .blocks(let blocks)):
                do {
                    try shard.add(blocks)
                } catch {
                    // The coordinator learns why (a block outside the shard, twice, or not of the plan).
                    if case .protocolViolation(let message) = error { try? send(.failure(reason: message)) }
                    throw error
                }
                state = .receiving(shard)
            case (.receiving(var shard), .sharedBlocks(let region, let regionBytes, let locations)):
                do {
                    try shard.add(
                        SharedBlockReader.read(
                            region: region, regionBytes: regionBytes, locations: locations, threads: threads))
                } catch {
                    try? send(.failure(reason: error.description))
                    throw error
                }
                state = .receiving(shard)
            case (.ready(let compute, let index, nil), .params(let parameters, let smoothing, let batchStep)):
                guard let round = Int(exactly: frame.round) else {
                    let message = "PARAMS for round \(frame.round), beyond any round"
                    try? send(.failure(reason: message), round: frame.round)
                    throw .protocolViolation(message)
                }
                var step: Int?
                if let batchStep {
                    guard let exact = Int(exactly: batchStep) else {
                        let message = "PARAMS of round \(round) for mini-batch step \(batchStep), beyond any step"
                        try? send(.failure(reason: message), round: frame.round)
                        throw .protocolViolation(message)
                    }
                    step = exact
                }
                rounds += 1
                state = .ready(compute, index, computing: frame.round)
                do {
                    let request = RoundRequest(round: round, smoothing: smoothing, batchStep: step)
                    try compute.start(parameters, context: RoundContext(seed: seed, request: request))
                } catch {
                    throw .transport("compute thread: \(error)")
                }
            default:
                let message = "unexpected \(frame.message.type) message \(state.name)"
                try? send(.failure(reason: message))
                throw .protocolViolation(message)
            }
            // Every block was checked against the plan as it arrived, so a complete shard holds the plan's rows.
            if case .receiving(let shard) = state, shard.isComplete {
                let compute: ComputeThread
                do {
                    compute = try ComputeThread(context: context, shard: shard, threads: threads)
                } catch {
                    throw .transport("starting the compute thread: \(error)")
                }
                state = .ready(compute, shard.workerIndex, computing: nil)
                try send(.ready(blockCount: UInt32(shard.blocks.count), rowCount: UInt64(shard.rowCount)))
            }
        }
    }

    private enum State {
        case awaitingWelcome
        case receiving(Shard)
        /// Holding the shard; `computing` is the round in progress on the compute thread.
        case ready(ComputeThread, Int, computing: UInt64?)

        var name: String {
            switch self {
            case .awaitingWelcome: "before WELCOME"
            case .receiving: "while receiving blocks"
            case .ready(_, _, nil): "between rounds"
            case .ready(_, _, let round?): "while computing round \(round)"
            }
        }

        var workerIndex: Int? {
            switch self {
            case .awaitingWelcome: nil
            case .receiving(let shard): shard.workerIndex
            case .ready(_, let index, _): index
            }
        }

        var isAwaitingWelcome: Bool {
            if case .awaitingWelcome = self { return true }
            return false
        }
    }

    static func now() -> Double { ContinuousClock.now.secondsSinceStart }
}

/// The blocks a worker is receiving, checked against its job spec as they arrive.
struct Shard: Sendable {
    let spec: JobSpec
    let workerIndex: Int
    private(set) var blocks: [Int: Block] = [:]

    init(spec: JobSpec, workerIndex: Int) {
        self.spec = spec
        self.workerIndex = workerIndex
    }

    var isComplete: Bool { blocks.count == spec.blockCount }

    var rowCount: Int { blocks.values.reduce(0) { $0 + $1.rows } }

    mutating func add(_ incoming: [Block]) throws(ClusterError) {
        for block in incoming {
            guard spec.blockRange.contains(block.id) else {
                throw .protocolViolation("received block \(block.id), outside this worker's shard \(spec.blockRange)")
            }
            guard blocks[block.id] == nil else { throw .protocolViolation("received block \(block.id) twice") }
            guard block.rows == spec.plan.rowCount(ofBlock: block.id) else {
                throw .protocolViolation(
                    "block \(block.id) has \(block.rows) rows, the job's plan gives it \(spec.plan.rowCount(ofBlock: block.id))")
            }
            guard block.columns == spec.model.featureCount, block.precision == spec.precision else {
                throw .protocolViolation(
                    "block \(block.id) has \(block.columns) columns in \(block.precision), the job has "
                        + "\(spec.model.featureCount) in \(spec.precision)")
            }
            blocks[block.id] = block
        }
    }

    /// The computer for the complete shard (nil for an empty shard).
    func makeComputer(threads: Int) throws(ClusterError) -> BlockComputer? {
        guard !blocks.isEmpty else { return nil }
        let model: any Model
        do {
            model = try spec.model.makeModel()
        } catch {
            throw .computeFailed("cannot build the \(spec.model.kind.rawValue) model: \(error)")
        }
        let ordered = spec.blockRange.compactMap { blocks[$0] }
        do {
            return try BlockComputer(model: model, blocks: ordered, blockCount: spec.totalBlocks, threads: threads)
        } catch {
            throw .computeFailed("cannot prepare the blocks: \(error)")
        }
    }
}
