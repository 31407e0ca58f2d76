/// Stochastic gradient descent for mini-batch training: plain, with classical momentum (Polyak
/// 1964, in the gradient-accumulating form) or with Nesterov momentum (Sutskever, Martens, Dahl &
/// Hinton, "On the importance of initialization and momentum in deep learning", ICML 2013, eq. 3–4).
/// No weight decay: the models' objectives carry their own L2 term.
///
/// ```text
/// t = 0, 1, 2, … (updates applied so far), η_t = schedule.rate(at: t), g_t = observed gradient,
/// θ_0 = initial point, v_0 = 0, 0 ≤ μ < 1; per coordinate i:
///
/// plain       evaluate at θ_t:                        θ_{t+1} = θ_t + (−η_t)·g_t
/// classical   evaluate at θ_t:                        v_{t+1} = μ·v_t + g_t
///                                                     θ_{t+1} = θ_t + (−η_t)·v_{t+1}
/// nesterov    evaluate at φ_t = θ_t + (−η_t·μ)·v_t:   v_{t+1} = μ·v_t + g_t      (g_t = ∇f(φ_t))
///                                                     θ_{t+1} = θ_t + (−η_t)·v_{t+1}
/// ```
///
/// With a constant rate η, Sutskever's velocity is V_t = −η·v_t and the Nesterov update above is
/// exactly theirs: V_{t+1} = μ·V_t − η·∇f(θ_t + μ·V_t), θ_{t+1} = θ_t + V_{t+1}. The pending
/// (evaluated) points φ_t are then also the iterates of the reformulated method of Bengio et al.
/// (2013): φ_{t+1} = φ_t − η·(g_t + μ·v_{t+1}). With a schedule, the accumulated velocity is
/// scaled by the current rate in both momentum forms.
///
/// `bestPoint` is the last point whose finite evaluation was observed, with that mini-batch value
/// and gradient (mini-batch values are not comparable across rounds, so no "lowest value" is kept).
/// For Nesterov momentum that is a look-ahead point φ_t; `iterate` holds θ. The run never
/// converges: it stops only on a non-finite observation or update (see `StochasticProgress`);
/// round limits are the caller's.
public struct SGD: Optimizer, Equatable {
    /// The momentum variant and its coefficient μ ∈ [0, 1).
    public enum Momentum: Sendable, Codable, Equatable, CustomStringConvertible {
        case plain
        case classical(coefficient: Double)
        case nesterov(coefficient: Double)

        /// μ (0 for plain SGD).
        public var coefficient: Double {
            switch self {
            case .plain: 0
            case .classical(let coefficient), .nesterov(let coefficient): coefficient
            }
        }

        public var description: String {
            switch self {
            case .plain: "plain"
            case .classical(let coefficient): "classical momentum \(coefficient)"
            case .nesterov(let coefficient): "Nesterov momentum \(coefficient)"
            }
        }

        func validate() throws(OptimizerError) {
            let mu = coefficient
            guard mu >= 0, mu < 1 else {
                throw .invalidSetting("the momentum coefficient must lie in [0, 1), got \(mu)")
            }
        }
    }

    public let dimension: Int
    public let schedule: LearningRateSchedule
    public let momentum: Momentum
    /// θ_t, the parameters after `updateCount` updates (the pending point except with Nesterov
    /// momentum, whose pending point is the look-ahead point φ_t).
    public private(set) var iterate: [Double]
    /// θ after the last update (for Nesterov momentum, not the look-ahead point evaluated next).
    public var resultPoint: [Double]? { iterate }
    public private(set) var pendingPoint: [Double]?
    /// v_t (empty for plain SGD).
    private var velocity: [Double]
    private var progress: StochasticProgress

    /// Creates the optimizer; the first pending point is `initialPoint` (v_0 = 0, so φ_0 = θ_0).
    public init(initialPoint: [Double], schedule: LearningRateSchedule, momentum: Momentum = .plain)
        throws(OptimizerError)
    {
        try validateInitialPoint(initialPoint)
        try schedule.validate()
        try momentum.validate()
        self.dimension = initialPoint.count
        self.schedule = schedule
        self.momentum = momentum
        self.iterate = initialPoint
        self.velocity = momentum == .plain ? [] : [Double](repeating: 0, count: initialPoint.count)
        self.progress = StochasticProgress()
        self.pendingPoint = initialPoint
    }

