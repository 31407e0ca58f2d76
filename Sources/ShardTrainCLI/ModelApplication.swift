import Foundation
import ShardArtifacts
import ShardData
import ShardLosses
import ShardMetrics
import ShardModels
import ShardNumerics

/// Why `predict`, `evaluate`, `identify`, `sample` or `reconstruct` could not run.
public enum ApplicationError: Error, Sendable, Equatable, CustomStringConvertible {
    case artifact(ArtifactError)
    case data(DataError)
    case model(ModelError)
    case metrics(MetricsError)
    /// The CSV's feature columns are not the model's `feature_names` (same names, same order).
    case columnMismatch(path: String, detail: String)
    /// The command needs labels but the CSV has only the feature columns.
    case missingLabels(path: String, labelColumn: String)
    /// A label the model kind cannot use, at a 1-based file line.
    case invalidLabel(path: String, line: Int, value: Double, requirement: String)
    /// The command does not apply to the model's kind.
    case unsupportedKind(command: String, kind: ModelKind, supported: [ModelKind])
    /// A command-line value that does not fit the model (image side, count).
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .artifact(let error): return error.description
        case .data(let error): return error.description
        case .model(let error): return error.description
        case .metrics(let error): return error.description
        case .columnMismatch(let path, let detail):
            return "\(path):1: the columns do not match the model's features: \(detail)"
        case .missingLabels(let path, let labelColumn):
            return "\(path):1: this command needs labels, but there is no label column \"\(labelColumn)\""
        case .invalidLabel(let path, let line, let value, let requirement):
            return "\(path):\(line): label \(value) is invalid: \(requirement)"
        case .unsupportedKind(let command, let kind, let supported):
            return "\(command) works with \(supported.map(\.rawValue).joined(separator: ", ")) models; "
                + "this model is \(kind.rawValue)"
        case .invalidArgument(let message): return message
        }
    }
}

/// Whether a command needs the label column.
public enum LabelRequirement: Sendable {
    case required
    case optional
}

/// A model file read back and rebuilt, ready to be applied to new rows.
public struct LoadedModel: Sendable {
    public let path: String
    public let file: ModelFile
    public let model: any Model

    /// Rows per block and storage precision when the model is applied. A saved model is applied with the
    /// training defaults (128 rows, float64); right after training, with the run's own settings, so the
    /// block ids — and the triplets and noise the triplet and VAE losses draw per block — match training.
    public var blockRows = 128
    public var precision: Precision = .float64
    /// Threads that compute outputs and metrics passes (0 = every available core; results do not depend on it).
    public var threads = 0

    public var kind: ModelKind { file.spec.kind }

    public static func load(path: String) throws(ApplicationError) -> LoadedModel {
        let file: ModelFile
        do { file = try ModelFile.read(from: path) } catch { throw .artifact(error) }
        let model: any Model
        do { model = try file.spec.makeModel() } catch { throw .model(error) }
        return LoadedModel(path: path, file: file, model: model)
    }

    /// Throws unless the model is one of `kinds`.
    public func require(_ kinds: [ModelKind], command: String) throws(ApplicationError) {
        guard kinds.contains(kind) else { throw .unsupportedKind(command: command, kind: kind, supported: kinds) }
    }

