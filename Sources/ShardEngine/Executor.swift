import ShardModels
import ShardNumerics

/// Where a round's block sums are computed: in this process, or by worker processes.
///
/// `evaluate` returns the root of the reduction tree, so the result has the same bits whichever executor
/// computed it and however the blocks were spread.
public protocol Executor: AnyObject {
    /// Worker processes taking part (0 for in-process execution).
    var workerCount: Int { get }
    /// Total training rows.
    var rowCount: Int { get }
    /// Evaluates the data-loss sums at `parameters` under `request` (round number, smoothing, and the
    /// blocks taking part).
    func evaluate(_ parameters: [Double], request: RoundRequest) throws(EngineError) -> Evaluation
    /// Whether `evaluate(_:rounded:request:)` uses `Float(parameters[k])` (float32 blocks of a model that computes
    /// them in `Float`, computed here), so the optimizer should make them in its update pass.
    var usesRoundedParameters: Bool { get }
    /// `evaluate(_:request:)` with `rounded[k] = Float(parameters[k])` made already (nil: round here if needed).
    func evaluate(_ parameters: [Double], rounded: [Float]?, request: RoundRequest) throws(EngineError) -> Evaluation
}

extension Executor {
    public var usesRoundedParameters: Bool { false }

    public func evaluate(_ parameters: [Double], rounded: [Float]?, request: RoundRequest) throws(EngineError)
        -> Evaluation
    {
        try evaluate(parameters, request: request)
    }
}

/// The reduced sums of one round and how long each participant computed.
public struct Evaluation: Sendable, Equatable {
    /// `[Σ loss, Σ ∂loss/∂θ_0, …]` over all training rows, the reduction's last addition possibly left to the pass
    /// that reads them (single-process mode: holding the evaluation then keeps the executor's sums buffer, and its
    /// next round computes into a new one).
    public var reduced: ReducedSums
    public var rowCount: Int
    /// One entry per worker (or one for the local process), by worker index.
    public var workerTimings: [WorkerTiming]

    public init(sums: [Double], rowCount: Int, workerTimings: [WorkerTiming]) {
        self.init(reduced: .array(sums), rowCount: rowCount, workerTimings: workerTimings)
    }

    public init(reduced: ReducedSums, rowCount: Int, workerTimings: [WorkerTiming]) {
        self.reduced = reduced
        self.rowCount = rowCount
        self.workerTimings = workerTimings
    }

    /// `reduced` as an array.
    public var sums: [Double] {
        get { reduced.array(threads: 0) }
        set { reduced = .array(newValue) }
    }

    public static func == (left: Evaluation, right: Evaluation) -> Bool {
        (left.sums, left.rowCount, left.workerTimings) == (right.sums, right.rowCount, right.workerTimings)
    }
}

/// Compute time of one participant in a round.
public struct WorkerTiming: Sendable, Equatable, Codable {
    public var worker: Int
    public var computeSeconds: Double

    public init(worker: Int, computeSeconds: Double) {
        self.worker = worker
        self.computeSeconds = computeSeconds
    }
}

/// Single-process mode: every block computed here with `DispatchQueue.concurrentPerform`, no sockets.
public final class LocalExecutor: Executor {
    private let computer: BlockComputer
    private let seed: UInt64
    private let schedule: BatchSchedule?

    /// `schedule` says which blocks a mini-batch step uses (nil: full-batch rounds only).
    public init(model: any Model, blocks: [Block], threads: Int, seed: UInt64 = 0, schedule: BatchSchedule? = nil)
        throws(EngineError)
    {
        if let schedule, schedule.blockCount != blocks.count {
            throw .plan("the batch schedule covers \(schedule.blockCount) blocks, the plan has \(blocks.count)")
        }
        self.seed = seed
        self.schedule = schedule
        computer = try BlockComputer(model: model, blocks: blocks, blockCount: blocks.count, threads: threads)
    }

    public var workerCount: Int { 0 }
    public var rowCount: Int { computer.rowCount }

    public var usesRoundedParameters: Bool { computer.usesRoundedParameters }

    public func evaluate(_ parameters: [Double], request: RoundRequest) throws(EngineError) -> Evaluation {
        try evaluate(parameters, rounded: nil, request: request)
    }

    public func evaluate(_ parameters: [Double], rounded: [Float]?, request: RoundRequest) throws(EngineError)
        -> Evaluation
    {
        let start = ContinuousClock.now
        let mask = try activeMask(schedule, request)
        // Every block is here, so the only node is the root; its last addition is left to the objective's pass.
        let nodes = try computer.computeReduced(
            parameters: parameters, rounded: rounded,
            context: RoundContext(seed: seed, request: request),
            isActive: { mask?[$0] ?? true })
        let seconds = (ContinuousClock.now - start).seconds
        return Evaluation(
            reduced: nodes[0].sums, rowCount: nodes[0].rowCount,
            workerTimings: [WorkerTiming(worker: 0, computeSeconds: seconds)])
    }
}

/// The active blocks of a request: nil for a full-batch round.
public func activeMask(_ schedule: BatchSchedule?, _ request: RoundRequest) throws(EngineError) -> [Bool]? {
    guard let step = request.batchStep else { return nil }
    guard let schedule else { throw .plan("round \(request.round) asks for mini-batch step \(step), but the job has no batch schedule") }
    guard step >= 0 else { throw .plan("round \(request.round) asks for mini-batch step \(step)") }
    return schedule.activeMask(step: step)
}

extension Duration {
    /// The duration in seconds as a `Double`.
    public var seconds: Double {
        let (whole, attoseconds) = components
        return Double(whole) + Double(attoseconds) * 1e-18
    }
}