    public var status: OptimizerStatus { progress.status }
    /// The last observed point with its (mini-batch) value and gradient; see the type's documentation.
    public var bestPoint: EvaluatedPoint? { progress.lastObserved }
    public var evaluationCount: Int { progress.evaluationCount }
    /// Updates applied so far (every finite observation applies one; there is no acceptance test).
    public var iterationCount: Int { progress.updateCount }
    /// Updates applied so far: the next update uses `schedule.rate(at: updateCount)`.
    public var updateCount: Int { progress.updateCount }

    public mutating func observe(value: Double, gradient: [Double]) throws(OptimizerError) {
        guard try progress.record(at: pendingPoint, value: value, gradient: gradient, dimension: dimension) else {
            pendingPoint = nil
            return
        }
        let rate = schedule.rate(at: progress.updateCount)
        var nextVelocity = velocity
        let nextIterate: [Double]
        switch momentum {
        case .plain:
            nextIterate = step(from: iterate, along: gradient, by: -rate)
        case .classical(let mu), .nesterov(let mu):
            for index in nextVelocity.indices { nextVelocity[index] = mu * nextVelocity[index] + gradient[index] }
            nextIterate = step(from: iterate, along: nextVelocity, by: -rate)
        }
        let nextPending = Self.pendingPoint(
            iterate: nextIterate, velocity: nextVelocity, momentum: momentum,
            rate: schedule.rate(at: progress.updateCount + 1))
        var produced = [(name: "parameter", values: nextIterate), (name: "velocity", values: nextVelocity)]
        if case .nesterov = momentum { produced.append((name: "look-ahead point", values: nextPending)) }
        guard progress.commitUpdate(producing: produced) else {
            pendingPoint = nil
            return
        }
        iterate = nextIterate
        velocity = nextVelocity
        pendingPoint = nextPending
    }

    /// θ_t, or φ_t = θ_t + (−η_t·μ)·v_t for Nesterov momentum.
    private static func pendingPoint(iterate: [Double], velocity: [Double], momentum: Momentum, rate: Double)
        -> [Double]
    {
        guard case .nesterov(let mu) = momentum else { return iterate }
        return step(from: iterate, along: velocity, by: -(rate * mu))
    }

    private enum CodingKeys: String, CodingKey {
        case dimension, schedule, momentum, iterate, velocity, progress
    }

    /// Decodes a checkpoint; the pending point is recomputed from θ, v and the schedule, so the
    /// continuation is bit-identical to the run that was encoded.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        dimension = try container.decode(Int.self, forKey: .dimension)
        schedule = try container.decode(LearningRateSchedule.self, forKey: .schedule)
        momentum = try container.decode(Momentum.self, forKey: .momentum)
        iterate = try container.decode([Double].self, forKey: .iterate)
        velocity = try container.decode([Double].self, forKey: .velocity)
        progress = try container.decode(StochasticProgress.self, forKey: .progress)
        let settingsValid: Bool
        do {
            try schedule.validate()
            try momentum.validate()
            settingsValid = true
        } catch {
            settingsValid = false
        }
        let n = dimension
        guard settingsValid, progress.isConsistent(dimension: n), iterate.count == n, allFinite(iterate),
            velocity.count == (momentum == .plain ? 0 : n), allFinite(velocity)
        else { throw inconsistentState("SGD", decoder) }
        pendingPoint =
            progress.status == .running
            ? Self.pendingPoint(
                iterate: iterate, velocity: velocity, momentum: momentum,
                rate: schedule.rate(at: progress.updateCount))
            : nil
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(dimension, forKey: .dimension)
        try container.encode(schedule, forKey: .schedule)
        try container.encode(momentum, forKey: .momentum)
        try container.encode(iterate, forKey: .iterate)
        try container.encode(velocity, forKey: .velocity)
        try container.encode(progress, forKey: .progress)
    }
}
