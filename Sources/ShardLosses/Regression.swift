// Regression losses: MSE, MAE, Huber, pinball (quantile) and multi-quantile pinball.

/// Mean squared error.
///
/// ```
/// loss_i = (ŷ_i - y_i)^2
/// d loss_i / d ŷ_i = 2 (ŷ_i - y_i)
/// ```
/// Shapes: `y`, `ŷ` any shape with M elements; mean over M. Reference: Hastie, Tibshirani &
/// Friedman, "The Elements of Statistical Learning", §2.4; Tests/Reference/README.md, `mse`.
public struct MeanSquaredError: ElementwiseLoss {
    public static let name = "mse"
    public init() {}

    @inlinable
    public func lossAndDerivative<T: LossScalar>(target: T, prediction: T) -> (loss: T, derivative: T) {
        let error = prediction - target
        return (error * error, 2 * error)
    }
}

/// Mean absolute error.
///
/// ```
/// loss_i = |ŷ_i - y_i|
/// d loss_i / d ŷ_i = sign(ŷ_i - y_i),   sign(0) = 0
/// ```
/// Shapes: `y`, `ŷ` any shape with M elements; mean over M. Reference: Tests/Reference/README.md, `mae`.
public struct MeanAbsoluteError: ElementwiseLoss {
    public static let name = "mae"
    public init() {}

    @inlinable
    public func lossAndDerivative<T: LossScalar>(target: T, prediction: T) -> (loss: T, derivative: T) {
        let error = prediction - target
        let sign: T = error > 0 ? 1 : (error < 0 ? -1 : 0)
        return (abs(error), sign)
    }
}

/// Huber loss with threshold δ > 0 (C¹, not C²: the second derivative jumps at |e| = δ).
///
/// ```
/// e = y - ŷ
/// loss = 0.5 e^2                  if |e| <= δ
///        δ |e| - 0.5 δ^2          otherwise
/// d loss / d ŷ = -e               if |e| <= δ
///                -δ sign(e)       otherwise
/// ```
/// Shapes: `y`, `ŷ` any shape with M elements; mean over M. Reference: Huber (1964), "Robust
/// estimation of a location parameter"; Tests/Reference/README.md, `huber`.
public struct HuberLoss: ElementwiseLoss {
    public static let name = "huber"
    public let delta: Double

    /// Throws `LossError.invalidParameter` unless `delta` is finite and > 0.
    public init(delta: Double = 1) throws(LossError) {
        try ParameterCheck.positive(delta, name: "delta", loss: Self.name)
        self.delta = delta
    }

    @inlinable
    public func lossAndDerivative<T: LossScalar>(target: T, prediction: T) -> (loss: T, derivative: T) {
        // Branch-free: with c = min(|e|, δ), loss = c (|e| - c/2) and d/dŷ = -clamp(e, -δ, δ).
        let delta = T(self.delta)
        let error = target - prediction
        let size = abs(error)
        let clipped = size < delta ? size : delta
        let clamped = error > delta ? delta : (error < -delta ? -delta : error)
        return (clipped * (size - 0.5 * clipped), -clamped)
    }
}

/// Pinball (quantile) loss for the quantile level τ ∈ (0, 1).
///
/// ```
/// e = y - ŷ
/// loss = max(τ e, (τ - 1) e)
/// d loss / d ŷ = -τ        if e > 0
///                1 - τ     if e < 0
///                0         if e == 0   (subgradient convention)
/// ```
/// Shapes: `y`, `ŷ` any shape with M elements; mean over M. Reference: Koenker & Bassett (1978),
/// "Regression quantiles"; Tests/Reference/README.md, `pinball`.
public struct PinballLoss: ElementwiseLoss {
    public static let name = "pinball"
    public let tau: Double

    /// Throws `LossError.invalidParameter` unless 0 < tau < 1.
    public init(tau: Double) throws(LossError) {
        try ParameterCheck.openUnitInterval(tau, name: "tau", loss: Self.name)
        self.tau = tau
    }

    @inlinable
    public func lossAndDerivative<T: LossScalar>(target: T, prediction: T) -> (loss: T, derivative: T) {
        let tau = T(self.tau)
        let error = target - prediction
        // Branch-free: with b = [e < 0] and a = [e > 0], loss = e (τ - b) and d/dŷ = b - τ (a + b).
        let below: T = error < 0 ? 1 : 0
        let above: T = error > 0 ? 1 : 0
        return (error * (tau - below), below - tau * (above + below))
    }
}

/// Pinball loss at several quantile levels at once (one prediction column per level).
///
/// ```
/// loss[i, q] = pinball_{taus[q]}(y[i] - ŷ[i, q])
/// d loss[i, q] / d ŷ[i, q] = as for PinballLoss with τ = taus[q]
/// ```
/// Shapes: `y` (N), `ŷ` (N, Q), `taus` (Q); `perSample` and `gradient` are (N, Q) row-major;
/// `.mean` divides by N*Q. Reference: Tests/Reference/README.md, `pinball_multi`.
public struct MultiQuantileLoss: Sendable {
    public static let name = "pinball_multi"
    public let taus: [Double]

    /// Throws `LossError.invalidParameter` when `taus` is empty or a level is outside (0, 1).
    public init(taus: [Double]) throws(LossError) {
        guard !taus.isEmpty else { throw .invalidParameter("\(Self.name): taus must not be empty") }
        for (index, tau) in taus.enumerated() {
            try ParameterCheck.openUnitInterval(tau, name: "taus[\(index)]", loss: Self.name)
        }
        self.taus = taus
    }

    @_specialize(where T == Double)
    @_specialize(where T == Float)
    public func evaluate<T: LossScalar>(
        target: [T], prediction: Matrix<T>, reduction: Reduction = .mean
    ) throws(LossError) -> LossResult<T> {
        guard prediction.rows == target.count, prediction.columns == taus.count else {
            throw .shapeMismatch(
                "\(Self.name): prediction is \(prediction.shapeText), expected \(target.count)x\(taus.count) "
                    + "(N targets x Q levels)")
        }
        let levels = try taus.map { (tau) throws(LossError) -> PinballLoss in try PinballLoss(tau: tau) }
        let count = prediction.values.count
        let weight: T = reduction.weight(count: count)
        var perSample = [T](repeating: 0, count: count)
        var gradient = [T](repeating: 0, count: count)
        var total: T = 0
        for row in 0..<prediction.rows {
            for (column, level) in levels.enumerated() {
                let index = row * prediction.columns + column
                let (loss, derivative) = level.lossAndDerivative(target: target[row], prediction: prediction.values[index])
                perSample[index] = loss
                gradient[index] = derivative * weight
                total += loss
            }
        }
        return LossResult(value: reduction.value(total: total, weight: weight), perSample: perSample, gradient: gradient)
    }
}
