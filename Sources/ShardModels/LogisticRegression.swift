import ShardLosses
import ShardNumerics

/// Binary logistic regression with labels y ∈ {0, 1}.
///
///     z_i    = x_i · w + b
///     loss_i = softplus(z_i) − y_i z_i            (= BCE of sigmoid(z_i), computed stably)
///     ∂loss_i/∂w = (sigmoid(z_i) − y_i) x_i,   ∂loss_i/∂b = sigmoid(z_i) − y_i
///
/// Parameters `[w_0 … w_{D−1}, b]`; `w` is regularised, `b` is not. Objective and reduction as in `Model`
/// (mean over rows), which is the `logistic` convention of the reference data.
///
/// Focal loss (`focal = (γ, α)`, the reference's `logistic_focal`, α_t convention; `FocalLossWithLogits`):
///
///     q_i = 1 − p_t = sigmoid(−z_i) if y_i = 1, sigmoid(z_i) if y_i = 0
///     α_t = α if y_i = 1, 1 − α if y_i = 0
///     loss_i = α_t q_i^γ (softplus(z_i) − y_i z_i)
///
/// Class weights (`classWeights = [c_0, c_1]`): each row's loss (BCE or focal) is multiplied by the weight
/// of its class, `loss_i ← c_{y_i} loss_i`; the objective stays the plain mean over rows
/// `(1/N) Σ_i c_{y_i} loss_i + (l2/2)‖w‖²` (not divided by Σ c). With focal loss or class weights the
/// labels must be exactly 0 or 1 (other values throw); plain BCE without weights runs the C kernel
/// `LogisticKernel`, which accepts soft labels in [0, 1], and the focal / weighted losses run the fused
/// kernel `LinearLossKernel` (γ ∈ {0, 1, 2}; other γ, or a CPU without AVX2+FMA, take the Swift path).
public struct LogisticRegression: Model {
    public let featureCount: Int
    public let l2: Double
    /// Focal loss instead of BCE (nil = BCE).
    public let focal: FocalParameters?
    /// Per-class row weights `[c_0, c_1]` (nil = unweighted).
    public let classWeights: [Double]?

    /// Plain BCE from logits, unweighted.
    public init(featureCount: Int, l2: Double) {
        self.featureCount = featureCount
        self.l2 = l2
        self.focal = nil
        self.classWeights = nil
    }

    /// BCE or focal loss, optionally class-weighted. Throws `ModelError.invalidSpec` for γ < 0 (or not
    /// finite), α outside [0, 1], or class weights that are not 2 finite values ≥ 0 with a positive sum.
    public init(featureCount: Int, l2: Double, focal: FocalParameters?, classWeights: [Double]?) throws(ModelError) {
        if let focal {
            guard focal.gamma.isFinite, focal.gamma >= 0 else {
                throw .invalidSpec("logistic focal loss: γ = \(focal.gamma) must be finite and >= 0")
            }
            guard focal.alpha >= 0, focal.alpha <= 1 else {
                throw .invalidSpec("logistic focal loss: α = \(focal.alpha) must lie in [0, 1]")
            }
        }
        if let classWeights {
            try LinearScores.checkClassWeights(classWeights, count: 2, model: "logistic regression")
        }
        self.featureCount = featureCount
        self.l2 = l2
        self.focal = focal
        self.classWeights = classWeights
    }

    public var spec: ModelSpec {
        ModelSpec(featureCount: featureCount, l2: l2, .logistic(focal: focal, classWeights: classWeights))
    }

    public var layout: ParameterLayout {
        ParameterLayout([("w", [featureCount], true), ("b", [], false)])
    }

    public func initialParameters() -> [Double] { [Double](repeating: 0, count: featureCount + 1) }

