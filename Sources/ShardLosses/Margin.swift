// Margin losses for labels in {-1, +1}: hinge and squared hinge.

/// The domain error of the margin losses: the label when it is not ±1, else the score (NaN, or
/// infinite with y s = -inf).
func marginDomainError(loss: String, index: Int, target: Double, prediction: Double) -> LossError {
    if abs(target) != 1 {
        return .invalidTarget("\(loss): label \(index) is \(target); labels must be -1 or +1")
    }
    return .invalidPrediction(
        "\(loss): score \(index) is \(prediction) for label \(target); scores must not be NaN, and infinite only "
            + "with the label's sign (y s = -inf gives an infinite loss)")
}

/// Hinge loss (linear SVM) on scores `s` with labels `y ∈ {-1, +1}`.
///
/// ```
/// m = 1 - y s
/// loss = max(0, m)
/// d loss / d s = -y   if m > 0
///                0    otherwise (at m == 0 the subgradient 0 is used)
/// ```
/// Shapes: `y`, `s` any shape with M elements; mean over M. Labels other than ±1 throw
/// `LossError.invalidTarget` ({0, 1} labels would silently ignore the negative class). A NaN score,
/// or an infinite one on the wrong side (y s = -inf, an infinite loss), throws
/// `LossError.invalidPrediction` naming the index; s = y·inf (loss 0) is accepted.
/// Reference: Cortes & Vapnik (1995); Tests/Reference/README.md, `hinge`.
public struct HingeLoss: ElementwiseLoss {
    public static let name = "hinge"
    public init() {}

    @inlinable
    public func lossAndDerivative<T: LossScalar>(target: T, prediction: T) -> (loss: T, derivative: T) {
        let margin = 1 - target * prediction
        let active = margin > 0
        return (active ? margin : 0, active ? -target : 0)
    }

    @inlinable
    public func isOutsideDomain<T: LossScalar>(target: T, prediction: T) -> Bool {
        // y ∈ {-1, +1} (NaN fails too), and y s > -inf: s is not NaN and the margin 1 - y s is not +inf.
        abs(target) != 1 || !(target * prediction > -.infinity)
    }

    public func domainError(index: Int, target: Double, prediction: Double) -> LossError {
        marginDomainError(loss: Self.name, index: index, target: target, prediction: prediction)
    }
}

/// Squared hinge loss on scores `s` with labels `y ∈ {-1, +1}` (differentiable everywhere).
///
/// ```
/// m = 1 - y s
/// loss = max(0, m)^2
/// d loss / d s = -2 y max(0, m)
/// ```
/// Shapes: `y`, `s` any shape with M elements; mean over M. Labels other than ±1 throw
/// `LossError.invalidTarget`; a NaN score or y s = -inf throws `LossError.invalidPrediction`, as
/// for `HingeLoss`. Reference: Tests/Reference/README.md, `squared_hinge`.
public struct SquaredHingeLoss: ElementwiseLoss {
    public static let name = "squared_hinge"
    public init() {}

    @inlinable
    public func lossAndDerivative<T: LossScalar>(target: T, prediction: T) -> (loss: T, derivative: T) {
        let raw = 1 - target * prediction
        let margin = raw > 0 ? raw : 0
        return (margin * margin, -2 * target * margin)
    }

    @inlinable
    public func isOutsideDomain<T: LossScalar>(target: T, prediction: T) -> Bool {
        // y ∈ {-1, +1} (NaN fails too), and y s > -inf: s is not NaN and the margin 1 - y s is not +inf.
        abs(target) != 1 || !(target * prediction > -.infinity)
    }

    public func domainError(index: Int, target: Double, prediction: Double) -> LossError {
        marginDomainError(loss: Self.name, index: index, target: target, prediction: prediction)
    }
}
