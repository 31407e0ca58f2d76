import ShardModels
import ShardNumerics

/// Computes the sums of a contiguous run of blocks, in parallel, and reduces them to the tree nodes that
/// tile the run. In single-process mode the run is every block and the only node is the root; a worker holds
/// its shard. Both go through this type, so the two modes share every floating-point operation.
///
/// **Memory.** Sums vectors can be large (the VAE's are 420k doubles), so there is no slot per block: a node
/// with at most `groupSize` active blocks is computed at once (its blocks in parallel, one slot each) and
/// reduced in place; a larger node is reduced from its two children, the left child's value waiting in a slot
/// of its level. The additions are exactly those of `ReductionTree` (value = left + right), whatever the group
/// size, so the bits depend on the block plan only; the same few slots serve every round and stay in cache.
public final class BlockComputer {
    public let model: any Model
    public let tree: ReductionTree
    /// The blocks held here, ordered by id and contiguous.
    public let blocks: [Block]
    /// The nodes that exactly tile `blocks`.
    public let nodes: [TreeNode]
    /// Threads used for the blocks (1 = run on the caller's thread; 0 at `init` = every available core).
    public let threads: Int
    /// Active blocks computed at once: as many as fit in `slotBudget` bytes, at least two per thread (so threads
    /// stay busy when blocks differ in cost); the linear models' short sums fit every block in one group.
    let groupSize: Int
    /// Bytes of sums slots a group may take.
    static let slotBudget = 64 << 20
    /// Slots `0..<groupSize` hold a group's blocks; slot `groupSize + level` a left child's value at `level`.
    /// Replaced by a new buffer when a round's `computeReduced` result still refers to it.
    private var buffer: BlockSumsBuffer

    public convenience init(model: any Model, blocks: [Block], blockCount: Int, threads: Int) throws(EngineError) {
        try self.init(model: model, blocks: blocks, blockCount: blockCount, threads: threads, groupSize: nil)
    }

    /// `groupSize` nil: from `slotBudget` (tests choose it to check that it never changes the bits).
    init(model: any Model, blocks: [Block], blockCount: Int, threads: Int, groupSize: Int?) throws(EngineError) {
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
        let slotBytes = max(1, model.sumsWidth * MemoryLayout<Double>.stride)
        self.groupSize = max(1, min(blocks.count, groupSize ?? max(2 * self.threads, Self.slotBudget / slotBytes)))
        do {
            self.buffer = try BlockSumsBuffer(count: self.groupSize + tree.height + 1, width: model.sumsWidth)
        } catch {
            throw .plan("\(error)")
        }
    }

    /// The sums slot at `index` (always in range here).
    private static func slot(_ buffer: BlockSumsBuffer, _ index: Int) -> UnsafeMutableBufferPointer<Double> {
        do {
            return try buffer.slot(index)
        } catch {
            preconditionFailure("block computer: \(error)")
        }
    }

    /// Rows held here.
    public var rowCount: Int { blocks.reduce(0) { $0 + $1.rows } }

    /// Whether some block here is computed from the parameters rounded to `Float`.
    public var usesRoundedParameters: Bool {
        model.roundsParametersForFloat32Blocks && blocks.contains { $0.precision == .float32 }
    }

    /// Computes the sums of the active blocks at `parameters` and returns one `NodeSums` per node of
    /// `nodes` that holds an active block (all blocks are active in a full-batch round). `rounded`, when given,
    /// is `Float(parameters[k])` for every k (else it is made here when a block needs it).
    public func compute(
        parameters: [Double], rounded: [Float]? = nil, context: RoundContext, isActive: (Int) -> Bool = { _ in true }
    ) throws(EngineError) -> [NodeSums] {
        try computeNodes(parameters: parameters, rounded: rounded, context: context, isActive: isActive) {
            value, floatGradients in
            sums(value, floatGradients: floatGradients).array(threads: threads)
        }.map { NodeSums(node: $0.node, rowCount: $0.rowCount, values: $0.sums) }
    }

    /// `compute` with each node's sums left in this computer's slots (`ReducedSums.slots`, the last addition not
    /// made): the pass that reads them adds the two slots as it goes, saving a pass over the sums. The slots stay
    /// as they are while the result is referenced (a later round computes into a new buffer then).
    public func computeReduced(
        parameters: [Double], rounded: [Float]? = nil, context: RoundContext, isActive: (Int) -> Bool = { _ in true }
    ) throws(EngineError) -> [(node: TreeNode, rowCount: Int, sums: ReducedSums)] {
        guard nodes.count == 1 else {
            // Several nodes would need several buffers; a worker's shard sends arrays anyway.
            return try compute(parameters: parameters, rounded: rounded, context: context, isActive: isActive).map {
                ($0.node, $0.rowCount, .array($0.values))
            }
        }
        return try computeNodes(parameters: parameters, rounded: rounded, context: context, isActive: isActive) {
            value, floatGradients in
            sums(value, floatGradients: floatGradients)
        }
    }

