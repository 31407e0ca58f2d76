import Foundation
import ShardLosses
import ShardNumerics
import Testing
import _TestSupport

func allFinite<T: LossScalar>(_ values: [T]) -> Bool { values.allSatisfy(\.isFinite) }

/// `body` must throw a `LossError` for which `matches` holds.
func expectLossError(_ label: String, _ matches: (LossError) -> Bool, _ body: () throws(LossError) -> Void) {
    do {
        try body()
        Issue.record("\(label): no error thrown")
    } catch {
        #expect(matches(error), "\(label): unexpected error \(error)")
        #expect(!error.description.isEmpty)
    }
}

func isShape(_ error: LossError) -> Bool { if case .shapeMismatch = error { true } else { false } }
func isParameter(_ error: LossError) -> Bool { if case .invalidParameter = error { true } else { false } }
func isTarget(_ error: LossError) -> Bool { if case .invalidTarget = error { true } else { false } }
func isPrediction(_ error: LossError) -> Bool { if case .invalidPrediction = error { true } else { false } }

extension ShardLossesTests {
    // MARK: - Extremes

    @Test func extremeLogitsStayFinite() throws {
        let targets: [Double] = [0, 1, 0, 1, 0.5]
        let logits: [Double] = [1000, -1000, -1000, 1000, 1000]
        let bce = try BinaryCrossEntropyWithLogits().evaluate(target: targets, prediction: logits)
        #expect(bce.perSample == [1000, 1000, 0, 0, 500])
        #expect(bce.gradient.map { $0 * 5 } == [1, -1, 0, 0, 0.5])
        let floatBCE = try BinaryCrossEntropyWithLogits().evaluate(target: targets.map(Float.init), prediction: logits.map(Float.init))
        #expect(floatBCE.perSample == [1000, 1000, 0, 0, 500])

        let binary: [Double] = [0, 1, 0, 1]
        let binaryLogits: [Double] = [1000, -1000, -1000, 1000]
        for gamma in [0.0, 0.5, 2.0] {
            for weighting in [FocalWeighting.everySample(alpha: 0.25), .byClass(alpha: 0.25)] {
                let focal = try FocalLossWithLogits(gamma: gamma, weighting: weighting)
                let double = try focal.evaluate(target: binary, prediction: binaryLogits)
                let float = try focal.evaluate(target: binary.map(Float.init), prediction: binaryLogits.map(Float.init))
                #expect(allFinite(double.perSample) && allFinite(double.gradient) && double.value.isFinite)
                #expect(allFinite(float.perSample) && allFinite(float.gradient) && float.value.isFinite)
                // Wrong-side logits of 1000 cost w * 1 * 1000; right-side ones cost 0.
                let w0: Double = weighting == .everySample(alpha: 0.25) ? 0.25 : 0.75
                #expect(abs(double.perSample[0] - w0 * 1000) < 1e-9)
                #expect(double.perSample[2] == 0 && double.perSample[3] == 0)
            }
        }

        let logitRows = try Matrix<Double>([[1000, -1000, 0], [-1000, 1000, 999], [0, 0, 0]])
        let cce = try CategoricalCrossEntropyWithLogits().evaluate(targets: .labels([1, 2, 0]), logits: logitRows)
        #expect(allFinite(cce.perSample) && allFinite(cce.gradient))
        #expect(abs(cce.perSample[0] - 2000) < 1e-9)
        #expect(abs(cce.perSample[1] - (1 + log1p(exp(-1.0)))) < 1e-12)
        let floatRows = try Matrix<Float>(logitRows.rowList.map { $0.map(Float.init) })
        let floatCCE = try CategoricalCrossEntropyWithLogits().evaluate(targets: .labels([1, 2, 0]), logits: floatRows)
        #expect(allFinite(floatCCE.perSample) && allFinite(floatCCE.gradient))
    }

