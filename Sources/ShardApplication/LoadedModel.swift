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

    /// Reads a CSV (in `dialect`, gzip decompressed) or, by its extension, a libsvm file for this model and
    /// applies the stored standardisation.
    ///
    /// The columns other than the label must be the model's `feature_names`, by name and in order. The label
    /// column is `labelColumn`, else the model's `label_column`; a file with exactly the feature columns has
    /// no labels (allowed only when `labels` is `.optional`; its dataset then carries zeros as labels). A libsvm file
    /// is read with the model's width and always has labels.
    public func readData(
        path: String, labelColumn: String? = nil, labels: LabelRequirement, dialect: CSVDialect = CSVDialect()
    ) throws(ApplicationError) -> ModelInput {
        let bytes: [UInt8]
        do { bytes = try DataFile.bytes(path: path) } catch { throw .data(error) }
        var dataset: Dataset
        let hasLabels: Bool
        if DataFormat.inferred(path: path) == .libsvm {
            do { dataset = try LibSVMReader.parse(bytes: bytes, source: path, width: file.featureNames.count) } catch {
                throw .data(error)
            }
            try Self.checkColumns(found: dataset.featureNames, expected: file.featureNames, path: path)
            hasLabels = true
        } else {
            (dataset, hasLabels) = try readCSV(bytes, path: path, labelColumn: labelColumn, labels: labels, dialect: dialect)
        }
        if let standardization = file.standardization {
            do { dataset = try standardization.apply(to: dataset) } catch { throw .data(error) }
        }
        return ModelInput(dataset: dataset, hasLabels: hasLabels)
    }

    /// The CSV `bytes` read for this model, and whether they hold labels (see `readData`).
    private func readCSV(
        _ bytes: [UInt8], path: String, labelColumn: String?, labels: LabelRequirement, dialect: CSVDialect
    ) throws(ApplicationError) -> (Dataset, Bool) {
        guard !DataFile.isNumpy(bytes) else {
            throw .invalidArgument(
                "\(path) is a NumPy .npy file: this command reads CSV files with a header row (a model trained on "
                    + ".npy names its features \(file.featureNames.prefix(3).joined(separator: ", "))…)")
        }
        let header: [String], delimiter: UInt8
        let features = file.featureNames
        do { (header, delimiter) = try CSVReader.columns(bytes: bytes, source: path, dialect: dialect) } catch {
            guard case .numericHeader = error else { throw .data(error) }
            throw .invalidArgument(
                "\(path):1: the first line is all numbers: this command needs a header line naming the model's columns ("
                    + features.prefix(3).joined(separator: ", ") + (features.count > 3 ? ", …)" : ")"))
        }
        let label = labelColumn ?? file.labelName
        if let labelColumn, !header.contains(labelColumn) {
            throw .missingLabels(path: path, labelColumn: labelColumn)
        }
        var dataset: Dataset
        let hasLabels: Bool
        if header.contains(label), !features.contains(label) {
            do { dataset = try CSVReader.parse(bytes: bytes, source: path, labelColumn: label, dialect: dialect) } catch { throw .data(error) }
            try Self.checkColumns(found: dataset.featureNames, expected: features, path: path)
            hasLabels = true
        } else {
            try Self.checkColumns(found: header, expected: features, path: path)
            guard labels == .optional else { throw .missingLabels(path: path, labelColumn: label) }
            var placeholder = "no_label"
            while header.contains(placeholder) { placeholder += "_" }
            do {
                dataset = try CSVReader.parse(
                    bytes: Self.appendingColumn(placeholder, to: bytes, delimiter: delimiter), source: path, labelColumn: placeholder,
                    dialect: CSVDialect(delimiter: delimiter))
            } catch {
                throw .data(error)
            }
            hasLabels = false
        }
        return (dataset, hasLabels)
    }

    /// The file with one more column: `name` in the header and `0` on every non-empty line, after `delimiter`
    /// (empty lines stay empty, so the reader still reports them as such with their line numbers).
    static func appendingColumn(_ name: String, to bytes: [UInt8], delimiter: UInt8 = UInt8(ascii: ",")) -> [UInt8] {
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
    /// Features in the model's order, standardised; labels as written in the file (zeros without labels).
    public let dataset: Dataset
    public let hasLabels: Bool

    public var rowCount: Int { dataset.rowCount }

    /// Row `r` of the features.
    public func features(ofRow row: Int) -> [Double] {
        Array(dataset.features[(row * dataset.featureCount)..<((row + 1) * dataset.featureCount)])
    }
}

