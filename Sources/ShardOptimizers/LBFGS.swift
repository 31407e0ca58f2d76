/// Limited-memory BFGS with a strong Wolfe line search: Nocedal & Wright, *Numerical Optimization*,
/// 2nd ed. (2006), chapter 7 (Algorithm 7.4 two-loop recursion, Algorithm 7.5 L-BFGS) with the line
/// search of chapter 3 (Algorithms 3.5/3.6).
///
/// ```text
/// pairs      s_i = x_{i+1} − x_i,  y_i = g_{i+1} − g_i,  ρ_i = 1 / (y_iᵀ s_i)      (the last m kept)
///            a pair is stored only if s_iᵀy_i > 1e-10·‖s_i‖·‖y_i‖ (curvature check)
/// direction  d_k = −H_k g_k by the two-loop recursion:
///              q = g_k
///              for i = k−1 … k−m:  a_i = ρ_i s_iᵀq;  q ← q − a_i y_i
///              r = γ_k q,  γ_k = s_{k−1}ᵀy_{k−1} / y_{k−1}ᵀy_{k−1}                  (eq. 7.20)
///              for i = k−m … k−1:  b = ρ_i y_iᵀr;  r ← r + s_i (a_i − b)
///              d_k = −r        (falls back to −g_k, memory cleared, if d_kᵀg_k is not < 0)
/// step       x_{k+1} = x_k + α_k d_k, α_k from the strong Wolfe search (c1 = 1e-4, c2 = 0.9),
///            first trial α = 1, or min(1, 1/‖g_k‖₂) when no pairs are stored
/// ```
///
/// Each call of `observe` consumes one evaluation. A trial with a non-finite value or gradient is a
/// failed trial (the search backtracks); at the initial point it stops the optimizer. When a line
/// search fails with pairs in memory, the memory is cleared and a steepest-descent search is tried
/// from the same point; if that fails too, the optimizer stops, keeping the best accepted point.
public struct LBFGS: Optimizer, Equatable {
    /// A stored correction pair.
    struct CorrectionPair: Sendable, Codable, Equatable {
        var step: [Double]  // s
        var gradientChange: [Double]  // y
        var inverseCurvature: Double  // ρ = 1 / (yᵀs)
    }

    public let dimension: Int
    public let memory: Int
    public let stopping: StoppingCriteria
    public let lineSearchParameters: LineSearchParameters
    public private(set) var status: OptimizerStatus
    public private(set) var pendingPoint: [Double]?
    public private(set) var evaluationCount: Int
    public private(set) var iterationCount: Int
    /// The current iterate x_k (the accepted point with the lowest value: iterates decrease monotonically).
    private var current: EvaluatedPoint?
    private var corrections: [CorrectionPair]
    private var direction: [Double]
    private var lineSearch: StrongWolfeLineSearch?

    /// Creates the optimizer; the first pending point is `initialPoint`.
    public init(
        initialPoint: [Double], memory: Int = 10, stopping: StoppingCriteria = StoppingCriteria(),
        lineSearch: LineSearchParameters = LineSearchParameters()
    ) throws(OptimizerError) {
        try validateInitialPoint(initialPoint)
        guard memory >= 1 else { throw .invalidSetting("L-BFGS memory must be at least 1, got \(memory)") }
        try stopping.validate()
        try lineSearch.validate()
        self.dimension = initialPoint.count
        self.memory = memory
        self.stopping = stopping
        self.lineSearchParameters = lineSearch
        self.status = .running
        self.pendingPoint = initialPoint
        self.evaluationCount = 0
        self.iterationCount = 0
        self.current = nil
        self.corrections = []
        self.direction = []
        self.lineSearch = nil
    }

    public var bestPoint: EvaluatedPoint? { current }

