import ShardNumerics

/// Which blocks take part in each mini-batch step.
///
/// Steps are grouped into epochs of `stepsPerEpoch = ⌈blockCount / blocksPerStep⌉` steps. Epoch `e` visits
/// the blocks in the order of a permutation drawn by Fisher–Yates from the counter-based generator keyed by
/// `(seed, e)`; step `k` of the epoch takes the `k`-th slice of `blocksPerStep` blocks of that order (the last
/// slice may be shorter). Coordinator and workers compute the same schedule from the same numbers, so only
/// the step index travels with the parameters.
public struct BatchSchedule: Sendable, Equatable, Codable {
    public let blockCount: Int
    public let blocksPerStep: Int
    public let seed: UInt64

    /// The generator purpose of the epoch shuffle (model purposes use small values; see DenseLayers).

    public init(blockCount: Int, blocksPerStep: Int, seed: UInt64) throws(EngineError) {
        guard blockCount >= 1 else { throw .plan("a batch schedule needs at least one block") }
        guard blocksPerStep >= 1, blocksPerStep <= blockCount else {
            throw .plan("blocks per step must be between 1 and the \(blockCount) blocks of the plan, got \(blocksPerStep)")
        }
        self.blockCount = blockCount
        self.blocksPerStep = blocksPerStep
        self.seed = seed
    }

    /// Decodes and checks like `init(blockCount:blocksPerStep:seed:)` (a schedule arrives from another process).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(
            blockCount: container.decode(Int.self, forKey: .blockCount),
            blocksPerStep: container.decode(Int.self, forKey: .blocksPerStep),
            seed: container.decode(UInt64.self, forKey: .seed))
    }

    public var stepsPerEpoch: Int { (blockCount + blocksPerStep - 1) / blocksPerStep }

    /// The block order of epoch `epoch` (a permutation of 0..<blockCount).
    public func order(epoch: Int) -> [Int] {
        var order = Array(0..<blockCount)
        let random = CounterRandom(seed: seed, round: epoch, block: 0, row: 0, purpose: .batchShuffle)
        var i = blockCount - 1
        while i > 0 {
            let j = random.index(i, below: i + 1)
            order.swapAt(i, j)
            i -= 1
        }
        return order
    }

    /// The blocks of step `step` (0-based over the whole run; a negative step is treated as 0), as a
    /// membership mask by block id.
    public func activeMask(step: Int) -> [Bool] {
        let step = max(step, 0)
        let epoch = step / stepsPerEpoch
        let slice = step % stepsPerEpoch
        let order = order(epoch: epoch)
        var mask = [Bool](repeating: false, count: blockCount)
        for position in (slice * blocksPerStep)..<min((slice + 1) * blocksPerStep, blockCount) {
            mask[order[position]] = true
        }
        return mask
    }
}
