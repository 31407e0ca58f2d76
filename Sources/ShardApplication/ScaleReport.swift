import Foundation
import ShardArtifacts
import ShardModels
import ShardReport

/// The HTML report of a scaling sweep (`scale --report`): throughput, speedup and efficiency against the worker count
/// with the cost model's curve, each round split into compute, straggler wait and communication, the sweep's table,
/// the model's prediction for larger clusters and the run's settings, as one self-contained page (`ShardReport`).
///
/// Everything on the page comes from the scale document (`ScaleSweep`), so a saved sweep gives the same page.
/// Throughput is rounds per second, 1 / median round, for measured and modelled rounds alike (a round of a full-batch
/// run is one pass over all rows; a mini-batch round is one step).
public enum ScaleReport {
    public static func page(_ sweep: ScaleSweep) -> Data {
        let sections = [
            throughputSection(sweep), speedupSection(sweep), roundSection(sweep), sweepSection(sweep), clusterSection(sweep),
            settingsSection(sweep),
        ]
        let title = "ShardTrain scaling sweep" + (sweep.settings.map { ": \($0.model.kind.rawValue)" } ?? "")
        return Data(Report(title: title, facts: facts(sweep), sections: sections).html().utf8)
    }

    /// The counts drawn against the worker count: every one with workers (the in-process run has none), by count.
    static func workerRuns(_ sweep: ScaleSweep) -> [ScaleSweep.Run] {
        sweep.runs.filter { $0.workers > 0 }.sorted { $0.workers < $1.workers }
    }

    static func facts(_ sweep: ScaleSweep) -> [String] {
        var facts: [String] = []
        if let settings = sweep.settings {
            facts.append("data: \(settings.dataFile); \(settings.model.kind.rawValue) model, optimizer \(settings.optimizer)")
        }
        facts.append(
            "\(sweep.rows) rows in \(sweep.blocks) blocks, \(sweep.parameters) parameters; \(place(sweep)); "
                + "\(sweep.coresPerWorker) core(s) per worker, \(sweep.machineCores) on the machine; \(sweep.rounds) rounds per count")
        let sha = Set(sweep.runs.map(\.parametersSha256))
        facts.append(
            sweep.identicalParameters
                ? "identical parameters for every worker count (sha256 \(sha.first ?? "–"))"
                : "THE PARAMETERS DIFFER between worker counts (\(sha.count) different sha256)")
        let predicted = sweep.runs.filter { $0.role == "predict" }
        if !predicted.isEmpty {
            var line = "predicted before measured: "
                + predicted.map { "\($0.workers) workers \(errorText($0.modelErrorPercent))" }.joined(separator: ", ")
            if let errors = sweep.predictionErrorPercent {
                line += String(format: " (mean |error| %.1f %%, max %.1f %%)", errors.meanAbsolute, errors.maxAbsolute)
            }
            facts.append(line)
        }
        return facts
    }

    /// Where the workers ran, in words.
    static func place(_ sweep: ScaleSweep) -> String {
        guard sweep.network.kind == "emulated-hosts" else { return "local workers on a Unix socket" }
        let hosts = sweep.network.hosts.map(String.init) ?? "?"
        let link = sweep.network.linkBitsPerSecond.map(rate) ?? "unlimited"
        return "\(hosts) emulated hosts + coordinator in network namespaces, links capped at \(link) (tc tbf), "
            + (sweep.network.curve ? "CURVE" : "no encryption")
    }

    // MARK: - Charts against the worker count

    /// The measured counts as a line, each point labelled (`label(value, run)`), the counts predicted before they were
    /// measured marked again as squares, and the model as a dash-dotted line through its value at every count it was
    /// asked for (fitted and predicted).
    static func againstWorkers(
        _ sweep: ScaleSweep, title: String, y: Axis, measured: (ScaleSweep.Run) -> Double?, modelled: (ScaleSweep.Run) -> Double?,
        label: (Double, ScaleSweep.Run) -> String
    ) -> LineChart {
        let runs = workerRuns(sweep)
        let shown = runs.compactMap { run in measured(run).map { (run: run, value: $0) } }
        var series = [
            Series(
                "measured", shown.map { ChartPoint(Double($0.run.workers), $0.value) }, paletteIndex: 0,
                pointLabels: shown.map { label($0.value, $0.run) }),
            Series("cost model", runs.compactMap { run in modelled(run).map { ChartPoint(Double(run.workers), $0) } }, paletteIndex: 14),
        ]
        let predicted = shown.filter { $0.run.role == "predict" }
        if !predicted.isEmpty {
            series.append(
                Series(
                    "predicted by the model, then measured", predicted.map { ChartPoint(Double($0.run.workers), $0.value) }, style: .points,
                    paletteIndex: 1))
        }
        return LineChart(title: title, x: Axis("workers", integer: true), y: y, series: series)
    }