    @Test func probabilitiesZeroAndOneStayFinite() throws {
        let targets: [Double] = [0, 1, 0, 1]
        let probabilities: [Double] = [0, 0, 1, 1]
        func check<T: LossScalar>(_ type: T.Type) throws {
            let y = targets.map { T($0) }
            let p = probabilities.map { T($0) }
            let bce = try BinaryCrossEntropy().evaluate(target: y, prediction: p)
            #expect(allFinite(bce.perSample) && bce.gradient.allSatisfy { $0 == 0 }, "\(T.self) bce")
            for weighting in [FocalWeighting.everySample(alpha: 0.25), .byClass(alpha: 0.25)] {
                let focal = try FocalLoss(gamma: 2, weighting: weighting).evaluate(target: y, prediction: p)
                #expect(allFinite(focal.perSample) && focal.gradient.allSatisfy { $0 == 0 }, "\(T.self) focal")
            }
            let cce = try CategoricalCrossEntropy().evaluate(
                targets: .labels([0, 1]), probabilities: try Matrix<T>([[0, 1], [1, 0]]))
            #expect(allFinite(cce.perSample) && cce.gradient.allSatisfy { $0 == 0 }, "\(T.self) cce")
        }
        try check(Double.self)
        try check(Float.self)
        // In Double the clip at 1e-15 gives -log(1e-15) for a certain wrong answer.
        let wrong = try BinaryCrossEntropy().evaluate(target: [1.0], prediction: [0.0])
        #expect(abs(wrong.value - (-log(1e-15))) < 1e-9)
    }

    @Test func extremeLogVarianceStaysFinite() throws {
        let mean = try Matrix<Double>([[0.5, -1, 0], [2, 0, 1]])
        let logVariance = try Matrix<Double>([[15, -15, 0], [-15, 15, 1]])
        let result = try GaussianKL().evaluate(mean: mean, logVariance: logVariance)
        #expect(allFinite(result.perSample) && allFinite(result.gradientLogVariance) && allFinite(result.gradientMean))
        let expectedFirst = 0.5 * ((0.25 + exp(15.0) - 1 - 15) + (1 + exp(-15.0) - 1 + 15) + 0)
        #expect(abs(result.perSample[0] - expectedFirst) <= 1e-12 * expectedFirst)
        #expect(abs(result.gradientLogVariance[1] - 0.5 * (exp(-15.0) - 1) / 2) < 1e-15)
        let float = try GaussianKL().evaluate(
            mean: try Matrix<Float>(mean.rowList.map { $0.map(Float.init) }),
            logVariance: try Matrix<Float>(logVariance.rowList.map { $0.map(Float.init) }))
        #expect(allFinite(float.perSample) && allFinite(float.gradientLogVariance))
    }

