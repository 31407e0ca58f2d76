import ShardData
import ShardMetrics
import ShardModels
import ShardNumerics

/// `--model softmax`: categorical cross-entropy from logits, labels 0…K−1, optional class weights. Outputs the K
/// logits; predicts the argmax (lowest class on ties) and the probabilities; classification report.
enum SoftmaxDescription: ModelDescription {
    static let kind = ModelKind.softmax
    static let labelKind = LabelKind.classIndex
    static let settings: Set<ModelSetting> = [.classes, .classWeight]

    static func configuration(_ choices: ModelChoices, data: PreparedData) throws(SetupError) -> ModelConfiguration {
        let count = try preparedClassCount(data, kind: kind)
        return .softmax(
            classCount: count,
            classWeights: try classWeights(choices.classWeight, classCount: count, labels: data.dataset.labels.map { Int($0) }))
    }

    static func outputs(of model: any Model, block: Block, parameters: [Double], seed: UInt64) throws(ModelError)
        -> (values: [Double], width: Int)
    {
        guard let softmax = model as? SoftmaxRegression else { throw .invalidSpec("not a softmax model") }
        return (try softmax.predict(block, parameters: parameters), softmax.classCount)
    }

    /// `probability_<class>`: by name for string labels (`probability_setosa`), else by index (`probability_0`).
    static func predictions(_ outputs: RowOutputs, model: LoadedModel) -> PredictionTable {
        let names = model.file.schema?.classes.flatMap { $0.count == outputs.width ? $0 : nil }
        let columns = (0..<outputs.width).map { "probability_" + (names?[$0] ?? String($0)) }
        return PredictionTable(columns: ["predicted_class"] + columns, outputs: outputs) {
            [Double(argmax($0))] + softmaxProbabilities($0)
        }
    }

    static func addMetrics(
        _ outputs: RowOutputs, labels: [Double], input: ModelInput, model: LoadedModel, seed: UInt64,
        to report: inout EvaluationReport
    ) throws {
        report.classification = try ClassificationReport(
            trueLabels: labels.map { Int($0) }, predictedLabels: (0..<outputs.rowCount).map { argmax(outputs.row($0)) },
            classCount: outputs.width, classNames: model.classNames)
    }
}
