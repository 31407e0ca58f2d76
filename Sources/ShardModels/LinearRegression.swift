import ShardLosses
import ShardNumerics

/// Linear regression on real targets y with squared, Huber or absolute error.
///
///     ŷ_i = x_i · w + b          e_i = ŷ_i − y_i
///     mse     loss_i = e_i²                                    ∂/∂ŷ_i = 2 e_i
///     huber   loss_i = ½e_i² (|e_i| ≤ δ),  δ(|e_i| − ½δ)       ∂/∂ŷ_i = clamp(e_i, −δ, δ)
///     mae     loss_i = |e_i|                                   ∂/∂ŷ_i = sign(e_i)   (0 at e_i = 0)
///
/// Parameters `[w_0 … w_{D−1}, b]`; `w` is regularised, `b` is not. Objective as in `Model`:
/// `(1/N) Σ_i loss_i + (l2/2)‖w‖²`. With mse this is ridge regression, whose optimum solves the normal
/// equations `(2/N) Xᵀ(Xw + b − y) + l2·w = 0`, `Σ_i e_i = 0`.
///
/// With `RoundContext.smoothing` μ > 0 the absolute error is replaced by `SmoothedAbsoluteError` (C¹,
/// within μ/2 below |e|), so a continuation solve (μ → 0) reaches the exact optimum; the squared and Huber
/// losses are C¹ already and ignore μ.
public struct LinearRegression: Model {
    public let featureCount: Int
    public let l2: Double
    public let settings: RegressionSettings

    /// Throws `ModelError.invalidSpec` for a Huber δ that is missing, not finite or not positive, or a δ given
    /// to another loss.
    public init(featureCount: Int, l2: Double, settings: RegressionSettings) throws(ModelError) {
        switch settings.loss {
        case .huber:
            guard let delta = settings.delta, delta.isFinite, delta > 0 else {
                throw .invalidSpec("linear regression with the Huber loss needs δ > 0, got \(settings.delta.map { "\($0)" } ?? "none")")
            }
        case .mse, .mae:
            guard settings.delta == nil else {
                throw .invalidSpec("linear regression: δ applies to the Huber loss only, not \(settings.loss.rawValue)")
            }
        }
        self.featureCount = featureCount
        self.l2 = l2
        self.settings = settings
    }

    public var spec: ModelSpec { ModelSpec(featureCount: featureCount, l2: l2, .linear(settings)) }

    public var layout: ParameterLayout {
        ParameterLayout([("w", [featureCount], true), ("b", [], false)])
    }

    public func initialParameters() -> [Double] { [Double](repeating: 0, count: featureCount + 1) }

    static let labelRequirement = "a regression target must be a finite number"

    public func blockSums(
        _ block: Block, parameters: UnsafeBufferPointer<Double>, context: RoundContext,
        into output: UnsafeMutableBufferPointer<Double>
    ) throws(ModelError) {
        try LinearScores.checkShapes(
            block, model: "linear regression", featureCount: featureCount, outputCount: 1,
            parameterCount: parameters.count, sumsCount: output.count)
        try LinearScores.checkSmoothing(context.smoothing, model: "linear regression")
        switch settings.loss {
        case .mse:
            try sums(block, parameters: parameters, loss: MeanSquaredError(), into: output)
        case .huber:
            let huber: HuberLoss
            do { huber = try HuberLoss(delta: settings.delta ?? 1) } catch { throw .invalidSpec(error.description) }
            try sums(block, parameters: parameters, loss: huber, into: output)
        case .mae where context.smoothing == 0:
            try sums(block, parameters: parameters, loss: MeanAbsoluteError(), into: output)
        case .mae:
            let smoothed: SmoothedAbsoluteError
            do { smoothed = try SmoothedAbsoluteError(smoothing: context.smoothing) } catch {
                throw .invalidSpec(error.description)
            }
            try sums(block, parameters: parameters, loss: smoothed, into: output)
        }
    }

    private func sums<Loss: ElementwiseLoss>(
        _ block: Block, parameters: UnsafeBufferPointer<Double>, loss: Loss,
        into output: UnsafeMutableBufferPointer<Double>
    ) throws(ModelError) {
        let rowLoss = ElementwiseRowLoss(loss: loss, labelRequirement: Self.labelRequirement)
        try LinearScores.blockSums(block, parameters: parameters, featureCount: featureCount, loss: rowLoss, into: output)
    }

    /// The prediction `ŷ_i = x_i · w + b` of every row (N values).
    public func predict(_ block: Block, parameters: [Double]) throws(ModelError) -> [Double] {
        try LinearScores.checkShapes(
            block, model: "linear regression", featureCount: featureCount, outputCount: 1,
            parameterCount: parameters.count)
        return try LinearScores.predict(block, parameters: parameters, featureCount: featureCount, outputCount: 1)
    }
}
