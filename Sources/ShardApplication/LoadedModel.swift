import Foundation
import ShardArtifacts
import ShardData
import ShardLosses
import ShardMetrics
import ShardModels
import ShardNumerics

/// A model file read back and rebuilt, ready to be applied to new rows.
public struct LoadedModel: Sendable {
    public let path: String
    /// Settable inside the module: a training run adds the decision threshold it chose.
    public internal(set) var file: ModelFile
    public let model: any Model

    /// Rows per block and storage precision when the model is applied. A saved model is applied with the
    /// training defaults (128 rows, float64); right after training, with the run's own settings, so the
    /// block ids — and the triplets and noise the triplet and VAE losses draw per block — match training.
    public var blockRows = 128
    public var precision: Precision = .float64
    /// Threads that compute outputs and metrics passes (0 = every available core; results do not depend on it).
    public var threads = 0
    /// `--threshold` of a binary model (see `appliedThreshold`; set with `setThreshold`).
    public internal(set) var givenThreshold: Double?

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

    /// The columns the model reads: its recorded schema, or (a file written before schemas) its features as
    /// numeric columns and a numeric label.
    public var inputSchema: TableSchema {
        file.schema ?? TableSchema(numericFeatures: file.featureNames, label: file.labelName)
    }

    /// The label's class names by label value, as the training file wrote them: the recorded classes, else (older
    /// files) 0/1 or −1/1 for binary models by their `label_encoding`; nil for numeric class indices.
    public var classNames: [String]? {
        if let classes = file.classes { return classes }
        guard case .binary = kind.labelKind else { return nil }
        return outputLabelEncoding == .plusMinusOne ? ["-1", "1"] : ["0", "1"]
    }

    /// Reads a CSV (in `dialect`, gzip decompressed) or, by its extension, a libsvm file for this model and
    /// applies the stored standardisation.
    ///
    /// CSV columns are found by name (`inputSchema`), in any order; columns the model does not use are left out
    /// (named in the input's notes). The label column is `labelColumn`, else the model's `label_column`; a file
    /// without it has no labels (allowed only when `labels` is `.optional`; its dataset then carries zeros as
    /// labels). `idColumn` (default: the model's id column, when the file has it) is passed through as written.
    /// A category the model did not see gives an all-zero row and a note, or an error with `strictCategories`. A libsvm
    /// file is read with the model's width and always has labels.
    public func readData(
        path: String, labelColumn: String? = nil, labels: LabelRequirement, dialect: CSVDialect = CSVDialect(),
        idColumn: String? = nil, strictCategories: Bool = false
    ) throws(ApplicationError) -> ModelInput {
        let bytes: [UInt8]
        do { bytes = try DataFile.bytes(path: path) } catch { throw .data(error) }
        var input: ModelInput
        if DataFormat.inferred(path: path) == .libsvm {
            let dataset: Dataset
            do { dataset = try LibSVMReader.parse(bytes: bytes, source: path, width: file.featureNames.count) } catch {
                throw .data(error)
            }
            try Self.checkColumns(found: dataset.featureNames, expected: file.featureNames, path: path)
            input = ModelInput(dataset: dataset, hasLabels: true)
        } else {
            input = try readCSV(
                bytes, path: path, labelColumn: labelColumn, labels: labels, dialect: dialect, idColumn: idColumn,
                strictCategories: strictCategories)
        }
        if let standardization = file.standardization {
            do { input.dataset = try standardization.apply(to: input.dataset) } catch { throw .data(error) }
        }
        return input
    }

