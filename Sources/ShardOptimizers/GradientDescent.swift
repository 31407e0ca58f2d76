import ShardNumerics

/// Gradient descent with a fixed step: one evaluation per iteration, no line search
/// (Nocedal & Wright, *Numerical Optimization*, 2nd ed. (2006), chapter 3, steepest descent with a
/// constant step length).
///
/// ```text
/// x_{k+1} = x_k − η·∇f(x_k)          η = learningRate > 0
/// ```
///
/// Every evaluated point is an iterate (there are no trials to reject). `bestPoint` is the iterate
/// with the lowest value seen so far (the first one on ties); the stopping criteria compare
/// consecutive iterates. A non-finite value or gradient at an iterate after the first stops the
/// method (the step is too large for the problem), keeping the best point.
public struct GradientDescent: Optimizer, Equatable {
    public let dimension: Int
    public let learningRate: Double
    public let stopping: StoppingCriteria
    public private(set) var status: OptimizerStatus
    public private(set) var pendingPoint: [Double]?
    public private(set) var evaluationCount: Int
    public private(set) var iterationCount: Int
    public private(set) var bestPoint: EvaluatedPoint?
    /// The value at the last iterate, for the relative-change test.
    private var lastValue: Double?

    public init(initialPoint: [Double], learningRate: Double, stopping: StoppingCriteria = StoppingCriteria())
        throws(OptimizerError)
    {
        try validateInitialPoint(initialPoint)
        guard learningRate.isFinite, learningRate > 0 else {
            throw .invalidSetting("learning rate must be finite and > 0, got \(learningRate)")
        }
        try stopping.validate()
        self.dimension = initialPoint.count
        self.learningRate = learningRate
        self.stopping = stopping
        self.status = .running
        self.pendingPoint = initialPoint
        self.evaluationCount = 0
        self.iterationCount = 0
        self.bestPoint = nil
        self.lastValue = nil
    }

    public mutating func observe(value: Double, gradient: [Double]) throws(OptimizerError) {
        guard status == .running, let point = pendingPoint else { throw .notAwaitingEvaluation(status: status) }
        guard gradient.count == dimension else {
            throw .gradientDimensionMismatch(expected: dimension, found: gradient.count)
        }
        evaluationCount += 1
        guard value.isFinite, allFinite(gradient) else {
            let detail = nonFiniteDetail(value: value, gradient: gradient)
            finish(
                lastValue == nil
                    ? .stopped(.nonFiniteInitialEvaluation(detail: detail))
                    : .stopped(.nonFiniteEvaluation(iteration: iterationCount + 1, detail: detail)))
            return
        }
        if lastValue != nil { iterationCount += 1 }
        let iterate = EvaluatedPoint(point: point, value: value, gradient: gradient)
        if bestPoint.map({ value < $0.value }) ?? true { bestPoint = iterate }
        let previousValue = lastValue
        lastValue = value
        if let reason = stopping.convergence(previousValue: previousValue, current: iterate) {
            finish(.converged(reason))
            return
        }
        let next = step(from: point, along: gradient, by: -learningRate)
        if next == point {
            finish(.stopped(.stepBelowResolution(iteration: iterationCount + 1)))
        } else {
            pendingPoint = next
        }
    }

    private mutating func finish(_ final: OptimizerStatus) {
        status = final
        pendingPoint = nil
    }

    private enum CodingKeys: String, CodingKey {
        case dimension, learningRate, stopping, status, pendingPoint, evaluationCount, iterationCount
        case bestPoint, lastValue
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        dimension = try container.decode(Int.self, forKey: .dimension)
        learningRate = try container.decode(Double.self, forKey: .learningRate)
        stopping = try container.decode(StoppingCriteria.self, forKey: .stopping)
        status = try container.decode(OptimizerStatus.self, forKey: .status)
        pendingPoint = try container.decodeIfPresent([Double].self, forKey: .pendingPoint)
        evaluationCount = try container.decode(Int.self, forKey: .evaluationCount)
        iterationCount = try container.decode(Int.self, forKey: .iterationCount)
        bestPoint = try container.decodeIfPresent(EvaluatedPoint.self, forKey: .bestPoint)
        lastValue = try container.decodeIfPresent(Double.self, forKey: .lastValue)
        let n = dimension
        let consistent =
            n >= 1 && learningRate.isFinite && learningRate > 0 && (pendingPoint?.count ?? n) == n
            && (bestPoint.map { $0.point.count == n && $0.gradient.count == n } ?? true)
            && (status == .running) == (pendingPoint != nil)
        guard consistent else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "inconsistent gradient-descent state"))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(dimension, forKey: .dimension)
        try container.encode(learningRate, forKey: .learningRate)
        try container.encode(stopping, forKey: .stopping)
        try container.encode(status, forKey: .status)
        try container.encodeIfPresent(pendingPoint, forKey: .pendingPoint)
        try container.encode(evaluationCount, forKey: .evaluationCount)
        try container.encode(iterationCount, forKey: .iterationCount)
        try container.encodeIfPresent(bestPoint, forKey: .bestPoint)
        try container.encodeIfPresent(lastValue, forKey: .lastValue)
    }
}

