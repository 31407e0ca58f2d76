import Foundation

/// The state machine behind `Adam` and `AdamW`: moment estimates, bias correction and the optional
/// decoupled weight decay (its formulas are documented on `AdamW`).
///
/// ```text
/// t = updateCount + 1 (1-based, as in Kingma & Ba), η = schedule.rate(at: t − 1); per coordinate i:
///   m_i ← β1·m_i + (1 − β1)·g_i
///   v_i ← β2·v_i + (1 − β2)·(g_i·g_i)
///   u_i = (m_i / (1 − β1^t)) / (√(v_i / (1 − β2^t)) + ε)
///   θ_i ← θ_i − η·u_i                    (not decayed)
///   θ_i ← θ_i − η·(u_i + λ·θ_i)          (decayed; θ_i on the right is the value before the update)
/// ```
///
/// 1 − β1 and 1 − β2 are rounded once; β^t is `pow(β, t)`.
struct AdaptiveMoments: Sendable, Equatable {
    /// λ and the mask of decayed parameters.
    struct DecoupledWeightDecay: Sendable, Codable, Equatable {
        var coefficient: Double
        var mask: [Bool]
    }

    let dimension: Int
    let schedule: LearningRateSchedule
    let beta1: Double
    let beta2: Double
    let epsilon: Double
    let decay: DecoupledWeightDecay?
    /// θ, the pending point while running.
    private(set) var iterate: [Double]
    /// m (first-moment estimate).
    private var firstMoment: [Double]
    /// v (second raw-moment estimate).
    private var secondMoment: [Double]
    private(set) var progress: StochasticProgress

    init(
        initialPoint: [Double], schedule: LearningRateSchedule, beta1: Double, beta2: Double, epsilon: Double,
        decay: DecoupledWeightDecay?
    ) throws(OptimizerError) {
        try validateInitialPoint(initialPoint)
        try Self.validate(
            schedule: schedule, beta1: beta1, beta2: beta2, epsilon: epsilon, decay: decay,
            dimension: initialPoint.count)
        self.dimension = initialPoint.count
        self.schedule = schedule
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.decay = decay
        self.iterate = initialPoint
        self.firstMoment = [Double](repeating: 0, count: initialPoint.count)
        self.secondMoment = [Double](repeating: 0, count: initialPoint.count)
        self.progress = StochasticProgress()
    }

    static func validate(
        schedule: LearningRateSchedule, beta1: Double, beta2: Double, epsilon: Double,
        decay: DecoupledWeightDecay?, dimension: Int
    ) throws(OptimizerError) {
        try schedule.validate()
        guard beta1 >= 0, beta1 < 1 else { throw .invalidSetting("Adam β1 must lie in [0, 1), got \(beta1)") }
        guard beta2 >= 0, beta2 < 1 else { throw .invalidSetting("Adam β2 must lie in [0, 1), got \(beta2)") }
        guard epsilon.isFinite, epsilon > 0 else {
            throw .invalidSetting("Adam ε must be finite and > 0, got \(epsilon)")
        }
        guard let decay else { return }
        let lambda = decay.coefficient
        guard lambda.isFinite, lambda >= 0 else {
            throw .invalidSetting("AdamW weight decay λ must be finite and ≥ 0, got \(lambda)")
        }
        guard schedule.peakRate * lambda < 1 else {
            throw .invalidSetting(
                "AdamW weight decay λ = \(lambda) times the peak learning rate \(schedule.peakRate) must be < 1"
                    + " (the decay factor 1 − η·λ must stay positive)")
        }
        guard decay.mask.count == dimension else {
            throw .invalidSetting(
                "AdamW weight-decay mask has \(decay.mask.count) entries, the optimizer has \(dimension) parameters")
        }
    }

    var pendingPoint: [Double]? { progress.status == .running ? iterate : nil }

