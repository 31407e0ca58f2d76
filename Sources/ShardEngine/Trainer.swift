import ShardModels
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

    public func run(observer: (any TrainingObserver)? = nil, shouldStop: @escaping () -> Bool = { false })
        throws(EngineError) -> TrainingResult
    {
        let start = ContinuousClock.now
        var loop = RoundLoop(
            model: model, executor: executor, observer: observer, checkpointEvery: options.checkpointEvery,
            shouldStop: shouldStop)
        var point = model.initialParameters()
        var outcome: (converged: Bool, reason: String)
        var diverged = false
        var stop: StopReason?
        if options.optimizer.isStochastic {
            guard options.batch != nil else {
                throw .optimizer("a stochastic optimizer needs a mini-batch schedule (blocks per round)")
            }
            var optimizer = try makeOptimizer(from: point)
            // Keep one round for the final full-batch evaluation.
            let steps = try loop.optimize(&optimizer, budget: options.maxRounds - 1) { step in
                RoundRequest(round: 0, batchStep: step)
            }
            // θ after the last update (the initial point when the single round is the final evaluation).
            point = optimizer.resultPoint ?? point
            diverged = Self.diverged(optimizer)
            stop = Self.stop(optimizer)
            if case .stopped = optimizer.status {
                outcome = Self.status(optimizer, maxRounds: options.maxRounds)
            } else {
                outcome = (
                    false,
                    "ran \(steps) mini-batch steps and the closing full-batch evaluation (stochastic optimizers "
                        + "stop at the round limit)"
                )
            }
        } else if let continuation = options.continuation {
            var reason = ""
            var converged = false
            var best: (point: [Double], value: Double)?
            let stages = continuation.stages
            for (stage, smoothing) in stages.enumerated() {
                var stopping = options.stopping
                if stage < stages.count - 1 {
                    stopping.relativeObjectiveTolerance = max(stopping.relativeObjectiveTolerance, continuation.stageTolerance)
                }
                var optimizer = try makeOptimizer(from: point, stopping: stopping)
                let remaining = options.maxRounds - loop.round - 1
                guard remaining > 0 else {
                    reason = "reached the round limit (\(options.maxRounds)) in continuation stage \(stage + 1)"
                    converged = false
                    break
                }
                _ = try loop.optimize(&optimizer, budget: remaining) { _ in RoundRequest(round: 0, smoothing: smoothing) }
                point = try lastPoint(of: optimizer)
                diverged = diverged || Self.diverged(optimizer)
                stop = Self.stop(optimizer)
                (converged, reason) = Self.status(optimizer, maxRounds: options.maxRounds)
                reason = "continuation stage \(stage + 1) (μ = \(smoothing)): \(reason)"
                let exact = try loop.evaluate(point, RoundRequest(round: 0)).objective.value
                if exact <= best?.value ?? .infinity { best = (point, exact) }
            }
            if let best { point = best.point }
            outcome = (converged, reason)
        } else {
            var optimizer = try makeOptimizer(from: point)
            let initial = point
            let evaluations = try loop.optimize(&optimizer, budget: options.maxRounds) { _ in RoundRequest(round: 0) }
            point = try lastPoint(of: optimizer)
            diverged = Self.diverged(optimizer)
            stop = Self.stop(optimizer)
            outcome = Self.status(optimizer, maxRounds: options.maxRounds)
            if !outcome.converged, evaluations > 1, point == initial {
                outcome.reason += "; the objective never went below its value at the initial point (for gd: lower --learning-rate)"
            }
        }
        // The reported objective: exact (μ = 0) and over every block, at the final point.
        let objective: Objective
        if let cached = loop.cachedExactObjective(at: point) {
            objective = cached
        } else {
            objective = try loop.evaluate(point, RoundRequest(round: 0)).objective
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

    private func lastPoint(of optimizer: any Optimizer) throws(EngineError) -> [Double] {
        guard let point = optimizer.resultPoint else {
            throw .optimizer("no point was accepted (\(optimizer.status))")
        }
        return point
    }

    private func makeOptimizer(from initial: [Double], stopping: StoppingCriteria? = nil) throws(EngineError)
        -> any Optimizer
    {
        let stopping = stopping ?? options.stopping
        do {
            switch options.optimizer {
            case .lbfgs(let memory):
                return try LBFGS(initialPoint: initial, memory: memory, stopping: stopping)
            case .gradientDescent(let learningRate):
                return try GradientDescent(initialPoint: initial, learningRate: learningRate, stopping: stopping)
            case .sgd(let schedule, let momentum):
                return try SGD(initialPoint: initial, schedule: schedule, momentum: momentum)
            case .adam(let schedule, let beta1, let beta2, let epsilon):
                return try Adam(initialPoint: initial, schedule: schedule, beta1: beta1, beta2: beta2, epsilon: epsilon)
            case .adamW(let schedule, let weightDecay, let beta1, let beta2, let epsilon):
                let decayed = model.layout.tensors.filter(\.regularized).map(\.range)
                return try AdamW(
                    initialPoint: initial, schedule: schedule, weightDecay: weightDecay, decayedRanges: decayed,
                    beta1: beta1, beta2: beta2, epsilon: epsilon)
            }
        } catch {
            throw .optimizer(error.description)
        }
    }
}

/// Numbers the rounds, evaluates points on the executor, reports each round and remembers recent exact
/// full-batch objectives (so the final report needs no extra round when the point was just evaluated).
struct RoundLoop {
    let model: any Model
    let executor: any Executor
    let observer: (any TrainingObserver)?
    let checkpointEvery: Int?
    let shouldStop: () -> Bool
    private(set) var round = 0
    private var exact: [[Double]: Objective] = [:]

    init(
        model: any Model, executor: any Executor, observer: (any TrainingObserver)?, checkpointEvery: Int?,
        shouldStop: @escaping () -> Bool
    ) {
        self.model = model
        self.executor = executor
        self.observer = observer
        self.checkpointEvery = checkpointEvery
        self.shouldStop = shouldStop
    }

    /// Runs `optimizer` until it finishes or `budget` rounds are used; `request(step)` gives the settings
    /// of its `step`-th evaluation (the round number is filled in here). Returns the evaluations made.
    mutating func optimize(
        _ optimizer: inout any Optimizer, budget: Int, request: (Int) -> RoundRequest
    ) throws(EngineError) -> Int {
        var steps = 0
        while steps < budget, let point = optimizer.pendingPoint {
            let (objective, _) = try evaluate(point, request(steps))
            steps += 1
            do {
                try optimizer.observe(value: objective.value, gradient: objective.gradient)
            } catch {
                throw .optimizer(error.description)
            }
            // The optimizer's current result, not a line-search trial it may reject.
            if let every = checkpointEvery, every > 0, round % every == 0, let current = optimizer.resultPoint {
                observer?.checkpoint(round: round, parameters: current)
            }
        }
        return steps
    }

    mutating func evaluate(_ point: [Double], _ settings: RoundRequest) throws(EngineError) -> (objective: Objective, Evaluation) {
        if shouldStop() { throw .interrupted }
        round += 1
        var request = settings
        request.round = round
        let started = ContinuousClock.now
        let evaluation = try executor.evaluate(point, request: request)
        let objective: Objective
        do throws(ModelError) {
            objective = try model.objective(sums: evaluation.sums, rowCount: evaluation.rowCount, parameters: point)
        } catch {
            throw .model(error.description)
        }
        if request.smoothing == 0, request.batchStep == nil {
            if exact.count > 64 { exact.removeAll(keepingCapacity: true) }
            exact[point] = objective
        }
        let seconds = (ContinuousClock.now - started).seconds
        observer?.roundFinished(
            RoundReport(
                round: round, objective: objective.value, gradientNorm: objective.gradientNorm,
                rowsPerSecond: Double(evaluation.rowCount) / max(seconds, 1e-12),
                roundSeconds: seconds, workerTimings: evaluation.workerTimings, smoothing: request.smoothing,
                batchStep: request.batchStep))

        return (objective, evaluation)
    }

    func cachedExactObjective(at point: [Double]) -> Objective? { exact[point] }
}