    /// T = 1000 frames, 40 labels with repeats: finite in log space, rows of the gradient sum to -1/N.
    @Test func longCTCSequencesDoNotUnderflow() throws {
        var random = SplitMix64(seed: 21)
        let (frames, classes) = (1000, 6)
        let labels = [(0..<40).map { $0 % 7 == 3 ? 1 : 1 + ($0 % (classes - 1)) }, [2, 2, 2], []]
        let logits = try labels.map { _ in
            try Matrix(rows: frames, columns: classes, values: random.uniforms(frames * classes, -3...3))
        }
        func run<T: LossScalar>(_ type: T.Type) throws -> CTCResult<T> {
            let converted = try logits.map { try Matrix<T>(rows: $0.rows, columns: $0.columns, values: $0.values.map { T($0) }) }
            return try CTCLoss().evaluate(logits: converted, labels: labels)
        }
        let double = try run(Double.self)
        #expect(allFinite(double.perSample) && double.perSample.allSatisfy { $0 > 0 })
        let gradients = try #require(double.gradient)
        // With respect to logits each frame's gradient sums to 0.
        for gradient in gradients {
            for frame in stride(from: 0, to: frames, by: 97) {
                let total = (0..<classes).map { gradient[frame, $0] }.reduce(0, +)
                #expect(abs(total) < 1e-12)
            }
        }
        let onLogProbabilities = try CTCLoss().evaluate(
            logProbabilities: logits.map { matrix in
                var normalised = matrix
                for frame in 0..<frames {
                    let row = (0..<classes).map { matrix[frame, $0] }
                    let logSum = log(row.map { exp($0) }.reduce(0, +))
                    for c in 0..<classes { normalised[frame, c] = row[c] - logSum }
                }
                return normalised
            }, labels: labels)
        for gradient in try #require(onLogProbabilities.gradient) {
            for frame in stride(from: 0, to: frames, by: 97) {
                let total = (0..<classes).map { gradient[frame, $0] }.reduce(0, +)
                #expect(abs(total + 1.0 / 3) < 1e-10)
            }
        }
        let float = try run(Float.self)
        #expect(allFinite(float.perSample))
        for (single, full) in zip(float.perSample, double.perSample) {
            #expect(abs(Double(single) - full) <= 1e-3 * full)
        }
    }

    // MARK: - CTC semantics

    @Test func ctcCountsBlankPathsAndRejectsImpossibleRepeats() throws {
        let uniform = try Matrix<Double>([[log(0.5), log(0.5)], [log(0.5), log(0.5)]])
        let single = try CTCLoss().evaluate(logProbabilities: [uniform], labels: [[1]])
        #expect(abs(single.value - (-log(0.75))) < 1e-15)  // paths "a a", "a -", "- a"
        let repeated = try CTCLoss().evaluate(logProbabilities: [uniform], labels: [[1, 1]])
        #expect(repeated.value == .infinity && repeated.gradient == nil)
        let zeroed = try CTCLoss(zeroInfinity: true).evaluate(logProbabilities: [uniform], labels: [[1, 1]])
        #expect(zeroed.value == 0 && zeroed.gradient?.first?.values == [0, 0, 0, 0])
        // T = 3 is enough for [1, 1]: the only path is "a - a".
        let three = try Matrix<Double>(rows: 3, columns: 2, values: [Double](repeating: log(0.5), count: 6))
        let feasible = try CTCLoss().evaluate(logProbabilities: [three], labels: [[1, 1]])
        #expect(abs(feasible.value - 3 * log(2.0)) < 1e-12)
        // A blank other than 0.
        let other = try CTCLoss(blank: 1).evaluate(logProbabilities: [uniform], labels: [[0]])
        #expect(abs(other.value - (-log(0.75))) < 1e-15)
    }

    // MARK: - Reductions

    @Test func reductionsScaleValueAndGradientUniformly() throws {
        var random = SplitMix64(seed: 31)
        let targets = random.uniforms(20, -1...1)
        let predictions = random.uniforms(20, -1...1)
        let loss = try HuberLoss(delta: 0.5)
        let mean = try loss.evaluate(target: targets, prediction: predictions)
        let defaultReduction = try loss.evaluate(target: targets, prediction: predictions, reduction: .mean)
        let sum = try loss.evaluate(target: targets, prediction: predictions, reduction: .sum)
        let none = try loss.evaluate(target: targets, prediction: predictions, reduction: .none)
        #expect(mean == defaultReduction)
        #expect(abs(sum.value - 20 * mean.value) < 1e-12)
        #expect(zip(sum.gradient, mean.gradient).allSatisfy { abs($0 - 20 * $1) < 1e-12 })
        #expect(none.perSample == mean.perSample && none.gradient == sum.gradient)
        #expect(abs(none.value - none.perSample.reduce(0, +)) < 1e-12)

        // Row-wise losses divide by rows.
        let logits = try Matrix<Double>(rows: 4, columns: 3, values: random.uniforms(12, -2...2))
        let rowMean = try CategoricalCrossEntropyWithLogits().evaluate(targets: .labels([0, 1, 2, 0]), logits: logits)
        let rowSum = try CategoricalCrossEntropyWithLogits().evaluate(
            targets: .labels([0, 1, 2, 0]), logits: logits, reduction: .sum)
        #expect(abs(rowSum.value - 4 * rowMean.value) < 1e-12)
        #expect(abs(rowMean.value - rowMean.perSample.reduce(0, +) / 4) < 1e-15)

        let empty = try MeanSquaredError().evaluate(target: [Double](), prediction: [])
        #expect(empty.value == 0 && empty.perSample.isEmpty)
    }

    @Test func bufferEntryPointMatchesArrays() throws {
        var random = SplitMix64(seed: 41)
        let targets = random.uniforms(3000, 0...1).map { $0 < 0.5 ? Float(0) : Float(1) }
        let logits = random.uniforms(3000, -8...8).map(Float.init)
        let loss = try FocalLossWithLogits(gamma: 2, weighting: .byClass(alpha: 0.25))
        let arrays = try loss.evaluate(target: targets, prediction: logits)
        var perSample = [Float](repeating: 0, count: 3000)
        var gradient = [Float](repeating: 0, count: 3000)
        let value = try targets.withUnsafeBufferPointer { (t) throws(LossError) -> Float in
            try logits.withUnsafeBufferPointer { (z) throws(LossError) -> Float in
                try perSample.withUnsafeMutableBufferPointer { (l) throws(LossError) -> Float in
                    try gradient.withUnsafeMutableBufferPointer { (g) throws(LossError) -> Float in
                        try loss.evaluate(target: t, prediction: z, perSample: l, gradient: g)
                    }
                }
            }
        }
        #expect(value == arrays.value && perSample == arrays.perSample && gradient == arrays.gradient)
    }

    // MARK: - Invalid arguments

    @Test func invalidParametersAreTypedErrors() {
        for tau in [0, 1, 1.5, -0.1, .nan] {
            expectLossError("tau \(tau)", isParameter) { () throws(LossError) in _ = try PinballLoss(tau: tau) }
        }
        expectLossError("taus", isParameter) { () throws(LossError) in _ = try MultiQuantileLoss(taus: [0.5, 1]) }
        expectLossError("no taus", isParameter) { () throws(LossError) in _ = try MultiQuantileLoss(taus: []) }
        for delta in [-1, 0, Double.infinity] {
            expectLossError("delta \(delta)", isParameter) { () throws(LossError) in _ = try HuberLoss(delta: delta) }
        }
        expectLossError("contrastive margin", isParameter) { () throws(LossError) in _ = try ContrastiveDistanceLoss(margin: -1) }
        expectLossError("embedding margin", isParameter) { () throws(LossError) in _ = try ContrastiveEmbeddingLoss(margin: -0.5) }
        expectLossError("triplet margin", isParameter) { () throws(LossError) in
            _ = try TripletLoss(margin: -0.2, distance: .euclidean)
        }
        expectLossError("eps", isParameter) { () throws(LossError) in _ = try BinaryCrossEntropy(epsilon: 0.7) }
        expectLossError("cce eps", isParameter) { () throws(LossError) in _ = try CategoricalCrossEntropy(epsilon: -1) }
        expectLossError("gamma", isParameter) { () throws(LossError) in
            _ = try FocalLoss(gamma: -1, weighting: .everySample(alpha: 0.25))
        }
        expectLossError("alpha", isParameter) { () throws(LossError) in
            _ = try FocalLossWithLogits(gamma: 2, weighting: .byClass(alpha: 1.5))
        }
        expectLossError("blank", isParameter) { () throws(LossError) in _ = try CTCLoss(blank: -1) }
    }

    @Test func invalidInputsAreTypedErrors() throws {
        let probabilities = try Matrix<Double>([[0.2, 0.8], [0.5, 0.5]])
        expectLossError("length", isShape) { () throws(LossError) in
            _ = try MeanSquaredError().evaluate(target: [1.0, 2], prediction: [1])
        }
        expectLossError("matrix", isShape) { () throws(LossError) in _ = try Matrix<Double>(rows: 2, columns: 2, values: [1]) }
        expectLossError("ragged", isShape) { () throws(LossError) in _ = try Matrix<Double>([[1, 2], [3]]) }
        expectLossError("p > 1", isPrediction) { () throws(LossError) in
            _ = try BinaryCrossEntropy().evaluate(target: [1.0, 0], prediction: [0.5, 1.5])
        }
        expectLossError("p NaN", isPrediction) { () throws(LossError) in
            _ = try BinaryCrossEntropy().evaluate(target: [1.0], prediction: [.nan])
        }
        expectLossError("bce y", isTarget) { () throws(LossError) in
            _ = try BinaryCrossEntropy().evaluate(target: [2.0], prediction: [0.5])
        }
        expectLossError("bce logits y", isTarget) { () throws(LossError) in
            _ = try BinaryCrossEntropyWithLogits().evaluate(target: [-1.0], prediction: [0.5])
        }
        expectLossError("hinge {0,1}", isTarget) { () throws(LossError) in
            _ = try HingeLoss().evaluate(target: [1.0, 0], prediction: [0.5, 0.5])
        }
        expectLossError("squared hinge", isTarget) { () throws(LossError) in
            _ = try SquaredHingeLoss().evaluate(target: [0.5], prediction: [0.5])
        }
        expectLossError("focal y", isTarget) { () throws(LossError) in
            _ = try FocalLoss(weighting: .everySample(alpha: 0.25)).evaluate(target: [0.5], prediction: [0.5])
        }
        expectLossError("focal p", isPrediction) { () throws(LossError) in
            _ = try FocalLoss(weighting: .everySample(alpha: 0.25)).evaluate(target: [1.0], prediction: [-0.1])
        }
        expectLossError("focal logits y", isTarget) { () throws(LossError) in
            _ = try FocalLossWithLogits(weighting: .byClass(alpha: 0.25)).evaluate(target: [2.0], prediction: [0.5])
        }
        expectLossError("negative distance", isPrediction) { () throws(LossError) in
            _ = try ContrastiveDistanceLoss().evaluate(target: [1.0], prediction: [-0.5])
        }
        expectLossError("label too large", isTarget) { () throws(LossError) in
            _ = try CategoricalCrossEntropy().evaluate(targets: .labels([0, 2]), probabilities: probabilities)
        }
        expectLossError("negative label", isTarget) { () throws(LossError) in
            _ = try CategoricalCrossEntropyWithLogits().evaluate(targets: .labels([-1, 0]), logits: probabilities)
        }
        expectLossError("label count", isShape) { () throws(LossError) in
            _ = try CategoricalCrossEntropyWithLogits().evaluate(targets: .labels([0]), logits: probabilities)
        }
        expectLossError("cce p", isPrediction) { () throws(LossError) in
            _ = try CategoricalCrossEntropy().evaluate(targets: .labels([0, 1]), probabilities: try Matrix([[1.2, -0.2], [0.5, 0.5]]))
        }
        expectLossError("cce target shape", isShape) { () throws(LossError) in
            _ = try CategoricalCrossEntropy().evaluate(targets: .distributions(try Matrix([[1.0, 0, 0]])), probabilities: probabilities)
        }
        expectLossError("soft target", isTarget) { () throws(LossError) in
            _ = try CategoricalCrossEntropy().evaluate(
                targets: .distributions(try Matrix([[1.5, -0.5], [0.5, 0.5]])), probabilities: probabilities)
        }
        expectLossError("kl q", isPrediction) { () throws(LossError) in
            _ = try KLDivergence().evaluate(target: probabilities, prediction: try Matrix([[0.2, 1.8], [0.5, 0.5]]))
        }
        expectLossError("kl p", isTarget) { () throws(LossError) in
            _ = try KLDivergence().evaluate(target: try Matrix([[-0.2, 1.2], [0.5, 0.5]]), prediction: probabilities)
        }
        expectLossError("kl shape", isShape) { () throws(LossError) in
            _ = try KLDivergence().evaluate(target: probabilities, prediction: try Matrix([[0.2, 0.8]]))
        }
        expectLossError("gaussian shape", isShape) { () throws(LossError) in
            _ = try GaussianKL().evaluate(mean: probabilities, logVariance: try Matrix([[0.2, 0.8, 0]]))
        }
        expectLossError("multi-quantile shape", isShape) { () throws(LossError) in
            _ = try MultiQuantileLoss(taus: [0.1, 0.5, 0.9]).evaluate(target: [1.0, 2], prediction: probabilities)
        }
        expectLossError("pair shape", isShape) { () throws(LossError) in
            _ = try ContrastiveEmbeddingLoss().evaluate(similarity: [1.0, 0], first: probabilities, second: try Matrix([[1.0, 2]]))
        }
        expectLossError("pair targets", isShape) { () throws(LossError) in
            _ = try ContrastiveEmbeddingLoss().evaluate(similarity: [1.0], first: probabilities, second: probabilities)
        }
        expectLossError("pair target value", isTarget) { () throws(LossError) in
            _ = try ContrastiveEmbeddingLoss().evaluate(similarity: [1.0, 3], first: probabilities, second: probabilities)
        }
        expectLossError("triplet shape", isShape) { () throws(LossError) in
            _ = try TripletLoss(distance: .squaredEuclidean).evaluate(
                anchor: probabilities, positive: probabilities, negative: try Matrix([[1.0, 2, 3], [1, 2, 3]]))
        }
        let frames = try Matrix<Double>([[log(0.5), log(0.5), -.infinity], [log(0.25), log(0.5), log(0.25)]])
        expectLossError("ctc label = blank", isTarget) { () throws(LossError) in
            _ = try CTCLoss().evaluate(logProbabilities: [frames], labels: [[0]])
        }
        expectLossError("ctc label >= C", isTarget) { () throws(LossError) in
            _ = try CTCLoss().evaluate(logProbabilities: [frames], labels: [[3]])
        }
        expectLossError("ctc blank >= C", isParameter) { () throws(LossError) in
            _ = try CTCLoss(blank: 3).evaluate(logProbabilities: [frames], labels: [[1]])
        }
        expectLossError("ctc counts", isShape) { () throws(LossError) in
            _ = try CTCLoss().evaluate(logProbabilities: [frames], labels: [[1], [2]])
        }
        expectLossError("ctc classes", isShape) { () throws(LossError) in
            _ = try CTCLoss().evaluate(logits: [frames, try Matrix([[0.0, 0]])], labels: [[1], [1]])
        }
        expectLossError("ctc log-prob > 0", isPrediction) { () throws(LossError) in
            _ = try CTCLoss().evaluate(logProbabilities: [try Matrix([[0.5, -1.0, -1]])], labels: [[1]])
        }
        expectLossError("ctc NaN logit", isPrediction) { () throws(LossError) in
            _ = try CTCLoss().evaluate(logits: [try Matrix([[0.5, .nan, -1]])], labels: [[1]])
        }
        // The first offending element is named, also past the first block of 1024.
        var long = [Double](repeating: 0.5, count: 3000)
        long[1500] = 1.25
        long[2500] = -1
        do throws(LossError) {
            _ = try BinaryCrossEntropy().evaluate(target: [Double](repeating: 1, count: 3000), prediction: long)
            Issue.record("no error for probability 1.25")
        } catch {
            #expect(error == LossError.invalidPrediction("bce_prob: probability 1500 is 1.25; probabilities must lie in [0, 1]"))
        }
        // A frame with a zero probability (log = -inf) is valid input.
        let ok = try CTCLoss().evaluate(logProbabilities: [frames], labels: [[1]])
        #expect(ok.value.isFinite)
    }
}
