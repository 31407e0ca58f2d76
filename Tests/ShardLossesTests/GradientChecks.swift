import Foundation
import ShardLosses
import ShardNumerics
import Testing
import _TestSupport

/// Test draws from the shared SplitMix64 stream, so every run checks the same points.
extension SplitMix64 {
    /// A value in `range` at least `gap` away from `kink`.
    mutating func away(from kink: Double, gap: Double, in range: ClosedRange<Double>) -> Double {
        while true {
            let value = uniform(range)
            if abs(value - kink) > gap { return value }
        }
    }
    /// `count` rows of `columns` positive entries summing to 1, each at least `floor`.
    mutating func distributions(_ count: Int, _ columns: Int, floor: Double = 0.02) -> [Double] {
        (0..<count).flatMap { _ -> [Double] in
            let raw = uniforms(columns, 0.2...1)
            let total = raw.reduce(0, +)
            return raw.map { max($0 / total, floor) }
        }
    }
}

/// Central differences of `value` at `inputs`, compared with the analytic `gradients`.
///
/// `evaluate` returns the reduced value and one gradient per input list.
func checkFiniteDifferences(
    _ label: String, inputs: [[Double]], evaluate: ([[Double]]) throws -> (value: Double, gradients: [[Double]])
) throws {
    let (_, gradients) = try evaluate(inputs)
    try #require(gradients.count == inputs.count, "\(label): \(gradients.count) gradients for \(inputs.count) inputs")
    for (which, input) in inputs.enumerated() {
        try #require(gradients[which].count == input.count, "\(label): gradient \(which) has the wrong length")
        for index in input.indices {
            let step = 1e-6 * max(1, abs(input[index]))
            var plus = inputs
            var minus = inputs
            plus[which][index] += step
            minus[which][index] -= step
            let numeric = (try evaluate(plus).value - evaluate(minus).value) / (2 * step)
            let analytic = gradients[which][index]
            #expect(
                abs(numeric - analytic) <= 1e-6 + 1e-5 * abs(analytic),
                "\(label): input \(which)[\(index)] analytic \(analytic) vs finite difference \(numeric)")
        }
    }
}

extension ShardLossesTests {
    /// Element-wise losses, at random points at least 0.05 away from every kink.
    @Test func elementwiseGradientsMatchFiniteDifferences() throws {
        var random = SplitMix64(seed: 11)
        let count = 12
        func elementwise(
            _ label: String, _ loss: some ElementwiseLoss, targets: [Double], predictions: [Double]
        ) throws {
            for reduction in Reduction.allCases where reduction != .none {
                try checkFiniteDifferences("\(label) \(reduction)", inputs: [predictions]) { inputs in
                    let result = try loss.evaluate(target: targets, prediction: inputs[0], reduction: reduction)
                    return (result.value, [result.gradient])
                }
            }
        }
        let targets = random.uniforms(count, -2...2)
        try elementwise("mse", MeanSquaredError(), targets: targets, predictions: random.uniforms(count, -3...3))
        try elementwise(
            "mae", MeanAbsoluteError(), targets: targets,
            predictions: targets.map { $0 + random.away(from: 0, gap: 0.05, in: -2...2) })
        for delta in [0.5, 1.0, 2.0] {
            let predictions = targets.map { y in
                y + (random.uniform(0...1) < 0.5 ? 1 : -1) * random.away(from: delta, gap: 0.05, in: 0.05...4)
            }
            try elementwise("huber δ=\(delta)", try HuberLoss(delta: delta), targets: targets, predictions: predictions)
        }
        for tau in [0.1, 0.5, 0.8] {
            try elementwise(
                "pinball τ=\(tau)", try PinballLoss(tau: tau), targets: targets,
                predictions: targets.map { $0 + random.away(from: 0, gap: 0.05, in: -2...2) })
        }
        let softLabels = random.uniforms(count, 0...1)
        let binaryLabels = (0..<count).map { _ in random.uniform(0...1) < 0.5 ? 0.0 : 1.0 }
        let signLabels = binaryLabels.map { 2 * $0 - 1 }
        try elementwise(
            "bce_prob", try BinaryCrossEntropy(), targets: softLabels, predictions: random.uniforms(count, 0.05...0.95))
        try elementwise(
            "bce_logits", BinaryCrossEntropyWithLogits(), targets: softLabels, predictions: random.uniforms(count, -6...6))
        let scores = signLabels.map { y in y * random.away(from: 1, gap: 0.05, in: -2...3) }
        try elementwise("hinge", HingeLoss(), targets: signLabels, predictions: scores)
        try elementwise("squared_hinge", SquaredHingeLoss(), targets: signLabels, predictions: scores)
        for gamma in [0.0, 0.5, 2.0, 2.5] {
            for weighting in [FocalWeighting.everySample(alpha: 0.25), .byClass(alpha: 0.25)] {
                try elementwise(
                    "focal_prob γ=\(gamma) \(weighting)", try FocalLoss(gamma: gamma, weighting: weighting),
                    targets: binaryLabels, predictions: random.uniforms(count, 0.05...0.95))
                try elementwise(
                    "focal_logits γ=\(gamma) \(weighting)", try FocalLossWithLogits(gamma: gamma, weighting: weighting),
                    targets: binaryLabels, predictions: random.uniforms(count, -6...6))
            }
        }
        try elementwise(
            "contrastive_distance", try ContrastiveDistanceLoss(margin: 1.5), targets: binaryLabels,
            predictions: (0..<count).map { _ in random.away(from: 1.5, gap: 0.05, in: 0.05...3) })
    }

