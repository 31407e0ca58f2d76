import ShardNumerics

/// Binary logistic regression with labels y ∈ {0, 1}.
///
///     z_i    = x_i · w + b
///     loss_i = softplus(z_i) − y_i z_i            (= BCE of sigmoid(z_i), computed stably)
///     ∂loss_i/∂w = (sigmoid(z_i) − y_i) x_i,   ∂loss_i/∂b = sigmoid(z_i) − y_i
///
/// Parameters `[w_0 … w_{D−1}, b]`; `w` is regularised, `b` is not. Objective and reduction as in `Model`
/// (mean over rows), which is the `logistic` convention of the reference data.
public struct LogisticRegression: Model {
    public let featureCount: Int
    public let l2: Double

    public init(featureCount: Int, l2: Double) {
        self.featureCount = featureCount
        self.l2 = l2
    }

    public var spec: ModelSpec { ModelSpec(kind: .logistic, featureCount: featureCount, l2: l2) }

    public var layout: ParameterLayout {
        ParameterLayout([("w", [featureCount], true), ("b", [], false)])
    }

    public func initialParameters() -> [Double] { [Double](repeating: 0, count: featureCount + 1) }

    public func blockSums(
        _ block: Block, parameters: UnsafeBufferPointer<Double>, context: RoundContext,
        into output: UnsafeMutableBufferPointer<Double>
    ) throws(ModelError) {
        try checkShapes(block, parameterCount: parameters.count, outputCount: output.count)
        let weights = UnsafeBufferPointer(rebasing: parameters[0..<featureCount])
        do {
            try LogisticKernel.sums(of: block, weights: weights, bias: parameters[featureCount], into: output)
        } catch {
            throw .dimension(error.description)
        }
    }

    public func correctPredictions(_ block: Block, parameters: [Double]) throws(ModelError) -> Int {
        try checkShapes(block, parameterCount: parameters.count, outputCount: sumsWidth)
        let bias = parameters[featureCount]
        func count<T: BinaryFloatingPoint>(_ features: [T], _ labels: [T]) -> Int {
            var correct = 0
            for row in 0..<block.rows {
                var score = bias
                for column in 0..<featureCount {
                    score += Double(features[row * featureCount + column]) * parameters[column]
                }
                if (score > 0) == (labels[row] == 1) { correct += 1 }
            }
            return correct
        }
        switch block.storage {
        case .float32(let features, let labels): return count(features, labels)
        case .float64(let features, let labels): return count(features, labels)
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
