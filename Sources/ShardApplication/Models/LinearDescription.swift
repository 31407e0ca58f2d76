import ShardData
import ShardMetrics
import ShardModels
import ShardNumerics

/// `--model linear --loss mse|huber|mae [--delta δ]`: linear regression on real targets; mae is solved by smoothing
/// continuation from μ₀ = the targets' mean absolute deviation. Outputs ŷ; MSE, RMSE, MAE and R².
enum LinearDescription: ModelDescription {
    static let kind = ModelKind.linear
    static let labelKind = LabelKind.real
    static let settings: Set<ModelSetting> = [.loss, .delta]

    static func validate(_ choices: ModelChoices, data: DataConfiguration) throws(SetupError) {
        guard let delta = choices.delta else { return }
        guard delta > 0, delta.isFinite else { throw SetupError("--delta must be positive and finite") }
        guard choices.regressionLoss == .huber else { throw SetupError("--delta applies to --loss huber only") }
    }

    static func isNonSmooth(_ choices: ModelChoices) -> Bool {
        ModelConfiguration.linear(choices.regressionSettings).isNonSmooth
    }

    static func defaultSmoothingStart(_ data: PreparedData) -> Double { meanAbsoluteDeviation(data.dataset.labels) }

    static func configuration(_ choices: ModelChoices, data: PreparedData) throws(SetupError) -> ModelConfiguration {
        .linear(choices.regressionSettings)
    }

    static func outputs(of model: any Model, block: Block, parameters: [Double], seed: UInt64) throws(ModelError)
        -> (values: [Double], width: Int)
    {
        guard let linear = model as? LinearRegression else { throw .invalidSpec("not a linear regression model") }
        return (try linear.predict(block, parameters: parameters), 1)
    }

    static func predictions(_ outputs: RowOutputs, model: LoadedModel) -> PredictionTable {
        PredictionTable(columns: ["prediction"], outputs: outputs) { Array($0) }
    }

    static func addMetrics(
        _ outputs: RowOutputs, labels: [Double], input: ModelInput, model: LoadedModel, seed: UInt64,
        to report: inout EvaluationReport
    ) throws {
        report.regression = try RegressionReport(targets: labels, predictions: outputs.values)
    }
}
