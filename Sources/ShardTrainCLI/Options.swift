import ArgumentParser
import ShardCluster
import ShardEngine
import ShardModels
import ShardNumerics
import ShardOptimizers

extension ModelKind: ExpressibleByArgument {}
extension Precision: ExpressibleByArgument {}
extension LogFormat: ExpressibleByArgument {}

/// Which optimizer, as spelled on the command line.
public enum OptimizerName: String, ExpressibleByArgument, CaseIterable, Sendable {
    case lbfgs
    case gd
}

/// Options of every command that trains (train, coordinator).
public struct TrainingArguments: ParsableArguments {
    @Option(help: "CSV file with a header row; the label is the last column unless --label-column says otherwise.")
    public var data: String

    @Option(help: "Name of the label column.")
    public var labelColumn: String?

    @Option(help: "File of 0-based data-row indices to train on, in that order (default: all rows).")
    public var rows: String?

    @Option(help: "Model to train: \(ModelKind.allCases.map(\.rawValue).joined(separator: ", ")).")
    public var model: ModelKind = .logistic

    @Option(help: "L2 penalty (l2/2)·‖w‖² on weights (biases are not penalised).")
    public var l2: Double = 0.01

    @Flag(help: "Z-score the features with the mean and population std of the training rows.")
    public var standardize = false

    @Option(help: "Storage precision of the data: float64, or float32 for half the memory traffic.")
    public var precision: Precision = .float64

    @Option(help: "Rows per block (the unit of work and of the reduction tree).")
    public var blockRows = 128

    @Option(help: "Threads per process for the blocks (0 = one per core).")
    public var threads = 0

    @Option(help: "Optimizer: lbfgs (full-batch L-BFGS with a strong-Wolfe line search) or gd (gradient descent).")
    public var optimizer: OptimizerName = .lbfgs

    @Option(help: "Step size of gradient descent.")
    public var learningRate = 0.5

    @Option(help: "Curvature pairs kept by L-BFGS.")
    public var lbfgsMemory = 10

    @Option(help: "Stop after this many rounds (objective evaluations).")
    public var maxRounds = 1000

    @Option(help: "Stop when the gradient's 2-norm is at most this.")
    public var gradientTolerance = 1e-8

    @Option(help: "Stop when the relative objective change between accepted iterates is at most this.")
    public var objectiveTolerance = 1e-13

    @Option(help: "Seed of every random choice (shuffles, sampling, noise); results depend on it, not on workers.")
    public var seed: UInt64 = 0

    @Option(help: "Progress output: text (live line on a terminal) or json (one object per line).")
    public var logFormat: LogFormat = .text

    @Option(help: "Write a JSON summary of the run to this file.")
    public var summaryJson: String?

    @Option(help: "Save the trained model to this file (safetensors with JSON metadata).")
    public var save: String?

    public init() {}

    public func validate() throws {
        guard l2.isFinite, l2 >= 0 else { throw ValidationError("--l2 must be finite and non-negative, got \(l2)") }
        guard blockRows >= 1 else { throw ValidationError("--block-rows must be at least 1, got \(blockRows)") }
        guard threads >= 0 else { throw ValidationError("--threads must be 0 (all cores) or positive") }
        guard maxRounds >= 1 else { throw ValidationError("--max-rounds must be at least 1") }
        guard learningRate > 0, learningRate.isFinite else { throw ValidationError("--learning-rate must be positive") }
        guard lbfgsMemory >= 1 else { throw ValidationError("--lbfgs-memory must be at least 1") }
        guard gradientTolerance >= 0, objectiveTolerance >= 0 else {
            throw ValidationError("tolerances must be non-negative")
        }
    }

    var dataConfiguration: DataConfiguration {
        DataConfiguration(
            path: data, labelColumn: labelColumn, rowsPath: rows, standardize: standardize, precision: precision,
            blockRows: blockRows)
    }

    var trainingOptions: TrainingOptions {
        TrainingOptions(
            optimizer: optimizer == .lbfgs ? .lbfgs(memory: lbfgsMemory) : .gradientDescent(learningRate: learningRate),
            maxRounds: maxRounds,
            stopping: StoppingCriteria(gradientTolerance: gradientTolerance, relativeObjectiveTolerance: objectiveTolerance))
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
        guard heartbeatInterval > 0, workerTimeout > heartbeatInterval, joinTimeout > 0 else {
            throw ValidationError("need 0 < --heartbeat-interval < --worker-timeout and --join-timeout > 0")
        }
    }

    var timing: ClusterTiming {
        ClusterTiming(heartbeatInterval: heartbeatInterval, deadAfter: workerTimeout, joinTimeout: joinTimeout)
    }
}
