import Foundation
import ShardMetrics
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

/// A deterministic generator (SplitMix64) for property tests, so every run checks the same inputs.
struct TestGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 random bits.
    mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Standard normal by Box–Muller.
    mutating func normal() -> Double {
        let u1 = max(unit(), 0x1p-60), u2 = unit()
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
