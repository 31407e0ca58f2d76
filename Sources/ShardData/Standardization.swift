/// Per-feature z-scoring fitted on training rows.
///
/// ```text
/// fit, over the n rows of the dataset it is given (select the training rows first):
///   mean_j = (1/n) Σ_r x_rj
///   var_j  = (1/n) [ Σ_r (x_rj − mean_j)² − (1/n) (Σ_r (x_rj − mean_j))² ]   population variance,
///                                                                           corrected two-pass form
///   std_j  = sqrt(var_j)
/// apply:
///   z_rj = (x_rj − mean_j) / divisor_j,   divisor_j = std_j, or 1 when std_j == 0
/// ```
///
/// Both passes use compensated (Neumaier) summation. The second term of the variance cancels the
/// rounding error left in the mean (Chan, Golub & LeVeque, "Algorithms for computing the sample
/// variance", 1983). A column whose largest magnitude exceeds 2^500 is first multiplied by the power of two
/// 2^−e that brings it near 1 (exact), so its sums and squares cannot overflow; mean and std are scaled back
/// by 2^e (exact). Other columns are not scaled, so their bits do not change. Labels are never scaled.
public struct Standardization: Sendable, Equatable, Codable {
    public let means: [Double]
    /// The raw population standard deviations (zeros included).
    public let standardDeviations: [Double]

    /// Checks that the vectors have equal length, are finite, and that every std is ≥ 0.
    public init(means: [Double], standardDeviations: [Double]) throws(DataError) {
        guard means.count == standardDeviations.count else {
            throw .invalidStandardization(
                detail: "\(means.count) means but \(standardDeviations.count) standard deviations")
        }
        if let feature = means.firstIndex(where: { !$0.isFinite }) {
            throw .invalidStandardization(detail: "mean of feature \(feature + 1) is \(means[feature])")
        }
        if let feature = standardDeviations.firstIndex(where: { !$0.isFinite || $0 < 0 }) {
            throw .invalidStandardization(
                detail: "standard deviation of feature \(feature + 1) is \(standardDeviations[feature])")
        }
        self.means = means
        self.standardDeviations = standardDeviations
    }

    private enum CodingKeys: String, CodingKey {
        case means, standardDeviations
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(
            means: container.decode([Double].self, forKey: .means),
            standardDeviations: container.decode([Double].self, forKey: .standardDeviations))
    }

    public var featureCount: Int { means.count }

    /// What each feature is divided by: its std, or 1 for a constant feature.
    public var divisors: [Double] { standardDeviations.map { $0 == 0 ? 1 : $0 } }

    /// The indices (0-based) of features whose std is 0.
    public var zeroStandardDeviationFeatures: [Int] {
        standardDeviations.indices.filter { standardDeviations[$0] == 0 }
    }

