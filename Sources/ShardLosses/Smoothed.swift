// Smoothed (Huberised) forms of the non-smooth losses — their Moreau envelopes — for continuation solves:
// C¹, convex, (1/μ)-smooth, below the exact loss by at most a constant times μ.

/// The Huberised hinge loss with smoothing μ > 0 on scores `s`, labels `y ∈ {−1, +1}`.
///
///     m = y s
///     h_μ(m) = 0                   if m ≥ 1
///              1 − m − μ/2         if m ≤ 1 − μ
///              (1 − m)² / (2μ)     otherwise
///     ∂h_μ/∂s = y · h_μ'(m),   h_μ'(m) = 0, −1, −(1 − m)/μ  on the three pieces
///
/// It is the Moreau envelope of the hinge: C¹, convex, (1/μ)-smooth, and for every m
///
///     h_μ(m) ≤ max(0, 1 − m) ≤ h_μ(m) + μ/2
///
/// (the gap is μ/2 on the linear piece, 0 for m ≥ 1, and (1 − m)(1 − (1 − m)/(2μ)) ≤ μ/2 between).
public struct SmoothedHingeLoss: ElementwiseLoss {
    public static let name = "smoothed_hinge"
    public let smoothing: Double

    /// Throws `LossError.invalidParameter` unless μ is finite and > 0 (μ = 0 is `HingeLoss`).
    public init(smoothing: Double) throws(LossError) {
        try ParameterCheck.positive(smoothing, name: "smoothing", loss: Self.name)
        self.smoothing = smoothing
    }

    /// The largest gap `h − h_μ` over all margins: μ/2.
    public var maximumGap: Double { smoothing / 2 }

    @inlinable
    public func lossAndDerivative<T: LossScalar>(target: T, prediction: T) -> (loss: T, derivative: T) {
        let mu = T(smoothing)
        let shortfall = 1 - target * prediction  // 1 − m
        if shortfall <= 0 { return (0, 0) }
        if shortfall >= mu { return (shortfall - mu / 2, -target) }
        return (shortfall * shortfall / (2 * mu), -target * shortfall / mu)
    }

    @inlinable
    public func isOutsideDomain<T: LossScalar>(target: T, prediction: T) -> Bool { abs(target) != 1 }

    public func domainError(index: Int, target: Double, prediction: Double) -> LossError {
        .invalidTarget("\(Self.name): label \(index) is \(target); labels must be -1 or +1")
    }
}

/// The Huberised pinball loss ρ_τ,μ with smoothing μ > 0: the Moreau envelope of ρ_τ.
///
///     e = y − ŷ
///     ρ_τ,μ(e) = τ e − τ² μ/2                 if e ≥ τ μ
///                (τ − 1) e − (1 − τ)² μ/2     if e ≤ −(1 − τ) μ
///                e² / (2μ)                    otherwise
///     ∂ρ_τ,μ/∂ŷ = −τ,  1 − τ,  −e/μ           on the three pieces
///
/// C¹ and convex; for every e
///
///     ρ_τ,μ(e) ≤ ρ_τ(e) ≤ ρ_τ,μ(e) + c_τ μ,     c_τ = max(τ, 1 − τ)² / 2  (≤ 1/2)
///
/// (the gap is τ²μ/2 and (1 − τ)²μ/2 on the two linear pieces and grows monotonically towards them).
public struct SmoothedPinballLoss: ElementwiseLoss {
    public static let name = "smoothed_pinball"
    public let tau: Double
    public let smoothing: Double

    /// Throws `LossError.invalidParameter` unless 0 < τ < 1 and μ is finite and > 0 (μ = 0 is `PinballLoss`).
    public init(tau: Double, smoothing: Double) throws(LossError) {
        try ParameterCheck.openUnitInterval(tau, name: "tau", loss: Self.name)
        try ParameterCheck.positive(smoothing, name: "smoothing", loss: Self.name)
        self.tau = tau
        self.smoothing = smoothing
    }

    /// `c_τ = max(τ, 1 − τ)²/2`: the largest gap `ρ_τ − ρ_τ,μ` is `c_τ μ`.
    public var gapConstant: Double { max(tau, 1 - tau) * max(tau, 1 - tau) / 2 }

    @inlinable
    public func lossAndDerivative<T: LossScalar>(target: T, prediction: T) -> (loss: T, derivative: T) {
        let tau = T(self.tau)
        let mu = T(smoothing)
        let error = target - prediction
        let upper = tau * mu
        let lower = -(1 - tau) * mu
        if error >= upper { return (tau * error - tau * upper / 2, -tau) }
        if error <= lower { return ((tau - 1) * error + (1 - tau) * lower / 2, 1 - tau) }
        return (error * error / (2 * mu), -error / mu)
    }
}

/// The absolute error smoothed with μ > 0 (its Moreau envelope), for continuation solves of |e|:
///
/// ```
/// e = ŷ - y
/// h_μ(e) = e² / (2μ)      if |e| ≤ μ
///          |e| - μ/2      otherwise
/// d h_μ / d ŷ = clamp(e/μ, -1, 1)
/// ```
/// C¹, convex, (1/μ)-smooth, and `h_μ(e) ≤ |e| ≤ h_μ(e) + μ/2` for every e (the gap is μ/2 beyond μ and
/// |e| − e²/(2μ) ≤ μ/2 inside). It equals `HuberLoss(delta: μ) / μ`.
public struct SmoothedAbsoluteError: ElementwiseLoss {
    public static let name = "smoothed_mae"
    public let smoothing: Double

    /// Throws `LossError.invalidParameter` unless μ is finite and > 0 (μ = 0 is `MeanAbsoluteError`).
    public init(smoothing: Double) throws(LossError) {
        try ParameterCheck.positive(smoothing, name: "smoothing", loss: Self.name)
        self.smoothing = smoothing
    }

    /// The largest gap `|e| − h_μ(e)` over all residuals: μ/2.
    public var maximumGap: Double { smoothing / 2 }

    @inlinable
    public func lossAndDerivative<T: LossScalar>(target: T, prediction: T) -> (loss: T, derivative: T) {
        let mu = T(smoothing)
        let error = prediction - target
        let size = abs(error)
        if size <= mu { return (error * error / (2 * mu), error / mu) }
        return (size - mu / 2, error > 0 ? 1 : -1)
    }
}