/// Any of the optimizers behind one `Codable` type, for callers that choose at run time and
/// checkpoint the state (the encoding names the kind).
public enum AnyOptimizer: Optimizer, Equatable {
    case lbfgs(LBFGS)
    case gradientDescent(GradientDescent)
    case sgd(SGD)
    case adam(Adam)
    case adamW(AdamW)

    private var wrapped: any Optimizer {
        switch self {
        case .lbfgs(let optimizer): optimizer
        case .gradientDescent(let optimizer): optimizer
        case .sgd(let optimizer): optimizer
        case .adam(let optimizer): optimizer
        case .adamW(let optimizer): optimizer
        }
    }

    public var dimension: Int { wrapped.dimension }
    public var pendingPoint: [Double]? { wrapped.pendingPoint }
    public var status: OptimizerStatus { wrapped.status }
    public var bestPoint: EvaluatedPoint? { wrapped.bestPoint }
    public var evaluationCount: Int { wrapped.evaluationCount }
    public var iterationCount: Int { wrapped.iterationCount }
    public var resultPoint: [Double]? { wrapped.resultPoint }
    public var pendingCompanions: PointCompanions? { wrapped.pendingCompanions }

    public mutating func requestCompanions(_ request: CompanionRequest) throws(OptimizerError) {
        switch self {
        case .lbfgs, .gradientDescent, .sgd: break
        case .adam(var optimizer):
            try optimizer.requestCompanions(request)
            self = .adam(optimizer)
        case .adamW(var optimizer):
            try optimizer.requestCompanions(request)
            self = .adamW(optimizer)
        }
    }

    /// The optimizer's kind, as `--optimizer` names it.
    public var kindName: String {
        switch self {
        case .lbfgs: "lbfgs"
        case .gradientDescent: "gd"
        case .sgd: "sgd"
        case .adam: "adam"
        case .adamW: "adamw"
        }
    }

    /// `observe(value:gradient:)` with the gradient made from `objective` and returned with ‖g‖²: inside the update
    /// pass for Adam and AdamW (‖g‖² in the order of their pieces, see `Adam.observe(value:objective:)`), in a pass of
    /// its own before the observation for the others (`ObjectiveGradient.gradient(threads:)`).
    public mutating func observe(value: Double, objective: ObjectiveGradient) throws(OptimizerError)
        -> (gradient: [Double], squaredNorm: Double)
    {
        switch self {
        case .adam(var optimizer):
            let (gradient, squaredNorm) = try optimizer.observe(value: value, objective: objective)
            self = .adam(optimizer)
            return (gradient, squaredNorm)
        case .adamW(var optimizer):
            let (gradient, squaredNorm) = try optimizer.observe(value: value, objective: objective)
            self = .adamW(optimizer)
            return (gradient, squaredNorm)
        case .lbfgs, .gradientDescent, .sgd:
            let (gradient, squaredNorm) = objective.gradient(threads: 0)
            try observe(value: value, gradient: gradient)
            return (gradient, squaredNorm)
        }
    }

    public mutating func observe(value: Double, gradient: [Double]) throws(OptimizerError) {
        switch self {
        case .lbfgs(var optimizer):
            try optimizer.observe(value: value, gradient: gradient)
            self = .lbfgs(optimizer)
        case .gradientDescent(var optimizer):
            try optimizer.observe(value: value, gradient: gradient)
            self = .gradientDescent(optimizer)
        case .sgd(var optimizer):
            try optimizer.observe(value: value, gradient: gradient)
            self = .sgd(optimizer)
        case .adam(var optimizer):
            try optimizer.observe(value: value, gradient: gradient)
            self = .adam(optimizer)
        case .adamW(var optimizer):
            try optimizer.observe(value: value, gradient: gradient)
            self = .adamW(optimizer)
        }
    }
}
