import Foundation
import ShardArtifacts
import ShardEngine
import ShardMetrics
import ShardNumerics
import ShardReport

/// The HTML report of a training run (`train --report`) or of an evaluation (`evaluate --report`): what the run did
/// round by round, and the model's quality charts on the evaluated rows, as one self-contained page (`ShardReport`).
public enum RunReport {
    /// The report of a finished run: its training curves (from `history`, which observed every round), the quality of
    /// the model on the held-out rows (else on the training rows) and the run's settings.
    public static func training(_ outcome: TrainingOutcome, run: PreparedRun, history: TrainingHistory, workers: Int) -> Data {
        let summary = outcome.summary
        var facts = [
            "\(summary.model) model, \(summary.rows) training rows × \(summary.features) features in \(summary.blocks) blocks of "
                + "\(summary.blockRows) rows; " + (workers == 0 ? "single process" : "\(workers) workers"),
            "\(summary.converged ? "converged" : "stopped") after \(summary.rounds) rounds: \(summary.stopReason)",
            "objective \(number(summary.objective)) (data loss \(number(summary.dataLoss)) + L2 \(number(summary.l2Term))), "
                + "gradient norm \(number(summary.gradientNorm)), \(String(format: "%.3f", summary.wallSeconds)) s of training",
            "parameters sha256 \(summary.parametersSHA256)",
        ]
        facts.insert("data: \(summary.dataFile)", at: 1)
        var sections = [trainingSection(history, run: run)]
        if let evaluations = evaluationSection(history) { sections.append(evaluations) }
        if workers > 0, let timings = workerSection(history) { sections.append(timings) }
        let split = run.data.test == nil ? "training rows" : "held-out rows"
        if let report = outcome.document.test ?? outcome.document.train {
            let rows = run.data.test ?? run.data.dataset
            sections += modelSections(
                report, model: outcome.trained, input: ModelInput(dataset: rows, hasLabels: true), split: split,
                seed: run.request.seed, blocks: run.data.test == nil ? run.data.blocks : nil)
        } else {
            sections.append(
                ReportSection(
                    title: "Model quality", anchor: "quality",
                    items: [.paragraph("The metrics could not be computed for this run (see the run's log).")]))
        }
        var settingRows: [[String]] = []
        if let settings = outcome.document.settings { settingRows = flattened(settings) }
        sections.append(
            ReportSection(
                title: "Settings", anchor: "settings",
                items: [
                    .paragraph("Every setting the run used, defaults resolved (the summary's \"settings\" object)."),
                    .table(ReportTable(columns: ["setting", "value"], rows: settingRows)),
                ]))
        let report = Report(title: "ShardTrain run: \(summary.model)", facts: facts, sections: sections)
        return Data(report.html().utf8)
    }

    /// The report of `evaluate`: the model's quality charts on `input` and the model file's settings.
    public static func evaluation(
        _ report: EvaluationReport, model: LoadedModel, input: ModelInput, dataPath: String, seed: UInt64
    ) -> Data {
        let facts = [
            "model file: \(model.path) (\(model.kind.rawValue), \(model.file.featureNames.count) features, label column "
                + "\"\(model.file.labelName)\")",
            "data: \(dataPath), \(report.rows) rows; data loss \(number(report.dataLoss))",
        ]
        var sections = modelSections(report, model: model, input: input, split: "rows of \(dataPath)", seed: seed, blocks: nil)
        sections.append(
            ReportSection(
                title: "Model", anchor: "settings",
                items: [.table(ReportTable(columns: ["setting", "value"], rows: flattened(model.file.spec)))]))
        return Data(Report(title: "ShardTrain evaluation: \(model.kind.rawValue)", facts: facts, sections: sections).html().utf8)
    }

    // MARK: - Rounds

