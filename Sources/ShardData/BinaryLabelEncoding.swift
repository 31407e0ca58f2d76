import ShardNumerics

extension BinaryLabelEncoding {
    /// The encoding of `dataset`'s labels: `nil` when every label is 1 (valid in both encodings).
    ///
    /// Throws on the first row (in dataset order) whose label is not -1, 0 or 1, or whose label
    /// contradicts the encoding fixed by an earlier row (a 0 after a -1 or a -1 after a 0).
    public static func detect(in dataset: Dataset) throws(DataError) -> BinaryLabelEncoding? {
        // One counting pass (8 lanes, no branches) decides valid label sets; only a bad one walks the rows for
        // the message.
        let (zeros, minusOnes, ones) = countBinaryLabels(dataset.labels)
        if zeros + minusOnes + ones == dataset.labels.count, zeros == 0 || minusOnes == 0 {
            return zeros > 0 ? .zeroOne : minusOnes > 0 ? .plusMinusOne : nil
        }
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

/// How many of `labels` are 0, −1 and 1.
func countBinaryLabels(_ labels: [Double]) -> (zeros: Int, minusOnes: Int, ones: Int) {
    labels.withUnsafeBufferPointer { labels in
        typealias Lanes = SIMD8<Double>
        let (zero, minusOne, one) = (Lanes(repeating: 0), Lanes(repeating: -1), Lanes(repeating: 1))
        var (zeros, minusOnes, ones) = (SIMD8<Int64>(), SIMD8<Int64>(), SIMD8<Int64>())
        let vectorEnd = labels.count / 8 * 8
        if let base = labels.baseAddress {
            let raw = UnsafeRawPointer(base)
            for start in stride(from: 0, to: vectorEnd, by: 8) {
                let values = raw.loadUnaligned(fromByteOffset: start * 8, as: Lanes.self)
                zeros &+= SIMD8<Int64>().replacing(with: 1, where: values .== zero)
                minusOnes &+= SIMD8<Int64>().replacing(with: 1, where: values .== minusOne)
                ones &+= SIMD8<Int64>().replacing(with: 1, where: values .== one)
            }
        }
        var counts = (Int(zeros.wrappedSum()), Int(minusOnes.wrappedSum()), Int(ones.wrappedSum()))
        for label in labels[vectorEnd...] {
            if label == 0 { counts.0 += 1 } else if label == -1 { counts.1 += 1 } else if label == 1 { counts.2 += 1 }
        }
        return counts
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
