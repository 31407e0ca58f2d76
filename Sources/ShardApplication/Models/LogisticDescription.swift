import ShardData
import ShardLosses
import ShardModels
import ShardNumerics

/// `--model logistic`: BCE from logits, or focal loss, with optional class weights; labels {0, 1}.
/// Outputs the score s = x·w + b; predicts probability p = sigmoid(s) and class [p ≥ threshold] (default 0.5);
/// binary metrics.
enum LogisticDescription: ModelDescription {
    static let kind = ModelKind.logistic
    static let labelKind = LabelKind.binary(.zeroOne)
    static let settings: Set<ModelSetting> = [.focalGamma, .focalAlpha, .classWeight, .thresholdFor]

    static func validate(_ choices: ModelChoices, data: DataConfiguration) throws(SetupError) {
        if choices.focalAlpha != nil, choices.focalGamma == nil { throw SetupError("--focal-alpha needs --focal-gamma") }
        if let gamma = choices.focalGamma, !(gamma >= 0 && gamma.isFinite) { throw SetupError("--focal-gamma must be ≥ 0") }
        if let alpha = choices.focalAlpha, !(alpha >= 0 && alpha <= 1) { throw SetupError("--focal-alpha must be in [0, 1]") }
    }

    static func configuration(_ choices: ModelChoices, data: PreparedData) throws(SetupError) -> ModelConfiguration {
        .logistic(
            focal: choices.focalGamma.map { FocalParameters(gamma: $0, alpha: choices.focalAlpha ?? 0.25) },
            classWeights: try classWeights(
                choices.classWeight, classCount: 2, labels: data.dataset.labels.map { $0 == 1 ? 1 : 0 }))
    }

    static func outputs(of model: any Model, block: Block, parameters: [Double], seed: UInt64) throws(ModelError)
        -> (values: [Double], width: Int)
    {
        guard let logistic = model as? LogisticRegression else { throw .invalidSpec("not a logistic model") }
        return (try logistic.predict(block, parameters: parameters), 1)
    }

    static func predictions(_ outputs: RowOutputs, model: LoadedModel) -> PredictionTable {
        let decision = model.binaryDecision
        return PredictionTable(columns: ["score", "probability", "predicted_label"], outputs: outputs) { row in
            [row.first!, StableMath.sigmoid(row.first!), decision.label(ofScore: row.first!)]
        }
    }

    static func addMetrics(
        _ outputs: RowOutputs, labels: [Double], input: ModelInput, model: LoadedModel, seed: UInt64,
        to report: inout EvaluationReport
    ) throws {
        try addBinaryMetrics(scores: outputs.values, labels: labels, model: model, to: &report)
    }
}