    /// Objective and gradient norm per round (log scale when positive), smoothing stages and epochs marked.
    static func trainingSection(_ history: TrainingHistory, run: PreparedRun) -> ReportSection {
        let rows = history.rows.map(\.report)
        var items: [ReportItem] = []
        guard !rows.isEmpty else {
            return ReportSection(title: "Training", anchor: "training", items: [.paragraph("The run recorded no rounds.")])
        }
        var markers: [Marker] = []
        var stages: [(smoothing: Double, firstRound: Int)] = []
        // A stage starts where μ changes to a new positive value; the rounds with μ = 0 between stages evaluate the
        // exact objective at a stage's end.
        for report in rows where report.smoothing > 0 && report.smoothing != stages.last?.smoothing {
            stages.append((report.smoothing, report.round))
            markers.append(Marker(x: Double(report.round), label: String(stages.count)))
        }
        var explanation: [String] = []
        if let first = rows.first?.round, first > 1 {
            explanation.append(
                "This run was resumed from a checkpoint after round \(first - 1): the rounds before are not in this report "
                    + "(they are in the report of the run that wrote the checkpoint, if it made one).")
        }
        if !stages.isEmpty {
            let list = stages.enumerated().map { index, stage in "\(index + 1): μ \(number(stage.smoothing)) from round \(stage.firstRound)" }
            let exact = rows.filter { $0.smoothing == 0 }.count
            explanation.append(
                "Dashed lines: the continuation's stages, each warm started from the previous one's end and minimizing its "
                    + "own smoothed objective (so the curve steps up where μ shrinks) — " + list.joined(separator: "; ")
                    + ". \(exact) rounds with μ = 0 evaluate the exact objective at stage ends.")
        }
        if let schedule = run.options.batch {
            let steps = schedule.stepsPerEpoch
            let starts = rows.filter { ($0.batchStep ?? 0) > 0 && ($0.batchStep ?? 0) % steps == 0 }.map { Double($0.round) }
            let every = max(1, (starts.count + 19) / 20)
            markers += Swift.stride(from: every - 1, to: starts.count, by: every).map { Marker(x: starts[$0], strong: false) }
            explanation.append(
                "Mini-batches of \(schedule.blocksPerStep) blocks: each round's objective is that batch's, so it is noisy. "
                    + "Thin grey lines: the start of " + (every == 1 ? "each epoch" : "every \(every) epochs")
                    + " (an epoch = \(steps) steps, one pass over the rows).")
        }
        let positive = rows.allSatisfy { $0.objective > 0 }
        var objective = LineChart(
            title: "Objective per round",
            x: Axis("round", integer: true), y: Axis("objective (mean loss + L2)" + (positive ? ", log scale" : ""), scale: positive ? .logarithmic : .linear),
            series: [Series("objective", rows.map { ChartPoint(Double($0.round), $0.objective) })])
        objective.markers = markers
        var gradient = LineChart(
            title: "Gradient norm per round", x: Axis("round", integer: true), y: Axis("‖gradient‖₂, log scale", scale: .logarithmic),
            series: [Series("gradient norm", rows.map { ChartPoint(Double($0.round), $0.gradientNorm) }, paletteIndex: 1)])
        gradient.markers = markers
        // With a continuation, the rounds with μ = 0 are the exact objective at the stage ends.
        let exact = stages.isEmpty ? rows : rows.filter { $0.smoothing == 0 }
        if !stages.isEmpty {
            objective.series.append(
                Series("exact objective at stage ends", exact.map { ChartPoint(Double($0.round), $0.objective) }, style: .points, paletteIndex: 1))
        }
        items = explanation.map(ReportItem.paragraph) + [.lineChart(objective)]
        // Full-batch runs: how far each (exact) objective is from the lowest one of the run (which itself, at distance 0,
        // has no place on a log scale).
        if run.options.batch == nil, exact.count > 1, let best = exact.map(\.objective).min() {
            var distance = LineChart(
                title: stages.isEmpty ? "Distance to the lowest objective of the run" : "Exact objective at the stage ends: distance to the lowest",
                x: Axis("round", integer: true), y: Axis("objective − lowest objective, log scale", scale: .logarithmic),
                series: [
                    Series(
                        "objective − \(number(best))",
                        exact.filter { $0.objective > best }.map { ChartPoint(Double($0.round), $0.objective - best) }, paletteIndex: 2)
                ])
            distance.markers = markers
            items.append(.lineChart(distance))
        }
        items.append(.lineChart(gradient))
        let rates = history.rows.compactMap { row in row.learningRate.map { ChartPoint(Double(row.report.round), $0) } }
        if Set(rates.map(\.y)).count > 1 {
            items.append(
                .lineChart(
                    LineChart(
                        title: "Learning rate per round", x: Axis("round", integer: true), y: Axis("learning rate"),
                        series: [Series("learning rate", rates, paletteIndex: 2)])))
        }
        return ReportSection(title: "Training", anchor: "training", items: items)
    }

