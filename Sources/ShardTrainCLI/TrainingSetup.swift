import ShardData
import ShardEngine
import ShardModels
import ShardOptimizers

/// Turning command-line choices and the prepared data into a model spec and training options.
extension TrainingArguments {
    /// The model spec: kind, width and every hyper-parameter that applies to `model`.
    func modelSpec(for prepared: PreparedData) throws(SetupError) -> ModelSpec {
        let featureCount = prepared.dataset.featureCount
        var spec = ModelSpec(kind: model, featureCount: featureCount, l2: l2)
        switch model {
        case .logistic:
            if let focalGamma { spec.focal = FocalParameters(gamma: focalGamma, alpha: focalAlpha ?? 0.25) }
            spec.classWeights = try classWeights(classCount: 2, labels: prepared.dataset.labels.map { $0 == 1 ? 1 : 0 })
        case .svm:
            break
        case .quantile:
            spec.taus = tau
        case .softmax:
            spec.classCount = prepared.classCount
            if let count = prepared.classCount {
                spec.classWeights = try classWeights(classCount: count, labels: prepared.dataset.labels.map { Int($0) })
            }
        case .triplet:
            spec.classCount = prepared.classCount
            spec.margin = margin ?? 1
            spec.hiddenUnits = hidden
            spec.outputDimension = dimension ?? 2
            spec.pairObjective = pairs ?? .tripletSemiHard
        case .vae:
            spec.hiddenUnits = hidden
            spec.outputDimension = dimension ?? 2
        }
        if classWeight != nil, model != .logistic, model != .softmax {
            throw SetupError("--class-weight applies to --model logistic and softmax only")
        }
        return spec
    }

    /// `balanced`: w_c = n / (K · n_c) (classes absent from the data get weight 0); or an explicit list.
    private func classWeights(classCount: Int, labels: [Int]) throws(SetupError) -> [Double]? {
        guard let classWeight else { return nil }
        if classWeight == "balanced" {
            var supports = [Int](repeating: 0, count: classCount)
            for label in labels where label >= 0 && label < classCount { supports[label] += 1 }
            return supports.map { $0 == 0 ? 0 : Double(labels.count) / (Double(classCount) * Double($0)) }
        }
        let parts = classWeight.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == classCount, parts.allSatisfy({ $0 != nil }) else {
            throw SetupError("--class-weight must be 'balanced' or \(classCount) comma-separated numbers, got '\(classWeight)'")
        }
        return parts.map { $0! }
    }

    /// Optimizer, stopping rule, mini-batch schedule and smoothing continuation for `model`.
    func trainingOptions(for model: any Model, prepared: PreparedData) throws(SetupError) -> TrainingOptions {
        let stopping = StoppingCriteria(gradientTolerance: gradientTolerance, relativeObjectiveTolerance: objectiveTolerance)
        let rate = learningRate ?? (optimizerName == .gd ? 0.5 : 0.01)
        let choice: OptimizerChoice
        do {
            switch optimizerName {
            case .lbfgs: choice = .lbfgs(memory: lbfgsMemory ?? 10)
            case .gd: choice = .gradientDescent(learningRate: rate)
            case .sgd:
                choice = .sgd(
                    schedule: try learningRateSchedule(peak: rate),
                    momentum: sgdMomentum)
            case .adam: choice = .adam(schedule: try learningRateSchedule(peak: rate), beta1: 0.9, beta2: 0.999, epsilon: 1e-8)
            case .adamw:
                choice = .adamW(
                    schedule: try learningRateSchedule(peak: rate), weightDecay: weightDecay ?? 0.01, beta1: 0.9, beta2: 0.999,
                    epsilon: 1e-8)
            }
        } catch {
            throw SetupError("\(error)")
        }
        var options = TrainingOptions(optimizer: choice, maxRounds: maxRounds, stopping: stopping)
        options.checkpointEvery = evalEvery
        if choice.isStochastic {
            let perStep = batchBlocks ?? 1
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
        } else if batchBlocks != nil {
            throw SetupError("--batch-blocks applies to the mini-batch optimizers sgd, adam and adamw")
        }
        if !choice.isStochastic, model.spec.kind == .svm || model.spec.kind == .quantile {
            let start = smoothingStart ?? (model.spec.kind == .svm ? 1 : Self.meanAbsoluteDeviation(prepared.dataset.labels))
            do {
                options.continuation = try Continuation(initial: start, factor: 0.1, final: start * (smoothingFinal ?? 1e-8))
            } catch {
                throw SetupError("\(error)")
            }
        }
        return options
    }

    private var sgdMomentum: SGD.Momentum {
        let coefficient = momentum ?? 0.9
        if coefficient == 0 { return .plain }
        return nesterov ? .nesterov(coefficient: coefficient) : .classical(coefficient: coefficient)
    }

    private func learningRateSchedule(peak: Double) throws(OptimizerError) -> LearningRateSchedule {
        let warmup = self.warmup ?? 0
        let steps = max(1, maxRounds - warmup)
        var schedule: LearningRateSchedule =
            switch self.schedule ?? .constant {
            case .constant: .constant(rate: peak)
            case .cosine: .cosine(initialRate: peak, finalRate: 0, steps: steps)
            case .step: .stepDecay(initialRate: peak, factor: 0.1, interval: max(1, steps / 3))
            }
        if warmup > 0 { schedule = .linearWarmUp(steps: warmup, base: schedule) }
        try schedule.validate()
        return schedule
    }

    /// Mean absolute deviation from the mean: the scale of the targets, for the first smoothing stage.
    static func meanAbsoluteDeviation(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 1 }
        let mean = values.reduce(0, +) / Double(values.count)
        let deviation = values.reduce(0) { $0 + abs($1 - mean) } / Double(values.count)
        return deviation > 0 ? deviation : 1
    }
}

/// A combination of options that cannot train.
struct SetupError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
