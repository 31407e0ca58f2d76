import ShardLosses
import Testing
import _TestSupport

/// One case of losses.json, named by its id in test output.
struct LossCase: Sendable, CustomTestStringConvertible {
    let id: String
    let json: JSONValue
    var testDescription: String { id }

    /// Every case of the reference file named by SHARDTRAIN_REFERENCE_DIR (or the bundled copy).
    /// An unreadable file throws, which fails the parametrised test.
    static func all() throws -> [LossCase] {
        let document = try ReferenceData.load("losses.json")
        guard let cases = document["cases"]?.array else { throw CaseError("losses.json has no `cases` array") }
        return cases.enumerated().map { index, json in LossCase(id: json["id"]?.string ?? "case #\(index) (no id)", json: json) }
    }
}

struct CaseError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Flattens nested JSON arrays of numbers (row-major) into one list.
func flatNumbers(_ value: JSONValue?) -> [Double]? {
    guard let value else { return nil }
    if let number = value.double { return [number] }
    guard let items = value.array else { return nil }
    var result: [Double] = []
    for item in items {
        guard let numbers = flatNumbers(item) else { return nil }
        result += numbers
    }
    return result
}

/// What our implementation produced for a case, in Double, keyed like the reference.
struct Evaluation {
    var value: Double
    var perSample: [Double]
    /// Gradient per reference input name (e.g. "y_pred", "x1").
    var gradients: [String: [Double]]
}

/// Reads the inputs of a case in precision `T` and runs the matching loss.
struct CaseRunner<T: LossScalar> {
    let json: JSONValue
    let id: String

    var inputs: JSONValue { json["inputs"] ?? .null }
    var params: JSONValue { json["params"] ?? .null }

    func reduction() throws -> Reduction {
        let name = json["reduction"]?.string ?? "mean"
        guard let reduction = Reduction(rawValue: name) else { throw CaseError("\(id): unknown reduction \(name)") }
        return reduction
    }

    func parameter(_ name: String) throws -> Double {
        guard let value = params[name]?.double else { throw CaseError("\(id): missing parameter \(name)") }
        return value
    }

    func vector(_ name: String) throws -> [T] {
        guard let values = flatNumbers(inputs[name]) else { throw CaseError("\(id): missing numeric input \(name)") }
        return values.map { T($0) }
    }

    func matrix(_ name: String) throws -> Matrix<T> {
        guard let (values, rows, columns) = inputs[name]?.matrix else { throw CaseError("\(id): input \(name) is not a matrix") }
        return try Matrix(rows: rows, columns: columns, values: values.map { T($0) })
    }

    /// The name of the prediction input of an element-wise loss: the input that is not `y_true`.
    func predictionName() throws -> String {
        let names = (inputs.object ?? [:]).keys.filter { $0 != "y_true" }
        guard names.count == 1, let name = names.first else { throw CaseError("\(id): cannot tell the prediction input") }
        return name
    }

    func focalWeighting() throws -> FocalWeighting {
        let alpha = try parameter("alpha")
        switch params["alpha_mode"]?.string {
        case "all": return .everySample(alpha: alpha)
        case "alpha_t": return .byClass(alpha: alpha)
        case let other: throw CaseError("\(id): unknown alpha_mode \(other ?? "nil")")
        }
    }

    func elementwise(_ loss: some ElementwiseLoss) throws -> Evaluation {
        let name = try predictionName()
        let result = try loss.evaluate(target: try vector("y_true"), prediction: try vector(name), reduction: try reduction())
        return Evaluation(result, gradientName: name)
    }

    func categoricalTargets() throws -> CategoricalTargets<T> {
        if let labels = inputs["labels"]?.ints { return .labels(labels) }
        return .distributions(try matrix("y_true"))
    }

