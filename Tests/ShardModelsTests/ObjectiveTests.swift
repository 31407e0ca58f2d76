import ShardModels
import ShardNumerics
import Testing

/// `Model.objective`'s gradient norm, summed while the gradient is written, against the separate pass it replaces.
@Suite("Objective")
struct ObjectiveTests {
    @Test("the gradient norm summed in the gradient's pass has the bits of the separate sum of squares")
    func fusedGradientNorm() throws {
        // 300 → 70 → 64 with a bias: 25,454 parameters, two chunks with a lane tail, biases not regularised.
        let model = try TripletEmbedding(
            featureCount: 300, embeddingDimension: 64, hiddenUnits: 70, margin: 1, l2: 0.03, classCount: 3,
            pairObjective: .tripletRandom)
        var random = SplitMix64(seed: 41)
        let sums = (0...model.parameterCount).map { _ in random.nextUniform(-50, 50) }
        let parameters = (0..<model.parameterCount).map { _ in random.nextUniform(-1, 1) }
        var objective = try model.objective(sums: sums, rowCount: 37, parameters: parameters)
        let separate = objective.gradient.withUnsafeBufferPointer { VectorPasses.sumOfSquares($0, threads: 1) }
        #expect(objective.gradientNorm.bitPattern == separate.squareRoot().bitPattern)
        // The norm is a cache, not part of the value; a changed gradient is summed afresh.
        let plain = Objective(
            value: objective.value, dataLoss: objective.dataLoss, l2Term: objective.l2Term, gradient: objective.gradient)
        #expect(plain == objective && plain.gradientNorm.bitPattern == objective.gradientNorm.bitPattern)
        objective.gradient[5] += 1000
        let changed = objective.gradient.withUnsafeBufferPointer { VectorPasses.sumOfSquares($0, threads: 1) }
        #expect(objective.gradientNorm.bitPattern == changed.squareRoot().bitPattern)
    }
}
