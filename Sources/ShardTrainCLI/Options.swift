import Foundation
import ArgumentParser
import ShardCluster
import ShardData
import ShardEngine
import ShardMetrics
import ShardModels
import ShardNumerics
import ShardOptimizers
import ShardProtocol
import ShardApplication

extension ModelKind: ExpressibleByArgument {}
extension PairObjective: ExpressibleByArgument {}
extension Precision: ExpressibleByArgument {}
extension LogFormat: ExpressibleByArgument {}

extension OptimizerName: ExpressibleByArgument {}
extension ScheduleName: ExpressibleByArgument {}
extension RegressionLoss: ExpressibleByArgument {}
extension LossName: ExpressibleByArgument {}
extension DataFormat: ExpressibleByArgument {}
extension MissingPolicy: ExpressibleByArgument {}

extension ThresholdTarget: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }
}

extension ClassWeightChoice: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }
}

/// Options of every command that trains (train, coordinator).
public struct TrainingArguments: ParsableArguments {
    @Option(help: "CSV file with a header row (comma, tab or semicolon delimited; may be gzip-compressed); the label is the last column unless --label-column says otherwise. Or a NumPy .npy array (2-D, <f4/<f8, C order) with --labels, or with the label as its last column. Or libsvm text (.svm, .libsvm, or --format libsvm).")
    public var data: String

    @Option(help: "With a .npy --data: a .npy of the labels, shape (rows,) or (rows, 1).")
    public var labels: String?

    @Option(help: "Name of the label column.")
    public var labelColumn: String?

    @OptionGroup public var delimiter: DelimiterArguments

    @Flag(help: "The CSV has no header line: name the columns f0, f1, … and label (the last column).")
    public var noHeader = false

    @Option(help: "Text format of --data: csv or libsvm (default: libsvm for .svm/.libsvm names, else csv).")
    public var format: DataFormat?

    @Option(help: "File of 0-based data-row indices to train on, in that order (default: all rows).")
    public var rows: String?

    @Option(parsing: .unconditionalSingleValue, help: "CSV: a column not to train on (repeat for more).")
    public var ignore: [String] = []

    @Option(help: "CSV: a column of row ids: not trained on, recorded in the model and passed through by `predict`.")
    public var idColumn: String?

    @Option(
        parsing: .unconditionalSingleValue,
        help: ArgumentHelp(
            "CSV: read this column as categories (one-hot), even when its values are numbers (repeat for more).",
            discussion: "Columns of text are categorical anyway. A number in a categorical column is the category of its "
                + "canonical text (integers without a fraction, else the shortest round trip), so 1, 1.0 and +1 are one "
                + "category in training and in predict. Naming the label column makes numeric labels class names: "
                + "softmax labels 3, 5, 7 become three classes (without it they are class indices 0…7)."))
    public var categorical: [String] = []

    @Option(help: "CSV: a missing cell (empty, NA, N/A, NaN, null, None or ?, any case): error (default), drop (the row), mean or median (of the column's training rows; a categorical cell: all-zero).")
    public var missing: MissingPolicy = .error

    @Option(help: "logistic, svm with labels written as text: the positive class (default: the second in sorted order).")
    public var positiveClass: String?

    @Option(help: "Model to train: \(ModelKind.allCases.map(\.rawValue).joined(separator: ", ")).")
    public var model: ModelKind = .logistic

    @Option(parsing: .unconditional, help: "L2 penalty (l2/2)·‖w‖² on weights (biases are not penalised).")
    public var l2: Double = 0.01

    @Option(parsing: .unconditionalSingleValue, help: "quantile: quantile level τ ∈ (0, 1); repeat for a multi-quantile head (e.g. --tau 0.1 --tau 0.9).")
    public var tau: [Double] = []

    @Option(parsing: .unconditional, help: "logistic: focal loss with this γ ≥ 0 instead of BCE (α_t convention, see --focal-alpha).")
    public var focalGamma: Double?

    @Option(parsing: .unconditional, help: "logistic: focal α ∈ [0, 1], the weight of the positive class (1 − α for negatives).")
    public var focalAlpha: Double?

    @Option(help: "logistic, softmax: per-class loss weights, 'balanced' (n / (K·n_c)) or a list 'w0,w1,…' of non-negative numbers.")
    public var classWeight: ClassWeightChoice?

    @Option(parsing: .unconditional, help: "softmax, triplet: number of classes K (default: largest label + 1).")
    public var classes: Int?

    @Option(parsing: .unconditional, help: "triplet: margin of the triplet or contrastive loss (default 1).")
    public var margin: Double?

    @Option(parsing: .unconditional, help: "triplet, vae: width of the hidden ReLU layer (default: the linear variant).")
    public var hidden: Int?

