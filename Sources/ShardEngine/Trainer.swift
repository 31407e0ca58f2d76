import ShardModels
import ShardNumerics
import ShardOptimizers

/// Which optimizer steps the parameters on the coordinator.
public enum OptimizerChoice: Sendable, Equatable {
    /// Full-batch L-BFGS with a strong-Wolfe line search, keeping `memory` curvature pairs.
    case lbfgs(memory: Int)
    /// Full-batch gradient descent with a fixed step.
    case gradientDescent(learningRate: Double)
    /// Stochastic gradient descent (plain, classical or Nesterov momentum) on mini-batches.
    case sgd(schedule: LearningRateSchedule, momentum: SGD.Momentum)
    /// Adam on mini-batches.
    case adam(schedule: LearningRateSchedule, beta1: Double, beta2: Double, epsilon: Double)
    /// AdamW on mini-batches: Adam with decoupled weight decay on the model's regularised tensors.
    case adamW(schedule: LearningRateSchedule, weightDecay: Double, beta1: Double, beta2: Double, epsilon: Double)

    /// Whether the optimizer works on mini-batches (one step per round, no convergence test).
    public var isStochastic: Bool {
        switch self {
        case .lbfgs, .gradientDescent: false
        case .sgd, .adam, .adamW: true
        }
    }
}

/// A smoothing continuation for non-smooth objectives (hinge, pinball): solve with smoothing
/// μ = initial, initial·factor, … down to `final` (each stage warm-started from the last), then report the
/// exact (μ = 0) objective at the final point. The smoothed losses satisfy `F_μ ≤ F ≤ F_μ + c·μ` (c ≤ 1/2),
/// so the final point is within `c·final` of the exact optimum plus the last stage's optimisation error.
/// Stages before the last only provide a warm start, so they stop at a looser relative objective change
/// (`stageTolerance`); the last stage uses the run's stopping criteria. After each stage the exact objective
/// is evaluated (one round), and the stage end with the lowest exact objective is the result.
public struct Continuation: Sendable, Equatable {
    public var initial: Double
    public var factor: Double
    public var final: Double
    public var stageTolerance: Double = 1e-11

    public init(initial: Double, factor: Double = 0.1, final: Double) throws(EngineError) {
        guard initial.isFinite, final.isFinite, initial >= final, final > 0, factor > 0, factor < 1 else {
            throw .optimizer(
                "continuation needs initial ≥ final > 0 and 0 < factor < 1, got \(initial), \(final), \(factor)")
        }
        self.initial = initial
        self.factor = factor
        self.final = final
    }

    /// The smoothing of every stage, from `initial` down to `final` (which is always the last stage).
    public var stages: [Double] {
        var stages: [Double] = []
        var mu = initial
        while mu > final * (1 + 1e-12) {
            stages.append(mu)
            mu *= factor
        }
        stages.append(final)
        return stages
    }
}

/// How long to train and when to stop.
public struct TrainingOptions: Sendable, Equatable {
    public var optimizer: OptimizerChoice
    /// Rounds in all (every objective evaluation is a round, including line-search trials, continuation
    /// stages and the final full-batch evaluation of a mini-batch run).
    public var maxRounds: Int
    public var stopping: StoppingCriteria
    /// Mini-batch schedule (stochastic optimizers only).
    public var batch: BatchSchedule?
    /// Smoothing continuation (deterministic optimizers on non-smooth objectives).
    public var continuation: Continuation?
    /// Hand the evaluated point to the observer's `checkpoint` every this many rounds (nil: never).
    public var checkpointEvery: Int?

    public init(
        optimizer: OptimizerChoice, maxRounds: Int, stopping: StoppingCriteria, batch: BatchSchedule? = nil,
        continuation: Continuation? = nil
    ) {
        self.optimizer = optimizer
        self.maxRounds = maxRounds
        self.stopping = stopping
        self.batch = batch
        self.continuation = continuation
    }
}

