import ShardData
import ShardEngine
import ShardModels

/// The settings a run actually used, defaults resolved: the `settings` object of the summary, enough to read
/// what was trained and to run it again.
public struct RunSettings: Encodable, Sendable {
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
    /// Continuation solves: the first and last smoothing μ.
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
    public var labelsFile: String?
    public var rowsFile: String?
    public var testRowsFile: String?
    public var testFraction: Double?
    public var testDataFile: String?

    init(_ run: PreparedRun) {
        let request = run.request
        let solver = request.solver
        let optimizer = request.optimizer
        model = run.model.spec
        self.optimizer = optimizer.rawValue
        switch optimizer {
        case .lbfgs: lbfgsMemory = solver.lbfgsMemory ?? 10
        case .gd: learningRate = request.learningRate
        case .sgd, .adam, .adamw:
            learningRate = request.learningRate
            schedule = (solver.schedule ?? .constant).rawValue
            warmup = solver.warmup ?? 0
            batchBlocks = run.options.batch?.blocksPerStep
            if optimizer == .sgd {
                momentum = solver.momentum ?? 0.9
                nesterov = solver.nesterov
            }
            if optimizer == .adamw { weightDecay = solver.weightDecay ?? 0.01 }
        }
        smoothingStart = run.options.continuation?.initial
        smoothingFinal = run.options.continuation?.final
        maxRounds = run.options.maxRounds
        gradientTolerance = run.options.stopping.gradientTolerance
        objectiveTolerance = run.options.stopping.relativeObjectiveTolerance
        seed = request.seed
        standardize = request.data.standardize
        shuffleTrainingRows = request.data.shuffleTrainingRows
        precision = run.data.precision.rawValue
        blockRows = run.data.blockRows
        labelColumn = run.data.dataset.labelName
        labelsFile = request.data.labelsPath
        rowsFile = request.data.rowsPath
        testRowsFile = request.data.testRowsPath
        testFraction = request.data.testFraction
        testDataFile = request.data.testDataPath
    }
}
