import ShardLosses
import ShardModels
import ShardNumerics
import Testing
import _TestSupport

extension EmbeddingAndVAETests {
    /// The route `blockSums` replaced: gather the mined triplets' embeddings, `TripletLoss.evaluate` (squared, sum),
    /// scatter the slot gradients (anchors, positives, negatives), `u = ∂e ⊙ (1 − e²)`, `∂W = Xᵀ·u` (the same gemm).
    static func gatheredTripletSums<T: BLASScalar & LossScalar>(
        _ type: T.Type, model: TripletEmbedding, features: [T], rows: Int, embeddings: [T], triplets: [TripletIndices]
    ) throws -> (loss: Double, gradient: [Double], active: Int) {
        let width = model.embeddingDimension
        func gather(_ indices: [Int]) throws -> Matrix<T> {
            try Matrix(rows: indices.count, columns: width, values: indices.flatMap { embeddings[($0 * width)..<(($0 + 1) * width)] })
        }
        let (anchors, positives, negatives) = (triplets.map(\.anchor), triplets.map(\.positive), triplets.map(\.negative))
        let result = try TripletLoss(margin: model.margin, distance: .squaredEuclidean).evaluate(
            anchor: gather(anchors), positive: gather(positives), negative: gather(negatives), reduction: .sum)
        var embeddingGradient = [T](repeating: 0, count: rows * width)
        for (indices, slots) in [(anchors, result.gradientAnchor), (positives, result.gradientPositive), (negatives, result.gradientNegative)] {
            for (slot, row) in indices.enumerated() {
                for column in 0..<width { embeddingGradient[row * width + column] += slots[slot * width + column] }
            }
        }
        let u = zip(embeddingGradient, embeddings).map { $0 * (1 - $1 * $1) }
        var weightGradient = [T](repeating: 0, count: model.featureCount * width)
        try features.withUnsafeBufferPointer { x in
            try u.withUnsafeBufferPointer { u in
                try weightGradient.withUnsafeMutableBufferPointer {
                    try BLAS.gemm(m: model.featureCount, n: width, k: rows, x, transposeA: true, u, into: $0)
                }
            }
        }
        return (Double(result.value), weightGradient.map { Double($0) }, result.perSample.filter { $0 > 0 }.count)
    }

    @Test("blockSums' triplet loss has the bits of gather, TripletLoss.evaluate and scatter (float64 and float32 blocks)")
    func tripletLossWithoutCopies() throws {
        var data = SplitMix64(seed: 61)
        let (rows, columns, classes) = (24, 5, 3)
        let model = try TripletEmbedding(
            featureCount: columns, embeddingDimension: 3, hiddenUnits: nil, margin: 0.3, l2: 0, classCount: classes,
            pairObjective: .tripletRandom)
        let features = data.uniforms(rows * columns, -1...1)
        let labels = (0..<rows).map { Double(($0 * 5) % classes) }
        let parameters = data.uniforms(model.parameterCount, -1...1)
        let context = RoundContext(seed: 3, round: 2)
        for precision in [Precision.float64, .float32] {
            let block = try Block(features: features, labels: labels, columns: columns, id: 1, precision: precision)
            let triplets = try model.minedTriplets(block, parameters: parameters, context: context)
            let embeddings = try model.embeddings(of: block, parameters: parameters)
            let reference = switch precision {
            case .float64:
                try Self.gatheredTripletSums(
                    Double.self, model: model, features: features, rows: rows, embeddings: embeddings, triplets: triplets)
            case .float32:
                try Self.gatheredTripletSums(
                    Float.self, model: model, features: features.map { Float($0) }, rows: rows,
                    embeddings: embeddings.map { Float($0) }, triplets: triplets)
            }
            // Rows recur as positives and negatives, and some triplets are inactive: both orders matter.
            #expect(reference.active > 0 && reference.active < triplets.count, "\(precision): \(reference.active) active")
            let sums = try model.sums(block, parameters, context)
            #expect(sums[0].bitPattern == reference.loss.bitPattern, "\(precision): loss \(sums[0]) vs \(reference.loss)")
            #expect(Array(sums[1...]).map(\.bitPattern) == reference.gradient.map(\.bitPattern), "\(precision) gradient")
        }
    }

    @Test("a non-finite embedding is TripletLoss's typed error naming the first triplet it reaches")
    func nonFiniteEmbeddingIsTypedError() throws {
        var data = SplitMix64(seed: 62)
        let (rows, columns) = (12, 4)
        let model = try TripletEmbedding(
            featureCount: columns, embeddingDimension: 2, hiddenUnits: nil, margin: 1, l2: 0, classCount: 2,
            pairObjective: .tripletRandom)
        var features = data.uniforms(rows * columns, -1...1)
        features[0] = .nan  // row 0's embedding is NaN: triplet 0 (anchor row 0) is the first to use it
        let block = try Block(features: features, labels: (0..<rows).map { Double($0 % 2) }, columns: columns, id: 0)
        let parameters = data.uniforms(model.parameterCount, -1...1)
        #expect {
            _ = try model.sums(block, parameters, RoundContext(seed: 1, round: 1))
        } throws: { error in
            guard case ModelError.dimension(let message) = error else { return false }
            return message.hasPrefix("triplet: invalid prediction: triplet_squared: row 0: ")
                && message.contains("embeddings must be finite")
        }
    }
}