    /// Runs every loss except CTC; throws for an unknown loss name.
    func run(loss: String) throws -> Evaluation {
        switch loss {
        case "mse": return try elementwise(MeanSquaredError())
        case "mae": return try elementwise(MeanAbsoluteError())
        case "huber": return try elementwise(try HuberLoss(delta: try parameter("delta")))
        case "pinball": return try elementwise(try PinballLoss(tau: try parameter("tau")))
        case "bce_prob": return try elementwise(try BinaryCrossEntropy(epsilon: try parameter("eps")))
        case "bce_logits": return try elementwise(BinaryCrossEntropyWithLogits())
        case "hinge": return try elementwise(HingeLoss())
        case "squared_hinge": return try elementwise(SquaredHingeLoss())
        case "focal_prob":
            return try elementwise(
                try FocalLoss(gamma: try parameter("gamma"), weighting: try focalWeighting(), epsilon: try parameter("eps")))
        case "focal_logits":
            return try elementwise(try FocalLossWithLogits(gamma: try parameter("gamma"), weighting: try focalWeighting()))
        case "contrastive_distance": return try elementwise(try ContrastiveDistanceLoss(margin: try parameter("margin")))
        case "pinball_multi":
            guard let taus = params["taus"]?.doubles else { throw CaseError("\(id): missing taus") }
            let result = try MultiQuantileLoss(taus: taus).evaluate(
                target: try vector("y_true"), prediction: try matrix("y_pred"), reduction: try reduction())
            return Evaluation(result, gradientName: "y_pred")
        case "cce_prob":
            let result = try CategoricalCrossEntropy(epsilon: try parameter("eps")).evaluate(
                targets: try categoricalTargets(), probabilities: try matrix("y_pred"), reduction: try reduction())
            return Evaluation(result, gradientName: "y_pred")
        case "cce_logits":
            let result = try CategoricalCrossEntropyWithLogits().evaluate(
                targets: try categoricalTargets(), logits: try matrix("logits"), reduction: try reduction())
            return Evaluation(result, gradientName: "logits")
        case "kl_div":
            let result = try KLDivergence().evaluate(target: try matrix("p"), prediction: try matrix("q"), reduction: try reduction())
            return Evaluation(result, gradientName: "q")
        case "gaussian_kl":
            let result = try GaussianKL().evaluate(mean: try matrix("mean"), logVariance: try matrix("logvar"), reduction: try reduction())
            return Evaluation(
                value: Double(result.value), perSample: result.perSample.map(Double.init),
                gradients: ["mean": result.gradientMean.map(Double.init), "logvar": result.gradientLogVariance.map(Double.init)])
        case "contrastive_embeddings":
            let result = try ContrastiveEmbeddingLoss(margin: try parameter("margin")).evaluate(
                similarity: try vector("y_true"), first: try matrix("x1"), second: try matrix("x2"), reduction: try reduction())
            return Evaluation(
                value: Double(result.value), perSample: result.perSample.map(Double.init),
                gradients: ["x1": result.gradientFirst.map(Double.init), "x2": result.gradientSecond.map(Double.init)])
        case "triplet_squared", "triplet_euclidean":
            let distance: TripletDistance = loss == "triplet_squared" ? .squaredEuclidean : .euclidean
            let result = try TripletLoss(margin: try parameter("margin"), distance: distance).evaluate(
                anchor: try matrix("anchor"), positive: try matrix("positive"), negative: try matrix("negative"),
                reduction: try reduction())
            return Evaluation(
                value: Double(result.value), perSample: result.perSample.map(Double.init),
                gradients: [
                    "anchor": result.gradientAnchor.map(Double.init), "positive": result.gradientPositive.map(Double.init),
                    "negative": result.gradientNegative.map(Double.init),
                ])
        default:
            throw CaseError("\(id): unknown loss name \"\(loss)\"")
        }
    }

    /// The CTC inputs: sequences (T_n x C, C shared even when T_n = 0) and labels.
    func ctcInputs() throws -> (sequences: [Matrix<T>], labels: [[Int]]) {
        guard let sequenceList = inputs["log_probs"]?.array, let labelList = inputs["labels"]?.array else {
            throw CaseError("\(id): ctc needs log_probs and labels")
        }
        let parsed = try sequenceList.map { sequence -> (values: [Double], rows: Int, columns: Int) in
            guard let matrix = sequence.matrix else { throw CaseError("\(id): a log_probs sequence is not a matrix") }
            return matrix
        }
        let classes = parsed.first { $0.rows > 0 }?.columns ?? 0
        let sequences = try parsed.map { try Matrix<T>(rows: $0.rows, columns: $0.rows == 0 ? classes : $0.columns, values: $0.values.map { T($0) }) }
        let labels = try labelList.map { list -> [Int] in
            guard let ints = list.ints else { throw CaseError("\(id): labels must be integer lists") }
            return ints
        }
        return (sequences, labels)
    }
}

extension Evaluation {
    init<T: LossScalar>(_ result: LossResult<T>, gradientName: String) {
        self.init(
            value: Double(result.value), perSample: result.perSample.map(Double.init),
            gradients: [gradientName: result.gradient.map(Double.init)])
    }
}
