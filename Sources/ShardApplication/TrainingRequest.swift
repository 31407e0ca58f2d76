import ShardData
import ShardMetrics
import ShardModels
import ShardNumerics

/// Which optimizer steps the parameters.
public enum OptimizerName: String, CaseIterable, Sendable {
    case lbfgs
    case gd
    case sgd
    case adam
    case adamw

    /// One step per mini-batch round, no convergence test.
    public var isStochastic: Bool { [.sgd, .adam, .adamw].contains(self) }
}

/// Learning-rate schedule of the stochastic optimizers.
public enum ScheduleName: String, CaseIterable, Sendable {
    case constant
    case cosine
    case step
}

/// Per-class weights of the loss: `balanced` (w_c = n / (K · n_c)) or one weight per class.
public enum ClassWeightChoice: Sendable, Equatable {
    case balanced
    case explicit([Double])

    /// `balanced`, or comma-separated numbers `w0,w1,…` (their range is checked by `validate`).
    public init?(parsing text: String) {
        if text == "balanced" {
            self = .balanced
            return
        }
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map {
            Double($0.trimmingCharacters(in: .whitespaces))
        }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else { return nil }
        self = .explicit(parts.map { $0! })
    }

    /// Throws unless every explicit weight is finite and ≥ 0 and not all are 0.
    public func validate() throws(SetupError) {
        guard case .explicit(let weights) = self else { return }
        if let bad = weights.first(where: { !($0.isFinite && $0 >= 0) }) {
            throw SetupError("--class-weight: every weight must be finite and ≥ 0, got \(bad)")
        }
        if weights.allSatisfy({ $0 == 0 }) { throw SetupError("--class-weight: at least one weight must be positive") }
    }
}

/// The model and its hyper-parameters as the user chose them; nil means the model's default.
public struct ModelChoices: Sendable, Equatable {
    public var kind: ModelKind = .logistic
    /// Strength of `(l2/2)·‖W‖²` on the weight tensors.
    public var l2: Double = 0.01
    /// quantile: the levels τ.
    public var taus: [Double] = []
    /// logistic: focal loss γ, and α (default 0.25 when γ is given).
    public var focalGamma: Double?
    public var focalAlpha: Double?
    /// logistic, softmax.
    public var classWeight: ClassWeightChoice?
    /// softmax, triplet: K (default: largest label + 1).
    public var classes: Int?
    /// triplet: margin (default 1).
    public var margin: Double?
    /// triplet, vae: hidden ReLU width (default: the linear variant).
    public var hidden: Int?
    /// triplet: embedding dimension; vae: latent dimension (default 2).
    public var dimension: Int?
    /// triplet: how pairs are formed (default: semi-hard triplets).
    public var pairs: PairObjective?
    /// linear: the regression loss (default mse) and Huber's δ (default 1).
    public var regressionLoss: RegressionLoss?
    public var delta: Double?
    /// logistic, svm: choose the decision threshold for this target on the held-out rows after training.
    public var thresholdFor: ThresholdTarget?

    public init() {}

    /// linear: the loss (default mse) and, for Huber, δ (default 1).
    public var regressionSettings: RegressionSettings {
        let loss = regressionLoss ?? .mse
        return RegressionSettings(loss: loss, delta: loss == .huber ? delta ?? 1 : nil)
    }

    /// Whether the chosen loss has kinks (see `ModelDescription.isNonSmooth`).
    public var isNonSmooth: Bool { kind.modelDescription.isNonSmooth(self) }
}

/// The optimizer, its stopping rule, mini-batches and smoothing; nil means the default.
public struct SolverChoices: Sendable, Equatable {
    /// Default: lbfgs, or adam for the models whose loss draws random numbers.
    public var optimizer: OptimizerName?
    /// gd: the step (default 0.5); sgd, adam, adamw: the peak rate (default 0.01).
    public var learningRate: Double?
    /// sgd: momentum coefficient (default 0.9; 0 = plain) and Nesterov's variant.
    public var momentum: Double?
    public var nesterov = false
    /// adamw: decoupled weight decay (default 0.01).
    public var weightDecay: Double?
    public var schedule: ScheduleName?
    public var warmup: Int?
    /// Blocks per mini-batch round (default 1).
    public var batchBlocks: Int?
    /// L-BFGS curvature pairs (default 10).
    public var lbfgsMemory: Int?
    /// Continuation of the non-smooth losses: first μ (default: the model's scale) and last μ relative to it
    /// (default 1e-8).
    public var smoothingStart: Double?
    public var smoothingFinal: Double?
    public static let defaultSmoothingFinal = 1e-8
    public var maxRounds = 5000
    public var gradientTolerance = 1e-8
    public var objectiveTolerance = 1e-13
    /// Every this many rounds, evaluate the current parameters (an `eval` event).
    public var evalEvery: Int?

