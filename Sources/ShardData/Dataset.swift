import ShardNumerics

/// A table of training rows: features stored row-major as `Double`, one label per row.
///
/// ```text
/// features[r * featureCount + j]   feature j of row r      (rowCount × featureCount, in chunks of whole rows)
/// labels[r]                        label of row r          (rowCount)
/// lineNumbers[r]                   1-based file line of row r (header = line 1)
/// ```
///
/// Every value is finite and `rowCount ≥ 1` (the initialiser and the CSV reader enforce it), with one exception:
/// a dataset encoded by a `TableSchema` under `--missing mean|median` (or `drop`) holds NaN for a missing numeric
/// cell (or label) until `TableSchema.fillingMissing` fills it (or `droppingRows` leaves its row out), which training
/// preparation does right after selecting the training rows.
/// `lineNumbers` and the column numbers travel with the rows through selection, so an error found
/// later (a bad label, a value too large for float32) still names the right place in the file.
public struct Dataset: Sendable, Equatable {
    /// Where the rows came from (a path, or any name for datasets built in code); used in messages.
    public let sourcePath: String
    public let featureNames: [String]
    public let labelName: String
    public let rowCount: Int
    public let featureCount: Int
    /// Row-major, `rowCount × featureCount`, in chunks of whole rows (rewritten in place by transformations inside
    /// the module; see `FeatureRows`).
    public internal(set) var features: FeatureRows
    public let labels: [Double]
    /// The 1-based file line of each row.
    public let lineNumbers: LineNumbers
    /// The 1-based CSV column of each feature.
    public let featureColumnNumbers: [Int]
    /// The 1-based CSV column of the label.
    public let labelColumnNumber: Int

    /// Builds a dataset after checking shapes and finiteness.
    ///
    /// Defaults for data built in code: row r is on line r + 2 (after a header), features are columns
    /// 1...featureCount and the label is column featureCount + 1.
    public init(
        sourcePath: String, featureNames: [String], labelName: String, features: [Double], labels: [Double],
        lineNumbers: [Int]? = nil, featureColumnNumbers: [Int]? = nil, labelColumnNumber: Int? = nil
    ) throws(DataError) {
        let rowCount = labels.count
        let featureCount = featureNames.count
        func shapeError(_ detail: String) -> DataError { .invalidShape(source: sourcePath, detail: detail) }
        guard rowCount >= 1 else { throw .noDataRows(path: sourcePath) }
        guard featureCount >= 1 else { throw .noFeatureColumns(path: sourcePath, labelName: labelName) }
        guard features.count == rowCount * featureCount else {
            throw shapeError(
                "\(features.count) feature values for \(rowCount) rows × \(featureCount) features "
                    + "(expected \(rowCount * featureCount))")
        }
        let lines = lineNumbers.map(LineNumbers.init) ?? LineNumbers(first: 2, count: rowCount)
        guard lines.count == rowCount else {
            throw shapeError("\(lines.count) line numbers for \(rowCount) rows")
        }
        let featureColumns = featureColumnNumbers ?? Array(1...featureCount)
        guard featureColumns.count == featureCount else {
            throw shapeError("\(featureColumns.count) feature column numbers for \(featureCount) features")
        }
        let labelColumn = labelColumnNumber ?? featureCount + 1
        for row in 0..<rowCount {
            for feature in 0..<featureCount where !features[row * featureCount + feature].isFinite {
                throw .nonFiniteValue(
                    path: sourcePath, line: lines[row], column: featureColumns[feature],
                    columnName: featureNames[feature], text: "\(features[row * featureCount + feature])")
            }
            if !labels[row].isFinite {
                throw .nonFiniteValue(
                    path: sourcePath, line: lines[row], column: labelColumn, columnName: labelName,
                    text: "\(labels[row])")
            }
        }
        self.init(
            unchecked: sourcePath, featureNames: featureNames, labelName: labelName,
            features: FeatureRows(values: features, columns: featureCount), labels: labels, lineNumbers: lines,
            featureColumnNumbers: featureColumns, labelColumnNumber: labelColumn)
    }

    /// For callers inside the module that have already established the invariants.
    init(
        unchecked sourcePath: String, featureNames: [String], labelName: String, features: FeatureRows,
        labels: [Double], lineNumbers: LineNumbers, featureColumnNumbers: [Int], labelColumnNumber: Int
    ) {
        self.sourcePath = sourcePath
        self.featureNames = featureNames
        self.labelName = labelName
        self.rowCount = labels.count
        self.featureCount = featureNames.count
        self.features = features
        self.labels = labels
        self.lineNumbers = lineNumbers
        self.featureColumnNumbers = featureColumnNumbers
        self.labelColumnNumber = labelColumnNumber
    }

    /// The same rows with new labels (same shape; used by transformations inside the module).
    func replacing(labels newLabels: [Double]) -> Dataset {
        Dataset(
            unchecked: sourcePath, featureNames: featureNames, labelName: labelName,
            features: features, labels: newLabels, lineNumbers: lineNumbers,
            featureColumnNumbers: featureColumnNumbers, labelColumnNumber: labelColumnNumber)
    }

    /// The rows at `indices` (0-based data-row numbers), in the order given (chunked as this dataset is), their
    /// values in `arena` when given (see `FeatureRows`).
    ///
    /// Throws if the selection is empty, an index is outside `0..<rowCount`, or an index repeats.
    public func selectingRows(_ indices: [Int], in arena: SharedArena? = nil) throws(DataError) -> Dataset {
        guard !indices.isEmpty else { throw .emptyRowSelection(source: sourcePath) }
        var firstPosition = [Int](repeating: -1, count: rowCount)
        for (position, index) in indices.enumerated() {
            guard index >= 0, index < rowCount else {
                throw .rowIndexOutOfRange(source: sourcePath, index: index, position: position, rowCount: rowCount)
            }
            guard firstPosition[index] < 0 else {
                throw .duplicateRowIndex(
                    source: sourcePath, index: index, firstPosition: firstPosition[index], position: position)
            }
            firstPosition[index] = position
        }
        var selectedFeatures = FeatureRowsBuilder(columns: featureCount, chunkRows: features.chunkRows, arena: arena)
        let chunkValues = features.chunkRows * featureCount
        for index in indices {
            let start = index * featureCount % chunkValues
            features.chunks[index * featureCount / chunkValues].withValues(at: start..<start + featureCount) {
                selectedFeatures.append($0)
            }
        }
        return Dataset(
            unchecked: sourcePath, featureNames: featureNames, labelName: labelName,
            features: selectedFeatures.finish(),
            labels: indices.map { labels[$0] }, lineNumbers: LineNumbers(indices.map { lineNumbers[$0] }),
            featureColumnNumbers: featureColumnNumbers, labelColumnNumber: labelColumnNumber)
    }
}
