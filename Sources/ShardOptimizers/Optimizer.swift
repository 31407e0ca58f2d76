/// An optimizer that runs on the coordinator as an explicit "ask/tell" state machine.
///
/// The caller loops:
///
/// ```text
/// while let x = optimizer.pendingPoint {            // nil once converged or stopped
///     (f, g) = objective and gradient at x          // one evaluation (one round over all blocks)
///     try optimizer.observe(value: f, gradient: g)
/// }
/// ```
///
/// Round limits are the caller's business; the optimizer checks its `StoppingCriteria`. The whole
/// state is `Codable`: encoding, decoding and continuing gives bit-identical subsequent points.
///
/// `bestPoint` is always a point that was actually evaluated and accepted (its value and gradient are
/// the ones observed there), so a reported objective, gradient and parameter vector agree.
public protocol Optimizer: Sendable, Codable {
    /// The number of parameters.
    var dimension: Int { get }
    /// The point to evaluate next, or nil when the optimizer has finished.
    var pendingPoint: [Double]? { get }
    var status: OptimizerStatus { get }
    /// The best accepted point with the value and gradient observed there (nil before the first one).
    var bestPoint: EvaluatedPoint? { get }
    /// Observations received so far (including failed trials).
    var evaluationCount: Int { get }
    /// Accepted steps so far (the initial point is not a step).
    var iterationCount: Int { get }
    /// Reports the objective value and gradient at `pendingPoint`.
    mutating func observe(value: Double, gradient: [Double]) throws(OptimizerError)
    /// The point a run reports as its result: the best accepted point for the deterministic optimizers
    /// (the default), the current iterate θ — after the last update — for the stochastic ones.
    var resultPoint: [Double]? { get }
    /// The companions of `pendingPoint` that the last update made (nil when none were asked for, before the first
    /// update, and for optimizers that make none).
    var pendingCompanions: PointCompanions? { get }
    /// Asks the following updates to make `request`'s companions of each new point (not part of the state).
    mutating func requestCompanions(_ request: CompanionRequest) throws(OptimizerError)
}

extension Optimizer {
    public var resultPoint: [Double]? { bestPoint?.point }
    public var pendingCompanions: PointCompanions? { nil }
    public mutating func requestCompanions(_ request: CompanionRequest) throws(OptimizerError) {}
}

/// A point with the objective value and gradient observed there.
public struct EvaluatedPoint: Sendable, Codable, Equatable {
    public let point: [Double]
    public let value: Double
    public let gradient: [Double]

    public init(point: [Double], value: Double, gradient: [Double]) {
        self.point = point
        self.value = value
        self.gradient = gradient
    }

    /// ‖gradient‖₂.
    public var gradientNorm: Double { euclideanNorm(gradient) }
}

/// Where an optimizer is.
public enum OptimizerStatus: Sendable, Codable, Equatable, CustomStringConvertible {
    case running
    case converged(ConvergenceReason)
    case stopped(StopReason)

    public var isFinished: Bool { self != .running }

    public var description: String {
        switch self {
        case .running: "running"
        case .converged(let reason): "converged: \(reason)"
        case .stopped(let reason): "stopped: \(reason)"
        }
    }
}

/// Why an optimizer declared convergence.
public enum ConvergenceReason: Sendable, Codable, Equatable, CustomStringConvertible {
    /// ‖g‖₂ ≤ tolerance at the best point.
    case gradientNorm(norm: Double, tolerance: Double)
    /// |f_k − f_{k+1}| / max(|f_k|, |f_{k+1}|, 1) ≤ tolerance between the last two accepted iterates.
    case relativeObjectiveChange(change: Double, tolerance: Double)

    public var description: String {
        switch self {
        case .gradientNorm(let norm, let tolerance):
            "gradient norm \(norm) ≤ tolerance \(tolerance)"
        case .relativeObjectiveChange(let change, let tolerance):
            "relative objective change \(change) ≤ tolerance \(tolerance)"
        }
    }
}

/// Why an optimizer stopped without converging. The best accepted point (if any) is kept.
public enum StopReason: Sendable, Codable, Equatable, CustomStringConvertible {
    /// The value or gradient at the initial point is NaN or infinite.
    case nonFiniteInitialEvaluation(detail: String)
    /// A fixed-step method reached a point where the value or gradient is not finite.
    case nonFiniteEvaluation(iteration: Int, detail: String)
    /// The step became too small to change the point in floating point.
    case stepBelowResolution(iteration: Int)
    /// No step satisfying the strong Wolfe conditions was found.
    case lineSearchFailed(iteration: Int, detail: String)

