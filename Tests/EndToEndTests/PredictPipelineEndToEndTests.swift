import Foundation
import Testing
import _TestSupport

/// `predict` in a pipeline: decision thresholds given (`--threshold`) or chosen at training time (`--threshold-for`,
/// recorded in the model and replayed by `--config`), the line column, and CSV / JSON lines output.
@Suite("End to end: predict in a pipeline", .serialized)
struct PredictPipelineEndToEndTests {
    static let data = ModelCommandsEndToEndTests.dataPath("breast_cancer.csv")

    static func run(_ arguments: [String], in directory: TemporaryDirectory) throws -> (Int32, String, String) {
        try ModelCommandsEndToEndTests.run(arguments, in: directory)
    }

    static func json(_ path: String) throws -> [String: Any] {
        try ModelCommandsEndToEndTests.json(try String(contentsOfFile: path, encoding: .utf8))
    }

    /// Trains logistic regression with `--threshold-for target` on 30 % held-out rows; returns model and summary.
    static func trainWithThreshold(
        _ target: String, extra: [String] = [], in directory: TemporaryDirectory, name: String = "model"
    ) throws -> (model: String, summary: String, stdout: String, stderr: String) {
        let model = directory.path("\(name).safetensors")
        let summary = directory.path("\(name).json")
        let (status, stdout, stderr) = try run(
            [
                "train", "--data", data, "--standardize", "--test-fraction", "0.3", "--seed", "3", "--threshold-for", target,
                "--save", model, "--summary-json", summary,
            ] + extra, in: directory)
        try #require(status == 0, "\(stderr)")
        return (model, summary, stdout, stderr)
    }

    /// The recorded threshold of a model file (metadata `decision_threshold`).
    static func recordedThreshold(_ model: String) throws -> [String: Any] {
        let text = try #require(try RawModelFile.read(model).metadata["decision_threshold"])
        return try ModelCommandsEndToEndTests.json(text)
    }

    /// Its value, read correctly rounded (JSONDecoder; JSONSerialization on Linux misreads some numbers).
    static func recordedValue(_ model: String) throws -> Double {
        struct Threshold: Decodable { var value: Double }
        let text = try #require(try RawModelFile.read(model).metadata["decision_threshold"])
        return try JSONDecoder().decode(Threshold.self, from: Data(text.utf8)).value
    }

    @Test("--threshold-for precision=0.95: recorded in the model and the summary; --config (with 2 workers) gives the same parameters and threshold")
    func thresholdForRecordedAndReplayed() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (model, summaryPath, stdout, _) = try Self.trainWithThreshold("precision=0.95", in: directory)
        let recorded = try Self.recordedThreshold(model)
        let summary = try Self.json(summaryPath)
        let inSummary = try #require(summary["decision_threshold"] as? [String: Any])
        let value = try Self.recordedValue(model)
        #expect(inSummary["value"] as? Double == recorded["value"] as? Double)
        #expect(recorded["target"] as? String == "precision=0.95" && recorded["target_met"] as? Bool == true)
        let precision = try #require(recorded["precision"] as? Double)
        #expect(precision >= 0.95)
        // 30 % of 569 rows are held out.
        #expect(recorded["held_out_rows"] as? Int == 171)
        #expect((summary["settings"] as? [String: Any])?["threshold_for"] as? String == "precision=0.95")
        #expect(stdout.contains("decision threshold \(value) chosen for precision=0.95"), "\(stdout)")
        // The held-out report classifies at the chosen threshold: its precision of class 1 is the recorded one.
        let test = try #require(summary["test_metrics"] as? [String: Any])
        let classes = try #require((test["classification"] as? [String: Any])?["classes"] as? [[String: Any]])
        #expect(classes[1]["precision"] as? Double == precision)
        #expect(classes[1]["recall"] as? Double == recorded["recall"] as? Double)
        #expect((test["threshold"] as? [String: Any])?["source"] as? String == "recorded")

