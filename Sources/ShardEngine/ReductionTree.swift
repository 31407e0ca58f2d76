/// A node of the fixed binary reduction tree over block ids.
///
/// Node `(level k, index i)` stands for the blocks `[i·2^k, min((i+1)·2^k, blockCount))`. Its value is
///
///     value(0, i) = sums of block i
///     value(k, i) = value(k−1, 2i) + value(k−1, 2i+1)   if block (2i+1)·2^(k−1) exists
///                 = value(k−1, 2i)                        otherwise
///
/// so the floating-point additions, and therefore the bits of the result, depend only on the block plan,
/// never on which process or thread computed which block.
public struct TreeNode: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let level: Int
    public let index: Int

    public init(level: Int, index: Int) {
        self.level = level
        self.index = index
    }

    public var firstBlock: Int { index << level }

    public static func < (lhs: TreeNode, rhs: TreeNode) -> Bool {
        (lhs.firstBlock, lhs.level) < (rhs.firstBlock, rhs.level)
    }

    public var description: String { "node(level \(level), index \(index))" }
}

/// The reduction tree of a block plan with `blockCount` blocks.
public struct ReductionTree: Sendable, Equatable {
    public let blockCount: Int
    /// The smallest `L` with `2^L ≥ blockCount`: the root is `(L, 0)`.
    public let height: Int

    public init(blockCount: Int) {
        precondition(blockCount >= 1, "a reduction tree needs at least one block")
        self.blockCount = blockCount
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
    /// A worker holding the blocks of `range` sends one sum per node.
    public func coveringNodes(of range: Range<Int>) -> [TreeNode] {
        precondition(range.lowerBound >= 0 && range.upperBound <= blockCount, "range outside the block plan")
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

    /// Reduces the leaves of `node` in place: `slot(b)` is the sums vector of block `b`; on return the
    /// slot of `node.firstBlock` holds `value(node)`. The additions are exactly those of the definition.
    public func reduceInPlace(_ node: TreeNode, slot: (Int) -> UnsafeMutableBufferPointer<Double>) {
        let covered = blocks(of: node)
        guard node.level > 0 else { return }
        for level in 1...node.level {
            let step = 1 << level
            let half = step >> 1
            var left = covered.lowerBound
            while left < covered.upperBound {
                let right = left + half
                if right < covered.upperBound {
                    let target = slot(left)
                    let source = slot(right)
                    for k in 0..<target.count { target[k] += source[k] }
                }
                left += step
            }
        }
    }

    /// Completes the tree from node values computed elsewhere and returns `value(root)`.
    ///
    /// Every block must be covered by exactly one received node (or an ancestor of it); a missing block
    /// or an overlap is reported, never silently summed.
    public func combine(_ received: [TreeNode: [Double]]) throws(ReductionError) -> [Double] {
        var covered = 0
        for node in received.keys {
            guard exists(node) else { throw .unknownNode(node) }
            covered += blocks(of: node).count
        }
        guard covered == blockCount else { throw .coverage(expectedBlocks: blockCount, coveredBlocks: covered) }
        return try value(of: root, received)
    }

    private func value(of node: TreeNode, _ received: [TreeNode: [Double]]) throws(ReductionError) -> [Double] {
        if let values = received[node] { return values }
        guard node.level > 0 else { throw .missingBlock(node.index) }
        let left = try value(of: TreeNode(level: node.level - 1, index: 2 * node.index), received)
        let rightNode = TreeNode(level: node.level - 1, index: 2 * node.index + 1)
        guard exists(rightNode) else { return left }
        let right = try value(of: rightNode, received)
        guard left.count == right.count else { throw .width(left.count, right.count) }
        var sum = left
        for k in 0..<sum.count { sum[k] += right[k] }
        return sum
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
