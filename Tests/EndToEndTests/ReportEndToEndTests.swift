import Foundation
import Testing
import _TestSupport

/// `train --report` and `evaluate --report` on the bundled data: the page is one well-formed document with the
/// sections of the model's kind, its numbers are the summary's, it is written with the run's other outputs, and it
/// renders in headless Chromium when that is installed.
@Suite("End to end: HTML reports", .serialized)
struct ReportEndToEndTests {
    static func run(_ arguments: [String], in directory: TemporaryDirectory) throws -> (Int32, String, String) {
        try ModelCommandsEndToEndTests.run(arguments, in: directory)
    }

    static func data(_ name: String) -> String { ModelCommandsEndToEndTests.dataPath(name) }

    /// The ids of the page's sections, in order; the page must parse as XML (the report is XHTML).
    static func sections(of path: String) throws -> [String] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let page = XHTMLSections(text)
        #expect(page.wellFormed, "not well-formed: \(String(describing: page.error))")
        #expect(!text.contains("<script") && !text.contains("src="))
        #expect(!text.contains("NaN") && !text.lowercased().contains("infinity"))
        return page.ids
    }

    @Test("logistic with 2 workers and --eval-every: every section, the AUC is the summary's, the report is an output")
    func logistic() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (report, summary, model) = (directory.path("run.html"), directory.path("summary.json"), directory.path("m.safetensors"))
        let (status, stdout, stderr) = try Self.run(
            [
                "train", "--data", Self.data("breast_cancer.csv"), "--standardize", "--test-fraction", "0.2", "--seed", "3",
                "--workers", "2", "--eval-every", "5", "--report", report, "--summary-json", summary, "--save", model,
            ], in: directory)
        try #require(status == 0, "\(stderr)")
        #expect(stdout.contains("report \(report)"))
        #expect(
            try Self.sections(of: report)
                == ["training", "eval", "workers", "metrics", "confusion", "ranking", "calibration", "settings"])
        let document = try ModelCommandsEndToEndTests.json(try String(contentsOfFile: summary, encoding: .utf8))
        let outputs = try #require(document["outputs"] as? [String: String])
        #expect(outputs["report"] == report)
        let ranking = try #require((document["test_metrics"] as? [String: Any])?["ranking"] as? [String: Any])
        let auc = try #require(ranking["roc_auc"] as? Double)
        let html = try String(contentsOfFile: report, encoding: .utf8)
        #expect(html.contains("ROC, AUC \(String(format: "%.4f", auc))"))
        #expect(html.contains(try #require(document["parameters_sha256"] as? String)))

        // evaluate --report on the saved model and the whole file.
        let evaluation = directory.path("evaluation.html")
        let (evaluated, _, evaluateError) = try Self.run(
            ["evaluate", "--model-file", model, "--data", Self.data("breast_cancer.csv"), "--report", evaluation], in: directory)
        try #require(evaluated == 0, "\(evaluateError)")
        #expect(evaluateError.contains("wrote report \(evaluation)"), "\(evaluateError)")
        #expect(try Self.sections(of: evaluation) == ["metrics", "confusion", "ranking", "calibration", "settings"])
        #expect(try String(contentsOfFile: evaluation, encoding: .utf8).contains("Predicted classes: predicted 1 when probability ≥ 0.5 (default)."))
        // It refuses to write over its input.
        let (refused, _, refusal) = try Self.run(
            ["evaluate", "--model-file", model, "--data", Self.data("breast_cancer.csv"), "--report", model], in: directory)
        #expect(refused == 64 && refusal.contains("--report \(model) names the same file as --model-file"), "\(refusal)")
    }

    @Test(
        "each model kind gets its charts",
        arguments: [
            (["--data", "iris.csv", "--model", "softmax", "--standardize"], ["training", "metrics", "confusion", "settings"]),
            (
                ["--data", "diabetes.csv", "--model", "quantile", "--standardize", "--tau", "0.1", "--tau", "0.5", "--tau", "0.9"],
                ["training", "metrics", "quantiles", "settings"]
            ),
            (
                ["--data", "digits.csv", "--model", "triplet", "--hidden", "16", "--dimension", "4", "--batch-blocks", "2",
                 "--max-rounds", "20", "--test-fraction", "0.2", "--eval-every", "10"],
                ["training", "eval", "metrics", "embeddings", "settings"]
            ),
            (
                ["--data", "digits.csv", "--model", "vae", "--hidden", "16", "--dimension", "2", "--batch-blocks", "2",
                 "--max-rounds", "20"],
                ["training", "metrics", "vae", "settings"]
            ),
        ])
    func modelKinds(arguments: [String], sections: [String]) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let report = directory.path("run.html")
        let withData = arguments.map { $0.hasSuffix(".csv") ? Self.data($0) : $0 }
        let (status, _, stderr) = try Self.run(["train"] + withData + ["--report", report], in: directory)
        try #require(status == 0, "\(stderr)")
        #expect(try Self.sections(of: report) == sections)
    }

    @Test("column names that hold markup are escaped, and a run of one round still gets its charts")
    func hostileNamesAndOneRound() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var lines = try String(contentsOfFile: Self.data("iris.csv"), encoding: .utf8).split(separator: "\n").map(String.init)
        var header = lines[0].split(separator: ",").map(String.init)
        header[0] = "a<b>"
        header[header.count - 1] = "<script>alert(\"x\")</script>&"
        lines[0] = header.joined(separator: ",")
        let data = try directory.write(lines.joined(separator: "\n") + "\n", to: "hostile.csv")
        let (report, model) = (directory.path("run.html"), directory.path("m.safetensors"))
        let (status, _, stderr) = try Self.run(
            ["train", "--data", data, "--model", "softmax", "--max-rounds", "1", "--report", report, "--save", model], in: directory)
        try #require(status == 0, "\(stderr)")
        #expect(try Self.sections(of: report) == ["training", "metrics", "confusion", "settings"])
        let evaluation = directory.path("evaluation.html")
        let (evaluated, _, evaluateError) = try Self.run(
            ["evaluate", "--model-file", model, "--data", data, "--report", evaluation], in: directory)
        try #require(evaluated == 0, "\(evaluateError)")
        #expect(try Self.sections(of: evaluation) == ["metrics", "confusion", "settings"])
        for path in [report, evaluation] {
            let html = try String(contentsOfFile: path, encoding: .utf8)
            #expect(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;"))
        }
        // The one round's objective is drawn as a point on a round axis of whole numbers.
        let html = try String(contentsOfFile: report, encoding: .utf8)
        #expect(html.contains("<circle") && !html.contains(">0.5</text>"))
    }

    @Test("scale --report: the sweep's page with every section, its errors the document's; report --scale draws it again")
    func scaleSweep() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (report, summary) = (directory.path("scale.html"), directory.path("scale.json"))
        let sweep = [
            "scale", "--data", Self.data("fraud_synthetic.csv"), "--standardize", "--optimizer", "gd", "--block-rows", "512",
            "--fit-workers", "1,2", "--predict-workers", "3", "--rounds", "8",
        ]
        let (status, stdout, stderr) = try Self.run(sweep + ["--json", "--report", report, "--summary-json", summary], in: directory)
        try #require(status == 0, "\(stderr)")
        #expect(try Self.sections(of: report) == ["throughput", "speedup", "split", "sweep", "cluster", "settings"])
        let document = try ModelCommandsEndToEndTests.json(stdout)
        #expect(NSDictionary(dictionary: try ModelCommandsEndToEndTests.json(try String(contentsOfFile: summary, encoding: .utf8))) == NSDictionary(dictionary: document))
        let runs = try #require(document["runs"] as? [[String: Any]])
        let predicted = try #require(runs.first { $0["role"] as? String == "predict" })
        let error = try #require(predicted["model_error_percent"] as? Double)
        let html = try String(contentsOfFile: report, encoding: .utf8)
        #expect(html.contains("predicted before measured: 3 workers \(String(format: "%+.1f %%", error))"))
        #expect(html.contains(try #require(runs.first?["parameters_sha256"] as? String)))
        #expect(html.contains("fraud_synthetic.csv"))
        // `report --scale` draws the same page from the saved document.
        let redrawn = directory.path("redrawn.html")
        let (redrawnStatus, _, redrawnError) = try Self.run(["report", "--scale", summary, "--output", redrawn], in: directory)
        #expect(redrawnStatus == 0, "\(redrawnError)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: redrawn)) == Data(contentsOf: URL(fileURLWithPath: report)))
        let (wrongStatus, _, wrongError) = try Self.run(["report", "--scale", report, "--output", redrawn], in: directory)
        #expect(wrongStatus == 1 && wrongError.contains("\(report): not a valid file: not a JSON object"), "\(wrongError)")
        // The report alone (with --json), and a refusal to write over the data.
        let alone = directory.path("alone.html")
        let (aloneStatus, _, aloneError) = try Self.run(sweep + ["--json", "--report", alone], in: directory)
        #expect(aloneStatus == 0, "\(aloneError)")
        #expect(try Self.sections(of: alone).count == 6)
        let (refused, _, refusal) = try Self.run(sweep + ["--report", Self.data("fraud_synthetic.csv")], in: directory)
        #expect(refused == 64 && refusal.contains("--report"), "\(refusal)")
    }

    static var chromiumIsInstalled: Bool {
        ["/usr/bin/chromium", "/usr/bin/chromium-browser"].contains { FileManager.default.isExecutableFile(atPath: $0) }
    }

    @Test("scripts/render_report.sh renders a report to a PNG in headless Chromium", .enabled(if: Self.chromiumIsInstalled))
    func rendersInChromium() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let report = directory.path("run.html")
        let (status, _, stderr) = try Self.run(
            ["train", "--data", Self.data("iris.csv"), "--model", "softmax", "--standardize", "--report", report], in: directory)
        try #require(status == 0, "\(stderr)")
        let png = directory.path("run.png")
        let script = ReferenceData.repositoryRoot.appendingPathComponent("scripts/render_report.sh").path
        let child = try ChildProcess([report, png, "1000", "1400"], executable: script, directory: directory.url)
        let rendered = try #require(child.wait(timeout: 120), "chromium timed out")
        #expect(rendered == 0, "\(child.stderr)")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: png))
        #expect(Array(bytes.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        // IHDR: width and height, big-endian, at bytes 16…23 (at least the window; device scale may double it).
        let width = bytes[16..<20].reduce(0) { $0 << 8 | Int($1) }
        #expect(width >= 1000)
        // A blank page compresses to almost nothing; charts and text do not.
        #expect(bytes.count > 20_000)
    }
}
