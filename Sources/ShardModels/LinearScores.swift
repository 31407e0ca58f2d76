import ShardLosses
import ShardNumerics

/// The per-row loss of a linear model with Q outputs, as a function of the row's scores.
///
///     s = x·W + b                       (x: D features, W: D×Q row-major, b: Q)
///     loss = ℓ(y, s)                     slopes_q = ∂ℓ/∂s_q
///
/// `LinearScores.blockSums` turns the slopes into parameter gradients (∂ℓ/∂W_dq = x_d slopes_q,
/// ∂ℓ/∂b_q = slopes_q), so a conforming type only knows its loss.
protocol LinearRowLoss: Sendable {
    /// Q, the number of scores per row.
    var outputCount: Int { get }
    /// What a valid label looks like, for error messages ("labels must be -1 or +1").
    var labelRequirement: String { get }
    /// Whether `label` is outside the loss's domain (checked for every row before `lossAndSlopes`).
    func isInvalidLabel(_ label: Double) -> Bool
    /// The row's loss; writes ∂loss/∂s_q into `slopes` (Q entries). `label` has passed `isInvalidLabel`.
    func lossAndSlopes(
        label: Double, scores: UnsafeBufferPointer<Double>, slopes: UnsafeMutableBufferPointer<Double>
    ) -> Double
}

/// An element-wise loss of the loss library applied to a single score, with an optional weight per binary
/// class:
///
///     loss = c(y) · ℓ(y, s)        c(y) = positiveWeight if y > 0, negativeWeight otherwise
///
/// (both weights 1 when unweighted; multiplying by 1 is exact, so the unweighted loss is bit-identical).
struct ElementwiseRowLoss<Loss: ElementwiseLoss>: LinearRowLoss {
    let loss: Loss
    let labelRequirement: String
    var negativeWeight = 1.0
    var positiveWeight = 1.0

    var outputCount: Int { 1 }

    @inline(__always)
    func isInvalidLabel(_ label: Double) -> Bool {
        !label.isFinite || loss.isOutsideDomain(target: label, prediction: 0.0)
    }

    @inline(__always)
    func lossAndSlopes(
        label: Double, scores: UnsafeBufferPointer<Double>, slopes: UnsafeMutableBufferPointer<Double>
    ) -> Double {
        let weight = label > 0 ? positiveWeight : negativeWeight
        let (value, derivative) = loss.lossAndDerivative(target: label, prediction: scores[0])
        slopes[0] = weight * derivative
        return weight * value
    }
}

/// The linear-model machinery shared by the SVM, logistic (focal / weighted), quantile and softmax models:
/// shape checks, scores, block sums, predictions.
///
/// Parameter layout of a model with D features and Q outputs: `[W (D×Q row-major), b (Q)]`; for Q = 1
/// this is `[w_0 … w_{D−1}, b]`. Scores are computed in `Double` whatever the storage precision:
///
///     s_q = (Σ_d x_d W_dq) + b_q          (d ascending, then the bias)
///
/// Block sums (see `Model.blockSums`), rows in ascending order, one thread:
///
///     output[0]              = Σ_i loss_i
///     output[1 + d·Q + q]    = Σ_i x_id · ∂loss_i/∂s_iq
///     output[1 + D·Q + q]    = Σ_i ∂loss_i/∂s_iq
enum LinearScores {
    /// Throws `ModelError.dimension` unless the block has `featureCount` columns, `parameterCount` is
    /// `(featureCount + 1)·outputCount` and `outputCount` (the sums width, if given) is one more.
    static func checkShapes(
        _ block: Block, model: String, featureCount: Int, outputCount: Int, parameterCount: Int,
        sumsCount: Int? = nil
    ) throws(ModelError) {
        guard block.columns == featureCount else {
            throw .dimension("block \(block.id) has \(block.columns) columns, the \(model) expects \(featureCount)")
        }
        let expected = (featureCount + 1) * outputCount
        guard parameterCount == expected else {
            throw .dimension(
                "\(model) with \(featureCount) features needs \(expected) parameters, got \(parameterCount)")
        }
        if let sumsCount, sumsCount != expected + 1 {
            throw .dimension("\(model) with \(featureCount) features needs \(expected + 1) sums, got \(sumsCount)")
        }
    }