/// What the coordinator knows after one round (one evaluation of the objective).
public struct RoundReport: Sendable, Equatable {
    public var round: Int
    /// Objective at the point evaluated in this round (of the round's mini-batch and smoothing).
    public var objective: Double
    public var gradientNorm: Double
    public var rowsPerSecond: Double
    /// From the round's request to its objective; with a stochastic optimizer, whose update makes the objective's
    /// gradient in its own pass, the update is included.
    public var roundSeconds: Double
    public var workerTimings: [WorkerTiming]
    /// Smoothing μ of this round (0 = exact loss).
    public var smoothing: Double
    /// The mini-batch step, or nil for a full-batch round.
    public var batchStep: Int?
}

/// Receives a report after every round (progress display, JSON lines, subscribers), and every
/// `TrainingOptions.checkpointEvery` rounds the point just evaluated (held-out metrics during training).
public protocol TrainingObserver {
    func roundFinished(_ report: RoundReport)
    func checkpoint(round: Int, parameters: [Double])
}

extension TrainingObserver {
    public func checkpoint(round: Int, parameters: [Double]) {}
}

/// How a run ended.
public struct TrainingResult: Sendable, Equatable {
    /// The final point: the best accepted point of a deterministic optimizer (always an evaluated one; with
    /// a continuation, of the stage whose end has the lowest exact objective), or the iterate after the last
    /// update of a stochastic one.
    public var parameters: [Double]
    /// The exact, full-batch objective at `parameters`.
    public var objective: Objective
    public var rounds: Int
    /// Whether the (last) optimizer run met its stopping criteria; `stopReason` says which, or why not.
    public var converged: Bool
    public var stopReason: String
    /// Why the last optimizer stopped without converging, typed (nil when it converged, reached the round limit,
    /// or ran its mini-batch steps).
    public var stop: StopReason?
    public var wallSeconds: Double
    /// Whether an optimizer stopped because the objective became non-finite (a step size too large): the
    /// parameters are then the last finite point, not a trained model.
    public var diverged = false

    public init(
        parameters: [Double], objective: Objective, rounds: Int, converged: Bool, stopReason: String,
        stop: StopReason? = nil, wallSeconds: Double, diverged: Bool = false
    ) {
        self.parameters = parameters
        self.objective = objective
        self.rounds = rounds
        self.converged = converged
        self.stopReason = stopReason
        self.stop = stop
        self.wallSeconds = wallSeconds
        self.diverged = diverged
    }
}

/// The round loop: ask the optimizer for a point, evaluate it on the executor, tell the optimizer, report.
public struct Trainer {
    public let model: any Model
    public let executor: any Executor
    public let options: TrainingOptions

    public init(model: any Model, executor: any Executor, options: TrainingOptions) {
        self.model = model
        self.executor = executor
        self.options = options
    }

