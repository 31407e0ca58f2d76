import Foundation
import ShardArtifacts
import ShardData
import ShardEngine
import ShardMetrics
import ShardModels
import ShardNumerics

/// Why a training run could not start or produced no result.
public enum TrainingRunError: Error, Sendable, CustomStringConvertible {
    case setup(SetupError)
    case data(DataError)
    case model(ModelError)
    /// The final objective or parameters are not finite: nothing is saved.
    case diverged(objective: Double, rounds: Int, stopReason: String)
    /// `--threshold-for` could not choose a threshold on the held-out rows: nothing is saved.
    case threshold(target: ThresholdTarget, ApplicationError)

    public var description: String {
        switch self {
        case .setup(let error): error.description
        case .data(let error): error.description + Self.hint(for: error)
        case .model(let error): error.description
        case .diverged(_, let rounds, let stopReason):
            "training diverged after \(rounds) rounds: \(stopReason); nothing was saved"
                + (stopReason.contains("--learning-rate") ? "" : " — lower --learning-rate")
        case .threshold(let target, let error):
            "--threshold-for \(target): no threshold could be chosen on the held-out rows: \(error); nothing was saved"
        }
    }

    /// The models that fit a label a binary model (logistic, svm) cannot use: a whole number ≥ 0 may be a class
    /// index (softmax) or a numeric target (linear, quantile); any other number is a numeric target.
    static func hint(for error: DataError) -> String {
        guard case .invalidBinaryLabel(_, _, _, let columnName, let value) = error else { return "" }
        let numeric = "a numeric target, --model linear (or quantile)"
        // A fraction such as 6.3483 is more often a feature read as the label than a target: name the column read.
        let column = value == value.rounded(.towardZero) ? "" : "; the label was read from column \"\(columnName)\": if "
            + "it is another column, name it with --label-column"
        return (value >= 0 && value == value.rounded(.towardZero)
            ? "; for more than two classes (labels 0, 1, 2, …) use --model softmax; for \(numeric)"
            : "; for \(numeric)") + column
    }
}

/// A run whose data is read and whose model and solver are chosen: what an executor needs.
public struct PreparedRun: Sendable {
    public let request: TrainingRequest
    public let data: PreparedData
    public let model: any Model
    public var options: TrainingOptions
    /// Seconds spent reading and preparing the data.
    public let loadSeconds: Double
    /// Things worth telling the user that do not stop the run (classes without rows).
    public let warnings: [String]

    /// Reads and prepares the data, builds the model and chooses the solver; `cancellation` stops the reading
    /// (`.data(.interrupted)`). `sharedMemory`: the blocks go into shared memory for local worker processes
    /// (`TrainingJob.prepare`).
    public init(
        _ request: TrainingRequest, sharedMemory: Bool = false, cancellation: ReadCancellation = .never
    ) throws(TrainingRunError) {
        let start = ContinuousClock.now
        do { try request.validate() } catch { throw .setup(error) }
        let prepared: PreparedData
        do {
            prepared = try TrainingJob.prepare(
                request.data, for: request.model.kind, classCount: request.model.classes, sharedMemory: sharedMemory,
                cancellation: cancellation)
        } catch {
            throw .data(error)
        }
        var warnings: [String] = []
        if let classCount = prepared.classCount, request.model.classes == nil {
            let supports = prepared.dataset.classSupports(classCount: classCount)
            let empty = supports.indices.filter { supports[$0] == 0 }
            if !empty.isEmpty {
                // Numeric labels of a CSV can be read as class names instead (3, 5, 7 → three classes).
                let asNames = prepared.schema == nil ? "" : ", or read them as class names with --categorical "
                    + prepared.dataset.labelName
                warnings.append(
                    "classes \(empty.map(String.init).joined(separator: ", ")) have no training rows: labels are "
                        + "class indices 0…\(classCount - 1) (the largest label + 1); relabel from 0, give --classes\(asNames)")
            }
        }
        if let target = request.model.thresholdFor, let test = prepared.test {
            // Precision and recall need both classes among the held-out rows (labels are 1 and 0 or −1 by now).
            let positives = test.labels.reduce(0) { $0 + ($1 == 1 ? 1 : 0) }
            guard positives > 0, positives < test.rowCount else {
                throw .setup(
                    SetupError(
                        "--threshold-for \(target) needs held-out rows of both classes; the \(test.rowCount) held-out rows "
                            + "hold \(positives) positive and \(test.rowCount - positives) negative: hold out more rows"))
            }
        }
        let spec: ModelSpec
        do { spec = try request.modelSpec(for: prepared) } catch { throw .setup(error) }
        let model: any Model
        do {
            // Memory for the run's real block size and threads, not only for the parameters.
            try spec.validateSizes(blockRows: prepared.blockRows, threads: ThreadCount.resolve(request.threads))
            model = try spec.makeModel()
        } catch {
            throw .model(error)
        }
        do { options = try request.trainingOptions(for: model, prepared: prepared) } catch { throw .setup(error) }
        self.request = request
        self.data = prepared
        self.model = model
        self.warnings = warnings
        self.loadSeconds = (ContinuousClock.now - start).seconds
    }