    /// Reads a CSV for this model and applies the stored standardisation.
    ///
    /// The columns other than the label must be the model's `feature_names`, by name and in order. The label
    /// column is `labelColumn`, else the model's `label_column`; a file with exactly the feature columns has
    /// no labels (allowed only when `labels` is `.optional`; its dataset then carries zeros as labels).
    public func readData(path: String, labelColumn: String? = nil, labels: LabelRequirement) throws(ApplicationError)
        -> ModelInput
    {
        let bytes: [UInt8]
        do { bytes = try DataFile.bytes(path: path) } catch { throw .data(error) }
        guard !DataFile.isNumpy(bytes) else {
            throw .invalidArgument(
                "\(path) is a NumPy .npy file: this command reads CSV files with a header row (a model trained on "
                    + ".npy names its features \(file.featureNames.prefix(3).joined(separator: ", "))…)")
        }
        let header = Self.headerNames(bytes)
        let features = file.featureNames
        let label = labelColumn ?? file.labelName
        var dataset: Dataset
        let hasLabels: Bool
        if header.contains(label), !features.contains(label) {
            do { dataset = try CSVReader.parse(bytes: bytes, source: path, labelColumn: label) } catch { throw .data(error) }
            try Self.checkColumns(found: dataset.featureNames, expected: features, path: path)
            hasLabels = true
        } else {
            try Self.checkColumns(found: header, expected: features, path: path)
            guard labels == .optional else { throw .missingLabels(path: path, labelColumn: label) }
            var placeholder = "no_label"
            while header.contains(placeholder) { placeholder += "_" }
            do {
                dataset = try CSVReader.parse(
                    bytes: Self.appendingColumn(placeholder, to: bytes), source: path, labelColumn: placeholder)
            } catch {
                throw .data(error)
            }
            hasLabels = false
        }
        if let standardization = file.standardization {
            do { dataset = try standardization.apply(to: dataset) } catch { throw .data(error) }
        }
        return ModelInput(dataset: dataset, hasLabels: hasLabels)
    }

    /// The header's column names (after an optional UTF-8 byte-order mark, up to the first line break).
    static func headerNames(_ bytes: [UInt8]) -> [String] {
        var start = 0
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { start = 3 }
        var end = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
        if end > start, bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        return String(decoding: bytes[start..<end], as: UTF8.self).split(separator: ",", omittingEmptySubsequences: false)
            .map(String.init)
    }

    /// The file with one more column: `name` in the header and `0` on every non-empty line (empty lines stay
    /// empty, so the reader still reports them as such with their line numbers).
    static func appendingColumn(_ name: String, to bytes: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count + bytes.count / 8)
        var isHeader = true
        var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        let endsWithBreak = bytes.last == UInt8(ascii: "\n")
        if endsWithBreak { lines.removeLast() }
        for (index, line) in lines.enumerated() {
            var content = Array(line)
            let carriageReturn = content.last == UInt8(ascii: "\r")
            if carriageReturn { content.removeLast() }
            if !content.isEmpty { content += Array((isHeader ? ",\(name)" : ",0").utf8) }
            output += content
            if carriageReturn { output.append(UInt8(ascii: "\r")) }
            if index < lines.count - 1 || endsWithBreak { output.append(UInt8(ascii: "\n")) }
            isHeader = false
        }
        return output
    }

    /// Throws `columnMismatch` naming the first position where `found` and `expected` differ.
    static func checkColumns(found: [String], expected: [String], path: String) throws(ApplicationError) {
        for index in 0..<max(found.count, expected.count) {
            if index >= found.count {
                throw .columnMismatch(
                    path: path,
                    detail: "feature \(index + 1) \"\(expected[index])\" is missing (the file has \(found.count) "
                        + "feature columns, the model \(expected.count))")
            }
            if index >= expected.count {
                throw .columnMismatch(
                    path: path,
                    detail: "extra column \"\(found[index])\" after the model's \(expected.count) features")
            }
            if found[index] != expected[index] {
                throw .columnMismatch(
                    path: path,
                    detail: "feature \(index + 1) is \"\(found[index])\" in the file but \"\(expected[index])\" "
                        + "in the model")
            }
        }
    }
}

/// Rows ready for a model: features standardised like the training rows.
public struct ModelInput: Sendable {
    /// Features in the model's order, standardised; labels as written in the file (zeros without labels).
    public let dataset: Dataset
    public let hasLabels: Bool

    public var rowCount: Int { dataset.rowCount }

    /// Row `r` of the features.
    public func features(ofRow row: Int) -> [Double] {
        Array(dataset.features[(row * dataset.featureCount)..<((row + 1) * dataset.featureCount)])
    }
}