    /// Writes the block's sums with the fused kernel `LinearLossKernel` (the same layout as `blockSums`,
    /// computed in double in another summation order). Returns false, writing nothing, when the kernel
    /// does not run here (no AVX2+FMA, or a loss it does not handle): the caller then runs `blockSums`.
    /// Throws `ModelError.invalidLabel` for the first row whose label the loss rejects.
    static func fusedBlockSums(
        _ block: Block, loss: LinearLoss, parameters: UnsafeBufferPointer<Double>, labelRequirement: String,
        into output: UnsafeMutableBufferPointer<Double>
    ) throws(ModelError) -> Bool {
        let outcome: LinearLossKernel.Outcome
        do {
            outcome = try LinearLossKernel.sums(of: block, loss: loss, parameters: parameters, into: output)
        } catch {
            throw .dimension(error.description)
        }
        switch outcome {
        case .computed: return true
        case .unsupported: return false
        case .invalidLabel(let row):
            let label: Double = block.withValues { values in
                switch values {
                case .float32(_, let labels): Double(labels[row])
                case .float64(_, let labels): labels[row]
                }
            }
            throw .invalidLabel(block: block.id, row: row, label: label, requirement: labelRequirement)
        }
    }

    /// Writes the block's loss and gradient sums into `output` (layout above), one row at a time in
    /// Swift: the path for CPUs without the fused kernel, and its test oracle. Throws
    /// `ModelError.invalidLabel` for the first row whose label the loss rejects.
    static func blockSums<Loss: LinearRowLoss>(
        _ block: Block, parameters: UnsafeBufferPointer<Double>, featureCount: Int, loss: Loss,
        into output: UnsafeMutableBufferPointer<Double>
    ) throws(ModelError) {
        for index in output.indices { output[index] = 0 }
        try block.withValues { (values) throws(ModelError) in
            switch values {
            case .float32(let features, let labels):
                try accumulate(
                    block: block, features: features, labels: labels, parameters: parameters,
                    featureCount: featureCount, loss: loss, into: output)
            case .float64(let features, let labels):
                try accumulate(
                    block: block, features: features, labels: labels, parameters: parameters,
                    featureCount: featureCount, loss: loss, into: output)
            }
        }
    }

    private static func accumulate<T: BinaryFloatingPoint, Loss: LinearRowLoss>(
        block: Block, features: UnsafeBufferPointer<T>, labels: UnsafeBufferPointer<T>,
        parameters: UnsafeBufferPointer<Double>, featureCount: Int, loss: Loss,
        into output: UnsafeMutableBufferPointer<Double>
    ) throws(ModelError) {
        let outputs = loss.outputCount
        let biasOffset = featureCount * outputs
        try withUnsafeTemporaryAllocation(of: Double.self, capacity: 2 * outputs) {
            (scratch) throws(ModelError) in
            let scores = UnsafeMutableBufferPointer(rebasing: scratch[0..<outputs])
            let slopes = UnsafeMutableBufferPointer(rebasing: scratch[outputs..<(2 * outputs)])
            var lossSum = 0.0
            for row in 0..<block.rows {
                let label = Double(labels[row])
                if loss.isInvalidLabel(label) {
                    throw .invalidLabel(block: block.id, row: row, label: label, requirement: loss.labelRequirement)
                }
                let rowStart = row * featureCount
                score(
                    features: features, rowStart: rowStart, parameters: parameters, featureCount: featureCount,
                    into: scores)
                lossSum += loss.lossAndSlopes(label: label, scores: UnsafeBufferPointer(scores), slopes: slopes)
                for column in 0..<featureCount {
                    let value = Double(features[rowStart + column])
                    let base = 1 + column * outputs
                    for index in 0..<outputs { output[base + index] += value * slopes[index] }
                }
                for index in 0..<outputs { output[1 + biasOffset + index] += slopes[index] }
            }
            output[0] = lossSum
        }
    }