    /// One chart per headline metric of the `--eval-every` evaluations (nil without any).
    static func evaluationSection(_ history: TrainingHistory) -> ReportSection? {
        let rounds = history.evaluations.keys.sorted()
        guard let first = rounds.first, let split = history.evaluations[first]?.split else { return nil }
        var names: [String] = []
        for round in rounds {
            for (name, _) in history.evaluations[round]!.metrics where !names.contains(name) { names.append(name) }
        }
        var items: [ReportItem] = [
            .paragraph("The parameters of every --eval-every round evaluated on the \(split == "test" ? "held-out" : "training") rows.")
        ]
        let series = { (name: String, index: Int) in
            Series(
                name.replacingOccurrences(of: "_", with: " "),
                rounds.compactMap { round -> ChartPoint? in
                    history.evaluations[round]!.metrics.first { $0.name == name }.map { ChartPoint(Double(round), $0.value) }
                }, paletteIndex: index)
        }
        // Shares (0…1) together in one chart, every other metric in its own.
        let shares = names.filter { ["accuracy", "roc_auc", "recall_at_1", "crossing_rate", "r2"].contains($0) }
        let rows = split == "test" ? "held-out rows" : "training rows"
        if !shares.isEmpty {
            let name = shares.count == 1 ? shares[0].replacingOccurrences(of: "_", with: " ") : nil
            items.append(
                .lineChart(
                    LineChart(
                        title: "\(name ?? "Rates") on the \(rows)", x: Axis("round", integer: true), y: Axis(name ?? "rate"),
                        series: shares.enumerated().map { series($0.element, $0.offset) })))
        }
        for (index, name) in names.enumerated() where !shares.contains(name) {
            let display = name.replacingOccurrences(of: "_", with: " ")
            items.append(
                .lineChart(
                    LineChart(
                        title: "\(display) on the \(rows)", x: Axis("round", integer: true), y: Axis(display),
                        series: [series(name, shares.count + index)])))
        }
        return ReportSection(title: "Held-out evaluation during training", anchor: "eval", items: items)
    }

    /// Per worker and round: compute seconds, and the rest of the round (waiting for the others, communication).
    static func workerSection(_ history: TrainingHistory) -> ReportSection? {
        let rows = history.rows.map(\.report)
        let workers = Set(rows.flatMap { $0.workerTimings.map(\.worker) }).sorted()
        guard !workers.isEmpty else { return nil }
        var computeSeries: [Series] = []
        var totalCompute = [Double](repeating: 0, count: workers.count)
        var totalWait = [Double](repeating: 0, count: workers.count)
        for (index, worker) in workers.enumerated() {
            var points: [ChartPoint] = []
            for report in rows {
                let compute = report.workerTimings.filter { $0.worker == worker }.reduce(0) { $0 + $1.computeSeconds }
                guard report.workerTimings.contains(where: { $0.worker == worker }) else { continue }
                points.append(ChartPoint(Double(report.round), compute * 1000))
                totalCompute[index] += compute
                totalWait[index] += max(report.roundSeconds - compute, 0)
            }
            computeSeries.append(Series("worker \(worker) compute", points, paletteIndex: index))
        }
        computeSeries.append(
            Series("round (all workers)", rows.map { ChartPoint(Double($0.round), $0.roundSeconds * 1000) }, paletteIndex: 6))
        let perRound = LineChart(
            title: "Compute per worker and round time", x: Axis("round", integer: true), y: Axis("milliseconds"), series: computeSeries)
        let totals = StackedBarChart(
            title: "Time per worker over the whole run", categoryLabel: "worker",
            categories: workers.map { "worker \($0)" }, value: Axis("seconds"),
            layers: [BarLayer("compute", totalCompute), BarLayer("waiting and communication", totalWait)])
        return ReportSection(
            title: "Workers", anchor: "workers",
            items: [
                .paragraph(
                    "A worker's waiting time in a round is the round's time minus the worker's compute time: it waits for the "
                        + "slowest worker, the transfers and the coordinator's reduction."),
                .lineChart(perRound), .barChart(totals),
            ])
    }

