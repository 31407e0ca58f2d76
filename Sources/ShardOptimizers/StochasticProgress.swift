/// Bookkeeping shared by the stochastic optimizers (`SGD`, `Adam`, `AdamW`).
///
/// A stochastic optimizer sees a different mini-batch objective every round, so values and gradient
/// norms are not comparable across rounds: it never declares convergence and has no acceptance
/// test. Every finite observation applies exactly one update; the run ends only when the caller
/// stops asking, or when an observation is not finite, or an update overflows:
///
/// ```text
/// observation k (k = 1, 2, …) at the pending point, which is the result of k − 1 updates:
///   value or gradient not finite, k = 1   → stopped(nonFiniteInitialEvaluation)
///   value or gradient not finite, k > 1   → stopped(nonFiniteEvaluation(iteration: k − 1))
///   update k produces a non-finite entry  → stopped(nonFiniteEvaluation(iteration: k)),
///                                           the state before update k is kept
///   otherwise                             → update k applied, lastObserved = this observation
/// evaluationCount = observations received;  updateCount = updates applied
/// ```
struct StochasticProgress: Sendable, Codable, Equatable {
    var status: OptimizerStatus = .running
    var evaluationCount = 0
    var updateCount = 0
    /// The last finite observation: the point where it was made, its value and gradient.
    var lastObserved: EvaluatedPoint? = nil

    /// Throws unless an observation of `pendingPoint` with this gradient is expected now.
    func validate(_ pendingPoint: [Double]?, gradient: [Double], dimension: Int) throws(OptimizerError) {
        try validate(pendingPoint, gradientCount: gradient.count, dimension: dimension)
    }

    /// `validate(_:gradient:dimension:)` for a gradient of `gradientCount` entries not written yet.
    func validate(_ pendingPoint: [Double]?, gradientCount: Int, dimension: Int) throws(OptimizerError) {
        guard status == .running, pendingPoint != nil else { throw .notAwaitingEvaluation(status: status) }
        guard gradientCount == dimension else {
            throw .gradientDimensionMismatch(expected: dimension, found: gradientCount)
        }
    }

    /// Validates an observation of `pendingPoint` and records it. Returns false (and stops the run)
    /// when the value or gradient is not finite; the caller then leaves its state unchanged.
    /// `gradientKnownFinite`: the caller has proven every entry finite, so it is not scanned again.
    mutating func record(
        at pendingPoint: [Double]?, value: Double, gradient: [Double], dimension: Int,
        gradientKnownFinite: Bool = false
    ) throws(OptimizerError) -> Bool {
        try validate(pendingPoint, gradient: gradient, dimension: dimension)
        guard let point = pendingPoint else { throw .notAwaitingEvaluation(status: status) }
        evaluationCount += 1
        guard value.isFinite, gradientKnownFinite || allFinite(gradient) else {
            let detail = nonFiniteDetail(value: value, gradient: gradient)
            status = .stopped(
                updateCount == 0
                    ? .nonFiniteInitialEvaluation(detail: detail)
                    : .nonFiniteEvaluation(iteration: updateCount, detail: detail))
            return false
        }
        lastObserved = EvaluatedPoint(point: point, value: value, gradient: gradient)
        return true
    }

    /// Accepts the state computed by the current update if every entry of `vectors` is finite (and
    /// counts the update); otherwise stops the run and returns false, so the caller keeps its
    /// previous state.
    mutating func commitUpdate(producing vectors: [(name: String, values: [Double])]) -> Bool {
        for vector in vectors {
            if let index = vector.values.firstIndex(where: { !$0.isFinite }) {
                status = .stopped(
                    .nonFiniteEvaluation(
                        iteration: updateCount + 1,
                        detail: "the update overflows \(vector.name) entry \(index) to \(vector.values[index])"))
                return false
            }
        }
        updateCount += 1
        return true
    }

    /// Counts an update whose every produced entry the caller has checked to be finite.
    mutating func commitFiniteUpdate() -> Bool {
        updateCount += 1
        return true
    }

    /// Checks a decoded state against the invariants above for `dimension` parameters.
    func isConsistent(dimension: Int) -> Bool {
        let runningOrStopped: Bool
        switch status {
        case .running: runningOrStopped = evaluationCount == updateCount
        case .stopped: runningOrStopped = evaluationCount == updateCount + 1
        case .converged: runningOrStopped = false
        }
        let observedIfUpdated = updateCount == 0 || lastObserved != nil
        let observationShape =
            lastObserved.map { $0.point.count == dimension && $0.gradient.count == dimension } ?? true
        return dimension >= 1 && updateCount >= 0 && runningOrStopped && observedIfUpdated && observationShape
    }
}

/// The decoding error for a stochastic optimizer state that breaks its invariants.
func inconsistentState(_ kind: String, _ decoder: any Decoder, detail: String? = nil) -> DecodingError {
    let description = "inconsistent \(kind) state" + (detail.map { ": \($0)" } ?? "")
    return .dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: description))
}