// MARK: - Raw outputs

extension LoadedModel {
    /// `body` of every block of `dataset` on `threads` threads, results in block order: the `given` blocks (the
    /// dataset's rows already cut with this model's block size and precision), or each block cut by the task that
    /// computes it, so a pass holds one block per thread rather than a second copy of the data.
    func mapBlocks<T: Sendable>(
        of dataset: Dataset, given: [Block]?, _ body: @Sendable (Block) throws(ModelError) -> T
    ) throws(ApplicationError) -> [T] {
        let plan: BlockPlan
        do { plan = try BlockPlan(rowCount: dataset.rowCount, blockRows: blockRows) } catch { throw .data(error) }
        if let given, given.count != plan.blockCount {
            throw .invalidArgument("\(given.count) blocks given for the \(plan.blockCount) blocks of \(dataset.sourcePath)")
        }
        let precision = self.precision
        return try ParallelBlocks.map(count: plan.blockCount, threads: threads) { (id) throws(ApplicationError) -> T in
            let block: Block
            if let given {
                block = given[id]
            } else {
                do throws(DataError) {
                    block = try dataset.makeBlock(id, of: plan, precision: precision)
                } catch {
                    throw .data(error)
                }
            }
            do throws(ModelError) { return try body(block) } catch { throw .model(error) }
        }
    }

    /// What the model computes per row, row-major, `rows × width`:
    ///
    ///     logistic, svm   the score s = x·w + b                     width 1
    ///     quantile        ŷ_q per level τ_q                         width Q
    ///     softmax         the logits s_k                            width K
    ///     triplet         the embedding e(x)                        width E
    ///     vae             recon_i and kl_i with the noise of `seed` (round 1, blocks of 128 rows)   width 2
    ///
    /// Blocks are computed on every core (`threads`), their outputs concatenated in block order. `blocks`, when
    /// given, must be the input's rows already cut with this model's `blockRows` and `precision` (the training
    /// run passes its own blocks instead of cutting a second copy).
    public func rawOutputs(_ input: ModelInput, seed: UInt64 = 0, blocks given: [Block]? = nil)
        throws(ApplicationError) -> (values: [Double], width: Int)
    {
        let parameters = file.parameters
        let model = self.model
        let kind = self.kind
        let perBlock = try mapBlocks(of: input.dataset, given: given) {
            (block) throws(ModelError) -> (values: [Double], width: Int) in
            switch model {
            case let logistic as LogisticRegression: return (try logistic.predict(block, parameters: parameters), 1)
            case let svm as LinearSVM: return (try svm.predict(block, parameters: parameters), 1)
            case let quantile as QuantileRegression:
                return (try quantile.predict(block, parameters: parameters), quantile.levelCount)
            case let softmax as SoftmaxRegression:
                return (try softmax.predict(block, parameters: parameters), softmax.classCount)
            case let triplet as TripletEmbedding:
                return (try triplet.embeddings(of: block, parameters: parameters), triplet.embeddingDimension)
            case let vae as VariationalAutoencoder:
                let parts = try vae.elboParts(block, parameters: parameters, context: RoundContext(seed: seed, round: 1))
                return (parts.flatMap { [$0.reconstruction, $0.kl] }, 2)
            default:
                throw ModelError.invalidSpec("no outputs are defined for \(kind.rawValue) models")
            }
        }
        var values: [Double] = []
        values.reserveCapacity(perBlock.reduce(0) { $0 + $1.values.count })
        for outputs in perBlock { values += outputs.values }
        return (values, perBlock.first?.width ?? 1)
    }

    /// Throws, naming the file line, for the first row whose outputs are not finite (e.g. features so large
    /// that the score overflows): such a row has no meaningful prediction or metric.
    func checkFinite(_ values: [Double], width: Int, input: ModelInput) throws(ApplicationError) {
        guard width > 0, let index = values.firstIndex(where: { !$0.isFinite }) else { return }
        let row = index / width
        throw .invalidArgument(
            "\(input.dataset.sourcePath):\(input.dataset.lineNumbers[row]): the model's output for this row is "
                + "\(values[index]) (are the features in the range the model was trained on?)")
    }