    /// `scores_q = (Σ_d x_d W_dq) + b_q` for the row starting at `rowStart`.
    @inline(__always)
    private static func score<T: BinaryFloatingPoint>(
        features: UnsafeBufferPointer<T>, rowStart: Int, parameters: UnsafeBufferPointer<Double>,
        featureCount: Int, into scores: UnsafeMutableBufferPointer<Double>
    ) {
        let outputs = scores.count
        for output in 0..<outputs { scores[output] = 0 }
        for column in 0..<featureCount {
            let value = Double(features[rowStart + column])
            let base = column * outputs
            for output in 0..<outputs { scores[output] += value * parameters[base + output] }
        }
        let biasOffset = featureCount * outputs
        for output in 0..<outputs { scores[output] += parameters[biasOffset + output] }
    }

    /// Calls `body(row, label, scores)` for every row in order (scores as in `blockSums`). Used by
    /// predictions, not by the training path.
    static func forEachRow(
        _ block: Block, parameters: [Double], featureCount: Int, outputCount: Int,
        _ body: (_ row: Int, _ label: Double, _ scores: UnsafeBufferPointer<Double>) throws(ModelError) -> Void
    ) throws(ModelError) {
        try block.withValues { (values) throws(ModelError) in
            switch values {
            case .float32(let features, let labels):
                try visitRows(
                    block, features: features, labels: labels, parameters: parameters, featureCount: featureCount,
                    outputCount: outputCount, body)
            case .float64(let features, let labels):
                try visitRows(
                    block, features: features, labels: labels, parameters: parameters, featureCount: featureCount,
                    outputCount: outputCount, body)
            }
        }
    }

    private static func visitRows<T: BinaryFloatingPoint>(
        _ block: Block, features: UnsafeBufferPointer<T>, labels: UnsafeBufferPointer<T>, parameters: [Double],
        featureCount: Int, outputCount: Int,
        _ body: (_ row: Int, _ label: Double, _ scores: UnsafeBufferPointer<Double>) throws(ModelError) -> Void
    ) throws(ModelError) {
        try parameters.withUnsafeBufferPointer { (parameters) throws(ModelError) in
            try withUnsafeTemporaryAllocation(of: Double.self, capacity: outputCount) {
                (scores) throws(ModelError) in
                for row in 0..<block.rows {
                    score(
                        features: features, rowStart: row * featureCount, parameters: parameters,
                        featureCount: featureCount, into: scores)
                    try body(row, Double(labels[row]), UnsafeBufferPointer(scores))
                }
            }
        }
    }

    /// The raw scores of every row, row-major `rows × outputCount`.
    static func predict(
        _ block: Block, parameters: [Double], featureCount: Int, outputCount: Int
    ) throws(ModelError) -> [Double] {
        var result = [Double](repeating: 0, count: block.rows * outputCount)
        try forEachRow(block, parameters: parameters, featureCount: featureCount, outputCount: outputCount) {
            (row, _, scores) throws(ModelError) in
            for output in 0..<outputCount { result[row * outputCount + output] = scores[output] }
        }
        return result
    }

    /// Throws `ModelError.invalidSpec` unless μ is finite and ≥ 0.
    static func checkSmoothing(_ smoothing: Double, model: String) throws(ModelError) {
        guard smoothing.isFinite, smoothing >= 0 else {
            throw .invalidSpec("\(model): smoothing μ = \(smoothing) must be finite and >= 0")
        }
    }

    /// Throws `ModelError.invalidSpec` unless `weights` has `count` finite, non-negative entries with a
    /// positive sum.
    static func checkClassWeights(_ weights: [Double], count: Int, model: String) throws(ModelError) {
        guard weights.count == count else {
            throw .invalidSpec("\(model): \(weights.count) class weights given, expected \(count) (one per class)")
        }
        for (index, weight) in weights.enumerated() where !(weight.isFinite && weight >= 0) {
            throw .invalidSpec("\(model): class weight \(index) is \(weight); weights must be finite and >= 0")
        }
        guard weights.reduce(0, +) > 0 else {
            throw .invalidSpec("\(model): class weights \(weights) are all zero")
        }
    }
}
