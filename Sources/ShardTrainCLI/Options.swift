import Foundation
import ArgumentParser
import ShardCluster
import ShardData
import ShardEngine
import ShardModels
import ShardNumerics
import ShardOptimizers

extension ModelKind: ExpressibleByArgument {}
extension PairObjective: ExpressibleByArgument {}
extension Precision: ExpressibleByArgument {}
extension LogFormat: ExpressibleByArgument {}

/// Which optimizer, as spelled on the command line.
public enum OptimizerName: String, ExpressibleByArgument, CaseIterable, Sendable {
    case lbfgs
    case gd
    case sgd
    case adam
    case adamw
}

/// Learning-rate schedule of the stochastic optimizers, as spelled on the command line.
public enum ScheduleName: String, ExpressibleByArgument, CaseIterable, Sendable {
    case constant
    case cosine
    case step
}

/// Options of every command that trains (train, coordinator).
public struct TrainingArguments: ParsableArguments {
    @Option(help: "CSV file with a header row; the label is the last column unless --label-column says otherwise. Or a NumPy .npy array (2-D, <f4/<f8, C order) with --labels, or with the label as its last column.")
    public var data: String

    @Option(help: "With a .npy --data: a .npy of the labels, shape (rows,) or (rows, 1).")
    public var labels: String?

    @Option(help: "Name of the label column.")
    public var labelColumn: String?

    @Option(help: "File of 0-based data-row indices to train on, in that order (default: all rows).")
    public var rows: String?

    @Option(help: "Model to train: \(ModelKind.allCases.map(\.rawValue).joined(separator: ", ")).")
    public var model: ModelKind = .logistic

    @Option(help: "L2 penalty (l2/2)·‖w‖² on weights (biases are not penalised).")
    public var l2: Double = 0.01

    @Option(help: "quantile: quantile level τ ∈ (0, 1); repeat for a multi-quantile head (e.g. --tau 0.1 --tau 0.9).")
    public var tau: [Double] = []

    @Option(help: "logistic: focal loss with this γ ≥ 0 instead of BCE (α_t convention, see --focal-alpha).")
    public var focalGamma: Double?

    @Option(help: "logistic: focal α ∈ [0, 1], the weight of the positive class (1 − α for negatives).")
    public var focalAlpha: Double?

    @Option(help: "logistic, softmax: per-class loss weights, 'balanced' (n / (K·n_c)) or a list 'w0,w1,…'.")
    public var classWeight: String?

    @Option(help: "softmax, triplet: number of classes K (default: largest label + 1).")
    public var classes: Int?

    @Option(help: "triplet: margin of the triplet or contrastive loss (default 1).")
    public var margin: Double?

    @Option(help: "triplet, vae: width of the hidden ReLU layer (default: the linear variant).")
    public var hidden: Int?

    @Option(help: "triplet: embedding dimension; vae: latent dimension (default 2).")
    public var dimension: Int?

    @Option(help: "triplet: how pairs are formed in a block: tripletRandom, tripletSemiHard (default) or contrastive.")
    public var pairs: PairObjective?

    @Flag(help: "Z-score the features with the mean and population std of the training rows.")
    public var standardize = false

    @Option(help: "Storage precision of the data: float64, or float32 for half the memory traffic.")
    public var precision: Precision = .float64

    @Option(help: ArgumentHelp(
        "Rows per block (the unit of work and of the reduction tree).",
        discussion: "Default: chosen from the data alone, never from the worker count, so the bits are the same "
            + "for any number of workers: \(BlockPlan.defaultRuleDescription)"))
    public var blockRows: Int?

    @Option(
        help: """
            Threads per process for the blocks: 0 (default) = one per core this process may use; with \
            --workers N local workers each get an equal share (cores ÷ N, at least 1). Results do not depend on it.
            """)
    public var threads = 0

    @Option(
        help: """
            Optimizer: lbfgs (full-batch L-BFGS with a strong-Wolfe line search), gd (gradient descent), or the \
            mini-batch sgd, adam, adamw (default: lbfgs, or adam for triplet and vae).
            """)
    public var optimizer: OptimizerName?

    @Option(help: "Step size of gd, and the peak learning rate of sgd, adam and adamw (default 0.5 for gd, 0.01 otherwise).")
    public var learningRate: Double?

    @Option(help: "sgd: momentum coefficient (0 = plain SGD; default 0.9).")
    public var momentum: Double?

    @Flag(help: "sgd: Nesterov momentum.")
    public var nesterov = false

    @Option(help: "adamw: decoupled weight decay λ on the weight tensors.")
    public var weightDecay: Double?

    @Option(help: "sgd, adam, adamw: learning-rate schedule: constant, cosine (to 0 over --max-rounds) or step (×0.1 every third of the run).")
    public var schedule: ScheduleName?

    @Option(help: "sgd, adam, adamw: linear warm-up steps.")
    public var warmup: Int?

    @Option(help: "Blocks per mini-batch round for sgd, adam and adamw (default: 1).")
    public var batchBlocks: Int?

