@testable import ShardEngine
import ShardModels
import ShardNumerics
import Testing
import _TestSupport

@Suite("Block computer and local executor")
struct BlockComputerTests {
    /// `rows` random rows (features uniform in [-2, 2], labels 0/1) in blocks of `blockRows`, the same on every call.
    static func blocks(rows: Int, columns: Int, blockRows: Int, precision: Precision) throws -> [Block] {
        var random = SplitMix64(seed: 42)
        return try random.blocks(rows: rows, columns: columns, blockRows: blockRows, features: -2...2, precision: precision)
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
        #expect(throws: EngineError.dimension("got 2 rounded parameters for 3")) {
            try computer.compute(parameters: [0, 0, 0], rounded: [0, 0], context: RoundContext(seed: 0, round: 1))
        }
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

@Suite("Block computer: sums left in the slots")
struct ReducedSumsTests {
    @Test(
        "computeReduced has the bits of compute for any active blocks and threads; a result held keeps its values",
        arguments: [1, 2, 3])
    func reducedMatchesCompute(threads: Int) throws {
        let blocks = try BlockComputerTests.blocks(rows: 700, columns: 6, blockRows: 100, precision: .float64)
        let model = LogisticRegression(featureCount: 6, l2: 0)
        let parameters = [0.3, -0.2, 0.1, 0.05, -0.4, 0.2, 0.01]
        let computer = try BlockComputer(model: model, blocks: blocks, blockCount: blocks.count, threads: threads)
        let context = RoundContext(seed: 0, round: 1)
        // One block (one slot), two (a pending addition), several, every one.
        for active in [[3], [2, 5], [0, 1, 6], Array(0..<7)] {
            let isActive = { (id: Int) in active.contains(id) }
            let expected = try computer.compute(parameters: parameters, context: context, isActive: isActive)
            let reduced = try computer.computeReduced(parameters: parameters, context: context, isActive: isActive)
            #expect(reduced.count == 1 && reduced[0].rowCount == expected[0].rowCount)
            let held = reduced[0].sums.array(threads: 1)
            #expect(held.map(\.bitPattern) == expected[0].values.map(\.bitPattern))
            // Another round while the result is referenced: it computes elsewhere.
            _ = try computer.computeReduced(parameters: parameters.map { $0 * 2 }, context: context)
            #expect(reduced[0].sums.array(threads: 2).map(\.bitPattern) == held.map(\.bitPattern))
            #expect(reduced[0].sums.value(at: 0).bitPattern == held[0].bitPattern)
        }
    }
}

@Suite("Block computer: Float gradients left in the slots")
struct FloatGradientSlotsTests {
    /// Sums of each active block through the model's Double interface (its Float gradient widened by the model),
    /// added in tree order (ids ascending: at most two here).
    static func expected(
        _ model: any Model, _ blocks: [Block], active: [Int], parameters: [Double], context: RoundContext
    ) throws -> [Double] {
        let rounded = parameters.map(Float.init)
        let each = try active.map { id in
            var output = [Double](repeating: .nan, count: model.sumsWidth)
            try parameters.withUnsafeBufferPointer { theta in
                try rounded.withUnsafeBufferPointer { rounded in
                    try output.withUnsafeMutableBufferPointer { output in
                        try model.blockSums(blocks[id], parameters: theta, rounded: rounded, context: context, into: output)
                    }
                }
            }
            return output
        }
        return each.count == 1 ? each[0] : zip(each[0], each[1]).map { $0 + $1 }
    }

    @Test(
        "a float32 network's one or two active blocks keep Float gradients: the bits of the widened sums, for any threads",
        arguments: [1, 2, 3])
    func floatGradientsHaveTheBitsOfWidenedSums(threads: Int) throws {
        var random = SplitMix64(seed: 7)
        let vae = try VariationalAutoencoder(featureCount: 6, latentDimension: 2, hiddenUnits: 5, l2: 0)
        let triplet = try TripletEmbedding(
            featureCount: 6, embeddingDimension: 3, hiddenUnits: nil, margin: 1, l2: 0, classCount: 2,
            pairObjective: .tripletRandom)
        for model in [vae, triplet] as [any Model] {
            let blocks = try (0..<5).map { id in
                try Block(
                    features: random.uniforms(8 * 6, 0...1), labels: (0..<8).map { Double($0 % 2) }, columns: 6, id: id,
                    precision: .float32)
            }
            let parameters = model.initialParameters()
            let computer = try BlockComputer(model: model, blocks: blocks, blockCount: 5, threads: threads)
            let context = RoundContext(seed: 3, round: 2)
            for active in [[1], [0, 4], [2, 3]] {
                let isActive = { (id: Int) in active.contains(id) }
                let expected = try Self.expected(model, blocks, active: active, parameters: parameters, context: context)
                let reduced = try computer.computeReduced(parameters: parameters, context: context, isActive: isActive)
                guard case .slots(let slots) = reduced[0].sums else {
                    Issue.record("\(model.spec.kind): \(active) not left in slots")
                    continue
                }
                #expect(slots.floatGradients)
                #expect(reduced[0].sums.array(threads: threads).map(\.bitPattern) == expected.map(\.bitPattern))
                for index in [0, 1, model.sumsWidth / 2, model.sumsWidth - 1] {
                    #expect(reduced[0].sums.value(at: index).bitPattern == expected[index].bitPattern)
                }
                // The shard path (arrays for the wire) widens the same way.
                let nodes = try computer.compute(parameters: parameters, context: context, isActive: isActive)
                #expect(nodes[0].values.map(\.bitPattern) == expected.map(\.bitPattern))
            }
            // Three active blocks are added here, so the slots hold Doubles; float64 blocks never hold Floats.
            let three = try computer.computeReduced(parameters: parameters, context: context, isActive: { $0 < 3 })
            if case .slots(let slots) = three[0].sums { #expect(!slots.floatGradients) }
            #expect(!model.writesFloatGradient(of: try Block(features: [0.5, 0.5, 0.5, 0.5, 0.5, 0.5], labels: [0], columns: 6)))
        }
    }

    @Test("a model that computes in Double refuses to write Float gradients")
    func doubleModelsRefuse() throws {
        let model = LogisticRegression(featureCount: 2, l2: 0)
        let block = try Block(features: [1, 2], labels: [1], columns: 2, precision: .float32)
        #expect(!model.writesFloatGradient(of: block))
        var slot = [Double](repeating: 0, count: model.sumsWidth)
        #expect(throws: ModelError.self) {
            try slot.withUnsafeMutableBufferPointer { slot in
                try [0.0, 0, 0].withUnsafeBufferPointer { theta in
                    try [Float](repeating: 0, count: 3).withUnsafeBufferPointer { rounded in
                        try model.blockSums(
                            block, parameters: theta, rounded: rounded, context: RoundContext(seed: 0, round: 1),
                            into: FloatGradientSums(slot: slot))
                    }
                }
            }
        }
    }
}
