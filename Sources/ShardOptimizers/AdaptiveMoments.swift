import CShardKernels
import Foundation
import ShardNumerics
import Synchronization

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
    /// The companions the updates make of each new iterate (see `PointCompanions`).
    var companions = CompanionCache()

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

    /// The update runs before the observation is checked: an update whose every m, v and θ is finite had a finite
    /// gradient (m = β1·m + (1 − β1)·g with 1 − β1 > 0 and m finite before), so the gradient is scanned only when
    /// the update or the value is not finite, and the outcome is the documented one either way.
    mutating func observe(value: Double, gradient: [Double]) throws(OptimizerError) {
        try progress.validate(pendingPoint, gradient: gradient, dimension: dimension)
        _ = try observe(value: value, source: .given(gradient))
    }

    /// The update's pieces: those of the companions' squared ranges (none: chunks from 0).
    private var pieceRanges: [Range<Int>] { companions.request?.squaredRanges ?? [] }

    /// `observe(value:gradient:)` with the gradient made from `objective` inside the update pass (each entry in
    /// register as the update reads it, and written into a new vector); returns the gradient and ‖g‖², summed in
    /// the same pass: each of the update's pieces (`VectorPasses.pieces(count:over:)` of the companions' squared
    /// ranges) in `LaneSums` order, the pieces' sums added in index order.
    mutating func observe(value: Double, objective: ObjectiveGradient) throws(OptimizerError)
        -> (gradient: [Double], squaredNorm: Double)
    {
        try progress.validate(pendingPoint, gradientCount: objective.count, dimension: dimension)
        return try observe(value: value, source: .objective(objective))
    }

    /// Where the update finds the gradient.
    private enum GradientSource {
        case given([Double])
        case objective(ObjectiveGradient)

        /// Runs `body` on the gradient's first entry and, for an objective's gradient, that objective (which the
        /// update writes there, into a new vector); returns the gradient.
        func withGradient(
            count: Int, _ body: (SharedMutablePointer<Double>, ObjectiveGradient?) -> Void
        ) -> [Double] {
            switch self {
            case .given(let gradient):
                // Read only: the objective is nil, so nothing writes through the pointer.
                gradient.withUnsafeBufferPointer {
                    body(SharedMutablePointer(UnsafeMutablePointer(mutating: $0.baseAddress)), nil)
                }
                return gradient
            case .objective(let objective):
                return [Double](unsafeUninitializedCapacity: count) { buffer, initialized in
                    body(SharedMutablePointer(buffer.baseAddress), objective)
                    initialized = count
                }
            }
        }
    }

    /// The update; returns the gradient and the squares of the gradient it made (0 for a given gradient).
    private mutating func observe(value: Double, source: GradientSource) throws(OptimizerError)
        -> (gradient: [Double], squaredNorm: Double)
    {
        let t = Double(progress.updateCount + 1)
        let rate = schedule.rate(at: progress.updateCount)
        let firstCorrection = 1 - Foundation.pow(beta1, t)
        let secondCorrection = 1 - Foundation.pow(beta2, t)
        let firstWeight = 1 - beta1
        let secondWeight = 1 - beta2
        let (gradient, gradientSquares, nextFirst, nextSecond, nextIterate, made, finite) = update(
            source, rate: rate, firstWeight: firstWeight, secondWeight: secondWeight,
            firstCorrection: firstCorrection, secondCorrection: secondCorrection)
        guard
            try progress.record(
                at: pendingPoint, value: value, gradient: gradient, dimension: dimension,
                gradientKnownFinite: finite)
        else { return (gradient, gradientSquares) }
        // The non-finite case (rare) goes through the checks that name the entry and stop the run.
        guard
            finite
                ? progress.commitFiniteUpdate()
                : progress.commitUpdate(producing: [
                    ("parameter", nextIterate), ("first moment", nextFirst), ("second moment", nextSecond),
                ])
        else { return (gradient, gradientSquares) }
        iterate = nextIterate
        firstMoment = nextFirst
        secondMoment = nextSecond
        companions.made = made
        return (gradient, gradientSquares)
    }

    /// The formulas of the type's documentation for every coordinate, written into three new vectors (the old
    /// ones stay intact until the update is known to be finite), the requested companions of the new θ, and
    /// whether every new entry is finite; from an objective, each coordinate's gradient is made in the update's
    /// loop and written into a new vector (returned). The coordinates are cut into `VectorPasses` pieces computed
    /// on every core; each coordinate's arithmetic is the same whichever thread runs it, and the squares are summed
    /// in `VectorPasses.sumOfSquares(_:over:threads:)` order, so the bits do not depend on the core count.
    private func update(
        _ source: GradientSource, rate: Double, firstWeight: Double, secondWeight: Double, firstCorrection: Double,
        secondCorrection: Double
    ) -> (
        gradient: [Double], gradientSquares: Double, first: [Double], second: [Double], iterate: [Double],
        companions: PointCompanions?, finite: Bool
    ) {
        let n = dimension
        let step = shardtrain_adam_step(
            beta1: beta1, beta2: beta2, first_weight: firstWeight, second_weight: secondWeight,
            first_correction: firstCorrection, second_correction: secondCorrection, epsilon: epsilon, rate: rate,
            decay: decay?.coefficient ?? 0)
        let nonFinite = Atomic<Bool>(false)
        let request = companions.request
        let roundedCount = request?.rounded == true ? n : 0
        var nextFirst: [Double] = []
        var nextSecond: [Double] = []
        var nextIterate: [Double] = []
        var gradient: [Double] = []
        var squares = 0.0
        var gradientSquares = 0.0
        let ranges = pieceRanges
        let rounded = [Float](unsafeUninitializedCapacity: roundedCount) { rounded, roundedInitialized in
            let roundedTo = SharedMutablePointer(roundedCount == 0 ? nil : rounded.baseAddress)
            nextFirst = [Double](unsafeUninitializedCapacity: n) { outFirst, firstCount in
                nextSecond = [Double](unsafeUninitializedCapacity: n) { outSecond, secondCount in
                    nextIterate = [Double](unsafeUninitializedCapacity: n) { outTheta, thetaCount in
                        gradient = source.withGradient(count: n) { gradient, objective in
                            firstMoment.withUnsafeBufferPointer { first in
                                secondMoment.withUnsafeBufferPointer { second in
                                    iterate.withUnsafeBufferPointer { theta in
                                        (decay?.mask ?? []).withUnsafeBufferPointer { mask in
                                            let vectors = UpdateVectors(
                                                gradient: gradient.pointer.map { UnsafePointer($0) },
                                                first: first.baseAddress,
                                                second: second.baseAddress, theta: theta.baseAddress,
                                                mask: decay == nil ? nil : mask.baseAddress,
                                                outFirst: outFirst.baseAddress, outSecond: outSecond.baseAddress,
                                                outTheta: outTheta.baseAddress)
                                            (squares, gradientSquares) = VectorPasses.forEachPiece(
                                                count: n, threads: 0, over: ranges
                                            ) { range, squared in
                                                let (finite, squares, gradientSquares) = vectors.update(
                                                    range, step: step, objective: objective, gradient: gradient,
                                                    rounded: roundedTo, squared: squared)
                                                if !finite { nonFinite.store(true, ordering: .relaxed) }
                                                return (squares, gradientSquares)
                                            }
                                        }
                                    }
                                }
                            }
                        }
                        thetaCount = n
                    }
                    secondCount = n
                }
                firstCount = n
            }
            roundedInitialized = roundedCount
        }
        let made = request.map {
            PointCompanions(squares: $0.squaredRanges == nil ? nil : squares, rounded: $0.rounded ? rounded : nil)
        }
        return (
            gradient, gradientSquares, nextFirst, nextSecond, nextIterate, made, !nonFinite.load(ordering: .relaxed)
        )
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

    /// `observe(value:gradient:)` with the gradient made from `objective` inside the update pass; returns it.
    /// `observe(value:gradient:)` with the gradient made from `objective` in the update's pass; returns it and its
    /// ‖g‖², summed in that pass (see `AdaptiveMoments.observe(value:objective:)` for the order).
    public mutating func observe(value: Double, objective: ObjectiveGradient) throws(OptimizerError)
        -> (gradient: [Double], squaredNorm: Double)
    {
        try core.observe(value: value, objective: objective)
    }

    public var pendingCompanions: PointCompanions? { core.pendingPoint == nil ? nil : core.companions.made }

    public mutating func requestCompanions(_ request: CompanionRequest) throws(OptimizerError) {
        try request.validate(dimension: core.dimension)
        core.companions = CompanionCache(request: request, made: nil)
    }
}

