// Margin losses for labels in {-1, +1}: hinge and squared hinge.

/// Hinge loss (linear SVM) on scores `s` with labels `y ∈ {-1, +1}`.
///
/// ```
/// m = 1 - y s
/// loss = max(0, m)
/// d loss / d s = -y   if m > 0
///                0    otherwise (at m == 0 the subgradient 0 is used)
/// ```
/// Shapes: `y`, `s` any shape with M elements; mean over M. Labels other than ±1 throw
/// `LossError.invalidTarget` ({0, 1} labels would silently ignore the negative class).
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
        abs(target) != 1  // one comparison: y ∈ {-1, +1} (NaN fails too)
    }

    public func domainError(index: Int, target: Double, prediction: Double) -> LossError {
        .invalidTarget("\(Self.name): label \(index) is \(target); labels must be -1 or +1")
    }
}

/// Squared hinge loss on scores `s` with labels `y ∈ {-1, +1}` (differentiable everywhere).
///
/// ```
/// m = 1 - y s
/// loss = max(0, m)^2
/// d loss / d s = -2 y max(0, m)
/// ```
/// Shapes: `y`, `s` any shape with M elements; mean over M. Reference: Tests/Reference/README.md,
/// `squared_hinge`.
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
        abs(target) != 1  // one comparison: y ∈ {-1, +1} (NaN fails too)
    }

    public func domainError(index: Int, target: Double, prediction: Double) -> LossError {
        .invalidTarget("\(Self.name): label \(index) is \(target); labels must be -1 or +1")
    }
}
