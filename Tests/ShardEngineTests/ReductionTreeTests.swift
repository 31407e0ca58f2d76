import Foundation
import ShardEngine
import ShardNumerics
import Testing

@Suite("Reduction tree")
struct ReductionTreeTests {
    @Test("covering nodes tile any contiguous range exactly, with O(log n) nodes", arguments: [1, 2, 3, 5, 8, 13, 64, 100])
    func coveringNodesTile(blockCount: Int) {
        let tree = ReductionTree(blockCount: blockCount)
        for start in 0..<blockCount {
            for end in (start + 1)...blockCount {
                let nodes = tree.coveringNodes(of: start..<end)
                var next = start
                for node in nodes {
                    let covered = tree.blocks(of: node)
                    #expect(covered.lowerBound == next, "gap or overlap at \(node) for \(start)..<\(end)")
                    next = covered.upperBound
                }
                #expect(next == end)
                #expect(nodes.count <= 2 * (tree.height + 1))
            }
        }
    }

    /// Values whose sum depends on the order of additions, so any change of tree shows up in the bits.
    static func leaves(_ count: Int, seed: UInt64) -> [[Double]] {
        var random = SplitMix64(seed: seed)
        func next() -> Double {
            let bits = random.next()
            return (Double(bits >> 11) * 0x1p-53 - 0.5) * pow(10, Double(Int(bits % 17)) - 8)
        }
        return (0..<count).map { _ in (0..<3).map { _ in next() } }
    }

    /// Reduces the leaves of `range` the way a worker does, with only the blocks `isActive` selects.
    static func reduce(
        _ tree: ReductionTree, _ leaves: [[Double]], _ range: Range<Int>, isActive: @escaping (Int) -> Bool
    ) -> [TreeNode: [Double]] {
        let width = leaves[0].count
        var flat = leaves.flatMap { $0 }
        var result: [TreeNode: [Double]] = [:]
        flat.withUnsafeMutableBufferPointer { all in
            let base = all.baseAddress!
            func slot(_ block: Int) -> UnsafeMutableBufferPointer<Double> {
                UnsafeMutableBufferPointer(start: base + block * width, count: width)
            }
            for node in tree.coveringNodes(of: range) {
                if let holder = tree.reduceInPlace(node, isActive: isActive, slot: slot) {
                    result[node] = Array(slot(holder))
                }
            }
        }
        return result
    }

    /// The recursive definition, computed directly: nil when no block below `node` is active.
    static func definition(_ tree: ReductionTree, _ leaves: [[Double]], _ node: TreeNode, _ isActive: (Int) -> Bool)
        -> [Double]?
    {
        if node.level == 0 { return isActive(node.index) ? leaves[node.index] : nil }
        let left = definition(tree, leaves, TreeNode(level: node.level - 1, index: 2 * node.index), isActive)
        let rightNode = TreeNode(level: node.level - 1, index: 2 * node.index + 1)
        let right = tree.exists(rightNode) ? definition(tree, leaves, rightNode, isActive) : nil
        switch (left, right) {
        case (let l?, let r?): return zip(l, r).map { $0 + $1 }
        case (let l?, nil): return l
        case (nil, let r?): return r
        case (nil, nil): return nil
        }
    }

    @Test("any split among workers reduces to the same bits as the whole and as the definition", arguments: [1, 2, 3, 7, 16, 31])
    func splitsGiveIdenticalBits(blockCount: Int) throws {
        let tree = ReductionTree(blockCount: blockCount)
        let leaves = Self.leaves(blockCount, seed: UInt64(blockCount))
        // Full batch, then mini-batches: every other block, and a pseudo-random third of the blocks.
        let masks: [(Int) -> Bool] = [{ _ in true }, { $0 % 2 == 1 || blockCount == 1 }, { ($0 * 7 + 3) % 3 == 0 || $0 == 0 }]
        for isActive in masks {
            let whole = try tree.combine(Self.reduce(tree, leaves, 0..<blockCount, isActive: isActive), isActive: isActive)
            let reference = try #require(Self.definition(tree, leaves, tree.root, isActive))
            #expect(whole.map(\.bitPattern) == reference.map(\.bitPattern))
            for workers in 1...min(blockCount, 5) {
                var received: [TreeNode: [Double]] = [:]
                for k in 0..<workers {
                    let shard = (k * blockCount / workers)..<((k + 1) * blockCount / workers)
                    received.merge(Self.reduce(tree, leaves, shard, isActive: isActive)) { a, _ in a }
                }
                let combined = try tree.combine(received, isActive: isActive)
                #expect(combined.map(\.bitPattern) == whole.map(\.bitPattern), "\(workers) workers")
            }
        }
    }

    @Test("leaving the last addition to the caller gives the bits of reducing in place", arguments: [1, 2, 3, 7, 16, 31])
    func lastAdditionLeftToTheCaller(blockCount: Int) throws {
        let tree = ReductionTree(blockCount: blockCount)
        let leaves = Self.leaves(blockCount, seed: UInt64(blockCount) + 40)
        let masks: [(Int) -> Bool] = [{ _ in true }, { $0 % 2 == 1 }, { $0 % 3 == 0 }]
        for (which, isActive) in masks.enumerated() {
            var flat = leaves.flatMap { $0 }
            let width = leaves[0].count
            let value: [Double]? = flat.withUnsafeMutableBufferPointer { all in
                let base = all.baseAddress!
                func slot(_ block: Int) -> UnsafeMutableBufferPointer<Double> {
                    UnsafeMutableBufferPointer(start: base + block * width, count: width)
                }
                switch tree.reduceLeavingLastAddition(tree.root, isActive: isActive, slot: slot) {
                case nil: return nil
                case .slot(let block)?: return Array(slot(block))
                case .sum(let left, let right)?:
                    #expect(left < right, "the left child's slot comes first")
                    return VectorPasses.array(
                        summing: UnsafeBufferPointer(slot(left)), UnsafeBufferPointer(slot(right)), threads: 1)
                }
            }
            let reference = Self.definition(tree, leaves, tree.root, isActive)
            #expect(value?.map(\.bitPattern) == reference?.map(\.bitPattern), "mask \(which)")
        }
    }

    @Test("missing, overlapping and foreign nodes are reported")
    func combineRejectsBadCoverage() {
        let tree = ReductionTree(blockCount: 5)
        let leaf: [Double] = [1]
        #expect(throws: ReductionError.coverage(expectedBlocks: 5, coveredBlocks: 4)) {
            try tree.combine([TreeNode(level: 2, index: 0): leaf])
        }
        #expect(throws: ReductionError.unknownNode(TreeNode(level: 0, index: 5))) {
            try tree.combine([TreeNode(level: 0, index: 5): leaf])
        }
        #expect(throws: ReductionError.coverage(expectedBlocks: 5, coveredBlocks: 6)) {
            try tree.combine([TreeNode(level: 2, index: 0): leaf, TreeNode(level: 0, index: 3): leaf, TreeNode(level: 0, index: 4): leaf])
        }
    }
}
