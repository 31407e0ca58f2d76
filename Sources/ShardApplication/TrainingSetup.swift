import ShardData
import ShardEngine
import ShardModels
import ShardOptimizers

/// Turning the request and the prepared data into a model spec and training options.
extension TrainingRequest {
    /// The model spec: width, L2 strength, the kind and the settings that apply to it (defaults filled in).
    public func modelSpec(for prepared: PreparedData) throws(SetupError) -> ModelSpec {
        ModelSpec(
            featureCount: prepared.dataset.featureCount, l2: model.l2,
            try model.kind.modelDescription.configuration(model, data: prepared))
    }

    /// Optimizer, stopping rule, mini-batch schedule and smoothing continuation for `model`.
    public func trainingOptions(for model: any Model, prepared: PreparedData) throws(SetupError) -> TrainingOptions {
        let solver = self.solver
        let optimizerName = optimizer
        let (gradientTolerance, objectiveTolerance) = (solver.gradientTolerance, solver.objectiveTolerance)
        let stopping = StoppingCriteria(gradientTolerance: gradientTolerance, relativeObjectiveTolerance: objectiveTolerance)
        let rate = learningRate
        let choice: OptimizerChoice
        do {
            switch optimizerName {
            case .lbfgs: choice = .lbfgs(memory: solver.lbfgsMemory ?? 10)
            case .gd: choice = .gradientDescent(learningRate: rate)
            case .sgd:
                choice = .sgd(
                    schedule: try learningRateSchedule(peak: rate),
                    momentum: sgdMomentum)
            case .adam: choice = .adam(schedule: try learningRateSchedule(peak: rate), beta1: 0.9, beta2: 0.999, epsilon: 1e-8)
            case .adamw:
                choice = .adamW(
                    schedule: try learningRateSchedule(peak: rate), weightDecay: solver.weightDecay ?? 0.01, beta1: 0.9, beta2: 0.999,
                    epsilon: 1e-8)
            }
        } catch {
            throw SetupError("\(error)")
        }
        var options = TrainingOptions(optimizer: choice, maxRounds: solver.maxRounds, stopping: stopping)
        options.checkpointEvery = solver.evalEvery
        if choice.isStochastic {
            let perStep = solver.batchBlocks ?? 1
            guard perStep <= prepared.blocks.count else {
                throw SetupError(
                    "--batch-blocks \(perStep) is more than the \(prepared.blocks.count) blocks of the training data "
                        + "(\(prepared.dataset.rowCount) rows in blocks of \(prepared.blockRows))")
            }
            do {
                options.batch = try BatchSchedule(blockCount: prepared.blocks.count, blocksPerStep: perStep, seed: seed)
            } catch {
                throw SetupError("\(error)")
            }
        } else if solver.batchBlocks != nil {
            throw SetupError("--batch-blocks applies to the mini-batch optimizers sgd, adam and adamw")
        }
        if !choice.isStochastic, model.spec.isNonSmooth {
            let start = solver.smoothingStart ?? model.spec.kind.modelDescription.defaultSmoothingStart(prepared)
            do {
                options.continuation = try Continuation(
                    initial: start, factor: 0.1, final: start * (solver.smoothingFinal ?? SolverChoices.defaultSmoothingFinal))
            } catch {
                throw SetupError("\(error)")
            }
        }
        return options
    }

    private var sgdMomentum: SGD.Momentum {
        let coefficient = solver.momentum ?? 0.9
        if coefficient == 0 { return .plain }
        return solver.nesterov ? .nesterov(coefficient: coefficient) : .classical(coefficient: coefficient)
    }

    private func learningRateSchedule(peak: Double) throws(OptimizerError) -> LearningRateSchedule {
        let warmup = solver.warmup ?? 0
        let steps = max(1, solver.maxRounds - warmup)
        var schedule: LearningRateSchedule =
            switch solver.schedule ?? .constant {
            case .constant: .constant(rate: peak)
            case .cosine: .cosine(initialRate: peak, finalRate: 0, steps: steps)
            case .step: .stepDecay(initialRate: peak, factor: 0.1, interval: max(1, steps / 3))
            }
        if warmup > 0 { schedule = .linearWarmUp(steps: warmup, base: schedule) }
        try schedule.validate()
        return schedule
    }
}