    /// Pairs for fitting a verification threshold: all of them, or a seeded sample of `maximumPairs` when
    /// there are more (memory grows with the square of the rows).
    func verificationPairs(_ embeddings: [[Double]], _ labels: [Int], seed: UInt64) throws(MetricsError)
        -> (pairs: [VerificationPair], sampled: Bool)
    {
        let pairCount = embeddings.count * (embeddings.count - 1) / 2
        guard pairCount > EmbeddingEvaluation.maximumPairs else {
            return (try VerificationPairs.all(embeddings: embeddings, labels: labels), false)
        }
        return (
            try VerificationPairs.sampled(
                embeddings: embeddings, labels: labels, count: EmbeddingEvaluation.maximumPairs, seed: seed), true
        )
    }

    /// The encoding predicted binary labels are written in: the file's `label_encoding`, else the model's own.
    public var outputLabelEncoding: BinaryLabelEncoding {
        if let stored = file.labelEncoding.flatMap(BinaryLabelEncoding.init(rawValue:)) { return stored }
        return kind == .logistic ? .zeroOne : .plusMinusOne
    }
}

/// `softmax(s)_k = exp(s_k − max s) / Σ_j exp(s_j − max s)` of one row of logits.
func softmaxProbabilities(_ logits: ArraySlice<Double>) -> [Double] {
    let largest = logits.max() ?? 0
    let exponentials = logits.map { Double.exp($0 - largest) }
    let total = exponentials.reduce(0, +)
    return exponentials.map { $0 / total }
}

/// The lowest index of the largest value (the tie rule of `SoftmaxRegression.correctPredictions`).
func argmax(_ values: ArraySlice<Double>) -> Int {
    var best = values.startIndex
    for index in values.indices where values[index] > values[best] { best = index }
    return best - values.startIndex
}

// MARK: - Predictions

/// Per-row predictions as a table of numbers.
///
///     logistic   score, probability = sigmoid(score), predicted_label (score > 0 → 1, else the negative label)
///     svm        score, predicted_label (score > 0 → 1, else −1 or 0 per label_encoding)
///     softmax    predicted_class = argmax (lowest index on ties), probability_0 … probability_{K−1}
///     quantile   q<τ> for every level, in the model's order
///     triplet    embedding_0 … embedding_{E−1}
///     vae        reconstruction, kl, negative_elbo = reconstruction + kl (one noise draw per row)
public struct PredictionTable: Sendable, Equatable {
    public let columns: [String]
    /// One entry per data row, `columns.count` values each.
    public let rows: [[Double]]

    /// CSV text: the header, then one line per row; numbers in Swift's shortest round-trip form.
    public func csv() -> String {
        var text = columns.joined(separator: ",") + "\n"
        for row in rows { text += row.map(Self.number).joined(separator: ",") + "\n" }
        return text
    }

    /// `{"model": kind, "columns": [...], "rows": [[...], ...]}` (numbers exact; a non-finite value, which
    /// JSON cannot hold, is `null`).
    public func json(model: ModelKind) -> String {
        let body = rows.map { row in
            "[" + row.map { $0.isFinite ? Self.number($0) : "null" }.joined(separator: ",") + "]"
        }.joined(separator: ",\n  ")
        let names = columns.map { "\"\($0)\"" }.joined(separator: ",")
        return "{\"model\":\"\(model.rawValue)\",\"columns\":[\(names)],\"rows\":[\n  \(body)\n]}\n"
    }

    /// Integral values without a fraction (`1`, `-1`), others in shortest round-trip form (`0.25`, `1e-05`).
    static func number(_ value: Double) -> String {
        if value.rounded() == value, abs(value) < 1e15 { return String(Int(value)) }
        return "\(value)"
    }
}