    @Option(help: "svm, quantile: smoothing μ of the first continuation stage (default: 1 for svm, the targets' mean absolute deviation for quantile).")
    public var smoothingStart: Double?

    @Option(help: "svm, quantile: smoothing μ of the last continuation stage, relative to the first.")
    public var smoothingFinal: Double?

    @Option(help: "Every this many rounds, evaluate the current parameters on the held-out rows (an \"eval\" progress event).")
    public var evalEvery: Int?

    @Option(help: "Held-out rows: 0-based data-row indices of the same CSV.")
    public var testRows: String?

    @Option(help: "Held-out rows: this fraction of the rows, split off at random with --seed.")
    public var testFraction: Double?

    @Option(help: "Held-out rows: another CSV with the same columns (or a .npy with the label as its last column).")
    public var testData: String?

    @Option(help: "Curvature pairs kept by L-BFGS (default 10).")
    public var lbfgsMemory: Int?

    @Option(help: "Stop after this many rounds (objective evaluations, line-search trials included).")
    public var maxRounds = 5000

    @Option(help: "Stop when the gradient's 2-norm is at most this.")
    public var gradientTolerance = 1e-8

    @Option(help: "Stop when the relative objective change between accepted iterates is at most this.")
    public var objectiveTolerance = 1e-13

    @Option(help: "Seed of every random choice (shuffles, sampling, noise); results depend on it, not on workers.")
    public var seed: UInt64 = 0

    @Option(help: "Progress output: text (live line on a terminal) or json (one object per line).")
    public var logFormat: LogFormat = .text

    @Option(help: "Publish progress (JSON lines) on this ZeroMQ endpoint for `shardtrain watch`, e.g. tcp://127.0.0.1:5556.")
    public var progressEndpoint: String?

    @Option(help: "Write a JSON summary of the run to this file.")
    public var summaryJson: String?

    @Option(help: "Save the trained model to this file (safetensors with JSON metadata).")
    public var save: String?

    public init() {}