        let replayModel = directory.path("replay.safetensors")
        let replaySummary = directory.path("replay.json")
        let (status, _, stderr) = try Self.run(
            ["train", "--config", summaryPath, "--workers", "2", "--save", replayModel, "--summary-json", replaySummary],
            in: directory)
        try #require(status == 0, "\(stderr)")
        let replay = try Self.json(replaySummary)
        #expect(replay["parameters_sha256"] as? String == summary["parameters_sha256"] as? String)
        let replayed = try Self.recordedThreshold(replayModel)
        #expect(try Self.recordedValue(replayModel).bitPattern == value.bitPattern)
        #expect(NSDictionary(dictionary: replayed) == NSDictionary(dictionary: recorded))
    }

    @Test("predict and evaluate use the recorded threshold; --threshold overrides it, and labels change exactly where the probability crosses it")
    func thresholdsInPredictAndEvaluate() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (model, _, _, _) = try Self.trainWithThreshold("recall=0.99", in: directory)
        let recorded = try Self.recordedValue(model)
        let labels = try NumericTable(path: Self.data).column("label")

        func predict(_ extra: [String]) throws -> NumericTable {
            let (status, stdout, stderr) = try Self.run(["predict", "--model-file", model, "--data", Self.data] + extra, in: directory)
            #expect(status == 0, "\(stderr)")
            return try NumericTable(text: stdout)
        }
        func evaluate(_ extra: [String]) throws -> [String: Any] {
            let (status, stdout, stderr) = try Self.run(
                ["evaluate", "--model-file", model, "--data", Self.data, "--json"] + extra, in: directory)
            #expect(status == 0, "\(stderr)")
            return try ModelCommandsEndToEndTests.json(stdout)
        }
        let byDefault = try predict([])
        let probabilities = try byDefault.column("probability")
        #expect(try byDefault.column("predicted_label") == probabilities.map { $0 >= recorded ? 1 : 0 })
        // The threshold is the probability of a held-out row (the held-out rows are rows of this file).
        #expect(probabilities.contains(recorded))
        let (status, reportText, stderr) = try Self.run(
            ["evaluate", "--model-file", model, "--data", Self.data, "--json"], in: directory)
        try #require(status == 0, "\(stderr)")
        struct Report: Decodable {
            struct Threshold: Decodable, Equatable { var value: Double, applies_to: String, source: String, target: String? }
            var threshold: Threshold
        }
        #expect(
            try JSONDecoder().decode(Report.self, from: Data(reportText.utf8)).threshold
                == Report.Threshold(value: recorded, applies_to: "probability", source: "recorded", target: "recall=0.99"))
        let report = try ModelCommandsEndToEndTests.json(reportText)
        let counts = try #require(
            ((report["classification"] as? [String: Any])?["confusion_matrix"] as? [String: Any])?["counts"] as? [[Int]])
        let positive = zip(labels, probabilities).filter { $0.1 >= recorded }
        #expect(counts[1][1] == positive.filter { $0.0 == 1 }.count && counts[0][1] == positive.filter { $0.0 == 0 }.count)

        for threshold in [0.5, 0.9, probabilities.sorted()[300]] {
            let given = try predict(["--threshold", "\(threshold)"])
            #expect(try given.column("probability") == probabilities)
            #expect(try given.column("predicted_label") == probabilities.map { $0 >= threshold ? 1 : 0 }, "\(threshold)")
            let evaluation = try evaluate(["--threshold", "\(threshold)"])
            #expect((evaluation["threshold"] as? [String: Any])?["source"] as? String == "given")
            // Counts, not the accuracy: JSONSerialization on Linux does not read every number correctly rounded.
            let correct = zip(labels, probabilities).filter { ($0.1 >= threshold ? 1 : 0) == $0.0 }.count
            let matrix = try #require(
                ((evaluation["classification"] as? [String: Any])?["confusion_matrix"] as? [String: Any])?["counts"] as? [[Int]])
            #expect(matrix[0][0] + matrix[1][1] == correct, "\(threshold)")
        }
        // At a row's own probability that row is positive; only the rows between two thresholds change.
        let (low, high) = (0.5, 0.9)
        let atLow = try predict(["--threshold", "\(low)"]).column("predicted_label")
        let atHigh = try predict(["--threshold", "\(high)"]).column("predicted_label")
        let changed = probabilities.indices.filter { atLow[$0] != atHigh[$0] }
        #expect(changed == probabilities.indices.filter { probabilities[$0] >= low && probabilities[$0] < high })
        #expect(!changed.isEmpty)
    }

    @Test("JSON lines (by --format or by the .jsonl name) parse back to the CSV's values, line numbers included")
    func jsonLinesEqualCSV() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (model, _) = try ModelCommandsEndToEndTests.trainLogistic(in: directory)
        let csv = directory.path("p.csv"), jsonl = directory.path("p.jsonl")
        for (output, extra) in [(csv, [String]()), (jsonl, []), (directory.path("p.txt"), ["--format", "jsonl"])] {
            let (status, _, stderr) = try Self.run(
                ["predict", "--model-file", model, "--data", Self.data, "--output", output] + extra, in: directory)
            try #require(status == 0, "\(stderr)")
        }
        let table = try NumericTable(path: csv)
        for path in [jsonl, directory.path("p.txt")] {
            let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
            #expect(lines.count == 569)
            for (row, line) in lines.enumerated() {
                // JSONDecoder reads numbers correctly rounded.
                let object = try JSONDecoder().decode([String: Double].self, from: Data(line.utf8))
                #expect(Set(object.keys) == Set(table.columns))
                #expect(table.columns.map { object[$0]!.bitPattern } == table.rows[row].map(\.bitPattern))
                #expect(line.hasPrefix("{\"line\":\(row + 2),\"score\":"))
            }
        }
        // Standard output: csv unless --format says otherwise; the deprecated --json still writes one document.
        let (status, stdout, _) = try Self.run(["predict", "--model-file", model, "--data", Self.data, "--format", "jsonl"], in: directory)
        let written = try String(contentsOfFile: jsonl, encoding: .utf8)
        #expect(status == 0 && stdout == written)
        let (status2, document, stderr2) = try Self.run(["predict", "--model-file", model, "--data", Self.data, "--json"], in: directory)
        #expect(status2 == 0 && stderr2.contains("--json is deprecated"))
        let parsed = try ModelCommandsEndToEndTests.json(document)
        #expect(parsed["columns"] as? [String] == table.columns && (parsed["rows"] as? [[Double]])?.count == 569)
    }

    @Test("svm --threshold-for f1: the threshold is a decision value, and predicted labels are [score ≥ it]")
    func svmThresholdOnScore() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (model, _, _, _) = try Self.trainWithThreshold("f1", extra: ["--model", "svm"], in: directory)
        let value = try Self.recordedValue(model)
        let (status, stdout, stderr) = try Self.run(["predict", "--model-file", model, "--data", Self.data], in: directory)
        try #require(status == 0, "\(stderr)")
        let table = try NumericTable(text: stdout)
        #expect(table.columns == ["line", "score", "predicted_label"])
        #expect(try table.column("predicted_label") == (try table.column("score")).map { $0 >= value ? 1 : 0 })
        // The threshold is the score of a held-out row (the held-out rows are rows of this file).
        #expect(try table.column("score").contains(value))
    }

    @Test("a target no threshold reaches: the best available (largest precision, then recall), a warning, target_met false")
    func unreachableTarget() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        // Every feature vector twice, once per class: whatever the model, every threshold has precision 1/2.
        let rows = (0..<20).flatMap { k in ["\(Double(k) / 4),\(k % 3),0", "\(Double(k) / 4),\(k % 3),1"] }
        let data = try directory.write((["a,b,label"] + rows).joined(separator: "\n") + "\n", to: "pairs.csv")
        let heldOut = try directory.write((0..<16).map(String.init).joined(separator: ","), to: "held-out.txt")
        let model = directory.path("model.safetensors"), summary = directory.path("summary.json")
        let (status, stdout, stderr) = try Self.run(
            ["train", "--data", data, "--test-rows", heldOut, "--threshold-for", "precision=0.9", "--save", model,
             "--summary-json", summary], in: directory)
        try #require(status == 0, "\(stderr)")
        #expect(stderr.contains("the target is not reached on these rows; this is the best available"), "\(stderr)")
        #expect(stdout.contains("chosen for precision=0.9: precision 0.5000, recall 1.0000"), "\(stdout)")
        let recorded = try Self.recordedThreshold(model)
        #expect(recorded["target_met"] as? Bool == false)
        // All thresholds tie at precision 1/2: the largest recall, 1, is the lowest held-out probability.
        #expect(recorded["precision"] as? Double == 0.5 && recorded["recall"] as? Double == 1 && recorded["held_out_rows"] as? Int == 16)
        #expect(((try Self.json(summary))["decision_threshold"] as? [String: Any])?["target_met"] as? Bool == false)

        // Held-out rows of one class (label 0 only) are refused before training.
        let negatives = try directory.write("0,2,4", to: "negatives.txt")
        let (status2, _, stderr2) = try Self.run(
            ["train", "--data", data, "--test-rows", negatives, "--threshold-for", "f1"], in: directory)
        #expect(status2 == 64 && stderr2.contains("needs held-out rows of both classes") && stderr2.contains("0 positive and 3 negative"), "\(stderr2)")
    }

    @Test("refused: --threshold-for without held-out rows or on a non-binary model, --threshold off its scale or on softmax")
    func refusals() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (status, _, stderr) = try Self.run(
            ["train", "--data", Self.data, "--threshold-for", "precision=0.9"], in: directory)
        #expect(status == 64 && stderr.contains("held-out rows") && stderr.contains("--test-fraction"), "\(stderr)")
        let (status2, _, stderr2) = try Self.run(
            ["train", "--data", ModelCommandsEndToEndTests.dataPath("iris.csv"), "--model", "softmax", "--test-fraction", "0.2",
             "--threshold-for", "f1"], in: directory)
        #expect(status2 == 64 && stderr2.contains("--threshold-for applies to --model logistic, svm only"), "\(stderr2)")
        let (status3, _, stderr3) = try Self.run(
            ["train", "--data", Self.data, "--test-fraction", "0.2", "--threshold-for", "precision=1.5"], in: directory)
        #expect(status3 == 64 && stderr3.contains("--threshold-for"), "\(stderr3)")

        let (model, _) = try ModelCommandsEndToEndTests.trainLogistic(in: directory)
        let (status4, stdout4, stderr4) = try Self.run(
            ["predict", "--model-file", model, "--data", Self.data, "--threshold", "1.5"], in: directory)
        #expect(status4 == 64 && stdout4.isEmpty && stderr4.contains("probability in [0, 1]"), "\(stderr4)")
        let softmax = directory.path("softmax.safetensors")
        let (trained, _, trainError) = try Self.run(
            ["train", "--data", ModelCommandsEndToEndTests.dataPath("iris.csv"), "--model", "softmax", "--save", softmax], in: directory)
        try #require(trained == 0, "\(trainError)")
        let (status5, _, stderr5) = try Self.run(
            ["evaluate", "--model-file", softmax, "--data", ModelCommandsEndToEndTests.dataPath("iris.csv"), "--threshold", "0.5"],
            in: directory)
        #expect(status5 == 64 && stderr5.contains("this model is softmax"), "\(stderr5)")
    }
}