    @Option(parsing: .unconditional, help: "triplet: embedding dimension; vae: latent dimension (default 2).")
    public var dimension: Int?

    @Option(help: "triplet: how pairs are formed in a block: tripletRandom, tripletSemiHard (default) or contrastive.")
    public var pairs: PairObjective?

    @Option(help: "linear: the loss on the residual e = ŷ − y: mse e² (default; ridge), huber (see --delta) or mae |e|.")
    public var loss: RegressionLoss?

    @Option(parsing: .unconditional, help: "linear with --loss huber: the threshold δ of the Huber loss ½e² (|e| ≤ δ), δ(|e| − ½δ) beyond (default 1; note mse is e², twice Huber's quadratic part).")
    public var delta: Double?

    @Flag(inversion: .prefixedNo, help: "Z-score the features with the mean and population std of the training rows.")
    public var standardize = false

    @Option(help: "Storage precision of the data: float64, or float32 for half the memory traffic.")
    public var precision: Precision = .float64

    @Option(parsing: .unconditional, help: ArgumentHelp(
        "Rows per block (the unit of work and of the reduction tree).",
        discussion: "Default: chosen from the data alone, never from the worker count, so the bits are the same "
            + "for any number of workers: \(BlockPlan.defaultRuleDescription)"))
    public var blockRows: Int?

    @Option(
        help: """
            Optimizer: lbfgs (full-batch L-BFGS with a strong-Wolfe line search), gd (gradient descent), or the \
            mini-batch sgd, adam, adamw (default: lbfgs, or adam for triplet and vae).
            """)
    public var optimizer: OptimizerName?

    @Option(parsing: .unconditional, help: "Step size of gd, and the peak learning rate of sgd, adam and adamw (default 0.5 for gd, 0.01 otherwise).")
    public var learningRate: Double?

    @Option(parsing: .unconditional, help: "sgd: momentum coefficient (0 = plain SGD; default 0.9).")
    public var momentum: Double?

    @Flag(inversion: .prefixedNo, help: "sgd: Nesterov momentum.")
    public var nesterov = false

    @Option(parsing: .unconditional, help: "adamw: decoupled weight decay λ on the weight tensors.")
    public var weightDecay: Double?

    @Option(help: "sgd, adam, adamw: learning-rate schedule: constant, cosine (to 0 over --max-rounds) or step (×0.1 every third of the run).")
    public var schedule: ScheduleName?

    @Option(parsing: .unconditional, help: "sgd, adam, adamw: linear warm-up steps.")
    public var warmup: Int?

    @Option(parsing: .unconditional, help: "Blocks per mini-batch round for sgd, adam and adamw (default: 1).")
    public var batchBlocks: Int?

    @Option(parsing: .unconditional, help: "svm, quantile, linear --loss mae: smoothing μ of the first continuation stage (default: 1 for svm, the targets' mean absolute deviation for the regressions).")
    public var smoothingStart: Double?

    @Option(parsing: .unconditional, help: "svm, quantile, linear --loss mae: smoothing μ of the last continuation stage, relative to the first.")
    public var smoothingFinal: Double?

    @Option(help: ArgumentHelp(
        "logistic, svm: after training, choose the decision threshold on the held-out rows: precision=P, recall=R (0 < P, R ≤ 1) or f1.",
        discussion: "precision=P: the largest recall among thresholds with precision ≥ P (ties: the higher threshold); "
            + "recall=R: the largest precision among thresholds with recall ≥ R; f1: the largest F1. Needs held-out rows "
            + "(--test-fraction …). Recorded in the model and the summary; predict and evaluate use it unless --threshold "
            + "is given. A target no threshold reaches gives the best available with a warning."))
    public var thresholdFor: ThresholdTarget?

    @Option(help: "Held-out rows: 0-based data-row indices of the same CSV.")
    public var testRows: String?

    @Option(parsing: .unconditional, help: "Held-out rows: this fraction of the rows, split off at random with --seed.")
    public var testFraction: Double?

    @Option(help: "Held-out rows: another CSV with the same columns (or a .npy with the label as its last column).")
    public var testData: String?

    @Option(parsing: .unconditional, help: "Curvature pairs kept by L-BFGS (default 10).")
    public var lbfgsMemory: Int?

    @Option(parsing: .unconditional, help: "Seed of every random choice (shuffles, sampling, noise); results depend on it, not on workers.")
    public var seed: UInt64 = 0

    public init() {}

    public func validate() throws {
        // The model and solver rules (the stopping and output settings are checked by their own groups).
        do { try request(stopping: nil, evalEvery: nil, threads: 0).validate() } catch {
            throw ValidationError(error.description)
        }
    }

