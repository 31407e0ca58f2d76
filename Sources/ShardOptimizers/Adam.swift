/// Adam (Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015, Algorithm 1) with
/// bias-corrected moment estimates and a schedule-driven step size.
///
/// ```text
/// t = 1, 2, … (the t-th update), η = schedule.rate(at: t − 1), g = observed gradient,
/// m_0 = v_0 = 0; per coordinate i:
///   m_i ← β1·m_i + (1 − β1)·g_i
///   v_i ← β2·v_i + (1 − β2)·(g_i·g_i)
///   m̂_i = m_i / (1 − β1^t),   v̂_i = v_i / (1 − β2^t)
///   θ_i ← θ_i − η·(m̂_i / (√v̂_i + ε))
/// ```
///
/// ε is added to √v̂ (the form of Algorithm 1, not the "ε̂" of the paper's efficient variant). On
/// the first update m̂ = g and v̂ = g² up to rounding, so the step is −η·g_i / (|g_i| + ε): about
/// η in every coordinate whatever the gradient's scale. No weight decay: the models' objectives carry
/// their own L2 term (`AdamW` adds the decoupled form).
///
/// `bestPoint` is the last point whose finite evaluation was observed, with that mini-batch value
/// and gradient (mini-batch values are not comparable across rounds). The run never converges: it
/// stops only on a non-finite observation or update; round limits are the caller's.
public struct Adam: AdaptiveMomentsOptimizer, Equatable {
    var core: AdaptiveMoments

    /// Creates the optimizer; the first pending point is `initialPoint`.
    /// Requires 0 ≤ β1 < 1, 0 ≤ β2 < 1, ε > 0 finite and a valid schedule.
    public init(
        initialPoint: [Double], schedule: LearningRateSchedule, beta1: Double = 0.9, beta2: Double = 0.999,
        epsilon: Double = 1e-8
    ) throws(OptimizerError) {
        core = try AdaptiveMoments(
            initialPoint: initialPoint, schedule: schedule, beta1: beta1, beta2: beta2, epsilon: epsilon, decay: nil)
    }

    public var schedule: LearningRateSchedule { core.schedule }
    public var beta1: Double { core.beta1 }
    public var beta2: Double { core.beta2 }
    public var epsilon: Double { core.epsilon }
    /// θ after `updateCount` updates (kept after a stop).
    public var iterate: [Double] { core.iterate }
    /// θ after the last update.
    public var resultPoint: [Double]? { iterate }
    /// Updates applied so far: the next update is the (updateCount + 1)-th, at rate
    /// `schedule.rate(at: updateCount)`.
    public var updateCount: Int { core.progress.updateCount }

    public init(from decoder: any Decoder) throws {
        core = try AdaptiveMoments(from: decoder, kind: "Adam")
        guard core.decay == nil else {
            throw inconsistentState("Adam", decoder, detail: "it carries a weight decay (an AdamW state?)")
        }
    }

    public func encode(to encoder: any Encoder) throws { try core.encode(to: encoder) }
}