    mutating func observe(value: Double, gradient: [Double]) throws(OptimizerError) {
        guard try progress.record(at: pendingPoint, value: value, gradient: gradient, dimension: dimension) else {
            return
        }
        let t = Double(progress.updateCount + 1)
        let rate = schedule.rate(at: progress.updateCount)
        let firstCorrection = 1 - Foundation.pow(beta1, t)
        let secondCorrection = 1 - Foundation.pow(beta2, t)
        let firstWeight = 1 - beta1
        let secondWeight = 1 - beta2
        var nextFirst = firstMoment
        var nextSecond = secondMoment
        var nextIterate = iterate
        for i in 0..<dimension {
            let g = gradient[i]
            nextFirst[i] = beta1 * nextFirst[i] + firstWeight * g
            nextSecond[i] = beta2 * nextSecond[i] + secondWeight * (g * g)
            let correctedFirst = nextFirst[i] / firstCorrection
            let correctedSecond = nextSecond[i] / secondCorrection
            let direction = correctedFirst / (correctedSecond.squareRoot() + epsilon)
            if let decay, decay.mask[i] {
                nextIterate[i] -= rate * (direction + decay.coefficient * nextIterate[i])
            } else {
                nextIterate[i] -= rate * direction
            }
        }
        guard
            progress.commitUpdate(producing: [
                ("parameter", nextIterate), ("first moment", nextFirst), ("second moment", nextSecond),
            ])
        else { return }
        iterate = nextIterate
        firstMoment = nextFirst
        secondMoment = nextSecond
    }

    // MARK: Codable (flat keys, shared by `Adam` and `AdamW`)

    private enum CodingKeys: String, CodingKey {
        case dimension, schedule, beta1, beta2, epsilon, weightDecay, iterate, firstMoment, secondMoment, progress
    }

    init(from decoder: any Decoder, kind: String) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        dimension = try container.decode(Int.self, forKey: .dimension)
        schedule = try container.decode(LearningRateSchedule.self, forKey: .schedule)
        beta1 = try container.decode(Double.self, forKey: .beta1)
        beta2 = try container.decode(Double.self, forKey: .beta2)
        epsilon = try container.decode(Double.self, forKey: .epsilon)
        decay = try container.decodeIfPresent(DecoupledWeightDecay.self, forKey: .weightDecay)
        iterate = try container.decode([Double].self, forKey: .iterate)
        firstMoment = try container.decode([Double].self, forKey: .firstMoment)
        secondMoment = try container.decode([Double].self, forKey: .secondMoment)
        progress = try container.decode(StochasticProgress.self, forKey: .progress)
        let settingsValid: Bool
        do {
            try Self.validate(
                schedule: schedule, beta1: beta1, beta2: beta2, epsilon: epsilon, decay: decay, dimension: dimension)
            settingsValid = true
        } catch {
            settingsValid = false
        }
        let n = dimension
        guard settingsValid, progress.isConsistent(dimension: n),
            iterate.count == n, firstMoment.count == n, secondMoment.count == n,
            allFinite(iterate), allFinite(firstMoment), secondMoment.allSatisfy({ $0.isFinite && $0 >= 0 })
        else { throw inconsistentState(kind, decoder) }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(dimension, forKey: .dimension)
        try container.encode(schedule, forKey: .schedule)
        try container.encode(beta1, forKey: .beta1)
        try container.encode(beta2, forKey: .beta2)
        try container.encode(epsilon, forKey: .epsilon)
        try container.encodeIfPresent(decay, forKey: .weightDecay)
        try container.encode(iterate, forKey: .iterate)
        try container.encode(firstMoment, forKey: .firstMoment)
        try container.encode(secondMoment, forKey: .secondMoment)
        try container.encode(progress, forKey: .progress)
    }
}

/// `Adam` and `AdamW` are public faces of one `AdaptiveMoments` engine; this supplies their shared
/// `Optimizer` requirements from it. The protocol is internal, so only the `Optimizer` requirements
/// below are visible outside the module (each type declares its own other public properties).
protocol AdaptiveMomentsOptimizer: Optimizer {
    var core: AdaptiveMoments { get set }
}

extension AdaptiveMomentsOptimizer {
    public var dimension: Int { core.dimension }
    public var pendingPoint: [Double]? { core.pendingPoint }
    public var status: OptimizerStatus { core.progress.status }
    /// The last observed point with its (mini-batch) value and gradient.
    public var bestPoint: EvaluatedPoint? { core.progress.lastObserved }
    public var evaluationCount: Int { core.progress.evaluationCount }
    /// Updates applied so far (every finite observation applies one; there is no acceptance test).
    public var iterationCount: Int { core.progress.updateCount }

    public mutating func observe(value: Double, gradient: [Double]) throws(OptimizerError) {
        try core.observe(value: value, gradient: gradient)
    }
}
