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
        Self.concatenated(try blockOutputs(input, seed: seed, blocks: given))
    }

    /// Blocks' outputs joined in block order.
    static func concatenated(_ perBlock: [(values: [Double], width: Int)]) -> (values: [Double], width: Int) {
        var values: [Double] = []
        values.reserveCapacity(perBlock.reduce(0) { $0 + $1.values.count })
        for outputs in perBlock { values += outputs.values }
        return (values, perBlock.first?.width ?? 1)
    }

    /// `rawOutputs` block by block, in block order.
    func blockOutputs(_ input: ModelInput, seed: UInt64, blocks given: [Block]?) throws(ApplicationError)
        -> [(values: [Double], width: Int)]
    {
        let parameters = file.parameters
        let model = self.model
        let description = kind.modelDescription
        return try mapBlocks(of: input.dataset, given: given) {
            (block) throws(ModelError) -> (values: [Double], width: Int) in
            try description.outputs(of: model, block: block, parameters: parameters, seed: seed)
        }
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

/// One cell of a prediction row: a number, or text (e.g. a label written by name).
public enum PredictionCell: Sendable, Equatable {
    case number(Double)
    case text(String)
}

/// Per-row predictions: named columns and the cells of each row, computed when the row is written (so a million
/// rows are never held as a table of cells or as one string).
///
///     line       the row's 1-based line in the input file (the header is line 1), to join predictions back
///     logistic   score, probability = sigmoid(score), predicted_label (1 when probability ≥ the threshold, else the
///                negative label of the file: 0 or −1)
///     svm        score, predicted_label (1 when score ≥ the threshold, else 0 or −1 per label_encoding)
///     softmax    predicted_class = argmax (lowest index on ties), probability_0 … probability_{K−1}
///     quantile   q<τ> for every level, in the model's order
///     linear     prediction
///     triplet    embedding_0 … embedding_{E−1}
///     vae        reconstruction, kl, negative_elbo = reconstruction + kl (one noise draw per row)
public struct PredictionTable: Sendable {
    public let columns: [String]
    public let rowCount: Int
    private let cells: @Sendable (Int) -> [PredictionCell]

    public init(columns: [String], rowCount: Int, cells: @escaping @Sendable (_ row: Int) -> [PredictionCell]) {
        self.columns = columns
        self.rowCount = rowCount
        self.cells = cells
    }

    /// Numeric columns computed from each row of `outputs`.
    init(columns: [String], outputs: RowOutputs, numbers: @escaping @Sendable (ArraySlice<Double>) -> [Double]) {
        self.init(columns: columns, rowCount: outputs.rowCount) { row in numbers(outputs.row(row)).map(PredictionCell.number) }
    }

    /// The cells of row `row`, one per column.
    public func row(_ row: Int) -> [PredictionCell] { cells(row) }

    /// This table with `name` as its first column.
    func prepending(_ name: String, _ cell: @escaping @Sendable (_ row: Int) -> PredictionCell) -> PredictionTable {
        let cells = self.cells
        return PredictionTable(columns: [name] + columns, rowCount: rowCount) { row in [cell(row)] + cells(row) }
    }

    /// This table with the predicted label or class written by name: `names[k]` for class k (binary models:
    /// `names[0]` for the negative label, 0 or −1, and `names[1]` for 1).
    func namingClasses(_ names: [String]) -> PredictionTable {
        guard let column = columns.firstIndex(where: { $0 == "predicted_label" || $0 == "predicted_class" }) else {
            return self
        }
        let binary = columns[column] == "predicted_label"
        let cells = self.cells
        return PredictionTable(columns: columns, rowCount: rowCount) { row in
            var values = cells(row)
            guard case .number(let value) = values[column] else { return values }
            let index = binary ? (value == 1 ? 1 : 0) : Int(exactly: value)
            if let index, names.indices.contains(index) { values[column] = .text(names[index]) }
            return values
        }
    }

    /// Integral values without a fraction (`1`, `-1`), others in shortest round-trip form (`0.25`, `1e-05`).
    static func number(_ value: Double) -> String {
        if value.rounded() == value, abs(value) < 1e15 { return String(Int(value)) }
        return "\(value)"
    }
}

/// How `predict` writes its table.
///
///     csv     a header line, then one line per row (RFC 4180 quotes around text that holds a comma, quote or break)
///     jsonl   JSON lines: one object per row, keys in column order ({"line":2,"score":…,"predicted_label":1})
///     json    one document {"model": kind, "columns": […], "rows": [[…], …]} (what the deprecated --json wrote)
///
/// Numbers are in Swift's shortest round-trip form (integral values without a fraction), so a reader gets the
/// same bits back; a non-finite value, which JSON cannot hold, is spelled as in every document (`JSONStyle`).
public enum PredictionFormat: String, CaseIterable, Sendable {
    case csv
    case jsonl
    case json

    /// jsonl for a `.jsonl` or `.ndjson` name, json for `.json`, else csv (also for standard output, `path` nil).
    public static func inferred(fromPath path: String?) -> PredictionFormat {
        guard let path else { return .csv }
        let lowered = path.lowercased()
        if lowered.hasSuffix(".jsonl") || lowered.hasSuffix(".ndjson") { return .jsonl }
        return lowered.hasSuffix(".json") ? .json : .csv
    }
}

extension PredictionTable {
    /// Streams the table in `format` to `sink` in pieces of about `pieceBytes` bytes (the last one shorter),
    /// rows in order; `model` names the kind in the `json` document.
    public func write<Failure: Error>(
        _ format: PredictionFormat, model: ModelKind, pieceBytes: Int = 1 << 20,
        to sink: ([UInt8]) throws(Failure) -> Void
    ) throws(Failure) {
        var piece: [UInt8] = []
        piece.reserveCapacity(pieceBytes + 4096)
        func append(_ text: String) throws(Failure) {
            piece.append(contentsOf: text.utf8)
            if piece.count >= pieceBytes {
                try sink(piece)
                piece.removeAll(keepingCapacity: true)
            }
        }
        let jsonNames = columns.map(JSONText.string)
        switch format {
        case .csv:
            try append(columns.map(Self.csvText).joined(separator: ",") + "\n")
            for row in 0..<rowCount { try append(self.row(row).map(Self.csvCell).joined(separator: ",") + "\n") }
        case .jsonl:
            for row in 0..<rowCount {
                let cells = self.row(row)
                try append("{" + columns.indices.map { jsonNames[$0] + ":" + Self.jsonCell(cells[$0]) }.joined(separator: ",") + "}\n")
            }
        case .json:
            try append("{\"model\":\"\(model.rawValue)\",\"columns\":[\(jsonNames.joined(separator: ","))],\"rows\":[\n")
            for row in 0..<rowCount {
                try append(
                    "  [" + self.row(row).map(Self.jsonCell).joined(separator: ",") + "]" + (row + 1 < rowCount ? ",\n" : "\n"))
            }
            try append("]}\n")
        }
        if !piece.isEmpty { try sink(piece) }
    }

    /// The whole table as text in `format` (for small tables and tests; `write` streams).
    public func text(_ format: PredictionFormat, model: ModelKind) -> String {
        var bytes: [UInt8] = []
        write(format, model: model) { (piece: [UInt8]) in bytes += piece }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func csvCell(_ cell: PredictionCell) -> String {
        switch cell {
        case .number(let value): number(value)
        case .text(let text): csvText(text)
        }
    }

    /// `text` as a CSV field: as it is, or in double quotes (inner quotes doubled) when it holds a comma, a quote
    /// or a line break, or starts or ends with a space.
    public static func csvText(_ text: String) -> String {
        let needsQuotes = text.unicodeScalars.contains { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }
            || text.first == " " || text.last == " "
        return needsQuotes ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
    }

    static func jsonCell(_ cell: PredictionCell) -> String {
        switch cell {
        case .number(let value): value.isFinite ? number(value) : JSONStyle.number(value)
        case .text(let text): JSONText.string(text)
        }
    }
}

extension LoadedModel {
    /// Values per row in `rawOutputs`: 1 (logistic, svm, linear), Q (quantile), K (softmax), E (triplet), 2 (vae).
    var outputWidth: Int {
        switch file.spec.configuration {
        case .logistic, .svm, .linear: 1
        case .quantile(let taus): taus.count
        case .softmax(let classCount, _): classCount
        case .triplet(let settings): settings.embeddingDimension
        case .vae: 2
        }
    }

    /// The `predict` table of a file with a header and no data rows: the columns only (an empty batch in a pipeline
    /// gets an empty result, not an error). `idColumn` is written first when given.
    public func emptyPredictions(idColumn: String?) -> PredictionTable {
        var table = kind.modelDescription.predictions(RowOutputs(values: [], width: outputWidth), model: self)
            .prepending("line") { _ in .number(0) }
        if let idColumn { table = table.prepending(idColumn) { _ in .text("") } }
        return table
    }

    /// The `predict` table of every row (see `PredictionTable`): the file line of each row, then the model's columns.
    public func predictions(_ input: ModelInput, seed: UInt64 = 0) throws(ApplicationError) -> PredictionTable {
        let (values, width) = try rawOutputs(input, seed: seed)
        try checkFinite(values, width: width, input: input)
        let lines = input.dataset.lineNumbers
        var table = kind.modelDescription.predictions(RowOutputs(values: values, width: width), model: self)
        if let classes = file.schema?.classes { table = table.namingClasses(classes) }
        table = table.prepending("line") { row in .number(Double(lines[row])) }
        if let ids = input.ids { table = table.prepending(ids.name) { row in .text(ids.values[row]) } }
        return table
    }
}
