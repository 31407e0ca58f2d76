import Foundation
import ShardNumerics
import ShardOptimizers
import Testing

// MARK: - Helpers

/// Feeds `gradients` in order (the value observed in round k is `values[k]`, default k), whatever
/// the point asked; stops early if the optimizer finishes. Returns the points asked for.
@discardableResult
func feed<O: Optimizer>(_ optimizer: inout O, gradients: [[Double]], values: [Double]? = nil) throws -> [[Double]] {
    var asked: [[Double]] = []
    for (round, gradient) in gradients.enumerated() {
        guard let point = optimizer.pendingPoint else { break }
        asked.append(point)
        try optimizer.observe(value: values?[round] ?? Double(round), gradient: gradient)
    }
    return asked
}

/// `count` seeded gradients with entries uniform in [−scale, scale).
func randomGradients(count: Int, dimension: Int, seed: UInt64, scale: Double = 1) -> [[Double]] {
    var random = SplitMix64(seed: seed)
    return (0..<count).map { _ in (0..<dimension).map { _ in scale * random.nextUniform(-1, 1) } }
}

/// Fails unless `body` throws `.invalidSetting` with a message containing `fragment`.
func expectInvalidSetting(containing fragment: String, _ body: () throws(OptimizerError) -> Void) {
    do {
        try body()
        Issue.record("expected an invalid setting mentioning \"\(fragment)\"")
    } catch {
        guard case .invalidSetting(let message) = error else {
            Issue.record("expected an invalid setting, got \(error)")
            return
        }
        #expect(message.contains(fragment), "\(message)")
    }
}

/// Textbook heavy-ball / Nesterov SGD in the gradient-accumulating form, one coordinate at a time:
/// v ← μv + g, θ ← θ − η_t v; the evaluated point is θ − (η_t μ) v for Nesterov, θ otherwise.
/// Returns the evaluated points and the final (θ, evaluated point).
func referenceSGD(
    initial: [Double], gradients: [[Double]], rate: (Int) -> Double, mu: Double, nesterov: Bool
) -> (evaluated: [[Double]], iterate: [Double], next: [Double]) {
    var theta = initial
    var velocity = [Double](repeating: 0, count: initial.count)
    func evaluatedPoint(_ t: Int) -> [Double] {
        guard nesterov else { return theta }
        return theta.indices.map { theta[$0] - (rate(t) * mu) * velocity[$0] }
    }
    var evaluated: [[Double]] = []
    for (t, g) in gradients.enumerated() {
        evaluated.append(evaluatedPoint(t))
        let eta = rate(t)
        for i in theta.indices {
            velocity[i] = mu * velocity[i] + g[i]
            theta[i] = theta[i] - eta * velocity[i]
        }
    }
    return (evaluated, theta, evaluatedPoint(gradients.count))
}

/// Textbook Adam / AdamW (Kingma & Ba Algorithm 1; decoupled decay on masked coordinates), one
/// coordinate at a time. Returns the evaluated points and the final point.
func referenceAdam(
    initial: [Double], gradients: [[Double]], rate: (Int) -> Double, beta1: Double, beta2: Double,
    epsilon: Double, lambda: Double = 0, mask: [Bool]? = nil
) -> (evaluated: [[Double]], final: [Double]) {
    var theta = initial
    var m = [Double](repeating: 0, count: initial.count)
    var v = [Double](repeating: 0, count: initial.count)
    var evaluated: [[Double]] = []
    for (index, g) in gradients.enumerated() {
        evaluated.append(theta)
        let t = Double(index + 1)
        let eta = rate(index)
        for i in theta.indices {
            m[i] = beta1 * m[i] + (1 - beta1) * g[i]
            v[i] = beta2 * v[i] + (1 - beta2) * (g[i] * g[i])
            let mHat = m[i] / (1 - pow(beta1, t))
            let vHat = v[i] / (1 - pow(beta2, t))
            let adamStep = mHat / (sqrt(vHat) + epsilon)
            if mask?[i] ?? false {
                theta[i] = theta[i] - eta * (adamStep + lambda * theta[i])
            } else {
                theta[i] = theta[i] - eta * adamStep
            }
        }
    }
    return (evaluated, theta)
}

/// The hand-checkable gradient sequence of the SGD goldens (every intermediate is a binary fraction).
let handGradients: [[Double]] = [[1, 2], [-2, 0.5], [0.25, -1]]

// MARK: - Suite

@Suite("Stochastic optimizers")
struct StochasticOptimizerTests {
    // MARK: Schedules

