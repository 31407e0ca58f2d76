import Foundation
import ShardLosses
import ShardNumerics
import Testing

/// Inputs at the edges of the losses' domains: eps too small for `Float`, NaN and infinite
/// predictions, frames without any finite logit, and rows that are not distributions.
extension ShardLossesTests {
    // MARK: - Clip eps below the smallest normal Float

    /// eps = 1e-50 rounds to 0 in `Float`; the clip's low bound is the smallest normal `Float`
    /// instead, so the compiled kernel (two-logarithm branch for mixed labels) and the generic loop
    /// agree and stay finite at p = 0 and p = 1.
    @Test func clipEpsilonBelowTheFloatRangeIsClampedToTheSmallestNormal() throws {
        for epsilon in [1e-50, 1e-40] {
            try expectCompiledMatchesGeneric(
                try BinaryCrossEntropy(epsilon: epsilon), Float.self, logits: false, softLabels: true, epsilon: epsilon)
            try expectCompiledMatchesGeneric(
                try FocalLoss(gamma: 2, weighting: .byClass(alpha: 0.25), epsilon: epsilon), Float.self, logits: false,
                softLabels: false, epsilon: epsilon)
        }
        // Hard label 0 at p = 0 next to a soft label: the loss there is exactly -log(1) = 0.
        let result = try BinaryCrossEntropy(epsilon: 1e-50).evaluate(
            target: [Float](repeating: 0, count: 7) + [0.5], prediction: [Float](repeating: 0, count: 8), reduction: .none)
        #expect(result.perSample.prefix(7).allSatisfy { $0 == 0 })
        let expected = -0.5 * Foundation.log(Double(Float.leastNormalMagnitude))
        #expect(abs(Double(result.perSample[7]) - expected) <= 1e-5 * expected)
        #expect(allFinite(result.gradient))
    }

    // MARK: - NaN and infinite predictions of the margin and triplet losses

