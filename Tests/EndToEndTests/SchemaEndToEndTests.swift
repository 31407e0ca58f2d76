import Foundation
import Testing
import _TestSupport

/// Files as people have them: labels "yes"/"no", a categorical column, empty cells, an id column, columns in
/// another order (issue 11, the rows of its table about columns and labels).
@Suite("End to end: columns by name and kind, string labels, missing values", .serialized)
struct SchemaEndToEndTests {
    static func run(_ arguments: [String], in directory: TemporaryDirectory) throws -> (Int32, String, String) {
        let child = try ChildProcess(arguments, directory: directory.url)
        let status = try #require(child.wait(timeout: 300), "timed out: \(arguments)")
        return (status, child.stdout, child.stderr)
    }

    static func json(_ path: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
    }

    /// The bundled breast-cancer data as a messier file: an id column `patient_id` (P0000, …), a categorical column
    /// `color` (red, green, blue by row), the label `diagnosis` written no/yes, an empty cell in column 5
    /// ("mean_perimeter") every 37th row from row 5 and `NA` in column 7 every 53rd from row 7. `reversed`: the
    /// columns in the opposite order.
    static func messyCSV(reversed: Bool = false) throws -> String {
        let text = try String(
            contentsOfFile: ReferenceData.repositoryRoot.appendingPathComponent("data/breast_cancer.csv").path, encoding: .utf8)
        let lines = text.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        let colors = ["red", "green", "blue"]
        var rows = [["patient_id", "color"] + lines[0].dropLast() + ["diagnosis"]]
        for (index, fields) in lines.dropFirst().enumerated() {
            var features = Array(fields.dropLast())
            if index % 37 == 5 { features[2] = "" }
            if index % 53 == 7 { features[4] = "NA" }
            rows.append(
                [String(format: "P%04d", index), colors[index % 3]] + features + [fields.last == "1" ? "yes" : "no"])
        }
        return rows.map { (reversed ? $0.reversed() : $0).joined(separator: ",") }.joined(separator: "\n") + "\n"
    }