    // MARK: - Model quality

    /// Metrics table and the charts of the model's kind, on `input` (whose name in the text is `split`).
    static func modelSections(
        _ report: EvaluationReport, model: LoadedModel, input: ModelInput, split: String, seed: UInt64, blocks: [Block]?
    ) -> [ReportSection] {
        var sections = [
            ReportSection(
                title: "Metrics on the \(split)", anchor: "metrics",
                items: [.table(ReportTable(
                    columns: ["metric", "value"], rows: report.headlineMetrics.map { [$0.name.replacingOccurrences(of: "_", with: " "), number($0.value)] },
                    numericColumns: [1]))]
                    + (report.classification.map { [.table(classTable($0))] } ?? [])
                    // Binary models: the threshold the predicted classes (and so the table and matrix) depend on.
                    + (report.threshold.map { threshold in
                        let positive = report.classification?.classNames?.last ?? "1"
                        return [.paragraph("Predicted classes: " + threshold.sentence(positive: positive) + ".")]
                    } ?? []))
        ]
        if let classification = report.classification {
            let names = classification.classNames ?? classification.confusionMatrix.counts.indices.map(String.init)
            sections.append(
                ReportSection(
                    title: "Confusion matrix", anchor: "confusion",
                    items: [
                        .heatmap(
                            ConfusionHeatmap(
                                title: "Confusion matrix (\(split))", classNames: names,
                                counts: classification.confusionMatrix.counts))
                    ]))
        }
        do {
            sections += try kindSections(report, model: model, input: input, split: split, seed: seed, blocks: blocks)
        } catch {
            sections.append(
                ReportSection(
                    title: "Charts", anchor: "charts", items: [.paragraph("The model's charts could not be drawn: \(error)")]))
        }
        return sections
    }

    static func classTable(_ classification: ClassificationReport) -> ReportTable {
        let names = classification.classNames
        return ReportTable(
            columns: ["class", "precision", "recall", "F1", "rows"],
            rows: classification.classes.map { entry in
                [
                    names.map { $0[entry.classIndex] } ?? String(entry.classIndex),
                    entry.precisionIsUndefined ? "undefined" : String(format: "%.4f", entry.precision),
                    entry.recallIsUndefined ? "undefined" : String(format: "%.4f", entry.recall),
                    entry.f1IsUndefined ? "undefined" : String(format: "%.4f", entry.f1), String(entry.support),
                ]
            }, numericColumns: [1, 2, 3, 4])
    }

    static func kindSections(
        _ report: EvaluationReport, model: LoadedModel, input: ModelInput, split: String, seed: UInt64, blocks: [Block]?
    ) throws(ApplicationError) -> [ReportSection] {
        if model.kind == .vae { return [try vaeSection(model, input: input, seed: seed)] }
        let labels = try model.trainingLabels(input).labels
        let (values, width) = try model.rawOutputs(input, seed: seed, blocks: blocks)
        try model.checkFinite(values, width: width, input: input)
        switch model.kind {
        case .logistic, .svm:
            guard let ranking = report.ranking else { return [] }
            let names = model.classNames ?? ["0", "1"]
            return [rankingSection(scores: values, labels: labels, ranking: ranking, split: split, positive: names[1])]
                + (model.kind == .logistic
                    ? [calibrationSection(scores: values, labels: labels, split: split, classes: (names[0], names[1]))] : [])
        case .quantile:
            guard let quantile = report.quantile, case .quantile(let taus) = model.file.spec.configuration else { return [] }
            return [quantileSection(RowOutputs(values: values, width: width), taus: taus, targets: labels, metrics: quantile, split: split)]
        case .linear:
            let points = zip(labels, values).map { ChartPoint($0, $1) }
            var chart = LineChart(
                title: "Predicted against observed (\(split))", x: Axis("observed \(model.file.labelName)"),
                y: Axis("predicted \(model.file.labelName)"), series: [Series("rows", points, style: .points)])
            chart.diagonal = "predicted = observed"
            return [ReportSection(title: "Predictions", anchor: "predictions", items: [.lineChart(chart)])]
        case .triplet:
            return [embeddingSection(RowOutputs(values: values, width: width), labels: labels, split: split)]
        case .softmax, .vae:
            return []
        }
    }