    /// Trains with `executor`, then computes the metrics of the training rows (and of the held-out rows) with
    /// the run's own blocks. Throws the executor's and engine's errors as they are, and `.diverged`.
    ///
    /// The summary's `wall_seconds` counts from `start`: the caller passes the moment it began building the
    /// executor, so that starting local workers and shipping their blocks are part of the fit's time.
    /// `resume` continues a run from a checkpoint's state; `saving` writes checkpoints (see `Trainer.run`).
    public func train(
        executor: any Executor, workers: Int, observer: (any TrainingObserver)?, shouldStop: @escaping () -> Bool,
        since start: ContinuousClock.Instant = .now, resume: TrainerState? = nil, saving: StateSaving? = nil
    ) throws -> TrainingOutcome {
        let result = try Trainer(model: model, executor: executor, options: options)
            .run(observer: observer, shouldStop: shouldStop, resumingFrom: resume, saving: saving)
        guard !result.diverged, result.objective.value.isFinite, result.parameters.allSatisfy(\.isFinite) else {
            throw TrainingRunError.diverged(
                objective: result.objective.value, rounds: result.rounds, stopReason: result.stopReason)
        }
        let wall = (ContinuousClock.now - start).seconds
        return try finish(result, workers: workers, wallSeconds: wall)
    }

    /// The optimizer's stop reason, with what it means where the data's precision explains it: with float32
    /// storage the block sums carry float32 rounding, so a line search near the optimum runs out of steps that
    /// it can tell apart.
    func stopReason(of result: TrainingResult) -> String {
        guard data.precision == .float32, case .lineSearchFailed = result.stop else { return result.stopReason }
        return result.stopReason + "; with --precision float32 the gradient carries float32 rounding (about 1e-7 "
            + "relative), which ends the search near the optimum: use float64 storage for a tighter solution"
    }

    /// The trained model (with the decision threshold `--threshold-for` chose on the held-out rows, which the
    /// reports then use), its metrics and the summary of `result`.
    func finish(_ result: TrainingResult, workers: Int, wallSeconds: Double) throws(TrainingRunError) -> TrainingOutcome {
        var trained = TrainingJob.trainedModel(model, parameters: result.parameters, data: data)
        if let target = request.model.thresholdFor, let test = data.test {
            do {
                trained.file.decisionThreshold = try trained.chooseThreshold(
                    on: ModelInput(dataset: test, hasLabels: true), target: target)
            } catch {
                throw .threshold(target: target, error)
            }
        }
        let metricsStart = ContinuousClock.now
        var trainReport: EvaluationReport?
        var testReport: EvaluationReport?
        var metricsError: ApplicationError?
        do {
            // The run's own blocks, and its final data loss where no random numbers enter the loss (the training
            // report of a triplet or VAE model draws the round-1 mining and noise, as `evaluate` does later).
            trainReport = try trained.evaluate(
                ModelInput(dataset: data.dataset, hasLabels: true), seed: request.seed, blocks: data.blocks,
                knownDataLoss: model.spec.kind.lossDrawsRandomNumbers ? nil : result.objective.dataLoss)
            if let test = data.test {
                testReport = try trained.evaluate(ModelInput(dataset: test, hasLabels: true), seed: request.seed)
            }
        } catch {
            metricsError = error
        }
        let metricsSeconds = (ContinuousClock.now - metricsStart).seconds
        var summary = RunSummary(
            model: model.spec.kind.rawValue, workers: workers, rounds: result.rounds, objective: result.objective.value,
            dataLoss: result.objective.dataLoss, l2Term: result.objective.l2Term,
            gradientNorm: result.objective.gradientNorm, converged: result.converged, stopReason: stopReason(of: result),
            trainAccuracy: trainReport?.classification?.accuracy, wallSeconds: wallSeconds,
            parametersSHA256: Digest.parametersSHA256(result.parameters), parameters: result.parameters,
            optimizer: request.optimizer.rawValue, precision: data.precision.rawValue, l2: request.model.l2,
            rows: data.dataset.rowCount, features: data.dataset.featureCount, blockRows: data.blockRows,
            blocks: data.blocks.count, dataFile: request.data.path)
        summary.loadSeconds = loadSeconds
        summary.metricsSeconds = metricsSeconds
        var document = SummaryDocument(summary: summary, train: trainReport, test: testReport)
        document.settings = RunSettings(self)
        document.decisionThreshold = trained.file.decisionThreshold
        return TrainingOutcome(result: result, trained: trained, document: document, metricsError: metricsError)
    }
}