    /// `value`'s slots as reduced sums (its last addition not made).
    private func sums(_ value: SlotValue, floatGradients: Bool) -> ReducedSums {
        let (left, right): (Int, Int?) =
            switch value {
            case .slot(let index): (index, nil)
            case .sum(let left, let right): (left, right)
            }
        do {
            return .slots(try SlotSums(buffer: buffer, left: left, right: right, floatGradients: floatGradients))
        } catch {
            preconditionFailure("block computer: \(error)")
        }
    }

    /// The loop of `compute`: `finish(value(node), floatGradients)` for every node with an active block, where
    /// `floatGradients` says whether the value's slots hold `FloatGradientSums`.
    private func computeNodes<Sums>(
        parameters: [Double], rounded: [Float]?, context: RoundContext, isActive: (Int) -> Bool,
        finish: (SlotValue, Bool) -> Sums
    ) throws(EngineError) -> [(node: TreeNode, rowCount: Int, sums: Sums)] {
        guard parameters.count == model.parameterCount else {
            throw .dimension("got \(parameters.count) parameters, the model has \(model.parameterCount)")
        }
        if let rounded, rounded.count != parameters.count {
            throw .dimension("got \(rounded.count) rounded parameters for \(parameters.count)")
        }
        if !isKnownUniquelyReferenced(&buffer) {
            // An earlier result still reads these slots.
            do {
                buffer = try BlockSumsBuffer(count: buffer.count, width: buffer.width)
            } catch {
                throw .plan("\(error)")
            }
        }
        let active = blocks.map(\.id).filter(isActive)
        var result: [(node: TreeNode, rowCount: Int, sums: Sums)] = []
        for node in nodes {
            let covered = tree.blocks(of: node)
            let lower = active[...].firstIndex(notBelow: covered.lowerBound)
            let upper = active[...].firstIndex(notBelow: covered.upperBound)
            guard
                let values = try withExtendedLifetime(buffer, { () throws(EngineError) -> Sums? in
                    try reduce(
                        node, active: active[lower..<upper], parameters: parameters, rounded: rounded, context: context,
                        isTop: true
                    ).map { finish($0.value, $0.floatGradients) }
                })
            else { continue }
            let rows = active[lower..<upper].reduce(0) { $0 + blocks[$1 - blocks[0].id].rows }
            result.append((node, rows, values))
        }
        return result
    }

    /// `value(node)` over the blocks `active` (sorted ids inside the node) in the slots, or nil when none is
    /// active. `isTop`: the value goes to `computeNodes`'s `finish` (which reads Float gradients) rather than into a
    /// parent's addition.
    private func reduce(
        _ node: TreeNode, active: ArraySlice<Int>, parameters: [Double], rounded: [Float]?, context: RoundContext,
        isTop: Bool = false
    ) throws(EngineError) -> (value: SlotValue, floatGradients: Bool)?
    {
        guard !active.isEmpty else { return nil }
        if active.count <= groupSize {
            return try computeGroup(
                node, active: active, parameters: parameters, rounded: rounded, context: context, isTop: isTop)
        }
        // More active blocks than slots: the node has two children (a leaf holds one block).
        let left = TreeNode(level: node.level - 1, index: 2 * node.index)
        let right = TreeNode(level: node.level - 1, index: 2 * node.index + 1)
        let split = active.firstIndex(notBelow: right.firstBlock)
        let (leftBlocks, rightBlocks) = (active[..<split], active[split...])
        let leftValue = try reduce(left, active: leftBlocks, parameters: parameters, rounded: rounded, context: context)?
            .value
        guard let leftValue else {
            return try reduce(right, active: rightBlocks, parameters: parameters, rounded: rounded, context: context)
        }
        // The left value moves to the slot of this level (added there in one pass when it is a sum).
        let holder = groupSize + node.level
        let target = Self.slot(buffer, holder)
        switch leftValue {
        case .slot(let index) where index != holder:
            _ = target.update(fromContentsOf: Self.slot(buffer, index))
        case .slot: break
        case .sum(let a, let b):
            VectorPasses.add(
                UnsafeBufferPointer(Self.slot(buffer, a)), UnsafeBufferPointer(Self.slot(buffer, b)), into: target,
                threads: threads)
        }
        guard
            let rightValue = try reduce(
                right, active: rightBlocks, parameters: parameters, rounded: rounded, context: context)?.value
        else { return (.slot(holder), false) }
        return (.sum(left: holder, right: held(rightValue)), false)
    }

