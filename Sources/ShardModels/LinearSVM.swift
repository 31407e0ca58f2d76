import ShardLosses
import ShardNumerics

/// Linear support-vector machine with labels y ∈ {−1, +1} (the block labels are already encoded ±1).
///
///     s_i = x_i · w + b          m_i = y_i s_i
///     loss_i = max(0, 1 − m_i)                        (HingeLoss)
///     ∂loss_i/∂s_i = −y_i if m_i < 1, else 0          (0 exactly on the margin, m_i == 1)
///
/// Parameters `[w_0 … w_{D−1}, b]`; `w` is regularised, `b` is not. Objective as in `Model`:
/// `(1/N) Σ_i loss_i + (l2/2)‖w‖²` (the `linear_svm` convention of the reference data).
///
/// With `RoundContext.smoothing` μ > 0 the hinge is replaced by its Huberised form `SmoothedHingeLoss`
/// (C¹, `h_μ ≤ h ≤ h_μ + μ/2` for every row), so the smoothed objective is within μ/2 below the exact one;
/// a continuation solve (μ = 1, 0.1, … → 0) reaches the exact optimum. μ = 0 is the exact hinge.
public struct LinearSVM: Model {
    public let featureCount: Int
    public let l2: Double

    public init(featureCount: Int, l2: Double) {
        self.featureCount = featureCount
        self.l2 = l2
    }

    public var spec: ModelSpec { ModelSpec(featureCount: featureCount, l2: l2, .svm) }

    public var layout: ParameterLayout {
        ParameterLayout([("w", [featureCount], true), ("b", [], false)])
    }

    public func initialParameters() -> [Double] { [Double](repeating: 0, count: featureCount + 1) }

    static let labelRequirement = "a linear SVM needs labels -1 or +1"

    public func blockSums(
        _ block: Block, parameters: UnsafeBufferPointer<Double>, context: RoundContext,
        into output: UnsafeMutableBufferPointer<Double>
    ) throws(ModelError) {
        try LinearScores.checkShapes(
            block, model: "linear SVM", featureCount: featureCount, outputCount: 1, parameterCount: parameters.count,
            sumsCount: output.count)
        try LinearScores.checkSmoothing(context.smoothing, model: "linear SVM")
        let fused = try LinearScores.fusedBlockSums(
            block, loss: .hinge(smoothing: context.smoothing), parameters: parameters,
            labelRequirement: Self.labelRequirement, into: output)
        if !fused { try swiftBlockSums(block, parameters: parameters, smoothing: context.smoothing, into: output) }
    }

    /// The block sums one row at a time in Swift (`LinearScores.blockSums`).
    func swiftBlockSums(
        _ block: Block, parameters: UnsafeBufferPointer<Double>, smoothing: Double,
        into output: UnsafeMutableBufferPointer<Double>
    ) throws(ModelError) {
        if smoothing == 0 {
            let loss = ElementwiseRowLoss(loss: HingeLoss(), labelRequirement: Self.labelRequirement)
            try LinearScores.blockSums(
                block, parameters: parameters, featureCount: featureCount, loss: loss, into: output)
        } else {
            let smoothed: SmoothedHingeLoss
            do { smoothed = try SmoothedHingeLoss(smoothing: smoothing) } catch { throw .invalidSpec(error.description) }
            let loss = ElementwiseRowLoss(loss: smoothed, labelRequirement: Self.labelRequirement)
            try LinearScores.blockSums(
                block, parameters: parameters, featureCount: featureCount, loss: loss, into: output)
        }
    }

    /// The score `s_i = x_i · w + b` of every row (N values).
    public func predict(_ block: Block, parameters: [Double]) throws(ModelError) -> [Double] {
        try LinearScores.checkShapes(
            block, model: "linear SVM", featureCount: featureCount, outputCount: 1, parameterCount: parameters.count)
        return try LinearScores.predict(block, parameters: parameters, featureCount: featureCount, outputCount: 1)
    }
}
