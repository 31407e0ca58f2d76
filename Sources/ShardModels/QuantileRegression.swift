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
            var levels: [SmoothedPinballLoss] = []
            levels.reserveCapacity(levelCount)
            for tau in taus {
                do { levels.append(try SmoothedPinballLoss(tau: tau, smoothing: smoothing)) } catch {
                    throw .invalidSpec(error.description)
                }
            }
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
