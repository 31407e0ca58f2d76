import ShardLosses
import ShardNumerics

/// Linear quantile regression at Q ≥ 1 quantile levels τ_q ∈ (0, 1), real-valued targets y.
///
///     ŷ_iq = (x_i · W)_q + b_q                     (W: D×Q row-major, b: Q)
///     loss_i = (1/Q) Σ_q ρ_τq(y_i − ŷ_iq)           ρ_τ(e) = max(τ e, (τ − 1) e)   (PinballLoss)
///     ∂loss_i/∂ŷ_iq = (1/Q) · (−τ_q if e > 0,  1 − τ_q if e < 0,  0 if e == 0)
///
/// Layout: Q = 1 is the reference's `quantile_linear` with `[w (D), b]` (b a scalar); Q > 1 is
/// `quantile_multi` with `[W (D, Q), b (Q)]`. W (w) is regularised, b is not. Objective as in `Model`:
/// `(1/N) Σ_i loss_i + (l2/2)‖W‖²`.
///
/// With `RoundContext.smoothing` μ > 0 each ρ_τ is replaced by its Huberised form `SmoothedPinballLoss`
/// (C¹, `ρ_τ,μ ≤ ρ_τ ≤ ρ_τ,μ + c_τ μ` with `c_τ = max(τ, 1 − τ)²/2 ≤ 1/2`), so the smoothed
/// objective is within `max_q c_τq · μ ≤ μ/2` below the exact one. μ = 0 is the exact pinball loss.
public struct QuantileRegression: Model {
    public let featureCount: Int
    public let l2: Double
    public let taus: [Double]

    /// Throws `ModelError.invalidSpec` when `taus` is empty or a level is outside the open interval (0, 1).
    public init(featureCount: Int, l2: Double, taus: [Double]) throws(ModelError) {
        guard !taus.isEmpty else {
            throw .invalidSpec("quantile regression needs at least one level τ (taus is empty)")
        }
        for (index, tau) in taus.enumerated() where !(tau > 0 && tau < 1) {
            throw .invalidSpec("quantile regression: τ[\(index)] = \(tau) must lie in the open interval (0, 1)")
        }
        self.featureCount = featureCount
        self.l2 = l2
        self.taus = taus
    }

    /// Q, the number of quantile levels (outputs per row).
    public var levelCount: Int { taus.count }

    public var spec: ModelSpec { ModelSpec(featureCount: featureCount, l2: l2, .quantile(taus: taus)) }

    public var layout: ParameterLayout {
        if levelCount == 1 { return ParameterLayout([("w", [featureCount], true), ("b", [], false)]) }
        return ParameterLayout([("W", [featureCount, levelCount], true), ("b", [levelCount], false)])
    }

    public func initialParameters() -> [Double] { [Double](repeating: 0, count: (featureCount + 1) * levelCount) }

    public func blockSums(
        _ block: Block, parameters: UnsafeBufferPointer<Double>, context: RoundContext,
        into output: UnsafeMutableBufferPointer<Double>
    ) throws(ModelError) {
        try checkShapes(block, parameterCount: parameters.count, sumsCount: output.count)
        try LinearScores.checkSmoothing(context.smoothing, model: "quantile regression")
        let fused = try LinearScores.fusedBlockSums(
            block, loss: .pinball(levels: taus, smoothing: context.smoothing), parameters: parameters,
            labelRequirement: Self.labelRequirement, into: output)
        if !fused { try swiftBlockSums(block, parameters: parameters, smoothing: context.smoothing, into: output) }
    }

    /// The block sums one row at a time in Swift (`LinearScores.blockSums`).
    func swiftBlockSums(
        _ block: Block, parameters: UnsafeBufferPointer<Double>, smoothing: Double,
        into output: UnsafeMutableBufferPointer<Double>
    ) throws(ModelError) {
        if smoothing == 0 {
            var levels: [PinballLoss] = []
            levels.reserveCapacity(levelCount)
            for tau in taus {
                // τ was checked by init, so this cannot fail; the error stays typed all the same.
                do { levels.append(try PinballLoss(tau: tau)) } catch { throw .invalidSpec(error.description) }
            }
            let loss = MultiLevelRowLoss(levels: levels)
            try LinearScores.blockSums(
                block, parameters: parameters, featureCount: featureCount, loss: loss, into: output)
        } else {
            let levels = taus.map { SmoothedPinballLoss(uncheckedTau: $0, smoothing: smoothing) }
            let loss = MultiLevelRowLoss(levels: levels)
            try LinearScores.blockSums(
                block, parameters: parameters, featureCount: featureCount, loss: loss, into: output)
        }
    }