    /// Computes the active blocks of `node` at once (in parallel, slot i for the i-th) and reduces them in place
    /// along the tree; returns `value(node)` in the slots (its last addition left to the caller).
    ///
    /// When the value is the top one (`isTop`), holds at most two blocks (so no addition is made here) and the
    /// model computes every block's gradient in Float, the slots keep the Floats (`FloatGradientSums`, returned
    /// true): whoever reads the value widens as it reads, instead of a widening pass per block here.
    private func computeGroup(
        _ node: TreeNode, active: ArraySlice<Int>, parameters: [Double], rounded given: [Float]?, context: RoundContext,
        isTop: Bool
    ) throws(EngineError) -> (value: SlotValue, floatGradients: Bool)
    {
        let buffer = self.buffer
        let blocks = self.blocks
        let model = self.model
        let base = blocks[0].id
        let ids = Array(active)
        // The parameters rounded to Float once for the group's float32 blocks, when the model computes in Float.
        let rounded: [Float]? =
            model.roundsParametersForFloat32Blocks && ids.contains { blocks[$0 - base].precision == .float32 }
            ? (given ?? Self.rounded(parameters, threads: threads)) : nil
        let floatGradients =
            isTop && ids.count <= 2 && rounded != nil && ids.allSatisfy { model.writesFloatGradient(of: blocks[$0 - base]) }
        do {
            // The failure of the lowest-numbered block is reported, whichever thread meets one first.
            _ = try ParallelBlocks.map(count: ids.count, threads: threads) { (item) throws(BlockFailure) in
                let block = blocks[ids[item] - base]
                try parameters.withUnsafeBufferPointer { (parameterBuffer) throws(BlockFailure) in
                    do throws(ModelError) {
                        let output = Self.slot(buffer, item)
                        if let rounded {
                            try rounded.withUnsafeBufferPointer { (rounded) throws(ModelError) in
                                if floatGradients {
                                    try model.blockSums(
                                        block, parameters: parameterBuffer, rounded: rounded, context: context,
                                        into: FloatGradientSums(slot: output))
                                } else {
                                    try model.blockSums(
                                        block, parameters: parameterBuffer, rounded: rounded, context: context,
                                        into: output)
                                }
                            }
                        } else {
                            try model.blockSums(block, parameters: parameterBuffer, context: context, into: output)
                        }
                    } catch {
                        throw BlockFailure(id: block.id, error: error)
                    }
                }
            }
        } catch {
            throw .model("block \(error.id): \(error.error)")
        }
        // Slot of each block id of the node (−1: inactive).
        let covered = tree.blocks(of: node)
        var slotOfBlock = [Int](repeating: -1, count: covered.count)
        for (item, id) in ids.enumerated() { slotOfBlock[id - covered.lowerBound] = item }
        guard
            let value = tree.reduceLeavingLastAddition(
                node, threads: threads, isActive: { slotOfBlock[$0 - covered.lowerBound] >= 0 },
                slot: { Self.slot(buffer, slotOfBlock[$0 - covered.lowerBound]) })
        else { preconditionFailure("block computer: a group without active blocks") }
        // Block ids to buffer slots.
        switch value {
        case .slot(let block): return (.slot(slotOfBlock[block - covered.lowerBound]), floatGradients)
        case .sum(let left, let right):
            return (
                .sum(left: slotOfBlock[left - covered.lowerBound], right: slotOfBlock[right - covered.lowerBound]),
                floatGradients
            )
        }
    }

    /// The slot holding `value` (adding its two slots if it is a sum).
    private func held(_ value: SlotValue) -> Int {
        value.held(threads: threads) { Self.slot(buffer, $0) }
    }
}

extension ArraySlice where Element == Int {
    /// The first index whose element is ≥ `value` (`endIndex` if none), for a slice sorted ascending.
    func firstIndex(notBelow value: Int) -> Index {
        var (low, high) = (startIndex, endIndex)
        while low < high {
            let middle = low + (high - low) / 2
            if self[middle] < value { low = middle + 1 } else { high = middle }
        }
        return low
    }
}

extension BlockComputer {
    /// `Float(parameters[k])` for every k, on up to `threads` threads.
    static func rounded(_ parameters: [Double], threads: Int) -> [Float] {
        parameters.withUnsafeBufferPointer { parameters in
            let from = SharedPointer(parameters.baseAddress)
            return [Float](unsafeUninitializedCapacity: parameters.count) { buffer, initialized in
                let to = SharedMutablePointer(buffer.baseAddress)
                VectorPasses.forEachChunk(count: parameters.count, threads: threads) { range in
                    guard let from = from.pointer, let to = to.pointer else { return }
                    for k in range { to[k] = Float(from[k]) }
                }
                initialized = parameters.count
            }
        }
    }
}

/// A block whose sums could not be computed.
private struct BlockFailure: Error {
    let id: Int
    let error: ModelError
}
