import ShardModels
import ShardOptimizers

/// Where a run is between two rounds: everything the round loop needs to continue it to the same bits.
///
/// A round is a pure function of the parameters, the round number (which keys the models' random numbers),
/// the mini-batch step (a mini-batch run's step index is its round count) and the smoothing μ (the
/// continuation stage). So a run restored from this state at round `r` evaluates the same points in rounds
/// `r + 1, r + 2, …` as the run that saved it, whatever executor or worker count computes them.
public struct TrainerState: Sendable, Codable, Equatable {
    /// Rounds done; the next round is `round + 1`.
    public var round: Int
    /// The optimizer of the current phase with its whole state (L-BFGS memory and line-search position,
    /// moments and step count, …); nil for a continuation between two stages.
    public var optimizer: AnyOptimizer?
    /// The exact full-batch objective at the optimizer's result point, when that point was evaluated as such
    /// (the final report then needs no extra round).
    public var resultObjective: ExactObjective?
    /// Continuation runs: the stage, the best stage end and the last stage's outcome.
    public var continuation: ContinuationProgress?

    public init(
        round: Int, optimizer: AnyOptimizer?, resultObjective: ExactObjective? = nil,
        continuation: ContinuationProgress? = nil
    ) {
        self.round = round
        self.optimizer = optimizer
        self.resultObjective = resultObjective
        self.continuation = continuation
    }
}

/// An exact (μ = 0), full-batch objective with the point it belongs to.
public struct ExactObjective: Sendable, Codable, Equatable {
    public var point: [Double]
    public var value: Double
    public var dataLoss: Double
    public var l2Term: Double
    public var gradient: [Double]

    public init(point: [Double], objective: Objective) {
        self.point = point
        value = objective.value
        dataLoss = objective.dataLoss
        l2Term = objective.l2Term
        gradient = objective.gradient
    }

    public var objective: Objective { Objective(value: value, dataLoss: dataLoss, l2Term: l2Term, gradient: gradient) }
}

/// How far a smoothing continuation got.
public struct ContinuationProgress: Sendable, Codable, Equatable {
    /// The stage the saved optimizer works on; without an optimizer, the next stage to start (the stage count
    /// once all are done).
    public var stage: Int
    /// The point the next stage starts from: the initial point, then each stage's last point.
    public var start: [Double]
    /// The stage end with the lowest exact objective so far.
    public var best: ExactObjective?
    /// Whether a finished stage stopped on a non-finite objective.
    public var diverged = false
    /// The outcome of the last finished stage.
    public var converged = false
    public var reason = ""
    public var stop: StopReason?

    public init(stage: Int, start: [Double]) {
        self.stage = stage
        self.start = start
    }
}

/// When a trainer state is handed to a `TrainerStateSink`.
public enum StateMoment: String, Sendable, Codable {
    /// Every `saveEvery` rounds.
    case periodic
    /// The run was asked to stop: the state after the last completed round.
    case interrupted
    /// The optimisation is over (the final full-batch evaluation has not run yet).
    case finished
}

/// Receives the trainer's state, to persist it (checkpoints). A thrown error stops the run.
public protocol TrainerStateSink {
    func save(_ state: TrainerState, moment: StateMoment) throws(EngineError)
}

/// Where a run saves its state: `sink` every `every` rounds (besides the interrupted and finished moments).
public struct StateSaving {
    public let sink: any TrainerStateSink
    public let every: Int

    public init(sink: any TrainerStateSink, every: Int) {
        self.sink = sink
        self.every = every
    }
}

extension Trainer {
    /// Refuses a saved state that cannot belong to this model and these options (the application compares the
    /// options and the data themselves; this guards the engine's own invariants).
    func validate(_ state: TrainerState) throws(EngineError) {
        let dimension = model.parameterCount
        guard state.round >= 0, state.round <= options.maxRounds else {
            throw .checkpoint(
                state.round < 0
                    ? "round \(state.round) is outside 0…\(options.maxRounds) (--max-rounds)"
                    : "the run is saved after round \(state.round), beyond --max-rounds \(options.maxRounds): give a larger --max-rounds to continue it")
        }
        if let optimizer = state.optimizer {
            let expected = try makeOptimizer(from: model.initialParameters()).kindName
            guard optimizer.kindName == expected else {
                throw .checkpoint("optimizer differs: the state is of \(optimizer.kindName), this run uses \(expected)")
            }
            guard optimizer.dimension == dimension else {
                throw .checkpoint("the state has \(optimizer.dimension) parameters, the model \(dimension)")
            }
        }
        if let objective = state.resultObjective, objective.point.count != dimension || objective.gradient.count != dimension {
            throw .checkpoint("the saved objective has the wrong number of parameters")
        }
        switch (options.continuation, state.continuation) {
        case (nil, nil):
            guard state.optimizer != nil else { throw .checkpoint("the state has no optimizer") }
        case (let continuation?, let progress?):
            let stages = continuation.stages.count
            guard progress.stage >= 0, progress.stage <= stages, progress.start.count == dimension,
                state.optimizer == nil || progress.stage < stages,
                progress.best.map({ $0.point.count == dimension && $0.gradient.count == dimension }) ?? true
            else {
                throw .checkpoint("continuation stage \(progress.stage) of \(stages) does not fit this run")
            }
        case (nil, _?):
            throw .checkpoint("the state is of a continuation run, this run has none")
        case (_?, nil):
            throw .checkpoint("this run is a continuation, the state has none")
        }
    }
}
