import Foundation

/// The learning rate η_t of a stochastic optimizer as a pure function of the update index t.
///
/// t = 0, 1, 2, … counts the updates already applied: the first update uses η_0. Every schedule
/// except the warm-up is non-increasing, so its peak is its initial rate.
///
/// ```text
/// constant(rate: η)                                    η_t = η
/// stepDecay(initialRate: η₀, factor: γ, interval: k)   η_t = η₀ · γ^⌊t / k⌋          0 < γ ≤ 1, k ≥ 1
/// exponential(initialRate: η₀, factor: γ)              η_t = η₀ · γ^t                 0 < γ ≤ 1
/// cosine(initialRate: η₀, finalRate: η_min, steps: T)  c_t = (1 + cos(π · min(t, T) / T)) / 2
///                                                      η_t = η₀ · c_t + η_min · (1 − c_t)
///                                                      0 ≤ η_min ≤ η₀, T ≥ 1; η_t = η_min for t ≥ T
/// linearWarmUp(steps: w, base: B)                      η_t = B.η_0 · ((t + 1) / w)   for t < w
///                                                      η_t = B.η_{t − w}             for t ≥ w
///                                                      w ≥ 1, B any schedule except a warm-up
/// ```
///
/// The cosine form is the convex combination of the end rates (Loshchilov & Hutter, "SGDR", ICLR
/// 2017, eq. 5, without restarts), so η_0 = η₀ and η_T = η_min exactly in floating point. The
/// warm-up ramps linearly to the base schedule's initial rate, reached exactly at t = w − 1 (the
/// fraction is formed first, so it is exactly 1 there), and then runs
/// the base schedule from its own step 0 (the base clock starts after the warm-up). Powers use
/// `pow` on the integer exponent. Negative steps are treated as step 0. `rate(at:)` never traps; on
/// a schedule that fails `validate()` its value is unspecified, which is why every optimizer
/// validates its schedule at construction and when decoding.
public indirect enum LearningRateSchedule: Sendable, Codable, Equatable, CustomStringConvertible {
    case constant(rate: Double)
    case stepDecay(initialRate: Double, factor: Double, interval: Int)
    case exponential(initialRate: Double, factor: Double)
    case cosine(initialRate: Double, finalRate: Double, steps: Int)
    case linearWarmUp(steps: Int, base: LearningRateSchedule)

    /// η_t for the update with index `step` (0-based; negative values are treated as 0).
    public func rate(at step: Int) -> Double {
        let t = max(step, 0)
        switch self {
        case .constant(let rate):
            return rate
        case .stepDecay(let initialRate, let factor, let interval):
            return initialRate * Foundation.pow(factor, Double(t / max(interval, 1)))
        case .exponential(let initialRate, let factor):
            return initialRate * Foundation.pow(factor, Double(t))
        case .cosine(let initialRate, let finalRate, let steps):
            let period = max(steps, 1)
            let weight = 0.5 * (1 + Foundation.cos(Double.pi * Double(min(t, period)) / Double(period)))
            return initialRate * weight + finalRate * (1 - weight)
        case .linearWarmUp(let steps, let base):
            guard t < steps else { return base.rate(at: t - steps) }
            return base.rate(at: 0) * (Double(t + 1) / Double(steps))
        }
    }

    /// The largest rate the schedule ever returns: its initial rate (the base's for a warm-up).
    public var peakRate: Double {
        switch self {
        case .constant(let rate): rate
        case .stepDecay(let initialRate, _, _), .exponential(let initialRate, _),
            .cosine(let initialRate, _, _):
            initialRate
        case .linearWarmUp(_, let base): base.peakRate
        }
    }

    /// Checks the parameter ranges listed in the type's documentation.
    public func validate() throws(OptimizerError) {
        switch self {
        case .constant(let rate):
            try Self.validateInitialRate(rate, of: "constant")
        case .stepDecay(let initialRate, let factor, let interval):
            try Self.validateInitialRate(initialRate, of: "step-decay")
            try Self.validateFactor(factor, of: "step-decay")
            guard interval >= 1 else {
                throw .invalidSetting("step-decay schedule: the interval must be at least 1 step, got \(interval)")
            }
        case .exponential(let initialRate, let factor):
            try Self.validateInitialRate(initialRate, of: "exponential")
            try Self.validateFactor(factor, of: "exponential")
        case .cosine(let initialRate, let finalRate, let steps):
            try Self.validateInitialRate(initialRate, of: "cosine")
            guard finalRate.isFinite, finalRate >= 0, finalRate <= initialRate else {
                throw .invalidSetting(
                    "cosine schedule: the final rate must lie in [0, initial rate \(initialRate)], got \(finalRate)")
            }
            guard steps >= 1 else {
                throw .invalidSetting("cosine schedule: the annealing length must be at least 1 step, got \(steps)")
            }
        case .linearWarmUp(let steps, let base):
            guard steps >= 1 else {
                throw .invalidSetting("warm-up schedule: the warm-up must last at least 1 step, got \(steps)")
            }
            if case .linearWarmUp = base {
                throw .invalidSetting("warm-up schedule: the base schedule cannot itself be a warm-up")
            }
            try base.validate()
        }
    }

    public var description: String {
        switch self {
        case .constant(let rate):
            "constant \(rate)"
        case .stepDecay(let initialRate, let factor, let interval):
            "\(initialRate) × \(factor)^⌊t/\(interval)⌋"
        case .exponential(let initialRate, let factor):
            "\(initialRate) × \(factor)^t"
        case .cosine(let initialRate, let finalRate, let steps):
            "cosine from \(initialRate) to \(finalRate) over \(steps) steps"
        case .linearWarmUp(let steps, let base):
            "linear warm-up over \(steps) steps, then \(base)"
        }
    }

    private static func validateInitialRate(_ rate: Double, of kind: String) throws(OptimizerError) {
        guard rate.isFinite, rate > 0 else {
            throw .invalidSetting("\(kind) schedule: the learning rate must be finite and > 0, got \(rate)")
        }
    }

    private static func validateFactor(_ factor: Double, of kind: String) throws(OptimizerError) {
        guard factor > 0, factor <= 1 else {
            throw .invalidSetting("\(kind) schedule: the decay factor must lie in (0, 1], got \(factor)")
        }
    }
}