    /// ROC and precision–recall curves; the areas in the legends are the report's own (`RankingReport`).
    static func rankingSection(
        scores: [Double], labels: [Double], ranking: RankingReport, split: String, positive: String = "1"
    ) -> ReportSection {
        let truth = labels.map { $0 == 1 }
        var items: [ReportItem] = []
        if let roc = try? Ranking.rocCurve(labels: truth, scores: scores) {
            var chart = LineChart(
                title: "ROC curve (\(split))", x: Axis("false positive rate", domain: 0...1),
                y: Axis("true positive rate", domain: 0...1),
                series: [Series("ROC, AUC \(String(format: "%.4f", ranking.rocAUC))", roc.points.map {
                    ChartPoint($0.falsePositiveRate, $0.truePositiveRate)
                })])
            chart.diagonal = "chance (AUC 0.5)"
            chart.width = 470
            chart.height = 440
            items.append(.lineChart(chart))
        }
        if let pr = try? Ranking.precisionRecallCurve(labels: truth, scores: scores) {
            let base = Double(ranking.positives) / Double(ranking.positives + ranking.negatives)
            var chart = LineChart(
                title: "Precision–recall curve (\(split))", x: Axis("recall", domain: 0...1), y: Axis("precision", domain: 0...1),
                series: [
                    Series("PR, average precision \(String(format: "%.4f", ranking.averagePrecision))",
                           [ChartPoint(0, 1)] + pr.points.map { ChartPoint($0.recall, $0.precision) }),
                    Series("share of positives \(String(format: "%.3f", base))", [ChartPoint(0, base), ChartPoint(1, base)], paletteIndex: 7),
                ])
            chart.width = 470
            chart.height = 440
            items.append(.lineChart(chart))
        }
        return ReportSection(
            title: "ROC and precision–recall", anchor: "ranking",
            items: [
                .paragraph(
                    "Positive class \(positive): \(ranking.positives) positive and \(ranking.negatives) negative rows; one point per "
                        + "distinct score. ROC-AUC \(String(format: "%.4f", ranking.rocAUC)), average precision "
                        + "\(String(format: "%.4f", ranking.averagePrecision)).")
            ] + items)
    }

    /// Reliability diagram of p = sigmoid(score) in ten equal-width bins, and the rows per bin by class.
    static func calibrationSection(
        scores: [Double], labels: [Double], split: String, classes: (negative: String, positive: String) = ("0", "1")
    ) -> ReportSection {
        let binCount = 10
        var rows = [Int](repeating: 0, count: binCount)
        var positives = [Int](repeating: 0, count: binCount)
        var probabilitySum = [Double](repeating: 0, count: binCount)
        for (score, label) in zip(scores, labels) {
            let probability = 1 / (1 + Double.exp(-score))
            let bin = min(Int(probability * Double(binCount)), binCount - 1)
            rows[bin] += 1
            probabilitySum[bin] += probability
            if label == 1 { positives[bin] += 1 }
        }
        let points = (0..<binCount).filter { rows[$0] > 0 }.map {
            ChartPoint(probabilitySum[$0] / Double(rows[$0]), Double(positives[$0]) / Double(rows[$0]))
        }
        var reliability = LineChart(
            title: "Calibration (\(split))", x: Axis("mean predicted probability of class \(classes.positive) in the bin", domain: 0...1),
            y: Axis("observed share of class \(classes.positive)", domain: 0...1),
            series: [Series("bins (label: rows in the bin)", points, pointLabels: (0..<binCount).filter { rows[$0] > 0 }.map { "\(rows[$0])" })])
        reliability.diagonal = "perfectly calibrated"
        reliability.width = 470
        reliability.height = 440
        var counts = StackedBarChart(
            title: "Rows per probability bin", categoryLabel: "predicted probability of class \(classes.positive)",
            categories: (0..<binCount).map { String(format: "%.1f–%.1f", Double($0) / 10, Double($0 + 1) / 10) },
            value: Axis("rows"),
            layers: [
                BarLayer("class \(classes.positive)", positives.map(Double.init)),
                BarLayer("class \(classes.negative)", zip(rows, positives).map { Double($0 - $1) }),
            ])
        counts.width = 470
        counts.height = 440
        return ReportSection(
            title: "Calibration", anchor: "calibration",
            items: [
                .paragraph(
                    "Rows binned by their predicted probability (ten bins of width 0.1); a point per non-empty bin at the bin's "
                        + "mean prediction and its observed share of class \(classes.positive)."),
                .lineChart(reliability), .barChart(counts),
            ])
    }

