import Foundation
import ShardMetrics
import ShardNumerics
import Testing

/// The ShardMetrics suite. Golden values were computed once with scikit-learn 1.9.1 / numpy 2.4.6
/// (the producing function is named beside each constant); small cases are also checked by hand.
/// The tests are split over several files as extensions of this suite.
@Suite struct ShardMetricsTests {}

/// |a − b| ≤ 1e-12 · max(1, |b|): the metrics are short sums of ratios, so Double agrees with
/// numpy to a few ulps.
func close(_ actual: Double, _ expected: Double, tolerance: Double = 1e-12) -> Bool {
    abs(actual - expected) <= tolerance * max(1, abs(expected))
}

func close(_ actual: [Double], _ expected: [Double], tolerance: Double = 1e-12) -> Bool {
    actual.count == expected.count && zip(actual, expected).allSatisfy { close($0, $1, tolerance: tolerance) }
}

/// Property-test draws from the shared SplitMix64 stream, so every run checks the same inputs.
extension SplitMix64 {
    /// Standard normal by Box–Muller.
    mutating func normal() -> Double {
        let u1 = max(nextUnit(), 0x1p-60), u2 = nextUnit()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}

/// Runs `body` and returns the `MetricsError` it threw, or nil when it returned normally.
/// (Untyped closure: the `#expect` macro does not propagate typed-throws inference.)
func metricsError<T>(_ body: () throws -> T) -> MetricsError? {
    do {
        _ = try body()
        return nil
    } catch let error as MetricsError {
        return error
    } catch {
        Issue.record("unexpected error type: \(error)")
        return nil
    }
}
