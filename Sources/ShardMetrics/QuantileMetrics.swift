/// Metrics for quantile regression: predictions ŷ_{i,j} of the τ_j-quantile of y_i for several levels.
///
/// ```
/// pinball loss   L_τ = (1/n) Σ_i ρ_τ(y_i − ŷ_i),   ρ_τ(u) = max(τ·u, (τ − 1)·u)
///                (= sklearn.metrics.mean_pinball_loss(y, ŷ, alpha=τ))
/// coverage       C_τ = (1/n) #{i : y_i ≤ ŷ_i}       (a calibrated τ-quantile has C_τ ≈ τ)
/// crossing rate  X   = (1/n) #{i : ŷ_{i,j+1} < ŷ_{i,j} for some j}, levels sorted ascending
///                (the fraction of rows whose predicted quantiles are not non-decreasing in τ)
/// ```
public enum QuantileMetrics {
    /// Mean pinball loss of the `level`-quantile predictions. `level` must lie strictly inside (0, 1).
    public static func pinballLoss(targets: [Double], predictions: [Double], level: Double) throws(MetricsError)
        -> Double
    {
        try validatePairs(targets, predictions)
        try validateLevel(level, "level")
        var sum = 0.0
        for (target, prediction) in zip(targets, predictions) {
            let residual = target - prediction
            sum += residual >= 0 ? level * residual : (level - 1) * residual
        }
        guard sum.isFinite else { throw .overflow(metric: "pinball loss") }
        return sum / Double(targets.count)
    }

    /// Fraction of targets at or below their prediction, `(1/n) #{i : y_i ≤ ŷ_i}`.
    public static func coverage(targets: [Double], predictions: [Double]) throws(MetricsError) -> Double {
        try validatePairs(targets, predictions)
        let covered = zip(targets, predictions).reduce(0) { $0 + ($1.0 <= $1.1 ? 1 : 0) }
        return Double(covered) / Double(targets.count)
    }

    /// The full report for predictions at several levels.
    ///
    /// `predictions[i][j]` predicts the `levels[j]`-quantile of `targets[i]`. Levels may be given in any
    /// order; they are sorted ascending (carrying their prediction columns along) before the crossing
    /// check, and the report lists them ascending. Levels must be distinct and inside (0, 1).
    public static func report(targets: [Double], predictions: [[Double]], levels: [Double]) throws(MetricsError)
        -> QuantileReport
    {
        try Validate.nonEmpty(levels.count, "levels")
        for (index, level) in levels.enumerated() { try validateLevel(level, "levels[\(index)]") }
        try Validate.nonEmpty(targets.count, "targets")
        try Validate.finite(targets, "targets")
        try Validate.sameLength(predictions.count, as: targets.count, "predictions")
        for (row, values) in predictions.enumerated() {
            if values.count != levels.count {
                throw .dimensionMismatch(argument: "predictions", row: row, expected: levels.count, actual: values.count)
            }
            try Validate.finite(values, "predictions[\(row)]")
        }
        let order = levels.indices.sorted { levels[$0] < levels[$1] }
        for (previous, next) in zip(order, order.dropFirst()) where levels[previous] == levels[next] {
            throw .invalidArgument(argument: "levels", reason: "level \(levels[next]) appears twice")
        }
        var entries: [QuantileLevelMetrics] = []
        for column in order {
            let columnPredictions = predictions.map { $0[column] }
            entries.append(QuantileLevelMetrics(
                level: levels[column],
                pinballLoss: try pinballLoss(targets: targets, predictions: columnPredictions, level: levels[column]),
                coverage: try coverage(targets: targets, predictions: columnPredictions)))
        }
        var crossingRows = 0
        for row in predictions {
            if zip(order, order.dropFirst()).contains(where: { row[$1] < row[$0] }) { crossingRows += 1 }
        }
        return QuantileReport(levels: entries, crossingRate: Double(crossingRows) / Double(targets.count),
                              crossingRows: crossingRows, rowCount: targets.count)
    }

    static func validatePairs(_ targets: [Double], _ predictions: [Double]) throws(MetricsError) {
        try Validate.nonEmpty(targets.count, "targets")
        try Validate.sameLength(predictions.count, as: targets.count, "predictions")
        try Validate.finite(targets, "targets")
        try Validate.finite(predictions, "predictions")
    }

    static func validateLevel(_ level: Double, _ argument: String) throws(MetricsError) {
        guard level > 0, level < 1 else {
            throw .invalidArgument(argument: argument, reason: "quantile level \(level) is not inside (0, 1)")
        }
    }
}

/// Pinball loss and coverage at one quantile level.
public struct QuantileLevelMetrics: Sendable, Equatable, Codable {
    /// τ.
    public let level: Double
    /// Mean ρ_τ(y − ŷ_τ).
    public let pinballLoss: Double
    /// Fraction of rows with y ≤ ŷ_τ; compare with τ.
    public let coverage: Double
}

/// The quantile-regression report: per-level metrics (levels ascending) and the crossing rate.
public struct QuantileReport: Sendable, Equatable, Codable {
    public let levels: [QuantileLevelMetrics]
    /// `crossingRows / rowCount`.
    public let crossingRate: Double
    /// Rows whose predictions decrease somewhere as τ increases.
    public let crossingRows: Int
    public let rowCount: Int

    /// Aligned text: one line per level with τ, pinball loss, coverage and coverage − τ, then the
    /// crossing rate.
    public func renderTable(digits: Int = 4) -> String {
        var table = TextTable(header: ["tau", "pinball", "coverage", "coverage-tau"])
        for entry in levels {
            table.append([fixedPoint(entry.level, digits: digits), fixedPoint(entry.pinballLoss, digits: digits),
                          fixedPoint(entry.coverage, digits: digits),
                          fixedPoint(entry.coverage - entry.level, digits: digits)])
        }
        return table.render() + "\n\ncrossing rate " + fixedPoint(crossingRate, digits: digits)
            + " (\(crossingRows) of \(rowCount) rows)"
    }
}
