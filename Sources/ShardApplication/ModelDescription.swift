import ShardData
import ShardMetrics
import ShardModels
import ShardNumerics

/// Everything the application knows about one kind of model — which settings it reads and their rules, how they
/// become its `ModelConfiguration`, its labels, what it computes per row, its predictions and its metrics — in one
/// file per kind (`Models/`), listed once in `ModelRegistry`. The math is the model type in ShardModels.
protocol ModelDescription: Sendable {
    static var kind: ModelKind { get }
    /// How the label column is read.
    static var labelKind: LabelKind { get }
    /// Whether a block's loss draws the round's random numbers (mining, noise): the objective is then random, the
    /// optimizer defaults to Adam, and a training report recomputes the data loss instead of reusing the run's.
    static var drawsRandomNumbers: Bool { get }
    /// The `ModelChoices` settings this kind reads; any other one given is refused.
    static var settings: Set<ModelSetting> { get }
    /// Rules between this kind's settings and the data (ranges, required settings).
    static func validate(_ choices: ModelChoices, data: DataConfiguration) throws(SetupError)
    /// Whether the chosen loss has kinks, so full-batch solvers use the smoothing continuation.
    static func isNonSmooth(_ choices: ModelChoices) -> Bool
    /// μ₀ of the continuation when `--smoothing-start` is not given.
    static func defaultSmoothingStart(_ data: PreparedData) -> Double
    /// The configuration with defaults filled in.
    static func configuration(_ choices: ModelChoices, data: PreparedData) throws(SetupError) -> ModelConfiguration
    /// One block's per-row outputs, row-major `rows × width` (`seed` keys any noise, round 1).
    static func outputs(of model: any Model, block: Block, parameters: [Double], seed: UInt64) throws(ModelError)
        -> (values: [Double], width: Int)
    /// One block's loss sum `blockSums[0]` with the bits the model computes, from that block's `outputs`, when they
    /// determine it (nil: a pass of the model computes it).
    static func lossSum(ofBlockOutputs values: [Double]) -> Double?
    /// The `predict` table of the outputs.
    static func predictions(_ outputs: RowOutputs, model: LoadedModel) -> PredictionTable
    /// Adds this kind's metrics to `report`; `labels` are the rows' labels as the loss reads them.
    static func addMetrics(
        _ outputs: RowOutputs, labels: [Double], input: ModelInput, model: LoadedModel, seed: UInt64,
        to report: inout EvaluationReport) throws
}

extension ModelDescription {
    static func lossSum(ofBlockOutputs values: [Double]) -> Double? { nil }
    static var drawsRandomNumbers: Bool { false }
    static func validate(_ choices: ModelChoices, data: DataConfiguration) throws(SetupError) {}
    static func isNonSmooth(_ choices: ModelChoices) -> Bool { false }
    static func defaultSmoothingStart(_ data: PreparedData) -> Double { 1 }
}

/// Every kind of model, once.
enum ModelRegistry {
    static let descriptions: [any ModelDescription.Type] = [
        LogisticDescription.self, SVMDescription.self, QuantileDescription.self, SoftmaxDescription.self,
        TripletDescription.self, VAEDescription.self, LinearDescription.self,
    ]

    static func description(of kind: ModelKind) -> any ModelDescription.Type {
        // Every case of ModelKind is registered (`ModelDescriptionTests` checks it).
        for description in descriptions where description.kind == kind { return description }
        preconditionFailure("model kind \(kind.rawValue) is not registered")
    }

    /// The kinds that read `setting`, for "applies to --model … only".
    static func kinds(reading setting: ModelSetting) -> [ModelKind] {
        var kinds: [ModelKind] = []
        for description in descriptions where description.settings.contains(setting) { kinds.append(description.kind) }
        return kinds
    }
}

extension ModelKind {
    var modelDescription: any ModelDescription.Type { ModelRegistry.description(of: self) }
    /// How this kind reads the label column.
    public var labelKind: LabelKind { modelDescription.labelKind }
    /// See `ModelDescription.drawsRandomNumbers`.
    public var lossDrawsRandomNumbers: Bool { modelDescription.drawsRandomNumbers }
}

/// A model setting of `ModelChoices`, by its flag.
public enum ModelSetting: String, CaseIterable, Sendable {
    case tau = "--tau"
    case focalGamma = "--focal-gamma"
    case focalAlpha = "--focal-alpha"
    case classWeight = "--class-weight"
    case classes = "--classes"
    case margin = "--margin"
    case hidden = "--hidden"
    case dimension = "--dimension"
    case pairs = "--pairs"
    case loss = "--loss"
    case delta = "--delta"
    case thresholdFor = "--threshold-for"

    func isGiven(in choices: ModelChoices) -> Bool {
        switch self {
        case .tau: !choices.taus.isEmpty
        case .focalGamma: choices.focalGamma != nil
        case .focalAlpha: choices.focalAlpha != nil
        case .classWeight: choices.classWeight != nil
        case .classes: choices.classes != nil
        case .margin: choices.margin != nil
        case .hidden: choices.hidden != nil
        case .dimension: choices.dimension != nil
        case .pairs: choices.pairs != nil
        case .loss: choices.regressionLoss != nil
        case .delta: choices.delta != nil
        case .thresholdFor: choices.thresholdFor != nil
        }
    }
}

