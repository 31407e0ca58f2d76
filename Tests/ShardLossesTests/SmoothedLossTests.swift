import ShardLosses
import ShardNumerics
import Testing
import _TestSupport

/// The smoothed losses bound the exact ones from below within their stated gap and are C¹.
@Suite struct SmoothedLossTests {
    @Test("Huberised hinge: h_μ ≤ h ≤ h_μ + μ/2, C¹ at the junctions, exact where the margin is ≥ 1")
    func smoothedHingeBounds() throws {
        var random = SplitMix64(seed: 99)
        let hinge = HingeLoss()
        for _ in 0..<5000 {
            let mu = random.nextUniform(1e-3, 3)
            let smoothed = try SmoothedHingeLoss(smoothing: mu)
            let label: Double = random.nextUniform(-2, 2) > 0 ? 1 : -1
            let score = random.nextUniform(-4, 4)
            let exact = hinge.lossAndDerivative(target: label, prediction: score).loss
            let approximation = smoothed.lossAndDerivative(target: label, prediction: score).loss
            #expect(approximation <= exact + 1e-15, "μ \(mu), s \(score)")
            #expect(exact <= approximation + smoothed.maximumGap + 1e-15, "μ \(mu), s \(score)")
            if label * score >= 1 { #expect(approximation == 0) }
        }
        // The gap is attained (μ/2 on the linear piece) and the pieces join with equal value and slope.
        let smoothed = try SmoothedHingeLoss(smoothing: 0.5)
        #expect(
            abs(
                hinge.lossAndDerivative(target: 1.0, prediction: -2.0).loss
                    - smoothed.lossAndDerivative(target: 1.0, prediction: -2.0).loss - 0.25) < 1e-15)
        for junction in [1.0, 0.5] {  // m = 1 and m = 1 − μ
            let below = smoothed.lossAndDerivative(target: 1.0, prediction: junction - 1e-9)
            let above = smoothed.lossAndDerivative(target: 1.0, prediction: junction + 1e-9)
            #expect(abs(below.loss - above.loss) < 1e-8)
            #expect(abs(below.derivative - above.derivative) < 1e-8)
        }
    }

    @Test("Huberised pinball: ρ_μ ≤ ρ ≤ ρ_μ + c_τ μ with c_τ = max(τ, 1−τ)²/2, C¹ at the junctions")
    func smoothedPinballBounds() throws {
        var random = SplitMix64(seed: 7)
        for _ in 0..<5000 {
            let tau = random.nextUniform(0.01, 0.99)
            let mu = random.nextUniform(1e-3, 3)
            let smoothed = try SmoothedPinballLoss(tau: tau, smoothing: mu)
            let exactLoss = try PinballLoss(tau: tau)
            let target = random.nextUniform(-3, 3)
            let prediction = random.nextUniform(-3, 3)
            let exact = exactLoss.lossAndDerivative(target: target, prediction: prediction).loss
            let approximation = smoothed.lossAndDerivative(target: target, prediction: prediction).loss
            #expect(approximation <= exact + 1e-14, "τ \(tau) μ \(mu) e \(target - prediction)")
            #expect(exact <= approximation + smoothed.gapConstant * mu + 1e-14, "τ \(tau) μ \(mu)")
            #expect(smoothed.gapConstant <= 0.5)
        }
        let smoothed = try SmoothedPinballLoss(tau: 0.2, smoothing: 0.5)
        for junction in [0.2 * 0.5, -0.8 * 0.5] {  // e = τμ and e = −(1 − τ)μ
            let below = smoothed.lossAndDerivative(target: junction - 1e-9, prediction: 0.0)
            let above = smoothed.lossAndDerivative(target: junction + 1e-9, prediction: 0.0)
            #expect(abs(below.loss - above.loss) < 1e-8)
            #expect(abs(below.derivative - above.derivative) < 1e-8)
        }
        // The bound is tight: on the far linear piece the gap is (1 − τ)² μ / 2 = c_τ μ.
        let exact = try PinballLoss(tau: 0.2).lossAndDerivative(target: -5.0, prediction: 0.0).loss
        let approximation = smoothed.lossAndDerivative(target: -5.0, prediction: 0.0).loss
        #expect(abs(exact - approximation - smoothed.gapConstant * 0.5) < 1e-14)
    }

    @Test("smoothed absolute error: h_μ ≤ |e| ≤ h_μ + μ/2, equal to Huber(δ = μ)/μ")
    func smoothedAbsoluteErrorBounds() throws {
        var random = SplitMix64(seed: 5)
        for _ in 0..<5000 {
            let mu = random.nextUniform(1e-3, 3)
            let smoothed = try SmoothedAbsoluteError(smoothing: mu)
            let huber = try HuberLoss(delta: mu)
            let target = random.nextUniform(-3, 3)
            let prediction = random.nextUniform(-3, 3)
            let exact = abs(prediction - target)
            let (value, slope) = smoothed.lossAndDerivative(target: target, prediction: prediction)
            #expect(value <= exact + 1e-15 && exact <= value + smoothed.maximumGap + 1e-15, "μ \(mu)")
            let scaled = huber.lossAndDerivative(target: target, prediction: prediction)
            #expect(abs(value - scaled.loss / mu) <= 1e-12 * max(1, value))
            #expect(abs(slope - scaled.derivative / mu) <= 1e-12)
        }
    }

    @Test func smoothingMustBePositiveAndLevelsInside() {
        #expect(throws: LossError.self) { try SmoothedHingeLoss(smoothing: 0) }
        #expect(throws: LossError.self) { try SmoothedPinballLoss(tau: 1, smoothing: 1) }
        #expect(throws: LossError.self) { try SmoothedAbsoluteError(smoothing: .nan) }
    }
}
