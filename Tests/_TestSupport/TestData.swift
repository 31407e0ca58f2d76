import ShardNumerics

/// Test data drawn from `SplitMix64`, the one seeded generator of the tests: a fixed seed gives the same
/// inputs on every run and machine.
extension SplitMix64 {
    /// One value uniform in `range` (`Double.random(in:using:)` on this generator).
    public mutating func uniform(_ range: ClosedRange<Double>) -> Double { Double.random(in: range, using: &self) }

    /// `count` values uniform in `range`.
    public mutating func uniforms(_ count: Int, _ range: ClosedRange<Double>) -> [Double] {
        (0..<count).map { _ in uniform(range) }
    }

    /// `count` labels in {0, 1}, each 1 with probability 1/2 (the lowest bit of one draw).
    public mutating func binaryLabels(_ count: Int) -> [Double] {
        (0..<count).map { _ in Double(next() & 1) }
    }

    /// `rows` random rows of `columns` features uniform in `features` and labels in {0, 1}, cut into
    /// consecutive blocks of `blockRows` rows (the last one shorter), with ids 0, 1, …
    public mutating func blocks(
        rows: Int, columns: Int, blockRows: Int, features: ClosedRange<Double>, precision: Precision = .float64
    ) throws -> [Block] {
        var blocks: [Block] = []
        var start = 0
        while start < rows {
            let count = min(blockRows, rows - start)
            let values = uniforms(count * columns, features)
            let labels = binaryLabels(count)
            blocks.append(try Block(features: values, labels: labels, columns: columns, id: blocks.count, precision: precision))
            start += count
        }
        return blocks
    }
}

extension Block {
    /// A block of `labels.count` rows with the row-major `features` (`columns` per row), stored in
    /// `precision`: float32 storage rounds every feature and label to the nearest `Float`.
    public init(features: [Double], labels: [Double], columns: Int, id: Int = 0, precision: Precision = .float64)
        throws(BlockShapeError)
    {
        let storage: BlockStorage =
            switch precision {
            case .float64: .float64(features: features, labels: labels)
            case .float32: .float32(features: features.map(Float.init), labels: labels.map(Float.init))
            }
        try self.init(id: id, rows: labels.count, columns: columns, storage: storage)
    }
}