    /// Fits means and population standard deviations on every row of `dataset`. Throws, naming the column,
    /// when a column's mean or variance is not finite in float64 even after scaling.
    public static func fit(to dataset: Dataset) throws(DataError) -> Standardization {
        let rows = dataset.rowCount, columns = dataset.featureCount
        let count = Double(rows)
        // The sums and the largest magnitudes in one pass at scale 1 (exact); only when a column reaches 2^500
        // (rare) are the sums taken again with its scale 2^−e.
        func sumColumns(scales: [Double]) -> (sums: [CompensatedSum], largest: [Double]) {
            var sums = [CompensatedSum](repeating: CompensatedSum(), count: columns)
            var largest = [Double](repeating: 0, count: columns)
            dataset.features.forEachChunk { values, _ in
                for row in 0..<values.count / columns {
                    for feature in 0..<columns {
                        let value = values[row * columns + feature]
                        sums[feature].add(value * scales[feature])
                        largest[feature] = max(largest[feature], abs(value))
                    }
                }
            }
            return (sums, largest)
        }
        var (sums, largest) = sumColumns(scales: [Double](repeating: 1, count: columns))
        let scales = largest.map { $0 > 0x1p500 ? Double(sign: .plus, exponent: -$0.exponent, significand: 1) : 1 }
        if scales.contains(where: { $0 != 1 }) { sums = sumColumns(scales: scales).sums }
        let scaledMeans = sums.map { $0.value / count }
        var deviationSums = [CompensatedSum](repeating: CompensatedSum(), count: columns)
        var squareSums = [CompensatedSum](repeating: CompensatedSum(), count: columns)
        dataset.features.forEachChunk { values, _ in
            for row in 0..<values.count / columns {
                for feature in 0..<columns {
                    let deviation = values[row * columns + feature] * scales[feature] - scaledMeans[feature]
                    deviationSums[feature].add(deviation)
                    squareSums[feature].add(deviation * deviation)
                }
            }
        }
        var deviations: [Double] = []
        var means: [Double] = []
        for feature in 0..<columns {
            let shift = deviationSums[feature].value
            let variance = (squareSums[feature].value - shift * shift / count) / count
            let mean = scaledMeans[feature] / scales[feature]
            let deviation = (variance > 0 ? variance.squareRoot() : 0) / scales[feature]
            guard mean.isFinite, variance.isFinite, deviation.isFinite else {
                throw .invalidStandardization(
                    detail: "\(dataset.sourcePath): column \(dataset.featureColumnNumbers[feature]) "
                        + "(\"\(dataset.featureNames[feature])\") is too large to standardise "
                        + "(mean \(mean), standard deviation \(deviation))")
            }
            means.append(mean)
            deviations.append(deviation)
        }
        return Standardization(checkedMeans: means, standardDeviations: deviations)
    }

    private init(checkedMeans: [Double], standardDeviations: [Double]) {
        self.means = checkedMeans
        self.standardDeviations = standardDeviations
    }

    /// `dataset` with every feature z-scored; labels, names and line numbers unchanged. The values are rewritten
    /// in place when the caller hands over the only reference (`apply(to: consume dataset)`).
    public func apply(to dataset: consuming Dataset) throws(DataError) -> Dataset {
        guard dataset.featureCount == featureCount else {
            throw .standardizationMismatch(
                source: dataset.sourcePath, expectedFeatures: featureCount, foundFeatures: dataset.featureCount)
        }
        // z = (x·s − mean·s) / (divisor·s) with an exact power of two s near 1/max(|mean|, divisor) for a column
        // beyond 2^500 and s = 1 otherwise (the plain formula's bits): x − mean cannot overflow near the limit.
        let scales = zip(means, divisors).map { mean, divisor in
            max(abs(mean), divisor) > 0x1p500 ? Double(sign: .plus, exponent: -max(abs(mean), divisor).exponent, significand: 1) : 1
        }
        let shifts = zip(means, scales).map { $0 * $1 }
        let scaledDivisors = zip(divisors, scales).map { $0 * $1 }
        var scaled = consume dataset
        let columns = featureCount
        shifts.withUnsafeBufferPointer { shifts in
            scaledDivisors.withUnsafeBufferPointer { divisors in
                scales.withUnsafeBufferPointer { scales in
                    scaled.features.updateChunks { values, _ in
                        for row in 0..<values.count / columns {
                            for feature in 0..<columns {
                                let index = row * columns + feature
                                values[index] = (values[index] * scales[feature] - shifts[feature]) / divisors[feature]
                            }
                        }
                    }
                }
            }
        }
        return scaled
    }
}

/// Neumaier's compensated sum: the running sum plus the rounding error lost by each addition.
struct CompensatedSum {
    private var sum = 0.0
    private var compensation = 0.0

    mutating func add(_ term: Double) {
        let next = sum + term
        if abs(sum) >= abs(term) {
            compensation += (sum - next) + term
        } else {
            compensation += (term - next) + sum
        }
        sum = next
    }

    var value: Double { sum + compensation }
}