    /// The predicted quantiles `ŷ_iq`, row-major N × Q.
    public func predict(_ block: Block, parameters: [Double]) throws(ModelError) -> [Double] {
        try checkShapes(block, parameterCount: parameters.count, sumsCount: nil)
        return try LinearScores.predict(
            block, parameters: parameters, featureCount: featureCount, outputCount: levelCount)
    }

    static let labelRequirement = "quantile regression needs finite real targets"

    private func checkShapes(_ block: Block, parameterCount: Int, sumsCount: Int?) throws(ModelError) {
        try LinearScores.checkShapes(
            block, model: "quantile regression", featureCount: featureCount, outputCount: levelCount,
            parameterCount: parameterCount, sumsCount: sumsCount)
    }
}

/// The Huberised pinball loss ρ_τ,μ with smoothing μ > 0 (not in the loss library, which has the exact
/// `PinballLoss` only): the Moreau envelope of ρ_τ.
///
///     e = y − ŷ
///     ρ_τ,μ(e) = τ e − τ² μ/2                 if e ≥ τ μ
///                (τ − 1) e − (1 − τ)² μ/2     if e ≤ −(1 − τ) μ
///                e² / (2μ)                    otherwise
///     ∂ρ_τ,μ/∂ŷ = −τ,  1 − τ,  −e/μ           on the three pieces
///
/// C¹ and convex; for every e
///
///     ρ_τ,μ(e) ≤ ρ_τ(e) ≤ ρ_τ,μ(e) + c_τ μ,     c_τ = max(τ, 1 − τ)² / 2  (≤ 1/2)
///
/// (the gap is τ²μ/2 and (1 − τ)²μ/2 on the two linear pieces and grows monotonically towards them).
public struct SmoothedPinballLoss: ElementwiseLoss {
    public static let name = "smoothed_pinball"
    public let tau: Double
    public let smoothing: Double

    /// Throws `ModelError.invalidSpec` unless 0 < τ < 1 and μ is finite and > 0 (μ = 0 is `PinballLoss`).
    public init(tau: Double, smoothing: Double) throws(ModelError) {
        guard tau > 0, tau < 1 else { throw .invalidSpec("\(Self.name): τ = \(tau) must lie in (0, 1)") }
        guard smoothing.isFinite, smoothing > 0 else {
            throw .invalidSpec("\(Self.name): smoothing μ = \(smoothing) must be finite and > 0")
        }
        self.tau = tau
        self.smoothing = smoothing
    }

    init(uncheckedTau tau: Double, smoothing: Double) {
        self.tau = tau
        self.smoothing = smoothing
    }

    /// `c_τ = max(τ, 1 − τ)²/2`: the largest gap `ρ_τ − ρ_τ,μ` is `c_τ μ`.
    public var gapConstant: Double { max(tau, 1 - tau) * max(tau, 1 - tau) / 2 }

    @inlinable
    public func lossAndDerivative<T: LossScalar>(target: T, prediction: T) -> (loss: T, derivative: T) {
        let tau = T(self.tau)
        let mu = T(smoothing)
        let error = target - prediction
        let upper = tau * mu
        let lower = -(1 - tau) * mu
        if error >= upper { return (tau * error - tau * upper / 2, -tau) }
        if error <= lower { return ((tau - 1) * error + (1 - tau) * lower / 2, 1 - tau) }
        return (error * error / (2 * mu), -error / mu)
    }
}

/// The row loss of quantile regression at Q levels: `(1/Q) Σ_q ρ_q(y − s_q)` with one element-wise loss
/// per level (exact `PinballLoss` or `SmoothedPinballLoss`). For Q = 1 the factor 1/Q is 1 (exact).
struct MultiLevelRowLoss<Level: ElementwiseLoss>: LinearRowLoss {
    let levels: [Level]

    var outputCount: Int { levels.count }
    var labelRequirement: String { QuantileRegression.labelRequirement }

    func isInvalidLabel(_ label: Double) -> Bool { !label.isFinite }

    func lossAndSlopes(
        label: Double, scores: UnsafeBufferPointer<Double>, slopes: UnsafeMutableBufferPointer<Double>
    ) -> Double {
        let share = 1 / Double(levels.count)
        var total = 0.0
        for index in levels.indices {
            let (value, derivative) = levels[index].lossAndDerivative(target: label, prediction: scores[index])
            total += value
            slopes[index] = derivative * share
        }
        return total * share
    }
}