    public func validate() throws {
        guard l2.isFinite, l2 >= 0 else { throw ValidationError("--l2 must be finite and non-negative, got \(l2)") }
        if let blockRows, blockRows < 1 { throw ValidationError("--block-rows must be at least 1, got \(blockRows)") }
        guard threads >= 0 else { throw ValidationError("--threads must be 0 (all cores) or positive") }
        guard maxRounds >= 1 else { throw ValidationError("--max-rounds must be at least 1") }
        if let learningRate, !(learningRate > 0 && learningRate.isFinite) {
            throw ValidationError("--learning-rate must be positive")
        }
        if labels != nil, !NumpyReader.isNumpyPath(data) { throw ValidationError("--labels applies to a .npy --data only") }
        if labelColumn != nil, NumpyReader.isNumpyPath(data) {
            throw ValidationError("--label-column applies to CSV data; for .npy give --labels or put the label last")
        }
        let held = [testRows != nil, testFraction != nil, testData != nil].filter { $0 }.count
        guard held <= 1 else { throw ValidationError("give at most one of --test-rows, --test-fraction, --test-data") }
        if model == .quantile, tau.isEmpty { throw ValidationError("--model quantile needs --tau (one or more)") }
        if model != .quantile, !tau.isEmpty { throw ValidationError("--tau applies to --model quantile only") }
        if model == .vae, standardize {
            throw ValidationError("--model vae models features in [0, 1] (binary cross-entropy); drop --standardize")
        }
        if let batchBlocks, batchBlocks < 1 { throw ValidationError("--batch-blocks must be at least 1") }
        if let evalEvery, evalEvery < 1 { throw ValidationError("--eval-every must be at least 1") }
        try validateApplicability()
        for (flag, path) in [("--summary-json", summaryJson), ("--save", save)] {
            guard let path else { continue }
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ValidationError("\(flag) \(path): the directory \(directory) does not exist")
            }
        }
        if let lbfgsMemory, lbfgsMemory < 1 { throw ValidationError("--lbfgs-memory must be at least 1") }
        guard gradientTolerance >= 0, objectiveTolerance >= 0 else {
            throw ValidationError("tolerances must be non-negative")
        }
    }

    var dataConfiguration: DataConfiguration {
        DataConfiguration(
            path: data, labelColumn: labelColumn, labelsPath: labels, rowsPath: rows, testRowsPath: testRows,
            testFraction: testFraction, testDataPath: testData, seed: seed, shuffleTrainingRows: shuffleTrainingRows, standardize: standardize,
            precision: precision, blockRows: blockRows)
    }

    /// Mini-batches and in-block triplets need blocks that mix the classes, whatever the file's order.
    var shuffleTrainingRows: Bool { [.sgd, .adam, .adamw].contains(optimizerName) || model == .triplet }

    /// Rejects flags that do not apply to the chosen model or optimizer (a flag silently ignored is a
    /// wrong result waiting to happen) and out-of-range values of the model flags.
    private func validateApplicability() throws {
        func only(_ flag: String, given: Bool, _ models: [ModelKind]) throws {
            if given, !models.contains(model) {
                throw ValidationError("\(flag) applies to --model \(models.map(\.rawValue).joined(separator: ", ")) only")
            }
        }
        try only("--focal-gamma", given: focalGamma != nil, [.logistic])
        try only("--focal-alpha", given: focalAlpha != nil, [.logistic])
        try only("--classes", given: classes != nil, [.softmax, .triplet])
        try only("--margin", given: margin != nil, [.triplet])
        try only("--pairs", given: pairs != nil, [.triplet])
        try only("--hidden", given: hidden != nil, [.triplet, .vae])
        try only("--dimension", given: dimension != nil, [.triplet, .vae])
        try only("--smoothing-start", given: smoothingStart != nil, [.svm, .quantile])
        try only("--smoothing-final", given: smoothingFinal != nil, [.svm, .quantile])
        if focalAlpha != nil, focalGamma == nil { throw ValidationError("--focal-alpha needs --focal-gamma") }
        if let focalGamma, !(focalGamma >= 0 && focalGamma.isFinite) { throw ValidationError("--focal-gamma must be ≥ 0") }
        if let focalAlpha, !(focalAlpha >= 0 && focalAlpha <= 1) { throw ValidationError("--focal-alpha must be in [0, 1]") }
        if let margin, !(margin > 0 && margin.isFinite) { throw ValidationError("--margin must be positive") }
        if let dimension, dimension < 1 { throw ValidationError("--dimension must be at least 1") }
        if let hidden, hidden < 1 { throw ValidationError("--hidden must be at least 1") }
        if let smoothingStart, !(smoothingStart > 0 && smoothingStart.isFinite) {
            throw ValidationError("--smoothing-start must be positive")
        }
        if let smoothingFinal, !(smoothingFinal > 0 && smoothingFinal <= 1) {
            throw ValidationError("--smoothing-final (relative to the first stage) must be in (0, 1]")
        }
        let stochastic = [.sgd, .adam, .adamw].contains(optimizerName)
        if !stochastic, model == .triplet || model == .vae {
            throw ValidationError(
                "--model \(model.rawValue) draws new triplets or noise every round, so its objective is random: use "
                    + "--optimizer sgd, adam or adamw (a line search or fixed-step descent needs a fixed objective)")
        }
        if stochastic, smoothingStart != nil || smoothingFinal != nil {
            throw ValidationError("--smoothing-start/--smoothing-final apply to the continuation of lbfgs and gd")
        }
        func onlyOptimizers(_ flag: String, given: Bool, _ names: [OptimizerName]) throws {
            if given, !names.contains(optimizerName) {
                throw ValidationError("\(flag) applies to --optimizer \(names.map(\.rawValue).joined(separator: ", ")) only")
            }
        }
        try onlyOptimizers("--learning-rate", given: learningRate != nil, [.gd, .sgd, .adam, .adamw])
        try onlyOptimizers("--lbfgs-memory", given: lbfgsMemory != nil, [.lbfgs])
        try onlyOptimizers("--momentum", given: momentum != nil, [.sgd])
        try onlyOptimizers("--nesterov", given: nesterov, [.sgd])
        try onlyOptimizers("--weight-decay", given: weightDecay != nil, [.adamw])
        try onlyOptimizers("--schedule", given: schedule != nil, [.sgd, .adam, .adamw])
        try onlyOptimizers("--warmup", given: warmup != nil, [.sgd, .adam, .adamw])
        try onlyOptimizers("--batch-blocks", given: batchBlocks != nil, [.sgd, .adam, .adamw])
        if let momentum, !(momentum >= 0 && momentum < 1) { throw ValidationError("--momentum must be in [0, 1)") }
        if let warmup, warmup < 0 { throw ValidationError("--warmup must be non-negative") }
    }

    /// The optimizer actually used: the explicit choice, or lbfgs (adam for the mini-batch models).
    var optimizerName: OptimizerName {
        optimizer ?? ((model == .triplet || model == .vae) ? .adam : .lbfgs)
    }
}

/// Heartbeat and failure-detection settings.
public struct ClusterArguments: ParsableArguments {
    @Option(help: "Seconds between heartbeats to an otherwise idle peer.")
    public var heartbeatInterval = 0.25

    @Option(help: "Seconds of silence after which a worker is declared dead and the job fails.")
    public var workerTimeout = 3.0

    @Option(help: "Seconds to wait for all workers to join and receive their blocks.")
    public var joinTimeout = 120.0

    public init() {}

    public func validate() throws {
        guard heartbeatInterval >= 0.001, workerTimeout > heartbeatInterval, workerTimeout <= 86_400,
            joinTimeout > 0, joinTimeout <= 86_400
        else {
            throw ValidationError(
                "need 0.001 ≤ --heartbeat-interval < --worker-timeout ≤ 86400 and 0 < --join-timeout ≤ 86400 (seconds)")
        }
    }

    var timing: ClusterTiming {
        ClusterTiming(heartbeatInterval: heartbeatInterval, deadAfter: workerTimeout, joinTimeout: joinTimeout)
    }
}
