/// Why a loss refused its inputs. Every public entry point reports bad input with this type
/// instead of trapping; `description` names the loss, the argument and the offending value.
public enum LossError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Two inputs (or an input and a parameter list) disagree in size or shape.
    case shapeMismatch(String)
    /// A hyper-parameter is outside its domain (τ ∉ (0, 1), negative margin or δ, ...).
    case invalidParameter(String)
    /// A target or label is outside its domain (class index out of range, y ∉ {-1, +1}, ...).
    case invalidTarget(String)
    /// A prediction input is outside its domain (probability outside [0, 1], negative distance, ...).
    case invalidPrediction(String)

    public var description: String {
        switch self {
        case .shapeMismatch(let message): "shape mismatch: \(message)"
        case .invalidParameter(let message): "invalid parameter: \(message)"
        case .invalidTarget(let message): "invalid target: \(message)"
        case .invalidPrediction(let message): "invalid prediction: \(message)"
        }
    }
}

/// Parameter checks shared by the loss initialisers.
enum ParameterCheck {
    static func openUnitInterval(_ value: Double, name: String, loss: String) throws(LossError) {
        guard value > 0, value < 1 else {
            throw .invalidParameter("\(loss): \(name) must lie in the open interval (0, 1), got \(value)")
        }
    }

    static func nonNegative(_ value: Double, name: String, loss: String) throws(LossError) {
        guard value >= 0, value.isFinite else {
            throw .invalidParameter("\(loss): \(name) must be finite and >= 0, got \(value)")
        }
    }

    static func positive(_ value: Double, name: String, loss: String) throws(LossError) {
        guard value > 0, value.isFinite else {
            throw .invalidParameter("\(loss): \(name) must be finite and > 0, got \(value)")
        }
    }

    static func clipEpsilon(_ value: Double, loss: String) throws(LossError) {
        guard value > 0, value < 0.5 else {
            throw .invalidParameter("\(loss): eps must lie in (0, 0.5), got \(value)")
        }
    }

    static func closedUnitInterval(_ value: Double, name: String, loss: String) throws(LossError) {
        guard value >= 0, value <= 1 else {
            throw .invalidParameter("\(loss): \(name) must lie in [0, 1], got \(value)")
        }
    }
}