    /// The fan of predicted quantiles over the rows sorted by their middle quantile, the observed targets, and the
    /// observed coverage per τ against τ.
    static func quantileSection(
        _ outputs: RowOutputs, taus: [Double], targets: [Double], metrics: QuantileReport, split: String
    ) -> ReportSection {
        let order = taus.indices.sorted { taus[$0] < taus[$1] }
        let middle = order.min { abs(taus[$0] - 0.5) < abs(taus[$1] - 0.5) } ?? 0
        let rows = (0..<outputs.rowCount).sorted {
            let (a, b) = (outputs.row($0)[outputs.row($0).startIndex + middle], outputs.row($1)[outputs.row($1).startIndex + middle])
            return a != b ? a < b : $0 < $1
        }
        let value = { (row: Int, column: Int) in outputs.values[row * outputs.width + column] }
        var bands: [Band] = []
        for pair in 0..<(order.count / 2) {
            let (low, high) = (order[pair], order[order.count - 1 - pair])
            bands.append(
                Band(
                    "τ \(number(taus[low]))–\(number(taus[high]))",
                    lower: rows.enumerated().map { ChartPoint(Double($0.offset + 1), value($0.element, low)) },
                    upper: rows.enumerated().map { ChartPoint(Double($0.offset + 1), value($0.element, high)) },
                    paletteIndex: 0, opacity: 0.18))
        }
        var fan = LineChart(
            title: "Predicted quantiles and observed targets (\(split))",
            x: Axis("rows, sorted by the predicted τ \(number(taus[middle])) quantile"), y: Axis("target"),
            series: [
                Series("observed target", rows.enumerated().map { ChartPoint(Double($0.offset + 1), targets[$0.element]) }, style: .points, paletteIndex: 1),
                Series("τ \(number(taus[middle])) prediction", rows.enumerated().map { ChartPoint(Double($0.offset + 1), value($0.element, middle)) }, paletteIndex: 0),
            ])
        fan.bands = bands
        var coverage = LineChart(
            title: "Observed coverage per τ (\(split))", x: Axis("τ (nominal share of targets at or below the quantile)", domain: 0...1),
            y: Axis("observed share of targets ≤ prediction", domain: 0...1),
            series: [Series("observed coverage", metrics.levels.map { ChartPoint($0.level, $0.coverage) })])
        coverage.diagonal = "nominal (coverage = τ)"
        coverage.width = 470
        coverage.height = 440
        let table = ReportTable(
            columns: ["τ", "pinball loss", "coverage", "coverage − τ"],
            rows: metrics.levels.map {
                [number($0.level), String(format: "%.4f", $0.pinballLoss), String(format: "%.4f", $0.coverage), String(format: "%+.4f", $0.coverage - $0.level)]
            }, numericColumns: [0, 1, 2, 3])
        return ReportSection(
            title: "Quantiles", anchor: "quantiles",
            items: [
                .lineChart(fan), .lineChart(coverage), .table(table),
                .paragraph("Crossing rate \(String(format: "%.4f", metrics.crossingRate)) (\(metrics.crossingRows) of \(metrics.rowCount) rows have a lower prediction at a higher τ)."),
            ])
    }

