import ShardNumerics

extension BinaryLabelEncoding {
    /// The encoding of `dataset`'s labels: `nil` when every label is 1 (valid in both encodings).
    ///
    /// Throws on the first row (in dataset order) whose label is not -1, 0 or 1, or whose label
    /// contradicts the encoding fixed by an earlier row (a 0 after a -1 or a -1 after a 0).
    public static func detect(in dataset: Dataset) throws(DataError) -> BinaryLabelEncoding? {
        var witness: (row: Int, encoding: BinaryLabelEncoding)?
        for (row, label) in dataset.labels.enumerated() {
            let encoding: BinaryLabelEncoding
            switch label {
            case 1: continue
            case 0: encoding = .zeroOne
            case -1: encoding = .plusMinusOne
            default:
                throw .invalidBinaryLabel(
                    path: dataset.sourcePath, line: dataset.lineNumbers[row], column: dataset.labelColumnNumber,
                    columnName: dataset.labelName, value: label)
            }
            if let witness, witness.encoding != encoding {
                throw .mixedBinaryLabels(
                    path: dataset.sourcePath, line: dataset.lineNumbers[row], column: dataset.labelColumnNumber,
                    columnName: dataset.labelName, value: label, earlierLine: dataset.lineNumbers[witness.row],
                    earlierValue: dataset.labels[witness.row])
            }
            if witness == nil { witness = (row, encoding) }
        }
        return witness?.encoding
    }
}

extension Dataset {
    /// The dataset with binary labels written in `encoding`, after validating them (see
    /// `BinaryLabelEncoding.detect(in:)`).
    public func encodingBinaryLabels(as encoding: BinaryLabelEncoding) throws(DataError) -> Dataset {
        guard let current = try BinaryLabelEncoding.detect(in: self), current != encoding else { return self }
        return replacing(labels: labels.map { $0 == 1 ? 1 : encoding.negativeLabel })
    }
}

extension Dataset {
    /// The dataset with binary class indices swapped, y' = 1 − y (string labels whose positive class sorts first).
    public func swappingBinaryLabels() -> Dataset { replacing(labels: labels.map { 1 - $0 }) }
}