    @Test func marginLossesRejectNaNScoresAndInfiniteLosses() throws {
        let losses: [any ElementwiseLoss] = [HingeLoss(), SquaredHingeLoss()]
        for loss in losses {
            let name = type(of: loss).name
            #expect(
                throws: LossError.invalidPrediction(
                    "\(name): score 1 is nan for label 1.0; scores must not be NaN, and infinite only with the label's "
                        + "sign (y s = -inf gives an infinite loss)")
            ) { try loss.evaluate(target: [1.0, 1], prediction: [0.5, .nan]) }
            #expect(throws: LossError.self) { try loss.evaluate(target: [-1.0], prediction: [Double.infinity]) }
            #expect(throws: LossError.self) { try loss.evaluate(target: [Float(1)], prediction: [-Float.infinity]) }
            // A label that is not ±1 is still reported as the target.
            #expect(throws: LossError.invalidTarget("\(name): label 0 is 0.0; labels must be -1 or +1")) {
                try loss.evaluate(target: [0.0], prediction: [Double.nan])
            }
            // An infinite score on the label's side has loss 0 and gradient 0.
            let right = try loss.evaluate(target: [1.0, -1], prediction: [.infinity, -.infinity])
            #expect(right.value == 0 && right.gradient.allSatisfy { $0 == 0 })
            // NaN anywhere in a long vector (generic vectorised loop, past the first block).
            var scores = [Float](repeating: 0.25, count: 2500)
            scores[2049] = .nan
            expectLossError("\(name) nan at 2049", isPrediction) { () throws(LossError) in
                _ = try loss.evaluate(target: [Float](repeating: -1, count: 2500), prediction: scores)
            }
        }
    }

    @Test func tripletRejectsNaNAndInfiniteEmbeddings() throws {
        let anchor = try Matrix<Double>([[0.0, 0], [1, 1]])
        let positive = try Matrix<Double>([[0.5, 0], [1, 1.5]])
        for distance in [TripletDistance.squaredEuclidean, .euclidean] {
            let triplet = try TripletLoss(margin: 1, distance: distance)
            let valid = try triplet.evaluate(anchor: anchor, positive: positive, negative: try Matrix([[3.0, 0], [1, 1.2]]))
            #expect(allFinite(valid.perSample))
            expectLossError("\(distance) NaN negative", isPrediction) { () throws(LossError) in
                _ = try triplet.evaluate(anchor: anchor, positive: positive, negative: try Matrix([[3.0, 0], [.nan, 1]]))
            }
            expectLossError("\(distance) NaN anchor", isPrediction) { () throws(LossError) in
                _ = try triplet.evaluate(anchor: try Matrix([[Double.nan, 0], [1, 1]]), positive: positive, negative: anchor)
            }
            // An infinitely far positive is an infinite loss.
            expectLossError("\(distance) infinite positive", isPrediction) { () throws(LossError) in
                _ = try triplet.evaluate(anchor: anchor, positive: try Matrix([[0.5, 0], [.infinity, 1]]), negative: anchor)
            }
            do {
                _ = try triplet.evaluate(anchor: anchor, positive: positive, negative: try Matrix([[3.0, 0], [.nan, 1]]))
            } catch {
                #expect(error.description.contains("row 1"), "\(error)")
            }
        }
    }

    // MARK: - Non-finite logits (generic loop and compiled kernels)

    /// Every lane position of a vector (and of a block tail) holding NaN, +inf or -inf, with the
    /// right-class sign (y = 0, z = -inf): the compiled kernels (γ = 2) and the generic loop
    /// (γ = 2.5) report the same first index as `invalidPrediction`.
    @Test func nonFiniteLogitsAreInvalidPredictionsInEveryImplementation() throws {
        func check<T: LossScalar>(_ scalar: T.Type) throws {
            let losses: [any ElementwiseLoss] = [
                BinaryCrossEntropyWithLogits(), try FocalLossWithLogits(gamma: 2, weighting: .byClass(alpha: 0.25)),
                try FocalLossWithLogits(gamma: 2.5, weighting: .byClass(alpha: 0.25)),
            ]
            let count = 21  // two whole groups of eight and a tail of five
            for loss in losses {
                let name = type(of: loss).name
                for bad in [T.nan, .infinity, -.infinity] {
                    for position in 0..<count {
                        let target = [T](repeating: 0, count: count)
                        var logits = (0..<count).map { T(Double($0) - 10) }
                        logits[position] = bad
                        #expect(
                            throws: LossError.invalidPrediction("\(name): logit \(position) is \(Double(bad)); logits must be finite"),
                            "\(name) \(T.self) \(bad) at \(position)"
                        ) { try loss.evaluate(target: target, prediction: logits) }
                    }
                }
            }
            // A bad target before a bad logit is reported as the target.
            #expect(throws: LossError.invalidTarget("bce_logits: target 0 is 2.0; it must be in [0, 1]")) {
                try BinaryCrossEntropyWithLogits().evaluate(target: [T(2), 0], prediction: [T(0), -.infinity])
            }
        }
        try check(Double.self)
        try check(Float.self)
    }

    // MARK: - CTC frames and normalisation

    @Test func ctcRejectsFramesWithoutAFiniteLogit() throws {
        let good = try Matrix<Double>([[0.1, -0.3, 0.2], [0.0, 0.5, -1]])
        let bad = try Matrix<Double>([[0.1, -0.3, 0.2], [-.infinity, -.infinity, -.infinity], [0, 0, 0]])
        for zeroInfinity in [false, true] {
            #expect(
                throws: LossError.invalidPrediction(
                    "ctc: frame 1 of sequence 1 has every logit -inf; a frame needs at least one finite logit")
            ) { try CTCLoss(zeroInfinity: zeroInfinity).evaluate(logits: [good, bad], labels: [[1], [2]]) }
        }
        // A -inf logit in a frame with finite ones is a zero probability, still valid.
        let partly = try Matrix<Double>([[0.1, -.infinity, 0.2], [0.0, 0.5, -.infinity]])
        let result = try CTCLoss().evaluate(logits: [partly], labels: [[2]])
        #expect(result.value.isFinite)
    }

    /// A sequence zeroed by zeroInfinity has an all-zero logit gradient (no softmax term), next to
    /// a feasible sequence whose gradient rows sum to 0.
    @Test func ctcZeroInfinityGivesZeroLogitGradient() throws {
        let logits = try Matrix<Double>([[0.3, -0.2, 1.1], [0.5, 0.1, -0.4]])
        let result = try CTCLoss(zeroInfinity: true).evaluate(logits: [logits, logits], labels: [[1, 1], [2]])
        #expect(result.perSample[0] == 0 && result.perSample[1] > 0)
        let gradients = try #require(result.gradient)
        #expect(gradients[0].values.allSatisfy { $0 == 0 })
        for frame in 0..<2 {
            let total = (0..<3).map { gradients[1][frame, $0] }.reduce(0, +)
            #expect(abs(total) < 1e-15)
        }
    }

    @Test func ctcRejectsUnnormalisedLogProbabilities() throws {
        // log_probs = 0, 0 per frame sums to probability 2: the "nll" would be -log 3 < 0.
        let unnormalised = try Matrix<Double>([[0.0, 0], [0, 0]])
        #expect(
            throws: LossError.invalidPrediction(
                "ctc: frame 0 of sequence 0 has log-sum-exp \(log(2.0)); each frame's log-probabilities must be "
                    + "normalised, |logsumexp| <= 1e-6·C = 2e-06")
        ) { try CTCLoss().evaluate(logProbabilities: [unnormalised], labels: [[1]]) }
        let allMinusInfinity = try Matrix<Float>([[log(0.5), log(0.5)], [-.infinity, -.infinity]])
        expectLossError("frame of -inf", isPrediction) { () throws(LossError) in
            _ = try CTCLoss().evaluate(logProbabilities: [allMinusInfinity], labels: [[1]])
        }
        // Rows normalised in Double and rounded to Float (an error of a few Float ulp) are accepted,
        // and so are Double rows off by 1e-7 (within 1e-6·C).
        let classes = 7
        var random = SplitMix64(seed: 5)
        let raw = (0..<(4 * classes)).map { _ in random.nextUnit() * 8 - 4 }
        let normalised = (0..<4).flatMap { frame -> [Double] in
            let row = raw[(frame * classes)..<((frame + 1) * classes)]
            let logSum = log(row.map { exp($0) }.reduce(0, +))
            return row.map { $0 - logSum }
        }
        let asFloat = try Matrix<Float>(rows: 4, columns: classes, values: normalised.map { Float($0) })
        #expect(try CTCLoss().evaluate(logProbabilities: [asFloat], labels: [[1, 2]]).value.isFinite)
        let slightlyOff = try Matrix<Double>(rows: 4, columns: classes, values: normalised.map { $0 - 1e-7 })
        #expect(try CTCLoss().evaluate(logProbabilities: [slightlyOff], labels: [[1, 2]]).value > 0)
        let tooFarOff = try Matrix<Double>(rows: 4, columns: classes, values: normalised.map { $0 - 1e-5 })
        expectLossError("frame off by 1e-5", isPrediction) { () throws(LossError) in
            _ = try CTCLoss().evaluate(logProbabilities: [tooFarOff], labels: [[1, 2]])
        }
    }

    @Test func klDivergenceRejectsRowsThatAreNotDistributions() throws {
        let p = try Matrix<Double>([[0.5, 0.5], [0.2, 0.8]])
        #expect(
            throws: LossError.invalidPrediction(
                "kl_div: row 1 of q sums to 0.5; each row must sum to 1 within 1e-6·C = 2e-06")
        ) { try KLDivergence().evaluate(target: p, prediction: try Matrix([[0.25, 0.75], [0.25, 0.25]])) }
        #expect(throws: LossError.invalidTarget("kl_div: row 0 of p sums to 0.5; each row must sum to 1 within 1e-6·C = 2e-06")) {
            try KLDivergence().evaluate(target: try Matrix([[0.25, 0.25], [0.5, 0.5]]), prediction: p)
        }
        // Rows that sum to 1 up to rounding (0.1 + 0.2 + 0.7 != 1 in Double) are distributions.
        let rounded = try Matrix<Double>([[0.1, 0.2, 0.7]])
        #expect(try KLDivergence().evaluate(target: rounded, prediction: try Matrix([[0.3, 0.3, 0.4]])).value > 0)
        let roundedFloat = try Matrix<Float>([[0.1, 0.2, 0.7]])
        #expect(try KLDivergence().evaluate(target: roundedFloat, prediction: try Matrix([[Float(1) / 3, 1 / 3, 1 / 3]])).value > 0)
    }
}