    /// The embeddings projected on their two principal components, one colour and shape per class.
    static func embeddingSection(_ outputs: RowOutputs, labels: [Double], split: String) -> ReportSection {
        let pca = PrincipalComponents(outputs.rows)
        var byClass: [Int: [ChartPoint]] = [:]
        for (row, point) in pca.projected.enumerated() { byClass[Int(labels[row]), default: []].append(ChartPoint(point.0, point.1)) }
        let series = byClass.keys.sorted().map { Series("class \($0)", byClass[$0]!, style: .points, paletteIndex: $0) }
        var chart = LineChart(
            title: "Embeddings, first two principal components (\(split))",
            x: Axis(String(format: "component 1 (%.0f %% of variance)", 100 * pca.explainedVariance[0])),
            y: Axis(String(format: "component 2 (%.0f %% of variance)", 100 * pca.explainedVariance[1])), series: series)
        chart.height = 520
        chart.maximumPoints = 600
        return ReportSection(
            title: "Embeddings", anchor: "embeddings",
            items: [
                .paragraph(
                    "Each row's \(outputs.width)-dimensional embedding projected onto the two directions of largest variance "
                        + "(PCA of the embeddings of these rows); rows of one class should gather."),
                .lineChart(chart),
            ])
    }

    /// The first rows beside their reconstructions, and samples decoded from z ~ N(0, I).
    static func vaeSection(_ model: LoadedModel, input: ModelInput, seed: UInt64) throws(ApplicationError) -> ReportSection {
        let side = try model.imageSide()
        let count = min(12, input.rowCount)
        let originals = (0..<count).map { input.features(ofRow: $0) }
        let reconstructions = try model.reconstructions(input, count: count)
        let samples = try model.samples(count: 24, seed: seed)
        return ReportSection(
            title: "Reconstructions and samples", anchor: "vae",
            items: [
                .paragraph(
                    "Pictures of \(side)×\(side) values, darker = larger (1 = black). Reconstructions decode each row's posterior "
                        + "mean; samples decode z ~ N(0, I) drawn with seed \(seed)."),
                .images(
                    ImageGrid(
                        title: "The first \(count) rows and their reconstructions", side: side,
                        groups: zip(originals, reconstructions).map { [$0, $1] }, captions: ["original", "reconstruction"],
                        columns: 4)),
                .images(ImageGrid(title: "Samples", side: side, groups: samples.map { [$0] }, columns: 8)),
            ])
    }

    // MARK: - Text

    /// Shortest round-trip decimal for moderate magnitudes, 6 significant digits otherwise.
    static func number(_ value: Double) -> String {
        if let spelled = JSONStyle.nonFiniteSpelling(value) { return spelled }
        return String(format: "%.6g", value)
    }

    /// Every leaf of `value`'s JSON object as `[dotted.key, value]`, sorted by key; arrays of more than 12 values are
    /// shortened with their length.
    static func flattened(_ value: some Encodable) -> [[String]] {
        guard let data = try? JSONStyle.encoder(snakeCaseKeys: true).encode(value),
            let tree = try? JSONDecoder().decode(JSONTree.self, from: data)
        else { return [] }
        var rows: [[String]] = []
        func walk(_ item: JSONTree, _ key: String) {
            switch item {
            case .object(let members):
                for name in members.keys.sorted() { walk(members[name]!, key.isEmpty ? name : key + "." + name) }
            case .array(let items):
                let cells = items.prefix(12).map(\.text)
                rows.append([key, cells.joined(separator: ", ") + (items.count > 12 ? ", … (\(items.count) values)" : "")])
            default:
                rows.append([key, item.text])
            }
        }
        walk(tree, "")
        return rows
    }
}

/// A JSON value as read back from an encoder's output, integers kept exact (a seed can exceed 2⁵³).
enum JSONTree: Decodable {
    case bool(Bool)
    case integer(String)
    case number(Double)
    case string(String)
    case array([JSONTree])
    case object([String: JSONTree])
    case null

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(String(value))
        } else if let value = try? container.decode(UInt64.self) {
            self = .integer(String(value))
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONTree].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONTree].self))
        }
    }

    var text: String {
        switch self {
        case .bool(let value): value ? "true" : "false"
        case .integer(let value), .string(let value): value
        case .number(let value): "\(value)"
        case .array(let items): items.map(\.text).joined(separator: ", ")
        case .object(let members): members.keys.sorted().map { "\($0): \(members[$0]!.text)" }.joined(separator: ", ")
        case .null: "none"
        }
    }
}
