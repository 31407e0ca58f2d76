/// Constants of the strong Wolfe line search.
///
/// ```text
/// sufficient decrease:  φ(α) ≤ φ(0) + c1·α·φ'(0)
/// curvature:            |φ'(α)| ≤ c2·|φ'(0)|          with 0 < c1 < c2 < 1
/// ```
public struct LineSearchParameters: Sendable, Codable, Equatable {
    public var sufficientDecrease: Double
    public var curvature: Double
    /// Evaluations allowed per line search before it fails.
    public var maxEvaluations: Int
    /// The largest step α tried while bracketing.
    public var maxStep: Double

    public init(sufficientDecrease: Double = 1e-4, curvature: Double = 0.9, maxEvaluations: Int = 40,
                maxStep: Double = 1e10) {
        self.sufficientDecrease = sufficientDecrease
        self.curvature = curvature
        self.maxEvaluations = maxEvaluations
        self.maxStep = maxStep
    }

    func validate() throws(OptimizerError) {
        guard sufficientDecrease > 0, sufficientDecrease < curvature, curvature < 1 else {
            throw .invalidSetting(
                "line search needs 0 < c1 < c2 < 1, got c1 = \(sufficientDecrease), c2 = \(curvature)")
        }
        guard maxEvaluations >= 1 else {
            throw .invalidSetting("line search needs at least 1 evaluation, got \(maxEvaluations)")
        }
        guard maxStep.isFinite, maxStep > 0 else {
            throw .invalidSetting("line search maximum step must be finite and > 0, got \(maxStep)")
        }
    }
}

/// A line search for a step satisfying the strong Wolfe conditions, written as a state machine:
/// Nocedal & Wright, *Numerical Optimization*, 2nd ed. (2006), chapter 3, Algorithm 3.5 (bracketing)
/// and Algorithm 3.6 (zoom), with trial steps from safeguarded cubic interpolation (eq. 3.59).
///
/// ```text
/// φ(α) = f(x + α·d),  φ'(α) = ∇f(x + α·d)ᵀd,  φ'(0) < 0
///
/// bracketing (α_prev starts at 0):
///   φ(α) > φ(0) + c1·α·φ'(0)  or  φ(α) ≥ φ(α_prev)  → zoom(lo = α_prev, hi = α)
///   |φ'(α)| ≤ c2·|φ'(0)|                             → accept α
///   φ'(α) ≥ 0                                        → zoom(lo = α, hi = α_prev)
///   otherwise α_prev = α, α ← cubic extrapolation clamped to [α + Δ, α + 4Δ], Δ = α − α_prev
/// zoom:
///   α ← cubic minimiser on [lo, hi], clamped 10 % away from both ends (bisection if undefined)
///   φ(α) > φ(0) + c1·α·φ'(0)  or  φ(α) ≥ φ(lo)       → hi = α
///   else |φ'(α)| ≤ c2·|φ'(0)|                        → accept α
///        φ'(α)·(hi − lo) ≥ 0                         → hi = lo;  then lo = α
/// ```
///
/// A trial whose value or slope is not finite counts as failing sufficient decrease: it becomes the
/// upper end of the bracket and the next trial bisects towards the last good step.
///
/// Near the optimum the decrease `c1·α·φ'(0)` falls below the rounding error of φ itself, so value
/// comparisons stop meaning anything while the slopes are still accurate. There the approximate Wolfe
/// conditions of Hager & Zhang (SIAM J. Optim. 16 (2005) 170–192, eq. 4.1) stand in for sufficient decrease:
///
/// ```text
/// φ(α) ≤ φ(0) + ε·|φ(0)|   and   φ'(α) ≤ (2·c1 − 1)·φ'(0)          ε = 1e-12
/// ```
///
/// (for a quadratic φ the slope condition is exactly sufficient decrease), and values within ε·|φ(0)| of
/// each other count as equal when the bracket is chosen.
struct StrongWolfeLineSearch: Sendable, Codable, Equatable {
    /// A finite observation of φ.
    struct Sample: Sendable, Codable, Equatable {
        var step: Double
        var value: Double
        var slope: Double
    }

    /// The upper end of a zoom bracket; `sample` is nil when φ was not finite there.
    struct UpperEnd: Sendable, Codable, Equatable {
        var step: Double
        var sample: Sample?
    }

    enum Phase: Sendable, Codable, Equatable {
        case bracketing(previous: Sample)
        case zoom(low: Sample, high: UpperEnd)
    }

    enum Decision: Equatable {
        case evaluate(step: Double)
        case accept
        case fail(String)
    }

    let parameters: LineSearchParameters
    let initial: Sample
    private(set) var phase: Phase
    private(set) var trialStep: Double
    private(set) var evaluations: Int

    init(initialValue: Double, initialSlope: Double, firstStep: Double, parameters: LineSearchParameters) {
        self.parameters = parameters
        self.initial = Sample(step: 0, value: initialValue, slope: initialSlope)
        self.phase = .bracketing(previous: initial)
        self.trialStep = min(firstStep, parameters.maxStep)
        self.evaluations = 0
    }

    /// Relative size of φ's rounding error: below it, values are compared by their slopes.
    static let roundingTolerance = 1e-12

