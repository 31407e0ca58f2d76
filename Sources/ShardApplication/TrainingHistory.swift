import Foundation
import ShardArtifacts
import ShardEngine
import ShardOptimizers

/// The rounds of a run as a table (`--history FILE.csv`): one row per round, in order.
///
/// Columns: `round, objective, gradient_norm, learning_rate, smoothing, batch_step, rows_per_second,
/// round_seconds`, then `eval_split, eval_data_loss` and the evaluation's headline metrics (`eval_accuracy`,
/// `eval_roc_auc`, `eval_r2`, `eval_rmse`, `eval_mae`, `eval_crossing_rate`, `eval_recall_at_1`,
/// `eval_negative_elbo`: those the model reports) on the rounds evaluated with `--eval-every`, then
/// `compute_seconds_w<i>` per worker (`w0` alone in one process). Numbers are in their shortest round-trip
/// form. A cell that does not apply is empty:
/// `learning_rate` for L-BFGS (its line search chooses the step), `batch_step` for full-batch rounds.
public final class TrainingHistory: TrainingObserver {
    struct Row {
        var report: RoundReport
        var learningRate: Double?
    }

    private let learningRate: (RoundReport) -> Double?
    private(set) var rows: [Row] = []
    private(set) var evaluations: [Int: (split: String, metrics: [(name: String, value: Double)])] = [:]

    /// `optimizer`: the run's optimizer, which gives each round's learning rate (gd's step; the schedule's rate at
    /// the round's mini-batch step for sgd, adam and adamw).
    public init(optimizer: OptimizerChoice) {
        switch optimizer {
        case .lbfgs:
            learningRate = { _ in nil }
        case .gradientDescent(let rate):
            learningRate = { _ in rate }
        case .sgd(let schedule, _), .adam(let schedule, _, _, _), .adamW(let schedule, _, _, _, _):
            learningRate = { report in report.batchStep.map(schedule.rate(at:)) }
        }
    }

    public func roundFinished(_ report: RoundReport) {
        rows.append(Row(report: report, learningRate: learningRate(report)))
    }

    /// Records the evaluation of the parameters of `round` (an `eval` event) on the rows named `split`.
    public func recordEvaluation(_ report: EvaluationReport, round: Int, split: String) {
        evaluations[round] = (split, report.headlineMetrics)
    }

    public var roundCount: Int { rows.count }

    /// The table as CSV (header row, `\n` line ends, numbers in Swift's shortest round-trip form).
    public func csv() -> Data {
        var metricNames: [String] = []
        for round in evaluations.keys.sorted() {
            for (name, _) in evaluations[round]!.metrics where !metricNames.contains(name) { metricNames.append(name) }
        }
        let workers = Set(rows.flatMap { $0.report.workerTimings.map(\.worker) }).sorted()
        var header = [
            "round", "objective", "gradient_norm", "learning_rate", "smoothing", "batch_step", "rows_per_second",
            "round_seconds",
        ]
        if !evaluations.isEmpty { header += ["eval_split"] + metricNames.map { "eval_" + $0 } }
        header += workers.map { "compute_seconds_w\($0)" }
        var lines = [header.joined(separator: ",")]
        let number = { (value: Double?) in value.map { JSONStyle.nonFiniteSpelling($0) ?? "\($0)" } ?? "" }
        for row in rows {
            let report = row.report
            var cells = [
                String(report.round), number(report.objective), number(report.gradientNorm), number(row.learningRate),
                number(report.smoothing), report.batchStep.map(String.init) ?? "", number(report.rowsPerSecond),
                number(report.roundSeconds),
            ]
            if !evaluations.isEmpty {
                let evaluation = evaluations[report.round]
                cells.append(evaluation?.split ?? "")
                let values = Dictionary(evaluation?.metrics ?? [], uniquingKeysWith: { first, _ in first })
                cells += metricNames.map { number(values[$0]) }
            }
            let times = Dictionary(report.workerTimings.map { ($0.worker, $0.computeSeconds) }, uniquingKeysWith: +)
            cells += workers.map { number(times[$0]) }
            lines.append(cells.joined(separator: ","))
        }
        return Data((lines.joined(separator: "\n") + "\n").utf8)
    }
}

extension EvaluationReport {
    /// The one-number summaries of the report, in a fixed order: data loss, then those of the model's kind.
    public var headlineMetrics: [(name: String, value: Double)] {
        var metrics: [(String, Double)] = [("data_loss", dataLoss)]
        if let classification { metrics.append(("accuracy", classification.accuracy)) }
        if let ranking { metrics.append(("roc_auc", ranking.rocAUC)) }
        if let regression {
            metrics += [("r2", regression.rSquared), ("rmse", regression.rootMeanSquaredError), ("mae", regression.meanAbsoluteError)]
        }
        if let quantile { metrics.append(("crossing_rate", quantile.crossingRate)) }
        if let embedding { metrics.append(("recall_at_1", embedding.recallAtOne)) }
        if let vae { metrics.append(("negative_elbo", vae.meanNegativeELBO)) }
        return metrics
    }
}