extension LoadedModel {
    public func predictions(_ input: ModelInput, seed: UInt64 = 0) throws(ApplicationError) -> PredictionTable {
        let (values, width) = try rawOutputs(input, seed: seed)
        try checkFinite(values, width: width, input: input)
        let rowCount = input.rowCount
        func row(_ r: Int) -> ArraySlice<Double> { values[(r * width)..<((r + 1) * width)] }
        switch kind {
        case .logistic, .svm:
            let negative = outputLabelEncoding.negativeLabel
            let rows = values.map { score in
                let label = score > 0 ? 1 : negative
                return kind == .logistic ? [score, StableMath.sigmoid(score), label] : [score, label]
            }
            let columns = kind == .logistic ? ["score", "probability", "predicted_label"] : ["score", "predicted_label"]
            return PredictionTable(columns: columns, rows: rows)
        case .softmax:
            let rows = (0..<rowCount).map { r in [Double(argmax(row(r)))] + softmaxProbabilities(row(r)) }
            return PredictionTable(
                columns: ["predicted_class"] + (0..<width).map { "probability_\($0)" }, rows: rows)
        case .quantile:
            let taus = file.spec.taus ?? []
            return PredictionTable(columns: taus.map { "q\($0)" }, rows: (0..<rowCount).map { Array(row($0)) })
        case .triplet:
            return PredictionTable(
                columns: (0..<width).map { "embedding_\($0)" }, rows: (0..<rowCount).map { Array(row($0)) })
        case .vae:
            let rows = (0..<rowCount).map { (r: Int) -> [Double] in
                let (reconstruction, kl) = (values[2 * r], values[2 * r + 1])
                return [reconstruction, kl, reconstruction + kl]
            }
            return PredictionTable(columns: ["reconstruction", "kl", "negative_elbo"], rows: rows)
        }
    }
}

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
    /// Binary models only; nil when the rows hold a single class (ROC and PR curves are then undefined).
    public var ranking: RankingReport?
    public var quantile: QuantileReport?
    public var embedding: EmbeddingEvaluation?
    public var vae: VAEEvaluation?

    /// One JSON object, keys in snake_case, sorted.
    public func jsonData() throws(ApplicationError) -> Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        do { return try encoder.encode(self) } catch { throw .invalidArgument("cannot encode the report: \(error)") }
    }

    /// The report as text, one section per metric family.
    public func renderText() -> String {
        var sections = ["model \(model), \(rows) rows, data loss \(PredictionTable.number(dataLoss))"]
        if let classification {
            sections.append(classification.renderTable())
            sections.append("confusion matrix (rows = true class, columns = predicted)\n"
                + classification.confusionMatrix.renderTable(classNames: classification.classNames))
        }
        if let ranking {
            sections.append("ranking (positive class = 1)\n" + ranking.renderTable())
        } else if classification?.classes.count == 2 {
            sections.append("ranking: ROC-AUC and PR-AUC are undefined, the rows hold one class only")
        }
        if let quantile { sections.append(quantile.renderTable()) }
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
                    + "\(fixed(vae.meanReconstruction)) + KL \(fixed(vae.meanKL))")
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
        let (values, width) = try rawOutputs(input, seed: seed, blocks: blocks)
        try checkFinite(values, width: width, input: input)
        let rowCount = input.rowCount
        let loss: Double
        if let knownDataLoss { loss = knownDataLoss } else { loss = try dataLoss(labelled, seed: seed, blocks: blocks) }
        var report = EvaluationReport(
            model: kind.rawValue, rows: rowCount, dataLoss: loss, classification: nil,
            ranking: nil, quantile: nil, embedding: nil, vae: nil)
        do {
            switch kind {
            case .logistic, .svm:
                let truth = labelled.labels.map { $0 == 1 ? 1 : 0 }
                let predicted = values.map { $0 > 0 ? 1 : 0 }
                let names = try BinaryLabelEncoding.detect(in: input.dataset) == .plusMinusOne ? ["-1", "1"] : ["0", "1"]
                report.classification = try ClassificationReport(
                    trueLabels: truth, predictedLabels: predicted, classCount: 2, classNames: names)
                if truth.contains(0), truth.contains(1) {
                    report.ranking = try Ranking.report(labels: truth.map { $0 == 1 }, scores: values)
                }
            case .softmax:
                let predicted = (0..<rowCount).map { argmax(values[($0 * width)..<(($0 + 1) * width)]) }
                report.classification = try ClassificationReport(
                    trueLabels: labelled.labels.map { Int($0) }, predictedLabels: predicted, classCount: width)
            case .quantile:
                report.quantile = try QuantileMetrics.report(
                    targets: labelled.labels,
                    predictions: (0..<rowCount).map { Array(values[($0 * width)..<(($0 + 1) * width)]) },
                    levels: file.spec.taus ?? [])
            case .triplet:
                let embeddings = (0..<rowCount).map { Array(values[($0 * width)..<(($0 + 1) * width)]) }
                let labels = labelled.labels.map { Int($0) }
                let recall = try EmbeddingMetrics.recallAtOne(embeddings: embeddings, labels: labels)
                let (pairs, sampled) = try verificationPairs(embeddings, labels, seed: seed)
                let threshold = try VerificationThreshold(fitting: pairs)
                report.embedding = EmbeddingEvaluation(
                    recallAtOne: recall.recallAtOne, hits: recall.hits, count: recall.count,
                    verification: try threshold.evaluate(pairs), pairsSampled: sampled)
            case .vae:
                var reconstruction = 0.0, kl = 0.0
                for r in 0..<rowCount {
                    reconstruction += values[2 * r]
                    kl += values[2 * r + 1]
                }
                let count = Double(rowCount)
                report.vae = VAEEvaluation(
                    meanNegativeELBO: (reconstruction + kl) / count, meanReconstruction: reconstruction / count,
                    meanKL: kl / count)
            }
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
                return try dataset.encodingBinaryLabels(as: wanted == .zeroOne ? .zeroOne : .plusMinusOne)
            } catch {
                throw .data(error)
            }
        case .classIndex:
            // The same check as for training: integers 0…K−1, K from the model's spec.
            do {
                _ = try dataset.classCount(declared: file.spec.classCount ?? 0)
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

// MARK: - Identification and generation

/// The answer for one query row of `identify`.
public struct QueryIdentification: Sendable, Equatable {
    /// 1-based line of the query CSV.
    public let line: Int
    public let result: Identification
}

extension LoadedModel {
    /// Embeds the gallery, fits the verification threshold on all gallery pairs unless `threshold` is given,
    /// and identifies every query row (nearest gallery identity, or unknown beyond the threshold).
    public func identify(gallery: ModelInput, queries: ModelInput, threshold: Double?) throws(ApplicationError)
        -> (threshold: Double, fittedAccuracy: Double?, answers: [QueryIdentification])
    {
        try require([.triplet], command: "identify")
        guard gallery.hasLabels else {
            throw .missingLabels(path: gallery.dataset.sourcePath, labelColumn: file.labelName)
        }
        for (row, label) in gallery.dataset.labels.enumerated() where label.rounded(.towardZero) != label || abs(label) > 1e15 {
            throw .invalidLabel(
                path: gallery.dataset.sourcePath, line: gallery.dataset.lineNumbers[row], value: label,
                requirement: "gallery identities must be integers")
        }
        let (galleryValues, width) = try rawOutputs(gallery)
        let galleryRows = (0..<gallery.rowCount).map { Array(galleryValues[($0 * width)..<(($0 + 1) * width)]) }
        let labels = gallery.dataset.labels.map { Int($0) }
        let (queryValues, _) = try rawOutputs(queries)
        if threshold == nil, galleryRows.count < 2 {
            throw .invalidArgument(
                "\(gallery.dataset.sourcePath): fitting a threshold needs at least 2 gallery rows; pass --threshold")
        }
        do throws(MetricsError) {
            var chosen = threshold
            var accuracy: Double?
            if chosen == nil {
                let fitted = try VerificationThreshold(fitting: try verificationPairs(galleryRows, labels, seed: 0).pairs)
                chosen = fitted.threshold
                accuracy = fitted.trainingAccuracy
            }
            let identifier = try Identifier(gallery: galleryRows, labels: labels, threshold: chosen ?? 0)
            var answers: [QueryIdentification] = []
            for row in 0..<queries.rowCount {
                let query = Array(queryValues[(row * width)..<((row + 1) * width)])
                answers.append(
                    QueryIdentification(line: queries.dataset.lineNumbers[row], result: try identifier.identify(query)))
            }
            return (identifier.threshold, accuracy, answers)
        } catch {
            throw .metrics(error)
        }
    }

    /// The side of the square picture a VAE row makes (8 for 64 features); throws when D is not a square.
    public func imageSide() throws(ApplicationError) -> Int {
        let features = file.spec.featureCount
        var side = 1
        while side * side < features { side += 1 }
        guard side * side == features else {
            throw .invalidArgument("the model has \(features) features, not a square number, so rows are not images")
        }
        return side
    }

    /// The stream of the latent draws of `sample`, distinct from the purposes the models train with.
    public static let samplingPurpose = CounterRandom.Purpose(16)

    /// `count` decoder outputs `sigmoid(decoder(z_i))` for `z_i[j] = CounterRandom(seed, round 0, block 0,
    /// row i, samplingPurpose).normal(j)`, i.e. z ~ N(0, I_L).
    public func samples(count: Int, seed: UInt64) throws(ApplicationError) -> [[Double]] {
        try require([.vae], command: "sample")
        guard let vae = model as? VariationalAutoencoder else {
            throw .unsupportedKind(command: "sample", kind: kind, supported: [.vae])
        }
        guard count >= 1, count <= 10_000 else { throw .invalidArgument("--count must be between 1 and 10000, got \(count)") }
        let latent = vae.latentDimension
        var z = [Double](repeating: 0, count: count * latent)
        for row in 0..<count {
            let random = CounterRandom(seed: seed, round: 0, block: 0, row: row, purpose: Self.samplingPurpose)
            for j in 0..<latent { z[row * latent + j] = random.normal(j) }
        }
        do {
            let decoded = try vae.decode(latent: z, rows: count, parameters: file.parameters)
            return Self.rows(decoded, width: vae.featureCount)
        } catch {
            throw .model(error)
        }
    }

    /// The reconstructions `decode(mean(x))` of the first `count` rows (all rows when fewer).
    public func reconstructions(_ input: ModelInput, count: Int) throws(ApplicationError) -> [[Double]] {
        try require([.vae], command: "reconstruct")
        guard let vae = model as? VariationalAutoencoder else {
            throw .unsupportedKind(command: "reconstruct", kind: kind, supported: [.vae])
        }
        guard count >= 1, count <= 10_000 else { throw .invalidArgument("--count must be between 1 and 10000, got \(count)") }
        guard input.dataset.featureCount == vae.featureCount else {
            throw .invalidArgument(
                "\(input.dataset.sourcePath): \(input.dataset.featureCount) features, the model has \(vae.featureCount)")
        }
        let rows = min(count, input.rowCount)
        let inputs = Array(input.dataset.features[0..<(rows * vae.featureCount)])
        do {
            let decoded = try vae.reconstruct(inputs: inputs, rows: rows, parameters: file.parameters)
            return Self.rows(decoded, width: vae.featureCount)
        } catch {
            throw .model(error)
        }
    }

    static func rows(_ values: [Double], width: Int) -> [[Double]] {
        stride(from: 0, to: values.count, by: width).map { Array(values[$0..<($0 + width)]) }
    }
}
