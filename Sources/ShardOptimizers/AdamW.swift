/// AdamW: Adam with decoupled weight decay (Loshchilov & Hutter, "Decoupled Weight Decay
/// Regularization", ICLR 2019, Algorithm 2), decaying only the parameters selected by a mask (the
/// model's weight tensors; biases and other parameters are left out).
///
/// ```text
/// t = 1, 2, … (the t-th update), η = schedule.rate(at: t − 1), g = observed gradient,
/// m_0 = v_0 = 0, λ ≥ 0; per coordinate i:
///   m_i ← β1·m_i + (1 − β1)·g_i
///   v_i ← β2·v_i + (1 − β2)·(g_i·g_i)
///   u_i = (m_i / (1 − β1^t)) / (√(v_i / (1 − β2^t)) + ε)
///   θ_i ← θ_i − η·(u_i + λ·θ_i)     if mask[i]   (θ_i on the right: the value before this update)
///   θ_i ← θ_i − η·u_i               otherwise    (exactly Adam's update)
/// ```
///
/// The decay is multiplied by the scheduled rate η, as in the common implementations: the paper's
/// θ ← θ − s_t·(α·u + λ_paper·θ) with base rate α and schedule multiplier s_t is this with
/// η = α·s_t and λ = λ_paper / α. The decay never enters m or v (that is what "decoupled" means;
/// an L2 term in the objective would). Validation requires λ·η_peak < 1 so the decay factor
/// 1 − η·λ stays positive.
///
/// `bestPoint` is the last point whose finite evaluation was observed, with that mini-batch value
/// and gradient. The run never converges: it stops only on a non-finite observation or update;
/// round limits are the caller's.
public struct AdamW: AdaptiveMomentsOptimizer, Equatable {
    var core: AdaptiveMoments

    /// Creates the optimizer with `decayMask[i]` true for every parameter that is decayed.
    /// Requires `decayMask.count == initialPoint.count`, λ finite ≥ 0 with λ·peak rate < 1,
    /// 0 ≤ β1 < 1, 0 ≤ β2 < 1, ε > 0 finite and a valid schedule.
    public init(
        initialPoint: [Double], schedule: LearningRateSchedule, weightDecay: Double, decayMask: [Bool],
        beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8
    ) throws(OptimizerError) {
        core = try AdaptiveMoments(
            initialPoint: initialPoint, schedule: schedule, beta1: beta1, beta2: beta2, epsilon: epsilon,
            decay: .init(coefficient: weightDecay, mask: decayMask))
    }

    /// Creates the optimizer decaying the parameters whose indices lie in any of `decayedRanges`
    /// (e.g. the weight tensors' slices of the parameter vector; ranges may be empty or overlap).
    public init(
        initialPoint: [Double], schedule: LearningRateSchedule, weightDecay: Double, decayedRanges: [Range<Int>],
        beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8
    ) throws(OptimizerError) {
        var mask = [Bool](repeating: false, count: initialPoint.count)
        for range in decayedRanges {
            guard range.lowerBound >= 0, range.upperBound <= initialPoint.count else {
                throw .invalidSetting(
                    "AdamW decayed range \(range) is outside the \(initialPoint.count) parameter indices")
            }
            for index in range { mask[index] = true }
        }
        try self.init(
            initialPoint: initialPoint, schedule: schedule, weightDecay: weightDecay, decayMask: mask,
            beta1: beta1, beta2: beta2, epsilon: epsilon)
    }

    public var schedule: LearningRateSchedule { core.schedule }
    public var beta1: Double { core.beta1 }
    public var beta2: Double { core.beta2 }
    public var epsilon: Double { core.epsilon }
    /// λ.
    public var weightDecay: Double { core.decay?.coefficient ?? 0 }
    /// `decayMask[i]` is true when parameter i is decayed.
    public var decayMask: [Bool] { core.decay?.mask ?? [] }
    /// θ after `updateCount` updates (kept after a stop).
    public var iterate: [Double] { core.iterate }
    /// θ after the last update.
    public var resultPoint: [Double]? { iterate }
    /// Updates applied so far: the next update is the (updateCount + 1)-th, at rate
    /// `schedule.rate(at: updateCount)`.
    public var updateCount: Int { core.progress.updateCount }

    public init(from decoder: any Decoder) throws {
        core = try AdaptiveMoments(from: decoder, kind: "AdamW")
        guard core.decay != nil else {
            throw inconsistentState("AdamW", decoder, detail: "it has no weight decay (an Adam state?)")
        }
    }

    public func encode(to encoder: any Encoder) throws { try core.encode(to: encoder) }
}