    static func throughputChart(_ sweep: ScaleSweep) -> LineChart {
        // From 0, so that an 8 % difference does not look like a cliff.
        var rates: [Double] = []
        for run in sweep.runs {
            rates.append(1 / run.roundSeconds)
            if let modelled = run.modelRoundSeconds { rates.append(1 / modelled) }
        }
        let highest = rates.filter(\.isFinite).max() ?? 1
        return againstWorkers(
            sweep, title: "Throughput against workers",
            y: Axis("rounds per second (1 / median round)", domain: 0...(highest * 1.1)),
            measured: { 1 / $0.roundSeconds }, modelled: { $0.modelRoundSeconds.map { 1 / $0 } },
            label: { value, run in run.role == "predict" ? errorText(run.modelErrorPercent) : number(value, "/s") })
    }

    static func throughputSection(_ sweep: ScaleSweep) -> ReportSection {
        let m = sweep.model
        let formula = String(
            format: "Cost model of a round with N workers on cores = min(N × %d, %d) cores: t(N) = %@ ms + %@ core-ms / cores + "
                + "%@ ms · N + link bytes(N) / rate. The coefficients are non-negative least squares on the fitted counts (%@); "
                + "the link bytes come from the wire format and the rate from the link, they are not fitted.",
            sweep.coresPerWorker, sweep.machineCores, number(m.latencySeconds * 1e3), number(m.workCoreSeconds * 1e3),
            number(m.perWorkerSeconds * 1e3), sweep.fitWorkers.filter { $0 > 0 }.map(String.init).joined(separator: ", "))
        var text = [formula]
        if !sweep.predictWorkers.isEmpty {
            text.append(
                "Squares: counts the model predicted before they were measured (\(sweep.predictWorkers.map(String.init).joined(separator: ", "))), "
                    + "labelled with the model's error, 100 (model − measured) / measured; the other points with their rounds per second.")
        }
        if sweep.runs.contains(where: { $0.workers == 0 }) {
            text.append("The in-process run (0 workers) is in the table, not in the charts.")
        }
        return ReportSection(
            title: "Throughput and the cost model", anchor: "throughput",
            items: text.map(ReportItem.paragraph) + [.lineChart(throughputChart(sweep))])
    }

    /// Speedup (with the ideal diagonal) and efficiency, measured against the 1-worker run, modelled against the
    /// model's 1-worker round.
    static func speedupCharts(_ sweep: ScaleSweep) -> (speedup: LineChart, efficiency: LineChart) {
        let modelSingle = sweep.runs.first { $0.workers == 1 }?.modelRoundSeconds
        let modelSpeedup = { (run: ScaleSweep.Run) in modelSingle.flatMap { single in run.modelRoundSeconds.map { single / $0 } } }
        let runs = workerRuns(sweep)
        let largest = Double(runs.map(\.workers).max() ?? 1)
        let highestSpeedup = (runs.compactMap(\.speedup) + runs.compactMap(modelSpeedup)).max() ?? 1
        var speedup = againstWorkers(
            sweep, title: "Speedup against workers",
            y: Axis("speedup (1-worker round / round)", domain: 0...max(largest, highestSpeedup).rounded(.up)),
            measured: \.speedup, modelled: modelSpeedup, label: { value, _ in String(format: "%.2f×", value) })
        speedup.diagonal = "ideal: speedup = workers"
        let highestEfficiency = (runs.compactMap(\.efficiency) + runs.compactMap { run in modelSpeedup(run).map { $0 / Double(run.workers) } })
            .max() ?? 1
        let efficiency = againstWorkers(
            sweep, title: "Efficiency against workers",
            y: Axis("efficiency (speedup / workers)", domain: 0...(max(1, highestEfficiency) * 10).rounded(.up) / 10),
            measured: \.efficiency, modelled: { run in modelSpeedup(run).map { $0 / Double(run.workers) } },
            label: { value, _ in String(format: "%.0f %%", value * 100) })
        return (speedup, efficiency)
    }

    static func speedupSection(_ sweep: ScaleSweep) -> ReportSection {
        guard sweep.runs.contains(where: { $0.workers == 1 }) else {
            return ReportSection(
                title: "Speedup and efficiency", anchor: "speedup",
                items: [.paragraph("The sweep has no 1-worker run, the base of speedup and efficiency.")])
        }
        let (speedup, efficiency) = speedupCharts(sweep)
        return ReportSection(
            title: "Speedup and efficiency", anchor: "speedup",
            items: [
                .paragraph(
                    "Measured: the 1-worker median round over each count's. Model: the model's 1-worker round over its round "
                        + "for the count. Efficiency 100 % is the ideal, a speedup equal to the workers."),
                .lineChart(speedup), .lineChart(efficiency),
            ])
    }