    /// Trains from the model's initial parameters, or continues from `saved` (a state an earlier run of the
    /// same model, options and data handed to its `saving` sink): the rounds after it are those of the
    /// uninterrupted run, so the result has the same bits. With `saving`, the state goes to its sink every
    /// `saving.every` rounds, before an interrupt stops the run, and once the optimisation is over.
    public func run(
        observer: (any TrainingObserver)? = nil, shouldStop: @escaping () -> Bool = { false },
        resumingFrom saved: TrainerState? = nil, saving: StateSaving? = nil
    ) throws(EngineError) -> TrainingResult {
        let start = ContinuousClock.now
        if let saved { try validate(saved) }
        var loop = RoundLoop(
            model: model, executor: executor, observer: observer, checkpointEvery: options.checkpointEvery,
            shouldStop: shouldStop, saving: saving, resumingFrom: saved)
        var point = model.initialParameters()
        var outcome: (converged: Bool, reason: String)
        var diverged = false
        var stop: StopReason?
        let final: TrainerState
        if options.optimizer.isStochastic {
            guard options.batch != nil else {
                throw .optimizer("a stochastic optimizer needs a mini-batch schedule (blocks per round)")
            }
            var optimizer = try restoredOrNewOptimizer(saved, from: point)
            // The next round's L2 sum and Float parameters from the update pass (`PointCompanions`).
            do {
                try optimizer.requestCompanions(
                    CompanionRequest(
                        squaredRanges: model.regularizedRanges, rounded: executor.usesRoundedParameters))
            } catch {
                throw .optimizer(error.description)
            }
            // A mini-batch run's step index is its round count. Keep one round for the final full-batch evaluation.
            let firstStep = loop.round
            try loop.optimize(&optimizer, budget: options.maxRounds - 1 - loop.round) { step in
                RoundRequest(round: 0, batchStep: firstStep + step)
            } state: { TrainerState(round: 0, optimizer: $0) }
            // θ after the last update (the initial point when the single round is the final evaluation).
            point = optimizer.resultPoint ?? point
            diverged = Self.diverged(optimizer)
            stop = Self.stop(optimizer)
            if case .stopped = optimizer.status {
                outcome = Self.status(optimizer, maxRounds: options.maxRounds)
            } else {
                outcome = (
                    false,
                    "ran \(loop.round) mini-batch steps and the closing full-batch evaluation (stochastic optimizers "
                        + "stop at the round limit)"
                )
            }
            final = TrainerState(round: 0, optimizer: optimizer)
        } else if let continuation = options.continuation {
            var progress = saved?.continuation ?? ContinuationProgress(stage: 0, start: point)
            var resumed = saved?.optimizer
            let stages = continuation.stages
            while progress.stage < stages.count {
                let (stage, smoothing) = (progress.stage, stages[progress.stage])
                var optimizer: AnyOptimizer
                if let resumed {
                    optimizer = resumed
                } else {
                    var stopping = options.stopping
                    if stage < stages.count - 1 {
                        stopping.relativeObjectiveTolerance = max(stopping.relativeObjectiveTolerance, continuation.stageTolerance)
                    }
                    optimizer = try makeOptimizer(from: progress.start, stopping: stopping)
                    guard options.maxRounds - loop.round - 1 > 0 else {
                        progress.reason = "reached the round limit (\(options.maxRounds)) in continuation stage \(stage + 1)"
                        progress.converged = false
                        break
                    }
                }
                resumed = nil
                let before = progress
                try loop.optimize(&optimizer, budget: max(0, options.maxRounds - loop.round - 1)) { _ in
                    RoundRequest(round: 0, smoothing: smoothing)
                } state: { TrainerState(round: 0, optimizer: $0, continuation: before) }
                let end = try lastPoint(of: optimizer)
                progress.diverged = progress.diverged || Self.diverged(optimizer)
                progress.stop = Self.stop(optimizer)
                let (converged, reason) = Self.status(optimizer, maxRounds: options.maxRounds)
                progress.converged = converged
                progress.reason = "continuation stage \(stage + 1) (μ = \(smoothing)): \(reason)"
                let finished = optimizer
                let exact = try loop.evaluate(end, RoundRequest(round: 0)) {
                    TrainerState(round: 0, optimizer: finished, continuation: before)
                }.objective
                if exact.value <= progress.best?.value ?? .infinity { progress.best = ExactObjective(point: end, objective: exact) }
                progress.stage += 1
                progress.start = end
                let between = progress
                try loop.roundSaved { TrainerState(round: 0, optimizer: nil, continuation: between) }
            }
            point = progress.best?.point ?? progress.start
            outcome = (progress.converged, progress.reason)
            diverged = progress.diverged
            stop = progress.stop
            final = TrainerState(round: 0, optimizer: nil, continuation: progress)
        } else {
            var optimizer = try restoredOrNewOptimizer(saved, from: point)
            let initial = point
            try loop.optimize(&optimizer, budget: options.maxRounds - loop.round) { _ in RoundRequest(round: 0) } state: {
                TrainerState(round: 0, optimizer: $0)
            }
            point = try lastPoint(of: optimizer)
            diverged = Self.diverged(optimizer)
            stop = Self.stop(optimizer)
            outcome = Self.status(optimizer, maxRounds: options.maxRounds)
            if !outcome.converged, loop.round > 1, point == initial {
                outcome.reason += "; the objective never went below its value at the initial point (for gd: lower --learning-rate)"
            }
            final = TrainerState(round: 0, optimizer: optimizer)
        }
        try loop.save(final, moment: .finished)
        // The reported objective: exact (μ = 0) and over every block, at the final point.
        let objective: Objective
        if let cached = loop.exactObjective(at: point, continuation: final.continuation) {
            objective = cached
        } else {
            objective = try loop.evaluate(point, RoundRequest(round: 0)) { final }.objective
        }
        return TrainingResult(
            parameters: point, objective: objective, rounds: loop.round, converged: outcome.converged,
            stopReason: outcome.reason, stop: stop, wallSeconds: (ContinuousClock.now - start).seconds,
            diverged: diverged)
    }