    @Test func rowwiseGradientsMatchFiniteDifferences() throws {
        var random = SplitMix64(seed: 12)
        let (rows, columns) = (5, 4)
        let matrixOf = { (values: [Double]) throws -> Matrix<Double> in try Matrix(rows: rows, columns: columns, values: values) }

        let taus = [0.1, 0.5, 0.9, 0.3]
        let quantileTargets = random.uniforms(rows, -2...2)
        let quantilePredictions = (0..<(rows * columns)).map { quantileTargets[$0 / columns] + random.away(from: 0, gap: 0.05, in: -2...2) }
        try checkFiniteDifferences("pinball_multi", inputs: [quantilePredictions]) { inputs in
            let result = try MultiQuantileLoss(taus: taus).evaluate(target: quantileTargets, prediction: try matrixOf(inputs[0]))
            return (result.value, [result.gradient])
        }

        let labels = (0..<rows).map { _ in Int.random(in: 0..<columns, using: &random) }
        let soft = try matrixOf(random.distributions(rows, columns))
        for targets in [CategoricalTargets<Double>.labels(labels), .distributions(soft)] {
            try checkFiniteDifferences("cce_prob \(targets)", inputs: [random.uniforms(rows * columns, 0.05...0.95)]) { inputs in
                let result = try CategoricalCrossEntropy().evaluate(targets: targets, probabilities: try matrixOf(inputs[0]))
                return (result.value, [result.gradient])
            }
            try checkFiniteDifferences("cce_logits \(targets)", inputs: [random.uniforms(rows * columns, -4...4)]) { inputs in
                let result = try CategoricalCrossEntropyWithLogits().evaluate(targets: targets, logits: try matrixOf(inputs[0]))
                return (result.value, [result.gradient])
            }
        }

        let target = try matrixOf(random.distributions(rows, columns))
        try checkFiniteDifferences("kl_div", inputs: [random.distributions(rows, columns)]) { inputs in
            let result = try KLDivergence().evaluate(target: target, prediction: try matrixOf(inputs[0]))
            return (result.value, [result.gradient])
        }

        try checkFiniteDifferences(
            "gaussian_kl", inputs: [random.uniforms(rows * columns, -2...2), random.uniforms(rows * columns, -3...3)]
        ) { inputs in
            let result = try GaussianKL().evaluate(mean: try matrixOf(inputs[0]), logVariance: try matrixOf(inputs[1]))
            return (result.value, [result.gradientMean, result.gradientLogVariance])
        }

        // Contrastive pairs: keep every dissimilar distance at least 0.05 from the margin.
        let margin = 2.0
        let similarity = (0..<rows).map { Double($0 % 2) }
        var first: [Double] = []
        var second: [Double] = []
        while first.count < rows * columns {
            let a = random.uniforms(columns, -1.5...1.5)
            let b = random.uniforms(columns, -1.5...1.5)
            let distance = zip(a, b).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot()
            guard abs(distance - margin) > 0.05, distance > 0.05 else { continue }
            first += a
            second += b
        }
        try checkFiniteDifferences("contrastive_embeddings", inputs: [first, second]) { inputs in
            let result = try ContrastiveEmbeddingLoss(margin: margin).evaluate(
                similarity: similarity, first: try matrixOf(inputs[0]), second: try matrixOf(inputs[1]))
            return (result.value, [result.gradientFirst, result.gradientSecond])
        }

        for distance in TripletDistance.allCases {
            let loss = try TripletLoss(margin: 0.5, distance: distance)
            var triplet: [[Double]] = [[], [], []]
            while triplet[0].count < rows * columns {
                let rows3 = (0..<3).map { _ in random.uniforms(columns, -1...1) }
                let one = try loss.evaluate(
                    anchor: try Matrix([rows3[0]]), positive: try Matrix([rows3[1]]), negative: try Matrix([rows3[2]]))
                let dap = zip(rows3[0], rows3[1]).map { ($0 - $1) * ($0 - $1) }.reduce(0, +)
                let dan = zip(rows3[0], rows3[2]).map { ($0 - $1) * ($0 - $1) }.reduce(0, +)
                let argument = distance == .squaredEuclidean ? dap - dan + 0.5 : dap.squareRoot() - dan.squareRoot() + 0.5
                guard abs(argument) > 0.05, dap > 0.01, dan > 0.01 else { continue }
                #expect(abs(one.value - max(argument, 0)) < 1e-12)
                for k in 0..<3 { triplet[k] += rows3[k] }
            }
            try checkFiniteDifferences("\(loss.name)", inputs: triplet) { inputs in
                let result = try loss.evaluate(
                    anchor: try matrixOf(inputs[0]), positive: try matrixOf(inputs[1]), negative: try matrixOf(inputs[2]))
                return (result.value, [result.gradientAnchor, result.gradientPositive, result.gradientNegative])
            }
        }
    }

