import ShardData
import ShardMetrics
import ShardModels
import ShardNumerics

/// `--model quantile --tau τ…`: pinball loss at each level, real targets, solved by smoothing continuation from
/// μ₀ = the targets' mean absolute deviation. Outputs ŷ_q per level; pinball loss, coverage and crossings.
enum QuantileDescription: ModelDescription {
    static let kind = ModelKind.quantile
    static let labelKind = LabelKind.real
    static let settings: Set<ModelSetting> = [.tau]

    static func validate(_ choices: ModelChoices, data: DataConfiguration) throws(SetupError) {
        guard !choices.taus.isEmpty else { throw SetupError("--model quantile needs --tau (one or more)") }
    }

    static func isNonSmooth(_ choices: ModelChoices) -> Bool { ModelConfiguration.quantile(taus: choices.taus).isNonSmooth }

    static func defaultSmoothingStart(_ data: PreparedData) -> Double { meanAbsoluteDeviation(data.dataset.labels) }

    static func configuration(_ choices: ModelChoices, data: PreparedData) throws(SetupError) -> ModelConfiguration {
        .quantile(taus: choices.taus)
    }

    static func outputs(of model: any Model, block: Block, parameters: [Double], seed: UInt64) throws(ModelError)
        -> (values: [Double], width: Int)
    {
        guard let quantile = model as? QuantileRegression else { throw .invalidSpec("not a quantile model") }
        return (try quantile.predict(block, parameters: parameters), quantile.levelCount)
    }

    /// One column per level in increasing τ (as the report lists them), whatever the order `--tau` gave them in.
    static func predictions(_ outputs: RowOutputs, model: LoadedModel) -> PredictionTable {
        let levels = levels(of: model)
        let order = levels.indices.sorted { levels[$0] < levels[$1] }
        return PredictionTable(columns: order.map { "q\(levels[$0])" }, outputs: outputs) { row in
            let values = Array(row)
            return order.map { values[$0] }
        }
    }

    static func addMetrics(
        _ outputs: RowOutputs, labels: [Double], input: ModelInput, model: LoadedModel, seed: UInt64,
        to report: inout EvaluationReport
    ) throws {
        report.quantile = try QuantileMetrics.report(targets: labels, predictions: outputs.rows, levels: levels(of: model))
    }

    private static func levels(of model: LoadedModel) -> [Double] {
        if case .quantile(let taus) = model.file.spec.configuration { return taus }
        return []
    }
}
