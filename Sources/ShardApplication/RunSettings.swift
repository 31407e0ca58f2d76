import ShardData
import ShardEngine
import ShardModels
import ShardOptimizers

/// The settings a run actually used, defaults resolved: the `settings` object of the summary, enough to read
/// what was trained and to run it again (`train --config`, see `RecordedRun`). Every value that affects the
/// result bits is here; file paths are as the run was given them.
public struct RunSettings: Codable, Sendable, Equatable {
    /// Kind, width, L2 strength and the kind's settings (the model file's `spec`).
    public var model: ModelSpec
    public var optimizer: String
    /// gd: the step; sgd, adam, adamw: the peak rate (nil for lbfgs).
    public var learningRate: Double?
    public var lbfgsMemory: Int?
    public var momentum: Double?
    public var nesterov: Bool?
    public var weightDecay: Double?
    public var schedule: String?
    public var warmup: Int?
    /// Mini-batch runs: blocks per step.
    public var batchBlocks: Int?
    /// Continuation solves: the first smoothing μ, and the last relative to the first (as `--smoothing-final`).
    public var smoothingStart: Double?
    public var smoothingFinal: Double?
    public var maxRounds: Int
    public var gradientTolerance: Double
    public var objectiveTolerance: Double
    public var seed: UInt64
    public var standardize: Bool
    public var shuffleTrainingRows: Bool
    public var precision: String
    public var blockRows: Int
    public var labelColumn: String
    public var dataFile: String
    /// `--format` when given (nil: inferred from the name), `--delimiter` when given (nil: sniffed), `--no-header`.
    public var dataFormat: String?
    public var delimiter: String?
    public var noHeader: Bool?
    public var labelsFile: String?
    public var rowsFile: String?
    public var testRowsFile: String?
    public var testFraction: Double?
    public var testDataFile: String?
    /// `--threshold-for` (`precision=0.9`, `recall=0.9`, `f1`): the decision threshold is chosen on the held-out rows.
    public var thresholdFor: String?
    /// CSV schema options when given: `--ignore`, `--id-column`, `--categorical`, `--missing` (nil: error), and
    /// `--positive-class` (absent in summaries written before them).
    public var ignore: [String]?
    public var idColumn: String?
    public var categorical: [String]?
    public var missing: String?
    public var positiveClass: String?

    /// Read from what the run was set up with (`PreparedRun.options`), so no default is restated here.
    init(_ run: PreparedRun) {
        let request = run.request
        model = run.model.spec
        optimizer = request.optimizer.rawValue
        /// Peak rate, schedule name and warm-up steps of a mini-batch schedule.
        func describe(_ schedule: LearningRateSchedule) -> (rate: Double, name: String, warmup: Int) {
            var base = schedule
            var warmup = 0
            if case .linearWarmUp(let steps, let inner) = schedule { (warmup, base) = (steps, inner) }
            let name =
                switch base {
                case .constant: "constant"
                case .cosine: "cosine"
                case .stepDecay: "step"
                case .exponential: "exponential"
                case .linearWarmUp: "warm-up"
                }
            return (schedule.peakRate, name, warmup)
        }
        var stochastic: LearningRateSchedule?
        switch run.options.optimizer {
        case .lbfgs(let memory):
            lbfgsMemory = memory
        case .gradientDescent(let rate):
            learningRate = rate
        case .sgd(let schedule, let sgdMomentum):
            stochastic = schedule
            momentum = sgdMomentum.coefficient
            if case .nesterov = sgdMomentum { nesterov = true } else { nesterov = false }
        case .adam(let schedule, _, _, _):
            stochastic = schedule
        case .adamW(let schedule, let decay, _, _, _):
            stochastic = schedule
            weightDecay = decay
        }
        if let stochastic {
            (learningRate, schedule, warmup) = describe(stochastic)
            batchBlocks = run.options.batch?.blocksPerStep
        }
        smoothingStart = run.options.continuation?.initial
        smoothingFinal = run.options.continuation.map { _ in request.solver.smoothingFinal ?? SolverChoices.defaultSmoothingFinal }
        maxRounds = run.options.maxRounds
        gradientTolerance = run.options.stopping.gradientTolerance
        objectiveTolerance = run.options.stopping.relativeObjectiveTolerance
        seed = request.seed
        standardize = request.data.standardize
        shuffleTrainingRows = request.data.shuffleTrainingRows
        precision = run.data.precision.rawValue
        blockRows = run.data.blockRows
        labelColumn = run.data.dataset.labelName
        dataFile = request.data.path
        dataFormat = request.data.format?.rawValue
        delimiter = request.data.dialect.delimiter.map { String(UnicodeScalar($0)) }
        noHeader = request.data.dialect.hasHeader ? nil : true
        labelsFile = request.data.labelsPath
        rowsFile = request.data.rowsPath
        testRowsFile = request.data.testRowsPath
        testFraction = request.data.testFraction
        testDataFile = request.data.testDataPath
        thresholdFor = request.model.thresholdFor?.description
        let schema = request.data.schema
        ignore = schema.ignored.isEmpty ? nil : schema.ignored
        idColumn = schema.idColumn
        categorical = schema.categorical.isEmpty ? nil : schema.categorical
        missing = schema.missing == .error ? nil : schema.missing.rawValue
        positiveClass = request.data.positiveClass
    }
}
