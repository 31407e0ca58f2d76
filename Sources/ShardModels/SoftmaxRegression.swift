import ShardLosses
import ShardNumerics

/// Multinomial logistic (softmax) regression with K ≥ 2 classes; labels are class indices 0…K−1 stored
/// as floats in the block.
///
///     s_i = x_i · W + b                                  (W: D×K row-major, b: K)
///     loss_i = c_{y_i} · (logsumexp(s_i) − s_{i,y_i})     (categorical cross-entropy from logits)
///     ∂loss_i/∂s_ik = c_{y_i} · (softmax(s_i)_k − [k == y_i])
///
/// `c` are the optional per-class weights (`classWeights`, K entries ≥ 0; all 1 when absent): each row's
/// loss is multiplied by the weight of its class, and the objective stays the mean over rows
/// `(1/N) Σ_i loss_i + (l2/2)‖W‖²` (not a weighted mean). W is regularised, b is not. logsumexp is
/// `StableMath.logSumExp` (finite for any finite scores).
public struct SoftmaxRegression: Model {
    public let featureCount: Int
    public let l2: Double
    public let classCount: Int
    public let classWeights: [Double]?

    /// Throws `ModelError.invalidSpec` for K < 2, or class weights that are not K finite values ≥ 0 with
    /// a positive sum.
    public init(featureCount: Int, l2: Double, classCount: Int, classWeights: [Double]? = nil) throws(ModelError) {
        guard classCount >= 2 else {
            throw .invalidSpec("softmax regression needs at least 2 classes, got classCount = \(classCount)")
        }
        if let classWeights {
            try LinearScores.checkClassWeights(classWeights, count: classCount, model: "softmax regression")
        }
        self.featureCount = featureCount
        self.l2 = l2
        self.classCount = classCount
        self.classWeights = classWeights
    }

    public var spec: ModelSpec {
        ModelSpec(featureCount: featureCount, l2: l2, .softmax(classCount: classCount, classWeights: classWeights))
    }

    public var layout: ParameterLayout {
        ParameterLayout([("W", [featureCount, classCount], true), ("b", [classCount], false)])
    }

    public func initialParameters() -> [Double] { [Double](repeating: 0, count: (featureCount + 1) * classCount) }

    public func blockSums(
        _ block: Block, parameters: UnsafeBufferPointer<Double>, context: RoundContext,
        into output: UnsafeMutableBufferPointer<Double>
    ) throws(ModelError) {
        try checkShapes(block, parameterCount: parameters.count, sumsCount: output.count)
        let fused = try LinearScores.fusedBlockSums(
            block, loss: .softmax(classes: classCount, classWeights: classWeights), parameters: parameters,
            labelRequirement: SoftmaxRowLoss.requirement(classCount), into: output)
        if !fused { try swiftBlockSums(block, parameters: parameters, into: output) }
    }

    /// The block sums one row at a time in Swift (`LinearScores.blockSums`).
    func swiftBlockSums(
        _ block: Block, parameters: UnsafeBufferPointer<Double>, into output: UnsafeMutableBufferPointer<Double>
    ) throws(ModelError) {
        let loss = SoftmaxRowLoss(classCount: classCount, classWeights: classWeights)
        try LinearScores.blockSums(block, parameters: parameters, featureCount: featureCount, loss: loss, into: output)
    }

    /// The logits `s_ik`, row-major N × K.
    public func predict(_ block: Block, parameters: [Double]) throws(ModelError) -> [Double] {
        try checkShapes(block, parameterCount: parameters.count, sumsCount: nil)
        return try LinearScores.predict(
            block, parameters: parameters, featureCount: featureCount, outputCount: classCount)
    }

    private func checkShapes(_ block: Block, parameterCount: Int, sumsCount: Int?) throws(ModelError) {
        try LinearScores.checkShapes(
            block, model: "softmax regression", featureCount: featureCount, outputCount: classCount,
            parameterCount: parameterCount, sumsCount: sumsCount)
    }
}

/// `c_y (logsumexp(s) − s_y)` and its slopes `c_y (softmax(s) − onehot(y))` for one row.
struct SoftmaxRowLoss: LinearRowLoss {
    let classCount: Int
    let classWeights: [Double]?

    var outputCount: Int { classCount }
    var labelRequirement: String { Self.requirement(classCount) }

    static func requirement(_ classCount: Int) -> String {
        "softmax regression needs integer class labels in 0...\(classCount - 1)"
    }

    static func isClassIndex(_ label: Double, classCount: Int) -> Bool {
        label >= 0 && label < Double(classCount) && label.rounded(.towardZero) == label
    }

    func isInvalidLabel(_ label: Double) -> Bool { !Self.isClassIndex(label, classCount: classCount) }

    func lossAndSlopes(
        label: Double, scores: UnsafeBufferPointer<Double>, slopes: UnsafeMutableBufferPointer<Double>
    ) -> Double {
        let target = Int(label)
        let weight = classWeights?[target] ?? 1
        let logSumExp = StableMath.logSumExp(scores)
        for k in 0..<classCount {
            let probability = Double.exp(scores[k] - logSumExp)
            slopes[k] = weight * (k == target ? probability - 1 : probability)
        }
        return weight * (logSumExp - scores[target])
    }
}