    public init() {}
}

/// Everything a training run is asked to do, before any data is read.
public struct TrainingRequest: Sendable {
    public var data: DataConfiguration
    public var model: ModelChoices
    public var solver: SolverChoices
    /// Threads per process for the blocks (0 = one per available core).
    public var threads: Int

    /// `data.shuffleTrainingRows` is set from the model and solver (see `shufflesTrainingRows`).
    public init(data: DataConfiguration, model: ModelChoices, solver: SolverChoices, threads: Int = 0) {
        self.data = data
        self.model = model
        self.solver = solver
        self.threads = threads
        self.data.shuffleTrainingRows = shufflesTrainingRows
    }

    public var seed: UInt64 { data.seed }

    /// The optimizer actually used: the explicit choice, else lbfgs (adam for the models with a random loss).
    public var optimizer: OptimizerName {
        solver.optimizer ?? (model.kind.lossDrawsRandomNumbers ? .adam : .lbfgs)
    }

    /// gd: the step (default 0.5); sgd, adam, adamw: the peak rate (default 0.01).
    public var learningRate: Double { solver.learningRate ?? (optimizer == .gd ? 0.5 : 0.01) }

    /// Mini-batches and in-block triplets need blocks that mix the classes, whatever the file's order.
    public var shufflesTrainingRows: Bool { optimizer.isStochastic || model.kind == .triplet }
}

/// A combination of options that cannot train, or a value out of its range (the message names the flag).
public struct SetupError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension TrainingRequest {
    /// Rejects values out of range and choices that do not apply to the model or optimizer (a setting silently
    /// ignored is a wrong result waiting to happen). Messages use the command-line spelling of each setting.
    public func validate() throws(SetupError) {
        let model = self.model
        let solver = self.solver
        func require(_ condition: Bool, _ message: @autoclosure () -> String) throws(SetupError) {
            if !condition { throw SetupError(message()) }
        }
        try require(model.l2.isFinite && model.l2 >= 0, "--l2 must be finite and non-negative, got \(model.l2)")
        try require(threads >= 0, "--threads must be 0 (all cores) or positive")
        try require(solver.maxRounds >= 1, "--max-rounds must be at least 1")
        if let rate = solver.learningRate { try require(rate > 0 && rate.isFinite, "--learning-rate must be positive") }
        if let blockRows = data.blockRows { try require(blockRows >= 1, "--block-rows must be at least 1, got \(blockRows)") }
        let numpy = data.format == nil && NumpyReader.isNumpyPath(data.path)
        let libsvm = !numpy && (data.format ?? DataFormat.inferred(path: data.path)) == .libsvm
        try require(
            (data.dialect.delimiter == nil && data.dialect.hasHeader) || !(numpy || libsvm),
            "--delimiter and --no-header apply to CSV data only")
        try require(
            data.labelColumn == nil || !libsvm, "--label-column applies to CSV data; libsvm lines start with the label")
        try require(data.labelsPath == nil || numpy, "--labels applies to a .npy --data only")
        try require(
            data.labelColumn == nil || !numpy,
            "--label-column applies to CSV data; for .npy give --labels or put the label last")
        try require(
            [data.testRowsPath != nil, data.testFraction != nil, data.testDataPath != nil].filter { $0 }.count <= 1,
            "give at most one of --test-rows, --test-fraction, --test-data")
        if let fraction = data.testFraction {
            try require(fraction > 0 && fraction < 1, "--test-fraction must be in (0, 1), got \(fraction)")
        }
        let description = model.kind.modelDescription
        for setting in ModelSetting.allCases where setting.isGiven(in: model) && !description.settings.contains(setting) {
            let kinds = ModelRegistry.kinds(reading: setting).map(\.rawValue).joined(separator: ", ")
            throw SetupError("\(setting.rawValue) applies to --model \(kinds) only")
        }
        if let target = model.thresholdFor {
            try require(
                data.testRowsPath != nil || data.testFraction != nil || data.testDataPath != nil,
                "--threshold-for \(target) chooses the threshold on held-out rows, and this run holds none out: give "
                    + "--test-fraction F (or --test-rows FILE, or --test-data FILE)")
        }
        try description.validate(model, data: data)
        try model.classWeight?.validate()
        for (flag, given) in [("--smoothing-start", solver.smoothingStart != nil), ("--smoothing-final", solver.smoothingFinal != nil)]
        where given && !model.isNonSmooth {
            throw SetupError("\(flag) applies to the non-smooth losses only: --model svm, quantile, or linear with --loss mae")
        }
        if let start = solver.smoothingStart {
            try require(start > 0 && start.isFinite, "--smoothing-start must be positive")
        }
        if let final = solver.smoothingFinal {
            try require(final > 0 && final <= 1, "--smoothing-final (relative to the first stage) must be in (0, 1]")
        }
        let optimizer = self.optimizer
        if model.kind.lossDrawsRandomNumbers {
            try require(
                optimizer.isStochastic,
                "--model \(model.kind.rawValue) draws new triplets or noise every round, so its objective is random: use "
                    + "--optimizer sgd, adam or adamw (a line search or fixed-step descent needs a fixed objective)")
        }
        if optimizer.isStochastic {
            try require(
                solver.smoothingStart == nil && solver.smoothingFinal == nil,
                "--smoothing-start/--smoothing-final apply to the continuation of lbfgs and gd")
        }
        func onlyOptimizers(_ flag: String, given: Bool, _ names: [OptimizerName]) throws(SetupError) {
            if given, !names.contains(optimizer) {
                throw SetupError("\(flag) applies to --optimizer \(names.map(\.rawValue).joined(separator: ", ")) only")
            }
        }
        let stochastic: [OptimizerName] = [.sgd, .adam, .adamw]
        try onlyOptimizers("--learning-rate", given: solver.learningRate != nil, [.gd] + stochastic)
        try onlyOptimizers("--lbfgs-memory", given: solver.lbfgsMemory != nil, [.lbfgs])
        try onlyOptimizers("--momentum", given: solver.momentum != nil, [.sgd])
        try onlyOptimizers("--nesterov", given: solver.nesterov, [.sgd])
        try onlyOptimizers("--weight-decay", given: solver.weightDecay != nil, [.adamw])
        try onlyOptimizers("--schedule", given: solver.schedule != nil, stochastic)
        try onlyOptimizers("--warmup", given: solver.warmup != nil, stochastic)
        try onlyOptimizers("--batch-blocks", given: solver.batchBlocks != nil, stochastic)
        if let momentum = solver.momentum { try require(momentum >= 0 && momentum < 1, "--momentum must be in [0, 1)") }
        if let warmup = solver.warmup { try require(warmup >= 0, "--warmup must be non-negative") }
        if let batchBlocks = solver.batchBlocks { try require(batchBlocks >= 1, "--batch-blocks must be at least 1") }
        if let evalEvery = solver.evalEvery { try require(evalEvery >= 1, "--eval-every must be at least 1") }
        if let memory = solver.lbfgsMemory { try require(memory >= 1, "--lbfgs-memory must be at least 1") }
        try require(
            solver.gradientTolerance >= 0 && solver.objectiveTolerance >= 0, "tolerances must be non-negative")
        try validateSizes()
    }

