import ShardData
import ShardModels
import ShardNumerics

/// `--model vae`: a Bernoulli variational auto-encoder on features in [0, 1] (labels unused). Outputs per row the
/// reconstruction term and the KL term with the noise of round 1 of `seed`; the mean negative ELBO and its parts.
enum VAEDescription: ModelDescription {
    static let kind = ModelKind.vae
    static let labelKind = LabelKind.ignored
    static let drawsRandomNumbers = true
    static let settings: Set<ModelSetting> = [.hidden, .dimension]

    static func validate(_ choices: ModelChoices, data: DataConfiguration) throws(SetupError) {
        try validateNetwork(choices)
        if data.standardize {
            throw SetupError("--model vae models features in [0, 1] (binary cross-entropy); drop --standardize")
        }
    }

    static func configuration(_ choices: ModelChoices, data: PreparedData) throws(SetupError) -> ModelConfiguration {
        .vae(latentDimension: choices.dimension ?? 2, hiddenUnits: choices.hidden)
    }

    static func outputs(of model: any Model, block: Block, parameters: [Double], seed: UInt64) throws(ModelError)
        -> (values: [Double], width: Int)
    {
        guard let vae = model as? VariationalAutoencoder else { throw .invalidSpec("not a VAE") }
        let parts = try vae.elboParts(block, parameters: parameters, context: RoundContext(seed: seed, round: 1))
        return (parts.flatMap { [$0.reconstruction, $0.kl] }, 2)
    }

    /// `Σ_rows (reconstruction + KL)` row by row from 0, as `VariationalAutoencoder`'s pass adds its loss sum (the
    /// outputs are those parts, computed by the same forward pass with the same noise).
    static func lossSum(ofBlockOutputs values: [Double]) -> Double? {
        var sum = 0.0
        for row in 0..<(values.count / 2) { sum += values[2 * row] + values[2 * row + 1] }
        return sum
    }

    static func predictions(_ outputs: RowOutputs, model: LoadedModel) -> PredictionTable {
        PredictionTable(columns: ["reconstruction", "kl", "negative_elbo"], outputs: outputs) { row in
            [row.first!, row.last!, row.first! + row.last!]
        }
    }

    static func addMetrics(
        _ outputs: RowOutputs, labels: [Double], input: ModelInput, model: LoadedModel, seed: UInt64,
        to report: inout EvaluationReport
    ) throws {
        var reconstruction = 0.0, kl = 0.0
        for r in 0..<outputs.rowCount {
            reconstruction += outputs.values[2 * r]
            kl += outputs.values[2 * r + 1]
        }
        let count = Double(outputs.rowCount)
        report.vae = VAEEvaluation(
            meanNegativeELBO: (reconstruction + kl) / count, meanReconstruction: reconstruction / count, meanKL: kl / count)
    }
}