    /// The files a run reads, by flag (for `OutputPaths.refuseClashes`).
    var inputFiles: [(flag: String, path: String?)] {
        [("--data", data), ("--labels", labels), ("--rows", rows), ("--test-rows", testRows), ("--test-data", testData)]
    }

    /// The run as the application library takes it: these choices, the stopping rule, the checkpoint interval
    /// and the threads of this process.
    func request(stopping: StoppingArguments?, evalEvery: Int?, threads: Int) -> TrainingRequest {
        var choices = ModelChoices()
        choices.kind = model
        choices.l2 = l2
        choices.taus = tau
        choices.focalGamma = focalGamma
        choices.focalAlpha = focalAlpha
        choices.classWeight = classWeight
        choices.classes = classes
        choices.margin = margin
        choices.hidden = hidden
        choices.dimension = dimension
        choices.pairs = pairs
        choices.regressionLoss = loss
        choices.delta = delta
        choices.thresholdFor = thresholdFor
        var solver = SolverChoices()
        solver.optimizer = optimizer
        solver.learningRate = learningRate
        solver.momentum = momentum
        solver.nesterov = nesterov
        solver.weightDecay = weightDecay
        solver.schedule = schedule
        solver.warmup = warmup
        solver.batchBlocks = batchBlocks
        solver.lbfgsMemory = lbfgsMemory
        solver.smoothingStart = smoothingStart
        solver.smoothingFinal = smoothingFinal
        if let stopping {
            solver.maxRounds = stopping.maxRounds
            solver.gradientTolerance = stopping.gradientTolerance
            solver.objectiveTolerance = stopping.objectiveTolerance
        }
        solver.evalEvery = evalEvery
        var configuration = DataConfiguration(
            path: data, labelColumn: labelColumn, labelsPath: labels, rowsPath: rows, testRowsPath: testRows,
            testFraction: testFraction, testDataPath: testData, seed: seed, standardize: standardize,
            precision: precision, blockRows: blockRows, format: format,
            dialect: delimiter.dialect(hasHeader: !noHeader))
        configuration.schema = SchemaOptions(ignored: ignore, idColumn: idColumn, categorical: categorical, missing: missing)
        configuration.positiveClass = positiveClass
        return TrainingRequest(data: configuration, model: choices, solver: solver, threads: threads)
    }
}

/// `--delimiter` of every command that reads CSV files.
public struct DelimiterArguments: ParsableArguments {
    @Option(help: "CSV field delimiter: a character, or tab, comma, semicolon (default: sniffed from the first line).")
    public var delimiter: String?

    public init() {}

    public func validate() throws {
        if let delimiter, CSVDialect.delimiter(named: delimiter) == nil {
            throw ValidationError(
                "--delimiter must be one character (not a quote, digit, sign, '.', 'e' or line break), or tab, comma, semicolon")
        }
    }

    /// The delimiter given (nil: sniffed).
    var byte: UInt8? { delimiter.flatMap(CSVDialect.delimiter(named:)) }

    /// A CSV in this delimiter, with or without a header line.
    func dialect(hasHeader: Bool) -> CSVDialect { CSVDialect(delimiter: byte, hasHeader: hasHeader) }
}

/// When a full-batch run stops.
public struct StoppingArguments: ParsableArguments {
    @Option(parsing: .unconditional, help: "Stop after this many rounds (objective evaluations, line-search trials included).")
    public var maxRounds = 5000

    @Option(help: "Stop when the gradient's 2-norm is at most this.")
    public var gradientTolerance = 1e-8

    @Option(help: "Stop when the relative objective change between accepted iterates is at most this.")
    public var objectiveTolerance = 1e-13

    public init() {}

    public func validate() throws {
        guard maxRounds >= 1 else { throw ValidationError("--max-rounds must be at least 1") }
        guard gradientTolerance >= 0, objectiveTolerance >= 0 else {
            throw ValidationError("tolerances must be non-negative")
        }
    }
}

/// What a run writes besides its parameters: progress, evaluations during training, summary and model files.
public struct OutputArguments: ParsableArguments {
    @Option(parsing: .unconditional, help: "Every this many rounds, evaluate the current parameters on the held-out rows (an \"eval\" progress event).")
    public var evalEvery: Int?

    @Option(help: "Progress output: text (live line on a terminal) or json (one object per line).")
    public var logFormat: LogFormat = .text

    @Option(
        help: "Publish progress (JSON lines) on this ZeroMQ endpoint for `shardtrain watch`, e.g. tcp://127.0.0.1:5556.",
        transform: EndpointArgument.normalized)
    public var progressEndpoint: String?