    private static func stop(_ optimizer: any Optimizer) -> StopReason? {
        if case .stopped(let reason) = optimizer.status { return reason }
        return nil
    }

    private static func diverged(_ optimizer: any Optimizer) -> Bool {
        switch stop(optimizer) {
        case .nonFiniteEvaluation, .nonFiniteInitialEvaluation: true
        case .stepBelowResolution, .lineSearchFailed, nil: false
        }
    }

    private static func status(_ optimizer: any Optimizer, maxRounds: Int) -> (Bool, String) {
        switch optimizer.status {
        case .converged(let reason): (true, reason.description)
        case .stopped(let reason): (false, reason.description)
        case .running: (false, "reached the round limit (\(maxRounds))")
        }
    }

    private func restoredOrNewOptimizer(_ saved: TrainerState?, from initial: [Double]) throws(EngineError) -> AnyOptimizer {
        if let optimizer = saved?.optimizer { return optimizer }
        return try makeOptimizer(from: initial)
    }

    private func lastPoint(of optimizer: any Optimizer) throws(EngineError) -> [Double] {
        guard let point = optimizer.resultPoint else {
            throw .optimizer("no point was accepted (\(optimizer.status))")
        }
        return point
    }

    func makeOptimizer(from initial: [Double], stopping: StoppingCriteria? = nil) throws(EngineError)
        -> AnyOptimizer
    {
        let stopping = stopping ?? options.stopping
        do {
            switch options.optimizer {
            case .lbfgs(let memory):
                return .lbfgs(try LBFGS(initialPoint: initial, memory: memory, stopping: stopping))
            case .gradientDescent(let learningRate):
                return .gradientDescent(try GradientDescent(initialPoint: initial, learningRate: learningRate, stopping: stopping))
            case .sgd(let schedule, let momentum):
                return .sgd(try SGD(initialPoint: initial, schedule: schedule, momentum: momentum))
            case .adam(let schedule, let beta1, let beta2, let epsilon):
                return .adam(try Adam(initialPoint: initial, schedule: schedule, beta1: beta1, beta2: beta2, epsilon: epsilon))
            case .adamW(let schedule, let weightDecay, let beta1, let beta2, let epsilon):
                let decayed = model.layout.tensors.filter(\.regularized).map(\.range)
                return .adamW(
                    try AdamW(
                        initialPoint: initial, schedule: schedule, weightDecay: weightDecay, decayedRanges: decayed,
                        beta1: beta1, beta2: beta2, epsilon: epsilon))
            }
        } catch {
            throw .optimizer(error.description)
        }
    }
}

/// Numbers the rounds, evaluates points on the executor, reports each round, remembers the exact full-batch
/// objective at the optimizer's result point (so the final report needs no extra round when the point was
/// evaluated) and hands the trainer's state to the saving sink.
struct RoundLoop {
    let model: any Model
    let executor: any Executor
    let observer: (any TrainingObserver)?
    let checkpointEvery: Int?
    let shouldStop: () -> Bool
    let saving: StateSaving?
    private(set) var round: Int
    private var resultObjective: ExactObjective?

    init(
        model: any Model, executor: any Executor, observer: (any TrainingObserver)?, checkpointEvery: Int?,
        shouldStop: @escaping () -> Bool, saving: StateSaving?, resumingFrom saved: TrainerState?
    ) {
        self.model = model
        self.executor = executor
        self.observer = observer
        self.checkpointEvery = checkpointEvery
        self.shouldStop = shouldStop
        self.saving = saving
        self.round = saved?.round ?? 0
        self.resultObjective = saved?.resultObjective
    }

