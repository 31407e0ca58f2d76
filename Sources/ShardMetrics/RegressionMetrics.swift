/// Point-regression metrics.
///
/// ```
/// MSE = (1/n) Σ_i (y_i − ŷ_i)²      RMSE = √MSE
/// MAE = (1/n) Σ_i |y_i − ŷ_i|
/// R²  = 1 − SS_res / SS_tot,   SS_res = Σ_i (y_i − ŷ_i)²,   SS_tot = Σ_i (y_i − ȳ)²
/// ```
/// R² with SS_tot = 0 (constant targets) is 0/0-like; as in sklearn's `r2_score(force_finite=True)` it is
/// reported as 1 when the predictions are exact (SS_res = 0) and 0 otherwise, with `rSquaredIsUndefined` set.
public struct RegressionReport: Sendable, Equatable, Codable {
    public let meanSquaredError: Double
    public let rootMeanSquaredError: Double
    public let meanAbsoluteError: Double
    public let rSquared: Double
    public let rSquaredIsUndefined: Bool
    public let count: Int

    /// Computes all three metrics; throws for empty, mismatched or non-finite input, or sums that overflow.
    public init(targets: [Double], predictions: [Double]) throws(MetricsError) {
        try QuantileMetrics.validatePairs(targets, predictions)
        let n = Double(targets.count)
        var squared = 0.0, absolute = 0.0, targetSum = 0.0
        for (target, prediction) in zip(targets, predictions) {
            let residual = target - prediction
            squared += residual * residual
            absolute += abs(residual)
            targetSum += target
        }
        let mean = targetSum / n
        var total = 0.0
        for target in targets { total += (target - mean) * (target - mean) }
        guard squared.isFinite, absolute.isFinite, total.isFinite, mean.isFinite else {
            throw .overflow(metric: "regression sums")
        }
        meanSquaredError = squared / n
        rootMeanSquaredError = meanSquaredError.squareRoot()
        meanAbsoluteError = absolute / n
        if total > 0 {
            rSquared = 1 - squared / total
            rSquaredIsUndefined = false
        } else {
            rSquared = squared == 0 ? 1 : 0
            rSquaredIsUndefined = true
        }
        count = targets.count
    }

    /// One aligned `name  value` line per metric.
    public func renderTable(digits: Int = 4) -> String {
        var table = TextTable(header: ["metric", "value"])
        table.append(["MSE", fixedPoint(meanSquaredError, digits: digits) + " "])
        table.append(["RMSE", fixedPoint(rootMeanSquaredError, digits: digits) + " "])
        table.append(["MAE", fixedPoint(meanAbsoluteError, digits: digits) + " "])
        table.append(["R2", fixedPoint(rSquared, digits: digits) + (rSquaredIsUndefined ? "*" : " ")])
        table.append(["n", String(count) + " "])
        let footnote = rSquaredIsUndefined ? "\n\n* constant targets (SS_tot = 0): R2 set to \(Int(rSquared))" : ""
        return table.render() + footnote
    }
}
