import ShardModels
import ShardNumerics

/// The sums of one reduction-tree node: `values` = [Σ loss, Σ gradient…] over `rowCount` rows.
public struct NodeSums: Sendable, Equatable {
    public let node: TreeNode
    public let rowCount: Int
    public let values: [Double]

    public init(node: TreeNode, rowCount: Int, values: [Double]) {
        self.node = node
        self.rowCount = rowCount
        self.values = values
    }
}

/// Computes the sums of a contiguous run of blocks, in parallel, and reduces them to the tree nodes that
/// tile the run. In single-process mode the run is every block and the only node is the root; a worker holds
/// its shard. Both go through this type, so the two modes share every floating-point operation.
public final class BlockComputer {
    public let model: any Model
    public let tree: ReductionTree
    /// The blocks held here, ordered by id and contiguous.
    public let blocks: [Block]
    /// The nodes that exactly tile `blocks`.
    public let nodes: [TreeNode]
    /// Threads used for the blocks (1 = run on the caller's thread; 0 at `init` = every available core).
    public let threads: Int
    private let buffer: BlockSumsBuffer

    public init(model: any Model, blocks: [Block], blockCount: Int, threads: Int) throws(EngineError) {
        guard let first = blocks.first else { throw .plan("no blocks to compute") }
        for (offset, block) in blocks.enumerated() where block.id != first.id + offset {
            throw .plan("blocks are not contiguous: expected id \(first.id + offset), found \(block.id)")
        }
        guard first.id + blocks.count <= blockCount else {
            throw .plan("block ids \(first.id)..<\(first.id + blocks.count) exceed the plan's \(blockCount) blocks")
        }
        self.model = model
        self.tree = ReductionTree(blockCount: blockCount)
        self.blocks = blocks
        self.nodes = tree.coveringNodes(of: first.id..<(first.id + blocks.count))
        self.threads = ThreadCount.resolve(threads)
        do {
            self.buffer = try BlockSumsBuffer(count: blocks.count, width: model.sumsWidth)
        } catch {
            throw .plan("\(error)")
        }
    }

    /// The sums slot of the block at `item` (its position in `blocks`, always in range here).
    private static func slot(_ buffer: BlockSumsBuffer, _ item: Int) -> UnsafeMutableBufferPointer<Double> {
        do {
            return try buffer.slot(item)
        } catch {
            preconditionFailure("block computer: \(error)")
        }
    }

    /// Rows held here.
    public var rowCount: Int { blocks.reduce(0) { $0 + $1.rows } }

    /// Computes the sums of the active blocks at `parameters` and returns one `NodeSums` per node of
    /// `nodes` that holds an active block (all blocks are active in a full-batch round).
    public func compute(parameters: [Double], context: RoundContext, isActive: (Int) -> Bool = { _ in true })
        throws(EngineError) -> [NodeSums]
    {
        guard parameters.count == model.parameterCount else {
            throw .dimension("got \(parameters.count) parameters, the model has \(model.parameterCount)")
        }
        let buffer = self.buffer
        let blocks = self.blocks
        let model = self.model
        let active = blocks.indices.filter { isActive(blocks[$0].id) }
        do {
            // The failure of the lowest-numbered block is reported, whichever thread meets one first.
            _ = try ParallelBlocks.map(count: active.count, threads: threads) { (index) throws(BlockFailure) in
                let item = active[index]
                try parameters.withUnsafeBufferPointer { (parameterBuffer) throws(BlockFailure) in
                    do throws(ModelError) {
                        try model.blockSums(
                            blocks[item], parameters: parameterBuffer, context: context, into: Self.slot(buffer, item))
                    } catch {
                        throw BlockFailure(id: blocks[item].id, error: error)
                    }
                }
            }
        } catch {
            throw .model("block \(error.id): \(error.error)")
        }
        let base = blocks[0].id
        var result: [NodeSums] = []
        for node in nodes {
            guard let holder = tree.reduceInPlace(node, isActive: isActive, slot: { Self.slot(buffer, $0 - base) })
            else { continue }
            let rows = tree.blocks(of: node).filter(isActive).reduce(0) { $0 + blocks[$1 - base].rows }
            result.append(NodeSums(node: node, rowCount: rows, values: Array(Self.slot(buffer, holder - base))))
        }
        return result
    }
}

/// A block whose sums could not be computed.
private struct BlockFailure: Error {
    let id: Int
    let error: ModelError
}