    public var description: String {
        switch self {
        case .nonFiniteInitialEvaluation(let detail):
            "the objective is not finite at the initial point (\(detail))"
        case .nonFiniteEvaluation(let iteration, let detail):
            "the objective is not finite after step \(iteration) (\(detail)); the step size may be too large"
        case .stepBelowResolution(let iteration):
            "at iteration \(iteration) the step no longer changes the point in floating point"
        case .lineSearchFailed(let iteration, let detail):
            "line search failed at iteration \(iteration): \(detail)"
        }
    }
}

/// Misuse of an optimizer or invalid settings.
public enum OptimizerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `observe` was called although `pendingPoint` is nil.
    case notAwaitingEvaluation(status: OptimizerStatus)
    /// The gradient has the wrong number of entries.
    case gradientDimensionMismatch(expected: Int, found: Int)
    /// A setting (initial point, learning rate, memory, tolerances, line-search constants) is invalid.
    case invalidSetting(String)

    public var description: String {
        switch self {
        case .notAwaitingEvaluation(let status):
            "the optimizer is not waiting for an evaluation (status: \(status))"
        case .gradientDimensionMismatch(let expected, let found):
            "gradient has \(found) entries, the optimizer has \(expected) parameters"
        case .invalidSetting(let detail):
            "invalid optimizer setting: \(detail)"
        }
    }
}

/// Convergence tests applied by the optimizers (round limits are enforced by the caller).
///
/// ```text
/// gradient:   ‖g_k‖₂ ≤ gradientTolerance
/// objective:  |f_k − f_{k+1}| / max(|f_k|, |f_{k+1}|, 1) ≤ relativeObjectiveTolerance
///             (between consecutive accepted iterates)
/// ```
///
/// A tolerance of 0 disables the corresponding test (except an exactly zero gradient or change).
public struct StoppingCriteria: Sendable, Codable, Equatable {
    public var gradientTolerance: Double
    public var relativeObjectiveTolerance: Double

    public init(gradientTolerance: Double = 1e-8, relativeObjectiveTolerance: Double = 1e-13) {
        self.gradientTolerance = gradientTolerance
        self.relativeObjectiveTolerance = relativeObjectiveTolerance
    }

    func validate() throws(OptimizerError) {
        guard gradientTolerance.isFinite, gradientTolerance >= 0 else {
            throw .invalidSetting("gradient tolerance must be finite and ≥ 0, got \(gradientTolerance)")
        }
        guard relativeObjectiveTolerance.isFinite, relativeObjectiveTolerance >= 0 else {
            throw .invalidSetting(
                "relative objective tolerance must be finite and ≥ 0, got \(relativeObjectiveTolerance)")
        }
    }

    /// The relative change between two accepted objective values.
    static func relativeChange(_ previous: Double, _ next: Double) -> Double {
        abs(previous - next) / max(abs(previous), abs(next), 1)
    }

    /// The convergence reason for moving from `previous` (nil at the initial point) to `current`.
    func convergence(previousValue: Double?, current: EvaluatedPoint) -> ConvergenceReason? {
        let norm = current.gradientNorm
        if norm <= gradientTolerance {
            return .gradientNorm(norm: norm, tolerance: gradientTolerance)
        }
        if let previousValue {
            let change = Self.relativeChange(previousValue, current.value)
            if change <= relativeObjectiveTolerance {
                return .relativeObjectiveChange(change: change, tolerance: relativeObjectiveTolerance)
            }
        }
        return nil
    }
}

/// Checks the initial point: non-empty and finite.
func validateInitialPoint(_ point: [Double]) throws(OptimizerError) {
    guard !point.isEmpty else { throw .invalidSetting("the initial point has no parameters") }
    if let index = point.firstIndex(where: { !$0.isFinite }) {
        throw .invalidSetting("initial point entry \(index) is \(point[index])")
    }
}

/// Describes a non-finite observation for stop reasons.
func nonFiniteDetail(value: Double, gradient: [Double]) -> String {
    if !value.isFinite { return "value \(value)" }
    let index = gradient.firstIndex { !$0.isFinite } ?? 0
    return "gradient entry \(index) is \(gradient[index])"
}
