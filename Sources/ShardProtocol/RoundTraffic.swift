import ShardEngine
import ShardWire

/// The frames of one full-batch round between the coordinator and `workers` workers, from the wire format: worker
/// k holds the balanced shard `CoordinatorInstance.shards(blockCount:workers:)[k]` (one range), is sent one
/// PARAMS with the `parameterCount` values and that range, and answers one PARTIALS with one node of
/// `sumsWidth` sums per tree node that tiles its shard (`ReductionTree.coveringNodes`).
///
///     params[k]   = WireCodec.paramsFrameBytes(parameterCount: p, rangeCount: 1)          = 60 + 8p
///     partials[k] = WireCodec.partialsFrameBytes(nodeCount: nodes(shard k), width: w)     = 44 + nodes·(13 + 8w)
///
/// Every frame crosses the coordinator's link (PARAMS out, PARTIALS in). Mini-batch rounds send the nodes of their
/// active blocks only, so fewer bytes than these.
public struct RoundTraffic: Sendable, Equatable {
    /// Bytes of the PARAMS frame to each worker, by worker position.
    public let params: [Int]
    /// Bytes of the PARTIALS frame from each worker, by worker position.
    public let partials: [Int]

    /// Needs `1 ≤ workers ≤ blockCount` (more workers than blocks leave some without a shard; nil then).
    public init?(parameterCount: Int, sumsWidth: Int, blockCount: Int, workers: Int) {
        guard workers >= 1, workers <= blockCount, parameterCount >= 0, sumsWidth >= 0 else { return nil }
        let tree = ReductionTree(blockCount: blockCount)
        let shards = CoordinatorInstance.shards(blockCount: blockCount, workers: workers)
        params = shards.map { _ in WireCodec.paramsFrameBytes(parameterCount: parameterCount, rangeCount: 1) }
        partials = shards.map {
            WireCodec.partialsFrameBytes(nodeCount: tree.coveringNodes(of: $0).count, width: sumsWidth)
        }
    }

    /// Every frame of the round: what crosses the coordinator's link, both directions together.
    public var frames: [Int] { params + partials }
}
