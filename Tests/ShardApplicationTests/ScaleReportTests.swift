import Foundation
import ShardArtifacts
import ShardReport
import Testing
import _TestSupport

@testable import ShardApplication

/// The page of a scaling sweep, drawn from a hand-made scale document whose model values follow from its coefficients:
/// t(N) = 0.3 ms + 4 core-ms / min(N, 2) + 0.5 ms · N (no link term), so t(1) = 4.8, t(2) = 3.3, t(3) = 3.8, t(4) = 4.3 ms.
@Suite struct ScaleReportTests {
    static func run(
        _ workers: Int, _ role: String, round: Double, compute: Double, wait: Double, speedup: Double?, model: Double?, error: Double?
    ) -> String {
        let optional = { (value: Double?) in value.map { "\($0)" } ?? "null" }
        return """
            {"workers": \(workers), "role": "\(role)", "rounds": 10, "round_seconds": \(round), "compute_seconds": \(compute),
             "wait_seconds": \(wait), "communication_seconds": \(round - compute), "rows_per_second": \(1000 / round),
             "parameters_sha256": "ab12", "speedup": \(optional(speedup)),
             "efficiency": \(optional(speedup.map { $0 / Double(max(workers, 1)) })), "cores": \(min(max(workers, 1), 2)),
             "frame_bytes": 500, "link_bytes": 700, "rate_limited_bytes": 0, "transfer_seconds": 0,
             "model_round_seconds": \(optional(model)), "model_compute_seconds": null, "model_communication_seconds": null,
             "model_error_percent": \(optional(error))}
            """
    }

    static let document = """
        {"format": "shardtrain-scale/1", "rows": 1000, "blocks": 8, "parameters": 21, "sums_width": 22, "rounds": 10,
         "cores_per_worker": 1, "machine_cores": 2,
         "network": {"kind": "unix-socket", "hosts": null, "link_bits_per_second": null, "tbf_burst_bytes": null,
                     "subnet": null, "curve": false},
         "identical_parameters": true, "fit_workers": [0, 1, 2], "predict_workers": [3, 4],
         "runs": [
           \(run(0, "in-process", round: 0.004, compute: 0.0039, wait: 0, speedup: nil, model: nil, error: nil)),
           \(run(1, "fit", round: 0.005, compute: 0.0042, wait: 0, speedup: 1, model: 0.0048, error: -4)),
           \(run(2, "fit", round: 0.0032, compute: 0.0022, wait: 0.0002, speedup: 1.5625, model: 0.0033, error: 3.125)),
           \(run(3, "predict", round: 0.004, compute: 0.0024, wait: 0.0003, speedup: 1.25, model: 0.0038, error: -5)),
           \(run(4, "predict", round: 0.004, compute: 0.0025, wait: 0.0004, speedup: 1.25, model: 0.0043, error: 7.5))
         ],
         "model": {"compute_latency_seconds": 0.0001, "communication_latency_seconds": 0.0002, "latency_seconds": 0.0003,
                   "work_core_seconds": 0.004, "per_worker_seconds": 0.0005},
         "prediction_error_percent": {"mean_absolute": 6.25, "max_absolute": 7.5},
         "cluster_prediction": {
           "assumptions": {"cores_per_host": 1, "link_bits_per_second": 1000000000, "curve": true,
                           "topology": "one coordinator whose link carries every PARAMS and PARTIALS frame; one worker per host"},
           "points": [{"workers": 16, "round_seconds": 0.00895, "compute_seconds": 0.00035, "communication_seconds": 0.0086,
                       "transfer_seconds": 0.0004, "frame_bytes": 40000, "link_bytes": 50000, "rate_limited_bytes": 50000,
                       "rows_per_second": 111731.8, "speedup": 0.5363, "efficiency": 0.0335}],
           "skipped_workers": [32, 64]},
         "settings": {"model": {"kind": "logistic", "feature_count": 20, "l2": 0}, "optimizer": "gd", "learning_rate": 0.5,
                      "max_rounds": 10, "gradient_tolerance": 0, "objective_tolerance": 0, "seed": 42, "standardize": true,
                      "shuffle_training_rows": false, "precision": "float64", "block_rows": 128, "label_column": "label",
                      "data_file": "data/<b>fraud</b> & co.csv"}
        }
        """

    static func sweep() throws -> ScaleSweep { try ScaleSweep(json: Data(document.utf8), path: "sweep.json") }

    static func html() throws -> String { String(decoding: ScaleReport.page(try sweep()), as: UTF8.self) }

    @Test("The document reads back: roles, model values, cluster assumptions and the run's settings")
    func decoding() throws {
        let sweep = try Self.sweep()
        #expect(sweep.runs.map(\.workers) == [0, 1, 2, 3, 4])
        #expect(sweep.runs.map(\.role) == ["in-process", "fit", "fit", "predict", "predict"])
        #expect(sweep.runs.map(\.modelErrorPercent) == [nil, -4, 3.125, -5, 7.5])
        #expect(sweep.clusterPrediction.assumptions.linkBitsPerSecond == 1e9)
        #expect(sweep.clusterPrediction.skippedWorkers == [32, 64])
        #expect(sweep.settings?.dataFile == "data/<b>fraud</b> & co.csv")
    }

