import ShardData
import ShardMetrics
import ShardModels
import ShardNumerics

/// `--model triplet`: an embedding network trained with triplet or contrastive loss on pairs formed inside each
/// block (random per round), labels 0…K−1. Outputs the embedding; recall@1 and verification accuracy.
enum TripletDescription: ModelDescription {
    static let kind = ModelKind.triplet
    static let labelKind = LabelKind.classIndex
    static let drawsRandomNumbers = true
    static let settings: Set<ModelSetting> = [.classes, .margin, .hidden, .dimension, .pairs]

    static func validate(_ choices: ModelChoices, data: DataConfiguration) throws(SetupError) {
        try validateNetwork(choices)
        if let margin = choices.margin, !(margin > 0 && margin.isFinite) { throw SetupError("--margin must be positive") }
    }

    static func configuration(_ choices: ModelChoices, data: PreparedData) throws(SetupError) -> ModelConfiguration {
        .triplet(
            TripletSettings(
                classCount: try preparedClassCount(data, kind: kind), embeddingDimension: choices.dimension ?? 2,
                hiddenUnits: choices.hidden, margin: choices.margin ?? 1, pairObjective: choices.pairs ?? .tripletSemiHard))
    }

    static func outputs(of model: any Model, block: Block, parameters: [Double], seed: UInt64) throws(ModelError)
        -> (values: [Double], width: Int)
    {
        guard let triplet = model as? TripletEmbedding else { throw .invalidSpec("not an embedding model") }
        return (try triplet.embeddings(of: block, parameters: parameters), triplet.embeddingDimension)
    }

    static func predictions(_ outputs: RowOutputs, model: LoadedModel) -> PredictionTable {
        PredictionTable(columns: (0..<outputs.width).map { "embedding_\($0)" }, outputs: outputs) { Array($0) }
    }

    static func addMetrics(
        _ outputs: RowOutputs, labels: [Double], input: ModelInput, model: LoadedModel, seed: UInt64,
        to report: inout EvaluationReport
    ) throws {
        let embeddings = outputs.rows
        let classes = labels.map { Int($0) }
        let recall = try EmbeddingMetrics.recallAtOne(embeddings: embeddings, labels: classes)
        let (pairs, sampled) = try model.verificationPairs(embeddings, classes, seed: seed)
        let threshold = try VerificationThreshold(fitting: pairs)
        report.embedding = EmbeddingEvaluation(
            recallAtOne: recall.recallAtOne, hits: recall.hits, count: recall.count,
            verification: try threshold.evaluate(pairs), pairsSampled: sampled)
    }
}

/// `--hidden` and `--dimension` of the networks.
func validateNetwork(_ choices: ModelChoices) throws(SetupError) {
    if let dimension = choices.dimension, dimension < 1 { throw SetupError("--dimension must be at least 1") }
    if let hidden = choices.hidden, hidden < 1 { throw SetupError("--hidden must be at least 1") }
}