    // MARK: - Round split, table

    /// Per count: the mean worker's compute, the straggler wait (slowest − mean worker) and communication (round −
    /// slowest worker's compute), milliseconds; they add up to the median round.
    static func roundChart(_ sweep: ScaleSweep) -> StackedBarChart {
        let runs = sweep.runs.sorted { $0.workers < $1.workers }
        return StackedBarChart(
            title: "Median round split into its parts", categoryLabel: "workers",
            categories: runs.map { "\($0.workers)" + ($0.role == "predict" ? " (predicted)" : $0.workers == 0 ? " (in-process)" : "") },
            value: Axis("milliseconds per round"),
            layers: [
                BarLayer("compute (mean worker)", runs.map { ($0.computeSeconds - $0.waitSeconds) * 1e3 }),
                BarLayer("straggler wait (slowest − mean worker)", runs.map { $0.waitSeconds * 1e3 }),
                BarLayer("communication (round − compute)", runs.map { $0.communicationSeconds * 1e3 }),
            ])
    }

    static func roundSection(_ sweep: ScaleSweep) -> ReportSection {
        ReportSection(
            title: "Where a round goes", anchor: "split",
            items: [
                .paragraph(
                    "Medians over each count's rounds. Compute is the slowest worker's; the straggler wait is what the others "
                        + "wait for it (slowest − mean worker); communication is the rest of the round: messages, the "
                        + "reduction and the optimizer step."),
                .barChart(roundChart(sweep)),
            ])
    }

    /// One row per count; the link's columns only where a link's rate applies (emulated hosts).
    static func sweepTable(_ sweep: ScaleSweep) -> ReportTable {
        let ms = { (seconds: Double) in String(format: "%.3f", seconds * 1e3) }
        let link = sweep.network.linkBitsPerSecond != nil
        var columns = ["workers", "role", "round", "compute", "straggler wait", "communication"]
        if link { columns += ["link transfer", "link bytes"] }
        columns += ["rows/s", "speedup (efficiency)", "model (error)"]
        return ReportTable(
            columns: columns,
            rows: sweep.runs.map { run in
                var row = [
                    String(run.workers), run.role, ms(run.roundSeconds), ms(run.computeSeconds), ms(run.waitSeconds),
                    ms(run.communicationSeconds),
                ]
                if link { row += [ms(run.transferSeconds), String(run.linkBytes)] }
                let speedup = run.speedup.map { speedup in
                    String(format: "%.2f", speedup) + (run.efficiency.map { String(format: " (%.0f %%)", $0 * 100) } ?? "")
                }
                let model = run.modelRoundSeconds.map { ms($0) + (run.modelErrorPercent.map { " (\(errorText($0)))" } ?? "") }
                // No line breaks inside a cell's value.
                return (row + [rowsText(run.rowsPerSecond), speedup ?? "–", model ?? "–"]).map {
                    $0.replacingOccurrences(of: " ", with: "\u{00A0}")
                }
            },
            numericColumns: Set(columns.indices).subtracting([1]))
    }

    static func sweepSection(_ sweep: ScaleSweep) -> ReportSection {
        ReportSection(
            title: "The sweep", anchor: "sweep",
            items: [
                .paragraph(
                    "Median milliseconds per round"
                        + (sweep.network.linkBitsPerSecond == nil
                            ? ". "
                            : "; link transfer: the round's bytes that the link's rate applies to, over that rate (a part of "
                                + "communication). ")
                        + "Rows/s: the median of the rounds' rows per second. Model error: 100 (model − measured) / measured, for fitted counts "
                        + "the fit's residual, for predicted ones the prediction's error."),
                .table(sweepTable(sweep)),
            ])
    }

    // MARK: - Cluster prediction

    static func clusterChart(_ sweep: ScaleSweep) -> StackedBarChart {
        let points = sweep.clusterPrediction.points
        return StackedBarChart(
            title: "Predicted round on a cluster", categoryLabel: "workers", categories: points.map { String($0.workers) },
            value: Axis("milliseconds per round (predicted)"),
            layers: [
                BarLayer("compute", points.map { $0.computeSeconds * 1e3 }),
                BarLayer("link transfer", points.map { $0.transferSeconds * 1e3 }),
                BarLayer("other communication", points.map { ($0.communicationSeconds - $0.transferSeconds) * 1e3 }),
            ])
    }