    @Test("labels no/yes, a categorical column, missing cells filled, ids passed through, reordered columns: same predictions")
    func messyFileTrainsAndPredicts() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let data = try directory.write(try Self.messyCSV(), to: "messy.csv")
        let reordered = try directory.write(try Self.messyCSV(reversed: true), to: "reordered.csv")
        let model = directory.path("model.safetensors")
        let (status, stdout, stderr) = try Self.run(
            ["train", "--data", data, "--standardize", "--id-column", "patient_id", "--missing", "mean", "--save", model],
            in: directory)
        try #require(status == 0, "\(stderr)")
        #expect(
            stderr.contains(
                "schema: 30 numeric, 1 categorical (color: 3 values), label \"diagnosis\": 2 classes (no, yes), id: patient_id, "
                    + "27 missing cells (numbers filled with the mean, categories as all-zero rows)"), "\(stderr)")
        #expect(stdout.contains("confusion matrix") && stdout.contains("\n         yes ") && stdout.contains("ranking (positive class = yes)"), "\(stdout)")

        let (status1, predictions, stderr1) = try Self.run(["predict", "--model-file", model, "--data", data], in: directory)
        try #require(status1 == 0, "\(stderr1)")
        let lines = predictions.split(separator: "\n")
        #expect(lines.count == 570)
        #expect(lines[0] == "patient_id,line,score,probability,predicted_label")
        #expect(lines[1].hasPrefix("P0000,") && lines[569].hasPrefix("P0568,"))
        #expect(lines.dropFirst().allSatisfy { $0.hasSuffix(",yes") || $0.hasSuffix(",no") })

        // Without the id column the rows are named by their line, and a note says so.
        let withoutIDs = try directory.write(
            try Self.messyCSV().split(separator: "\n").map { $0.drop { $0 != "," }.dropFirst() }.joined(separator: "\n") + "\n",
            to: "no_ids.csv")
        let (statusIDs, noIDs, noteIDs) = try Self.run(["predict", "--model-file", model, "--data", withoutIDs], in: directory)
        #expect(statusIDs == 0 && noIDs.hasPrefix("line,score,"), "\(noteIDs)")
        #expect(noteIDs.contains("no column \"patient_id\" (the model's id column): rows are named by their line number instead"), "\(noteIDs)")

        let (status2, reorderedPredictions, stderr2) = try Self.run(
            ["predict", "--model-file", model, "--data", reordered], in: directory)
        #expect(status2 == 0, "\(stderr2)")
        #expect(reorderedPredictions == predictions)

        let (status3, report, _) = try Self.run(["evaluate", "--model-file", model, "--data", reordered], in: directory)
        #expect(status3 == 0 && report.contains("\n          no ") && report.contains("\n         yes "), "\(report)")
        #expect(report.contains("predicted yes when probability ≥ 0.5 (default)"), "\(report)")

        // A colour the model never saw: all-zero rows and a note, or exit 1 with --strict.
        let unseen = try directory.write(try Self.messyCSV().replacing(",red,", with: ",purple,"), to: "unseen.csv")
        let (status4, _, note) = try Self.run(["predict", "--model-file", model, "--data", unseen], in: directory)
        #expect(status4 == 0 && note.contains("190 cells of column \"color\" hold a category the model did not see in training (\"purple\"): all-zero rows"), "\(note)")
        let (status5, _, strict) = try Self.run(["predict", "--model-file", model, "--data", unseen, "--strict"], in: directory)
        #expect(status5 == 1 && strict.contains("unseen.csv:2: column 2 (\"color\")"), "\(strict)")
    }

    @Test("an empty cell stops training at its file:line:column and names the flag; text among numbers names the cell")
    func emptyCellIsNamed() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let data = try directory.write(try Self.messyCSV(), to: "messy.csv")
        let (status, _, stderr) = try Self.run(["train", "--data", data, "--id-column", "patient_id"], in: directory)
        #expect(status == 1)
        #expect(
            stderr.hasPrefix("error: ") && stderr.contains(
                "messy.csv:7: column 5 (\"mean_perimeter\"): missing value (empty or NA, N/A, NaN, null, None, ?): "
                    + "give --missing drop, mean or median"), "\(stderr)")
        let typo = try directory.write(
            "a,b,label\n1,2,0\n3,4,1\n5,6x,0\n7,8,1\n", to: "typo.csv")
        let (status1, _, stderr1) = try Self.run(["train", "--data", typo], in: directory)
        #expect(status1 == 1 && stderr1.contains("typo.csv:4: column 2 (\"b\"): \"6x\" is not a number"), "\(stderr1)")
        #expect(stderr1.contains("--categorical b"))
    }

    @Test("predict ignores the label column (new rows with empty or unknown targets); softmax probabilities are named by class")
    func predictIgnoresTheLabelColumn() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let rows = (0..<30).map { "c\($0),\(20 + $0),\(["red", "blue", "green"][$0 % 3]),\(["apple", "banana", "cherry"][$0 % 3])" }
        let train = try directory.write((["id,age,color,fruit"] + rows).joined(separator: "\n") + "\n", to: "train.csv")
        let model = directory.path("m.safetensors")
        let (status, _, stderr) = try Self.run(
            ["train", "--data", train, "--model", "softmax", "--id-column", "id", "--save", model], in: directory)
        try #require(status == 0, "\(stderr)")
        let score = try directory.write("id,age,color,fruit\nz1,21,blue,\nz2,40,red,?\nz3,33,green,durian\n", to: "score.csv")
        let (status1, predictions, stderr1) = try Self.run(["predict", "--model-file", model, "--data", score], in: directory)
        #expect(status1 == 0, "\(stderr1)")
        let lines = predictions.split(separator: "\n")
        #expect(lines.first == "id,line,predicted_class,probability_apple,probability_banana,probability_cherry", "\(predictions)")
        #expect(lines.count == 4 && lines[1].hasPrefix("z1,2,") && lines[3].hasPrefix("z3,4,"), "\(predictions)")
        // --output - is standard output.
        let (status3, dashed, _) = try Self.run(["predict", "--model-file", model, "--data", score, "--output", "-"], in: directory)
        #expect(status3 == 0 && dashed == predictions && !FileManager.default.fileExists(atPath: directory.path("-")))
        // A column named in another case: said so, and no made-up column in the list.
        let capitalised = try directory.write("id,Age,color\nz1,21,blue\n", to: "capitalised.csv")
        let (status4, _, stderr4) = try Self.run(["predict", "--model-file", model, "--data", capitalised], in: directory)
        #expect(status4 == 1 && stderr4.contains("names are case-sensitive: the file has \"Age\"; the file's columns are \"id\", \"Age\", \"color\"\n"), "\(stderr4)")
        // An empty batch (a header, no rows) gets the columns only.
        let empty = try directory.write("id,age,color,fruit\n", to: "empty.csv")
        let (status7, emptyPredictions, stderr7) = try Self.run(["predict", "--model-file", model, "--data", empty], in: directory)
        #expect(status7 == 0 && emptyPredictions == lines[0] + "\n", "\(stderr7)")
        // A model of one feature predicts a file of that one column.
        let line = try directory.write((["x,y"] + (0..<30).map { "\($0),\(2 * $0 + $0 % 3)" }).joined(separator: "\n") + "\n", to: "line.csv")
        let lineModel = directory.path("line.safetensors")
        let (status5, _, stderr5) = try Self.run(["train", "--data", line, "--model", "linear", "--save", lineModel], in: directory)
        try #require(status5 == 0, "\(stderr5)")
        let xs = try directory.write("x\n1\n5\n", to: "xs.csv")
        let (status6, linePredictions, stderr6) = try Self.run(["predict", "--model-file", lineModel, "--data", xs], in: directory)
        #expect(status6 == 0 && linePredictions.hasPrefix("line,prediction\n2,") && linePredictions.split(separator: "\n").count == 3, "\(stderr6)")
        // evaluate still needs real labels.
        let (status2, _, stderr2) = try Self.run(["evaluate", "--model-file", model, "--data", score], in: directory)
        #expect(status2 == 1, "\(stderr2)")
    }

    @Test("an SVM trained on 0/1 labels reports classes 0 and 1 in train and in evaluate")
    func svmReportsTheFileLabels() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let data = ReferenceData.repositoryRoot.appendingPathComponent("data/breast_cancer.csv").path
        let (model, summary) = (directory.path("svm.safetensors"), directory.path("svm.json"))
        let (status, _, stderr) = try Self.run(
            ["train", "--data", data, "--model", "svm", "--standardize", "--save", model, "--summary-json", summary],
            in: directory)
        try #require(status == 0, "\(stderr)")
        let trainMetrics = try #require(try Self.json(summary)["train_metrics"] as? [String: Any])
        #expect((trainMetrics["classification"] as? [String: Any])?["class_names"] as? [String] == ["0", "1"])
        let (status1, report, _) = try Self.run(["evaluate", "--model-file", model, "--data", data, "--json"], in: directory)
        let evaluation = try #require(try JSONSerialization.jsonObject(with: Data(report.utf8)) as? [String: Any])
        #expect(status1 == 0)
        #expect((evaluation["classification"] as? [String: Any])?["class_names"] as? [String] == ["0", "1"])
    }

    @Test("--config repeats a run with --ignore, --categorical, --missing, --id-column and --positive-class, with 2 workers")
    func configAndWorkersReproduceTheSchema() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let data = try directory.write(try Self.messyCSV(), to: "messy.csv")
        let first = directory.path("first.json")
        let (status, _, stderr) = try Self.run(
            [
                "train", "--data", data, "--id-column", "patient_id", "--ignore", "mean_area", "--categorical", "mean_texture",
                "--missing", "median", "--positive-class", "no", "--standardize", "--test-fraction", "0.2", "--seed", "4",
                "--max-rounds", "60", "--summary-json", first, "--log-format", "json",
            ], in: directory)
        try #require(status == 0, "\(stderr)")
        let again = directory.path("again.json")
        let (status1, _, stderr1) = try Self.run(
            ["train", "--config", first, "--workers", "2", "--summary-json", again, "--log-format", "json"], in: directory)
        try #require(status1 == 0, "\(stderr1)")
        let (recorded, repeated) = (try Self.json(first), try Self.json(again))
        #expect(repeated["parameters_sha256"] as? String == recorded["parameters_sha256"] as? String)
        let settings = try #require(recorded["settings"] as? [String: Any])
        #expect(settings["ignore"] as? [String] == ["mean_area"])
        #expect(settings["categorical"] as? [String] == ["mean_texture"])
        #expect(settings["missing"] as? String == "median")
        #expect(settings["id_column"] as? String == "patient_id")
        #expect(settings["positive_class"] as? String == "no")
        #expect(repeated["settings"] as? NSDictionary == settings as NSDictionary)

        // --missing drop leaves out the same rows for any worker count.
        var hashes: [String] = []
        for workers in ["0", "3"] {
            let summary = directory.path("drop-\(workers).json")
            let (status2, _, stderr2) = try Self.run(
                [
                    "train", "--data", data, "--ignore", "patient_id", "--missing", "drop", "--block-rows", "32",
                    "--workers", workers, "--summary-json", summary, "--log-format", "json",
                ], in: directory)
            try #require(status2 == 0, "\(stderr2)")
            #expect(stderr2.contains("27 missing cells (27 rows dropped)"), "\(stderr2)")
            hashes.append(try #require(try Self.json(summary)["parameters_sha256"] as? String))
            #expect(try Self.json(summary)["rows"] as? Int == 569 - 27)
        }
        #expect(hashes[0] == hashes[1])
    }
}