    /// The CSV `bytes` read for this model by column name (see `readData`).
    private func readCSV(
        _ bytes: [UInt8], path: String, labelColumn: String?, labels: LabelRequirement, dialect: CSVDialect,
        idColumn: String?, strictCategories: Bool
    ) throws(ApplicationError) -> ModelInput {
        guard !DataFile.isNumpy(bytes) else {
            throw .invalidArgument(
                "\(path) is a NumPy .npy file: this command reads CSV files with a header row naming this model's "
                    + "features (\(file.featureNames.prefix(3).joined(separator: ", "))…)")
        }
        var header: [String], delimiter: UInt8
        var schema = inputSchema
        let features = file.featureNames
        var dialect = dialect
        do { (header, delimiter) = try CSVReader.columns(bytes: bytes, source: path, dialect: dialect) } catch {
            guard case .numericHeader = error else { throw .data(error) }
            throw .invalidArgument(
                "\(path):1: the first line is all numbers: this command needs a header line naming the model's columns ("
                    + features.prefix(3).joined(separator: ", ") + (features.count > 3 ? ", …)" : ")")
                    + ", or --no-header to take the columns by position as in training")
        }
        if !dialect.hasHeader {
            header = try positionalNames(columnCount: header.count, path: path)
            dialect.columnNames = header
        }
        let label = labelColumn ?? file.labelName
        if let labelColumn, !header.contains(labelColumn) {
            throw .missingLabels(path: path, labelColumn: labelColumn)
        }
        let featureColumns = Set(schema.columns.filter { $0.kind == .numeric || $0.kind == .categorical }.map(\.name))
        if let idColumn {
            guard header.contains(idColumn) else {
                throw .columnMismatch(path: path, detail: "no column named \"\(idColumn)\" for --id-column")
            }
            guard !featureColumns.contains(idColumn), idColumn != label else {
                throw .columnMismatch(path: path, detail: "--id-column \(idColumn) is a column the model reads")
            }
            schema.columns.removeAll { $0.kind == .id || $0.name == idColumn }
            schema.columns.append(TableSchema.Column(name: idColumn, kind: .id))
        }
        let verbatim = schema.idColumn.flatMap { header.contains($0) ? $0 : nil }
        let table: CSVTable
        let hasLabels: Bool
        do {
            if labels != .ignored, header.contains(label), !featureColumns.contains(label) {
                if let index = schema.columns.firstIndex(where: { $0.kind == .label }) { schema.columns[index].name = label }
                table = try CSVReader.parseTable(
                    bytes: bytes, source: path, labelColumn: label, dialect: dialect, verbatimColumn: verbatim)
                hasLabels = true
            } else {
                guard labels != .required else { throw ApplicationError.missingLabels(path: path, labelColumn: label) }
                var placeholder = "no_label"
                while header.contains(placeholder) { placeholder += "_" }
                table = try CSVReader.parseTable(
                    bytes: Self.appendingColumn(placeholder, to: bytes, delimiter: delimiter, hasHeader: dialect.hasHeader),
                    source: path, labelColumn: placeholder,
                    dialect: CSVDialect(
                        delimiter: delimiter, hasHeader: dialect.hasHeader, columnNames: dialect.columnNames.map { $0 + [placeholder] }),
                    verbatimColumn: verbatim)
                hasLabels = false
            }
        } catch let error as DataError {
            throw .data(error)
        } catch let error as ApplicationError {
            throw error
        } catch {
            throw .invalidArgument("\(error)")
        }
        let encoded: EncodedTable
        do { encoded = try schema.encode(table, applying: true, strictCategories: strictCategories) } catch {
            throw .data(error)
        }
        var notes = encoded.unseenCategoryNotes(path: path, what: "the model did not see in training").map {
            $0 + ": all-zero rows (--strict refuses them)"
        }
        let extra = encoded.extraColumns.filter { $0 != verbatim && !(hasLabels == false && $0 == label) }
        if !extra.isEmpty {
            notes.insert("\(path): columns the model does not use, ignored: " + extra.joined(separator: ", "), at: 0)
        }
        if let trained = schema.idColumn, verbatim == nil {
            notes.append("\(path): no column \"\(trained)\" (the model's id column): rows are named by their line number instead")
        }
        return ModelInput(
            dataset: encoded.dataset, hasLabels: hasLabels,
            ids: encoded.ids.flatMap { ids in verbatim.map { TextColumn(name: $0, values: ids) } }, notes: notes)
    }

    /// The names of the `found` columns of a file without a header, by position: the training file's columns
    /// (`inputSchema`, in its order), or all of them but a last label column when the file has one column fewer.
    private func positionalNames(columnCount found: Int, path: String) throws(ApplicationError) -> [String] {
        let trained = inputSchema.columns
        if found == trained.count { return trained.map(\.name) }
        if found == trained.count - 1, trained.last?.kind == .label { return trained.dropLast().map(\.name) }
        throw .columnMismatch(
            path: path,
            detail: "without a header the columns are taken by position, as in training: \(trained.count) columns ("
                + trained.prefix(4).map(\.name).joined(separator: ", ") + (trained.count > 4 ? ", …" : "")
                + (trained.last?.kind == .label ? "; the last, the label, may be left out" : "") + "), the file has \(found)")
    }

    /// The file with one more column: `name` in the header and `0` on every non-empty line, after `delimiter`
    /// (empty lines stay empty, so the reader still reports them as such with their line numbers). Without a header
    /// every line is data.
    static func appendingColumn(
        _ name: String, to bytes: [UInt8], delimiter: UInt8 = UInt8(ascii: ","), hasHeader: Bool = true
    ) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count + bytes.count / 8)
        var isHeader = hasHeader
        var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        let endsWithBreak = bytes.last == UInt8(ascii: "\n")
        if endsWithBreak { lines.removeLast() }
        for (index, line) in lines.enumerated() {
            var content = Array(line)
            let carriageReturn = content.last == UInt8(ascii: "\r")
            if carriageReturn { content.removeLast() }
            if !content.isEmpty { content += [delimiter] + Array((isHeader ? name : "0").utf8) }
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
    /// Features in the model's order, standardised; labels as written in the file (class indices for string
    /// classes; zeros without labels).
    public var dataset: Dataset
    public let hasLabels: Bool
    /// The id column's cells as written, one per row (passed through to predictions).
    public var ids: TextColumn?
    /// What the user should know about the reading: columns left out, unseen categories.
    public var notes: [String]

    public init(dataset: Dataset, hasLabels: Bool, ids: TextColumn? = nil, notes: [String] = []) {
        self.dataset = dataset
        self.hasLabels = hasLabels
        self.ids = ids
        self.notes = notes
    }

    public var rowCount: Int { dataset.rowCount }

    /// Row `r` of the features.
    public func features(ofRow row: Int) -> [Double] {
        Array(dataset.features[(row * dataset.featureCount)..<((row + 1) * dataset.featureCount)])
    }
}


/// A column of text, one value per row (an id column passed through to predictions).
public struct TextColumn: Sendable, Equatable {
    public var name: String
    public var values: [String]

    public init(name: String, values: [String]) {
        self.name = name
        self.values = values
    }
}