    public func blockSums(
        _ block: Block, parameters: UnsafeBufferPointer<Double>, context: RoundContext,
        into output: UnsafeMutableBufferPointer<Double>
    ) throws(ModelError) {
        try checkShapes(block, parameterCount: parameters.count, outputCount: output.count)
        if focal != nil || classWeights != nil {
            // Focal, or BCE with class weights (focal with γ = 0 and α_t = 1).
            let loss = LinearLoss.focal(
                gamma: focal?.gamma ?? 0, alphaPositive: focal?.alpha ?? 1, alphaNegative: focal.map { 1 - $0.alpha } ?? 1,
                classWeights: classWeights)
            let fused = try LinearScores.fusedBlockSums(
                block, loss: loss, parameters: parameters, labelRequirement: Self.hardLabelRequirement, into: output)
            if !fused { try weightedSums(block, parameters: parameters, into: output) }
            return
        }
        let weights = UnsafeBufferPointer(rebasing: parameters[0..<featureCount])
        do {
            try LogisticKernel.sums(of: block, weights: weights, bias: parameters[featureCount], into: output)
        } catch {
            throw .dimension(error.description)
        }
    }

    /// The logits `z_i = x_i · w + b` of every row (N values).
    public func predict(_ block: Block, parameters: [Double]) throws(ModelError) -> [Double] {
        try checkShapes(block, parameterCount: parameters.count, outputCount: sumsWidth)
        return try LinearScores.predict(block, parameters: parameters, featureCount: featureCount, outputCount: 1)
    }

    static let hardLabelRequirement = "focal or class-weighted logistic regression needs labels 0 or 1"

    /// The focal and/or class-weighted path one row at a time in Swift (`LinearScores.blockSums`).
    func weightedSums(
        _ block: Block, parameters: UnsafeBufferPointer<Double>, into output: UnsafeMutableBufferPointer<Double>
    ) throws(ModelError) {
        let negativeWeight = classWeights?[0] ?? 1
        let positiveWeight = classWeights?[1] ?? 1
        if let focal {
            let focalLoss: FocalLossWithLogits
            do {
                focalLoss = try FocalLossWithLogits(gamma: focal.gamma, weighting: .byClass(alpha: focal.alpha))
            } catch {
                throw .invalidSpec(error.description)
            }
            let loss = ElementwiseRowLoss(
                loss: focalLoss, labelRequirement: Self.hardLabelRequirement, negativeWeight: negativeWeight,
                positiveWeight: positiveWeight)
            try LinearScores.blockSums(block, parameters: parameters, featureCount: featureCount, loss: loss, into: output)
        } else {
            let loss = ElementwiseRowLoss(
                loss: HardLabelBCE(), labelRequirement: Self.hardLabelRequirement, negativeWeight: negativeWeight,
                positiveWeight: positiveWeight)
            try LinearScores.blockSums(block, parameters: parameters, featureCount: featureCount, loss: loss, into: output)
        }
    }

    private func checkShapes(_ block: Block, parameterCount: Int, outputCount: Int) throws(ModelError) {
        guard block.columns == featureCount else {
            throw .dimension("block \(block.id) has \(block.columns) columns, the model expects \(featureCount)")
        }
        guard parameterCount == featureCount + 1, outputCount == featureCount + 2 else {
            throw .dimension(
                "logistic regression with \(featureCount) features needs \(featureCount + 1) parameters and "
                    + "\(featureCount + 2) sums, got \(parameterCount) and \(outputCount)")
        }
    }
}

/// `BinaryCrossEntropyWithLogits` restricted to hard labels y ∈ {0, 1}, so that a class weight is
/// well defined for every row.
struct HardLabelBCE: ElementwiseLoss {
    static let name = "bce_logits_hard_labels"
    private let bce = BinaryCrossEntropyWithLogits()

    func lossAndDerivative<T: LossScalar>(target: T, prediction: T) -> (loss: T, derivative: T) {
        bce.lossAndDerivative(target: target, prediction: prediction)
    }

    func isOutsideDomain<T: LossScalar>(target: T, prediction: T) -> Bool { target * (1 - target) != 0 }
}