/// A pass's outputs: `rowCount × width` values, row-major.
struct RowOutputs {
    let values: [Double]
    let width: Int

    var rowCount: Int { width == 0 ? 0 : values.count / width }
    func row(_ r: Int) -> ArraySlice<Double> { values[(r * width)..<((r + 1) * width)] }
    var rows: [[Double]] { (0..<rowCount).map { Array(row($0)) } }
}

/// Shared by the kinds with per-class loss weights: `balanced` gives w_c = n / (K · n_c) (classes absent from
/// the data get weight 0); an explicit list must have K entries.
func classWeights(_ choice: ClassWeightChoice?, classCount: Int, labels: [Int]) throws(SetupError) -> [Double]? {
    switch choice {
    case nil:
        return nil
    case .balanced:
        var supports = [Int](repeating: 0, count: classCount)
        for label in labels where label >= 0 && label < classCount { supports[label] += 1 }
        return supports.map { $0 == 0 ? 0 : Double(labels.count) / (Double(classCount) * Double($0)) }
    case .explicit(let weights):
        guard weights.count == classCount else {
            throw SetupError(
                "--class-weight gives \(weights.count) weights for \(classCount) classes: give 'balanced' or "
                    + "\(classCount) comma-separated numbers")
        }
        return weights
    }
}

/// K from the prepared labels, for the kinds whose labels are class indices.
func preparedClassCount(_ data: PreparedData, kind: ModelKind) throws(SetupError) -> Int {
    guard let count = data.classCount else {
        throw SetupError("--model \(kind.rawValue) needs class-index labels, but no class count was found")
    }
    // Text labels name their classes: a --classes other than their number has nothing to name the rest.
    if let names = data.classNames, names.count != count {
        throw SetupError(
            "--classes \(count): the labels are text with \(names.count) classes (\(names.prefix(5).joined(separator: ", "))"
                + (names.count > 5 ? ", …" : "") + "); leave --classes out, the text labels make the classes")
    }
    return count
}

/// Mean absolute deviation from the mean: the scale of real targets, for the first smoothing stage.
func meanAbsoluteDeviation(_ values: some Collection<Double>) -> Double {
    guard !values.isEmpty else { return 1 }
    let mean = values.reduce(0, +) / Double(values.count)
    let deviation = values.reduce(0) { $0 + abs($1 - mean) } / Double(values.count)
    return deviation > 0 ? deviation : 1
}

/// Classification report at the model's `appliedThreshold` (predicted class 1 when the probability, or for an svm
/// the score, is ≥ the threshold), and ROC/PR of the scores when both classes are present. Classes are named as the
/// training file wrote them (`LoadedModel.classNames`), in `train` and `evaluate` alike.
func addBinaryMetrics(scores: [Double], labels: [Double], model: LoadedModel, to report: inout EvaluationReport) throws {
    let outcomes = BinaryOutcomes(scores: scores, labels: labels, decision: model.binaryDecision)
    let names = model.classNames ?? ["0", "1"]
    let classification = try ClassificationReport(
        confusionMatrix: try ConfusionMatrix(counts: outcomes.confusion), classNames: names)
    report.classification = classification
    report.threshold = model.appliedThreshold
    if classification.confusionMatrix.supports.allSatisfy({ $0 > 0 }) {
        report.ranking = try Ranking.report(labels: outcomes.positive, scores: scores)
    }
}

/// Per row, whether the label is the positive class (1), for the ranking; and the confusion counts
/// `confusion[true class][decided class]` — in chunks of rows on every core (a logistic model's decision takes a
/// sigmoid per row), without a per-row array of classes (16 MB for a million rows).
struct BinaryOutcomes {
    private(set) var positive: [Bool]
    private(set) var confusion: [[Int]]

    init(scores: [Double], labels: [Double], decision: BinaryDecision) {
        let count = scores.count
        positive = [Bool](repeating: false, count: count)
        let chunkRows = 1 << 15
        let counts = positive.withUnsafeMutableBufferPointer { positive in
            nonisolated(unsafe) let output = positive
            return ParallelBlocks.map(count: (count + chunkRows - 1) / chunkRows, threads: 0) { chunk -> [Int] in
                var counts = [0, 0, 0, 0]  // (true, decided) = (0,0), (0,1), (1,0), (1,1)
                for row in (chunk * chunkRows)..<min(count, (chunk + 1) * chunkRows) {
                    let isPositive = labels[row] == 1
                    output[row] = isPositive
                    let decided = decision.label(ofScore: scores[row]) == 1
                    counts[(isPositive ? 2 : 0) + (decided ? 1 : 0)] += 1
                }
                return counts
            }
        }
        let total = counts.reduce(into: [0, 0, 0, 0]) { sum, chunk in for index in 0..<4 { sum[index] += chunk[index] } }
        confusion = [[total[0], total[1]], [total[2], total[3]]]
    }
}