    static func clusterSection(_ sweep: ScaleSweep) -> ReportSection {
        let cluster = sweep.clusterPrediction
        let assumptions = cluster.assumptions
        let link = assumptions.linkBitsPerSecond.map(rate) ?? "unlimited"
        var items: [ReportItem] = [
            .paragraph(
                "The cost model's prediction, not a measurement. Assumptions: hosts with "
                    + "\(assumptions.coresPerHost) core(s) each, links of \(link), "
                    + (assumptions.curve ? "CURVE encryption" : "no encryption") + "; \(assumptions.topology). "
                    + "Its coefficients were fitted on this machine (\(sweep.machineCores) cores shared by every worker and "
                    + "the coordinator), so the per-worker cost includes their contention for those cores.")
        ]
        if !cluster.skippedWorkers.isEmpty {
            items.append(
                .paragraph(
                    "Not predicted: \(cluster.skippedWorkers.map(String.init).joined(separator: ", ")) workers, more than the "
                        + "\(sweep.blocks) blocks (smaller --block-rows give more)."))
        }
        guard !cluster.points.isEmpty else {
            return ReportSection(title: "Prediction for larger clusters", anchor: "cluster", items: items)
        }
        let ms = { (seconds: Double) in String(format: "%.3f", seconds * 1e3) }
        items.append(.barChart(clusterChart(sweep)))
        items.append(
            .table(
                ReportTable(
                    columns: ["workers", "round ms", "compute ms", "link transfer ms", "communication ms", "link bytes", "speedup", "efficiency"],
                    rows: cluster.points.map { point in
                        [
                            String(point.workers), ms(point.roundSeconds), ms(point.computeSeconds), ms(point.transferSeconds),
                            ms(point.communicationSeconds), String(point.linkBytes),
                            point.speedup.map { String(format: "%.2f", $0) } ?? "–",
                            point.efficiency.map { String(format: "%.0f %%", $0 * 100) } ?? "–",
                        ]
                    }, numericColumns: [0, 1, 2, 3, 4, 5, 6, 7])))
        return ReportSection(title: "Prediction for larger clusters", anchor: "cluster", items: items)
    }

    // MARK: - Settings

    static func settingsSection(_ sweep: ScaleSweep) -> ReportSection {
        let network = sweep.network
        var rows: [[String]] = [
            ["workers", sweep.runs.map { String($0.workers) }.joined(separator: ", ")],
            ["fitted counts", sweep.fitWorkers.map(String.init).joined(separator: ", ")],
            ["predicted before measured", sweep.predictWorkers.isEmpty ? "–" : sweep.predictWorkers.map(String.init).joined(separator: ", ")],
            ["rounds per count", String(sweep.rounds)],
            ["cores per worker", String(sweep.coresPerWorker)],
            ["machine cores", String(sweep.machineCores)],
            ["network", network.kind],
            ["hosts", network.hosts.map(String.init) ?? "–"],
            ["link rate", network.linkBitsPerSecond.map(rate) ?? "–"],
            ["tbf burst bytes", network.tbfBurstBytes.map(String.init) ?? "–"],
            ["subnet", network.subnet ?? "–"],
            ["CURVE", network.curve ? "yes" : "no"],
            ["rows", String(sweep.rows)],
            ["blocks", String(sweep.blocks)],
            ["parameters", String(sweep.parameters)],
        ]
        var items: [ReportItem] = [.table(ReportTable(columns: ["sweep", "value"], rows: rows))]
        if let settings = sweep.settings {
            rows = RunReport.flattened(settings)
            items += [
                .paragraph("The run's settings, defaults resolved (as a training summary's \"settings\" object)."),
                .table(ReportTable(columns: ["setting", "value"], rows: rows)),
            ]
        }
        return ReportSection(title: "Settings", anchor: "settings", items: items)
    }

    // MARK: - Numbers

    /// "+6.2 %" (the sign always written), "–" for none.
    static func errorText(_ percent: Double?) -> String {
        percent.map { String(format: "%+.1f %%", $0) } ?? "–"
    }

    /// Four significant digits and `unit`: "1234/s", "0.5123/s".
    static func number(_ value: Double, _ unit: String = "") -> String {
        (JSONStyle.nonFiniteSpelling(value) ?? String(format: "%.4g", value)) + unit
    }

    /// "3.31 M" for 3.31e6, "156.5 k" for 156,520, else four significant digits.
    static func rowsText(_ rowsPerSecond: Double) -> String {
        if rowsPerSecond >= 1e6 { return String(format: "%.3g M", rowsPerSecond / 1e6) }
        if rowsPerSecond >= 1e4 { return String(format: "%.1f k", rowsPerSecond / 1e3) }
        return number(rowsPerSecond)
    }

    /// "100 Mbit/s" for 1e8 bits per second.
    static func rate(_ bitsPerSecond: Double) -> String {
        for (scale, unit) in [(1e9, "Gbit/s"), (1e6, "Mbit/s"), (1e3, "kbit/s")] where bitsPerSecond >= scale {
            return String(format: "%g %@", bitsPerSecond / scale, unit)
        }
        return String(format: "%g bit/s", bitsPerSecond)
    }
}