/// What a finished run leaves: the parameters, the model as it will be saved, the summary with its reports.
public struct TrainingOutcome: Sendable {
    public let result: TrainingResult
    public let trained: LoadedModel
    public var document: SummaryDocument
    /// Why the metrics are missing from the summary, when they are.
    public let metricsError: ApplicationError?

    public var summary: RunSummary { document.summary }

    /// Writes the model and the summary as one `OutputSet` whose record is the summary: a summary on disk always
    /// belongs to the model beside it (its `parameters_sha256`). On failure the complete result goes to a new folder
    /// in the first of `rescueFolders` that takes it, and the error says where.
    /// `extraFiles` (the round history) are committed with the model, before the summary.
    public func save(
        model modelPath: String?, summary summaryPath: String?, extraFiles: [OutputFile] = [], rescueFolders: [String],
        betweenSteps: () -> Void = {}
    ) throws(OutputSetError) {
        var files: [OutputFile] = extraFiles
        var record: OutputFile?
        do throws(ArtifactError) {
            if let modelPath { files.append(OutputFile(path: modelPath, contents: try trained.file.encoded(path: modelPath))) }
            if let summaryPath {
                do {
                    record = OutputFile(path: summaryPath, contents: try document.jsonData(pretty: true))
                } catch {
                    throw .format(path: summaryPath, reason: "the summary cannot be encoded as JSON: \(error)")
                }
            }
        } catch {
            throw OutputSetError(failure: error, placed: [], rescue: .notAttempted)
        }
        try OutputSet(files: files, record: record).commit(rescueFolders: rescueFolders, betweenSteps: betweenSteps)
    }
}

/// Evaluates the current parameters on the held-out rows (the training rows when none are held out) at each
/// checkpoint (`--eval-every`) and hands the report to `emit` with the round and the split's name.
public final class HeldOutEvaluator: TrainingObserver {
    let run: PreparedRun
    let emit: (_ round: Int, _ split: String, _ report: Result<EvaluationReport, ApplicationError>) -> Void

    public init(
        run: PreparedRun, emit: @escaping (_ round: Int, _ split: String, _ report: Result<EvaluationReport, ApplicationError>) -> Void
    ) {
        self.run = run
        self.emit = emit
    }

    public func roundFinished(_ report: RoundReport) {}

    public func checkpoint(round: Int, parameters: [Double]) {
        let trained = TrainingJob.trainedModel(run.model, parameters: parameters, data: run.data)
        let rows = run.data.test ?? run.data.dataset
        let split = run.data.test == nil ? "train" : "test"
        do {
            // The training rows in the run's own blocks (cut again, they would be the same blocks).
            let report = try trained.evaluate(
                ModelInput(dataset: rows, hasLabels: true), seed: run.request.seed,
                blocks: run.data.test == nil ? run.data.blocks : nil)
            emit(round, split, .success(report))
        } catch {
            emit(round, split, .failure(error))
        }
    }
}
