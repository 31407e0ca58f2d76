import Foundation
import ShardArtifacts
import ShardData
import ShardLosses
import ShardMetrics
import ShardModels
import ShardNumerics

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
    ///     linear          the prediction ŷ = x·w + b                width 1
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
        let description = kind.modelDescription
        let perBlock = try mapBlocks(of: input.dataset, given: given) {
            (block) throws(ModelError) -> (values: [Double], width: Int) in
            try description.outputs(of: model, block: block, parameters: parameters, seed: seed)
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

/// The lowest index of the largest value: the predicted class of a row of logits (ties go to the lower class).
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
///     linear     prediction
///     triplet    embedding_0 … embedding_{E−1}
///     vae        reconstruction, kl, negative_elbo = reconstruction + kl (one noise draw per row)
public struct PredictionTable: Sendable, Equatable {
    public let columns: [String]
    /// One entry per data row, `columns.count` values each.
    public let rows: [[Double]]
    /// The id column, written first as it is in the input.
    public var ids: TextColumn?
    /// String labels: the class names by label value, written in place of the predicted label or class.
    public var classNames: [String]?

    /// The column written as a class name when `classNames` is given.
    private var namedColumn: Int? {
        classNames == nil ? nil : columns.firstIndex { $0 == "predicted_label" || $0 == "predicted_class" }
    }

    /// Row `row` as fields: the id, then the numbers (a predicted class by name), each rendered by `text`/`number`.
    private func fields(ofRow row: Int, text: (String) -> String, number: (Double) -> String) -> [String] {
        let named = namedColumn
        var fields = rows[row].enumerated().map { column, value in
            if column == named, let classNames, let index = Int(exactly: value), classNames.indices.contains(index) {
                return text(classNames[index])
            }
            return number(value)
        }
        if let ids { fields.insert(text(ids.values[row]), at: 0) }
        return fields
    }

    private var header: [String] { (ids.map { [$0.name] } ?? []) + columns }

    /// CSV text: the header, then one line per row; numbers in Swift's shortest round-trip form, text in RFC 4180
    /// quotes when it holds a comma, a quote or a line break.
    public func csv() -> String {
        var text = header.map(Self.csvField).joined(separator: ",") + "\n"
        for row in rows.indices {
            text += fields(ofRow: row, text: Self.csvField, number: Self.number).joined(separator: ",") + "\n"
        }
        return text
    }

    /// `{"model": kind, "columns": [...], "rows": [[...], ...]}` (numbers exact; a non-finite value, which
    /// JSON cannot hold, is spelled as in every document, `JSONStyle`; ids and class names as JSON strings).
    public func json(model: ModelKind) -> String {
        let body = rows.indices.map { row in
            "[" + fields(ofRow: row, text: Self.jsonString) { $0.isFinite ? Self.number($0) : JSONStyle.number($0) }
                .joined(separator: ",") + "]"
        }.joined(separator: ",\n  ")
        let names = header.map(Self.jsonString).joined(separator: ",")
        return "{\"model\":\"\(model.rawValue)\",\"columns\":[\(names)],\"rows\":[\n  \(body)\n]}\n"
    }

    static func csvField(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacing("\"", with: "\"\"") + "\""
    }

    static func jsonString(_ text: String) -> String {
        // A string always encodes.
        String(decoding: try! JSONEncoder().encode(text), as: UTF8.self)
    }

    /// Integral values without a fraction (`1`, `-1`), others in shortest round-trip form (`0.25`, `1e-05`).
    static func number(_ value: Double) -> String {
        if value.rounded() == value, abs(value) < 1e15 { return String(Int(value)) }
        return "\(value)"
    }
}

extension LoadedModel {
    /// The `predict` table of every row (see `PredictionTable`).
    public func predictions(_ input: ModelInput, seed: UInt64 = 0) throws(ApplicationError) -> PredictionTable {
        let (values, width) = try rawOutputs(input, seed: seed)
        try checkFinite(values, width: width, input: input)
        var table = kind.modelDescription.predictions(RowOutputs(values: values, width: width), model: self)
        table.ids = input.ids
        table.classNames = file.schema?.classes
        return table
    }
}