    /// CTC with respect to log-probabilities (independent inputs) and to logits, with repeats,
    /// an empty label and different lengths.
    @Test func ctcGradientsMatchFiniteDifferences() throws {
        var random = SplitMix64(seed: 13)
        let classes = 4
        let frames = [6, 4, 5, 3]
        let labels = [[1, 2, 2], [3], [], [1, 1]]
        let logits = frames.map { random.uniforms($0 * classes, -2...2) }
        let logProbabilities = try logits.enumerated().map { sequence, values -> [Double] in
            let matrix = try Matrix(rows: frames[sequence], columns: classes, values: values)
            return (0..<matrix.rows).flatMap { frame -> [Double] in
                let row = (0..<classes).map { matrix[frame, $0] }
                let top = row.max()!
                let logSum = top + Foundation.log(row.map { Foundation.exp($0 - top) }.reduce(0, +))
                return row.map { $0 - logSum }
            }
        }
        let loss = try CTCLoss()
        func matrices(_ inputs: [[Double]]) throws -> [Matrix<Double>] {
            try inputs.enumerated().map { try Matrix(rows: frames[$0], columns: classes, values: $1) }
        }
        for reduction in [Reduction.mean, .sum] {
            try checkFiniteDifferences("ctc log_probs \(reduction)", inputs: logProbabilities) { inputs in
                let result = try loss.evaluate(logProbabilities: try matrices(inputs), labels: labels, reduction: reduction)
                return (result.value, try #require(result.gradient).map(\.values))
            }
            try checkFiniteDifferences("ctc logits \(reduction)", inputs: logits) { inputs in
                let result = try loss.evaluate(logits: try matrices(inputs), labels: labels, reduction: reduction)
                return (result.value, try #require(result.gradient).map(\.values))
            }
        }
    }
}