    /// Refuses `--classes`, `--hidden` and `--dimension` whose model would not fit `memory` even with one feature,
    /// with `--threads` (every core for 0) and `--block-rows` (1 when not given) (the data is not read yet; the model
    /// built from the data is checked again with its real feature count): overflow-checked, as
    /// `ModelSpec.validateSizes`.
    public func validateSizes(memory: MachineMemory = .current()) throws(SetupError) {
        if let classes = model.classes, classes < 2 {
            throw SetupError("--classes must be at least 2, got \(classes)")
        }
        let smallest: ModelConfiguration
        switch model.kind {
        case .softmax:
            guard let classes = model.classes else { return }
            smallest = .softmax(classCount: classes)
        case .triplet:
            smallest = .triplet(
                TripletSettings(
                    classCount: model.classes ?? 2, embeddingDimension: model.dimension ?? 2, hiddenUnits: model.hidden))
        case .vae:
            smallest = .vae(latentDimension: model.dimension ?? 2, hiddenUnits: model.hidden)
        case .logistic, .svm, .linear, .quantile:
            return
        }
        let flags = [("--classes", model.classes), ("--hidden", model.hidden), ("--dimension", model.dimension)]
            .compactMap { flag, value in value.map { "\(flag) \($0)" } }.joined(separator: " ")
        do {
            try ModelSpec(featureCount: 1, l2: 0, smallest).validateSizes(
                blockRows: data.blockRows ?? 1, threads: ThreadCount.resolve(threads), memory: memory)
        } catch {
            guard case .invalidSpec(let reason) = error else { throw SetupError("\(flags): \(error)") }
            throw SetupError("\(flags): too large even for one feature: \(reason)")
        }
    }
}