    @Test func constantAndStepDecayBoundaries() {
        #expect(LearningRateSchedule.constant(rate: 0.3).rate(at: 0) == 0.3)
        #expect(LearningRateSchedule.constant(rate: 0.3).rate(at: 1_000_000) == 0.3)
        let step = LearningRateSchedule.stepDecay(initialRate: 0.1, factor: 0.5, interval: 3)
        let expected: [Int: Double] = [0: 0.1, 1: 0.1, 2: 0.1, 3: 0.05, 5: 0.05, 6: 0.025, 8: 0.025, 9: 0.0125]
        for (t, rate) in expected { #expect(step.rate(at: t) == rate, "t = \(t)") }
        #expect(step.rate(at: -4) == 0.1)
        #expect(step.peakRate == 0.1)
    }

    @Test func exponentialDecay() {
        let halving = LearningRateSchedule.exponential(initialRate: 0.2, factor: 0.5)
        #expect(halving.rate(at: 0) == 0.2)
        #expect(halving.rate(at: 1) == 0.1)
        #expect(halving.rate(at: 4) == 0.0125)
        let slow = LearningRateSchedule.exponential(initialRate: 1, factor: 0.9)
        #expect(abs(slow.rate(at: 2) - 0.81) <= 1e-16)
        #expect(abs(slow.rate(at: 10) - 0.3486784401) <= 1e-15)
        #expect(LearningRateSchedule.exponential(initialRate: 0.7, factor: 1).rate(at: 12345) == 0.7)
    }

    @Test func cosineEndpointsMidpointAndFloor() {
        let cosine = LearningRateSchedule.cosine(initialRate: 0.1, finalRate: 0.001, steps: 100)
        #expect(cosine.rate(at: 0) == 0.1)
        #expect(cosine.rate(at: 100) == 0.001)
        #expect(cosine.rate(at: 150) == 0.001)
        #expect(cosine.rate(at: 50) == 0.5 * (0.1 + 0.001))
        // η_min + ½(η₀ − η_min)(1 + cos(πt/T)) at t = T/4 and 3T/4, cos = ±√2/2.
        let half = 0.5 * (0.1 - 0.001)
        #expect(abs(cosine.rate(at: 25) - (0.001 + half * (1 + 0.5.squareRoot()))) <= 1e-16)
        #expect(abs(cosine.rate(at: 75) - (0.001 + half * (1 - 0.5.squareRoot()))) <= 1e-16)
        var previous = Double.infinity
        for t in 0...120 {
            let rate = cosine.rate(at: t)
            #expect(rate <= previous && rate >= 0.001, "t = \(t)")
            previous = rate
        }
        #expect(LearningRateSchedule.cosine(initialRate: 0.2, finalRate: 0, steps: 1).rate(at: 1) == 0)
    }

    @Test func warmUpRampsThenRunsTheBaseFromItsStart() {
        let flat = LearningRateSchedule.linearWarmUp(steps: 4, base: .constant(rate: 0.2))
        #expect(flat.rate(at: 0) == 0.05)
        #expect(flat.rate(at: 1) == 0.1)
        #expect(abs(flat.rate(at: 2) - 0.15) <= 0.15.ulp)
        #expect(flat.rate(at: 3) == 0.2)
        #expect(flat.rate(at: 4) == 0.2)
        #expect(flat.peakRate == 0.2)

        let cosine = LearningRateSchedule.linearWarmUp(
            steps: 2, base: .cosine(initialRate: 0.1, finalRate: 0, steps: 10))
        #expect(cosine.rate(at: 0) == 0.05)
        #expect(cosine.rate(at: 1) == 0.1)
        #expect(cosine.rate(at: 2) == 0.1)
        #expect(cosine.rate(at: 7) == 0.05)
        #expect(cosine.rate(at: 12) == 0)

        let steps = LearningRateSchedule.linearWarmUp(
            steps: 3, base: .stepDecay(initialRate: 0.4, factor: 0.5, interval: 2))
        #expect((0..<8).map { steps.rate(at: $0) } == [0.4 * (1.0 / 3), 0.4 * (2.0 / 3), 0.4, 0.4, 0.4, 0.2, 0.2, 0.1])
        let exponential = LearningRateSchedule.linearWarmUp(steps: 1, base: .exponential(initialRate: 1, factor: 0.5))
        #expect((0..<4).map { exponential.rate(at: $0) } == [1, 1, 0.5, 0.25])
    }

    @Test(arguments: [
        (LearningRateSchedule.constant(rate: 0), "learning rate must be finite and > 0"),
        (.constant(rate: -1), "learning rate must be finite and > 0"),
        (.constant(rate: .nan), "learning rate must be finite and > 0"),
        (.constant(rate: .infinity), "learning rate must be finite and > 0"),
        (.stepDecay(initialRate: 0.1, factor: 0, interval: 2), "decay factor must lie in (0, 1]"),
        (.stepDecay(initialRate: 0.1, factor: 1.5, interval: 2), "decay factor must lie in (0, 1]"),
        (.stepDecay(initialRate: 0.1, factor: 0.5, interval: 0), "interval must be at least 1"),
        (.exponential(initialRate: 0.1, factor: .nan), "decay factor must lie in (0, 1]"),
        (.exponential(initialRate: -0.1, factor: 0.5), "learning rate must be finite and > 0"),
        (.cosine(initialRate: 0.1, finalRate: 0.2, steps: 10), "final rate must lie in [0, initial rate"),
        (.cosine(initialRate: 0.1, finalRate: -0.01, steps: 10), "final rate must lie in [0, initial rate"),
        (.cosine(initialRate: 0.1, finalRate: 0, steps: 0), "annealing length must be at least 1"),
        (.linearWarmUp(steps: 0, base: .constant(rate: 0.1)), "warm-up must last at least 1 step"),
        (.linearWarmUp(steps: 2, base: .linearWarmUp(steps: 2, base: .constant(rate: 0.1))), "cannot itself be"),
        (.linearWarmUp(steps: 2, base: .constant(rate: 0)), "learning rate must be finite and > 0"),
    ])
    func invalidSchedulesAreRejected(schedule: LearningRateSchedule, fragment: String) {
        expectInvalidSetting(containing: fragment) { () throws(OptimizerError) in try schedule.validate() }
        expectInvalidSetting(containing: fragment) { () throws(OptimizerError) in
            _ = try SGD(initialPoint: [1], schedule: schedule)
        }
        expectInvalidSetting(containing: fragment) { () throws(OptimizerError) in
            _ = try Adam(initialPoint: [1], schedule: schedule)
        }
    }

    // MARK: SGD goldens

    @Test func plainSGDHandGolden() throws {
        var optimizer = try SGD(initialPoint: [1, -2], schedule: .constant(rate: 0.5))
        let asked = try feed(&optimizer, gradients: handGradients)
        #expect(asked == [[1, -2], [0.5, -3], [1.5, -3.25]])
        #expect(optimizer.pendingPoint == [1.375, -2.75])
        #expect(optimizer.iterate == [1.375, -2.75])
        #expect(optimizer.updateCount == 3 && optimizer.iterationCount == 3 && optimizer.evaluationCount == 3)
        #expect(optimizer.bestPoint == EvaluatedPoint(point: [1.5, -3.25], value: 2, gradient: [0.25, -1]))
        #expect(optimizer.status == .running)
    }

    @Test func classicalMomentumHandGolden() throws {
        // v₁ = (1, 2), v₂ = ½v₁ + g₂ = (−1.5, 1.5), v₃ = ½v₂ + g₃ = (−0.5, −0.25); θ ← θ − ηv.
        var constant = try SGD(
            initialPoint: [1, -2], schedule: .constant(rate: 0.5), momentum: .classical(coefficient: 0.5))
        #expect(try feed(&constant, gradients: handGradients) == [[1, -2], [0.5, -3], [1.25, -3.75]])
        #expect(constant.pendingPoint == [1.5, -3.625])
        // η = 0.5, 0.5, 0.25: only the third update changes, θ₃ = θ₂ − ¼v₃.
        var decayed = try SGD(
            initialPoint: [1, -2], schedule: .stepDecay(initialRate: 0.5, factor: 0.5, interval: 2),
            momentum: .classical(coefficient: 0.5))
        #expect(try feed(&decayed, gradients: handGradients) == [[1, -2], [0.5, -3], [1.25, -3.75]])
        #expect(decayed.pendingPoint == [1.375, -3.6875])
    }

    @Test func nesterovMomentumHandGolden() throws {
        // Same θ and v as classical momentum; the evaluated point is φ_t = θ_t − η_t·μ·v_t.
        var constant = try SGD(
            initialPoint: [1, -2], schedule: .constant(rate: 0.5), momentum: .nesterov(coefficient: 0.5))
        #expect(try feed(&constant, gradients: handGradients) == [[1, -2], [0.25, -3.5], [1.625, -4.125]])
        #expect(constant.pendingPoint == [1.625, -3.5625])
        #expect(constant.iterate == [1.5, -3.625])
        #expect(constant.bestPoint?.point == [1.625, -4.125])
        var decayed = try SGD(
            initialPoint: [1, -2], schedule: .stepDecay(initialRate: 0.5, factor: 0.5, interval: 2),
            momentum: .nesterov(coefficient: 0.5))
        #expect(try feed(&decayed, gradients: handGradients) == [[1, -2], [0.25, -3.5], [1.4375, -3.9375]])
        #expect(decayed.iterate == [1.375, -3.6875])
        #expect(decayed.pendingPoint == [1.4375, -3.65625])
    }

    @Test(arguments: [SGD.Momentum.plain, .classical(coefficient: 0.9), .nesterov(coefficient: 0.85)])
    func sgdMatchesTextbookUpdatesBitForBit(momentum: SGD.Momentum) throws {
        let gradients = randomGradients(count: 60, dimension: 4, seed: 11, scale: 3)
        let initial = [0.3, -1.7, 2.2, 0.01]
        // Warm-up for 5 steps, then cosine from 0.05 to 0.002 over 40 steps, written out.
        let rate: (Int) -> Double = { t in
            if t < 5 { return 0.05 * (Double(t + 1) / 5) }
            let weight = 0.5 * (1 + cos(Double.pi * Double(min(t - 5, 40)) / 40))
            return 0.05 * weight + 0.002 * (1 - weight)
        }
        let schedule = LearningRateSchedule.linearWarmUp(
            steps: 5, base: .cosine(initialRate: 0.05, finalRate: 0.002, steps: 40))
        var optimizer = try SGD(initialPoint: initial, schedule: schedule, momentum: momentum)
        let asked = try feed(&optimizer, gradients: gradients)
        let isNesterov = if case .nesterov = momentum { true } else { false }
        let expected = referenceSGD(
            initial: initial, gradients: gradients, rate: rate, mu: momentum.coefficient, nesterov: isNesterov)
        #expect(bitPatterns(asked) == bitPatterns(expected.evaluated))
        #expect(bitPatterns([optimizer.iterate]) == bitPatterns([expected.iterate]))
        #expect(bitPatterns([try #require(optimizer.pendingPoint)]) == bitPatterns([expected.next]))
    }

    @Test func nesterovAgreesWithSutskeverFormOnAQuadratic() throws {
        // Sutskever et al. (2013): V ← μV − η∇f(θ + μV), θ ← θ + V; gradients at θ + μV.
        let quadratic = Quadratic(dimension: 6, conditionNumber: 20, seed: 5)
        let objective = quadratic.objective
        let eta = 0.04
        let mu = 0.9
        var theta = [Double](repeating: 0, count: 6)
        var velocity = [Double](repeating: 0, count: 6)
        var sutskeverPoints: [[Double]] = []
        var classicalTheta = theta
        var classicalVelocity = velocity
        var classicalPoints: [[Double]] = []
        for _ in 0..<80 {
            let lookAhead = zip(theta, velocity).map { $0 + mu * $1 }
            sutskeverPoints.append(lookAhead)
            let g = objective(lookAhead).gradient
            for i in theta.indices {
                velocity[i] = mu * velocity[i] - eta * g[i]
                theta[i] += velocity[i]
            }
            // Polyak's heavy ball in the same step convention: V ← μV − η∇f(θ), θ ← θ + V.
            classicalPoints.append(classicalTheta)
            let gc = objective(classicalTheta).gradient
            for i in classicalTheta.indices {
                classicalVelocity[i] = mu * classicalVelocity[i] - eta * gc[i]
                classicalTheta[i] += classicalVelocity[i]
            }
        }
        var nesterov = try SGD(
            initialPoint: [Double](repeating: 0, count: 6), schedule: .constant(rate: eta),
            momentum: .nesterov(coefficient: mu))
        let nesterovAsked = try drive(&nesterov, objective, maxEvaluations: 80).asked
        var classical = try SGD(
            initialPoint: [Double](repeating: 0, count: 6), schedule: .constant(rate: eta),
            momentum: .classical(coefficient: mu))
        let classicalAsked = try drive(&classical, objective, maxEvaluations: 80).asked
        #expect(nesterovAsked.count == 80 && classicalAsked.count == 80)
        for k in 0..<80 {
            #expect(maxAbsDifference(nesterovAsked[k], sutskeverPoints[k]) <= 1e-12, "point \(k)")
            #expect(maxAbsDifference(classicalAsked[k], classicalPoints[k]) <= 1e-12, "point \(k)")
        }
        #expect(maxAbsDifference(nesterov.iterate, theta) <= 1e-12)
        // Both approach the minimizer; the two methods are genuinely different.
        #expect(maxAbsDifference(nesterov.iterate, quadratic.minimizer) < 0.05)
        #expect(maxAbsDifference(nesterovAsked[20], classicalAsked[20]) > 1e-3)
    }

    // MARK: Adam goldens

    @Test func adamFirstStepIsBiasCorrected() throws {
        // Powers of two with β1 = ½, β2 = ¾: m̂ = g and √v̂ = |g| exactly, so the step is −η·g/(|g| + ε).
        let g = [4.0, -0.25, 1.0 / 64]
        let eta = 0.1
        let epsilon = 1.0 / 1024
        var exact = try Adam(
            initialPoint: [1, 2, 3], schedule: .constant(rate: eta), beta1: 0.5, beta2: 0.75, epsilon: epsilon)
        try exact.observe(value: 0, gradient: g)
        let expected = (0..<3).map { [1.0, 2, 3][$0] - eta * (g[$0] / (abs(g[$0]) + epsilon)) }
        #expect(exact.pendingPoint == expected)

        // Default β: the same step up to rounding, about η per coordinate whatever the gradient scale.
        for scale in [1e-6, 1.0, 1e6] {
            let scaled = [3 * scale, -0.5 * scale]
            var adam = try Adam(initialPoint: [0, 0], schedule: .constant(rate: 0.01))
            try adam.observe(value: 0, gradient: scaled)
            let point = try #require(adam.pendingPoint)
            for i in 0..<2 {
                let textbook = -0.01 * scaled[i] / (abs(scaled[i]) + 1e-8)
                #expect(abs(point[i] - textbook) <= 4 * textbook.ulp, "scale \(scale), entry \(i)")
                #expect(abs(abs(point[i]) - 0.01) <= 0.01 * 1e-8 / (abs(scaled[i]) + 1e-8) + 1e-15)
            }
        }
    }

    @Test func adamHandGoldenOverThreeSteps() throws {
        // Constant gradient: m̂ = g and v̂ = g² every step, so each step is −η·g/(|g| + ε).
        var constant = try Adam(initialPoint: [1, 1], schedule: .constant(rate: 0.1), epsilon: 1e-8)
        try feed(&constant, gradients: [[2, -3], [2, -3], [2, -3]])
        let point = try #require(constant.pendingPoint)
        #expect(abs(point[0] - (1 - 0.3 * 2 / (2 + 1e-8))) <= 1e-15)
        #expect(abs(point[1] - (1 + 0.3 * 3 / (3 + 1e-8))) <= 1e-15)

        // β1 = ½, β2 = ¾, g = 1 then −1: m₂ = −¼, v₂ = 7/16, 1 − β1² = ¾, 1 − β2² = 7/16,
        // so m̂₂ = −⅓ and v̂₂ = 1: the second step is +η·⅓/(1 + ε).
        var alternating = try Adam(
            initialPoint: [0], schedule: .constant(rate: 0.1), beta1: 0.5, beta2: 0.75, epsilon: 1e-8)
        let asked = try feed(&alternating, gradients: [[1], [-1]])
        #expect(abs(asked[1][0] - (-0.1 / (1 + 1e-8))) <= 1e-17)
        let second = try #require(alternating.pendingPoint)[0]
        #expect(abs(second - (-0.1 / (1 + 1e-8) + 0.1 / 3 / (1 + 1e-8))) <= 1e-16)
    }

    @Test(arguments: [(0.9, 0.999, 1e-8), (0.0, 0.5, 1e-3), (0.5, 0.0, 0.25)])
    func adamMatchesTextbookUpdatesBitForBit(beta1: Double, beta2: Double, epsilon: Double) throws {
        let gradients = randomGradients(count: 50, dimension: 5, seed: 23, scale: 2)
        let initial = [1.0, -0.5, 0.25, 3, -2]
        let schedule = LearningRateSchedule.stepDecay(initialRate: 0.03, factor: 0.7, interval: 10)
        let rate: (Int) -> Double = { t in 0.03 * pow(0.7, Double(t / 10)) }
        var adam = try Adam(initialPoint: initial, schedule: schedule, beta1: beta1, beta2: beta2, epsilon: epsilon)
        let asked = try feed(&adam, gradients: gradients)
        let expected = referenceAdam(
            initial: initial, gradients: gradients, rate: rate, beta1: beta1, beta2: beta2, epsilon: epsilon)
        #expect(bitPatterns(asked) == bitPatterns(expected.evaluated))
        #expect(bitPatterns([try #require(adam.pendingPoint)]) == bitPatterns([expected.final]))
        #expect(adam.iterate == expected.final)
    }

    @Test func adamWMatchesTextbookUpdatesBitForBit() throws {
        let gradients = randomGradients(count: 50, dimension: 6, seed: 31)
        let initial = [1.0, -0.5, 0.25, 3, -2, 0.75]
        let mask = [true, true, false, true, false, false]
        let schedule = LearningRateSchedule.linearWarmUp(steps: 3, base: .exponential(initialRate: 0.02, factor: 0.97))
        let rate: (Int) -> Double = { t in t < 3 ? 0.02 * (Double(t + 1) / 3) : 0.02 * pow(0.97, Double(t - 3)) }
        var adamW = try AdamW(initialPoint: initial, schedule: schedule, weightDecay: 0.3, decayMask: mask)
        let asked = try feed(&adamW, gradients: gradients)
        let expected = referenceAdam(
            initial: initial, gradients: gradients, rate: rate, beta1: 0.9, beta2: 0.999, epsilon: 1e-8,
            lambda: 0.3, mask: mask)
        #expect(bitPatterns(asked) == bitPatterns(expected.evaluated))
        #expect(bitPatterns([try #require(adamW.pendingPoint)]) == bitPatterns([expected.final]))
    }

    @Test func adamWDecaysOnlyMaskedIndices() throws {
        // Zero gradient: u = 0, so masked θ shrink by exactly (1 − ηλ) = ⅞ per step, the others stay.
        let zero = [[Double]](repeating: [0, 0, 0, 0], count: 3)
        var adamW = try AdamW(
            initialPoint: [1, 1, -2, -2], schedule: .constant(rate: 0.25), weightDecay: 0.5,
            decayMask: [true, false, true, false])
        #expect(
            try feed(&adamW, gradients: zero) == [
                [1, 1, -2, -2], [0.875, 1, -1.75, -2], [0.765625, 1, -1.53125, -2],
            ])
        #expect(adamW.pendingPoint == [0.669921875, 1, -1.33984375, -2])

        // Index ranges give the same mask; unmasked coordinates follow Adam bit for bit.
        let gradients = randomGradients(count: 30, dimension: 5, seed: 3)
        let initial = [0.5, -1, 2, 0.25, -0.75]
        var fromRanges = try AdamW(
            initialPoint: initial, schedule: .constant(rate: 0.05), weightDecay: 0.1, decayedRanges: [0..<2, 4..<5])
        #expect(fromRanges.decayMask == [true, true, false, false, true])
        #expect(fromRanges.weightDecay == 0.1)
        var adam = try Adam(initialPoint: initial, schedule: .constant(rate: 0.05))
        try feed(&fromRanges, gradients: gradients)
        try feed(&adam, gradients: gradients)
        let decayed = try #require(fromRanges.pendingPoint)
        let plain = try #require(adam.pendingPoint)
        #expect(decayed[2].bitPattern == plain[2].bitPattern && decayed[3].bitPattern == plain[3].bitPattern)
        for i in [0, 1, 4] { #expect(abs(decayed[i]) < abs(plain[i]), "entry \(i) is decayed towards 0") }

        // λ = 0 or an empty mask is Adam exactly.
        var noDecay = try AdamW(
            initialPoint: initial, schedule: .constant(rate: 0.05), weightDecay: 0, decayedRanges: [0..<5])
        var emptyMask = try AdamW(
            initialPoint: initial, schedule: .constant(rate: 0.05), weightDecay: 0.1, decayedRanges: [])
        try feed(&noDecay, gradients: gradients)
        try feed(&emptyMask, gradients: gradients)
        #expect(noDecay.pendingPoint == plain && emptyMask.pendingPoint == plain)
    }

    @Test("AnyOptimizer reports the wrapped optimizer's result point: θ after the last update for the stochastic ones")
    func anyOptimizerForwardsTheResultPoint() throws {
        for name in Self.stochasticVariants {
            var wrapped = try Self.makeStochastic(name, initialPoint: [1, -2])
            try wrapped.observe(value: 2.5, gradient: [1, 1])
            let inner: [Double]? =
                switch wrapped {
                case .sgd(let optimizer): optimizer.resultPoint
                case .adam(let optimizer): optimizer.resultPoint
                case .adamW(let optimizer): optimizer.resultPoint
                case .lbfgs, .gradientDescent: nil
                }
            #expect(wrapped.resultPoint == inner && inner != [1, -2], "\(name)")
            #expect(["sgd", "adam", "adamw"].contains(wrapped.kindName), "\(name)")
        }
        let lbfgs = AnyOptimizer.lbfgs(try LBFGS(initialPoint: [1, -2]))
        #expect(lbfgs.kindName == "lbfgs")
    }

    // MARK: Convergence on a noisy quadratic

    static let stochasticVariants: [String] = ["sgd", "classical", "nesterov", "adam", "adamW"]

    static func makeStochastic(_ name: String, initialPoint: [Double]) throws -> AnyOptimizer {
        let n = initialPoint.count
        switch name {
        case "sgd":
            return .sgd(
                try SGD(initialPoint: initialPoint, schedule: .cosine(initialRate: 0.1, finalRate: 0.002, steps: 3000)))
        case "classical":
            return .sgd(
                try SGD(
                    initialPoint: initialPoint, schedule: .cosine(initialRate: 0.02, finalRate: 0.0002, steps: 3000),
                    momentum: .classical(coefficient: 0.9)))
        case "nesterov":
            return .sgd(
                try SGD(
                    initialPoint: initialPoint,
                    schedule: .linearWarmUp(
                        steps: 50, base: .cosine(initialRate: 0.02, finalRate: 0.0002, steps: 2950)),
                    momentum: .nesterov(coefficient: 0.9)))
        case "adam":
            return .adam(
                try Adam(
                    initialPoint: initialPoint, schedule: .cosine(initialRate: 0.05, finalRate: 0.0005, steps: 3000)))
        default:
            return .adamW(
                try AdamW(
                    initialPoint: initialPoint,
                    schedule: .stepDecay(initialRate: 0.05, factor: 0.1, interval: 1000),
                    weightDecay: 1e-3, decayMask: (0..<n).map { $0 % 2 == 0 }))
        }
    }

    @Test(arguments: stochasticVariants)
    func convergesToANeighbourhoodOnANoisyQuadratic(name: String) throws {
        // f(x) = ½ (x − x*)ᵀA(x − x*), condition number 10; each round sees ∇f + noise, noise
        // uniform in [−1, 1) per entry (seeded), like a mini-batch gradient.
        let quadratic = Quadratic(dimension: 5, conditionNumber: 10, seed: 17)
        let objective = quadratic.objective
        var noise = SplitMix64(seed: 99)
        let start = [Double](repeating: 3, count: 5)
        var optimizer = try Self.makeStochastic(name, initialPoint: start)
        for _ in 0..<3000 {
            let point = try #require(optimizer.pendingPoint)
            let (value, gradient) = objective(point)
            try optimizer.observe(value: value, gradient: gradient.map { $0 + noise.nextUniform(-1, 1) })
        }
        #expect(optimizer.status == .running)
        #expect(optimizer.iterationCount == 3000 && optimizer.evaluationCount == 3000)
        let final = try #require(optimizer.pendingPoint)
        let startDistance = maxAbsDifference(start, quadratic.minimizer)
        let finalDistance = maxAbsDifference(final, quadratic.minimizer)
        #expect(startDistance > 2)
        #expect(finalDistance < 0.05, "\(name): ‖x − x*‖∞ = \(finalDistance)")
    }

    // MARK: Checkpoints

    @Test(arguments: stochasticVariants)
    func checkpointMidRunContinuesBitIdentically(name: String) throws {
        let gradients = randomGradients(count: 40, dimension: 4, seed: 7, scale: 2)
        for stopAfter in [0, 1, 2, 5, 17] {
            var original = try Self.makeStochastic(name, initialPoint: [0.5, -1, 2, 0.1])
            try feed(&original, gradients: Array(gradients[..<stopAfter]))
            let encoded = try JSONEncoder().encode(original)
            var decoded = try JSONDecoder().decode(AnyOptimizer.self, from: encoded)
            #expect(decoded == original, "\(name) after \(stopAfter)")
            let rest = Array(gradients[stopAfter...])
            let continuedOriginal = try feed(&original, gradients: rest)
            let continuedDecoded = try feed(&decoded, gradients: rest)
            #expect(continuedOriginal.count == rest.count)
            #expect(bitPatterns(continuedDecoded) == bitPatterns(continuedOriginal), "\(name) after \(stopAfter)")
            #expect(decoded == original)
        }
    }

    @Test func concreteTypesRoundTripAndCorruptStatesAreRejected() throws {
        var sgd = try SGD(initialPoint: [1, 2], schedule: .constant(rate: 0.1), momentum: .nesterov(coefficient: 0.5))
        try feed(&sgd, gradients: handGradients)
        #expect(try JSONDecoder().decode(SGD.self, from: JSONEncoder().encode(sgd)) == sgd)
        var adamW = try AdamW(
            initialPoint: [1, 2], schedule: .constant(rate: 0.1), weightDecay: 0.1, decayMask: [true, false])
        try feed(&adamW, gradients: handGradients)
        let adamWData = try JSONEncoder().encode(adamW)
        #expect(try JSONDecoder().decode(AdamW.self, from: adamWData) == adamW)
        // An AdamW checkpoint is not an Adam one.
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(Adam.self, from: adamWData) }
        var adam = try Adam(initialPoint: [1, 2], schedule: .constant(rate: 0.1))
        try feed(&adam, gradients: handGradients)
        let adamData = try JSONEncoder().encode(adam)
        #expect(try JSONDecoder().decode(Adam.self, from: adamData) == adam)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(AdamW.self, from: adamData) }

        func corrupted(_ data: Data, _ edit: (inout [String: Any]) -> Void) throws -> Data {
            var json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            edit(&json)
            return try JSONSerialization.data(withJSONObject: json)
        }
        let sgdData = try JSONEncoder().encode(sgd)
        let badCases: [(Data, String)] = [
            (try corrupted(sgdData) { $0["iterate"] = [1.0, 2.0, 3.0] }, "iterate of the wrong length"),
            (try corrupted(sgdData) { $0["velocity"] = [] as [Double] }, "missing velocity"),
            (try corrupted(sgdData) { $0["momentum"] = ["nesterov": ["coefficient": 1.5]] }, "momentum ≥ 1"),
            (try corrupted(sgdData) { $0["schedule"] = ["constant": ["rate": -1.0]] }, "negative rate"),
            (
                try corrupted(sgdData) {
                    var progress = $0["progress"] as? [String: Any] ?? [:]
                    progress["evaluationCount"] = 7
                    $0["progress"] = progress
                }, "counts that disagree"
            ),
        ]
        for (data, what) in badCases {
            #expect(throws: DecodingError.self, "\(what)") { try JSONDecoder().decode(SGD.self, from: data) }
        }
        let badAdam = try corrupted(adamData) { $0["secondMoment"] = [-1.0, 0.0] }
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(Adam.self, from: badAdam) }
        let badMask = try corrupted(adamWData) { $0["weightDecay"] = ["coefficient": 0.1, "mask": [true]] }
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(AdamW.self, from: badMask) }
    }

    // MARK: Non-finite observations and misuse

    @Test(arguments: stochasticVariants)
    func nonFiniteObservationsStopAndKeepTheLastObservedPoint(name: String) throws {
        var initialNaN = try Self.makeStochastic(name, initialPoint: [1, 2])
        try initialNaN.observe(value: .nan, gradient: [1, 1])
        #expect(initialNaN.status == .stopped(.nonFiniteInitialEvaluation(detail: "value nan")))
        #expect(initialNaN.pendingPoint == nil && initialNaN.bestPoint == nil)
        #expect(initialNaN.evaluationCount == 1 && initialNaN.iterationCount == 0)

        var later = try Self.makeStochastic(name, initialPoint: [1, 2])
        let asked = try feed(&later, gradients: [[1, -1], [0.5, 0.5]], values: [3, 4])
        let before = try #require(later.pendingPoint)
        try later.observe(value: 1, gradient: [0, .infinity])
        #expect(
            later.status == .stopped(.nonFiniteEvaluation(iteration: 2, detail: "gradient entry 1 is inf")))
        #expect(later.pendingPoint == nil)
        #expect(later.bestPoint == EvaluatedPoint(point: asked[1], value: 4, gradient: [0.5, 0.5]))
        #expect(later.evaluationCount == 3 && later.iterationCount == 2)
        #expect(before != asked[1])
        expectOptimizerError(.notAwaitingEvaluation(status: later.status)) { () throws(OptimizerError) in
            try later.observe(value: 0, gradient: [0, 0])
        }
        // A stopped state round-trips.
        #expect(try JSONDecoder().decode(AnyOptimizer.self, from: JSONEncoder().encode(later)) == later)
    }

    @Test func overflowingUpdateStopsAndKeepsThePreviousState() throws {
        var sgd = try SGD(initialPoint: [1, 1e308], schedule: .constant(rate: 1))
        try sgd.observe(value: 0, gradient: [1, -1e308])
        #expect(
            sgd.status
                == .stopped(.nonFiniteEvaluation(iteration: 1, detail: "the update overflows parameter entry 1 to inf"))
        )
        #expect(sgd.pendingPoint == nil && sgd.iterate == [1, 1e308] && sgd.updateCount == 0)
        #expect(sgd.bestPoint == EvaluatedPoint(point: [1, 1e308], value: 0, gradient: [1, -1e308]))

        var adam = try Adam(initialPoint: [0], schedule: .constant(rate: 0.1))
        try adam.observe(value: 0, gradient: [1e200])
        guard case .stopped(.nonFiniteEvaluation(iteration: 1, let detail)) = adam.status else {
            Issue.record("expected an overflow stop, got \(adam.status)")
            return
        }
        #expect(detail.contains("second moment entry 0"))
        #expect(adam.iterate == [0])
        #expect(try JSONDecoder().decode(Adam.self, from: JSONEncoder().encode(adam)) == adam)
    }

    @Test("AdamW on 40,003 coordinates (several parallel chunks, a lane tail) matches the textbook bit for bit")
    func longAdamWMatchesTextbook() throws {
        let dimension = 40_003
        let gradients = randomGradients(count: 4, dimension: dimension, seed: 5, scale: 3)
        let initial = randomGradients(count: 1, dimension: dimension, seed: 6)[0]
        let mask = (0..<dimension).map { $0 % 7 < 4 }
        var adamW = try AdamW(initialPoint: initial, schedule: .constant(rate: 0.01), weightDecay: 0.5, decayMask: mask)
        let asked = try feed(&adamW, gradients: gradients)
        let expected = referenceAdam(
            initial: initial, gradients: gradients, rate: { _ in 0.01 }, beta1: 0.9, beta2: 0.999, epsilon: 1e-8,
            lambda: 0.5, mask: mask)
        #expect(bitPatterns(asked) == bitPatterns(expected.evaluated))
        #expect(bitPatterns([try #require(adamW.pendingPoint)]) == bitPatterns([expected.final]))
    }

    @Test("Adam past the step where 1 − β1^t rounds to 1 (and 1 − β2^t, with a small β2) matches the textbook bit for bit", arguments: [0.999, 0.5])
    func adamWithBiasCorrectionsRoundedToOne(beta2: Double) throws {
        // 1 − 0.9^t is exactly 1 from t = 356 on (1 − 0.5^t from t = 55): the kernel skips those divisions.
        #expect(1 - pow(0.9, 355.0) != 1 && 1 - pow(0.9, 356.0) == 1)
        let gradients = randomGradients(count: 380, dimension: 21, seed: 8, scale: 4)
        let initial = randomGradients(count: 1, dimension: 21, seed: 9)[0]
        var adam = try Adam(initialPoint: initial, schedule: .constant(rate: 0.01), beta2: beta2)
        let asked = try feed(&adam, gradients: gradients)
        let expected = referenceAdam(
            initial: initial, gradients: gradients, rate: { _ in 0.01 }, beta1: 0.9, beta2: beta2, epsilon: 1e-8)
        #expect(bitPatterns(asked) == bitPatterns(expected.evaluated))
        #expect(bitPatterns([try #require(adam.pendingPoint)]) == bitPatterns([expected.final]))
    }

    @Test("an overflow deep in a long vector stops the run naming its entry, the state kept")
    func longAdamOverflowNamesTheEntry() throws {
        let dimension = 40_003
        var gradient = [Double](repeating: 0.5, count: dimension)
        gradient[33_001] = 1e200
        var adam = try Adam(initialPoint: [Double](repeating: 1, count: dimension), schedule: .constant(rate: 0.1))
        try adam.observe(value: 0, gradient: gradient)
        guard case .stopped(.nonFiniteEvaluation(iteration: 1, let detail)) = adam.status else {
            Issue.record("expected an overflow stop, got \(adam.status)")
            return
        }
        #expect(detail.contains("second moment entry 33001"))
        #expect(adam.iterate == [Double](repeating: 1, count: dimension) && adam.updateCount == 0)
    }

    @Test("a non-finite gradient entry deep in a long vector is named as an evaluation failure, the state kept")
    func longAdamNonFiniteGradientIsAnEvaluationFailure() throws {
        let dimension = 40_003
        for bad in [Double.nan, -.infinity] {
            var gradient = [Double](repeating: 0.5, count: dimension)
            gradient[39_999] = bad
            let initial = [Double](repeating: 1, count: dimension)
            var adam = try Adam(initialPoint: initial, schedule: .constant(rate: 0.1))
            try adam.observe(value: 2, gradient: [Double](repeating: 0.25, count: dimension))
            let before = adam.iterate
            try adam.observe(value: 1, gradient: gradient)
            #expect(
                adam.status == .stopped(.nonFiniteEvaluation(iteration: 1, detail: "gradient entry 39999 is \(bad)")))
            #expect(adam.iterate == before && adam.updateCount == 1 && adam.evaluationCount == 2)
            #expect(adam.bestPoint == EvaluatedPoint(point: initial, value: 2, gradient: [Double](repeating: 0.25, count: dimension)))
        }
    }

    @Test func bestPointIsTheLastObservationEvenWhenItsValueIsHigher() throws {
        var sgd = try SGD(initialPoint: [0], schedule: .constant(rate: 0.5))
        try feed(&sgd, gradients: [[1], [1], [1]], values: [1, 5, 9])
        #expect(sgd.bestPoint == EvaluatedPoint(point: [-1], value: 9, gradient: [1]))
    }

    @Test func invalidHyperParametersAndObservationsAreRejected() throws {
        let rate = LearningRateSchedule.constant(rate: 0.1)
        expectInvalidSetting(containing: "no parameters") { () throws(OptimizerError) in
            _ = try SGD(initialPoint: [], schedule: rate)
        }
        expectInvalidSetting(containing: "initial point entry 0 is inf") { () throws(OptimizerError) in
            _ = try Adam(initialPoint: [.infinity], schedule: rate)
        }
        for mu in [1.0, -0.1, .nan] {
            expectInvalidSetting(containing: "momentum coefficient must lie in [0, 1)") { () throws(OptimizerError) in
                _ = try SGD(initialPoint: [0], schedule: rate, momentum: .classical(coefficient: mu))
            }
            expectInvalidSetting(containing: "momentum coefficient must lie in [0, 1)") { () throws(OptimizerError) in
                _ = try SGD(initialPoint: [0], schedule: rate, momentum: .nesterov(coefficient: mu))
            }
        }
        for beta in [1.0, -0.1, .nan] {
            expectInvalidSetting(containing: "β1 must lie in [0, 1)") { () throws(OptimizerError) in
                _ = try Adam(initialPoint: [0], schedule: rate, beta1: beta)
            }
            expectInvalidSetting(containing: "β2 must lie in [0, 1)") { () throws(OptimizerError) in
                _ = try AdamW(initialPoint: [0], schedule: rate, weightDecay: 0.1, decayMask: [true], beta2: beta)
            }
        }
        for epsilon in [0.0, -1e-8, .nan, .infinity] {
            expectInvalidSetting(containing: "ε must be finite and > 0") { () throws(OptimizerError) in
                _ = try Adam(initialPoint: [0], schedule: rate, epsilon: epsilon)
            }
        }
        for lambda in [-0.1, .nan, .infinity] {
            expectInvalidSetting(containing: "weight decay λ must be finite and ≥ 0") { () throws(OptimizerError) in
                _ = try AdamW(initialPoint: [0], schedule: rate, weightDecay: lambda, decayMask: [true])
            }
        }
        expectInvalidSetting(containing: "must be < 1") { () throws(OptimizerError) in
            _ = try AdamW(
                initialPoint: [0], schedule: .linearWarmUp(steps: 3, base: .constant(rate: 0.5)), weightDecay: 2,
                decayMask: [true])
        }
        expectInvalidSetting(containing: "mask has 1 entries, the optimizer has 2 parameters") {
            () throws(OptimizerError) in
            _ = try AdamW(initialPoint: [0, 0], schedule: rate, weightDecay: 0.1, decayMask: [true])
        }
        expectInvalidSetting(containing: "decayed range 1..<3 is outside the 2 parameter indices") {
            () throws(OptimizerError) in
            _ = try AdamW(initialPoint: [0, 0], schedule: rate, weightDecay: 0.1, decayedRanges: [1..<3])
        }
        var sgd = try SGD(initialPoint: [0, 0], schedule: rate)
        expectOptimizerError(.gradientDimensionMismatch(expected: 2, found: 1)) { () throws(OptimizerError) in
            try sgd.observe(value: 0, gradient: [1])
        }
        #expect(sgd.evaluationCount == 0 && sgd.status == .running && sgd.pendingPoint == [0, 0])
    }
}
