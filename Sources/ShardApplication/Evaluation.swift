import Foundation
import ShardArtifacts
import ShardData
import ShardLosses
import ShardMetrics
import ShardModels
import ShardNumerics

// MARK: - Evaluation

/// Retrieval and verification quality of an embedding model on labelled rows.
public struct EmbeddingEvaluation: Sendable, Equatable, Codable {
    /// Leave-one-out nearest-neighbour recall@1.
    public var recallAtOne: Double
    public var hits: Int
    public var count: Int
    /// The threshold is fitted on pairs of the same rows it is evaluated on (an optimistic estimate).
    public var verification: VerificationOutcome
    /// Whether `verification` used a random sample of the pairs (more than `maximumPairs` pairs exist).
    public var pairsSampled: Bool

    /// Pairs used for the verification threshold at most; above this a seeded uniform sample is used.
    public static let maximumPairs = 200_000
}

/// Mean negative-ELBO parts per row of a VAE.
public struct VAEEvaluation: Sendable, Equatable, Codable {
    public var meanNegativeELBO: Double
    public var meanReconstruction: Double
    public var meanKL: Double
}

/// What `evaluate` reports; the fields that do not apply to the model's kind are nil.
public struct EvaluationReport: Sendable, Equatable, Codable {
    public var model: String
    public var rows: Int
    /// `(1/N) Σ_i loss_i` of the training objective on these rows (no L2 term).
    public var dataLoss: Double
    public var classification: ClassificationReport?
    /// Binary models: the threshold the classification report's predicted labels use.
    public var threshold: AppliedThreshold? = nil
    /// Binary models only; nil when the rows hold a single class (ROC and PR curves are then undefined).
    public var ranking: RankingReport?
    public var quantile: QuantileReport?
    /// Linear regression: MSE, RMSE, MAE and R² of the predictions.
    public var regression: RegressionReport?
    public var embedding: EmbeddingEvaluation?
    public var vae: VAEEvaluation?

    /// One JSON object, keys in snake_case, sorted.
    public func jsonData() throws(ApplicationError) -> Data {
        let encoder = JSONStyle.encoder(snakeCaseKeys: true)
        do { return try encoder.encode(self) } catch { throw .invalidArgument("cannot encode the report: \(error)") }
    }

    /// The report as text, one section per metric family.
    public func renderText() -> String {
        var sections = ["model \(model), \(rows) rows, data loss \(PredictionTable.number(dataLoss))"]
        if let classification {
            let positive = classification.classNames?.last ?? "1"
            sections.append(classification.renderTable() + (threshold.map { "\n" + $0.sentence(positive: positive) } ?? ""))
            sections.append("confusion matrix (rows = true class, columns = predicted)\n"
                + classification.confusionMatrix.renderTable(classNames: classification.classNames))
        }
        if let ranking {
            sections.append("ranking (positive class = \(classification?.classNames?.last ?? "1"))\n" + ranking.renderTable())
        } else if threshold != nil, classification?.classes.count == 2 {
            // A binary model (logistic, svm: the ones with a threshold) whose rows hold one class; softmax has no
            // ranking section, whatever its class count.
            sections.append("ranking: ROC-AUC and PR-AUC are undefined, the rows hold one class only")
        }
        if let quantile { sections.append(quantile.renderTable()) }
        if let regression { sections.append(regression.renderTable()) }
        if let embedding {
            sections.append(
                "recall@1 (leave-one-out nearest neighbour) \(fixed(embedding.recallAtOne)) "
                    + "(\(embedding.hits) of \(embedding.count) rows)\n"
                    + "verification at a threshold chosen on these same rows"
                    + (embedding.pairsSampled ? " (\(EmbeddingEvaluation.maximumPairs) sampled pairs)" : " (all pairs)")
                    + ", so the accuracy is optimistic:\n" + embedding.verification.renderTable())
        }
        if let vae {
            sections.append(
                "per sample: negative ELBO \(fixed(vae.meanNegativeELBO)) = reconstruction "
                    + "\(fixed(vae.meanReconstruction)) + KL \(fixed(vae.meanKL))\n"
                    + "(one draw of the noise: it is keyed by --seed, the block and the row in it, so other blocks or "
                    + "another order of the rows draw other noise — a training run's report, drawn on its shuffled rows, "
                    + "and evaluate of the file differ by that draw)")
        }
        return sections.joined(separator: "\n\n") + "\n"
    }