    public mutating func observe(value: Double, gradient: [Double]) throws(OptimizerError) {
        guard status == .running, let trialPoint = pendingPoint else {
            throw .notAwaitingEvaluation(status: status)
        }
        guard gradient.count == dimension else {
            throw .gradientDimensionMismatch(expected: dimension, found: gradient.count)
        }
        evaluationCount += 1
        let finite = value.isFinite && allFinite(gradient)

        guard let accepted = current, var search = lineSearch else {
            guard finite else {
                finish(.stopped(.nonFiniteInitialEvaluation(detail: nonFiniteDetail(value: value, gradient: gradient))))
                return
            }
            let initial = EvaluatedPoint(point: trialPoint, value: value, gradient: gradient)
            current = initial
            if let reason = stopping.convergence(previousValue: nil, current: initial) {
                finish(.converged(reason))
            } else {
                beginIteration()
            }
            return
        }

        let slope = finite ? dot(gradient, direction) : nil
        switch search.observe(value: finite ? value : nil, slope: slope) {
        case .evaluate(let nextStep):
            lineSearch = search
            propose(step: nextStep, onFailure: "the trial step \(nextStep) no longer changes the point")
        case .accept:
            let next = EvaluatedPoint(point: trialPoint, value: value, gradient: gradient)
            storePair(from: accepted, to: next)
            current = next
            iterationCount += 1
            if let reason = stopping.convergence(previousValue: accepted.value, current: next) {
                finish(.converged(reason))
            } else {
                beginIteration()
            }
        case .fail(let detail):
            lineSearchFailed(detail)
        }
    }

    private mutating func finish(_ final: OptimizerStatus) {
        status = final
        pendingPoint = nil
        lineSearch = nil
    }

    /// Computes d_k and starts a line search from the current iterate.
    private mutating func beginIteration() {
        guard let accepted = current else { return }
        var searchDirection = twoLoopDirection(gradient: accepted.gradient)
        var slope = dot(accepted.gradient, searchDirection)
        if !(slope < 0) || !slope.isFinite {
            corrections.removeAll()
            searchDirection = accepted.gradient.map { -$0 }
            slope = dot(accepted.gradient, searchDirection)
        }
        direction = searchDirection
        let firstStep = corrections.isEmpty ? min(1, 1 / accepted.gradientNorm) : 1
        lineSearch = StrongWolfeLineSearch(
            initialValue: accepted.value, initialSlope: slope, firstStep: firstStep,
            parameters: lineSearchParameters)
        propose(step: lineSearch?.trialStep ?? firstStep, onFailure: "the first trial step no longer changes the point")
    }

    /// Sets the pending point x_k + α·d_k, or fails the line search if it equals x_k in floating point.
    private mutating func propose(step alpha: Double, onFailure detail: String) {
        guard let accepted = current else { return }
        let trial = step(from: accepted.point, along: direction, by: alpha)
        if trial == accepted.point {
            lineSearchFailed(detail)
        } else {
            pendingPoint = trial
        }
    }

    private mutating func lineSearchFailed(_ detail: String) {
        if !corrections.isEmpty {
            corrections.removeAll()
            beginIteration()
        } else {
            finish(.stopped(.lineSearchFailed(iteration: iterationCount + 1, detail: detail)))
        }
    }

    /// Appends (s, y) if it passes the curvature check, dropping the oldest pair beyond `memory`.
    private mutating func storePair(from previous: EvaluatedPoint, to next: EvaluatedPoint) {
        let s = difference(next.point, previous.point)
        let y = difference(next.gradient, previous.gradient)
        let curvature = dot(s, y)
        guard curvature > 1e-10 * euclideanNorm(s) * euclideanNorm(y), curvature.isFinite else { return }
        if corrections.count == memory { corrections.removeFirst() }
        corrections.append(CorrectionPair(step: s, gradientChange: y, inverseCurvature: 1 / curvature))
    }