    @Test("A document of another format, or with a field missing, is refused naming the field")
    func refusals() {
        #expect(throws: ArtifactError.format(path: "s.json", reason: "format is \"shardtrain-summary/1\", expected \"shardtrain-scale/1\" (a document of scale --json or --summary-json)")) {
            try ScaleSweep(json: Data(#"{"format": "shardtrain-summary/1"}"#.utf8), path: "s.json")
        }
        let missing = Self.document.replacingOccurrences(of: #""round_seconds": 0.0032, "#, with: "")
        #expect(throws: ArtifactError.format(path: "s.json", reason: "runs[2].round_seconds is missing")) {
            try ScaleSweep(json: Data(missing.utf8), path: "s.json")
        }
    }

    @Test("The page is well-formed XHTML with every section, the data path escaped")
    func sections() throws {
        let html = try Self.html()
        let page = XHTMLSections(html)
        #expect(page.wellFormed, "not well-formed: \(String(describing: page.error))")
        #expect(page.ids == ["throughput", "speedup", "split", "sweep", "cluster", "settings"])
        #expect(html.contains("data/&lt;b&gt;fraud&lt;/b&gt; &amp; co.csv"))
        #expect(!html.contains("<b>fraud"))
        #expect(!html.contains("<script") && !html.contains("NaN"))
    }

    @Test("The printed errors are the document's: in the labels of the predicted points, the table and the headline")
    func errors() throws {
        let html = try Self.html()
        #expect(html.contains("predicted before measured: 3 workers -5.0 %, 4 workers +7.5 % (mean |error| 6.2 %, max 7.5 %)"))
        // Point labels of the predicted counts.
        #expect(html.contains(">-5.0 %</text>") && html.contains(">+7.5 %</text>"))
        // The table's last cell per count: model ms and error.
        for cell in ["4.800 (-4.0 %)", "3.300 (+3.1 %)", "3.800 (-5.0 %)", "4.300 (+7.5 %)"] {
            let unbroken = cell.replacingOccurrences(of: " ", with: "\u{00A0}")
            #expect(html.contains("<td class=\"num\">\(unbroken)</td></tr>"), "\(cell)")
        }
    }

    @Test("The model curve goes through 1 / t(N) at every fitted and predicted count, at the chart's coordinates")
    func modelCurve() throws {
        let chart = ScaleReport.throughputChart(try Self.sweep())
        let model = try #require(chart.series.first { $0.name == "cost model" })
        #expect(model.points == [ChartPoint(1, 1 / 0.0048), ChartPoint(2, 1 / 0.0033), ChartPoint(3, 1 / 0.0038), ChartPoint(4, 1 / 0.0043)])
        #expect(chart.series.first { $0.name == "predicted by the model, then measured" }?.points == [ChartPoint(3, 250), ChartPoint(4, 250)])
        #expect(chart.series.first?.pointLabels == ["200/s", "312.5/s", "-5.0 %", "+7.5 %"])
        // The plot's data span (ChartFrame, legend on the right): x from 88 to 522, y from 312 (bottom) to 52.
        let rates: [Double] = [1 / 0.0048, 1 / 0.0033, 1 / 0.0038, 1 / 0.0043]
        let y = AxisLayout(values: rates + [200, 312.5, 250, 250], axis: chart.y)
        let x = AxisLayout(values: [1, 2, 3, 4], axis: chart.x)
        #expect(x.lower == 1 && x.upper == 4)
        var expected: [String] = []
        for (index, rate) in rates.enumerated() {
            let across = Self.coordinate(x.position(Double(index + 1), from: 88, to: 522))
            let up = Self.coordinate(y.position(rate, from: 312, to: 52))
            expected.append(across + " " + up)
        }
        #expect(expected.first?.hasPrefix("88 ") == true && expected.last?.hasPrefix("522 ") == true)
        let svg = chart.render().svg
        #expect(svg.contains("d=\"M" + expected.joined(separator: "L") + "\""), "\(expected)")
    }

    @Test("Speedup has the ideal diagonal and the model's speedup t(1) / t(N); the round split adds up to the round")
    func speedupAndSplit() throws {
        let sweep = try Self.sweep()
        let (speedup, efficiency) = ScaleReport.speedupCharts(sweep)
        #expect(speedup.diagonal != nil)
        let model = try #require(speedup.series.first { $0.name == "cost model" })
        #expect(model.points.map(\.y) == [1, 0.0048 / 0.0033, 0.0048 / 0.0038, 0.0048 / 0.0043])
        #expect(speedup.y.domain == 0...4)
        #expect(efficiency.series.first { $0.name == "measured" }?.points.map(\.y) == [1, 0.78125, 1.25 / 3, 0.3125])
        let split = ScaleReport.roundChart(sweep)
        #expect(split.categories == ["0 (in-process)", "1", "2", "3 (predicted)", "4 (predicted)"])
        for index in sweep.runs.indices {
            let total = split.layers.reduce(0) { $0 + $1.values[index] }
            #expect(abs(total - sweep.runs[index].roundSeconds * 1e3) < 1e-9)
        }
    }

    @Test("The cluster prediction states its assumptions and the counts it skipped")
    func cluster() throws {
        let html = try Self.html()
        #expect(html.contains("Assumptions: hosts with 1 core(s) each, links of 1 Gbit/s, CURVE encryption; one coordinator whose link"))
        #expect(html.contains("Not predicted: 32, 64 workers, more than the 8 blocks"))
        #expect(html.contains("<td class=\"num\">16</td><td class=\"num\">8.950</td>"))
    }

    /// `Markup.coordinate`'s spelling: hundredths rounded half away from zero, no trailing zeros.
    static func coordinate(_ value: Double) -> String {
        let hundredths = Int((value * 100).rounded())
        let whole = String(abs(hundredths) / 100)
        let fraction = abs(hundredths) % 100
        let sign = hundredths < 0 ? "-" : ""
        guard fraction != 0 else { return sign + whole }
        return sign + whole + "." + (fraction % 10 == 0 ? String(fraction / 10) : String(format: "%02d", fraction))
    }
}
