import ShardNumerics

/// One message between the coordinator and a worker, with the header fields that travel with it.
///
/// `jobID` identifies the training job (a peer from another job is refused); `round` is the optimiser
/// round a `params`/`partials` pair belongs to, and 0 for messages outside the round loop.
public struct Frame: Sendable, Equatable {
    public var jobID: UInt64
    public var round: UInt64
    public var message: Message

    public init(jobID: UInt64, round: UInt64 = 0, message: Message) {
        self.jobID = jobID
        self.round = round
        self.message = message
    }
}

/// The protocol's messages. Timing contract (the values themselves are configured elsewhere):
///
///     heartbeatInterval  each side sends `heartbeat` when it has sent nothing else for this long
///     workerTimeout          the coordinator declares a worker dead after this long without ANY message from
///                        it (a worker likewise gives up on a silent coordinator and exits non-zero)
///
/// Conversation, coordinator C (ROUTER) and worker W (DEALER):
///
///     W → C  hello                       C → W  welcome | refuse
///     C → W  hold, blocks … blocks       W → C  ready                   (again whenever blocks move)
///        (or sharedBlocks, to a worker on the coordinator's machine)
///     C → W  params (round r, ranges)    W → C  partials (round r)      per round, and again within a round
///                                                                       when another worker's blocks are
///                                                                       reassigned to this one
///     C → W  done                        (W exits 0, or non-zero when the job failed)
///     W → C  failure                     (at any time; W exits non-zero)
///     both   heartbeat                   (whenever idle for heartbeatInterval)
///
/// Payload encodings are little-endian and listed per case; `str` is a UInt32 byte count followed by that
/// many bytes of UTF-8, bounded by the codec's string limit.
public enum Message: Sendable, Equatable {
    /// Worker → coordinator, the first message after connecting. The coordinator answers `welcome`
    /// (accepted, once all expected workers have joined) or `refuse` (another protocol version, another
    /// software identity — build, kernels or libc — or the job already has its workers). The worker waits
    /// at most its join timeout for the answer, then exits non-zero.
    ///
    ///     pid u32 | cores u16 (≥ 1) | hostname str | software str
    case hello(pid: UInt32, cores: UInt16, hostname: String, software: String)

    /// Coordinator → worker, reply to an accepted `hello` (at once, so that the worker learns the job's timing
    /// while others are still joining): the worker's index (never reused within a job) and the number of
    /// workers the job was started with, and the job specification (opaque JSON bytes, decoded by the cluster
    /// layer). The worker sends nothing in reply; it next receives `hold`.
    ///
    ///     workerIndex u32 | workerCount u32 (workerIndex < workerCount) | jobSpec: u32 byte count, bytes
    case welcome(workerIndex: UInt32, workerCount: UInt32, jobSpec: [UInt8])

    /// Coordinator → a peer it will not accept (any message from an unknown or refused peer). The peer
    /// logs the reason and exits non-zero; no reply.
    ///
    ///     reason str
    case refuse(reason: String)

    /// Coordinator → worker: the blocks the worker must hold from now on, as ascending, disjoint, non-empty
    /// ranges of block ids within the plan. Blocks outside them are dropped; those it lacks follow in `blocks`
    /// or `sharedBlocks` messages, after which the worker replies `ready`. Sent after `welcome`, and again when
    /// blocks move (a lost worker's blocks reassigned, a backup for a straggler, a rebalance after a join).
    ///
    ///     count u32, then per range: lower u32 | upper u32 (lower < upper ≤ the next range's lower)
    case hold(ranges: [Range<Int>])

    /// Coordinator → worker after `hold`: some of the blocks it names that the worker does not hold yet (one
    /// or more `blocks` messages). Values travel bit-exactly in the block's precision. When the worker
    /// holds every block of the latest `hold` it replies `ready`.
    ///
    ///     count u32, then per block:
    ///       id u32 | rows u32 | columns u32 | precision u8 (1 = float32, 2 = float64)
    ///       | features: rows·columns values, row-major | labels: rows values
    case blocks([Block])

