import ShardData
import ShardEngine
import ShardModels
import ShardNumerics

/// What a worker computes for one PARAMS: the tree nodes of `ranges` at `parameters`.
public struct ComputeRequest: Sendable {
    public var round: UInt64
    public var parameters: [Double]
    public var context: RoundContext
    /// Ascending, disjoint block ranges, each with its blocks in id order.
    public var ranges: [Range<Int>]
    public var blocks: [[Block]]

    public init(round: UInt64, parameters: [Double], context: RoundContext, ranges: [Range<Int>], blocks: [[Block]]) {
        self.round = round
        self.parameters = parameters
        self.context = context
        self.ranges = ranges
        self.blocks = blocks
    }
}

/// How a computation ended.
public enum ComputeOutcome: Sendable, Equatable {
    case sums([NodeSums], seconds: Double)
    case failed(String)
}

/// The worker's arithmetic: one `BlockComputer` per block range asked for (the nodes of a range are values of
/// its blocks alone, so any worker computing a range sends the same bits). Computers are kept for the ranges of
/// the latest request, which are usually the next request's too.
public final class RangeComputer {
    public let spec: JobSpec
    private let model: Result<any Model, ClusterError>
    private let threads: Int
    private var computers: [Range<Int>: BlockComputer] = [:]

    /// Builds the model of `spec` (a failure is reported by every `compute`).
    public init(spec: JobSpec, threads: Int) {
        self.spec = spec
        self.threads = threads
        model = Result { () throws(ClusterError) -> any Model in
            do {
                return try spec.model.makeModel()
            } catch {
                throw .computeFailed("cannot build the \(spec.model.kind.rawValue) model: \(error)")
            }
        }
    }

    /// The nodes of every range, ascending. A batch step the job has no schedule for fails the computation
    /// (never an empty selection, which would look like sums of nothing).
    public func compute(_ request: ComputeRequest) -> ComputeOutcome {
        let start = ContinuousClock.now
        let mask: [Bool]?
        do {
            mask = try activeMask(spec.schedule, request.context.request)
        } catch {
            return .failed("\(error)")
        }
        let model: any Model
        switch self.model {
        case .failure(let error): return .failed("\(error)")
        case .success(let built): model = built
        }
        var kept: [Range<Int>: BlockComputer] = [:]
        var sums: [NodeSums] = []
        for (range, blocks) in zip(request.ranges, request.blocks) {
            do {
                let computer = try computers[range]
                    ?? BlockComputer(model: model, blocks: blocks, blockCount: spec.totalBlocks, threads: threads)
                kept[range] = computer
                sums += try computer.compute(
                    parameters: request.parameters, context: request.context, isActive: { mask?[$0] ?? true })
            } catch {
                return .failed("blocks \(range.lowerBound)..<\(range.upperBound): \(error)")
            }
        }
        computers = kept
        return .sums(sums, seconds: (ContinuousClock.now - start).seconds)
    }
}
