import ShardData
import ShardModels
import ShardNumerics

/// `--model svm`: hinge loss, labels {−1, +1} (a {0, 1} file is re-encoded), solved by smoothing continuation
/// from μ₀ = 1. Outputs the score s; predicts class [s ≥ threshold] (default 0) in the file's encoding; binary metrics.
enum SVMDescription: ModelDescription {
    static let kind = ModelKind.svm
    static let labelKind = LabelKind.binary(.plusMinusOne)
    static let settings: Set<ModelSetting> = [.thresholdFor]

    static func isNonSmooth(_ choices: ModelChoices) -> Bool { ModelConfiguration.svm.isNonSmooth }

    static func configuration(_ choices: ModelChoices, data: PreparedData) throws(SetupError) -> ModelConfiguration {
        .svm
    }

    static func outputs(of model: any Model, block: Block, parameters: [Double], seed: UInt64) throws(ModelError)
        -> (values: [Double], width: Int)
    {
        guard let svm = model as? LinearSVM else { throw .invalidSpec("not an SVM") }
        return (try svm.predict(block, parameters: parameters), 1)
    }

    static func predictions(_ outputs: RowOutputs, model: LoadedModel) -> PredictionTable {
        let decision = model.binaryDecision
        return PredictionTable(columns: ["score", "predicted_label"], outputs: outputs) { row in
            [row.first!, decision.label(ofScore: row.first!)]
        }
    }

    static func addMetrics(
        _ outputs: RowOutputs, labels: [Double], input: ModelInput, model: LoadedModel, seed: UInt64,
        to report: inout EvaluationReport
    ) throws {
        try addBinaryMetrics(scores: outputs.values, labels: labels, model: model, to: &report)
    }
}
