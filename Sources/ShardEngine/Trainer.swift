import ShardModels
import ShardOptimizers

/// Which optimizer steps the parameters on the coordinator.
public enum OptimizerChoice: Sendable, Equatable, Codable {
    /// Full-batch L-BFGS with a strong-Wolfe line search, keeping `memory` curvature pairs.
    case lbfgs(memory: Int)
    /// Gradient descent with a fixed step.
    case gradientDescent(learningRate: Double)
}

/// How long to train and when to stop.
public struct TrainingOptions: Sendable, Equatable {
    public var optimizer: OptimizerChoice
    public var maxRounds: Int
    public var stopping: StoppingCriteria

    public init(optimizer: OptimizerChoice, maxRounds: Int, stopping: StoppingCriteria) {
        self.optimizer = optimizer
        self.maxRounds = maxRounds
        self.stopping = stopping
    }
}

/// What the coordinator knows after one round (one evaluation of the objective).
public struct RoundReport: Sendable, Equatable {
    public var round: Int
    /// Objective at the point evaluated in this round.
    public var objective: Double
    public var gradientNorm: Double
    /// Lowest objective accepted so far by the optimizer.
    public var bestObjective: Double
    public var rowsPerSecond: Double
    public var roundSeconds: Double
    public var workerTimings: [WorkerTiming]
}

/// Receives a report after every round (progress display, JSON lines, subscribers).
public protocol TrainingObserver {
    func roundFinished(_ report: RoundReport)
}

/// How a run ended.
public struct TrainingResult: Sendable, Equatable {
    /// The best accepted point (always an evaluated one, so `objective` belongs to it).
    public var parameters: [Double]
    public var objective: Objective
    public var rounds: Int
    public var converged: Bool
    public var stopReason: String
    public var wallSeconds: Double
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

    public func run(observer: (any TrainingObserver)? = nil, shouldStop: () -> Bool = { false })
        throws(EngineError) -> TrainingResult
    {
        let start = ContinuousClock.now
        var optimizer = try makeOptimizer()
        var evaluated: [[Double]: Objective] = [:]
        var round = 0
        var best = Double.infinity
        while let point = optimizer.pendingPoint, round < options.maxRounds {
            if shouldStop() { throw .interrupted }
            round += 1
            let roundStart = ContinuousClock.now
            let evaluation = try executor.evaluate(point, round: round)
            let objective: Objective
            do throws(ModelError) {
                objective = try model.objective(sums: evaluation.sums, rowCount: evaluation.rowCount, parameters: point)
            } catch {
                throw .model(error.description)
            }
            if evaluated.count > 64 { evaluated.removeAll(keepingCapacity: true) }
            evaluated[point] = objective
            do {
                try optimizer.observe(value: objective.value, gradient: objective.gradient)
            } catch {
                throw .optimizer(error.description)
            }
            if let accepted = optimizer.bestPoint { best = accepted.value }
            let seconds = (ContinuousClock.now - roundStart).seconds
            observer?.roundFinished(
                RoundReport(
                    round: round, objective: objective.value, gradientNorm: objective.gradientNorm,
                    bestObjective: best, rowsPerSecond: Double(evaluation.rowCount) / max(seconds, 1e-12),
                    roundSeconds: seconds, workerTimings: evaluation.workerTimings))
        }
        guard let parameters = optimizer.bestPoint?.point else {
            throw .optimizer("no point was accepted in \(round) rounds")
        }
        var objective = evaluated[parameters]
        if objective == nil {
            // The accepted point fell out of the cache: evaluate it once more (same bits as before).
            round += 1
            let evaluation = try executor.evaluate(parameters, round: round)
            do throws(ModelError) {
                objective = try model.objective(sums: evaluation.sums, rowCount: evaluation.rowCount, parameters: parameters)
            } catch {
                throw .model(error.description)
            }
        }
        let (converged, reason): (Bool, String) =
            switch optimizer.status {
            case .converged(let reason): (true, reason.description)
            case .stopped(let reason): (false, reason.description)
            case .running: (false, "reached the round limit (\(options.maxRounds))")
            }
        return TrainingResult(
            parameters: parameters, objective: objective!, rounds: round, converged: converged, stopReason: reason,
            wallSeconds: (ContinuousClock.now - start).seconds)
    }

    private func makeOptimizer() throws(EngineError) -> any Optimizer {
        let initial = model.initialParameters()
        do {
            switch options.optimizer {
            case .lbfgs(let memory):
                return try LBFGS(initialPoint: initial, memory: memory, stopping: options.stopping)
            case .gradientDescent(let learningRate):
                return try GradientDescent(initialPoint: initial, learningRate: learningRate, stopping: options.stopping)
            }
        } catch {
            throw .optimizer(error.description)
        }
    }
}