    /// Runs `optimizer` until it finishes or `budget` rounds are used; `request(step)` gives the settings
    /// of its `step`-th evaluation in this call (the round number is filled in here); `state(optimizer)` is
    /// the trainer's state around it (round and result objective are filled in here).
    mutating func optimize(
        _ optimizer: inout AnyOptimizer, budget: Int, request: (Int) -> RoundRequest,
        state: (AnyOptimizer) -> TrainerState
    ) throws(EngineError) {
        var steps = 0
        while steps < budget, let point = optimizer.pendingPoint {
            let settings = request(steps)
            // The optimizer's update writes the gradient itself (Adam: in its own pass, piece by piece).
            let (objective, _) = try evaluate(point, settings, companions: optimizer.pendingCompanions) {
                state(optimizer)
            } gradient: { (pending) throws(EngineError) in
                do throws(OptimizerError) {
                    return try optimizer.observe(value: pending.value, objective: pending.gradient)
                } catch {
                    throw .optimizer(error.description)
                }
            }
            steps += 1
            if settings.smoothing == 0, settings.batchStep == nil, optimizer.resultPoint == point {
                resultObjective = ExactObjective(point: point, objective: objective)
            }
            // The optimizer's current result, not a line-search trial it may reject.
            if let every = checkpointEvery, every > 0, round % every == 0, let current = optimizer.resultPoint {
                observer?.checkpoint(round: round, parameters: current)
            }
            try roundSaved { state(optimizer) }
        }
    }

    /// One round at `point` (with what the optimizer made of it already, if anything). When the run was asked to
    /// stop, the state after the previous round (`state()`) is saved and `.interrupted` thrown instead. `gradient`
    /// writes the objective's gradient and returns it with ‖g‖² when it summed it (default: a pass of its own).
    mutating func evaluate(
        _ point: [Double], _ settings: RoundRequest, companions: PointCompanions? = nil, state: () -> TrainerState,
        gradient: (PendingObjective) throws(EngineError) -> (gradient: [Double], squaredNorm: Double?) = {
            $0.gradient.gradient(threads: 0)
        }
    ) throws(EngineError) -> (objective: Objective, Evaluation) {
        if shouldStop() {
            try save(state(), moment: .interrupted)
            throw .interrupted
        }
        var request = settings
        request.round = round + 1
        let started = ContinuousClock.now
        let evaluation: Evaluation
        do {
            evaluation = try executor.evaluate(point, rounded: companions?.rounded, request: request)
        } catch {
            // An executor that noticed the stop request itself (a cluster round cut short).
            if shouldStop() { try save(state(), moment: .interrupted) }
            throw error
        }
        round += 1
        let pending: PendingObjective
        do throws(ModelError) {
            pending = try model.pendingObjective(
                sums: evaluation.reduced, rowCount: evaluation.rowCount, parameters: point,
                regularizedSquares: companions?.squares)
        } catch {
            throw .model(error.description)
        }
        let (written, squaredNorm) = try gradient(pending)
        let objective = pending.objective(gradient: written, squaredGradientNorm: squaredNorm)
        let seconds = (ContinuousClock.now - started).seconds
        observer?.roundFinished(
            RoundReport(
                round: round, objective: objective.value, gradientNorm: objective.gradientNorm,
                rowsPerSecond: Double(evaluation.rowCount) / max(seconds, 1e-12),
                roundSeconds: seconds, workerTimings: evaluation.workerTimings, smoothing: request.smoothing,
                batchStep: request.batchStep))

        return (objective, evaluation)
    }

    /// Saves `state()` when this round is one of every `saving.every`.
    func roundSaved(_ state: () -> TrainerState) throws(EngineError) {
        if let saving, saving.every > 0, round % saving.every == 0 { try save(state(), moment: .periodic) }
    }

    /// Hands `state` with this loop's round and result objective to the saving sink, if any.
    func save(_ state: TrainerState, moment: StateMoment) throws(EngineError) {
        guard let saving else { return }
        var complete = state
        complete.round = round
        complete.resultObjective = resultObjective
        try saving.sink.save(complete, moment: moment)
    }

    /// The exact full-batch objective at `point` if it is known: the optimizer's result point, or a
    /// continuation's best stage end.
    func exactObjective(at point: [Double], continuation: ContinuationProgress?) -> Objective? {
        for known in [resultObjective, continuation?.best] {
            if let known, known.point == point { return known.objective }
        }
        return nil
    }
}
