import ShardNumerics

/// The reduction tree of a block plan with `blockCount` blocks.
public struct ReductionTree: Sendable, Equatable {
    public let blockCount: Int
    /// The smallest `L` with `2^L ≥ blockCount`: the root is `(L, 0)`.
    public let height: Int

    /// A plan without blocks (`blockCount ≤ 0`) gives an empty tree: nothing exists and `combine` reports
    /// that no partial sum covers the plan.
    public init(blockCount: Int) {
        self.blockCount = max(blockCount, 0)
        var height = 0
        while (1 << height) < blockCount { height += 1 }
        self.height = height
    }

    public var root: TreeNode { TreeNode(level: height, index: 0) }

    /// Whether the node covers at least one block.
    public func exists(_ node: TreeNode) -> Bool {
        node.level >= 0 && node.level <= height && node.index >= 0 && node.firstBlock < blockCount
    }

    /// The blocks a node covers.
    public func blocks(of node: TreeNode) -> Range<Int> {
        node.firstBlock..<min((node.index + 1) << node.level, blockCount)
    }

    /// The maximal aligned subtrees that exactly tile `range` (O(log n) nodes, ascending by first block).
    /// A worker holding the blocks of `range` sends one sum per node. Blocks outside the plan are ignored.
    public func coveringNodes(of range: Range<Int>) -> [TreeNode] {
        let range = range.clamped(to: 0..<blockCount)
        var nodes: [TreeNode] = []
        var start = range.lowerBound
        while start < range.upperBound {
            var level = 0
            while level < height {
                let next = level + 1
                guard start % (1 << next) == 0 else { break }
                let end = min(start + (1 << next), blockCount)
                guard end <= range.upperBound else { break }
                level = next
            }
            let node = TreeNode(level: level, index: start >> level)
            nodes.append(node)
            start = blocks(of: node).upperBound
        }
        return nodes
    }

    /// Reduces the leaves of `node` in place: `slot(b)` is the sums vector of block `b` (read only for
    /// active blocks). Returns the slot that holds `value(node)` on return, or nil if no block of the node
    /// is active. The additions are exactly those of the definition; long vectors are added on up to `threads`
    /// threads (`VectorPasses.add`, element-wise: the same bits for any thread count).
    public func reduceInPlace(
        _ node: TreeNode, threads: Int = 1, isActive: (Int) -> Bool = { _ in true },
        slot: (Int) -> UnsafeMutableBufferPointer<Double>
    ) -> Int? {
        reduceLeavingLastAddition(node, threads: threads, isActive: isActive, slot: slot)?
            .held(threads: threads, slot: slot)
    }

    /// `reduceInPlace` without its last addition: `value(node)` is returned as one slot, or as the two slots whose
    /// sum it is, for a caller that adds them into new memory (saving the copy of a slot that `reduceInPlace` would
    /// need).
    public func reduceLeavingLastAddition(
        _ node: TreeNode, threads: Int = 1, isActive: (Int) -> Bool = { _ in true },
        slot: (Int) -> UnsafeMutableBufferPointer<Double>
    ) -> SlotValue? {
        let covered = blocks(of: node)
        // holder[i]: the value of the level-`level` node starting at covered.lowerBound + i·2^level.
        var holders: [SlotValue?] = covered.map { isActive($0) ? .slot($0) : nil }
        var level = 0
        while level < node.level {
            var next: [SlotValue?] = []
            next.reserveCapacity((holders.count + 1) / 2)
            var pair = 0
            while pair < holders.count {
                let left = holders[pair]
                let right = pair + 1 < holders.count ? holders[pair + 1] : nil
                switch (left, right) {
                case (let l?, let r?):
                    next.append(.sum(left: l.held(threads: threads, slot: slot), right: r.held(threads: threads, slot: slot)))
                case (let l?, nil): next.append(l)
                case (nil, let r?): next.append(r)
                case (nil, nil): next.append(nil)
                }
                pair += 2
            }
            holders = next
            level += 1
        }
        return holders.first ?? nil
    }

    /// Completes the tree from node values computed elsewhere and returns `value(root)`.
    ///
    /// Every active block must be covered by exactly one received node (or an ancestor of it), and every
    /// received node must contain an active block; a missing block or an overlap is reported, never
    /// silently summed.
    public func combine(_ received: [TreeNode: [Double]], isActive: (Int) -> Bool = { _ in true })
        throws(ReductionError) -> [Double]
    {
        var covered = 0
        for node in received.keys {
            guard exists(node) else { throw .unknownNode(node) }
            let active = blocks(of: node).filter(isActive).count
            guard active > 0 else { throw .unknownNode(node) }
            covered += active
        }
        let expected = (0..<blockCount).filter(isActive).count
        guard covered == expected else { throw .coverage(expectedBlocks: expected, coveredBlocks: covered) }
        guard let root = try value(of: root, received, isActive) else { throw .coverage(expectedBlocks: 0, coveredBlocks: 0) }
        return root
    }

    private func value(of node: TreeNode, _ received: [TreeNode: [Double]], _ isActive: (Int) -> Bool)
        throws(ReductionError) -> [Double]?
    {
        if let values = received[node] { return values }
        guard node.level > 0 else {
            guard !isActive(node.index) else { throw .missingBlock(node.index) }
            return nil
        }
        let left = try value(of: TreeNode(level: node.level - 1, index: 2 * node.index), received, isActive)
        let rightNode = TreeNode(level: node.level - 1, index: 2 * node.index + 1)
        let right = exists(rightNode) ? try value(of: rightNode, received, isActive) : nil
        switch (left, right) {
        case (let left?, let right?):
            guard left.count == right.count else { throw .width(left.count, right.count) }
            var sum = left
            for k in 0..<sum.count { sum[k] += right[k] }
            return sum
        case (let left?, nil): return left
        case (nil, let right?): return right
        case (nil, nil): return nil
        }
    }
}

/// A node's value in the slots of a reduction: held in one slot, or the sum `slot(left) + slot(right)` not yet
/// computed.
public enum SlotValue: Sendable, Equatable {
    case slot(Int)
    case sum(left: Int, right: Int)

    /// The slot holding the value: `slot(right)` is added into `slot(left)` (`VectorPasses.add`) when not yet done.
    public func held(threads: Int, slot: (Int) -> UnsafeMutableBufferPointer<Double>) -> Int {
        switch self {
        case .slot(let index): return index
        case .sum(let left, let right):
            VectorPasses.add(UnsafeBufferPointer(slot(right)), into: slot(left), threads: threads)
            return left
        }
    }
}

/// Partial sums that do not assemble into the whole tree.
public enum ReductionError: Error, Sendable, Equatable, CustomStringConvertible {
    case unknownNode(TreeNode)
    case missingBlock(Int)
    case coverage(expectedBlocks: Int, coveredBlocks: Int)
    case width(Int, Int)

    public var description: String {
        switch self {
        case .unknownNode(let node): "\(node) is not part of the reduction tree"
        case .missingBlock(let block): "no partial sum covers block \(block)"
        case .coverage(let expected, let covered):
            "partial sums cover \(covered) blocks (counting overlaps), the plan has \(expected)"
        case .width(let a, let b): "partial sums of different widths (\(a) and \(b))"
        }
    }
}
