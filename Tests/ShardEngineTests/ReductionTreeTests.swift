import Foundation
@testable import ShardEngine
import ShardModels
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
        var state = seed
        func next() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let mantissa = Double(state >> 11) / Double(1 << 53)
            return (mantissa - 0.5) * pow(10, Double(Int(state % 17)) - 8)
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

@Suite("Block computer and local executor")
struct BlockComputerTests {
    static func blocks(rows: Int, columns: Int, blockRows: Int, precision: Precision) throws -> [Block] {
        var state: UInt64 = 42
        func next() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(state >> 11) / Double(1 << 53) * 4 - 2
        }
        var blocks: [Block] = []
        var start = 0
        while start < rows {
            let count = min(blockRows, rows - start)
            let features = (0..<(count * columns)).map { _ in next() }
            let labels = (0..<count).map { _ in next() > 0 ? 1.0 : 0.0 }
            let storage: BlockStorage =
                precision == .float64
                ? .float64(features: features, labels: labels)
                : .float32(features: features.map(Float.init), labels: labels.map(Float.init))
            blocks.append(try Block(id: blocks.count, rows: count, columns: columns, storage: storage))
            start += count
        }
        return blocks
    }

    @Test("the result has the same bits for every thread count and every split into shards", arguments: Precision.allCases)
    func deterministicAcrossThreadsAndShards(precision: Precision) throws {
        let blocks = try Self.blocks(rows: 1000, columns: 7, blockRows: 64, precision: precision)
        let model = LogisticRegression(featureCount: 7, l2: 0.1)
        let parameters = (0..<8).map { Double($0) * 0.1 - 0.3 }
        let reference = try LocalExecutor(model: model, blocks: blocks, threads: 1).evaluate(parameters, request: RoundRequest(round: 1))
        for threads in [2, 4] {
            let other = try LocalExecutor(model: model, blocks: blocks, threads: threads).evaluate(parameters, request: RoundRequest(round: 1))
            #expect(other.sums.map(\.bitPattern) == reference.sums.map(\.bitPattern))
        }
        let tree = ReductionTree(blockCount: blocks.count)
        for workers in [2, 3, 5] {
            var received: [TreeNode: [Double]] = [:]
            for k in 0..<workers {
                let shard = Array(blocks[(k * blocks.count / workers)..<((k + 1) * blocks.count / workers)])
                let computer = try BlockComputer(model: model, blocks: shard, blockCount: blocks.count, threads: 2)
                for sums in try computer.compute(parameters: parameters, context: RoundContext(seed: 0, round: 1)) { received[sums.node] = sums.values }
            }
            #expect(try tree.combine(received).map(\.bitPattern) == reference.sums.map(\.bitPattern))
        }
        #expect(reference.rowCount == 1000)
    }

    @Test("a shard must be contiguous and inside the plan")
    func rejectsBadShards() throws {
        let blocks = try Self.blocks(rows: 300, columns: 2, blockRows: 100, precision: .float64)
        let model = LogisticRegression(featureCount: 2, l2: 0)
        #expect(throws: EngineError.self) {
            try BlockComputer(model: model, blocks: [blocks[0], blocks[2]], blockCount: 3, threads: 1)
        }
        #expect(throws: EngineError.self) { try BlockComputer(model: model, blocks: blocks, blockCount: 2, threads: 1) }
        let computer = try BlockComputer(model: model, blocks: blocks, blockCount: 3, threads: 1)
        #expect(throws: EngineError.self) { try computer.compute(parameters: [0, 0], context: RoundContext(seed: 0, round: 1)) }
    }

    @Test("computing blocks in groups of any size gives the tree's value bit for bit, for any active blocks")
    func groupSizeNeverChangesTheBits() throws {
        let blocks = try Self.blocks(rows: 1300, columns: 5, blockRows: 100, precision: .float64)
        let model = LogisticRegression(featureCount: 5, l2: 0)
        let parameters = [0.3, -0.2, 0.1, 0.05, -0.4, 0.2]
        let context = RoundContext(seed: 0, round: 1)
        // The definition: every block's own sums, added along the tree by `combine`.
        var leaves: [TreeNode: [Double]] = [:]
        for block in blocks {
            var sums = [Double](repeating: 0, count: model.sumsWidth)
            try parameters.withUnsafeBufferPointer { theta in
                try sums.withUnsafeMutableBufferPointer { try model.blockSums(block, parameters: theta, context: context, into: $0) }
            }
            leaves[TreeNode(level: 0, index: block.id)] = sums
        }
        let tree = ReductionTree(blockCount: blocks.count)
        var random = SplitMix64(seed: 7)
        let masks: [[Bool]] = [Array(repeating: true, count: 13), (0..<13).map { $0 % 3 == 1 }]
            + (0..<4).map { _ in (0..<13).map { _ in random.nextUnit() < 0.4 } }
        for mask in masks where mask.contains(true) {
            let active = leaves.filter { mask[$0.key.index] }
            let expected = try tree.combine(active, isActive: { mask[$0] })
            for groupSize in [1, 2, 3, 5, 13] {
                for threads in [1, 2] {
                    let computer = try BlockComputer(
                        model: model, blocks: blocks, blockCount: blocks.count, threads: threads, groupSize: groupSize)
                    let nodes = try computer.compute(parameters: parameters, context: context, isActive: { mask[$0] })
                    #expect(nodes.count == 1)
                    #expect(nodes.first?.values.map(\.bitPattern) == expected.map(\.bitPattern), "group \(groupSize)")
                    #expect(nodes.first?.rowCount == blocks.filter { mask[$0.id] }.reduce(0) { $0 + $1.rows })
                }
            }
        }
    }
}
