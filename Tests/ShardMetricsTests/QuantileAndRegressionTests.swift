import Foundation
import ShardMetrics
import ShardNumerics
import Testing

extension ShardMetricsTests {
    static let quantileTargets = [1.5, -0.3, 2.2, 0.7, 3.1, -1.2, 0.0, 1.1, 2.8, -0.6, 1.9, 0.4]
    /// Columns predict the levels [0.9, 0.1, 0.5] (deliberately unsorted); rows 3 and 7 cross.
    static let quantileLevels = [0.9, 0.1, 0.5]
    static let quantilePredictions: [[Double]] = [
        [2.0, 1.0, 1.4], [0.5, -0.9, -0.2], [2.5, 1.2, 2.0], [1.0, 0.9, 0.8], [3.0, 2.0, 2.6], [-0.5, -1.5, -1.0],
        [0.6, -0.7, 0.1], [1.2, 1.3, 1.25], [3.5, 2.1, 2.9], [0.1, -1.0, -0.5], [2.4, 1.0, 1.5], [0.9, -0.1, 0.4],
    ]

    @Test func quantileReportMatchesSklearn() throws {
        let report = try QuantileMetrics.report(targets: Self.quantileTargets, predictions: Self.quantilePredictions,
                                                levels: Self.quantileLevels)
        #expect(report.levels.map(\.level) == [0.1, 0.5, 0.9])
        // sklearn.metrics.mean_pinball_loss(y, q[:, j], alpha=τ) for τ = 0.1, 0.5, 0.9
        #expect(close(report.levels.map(\.pinballLoss), [0.08583333333333333, 0.08541666666666668, 0.05499999999999999]))
        // numpy.mean(y <= q[:, j])
        #expect(close(report.levels.map(\.coverage), [0.16666666666666666, 0.6666666666666666, 0.9166666666666666]))
        // numpy.mean(numpy.any(numpy.diff(q[:, numpy.argsort(levels)], axis=1) < 0, axis=1)): rows 3 and 7
        #expect(report.crossingRows == 2 && report.crossingRate == 2.0 / 12.0)
        #expect(report.rowCount == 12)
        let single = try QuantileMetrics.pinballLoss(targets: Self.quantileTargets,
                                                     predictions: Self.quantilePredictions.map { $0[0] }, level: 0.9)
        #expect(close(single, 0.05499999999999999))
        let text = report.renderTable()
        let expected = """
           tau  pinball  coverage  coverage-tau
        0.1000   0.0858    0.1667        0.0667
        0.5000   0.0854    0.6667        0.1667
        0.9000   0.0550    0.9167        0.0167

        crossing rate 0.1667 (2 of 12 rows)
        """
        #expect(text == expected, "\n\(text)")
        // Negative differences keep their sign. By hand: residuals 1, 2, 0 → pinball 0.6·(1 + 2)/3 = 0.6;
        // only y = 3 ≤ 3 is covered → 1/3, and 1/3 − 0.6 = −0.27.
        let under = try QuantileMetrics.report(targets: [1, 2, 3], predictions: [[0], [0], [3]], levels: [0.6])
        #expect(under.renderTable(digits: 2).contains("0.60     0.60      0.33         -0.27"), "\n\(under.renderTable(digits: 2))")
    }

    /// By hand: y = [0, 1, 2, 3], ŷ = 1.5 at τ = 0.25.
    /// Residuals −1.5, −0.5, 0.5, 1.5 → ρ = 0.75·1.5, 0.75·0.5, 0.25·0.5, 0.25·1.5
    /// = 1.125 + 0.375 + 0.125 + 0.375 = 2 → mean = 2/4 = 0.5.
    /// Coverage: y ≤ 1.5 for 0 and 1 → 0.5.
    @Test func handCheckedPinballAndCoverage() throws {
        #expect(try QuantileMetrics.pinballLoss(targets: [0, 1, 2, 3], predictions: [1.5, 1.5, 1.5, 1.5], level: 0.25) == 0.5)
        #expect(try QuantileMetrics.coverage(targets: [0, 1, 2, 3], predictions: [1.5, 1.5, 1.5, 1.5]) == 0.5)
        // Equality counts as covered.
        #expect(try QuantileMetrics.coverage(targets: [1, 2], predictions: [1, 1]) == 0.5)
        // Equal predictions across levels are non-decreasing: no crossing.
        let flat = try QuantileMetrics.report(targets: [0], predictions: [[1, 1, 1]], levels: [0.2, 0.5, 0.8])
        #expect(flat.crossingRows == 0)
    }

