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
///
/// In a mini-batch round only some blocks are active: an inactive block is absent, and a node whose
/// blocks are all inactive is absent too (its parent takes the other child's value unchanged).
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
