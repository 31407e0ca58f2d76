import ShardNumerics
import ShardOptimizers
import Testing

/// The objective's gradient made inside Adam's pass against the objective's own pass followed by the update.
@Suite("Objective gradient inside the update")
struct ObjectiveInUpdateTests {
    static let dimension = 40_003
    /// The L2 ranges: off the lane grid, across chunk boundaries, touching, one empty.
    static let regularized = [3..<17_000, 17_000..<17_000, 17_000..<20_011, 21_000..<40_003]

    /// How the test's reduced sums are held.
    enum Holding: CaseIterable {
        case array, slots, floatSlots, floatSlot
    }

    /// Reduced sums of `dimension + 1` entries as an array, as two slots whose sum they are (entry k of the slots
    /// adds to entry k of the array, exactly: halves of a random value), or as one or two slots of Float gradients
    /// (`FloatGradientSums`: the loss in Double, each gradient entry a Float or the sum of two, widened), with
    /// negative zeros and tiny values.
    static func sums(seed: UInt64, _ holding: Holding) throws -> ReducedSums {
        var values = randomGradients(count: 1, dimension: dimension + 1, seed: seed, scale: 50)[0]
        for k in stride(from: 5, to: values.count, by: 997) { values[k] = -0.0 }
        for k in stride(from: 11, to: values.count, by: 1_009) { values[k] = 0x1p-1070 }
        let buffer = try BlockSumsBuffer(count: 3, width: values.count)
        let (left, right) = (try buffer.slot(2), try buffer.slot(0))
        switch holding {
        case .array: return .array(values)
        case .slots:
            for k in values.indices {
                left[k] = values[k] / 2
                right[k] = values[k] - left[k]
            }
            return .slots(try SlotSums(buffer: buffer, left: 2, right: 0))
        case .floatSlots, .floatSlot:
            let (leftSums, rightSums) = (FloatGradientSums(slot: left), FloatGradientSums(slot: right))
            (leftSums.loss.pointee, rightSums.loss.pointee) = (values[0] / 2, values[0] / 4)
            for j in leftSums.gradient.indices {
                leftSums.gradient[j] = Float(values[j + 1] / 2)
                rightSums.gradient[j] = Float(-0x1p-140 * values[j + 1])  // Float subnormals, and −0
            }
            return .slots(try SlotSums(buffer: buffer, left: 2, right: holding == .floatSlots ? 0 : nil, floatGradients: true))
        }
    }

    static func adam(_ initial: [Double], decayed: Bool) throws -> AnyOptimizer {
        decayed
            ? .adamW(
                try AdamW(
                    initialPoint: initial, schedule: .constant(rate: 0.01), weightDecay: 0.1,
                    decayedRanges: [100..<30_000]))
            : .adam(try Adam(initialPoint: initial, schedule: .constant(rate: 0.01)))
    }