    private func fixed(_ value: Double) -> String { String(format: "%.6f", value) }
}

extension LoadedModel {
    /// Metrics of the model on labelled rows (see `EvaluationReport`); `seed` keys the VAE noise, the triplet
    /// mining of the data loss and the verification pair sample.
    ///
    /// `blocks`: the input's rows already cut with this model's block size and precision, labels as the model
    /// wants them (a training run's own blocks). `knownDataLoss`: the data loss at these parameters over these
    /// rows when the caller has it already (a training run's final objective), so no pass computes it again.
    public func evaluate(
        _ input: ModelInput, seed: UInt64 = 0, blocks: [Block]? = nil, knownDataLoss: Double? = nil
    ) throws(ApplicationError) -> EvaluationReport {
        let labelled = try trainingLabels(input)
        let perBlock = try blockOutputs(input, seed: seed, blocks: blocks)
        let (values, width) = Self.concatenated(perBlock)
        try checkFinite(values, width: width, input: input)
        let rowCount = input.rowCount
        let description = kind.modelDescription
        let lossSums = perBlock.compactMap { description.lossSum(ofBlockOutputs: $0.values) }
        let loss: Double
        if let knownDataLoss {
            loss = knownDataLoss
        } else if lossSums.count == perBlock.count, rowCount > 0 {
            // The outputs hold what the data loss adds (the VAE's parts): `dataLoss`'s sum without its pass.
            var total = 0.0
            for sum in lossSums { total += sum }
            loss = total / Double(rowCount)
        } else {
            loss = try dataLoss(labelled, seed: seed, blocks: blocks)
        }
        var report = EvaluationReport(
            model: kind.rawValue, rows: rowCount, dataLoss: loss, classification: nil,
            ranking: nil, quantile: nil, regression: nil, embedding: nil, vae: nil)
        do {
            try kind.modelDescription.addMetrics(
                RowOutputs(values: values, width: width), labels: labelled.labels, input: input, model: self, seed: seed,
                to: &report)
        } catch let error as MetricsError {
            throw .metrics(error)
        } catch let error as DataError {
            throw .data(error)
        } catch {
            throw .invalidArgument("\(error)")
        }
        return report
    }

    /// The rows with labels as the model's loss wants them: binary labels encoded (after validation),
    /// class indices checked, real targets as they are; VAE labels are not used.
    func trainingLabels(_ input: ModelInput) throws(ApplicationError) -> Dataset {
        let dataset = input.dataset
        guard input.hasLabels || kind == .vae else {
            throw .missingLabels(path: dataset.sourcePath, labelColumn: file.labelName)
        }
        switch kind.labelKind {
        case .binary(let wanted):
            do {
                return try dataset.encodingBinaryLabels(as: wanted)
            } catch {
                throw .data(error)
            }
        case .classIndex:
            // The same check as for training: integers 0…K−1, K from the model's spec.
            do {
                _ = try dataset.classCount(declared: file.spec.classCount)
            } catch {
                throw .data(error)
            }
            return dataset
        case .real, .ignored:
            return dataset
        }
    }

    /// `(1/N) Σ_blocks blockSums[0]`: the data loss of the objective at the stored parameters (exact losses,
    /// no smoothing, the noise and mining of round 1 of `seed`); blocks computed on every core, their sums added
    /// in block-id order. `blocks` as in `evaluate`.
    func dataLoss(_ dataset: Dataset, seed: UInt64, blocks given: [Block]? = nil) throws(ApplicationError) -> Double {
        let parameters = file.parameters
        let model = self.model
        let context = RoundContext(seed: seed, round: 1)
        let losses = try mapBlocks(of: dataset, given: given) { (block) throws(ModelError) -> Double in
            var sums = [Double](repeating: 0, count: model.sumsWidth)
            try parameters.withUnsafeBufferPointer { (parameters) throws(ModelError) in
                try sums.withUnsafeMutableBufferPointer { (output) throws(ModelError) in
                    try model.blockSums(block, parameters: parameters, context: context, into: output)
                }
            }
            return sums[0]
        }
        var total = 0.0
        for loss in losses { total += loss }
        return total / Double(dataset.rowCount)
    }
}

extension ModelSpec {
    /// softmax and triplet: K (0 for the kinds whose labels are not class indices).
    var classCount: Int {
        switch configuration {
        case .softmax(let classCount, _): classCount
        case .triplet(let settings): settings.classCount
        case .logistic, .svm, .quantile, .vae, .linear: 0
        }
    }
}
