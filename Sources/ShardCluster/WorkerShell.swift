import Foundation
import Logging
import ShardEngine
import ShardModels
import ShardNumerics
import ShardWire
import ZeroMQ

/// A worker process: connects a DEALER to the coordinator, says HELLO, receives its shard, then answers
/// every PARAMS with the partial sums of its blocks until DONE.
///
/// The worker never opens the data file: everything it computes on arrives in BLOCKS frames.
public final class WorkerShell {
    public struct Options: Sendable {
        public var endpoint: String
        /// Threads for the blocks (`DispatchQueue.concurrentPerform`); 0 = one per core.
        public var threads: Int
        /// Seconds to wait for WELCOME (the coordinator may wait for other workers first).
        public var joinTimeout: Double
        /// Heartbeat settings until the job spec brings the coordinator's.
        public var timing: ClusterTiming

        public init(endpoint: String, threads: Int = 0, joinTimeout: Double = 120, timing: ClusterTiming = .init()) {
            self.endpoint = endpoint
            self.threads = threads
            self.joinTimeout = joinTimeout
            self.timing = timing
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

    public init(options: Options, logger: Logger, interrupted: @escaping @Sendable () -> Bool = { false })
        throws(ClusterError)
    {
        self.options = options
        self.logger = logger
        self.interrupted = interrupted
        do {
            context = try Context()
            dealer = try context.socket(.dealer)
            try dealer.set(.linger(milliseconds: 0))
            try dealer.set(.maxMessageSize(Int64(256 << 20)))
            try dealer.connect(options.endpoint)
        } catch {
            throw .transport("\(error)")
        }
    }

    /// Software identification sent in HELLO.
    public static let software = "shardtrain protocol \(Frame.protocolVersion)"

    /// Runs until DONE (returns) or a failure (throws).
    public func run() throws(ClusterError) -> Outcome {
        var state = State.awaitingWelcome
        var jobID: UInt64 = 0
        var deadAfter = options.joinTimeout
        var heartbeat = options.timing.heartbeatInterval
        var lastHeard = Self.now()
        var lastSent = Self.now()
        var rounds = 0
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let threads = options.threads > 0 ? options.threads : cores

        func send(_ message: Message, round: UInt64 = 0) throws(ClusterError) {
            do {
                try dealer.send([Frame(jobID: jobID, round: round, message: message).encoded()])
            } catch {
                throw .transport("sending to \(options.endpoint): \(error)")
            }
            lastSent = Self.now()
        }

        try send(
            .hello(
                pid: UInt32(getpid()), cores: UInt16(clamping: cores), hostname: ProcessInfo.processInfo.hostName,
                software: Self.software))
        logger.info("connecting to \(options.endpoint)")

        while true {
            if interrupted() {
                try? send(.failure(reason: "worker interrupted"))
                throw .interrupted
            }
            let readable: [Int]
            do {
                readable = try poll([dealer], timeoutMilliseconds: max(1, Int(heartbeat * 500)))
            } catch {
                throw .transport("\(error)")
            }
            let now = Self.now()
            if readable.isEmpty {
                if now - lastHeard > deadAfter {
                    let what = state == .awaitingWelcome ? "did not welcome us" : "went silent"
                    throw .coordinatorLost(
                        "coordinator at \(options.endpoint) \(what) for \(formatSeconds(now - lastHeard)) s")
                }
                if now - lastSent >= heartbeat { try send(.heartbeat) }
                continue
            }
            let parts: [[UInt8]]?
            do {
                parts = try dealer.receive(.dontWait)
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
                frame = try Frame.decode(parts[0])
            } catch {
                throw .protocolViolation("coordinator sent a malformed frame: \(error)")
            }
            if case .refuse(let reason) = frame.message { throw .refused(reason) }
            if state != .awaitingWelcome, frame.jobID != jobID {
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
                let spec = try JobSpec.decode(specBytes)
                jobID = frame.jobID
                deadAfter = spec.deadAfter
                heartbeat = spec.heartbeatInterval
                logger.info(
                    "joined as worker \(index) of \(count): blocks \(spec.firstBlock)..<\(spec.firstBlock + spec.blockCount)")
                let shard = Shard(spec: spec, workerIndex: Int(index))
                state = .receiving(shard)
                if spec.blockCount == 0 {
                    state = .ready(try shard.makeComputer(threads: threads), Int(index))
                    try send(.ready(blockCount: 0, rowCount: 0))
                }
            case (.receiving(var shard), .blocks(let blocks)):
                try shard.add(blocks)
                if shard.isComplete {
                    let computer = try shard.makeComputer(threads: threads)
                    state = .ready(computer, shard.workerIndex)
                    try send(.ready(blockCount: UInt32(shard.blocks.count), rowCount: UInt64(computer?.rowCount ?? 0)))
                } else {
                    state = .receiving(shard)
                }
            case (.ready(let computer, _), .params(let parameters)):
                rounds += 1
                let start = ContinuousClock.now
                var nodes: [PartialNode] = []
                if let computer {
                    do {
                        nodes = try computer.compute(parameters: parameters).map {
                            PartialNode(
                                level: UInt8($0.node.level), index: UInt32($0.node.index), rowCount: UInt64($0.rowCount),
                                values: $0.values)
                        }
                    } catch {
                        try? send(.failure(reason: "round \(frame.round): \(error)"), round: frame.round)
                        throw .protocolViolation("round \(frame.round): \(error)")
                    }
                }
                try send(
                    .partials(computeSeconds: (ContinuousClock.now - start).seconds, nodes: nodes), round: frame.round)
            default:
                let message = "unexpected \(frame.message.kindName) message in state \(state.name)"
                try? send(.failure(reason: message))
                throw .protocolViolation(message)
            }
        }
    }

    private enum State: Equatable {
        case awaitingWelcome
        case receiving(Shard)
        case ready(BlockComputer?, Int)

        var name: String {
            switch self {
            case .awaitingWelcome: "awaiting WELCOME"
            case .receiving: "receiving blocks"
            case .ready: "ready"
            }
        }

        var workerIndex: Int? {
            switch self {
            case .awaitingWelcome: nil
            case .receiving(let shard): shard.workerIndex
            case .ready(_, let index): index
            }
        }

        static func == (lhs: State, rhs: State) -> Bool { lhs.name == rhs.name }
    }

    static func now() -> Double { ContinuousClock.now.secondsSinceStart }
}

/// The blocks a worker is receiving, checked against its job spec as they arrive.
struct Shard {
    let spec: JobSpec
    let workerIndex: Int
    private(set) var blocks: [Int: Block] = [:]

    init(spec: JobSpec, workerIndex: Int) {
        self.spec = spec
        self.workerIndex = workerIndex
    }

    var isComplete: Bool { blocks.count == spec.blockCount }

    mutating func add(_ incoming: [Block]) throws(ClusterError) {
        for block in incoming {
            guard spec.blockRange.contains(block.id) else {
                throw .protocolViolation("received block \(block.id), outside this worker's shard \(spec.blockRange)")
            }
            guard blocks[block.id] == nil else { throw .protocolViolation("received block \(block.id) twice") }
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
            throw .protocolViolation("\(error)")
        }
        let ordered = spec.blockRange.compactMap { blocks[$0] }
        do {
            return try BlockComputer(model: model, blocks: ordered, blockCount: spec.totalBlocks, threads: threads)
        } catch {
            throw .protocolViolation("\(error)")
        }
    }
}