    @Test(
        "Adam and AdamW: the gradient, the new state and its companions have the bits of the separate passes",
        arguments: [false, true], [nil, regularized, [0..<9_000, 30_000..<40_003]])
    func updateMatchesSeparatePasses(decayed: Bool, squaredRanges: [Range<Int>]?) throws {
        var fused = try Self.adam(randomGradients(count: 1, dimension: Self.dimension, seed: 21)[0], decayed: decayed)
        try fused.requestCompanions(CompanionRequest(squaredRanges: squaredRanges, rounded: true))
        var separate = fused
        for (step, holding) in Holding.allCases.enumerated() {
            let point = try #require(fused.pendingPoint)
            let sums = try Self.sums(seed: 30 + UInt64(step), holding)
            let objective = ObjectiveGradient(
                sums: sums, parameters: point, scale: 1.0 / 300, l2: step == 2 ? 0 : 0.25, regularized: Self.regularized)
            let (expected, expectedSquares) = objective.gradient(threads: 1)
            // The same gradient from the sums widened and added into an array first.
            let fromArray = ObjectiveGradient(
                sums: .array(sums.array(threads: 2)), parameters: point, scale: 1.0 / 300, l2: step == 2 ? 0 : 0.25,
                regularized: Self.regularized)
            #expect(fromArray.gradient(threads: 2).gradient.map(\.bitPattern) == expected.map(\.bitPattern))
            let (gradient, squaredNorm) = try fused.observe(value: 2, objective: objective)
            try separate.observe(value: 2, gradient: expected)
            #expect(gradient.map(\.bitPattern) == expected.map(\.bitPattern))
            // ‖g‖² from the update's pieces (the squared ranges' pieces; none requested: chunks from 0), each in
            // LaneSums order, added in index order.
            let pieceSquares = VectorPasses.pieces(count: Self.dimension, over: squaredRanges ?? []).map { piece in
                expected.withUnsafeBufferPointer { LaneSums.sumOfSquares(UnsafeBufferPointer(rebasing: $0[piece.range])) }
            }
            #expect(squaredNorm.bitPattern == pieceSquares.reduce(0, +).bitPattern)
            #expect(abs(squaredNorm - expectedSquares) <= 1e-12 * expectedSquares)
            #expect(expectedSquares.bitPattern == gradient.withUnsafeBufferPointer {
                VectorPasses.sumOfSquares($0, threads: 1)
            }.bitPattern)
            #expect(fused == separate)
            #expect(fused.pendingPoint?.map(\.bitPattern) == separate.pendingPoint?.map(\.bitPattern))
            #expect(fused.bestPoint?.gradient.map(\.bitPattern) == expected.map(\.bitPattern))
            #expect(fused.pendingCompanions?.squares?.bitPattern == separate.pendingCompanions?.squares?.bitPattern)
            #expect(fused.pendingCompanions?.rounded == separate.pendingCompanions?.rounded)
        }
    }

    @Test("the objective's gradient is the formula entry by entry, whatever the pieces")
    func gradientIsTheFormula() throws {
        let point = randomGradients(count: 1, dimension: Self.dimension, seed: 40)[0]
        for holding in Holding.allCases {
            let sums = try Self.sums(seed: 41, holding)
            let objective = ObjectiveGradient(
                sums: sums, parameters: point, scale: 1.0 / 7, l2: 0.125, regularized: Self.regularized)
            let all = sums.array(threads: 1)
            let expected = (0..<Self.dimension).map { k in
                let scaled = all[k + 1] * (1.0 / 7)
                return Self.regularized.contains { $0.contains(k) } ? scaled + 0.125 * point[k] : scaled
            }
            var written = [Double](repeating: .nan, count: Self.dimension)
            written.withUnsafeMutableBufferPointer { buffer in
                for piece in [0..<1, 1..<3, 3..<16_999, 16_999..<20_500, 20_500..<Self.dimension] {
                    objective.write(piece, into: buffer.baseAddress!)
                }
            }
            #expect(written.map(\.bitPattern) == expected.map(\.bitPattern))
            #expect(objective.gradient(threads: 4).gradient.map(\.bitPattern) == expected.map(\.bitPattern))
            #expect(objective.regularization(of: 3..<10) == true)
            #expect(objective.regularization(of: 20_011..<21_000) == false)
            #expect(objective.regularization(of: 16_990..<17_010) == true, "touching ranges join")
            #expect(objective.regularization(of: 20_000..<20_020) == nil)
        }
    }

    @Test("the other optimizers observe the objective's gradient made in a pass of its own, with ‖g‖²")
    func otherOptimizersGetTheGradient() throws {
        let point = randomGradients(count: 1, dimension: 1_000, seed: 50)[0]
        var sgd = AnyOptimizer.sgd(try SGD(initialPoint: point, schedule: .constant(rate: 0.1), momentum: .plain))
        var plain = sgd
        let objective = ObjectiveGradient(
            sums: .array(randomGradients(count: 1, dimension: 1_001, seed: 51)[0]), parameters: point, scale: 0.5,
            l2: 0.1, regularized: [10..<500])
        let (gradient, squaredNorm) = try sgd.observe(value: 1, objective: objective)
        try plain.observe(value: 1, gradient: gradient)
        #expect(sgd == plain)
        #expect(gradient.map(\.bitPattern) == objective.gradient(threads: 1).gradient.map(\.bitPattern))
        let squares = gradient.withUnsafeBufferPointer { VectorPasses.sumOfSquares($0, threads: 1) }
        #expect(squaredNorm.bitPattern == squares.bitPattern)
    }
}