    /// A large sample from known distributions: predicting the true τ-quantile covers ≈ τ of it
    /// (binomial standard error √(τ(1−τ)/n) ≤ 0.0035 at n = 20 000; we allow 4 of them), and the
    /// true quantile has lower pinball loss than shifted predictions.
    @Test(arguments: [0.05, 0.25, 0.5, 0.75, 0.95])
    func coverageOfTrueQuantileIsLevel(level: Double) throws {
        var generator = SplitMix64(seed: 42)
        let count = 20_000
        let uniform = (0..<count).map { _ in generator.nextUnit() }
        let exponential = (0..<count).map { _ in -log(1 - generator.nextUnit()) }
        let tolerance = 4 * (level * (1 - level) / Double(count)).squareRoot()
        let uniformCoverage = try QuantileMetrics.coverage(targets: uniform, predictions: Array(repeating: level, count: count))
        #expect(abs(uniformCoverage - level) <= tolerance)
        let exponentialQuantile = -log(1 - level)
        let exponentialCoverage = try QuantileMetrics.coverage(
            targets: exponential, predictions: Array(repeating: exponentialQuantile, count: count))
        #expect(abs(exponentialCoverage - level) <= tolerance)
        let atQuantile = try QuantileMetrics.pinballLoss(
            targets: exponential, predictions: Array(repeating: exponentialQuantile, count: count), level: level)
        for shift in [-0.3, 0.3] {
            let shifted = try QuantileMetrics.pinballLoss(
                targets: exponential, predictions: Array(repeating: exponentialQuantile + shift, count: count), level: level)
            #expect(shifted > atQuantile)
        }
    }

    @Test func quantileMetricsRejectInvalidInput() {
        #expect(metricsError { try QuantileMetrics.pinballLoss(targets: [1], predictions: [1], level: 1) }
            == .invalidArgument(argument: "level", reason: "quantile level 1.0 is not inside (0, 1)"))
        #expect(metricsError { try QuantileMetrics.coverage(targets: [], predictions: []) } == .emptyInput(argument: "targets"))
        #expect(metricsError { try QuantileMetrics.coverage(targets: [1, 2], predictions: [1]) }
            == .lengthMismatch(argument: "predictions", expected: 2, actual: 1))
        #expect(metricsError { try QuantileMetrics.coverage(targets: [1], predictions: [.nan]) }
            == .nonFiniteValue(argument: "predictions", index: 0))
        #expect(metricsError { try QuantileMetrics.report(targets: [1], predictions: [[1, 2]], levels: [0.5, 0.5]) }
            == .invalidArgument(argument: "levels", reason: "level 0.5 appears twice"))
        #expect(metricsError { try QuantileMetrics.report(targets: [1, 2], predictions: [[1, 2], [1]], levels: [0.2, 0.5]) }
            == .dimensionMismatch(argument: "predictions", row: 1, expected: 2, actual: 1))
        #expect(metricsError { try QuantileMetrics.report(targets: [1], predictions: [[1]], levels: [.nan]) }
            == .invalidArgument(argument: "levels[0]", reason: "quantile level nan is not inside (0, 1)"))
        #expect(metricsError { try QuantileMetrics.report(targets: [1], predictions: [[.infinity]], levels: [0.5]) }
            == .nonFiniteValue(argument: "predictions[0]", index: 0))
    }

    @Test func regressionMatchesSklearn() throws {
        let predictions = Self.quantilePredictions.map { $0[2] }
        let report = try RegressionReport(targets: Self.quantileTargets, predictions: predictions)
        // sklearn.metrics.mean_squared_error, mean_absolute_error, r2_score on (y, q[:, 2])
        #expect(close(report.meanSquaredError, 0.04770833333333333))
        #expect(close(report.meanAbsoluteError, 0.17083333333333336))
        #expect(close(report.rSquared, 0.9723251691911053))
        #expect(!report.rSquaredIsUndefined)
        #expect(report.count == 12)
    }

    /// By hand: y = [1, 2, 3], ŷ = [1, 2, 5]: MSE = 4/3, MAE = 2/3, SS_tot = 2, R² = 1 − 4/2 = −1.
    /// Constant targets follow sklearn's r2_score(force_finite=True): 1 if exact, else 0, flagged.
    @Test func handCheckedRegression() throws {
        let report = try RegressionReport(targets: [1, 2, 3], predictions: [1, 2, 5])
        #expect(close(report.meanSquaredError, 4.0 / 3.0) && close(report.meanAbsoluteError, 2.0 / 3.0))
        #expect(report.rSquared == -1)
        let exact = try RegressionReport(targets: [2, 2, 2], predictions: [2, 2, 2])
        #expect(exact.rSquared == 1 && exact.rSquaredIsUndefined)
        let inexact = try RegressionReport(targets: [2, 2, 2], predictions: [2, 2, 3])
        #expect(inexact.rSquared == 0 && inexact.rSquaredIsUndefined)
        #expect(inexact.renderTable().hasSuffix("* constant targets (SS_tot = 0): R2 set to 0"))
        #expect(metricsError { try RegressionReport(targets: [1, .infinity], predictions: [1, 2]) }
            == .nonFiniteValue(argument: "targets", index: 1))
        #expect(metricsError { try RegressionReport(targets: [1e300, -1e300], predictions: [-1e300, 1e300]) }
            == .overflow(metric: "regression sums"))
        #expect(metricsError { try QuantileMetrics.pinballLoss(targets: [1.7e308], predictions: [-1.7e308], level: 0.5) }
            == .overflow(metric: "pinball loss"))
    }
}
