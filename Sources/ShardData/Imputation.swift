extension TableSchema {
    /// The schema with the fill value of every numeric feature fitted on `training` (the training rows, after the
    /// held-out split; NaN marks a missing cell): with `--missing mean` the mean of the column's present values
    /// (compensated sum in row order, divided by their count), with `median` the middle value of the sorted present
    /// values (an even count: the mean of the two middle ones). Other policies: the schema unchanged.
    public func fittingFills(to training: Dataset) throws(DataError) -> TableSchema {
        guard missing.imputes else { return self }
        var fitted = self
        var feature = 0
        for index in fitted.columns.indices where fitted.columns[index].isFeature {
            let column = fitted.columns[index]
            defer { feature += column.featureNames.count }
            guard column.kind == .numeric else { continue }
            var present: [Double] = []
            present.reserveCapacity(training.rowCount)
            for row in 0..<training.rowCount {
                let value = training.features[row * training.featureCount + feature]
                if !value.isNaN { present.append(value) }
            }
            guard !present.isEmpty else {
                throw .schema(
                    path: training.sourcePath, line: nil, column: training.featureColumnNumbers[feature],
                    columnName: column.name,
                    detail: "every training row misses this value, so it has no \(missing.rawValue) to fill it with")
            }
            fitted.columns[index].fill = missing == .mean ? Self.mean(present) : Self.median(present)
        }
        return fitted
    }

    /// `dataset` (this schema's features) with each NaN replaced by its column's fill value.
    public func fillingMissing(in dataset: consuming Dataset) -> Dataset {
        guard missing.imputes else { return dataset }
        let fills = columns.filter(\.isFeature).flatMap { column in
            column.kind == .numeric ? [column.fill ?? .nan] : [Double](repeating: 0, count: column.featureNames.count)
        }
        let width = dataset.featureCount
        dataset.features.updateChunks { chunk, _ in
            for index in chunk.indices where chunk[index].isNaN { chunk[index] = fills[index % width] }
        }
        return dataset
    }

    static func mean(_ values: [Double]) -> Double {
        var sum = CompensatedSum()
        for value in values { sum.add(value) }
        return sum.value / Double(values.count)
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        let middle = sorted.count / 2
        guard sorted.count % 2 == 0 else { return sorted[middle] }
        let (lower, upper) = (sorted[middle - 1], sorted[middle])
        let mean = (lower + upper) / 2
        return mean.isFinite ? mean : lower / 2 + upper / 2
    }
}