/// The vectors of one Adam update as plain pointers, for the chunks computed on other threads: each chunk reads
/// its own coordinates of the inputs and writes only its own coordinates of the outputs.
private struct UpdateVectors: @unchecked Sendable {
    let gradient: UnsafePointer<Double>?
    let first: UnsafePointer<Double>?
    let second: UnsafePointer<Double>?
    let theta: UnsafePointer<Double>?
    /// The decay mask (nil without decay).
    let mask: UnsafePointer<Bool>?
    let outFirst: UnsafeMutablePointer<Double>?
    let outSecond: UnsafeMutablePointer<Double>?
    let outTheta: UnsafeMutablePointer<Double>?

    /// Writes m, v and θ of the coordinates `range` (`AdaptiveMoments`'s formulas, the compiled
    /// `shardtrain_adam_update_f64`: its lanes give the scalar bits), `Float(θ'_k)` into `rounded` when it is
    /// not nil, and returns whether every written value is finite and, when `squared`, the `LaneSums` sum of the
    /// range's θ'_k² (else 0). With `objective`, the range's gradient is made from it and written into `written`
    /// first: in the update's own loop (`shardtrain_adam_update_objective_f64`) when the range is all regularised
    /// or all not, else by `ObjectiveGradient.write` just before; `gradientSquares` is then the `LaneSums` sum of
    /// the range's g_k² (0 without `objective`).
    func update(
        _ range: Range<Int>, step: shardtrain_adam_step, objective: ObjectiveGradient?,
        gradient written: SharedMutablePointer<Double>, rounded: SharedMutablePointer<Float>, squared: Bool
    ) -> (finite: Bool, squares: Double, gradientSquares: Double) {
        guard let gradient, let first, let second, let theta, let outFirst, let outSecond, let outTheta,
            !range.isEmpty
        else { return (true, 0, 0) }
        let i = range.lowerBound
        var step = step
        var squares = 0.0
        var gradientSquares = 0.0
        let nonFinite = withUnsafeMutablePointer(to: &squares) { squaresOut in
            let (maskAt, roundedAt) = (mask.map { $0 + i }, rounded.pointer.map { $0 + i })
            let squaresAt = squared ? squaresOut : nil
            if let objective, let out = written.pointer {
                if let regularized = objective.regularization(of: range) {
                    return objective.withSource(from: i, regularized: regularized) { source in
                        shardtrain_adam_update_objective_f64(
                            &step, &source, first + i, second + i, theta + i, maskAt, range.count, out + i,
                            outFirst + i, outSecond + i, outTheta + i, roundedAt, squaresAt, &gradientSquares)
                    }
                }
                objective.write(range, into: out)
                gradientSquares = LaneSums.sumOfSquares(UnsafeBufferPointer(start: out + i, count: range.count))
            }
            return shardtrain_adam_update_f64(
                &step, gradient + i, first + i, second + i, theta + i, maskAt, range.count, outFirst + i,
                outSecond + i, outTheta + i, roundedAt, squaresAt)
        }
        return (nonFinite == 0, squares, gradientSquares)
    }
}
