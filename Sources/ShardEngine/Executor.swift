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
    /// Evaluates the data-loss sums at `parameters`. `round` numbers the evaluation (1, 2, …).
    func evaluate(_ parameters: [Double], round: Int) throws(EngineError) -> Evaluation
}

/// The reduced sums of one round and how long each participant computed.
public struct Evaluation: Sendable, Equatable {
    /// `[Σ loss, Σ ∂loss/∂θ_0, …]` over all training rows.
    public var sums: [Double]
    public var rowCount: Int
    /// One entry per worker (or one for the local process), by worker index.
    public var workerTimings: [WorkerTiming]

    public init(sums: [Double], rowCount: Int, workerTimings: [WorkerTiming]) {
        self.sums = sums
        self.rowCount = rowCount
        self.workerTimings = workerTimings
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

    public init(model: any Model, blocks: [Block], threads: Int, seed: UInt64 = 0) throws(EngineError) {
        self.seed = seed
        computer = try BlockComputer(model: model, blocks: blocks, blockCount: blocks.count, threads: threads)
        precondition(computer.nodes == [computer.tree.root], "all blocks reduce to the root")
    }

    public var workerCount: Int { 0 }
    public var rowCount: Int { computer.rowCount }

    public func evaluate(_ parameters: [Double], round: Int) throws(EngineError) -> Evaluation {
        let start = ContinuousClock.now
        let nodes = try computer.compute(parameters: parameters, context: RoundContext(seed: seed, round: round))
        let seconds = (ContinuousClock.now - start).seconds
        return Evaluation(
            sums: nodes[0].values, rowCount: nodes[0].rowCount,
            workerTimings: [WorkerTiming(worker: 0, computeSeconds: seconds)])
    }
}

extension Duration {
    /// The duration in seconds as a `Double`.
    public var seconds: Double {
        let (whole, attoseconds) = components
        return Double(whole) + Double(attoseconds) * 1e-18
    }
}