    /// −H_k g by the two-loop recursion (N&W Algorithm 7.4) with H_k⁰ = γ_k I.
    private func twoLoopDirection(gradient: [Double]) -> [Double] {
        var q = gradient
        guard let newest = corrections.last else { return q.map { -$0 } }
        var coefficients = [Double](repeating: 0, count: corrections.count)
        for index in corrections.indices.reversed() {
            let pair = corrections[index]
            let a = pair.inverseCurvature * dot(pair.step, q)
            coefficients[index] = a
            for j in q.indices { q[j] -= a * pair.gradientChange[j] }
        }
        let gamma = dot(newest.step, newest.gradientChange) / dot(newest.gradientChange, newest.gradientChange)
        var r = q.map { gamma * $0 }
        for index in corrections.indices {
            let pair = corrections[index]
            let b = pair.inverseCurvature * dot(pair.gradientChange, r)
            let factor = coefficients[index] - b
            for j in r.indices { r[j] += factor * pair.step[j] }
        }
        return r.map { -$0 }
    }

    // MARK: Coding (validated, so a corrupt state cannot make later calls trap)

    private enum CodingKeys: String, CodingKey {
        case dimension, memory, stopping, lineSearchParameters, status, pendingPoint, evaluationCount
        case iterationCount, current, corrections, direction, lineSearch
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        dimension = try container.decode(Int.self, forKey: .dimension)
        memory = try container.decode(Int.self, forKey: .memory)
        stopping = try container.decode(StoppingCriteria.self, forKey: .stopping)
        lineSearchParameters = try container.decode(LineSearchParameters.self, forKey: .lineSearchParameters)
        status = try container.decode(OptimizerStatus.self, forKey: .status)
        pendingPoint = try container.decodeIfPresent([Double].self, forKey: .pendingPoint)
        evaluationCount = try container.decode(Int.self, forKey: .evaluationCount)
        iterationCount = try container.decode(Int.self, forKey: .iterationCount)
        current = try container.decodeIfPresent(EvaluatedPoint.self, forKey: .current)
        corrections = try container.decode([CorrectionPair].self, forKey: .corrections)
        direction = try container.decode([Double].self, forKey: .direction)
        lineSearch = try container.decodeIfPresent(StrongWolfeLineSearch.self, forKey: .lineSearch)

        let n = dimension
        var problems: [String] = []
        if n < 1 { problems.append("dimension \(n)") }
        if memory < 1 || corrections.count > memory { problems.append("memory \(memory), \(corrections.count) pairs") }
        if let pendingPoint, pendingPoint.count != n { problems.append("pending point length") }
        if let current, current.point.count != n || current.gradient.count != n { problems.append("iterate length") }
        if corrections.contains(where: { $0.step.count != n || $0.gradientChange.count != n }) {
            problems.append("correction pair length")
        }
        if lineSearch != nil, current == nil || direction.count != n { problems.append("line search without iterate") }
        if status == .running, current != nil, lineSearch == nil { problems.append("iterate without line search") }
        if (status == .running) != (pendingPoint != nil) { problems.append("status and pending point disagree") }
        do {
            try stopping.validate()
            try lineSearchParameters.validate()
        } catch { problems.append(error.description) }
        guard problems.isEmpty else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath,
                      debugDescription: "inconsistent L-BFGS state: " + problems.joined(separator: "; ")))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(dimension, forKey: .dimension)
        try container.encode(memory, forKey: .memory)
        try container.encode(stopping, forKey: .stopping)
        try container.encode(lineSearchParameters, forKey: .lineSearchParameters)
        try container.encode(status, forKey: .status)
        try container.encodeIfPresent(pendingPoint, forKey: .pendingPoint)
        try container.encode(evaluationCount, forKey: .evaluationCount)
        try container.encode(iterationCount, forKey: .iterationCount)
        try container.encodeIfPresent(current, forKey: .current)
        try container.encode(corrections, forKey: .corrections)
        try container.encode(direction, forKey: .direction)
        try container.encodeIfPresent(lineSearch, forKey: .lineSearch)
    }
}