    /// Coordinator → a worker on the same machine after `welcome`, in place of `blocks`: all the blocks the
    /// job spec assigns to this worker, as locations in a shared-memory region that the coordinator wrote
    /// once (`region` names a file the worker opens read-only, e.g. `/proc/<pid>/fd/<fd>` of the
    /// coordinator's memfd; `regionBytes` is its size, which the worker checks before reading it). Every
    /// block's bytes lie inside `[0, regionBytes)` and start at a multiple of the value width. The worker
    /// replies `ready` once it holds the blocks.
    ///
    ///     region str | regionBytes u64 | count u32, then per block:
    ///       id u32 | rows u32 | columns u32 | precision u8 (1 = float32, 2 = float64) | offset u64
    case sharedBlocks(region: String, regionBytes: UInt64, blocks: [SharedBlockLocation])

    /// Worker → coordinator once every block of a `hold` has arrived (one `ready` per `hold`, in order): how
    /// many blocks and rows it holds, which the coordinator checks against its plan.
    ///
    ///     blockCount u32 | rowCount u64
    case ready(blockCount: UInt32, rowCount: UInt64)

    /// Coordinator → worker, once per round (the header's `round`) and again within the round for blocks
    /// reassigned to it: the current parameter vector, the smoothing μ ≥ 0 of non-smooth losses for this round
    /// (0 = exact loss; set during continuation solves), which blocks take part: all of them (`batchStep` nil),
    /// or the mini-batch of step `batchStep` of the job's batch schedule, and the block ranges (held by the
    /// worker; ascending, disjoint, non-empty) whose tree nodes it computes. The worker replies `partials`
    /// for the same round with the nodes of those ranges.
    ///
    ///     count u32 | count × f64, all finite | smoothing f64, finite, ≥ 0 | batchStep u64 (2^64−1 = all)
    ///     | rangeCount u32, then per range: lower u32 | upper u32 (as in `hold`)
    case params([Double], smoothing: Double = 0, batchStep: UInt64? = nil, ranges: [Range<Int>])

    /// Worker → coordinator, reply to `params` with the same round: the reduction-tree nodes that tile the
    /// ranges it was asked for (the active ones, ascending) and the wall time it spent. All nodes carry the same number of values (`width`).
    ///
    ///     computeSeconds f64 (finite, ≥ 0) | nodeCount u32 | width u32,
    ///     then per node: level u8 | index u32 | rowCount u64 | width × f64 (any value, NaN included)
    case partials(computeSeconds: Double, nodes: [NodeSums])

    /// Either direction whenever the sender has been idle for `heartbeatInterval`; proves liveness, no
    /// reply. Empty payload.
    case heartbeat

    /// Coordinator → worker: training is over, or the job failed, or this worker was dropped from it; stop,
    /// and exit 0 only if `jobFailed` is false. No reply.
    ///
    ///     reason str | jobFailed u8 (0 or 1)
    case done(reason: String, jobFailed: Bool = false)

    /// Worker → coordinator: the worker cannot continue; the coordinator logs `reason` and treats the
    /// worker as dead. The worker exits non-zero after sending it. No reply.
    ///
    ///     reason str
    case failure(reason: String)

    public var type: MessageType {
        switch self {
        case .hello: .hello
        case .welcome: .welcome
        case .refuse: .refuse
        case .blocks: .blocks
        case .ready: .ready
        case .params: .params
        case .partials: .partials
        case .heartbeat: .heartbeat
        case .done: .done
        case .failure: .failure
        case .sharedBlocks: .sharedBlocks
        case .hold: .hold
        }
    }
}

/// The message type field of the frame header.
public enum MessageType: UInt16, Sendable, CaseIterable, CustomStringConvertible {
    case hello = 1
    case welcome = 2
    case refuse = 3
    case blocks = 4
    case ready = 5
    case params = 6
    case partials = 7
    case heartbeat = 8
    case done = 9
    case failure = 10
    case sharedBlocks = 11
    case hold = 12

    public var description: String {
        switch self {
        case .hello: "hello"
        case .welcome: "welcome"
        case .refuse: "refuse"
        case .blocks: "blocks"
        case .ready: "ready"
        case .params: "params"
        case .partials: "partials"
        case .heartbeat: "heartbeat"
        case .done: "done"
        case .failure: "failure"
        case .sharedBlocks: "sharedBlocks"
        case .hold: "hold"
        }
    }
}