    @Option(
        parsing: .unconditional,
        help: "With --progress-endpoint: seconds to wait after the run for a first watcher if none came (it gets the summary; default 5).")
    public var progressLinger: Double?

    /// `--progress-linger`, or its default.
    var lingerSeconds: Double { progressLinger ?? 5 }

    @Option(help: "Write a JSON summary of the run to this file.")
    public var summaryJson: String?

    @Option(help: "Save the trained model to this file (safetensors with JSON metadata).")
    public var save: String?

    @Option(help: "Write one CSV row per round to this file with the model and summary (see README, \"The history file\").")
    public var history: String?

    @Option(help: "Write an HTML report with charts of the run and of the model's quality to this file (see README, \"Reports\").")
    public var report: String?

    @Option(help: "Write checkpoints into this folder (created if needed) every --checkpoint-every rounds, when Ctrl-C or SIGTERM stops the run and at its end; the newest two are kept.")
    public var checkpoint: String?

    @Option(parsing: .unconditional, help: "Rounds between checkpoints (default \(Checkpointing.defaultEvery)).")
    public var checkpointEvery: Int?

    @Option(help: "Continue the run saved in this checkpoint folder (same data and options, a larger --max-rounds allowed; any worker count), to the same result bits; new checkpoints go into it unless --checkpoint names another folder.")
    public var resume: String?

    public init() {}

    public func validate() throws {
        if let evalEvery, evalEvery < 1 { throw ValidationError("--eval-every must be at least 1") }
        if progressLinger != nil, progressEndpoint == nil {
            throw ValidationError("--progress-linger applies to --progress-endpoint, which is not given")
        }
        try OutputPaths.refuseUnwritable(outputFiles)
        if let checkpointEvery {
            guard checkpointEvery >= 1 else { throw ValidationError("--checkpoint-every must be at least 1") }
            guard checkpoint != nil || resume != nil else {
                throw ValidationError("--checkpoint-every needs --checkpoint DIR (or --resume DIR)")
            }
        }
        try OutputPaths.checkCheckpointFolders(checkpoint: checkpoint, resume: resume)
    }
}

extension OutputArguments {
    /// The files a run writes, by flag.
    var outputFiles: [(flag: String, path: String?)] {
        [("--save", save), ("--summary-json", summaryJson), ("--history", history), ("--report", report)]
    }
}

/// Threads of the processes that compute blocks.
public struct ThreadArguments: ParsableArguments {
    @Option(
        parsing: .unconditional,
        help: """
            Threads per process for the blocks: 0 (default) = one per core this process may use; with \
            --workers N local workers each get an equal share (cores ÷ N, at least 1). Results do not depend on it.
            """)
    public var threads = 0

    public init() {}

    public func validate() throws {
        guard threads >= 0 else { throw ValidationError("--threads must be 0 (all cores) or positive") }
    }
}

/// Heartbeat and failure-detection settings.
public struct ClusterArguments: ParsableArguments {
    @Option(parsing: .unconditional, help: "Seconds between heartbeats to an otherwise idle peer.")
    public var heartbeatInterval = 0.25

    @Option(
        parsing: .unconditional,
        help: "Seconds of silence after which a worker is declared lost (its blocks go to the others).")
    public var workerTimeout = 3.0

    @Option(parsing: .unconditional, help: "Seconds to wait for all workers to join and receive their blocks.")
    public var joinTimeout = 120.0

    @Option(parsing: .unconditional, help: "The job fails when fewer live workers remain.")
    public var minWorkers = 1

    @Option(
        parsing: .unconditional,
        help: "Workers holding each block: 2 also keeps every shard on the next worker, so a loss needs no shipping.")
    public var replicas = 1

    @Option(
        parsing: .unconditional,
        help: "A worker still computing after this many times the round's median answer (and 0.5 s) gets a backup (inf: never).")
    public var stragglerFactor = 3.0

    public init() {}

    public func validate() throws {
        do { try timing.validate() } catch { throw ValidationError(error.description) }
        guard minWorkers >= 1 else { throw ValidationError("--min-workers must be at least 1") }
    }

    /// The resilience settings of a job with `workers` workers (`--min-workers` checked against it).
    func resilience(workers: Int) throws -> CoordinatorInstance.Resilience {
        let settings = CoordinatorInstance.Resilience(
            minWorkers: minWorkers, replicas: replicas, stragglerFactor: stragglerFactor)
        do { try settings.validate(expectedWorkers: workers) } catch { throw ValidationError(error.description) }
        return settings
    }

    var timing: ClusterTiming {
        ClusterTiming(heartbeatInterval: heartbeatInterval, workerTimeout: workerTimeout, joinTimeout: joinTimeout)
    }
}