    private var valueResolution: Double { Self.roundingTolerance * abs(initial.value) }

    private func sufficientlyDecreases(_ sample: Sample) -> Bool {
        if sample.value <= initial.value + parameters.sufficientDecrease * sample.step * initial.slope { return true }
        return sample.value <= initial.value + valueResolution
            && sample.slope <= (2 * parameters.sufficientDecrease - 1) * initial.slope
    }

    /// Whether `trial`, a step beyond `reference` in `direction` (±1), is lower: by value, or — when the values
    /// are within φ's resolution — by a slope that still descends in that direction.
    private func improves(_ trial: Sample, on reference: Sample, direction: Double) -> Bool {
        trial.value < reference.value
            || (trial.value - reference.value <= valueResolution && trial.slope * direction < 0)
    }

    private func satisfiesCurvature(_ sample: Sample) -> Bool {
        abs(sample.slope) <= -parameters.curvature * initial.slope
    }

    /// Takes φ(trialStep) and φ'(trialStep) (nil when not finite) and says what to do next.
    mutating func observe(value: Double?, slope: Double?) -> Decision {
        evaluations += 1
        let trial: Sample? =
            if let value, let slope, value.isFinite, slope.isFinite {
                Sample(step: trialStep, value: value, slope: slope)
            } else { nil }

        switch phase {
        case .bracketing(let previous):
            guard let trial else {
                phase = .zoom(low: previous, high: UpperEnd(step: trialStep, sample: nil))
                return nextZoomTrial()
            }
            if !sufficientlyDecreases(trial) || (previous.step > 0 && !improves(trial, on: previous, direction: 1)) {
                phase = .zoom(low: previous, high: UpperEnd(step: trial.step, sample: trial))
                return nextZoomTrial()
            }
            if satisfiesCurvature(trial) { return .accept }
            if trial.slope >= 0 {
                phase = .zoom(low: trial, high: UpperEnd(step: previous.step, sample: previous))
                return nextZoomTrial()
            }
            guard trial.step < parameters.maxStep else {
                return .fail("the step reached the maximum \(parameters.maxStep) while still decreasing "
                    + "(the objective may be unbounded below)")
            }
            guard evaluations < parameters.maxEvaluations else { return exhausted() }
            let width = trial.step - previous.step
            let candidate = cubicMinimizer(previous, trial) ?? trial.step + 2 * width
            let next = min(max(candidate, trial.step + width), trial.step + 4 * width)
            phase = .bracketing(previous: trial)
            trialStep = min(next, parameters.maxStep)
            return .evaluate(step: trialStep)

        case .zoom(var low, var high):
            if let trial, sufficientlyDecreases(trial),
                improves(trial, on: low, direction: high.step > low.step ? 1 : -1)
            {
                if satisfiesCurvature(trial) { return .accept }
                if trial.slope * (high.step - low.step) >= 0 { high = UpperEnd(step: low.step, sample: low) }
                low = trial
            } else {
                high = UpperEnd(step: trialStep, sample: trial)
            }
            phase = .zoom(low: low, high: high)
            return nextZoomTrial()
        }
    }

    private func exhausted() -> Decision {
        .fail("no step satisfying the strong Wolfe conditions within \(parameters.maxEvaluations) evaluations")
    }

    private mutating func nextZoomTrial() -> Decision {
        guard case .zoom(let low, let high) = phase else { return .fail("internal: zoom outside its phase") }
        guard evaluations < parameters.maxEvaluations else { return exhausted() }
        let lower = min(low.step, high.step), upper = max(low.step, high.step)
        let width = upper - lower
        guard width > 4 * Double.ulpOfOne * upper else {
            return .fail("the bracket [\(lower), \(upper)] shrank to floating-point resolution "
                + "(no further decrease can be measured)")
        }
        let margin = 0.1 * width
        let candidate = high.sample.flatMap { cubicMinimizer(low, $0) } ?? (low.step + high.step) / 2
        trialStep = min(max(candidate, lower + margin), upper - margin)
        return .evaluate(step: trialStep)
    }

    /// The minimiser of the cubic that matches value and slope at both samples (N&W eq. 3.59), or nil
    /// when that cubic has no finite local minimiser.
    ///
    /// ```text
    /// d1 = φ'(a) + φ'(b) − 3 (φ(a) − φ(b)) / (a − b)
    /// d2 = sign(b − a) · sqrt(d1² − φ'(a) φ'(b))
    /// α  = b − (b − a) (φ'(b) + d2 − d1) / (φ'(b) − φ'(a) + 2 d2)
    /// ```
    private func cubicMinimizer(_ a: Sample, _ b: Sample) -> Double? {
        guard a.step != b.step else { return nil }
        let d1 = a.slope + b.slope - 3 * (a.value - b.value) / (a.step - b.step)
        let discriminant = d1 * d1 - a.slope * b.slope
        guard discriminant >= 0, discriminant.isFinite else { return nil }
        let d2 = (b.step > a.step ? 1.0 : -1.0) * discriminant.squareRoot()
        let denominator = b.slope - a.slope + 2 * d2
        guard denominator != 0 else { return nil }
        let result = b.step - (b.step - a.step) * (b.slope + d2 - d1) / denominator
        return result.isFinite ? result : nil
    }
}
