import Foundation
import Testing
import _TestSupport

/// The same data in another format trains to the same parameters, bit for bit.
@Suite("End to end: data formats", .serialized)
struct DataFormatsEndToEndTests {
    static let iris = ReferenceData.repositoryRoot.appendingPathComponent("data/iris.csv").path

    /// `parameters_sha256` of a softmax run on `data` with `extra` flags (exit 0 required).
    static func parametersHash(_ data: String, _ extra: [String] = [], in directory: TemporaryDirectory) throws -> String {
        let summaryPath = directory.path("summary-\(UUID().uuidString).json")
        let child = try ChildProcess(
            ["train", "--data", data, "--model", "softmax", "--standardize", "--workers", "0", "--summary-json", summaryPath]
                + extra, directory: directory.url)
        let status = child.wait(timeout: 120)
        try #require(status == 0, "\(data) \(extra): exit \(String(describing: status))\n\(child.stderr)")
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: summaryPath)))
        return try #require((summary as? [String: Any])?["parameters_sha256"] as? String)
    }

    @Test("iris as .csv.gz, TSV, semicolons with quotes, without a header and as libsvm: the CSV's parameters_sha256 (and evaluate's report)")
    func sameParametersInEveryFormat() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let text = try String(contentsOfFile: Self.iris, encoding: .utf8)
        let lines = text.split(separator: "\n").map(String.init)
        let body = lines.dropFirst()

        let gzPath = directory.path("iris.csv.gz")
        try gzipFile(Self.iris, to: gzPath)

        let tsv = try directory.write(text.replacingOccurrences(of: ",", with: "\t"), to: "iris.tsv")
        let quoted = try directory.write(
            lines.map { $0.split(separator: ",").map { "\"\($0)\"" }.joined(separator: ";") }.joined(separator: "\r\n"),
            to: "iris-quoted.txt")
        let headerless = try directory.write(body.joined(separator: "\n") + "\n", to: "iris-no-header.csv")
        let libsvm = try directory.write(
            body.map { line in
                let fields = line.split(separator: ",")
                return fields.last! + " " + fields.dropLast().enumerated().map { "\($0.offset + 1):\($0.element)" }.joined(separator: " ")
            }.joined(separator: "\n") + "\n", to: "iris.svm")

        let reference = try Self.parametersHash(Self.iris, in: directory)
        #expect(try Self.parametersHash(gzPath, in: directory) == reference)
        #expect(try Self.parametersHash(tsv, in: directory) == reference)
        #expect(try Self.parametersHash(tsv, ["--delimiter", "tab"], in: directory) == reference)
        #expect(try Self.parametersHash(quoted, in: directory) == reference)
        #expect(try Self.parametersHash(headerless, ["--no-header"], in: directory) == reference)
        #expect(try Self.parametersHash(libsvm, in: directory) == reference)

        // evaluate reads the same formats: the same report for the CSV, its gzip, its TSV copy; libsvm for a
        // model trained on libsvm.
        func report(_ model: String, _ data: String, _ extra: [String] = []) throws -> String {
            let child = try ChildProcess(
                ["evaluate", "--model-file", model, "--data", data, "--json"] + extra, directory: directory.url)
            try #require(child.wait(timeout: 60) == 0, "\(data): \(child.stderr)")
            return child.stdout
        }
        let csvModel = directory.path("csv.safetensors"), svmModel = directory.path("svm.safetensors")
        _ = try Self.parametersHash(Self.iris, ["--save", csvModel], in: directory)
        _ = try Self.parametersHash(libsvm, ["--save", svmModel], in: directory)
        let csvReport = try report(csvModel, Self.iris)
        #expect(csvReport.contains("\"accuracy\""))
        #expect(try report(csvModel, gzPath) == csvReport)
        #expect(try report(csvModel, tsv) == csvReport)
        #expect(try report(svmModel, libsvm) == csvReport)
        let piped = try directory.write(text.replacingOccurrences(of: ",", with: "|"), to: "iris-piped.txt")
        #expect(try report(csvModel, piped, ["--delimiter", "|"]) == csvReport)

        // Without --no-header, the headerless file is refused with the hint, exit 1.
        let refused = try ChildProcess(["train", "--data", headerless, "--model", "softmax"], directory: directory.url)
        #expect(refused.wait(timeout: 60) == 1)
        #expect(refused.stderr.contains("\(headerless):1: the first line is all numbers"), "\(refused.stderr)")
        #expect(refused.stderr.contains("--no-header"))
        let headerlessReport = try ChildProcess(
            ["evaluate", "--model-file", csvModel, "--data", headerless], directory: directory.url)
        #expect(headerlessReport.wait(timeout: 60) == 1)
        #expect(
            headerlessReport.stderr.contains(
                "\(headerless):1: the first line is all numbers: this command needs a header line naming the model's "
                    + "columns (sepal_length_cm, sepal_width_cm, petal_length_cm, …)"), "\(headerlessReport.stderr)")
        // Flags that do not apply to libsvm are refused.
        let misapplied = try ChildProcess(["train", "--data", libsvm, "--no-header"], directory: directory.url)
        #expect(misapplied.wait(timeout: 60) == 64, "\(misapplied.stderr)")
    }
}

/// A run on a file read with non-default format flags is reproduced by `--config` from its summary.
@Suite("End to end: data format flags recorded")
struct DataFormatFlagsRecordedEndToEndTests {
    @Test("a model trained without a header predicts and evaluates headerless files by position, with or without the label column")
    func headerlessPredictAndEvaluate() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let iris = DataFormatsEndToEndTests.iris
        let lines = try String(contentsOfFile: iris, encoding: .utf8).split(separator: "\n").map(String.init)
        let body = Array(lines.dropFirst())
        let headerless = try directory.write(body.joined(separator: "\n") + "\n", to: "iris-no-header.csv")
        let features = try directory.write(
            body.map { $0.split(separator: ",").dropLast().joined(separator: ",") }.joined(separator: "\n") + "\n",
            to: "features-no-header.csv")
        let model = directory.path("model.safetensors")
        let train = try ChildProcess(
            ["train", "--data", headerless, "--no-header", "--model", "softmax", "--standardize", "--save", model],
            directory: directory.url)
        try #require(train.wait(timeout: 120) == 0, "\(train.stderr)")
        func run(_ arguments: [String]) throws -> (Int32?, String, String) {
            let child = try ChildProcess(arguments, directory: directory.url)
            let status = child.wait(timeout: 60)
            return (status, child.stdout, child.stderr)
        }
        let (status1, withLabels, error1) = try run(["predict", "--model-file", model, "--data", headerless, "--no-header"])
        #expect(status1 == 0, "\(error1)")
        let (status2, withoutLabels, error2) = try run(["predict", "--model-file", model, "--data", features, "--no-header"])
        #expect(status2 == 0, "\(error2)")
        // Line 1 is data: 150 rows, the first on line 1; the same predictions with or without the label column.
        let rows = withLabels.split(separator: "\n")
        #expect(rows.count == 151 && rows[1].hasPrefix("1,") && rows[150].hasPrefix("150,"), "\(rows.prefix(3))")
        #expect(withLabels == withoutLabels)
        let (status3, report, error3) = try run(["evaluate", "--model-file", model, "--data", headerless, "--no-header"])
        #expect(status3 == 0 && report.contains("accuracy"), "\(error3)")
        // Without --no-header the hint names it; a file of the features alone (one column here) is fine.
        let (status5, _, error5) = try run(["predict", "--model-file", model, "--data", headerless])
        #expect(status5 == 1 && error5.contains("or --no-header to take the columns by position"), "\(error5)")
        let one = try directory.write("sepal_length_cm\n5.1\n", to: "one.csv")
        let (status6, _, error6) = try run(["predict", "--model-file", model, "--data", one])
        #expect(status6 == 1 && error6.contains("no column named \"f0\" (a numeric feature of the model); the file's columns are \"sepal_length_cm\""), "one column is read as a feature, not a label: \(error6)")
        // A headerless file of another width says what it expected.
        let narrow = try directory.write("1,2\n3,4\n", to: "narrow.csv")
        let (status4, _, error4) = try run(["predict", "--model-file", model, "--data", narrow, "--no-header"])
        #expect(status4 == 1 && error4.contains("without a header the columns are taken by position"), "\(error4)")
        #expect(error4.contains("5 columns (f0, f1, f2, f3, …; the last, the label, may be left out), the file has 2"), "\(error4)")
    }

    @Test("--delimiter, --no-header and --format are recorded, and --config reproduces the run's parameters_sha256")
    func formatFlagsReplay() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let text = try String(contentsOfFile: DataFormatsEndToEndTests.iris, encoding: .utf8)
        let body = text.split(separator: "\n").dropFirst().map { $0.replacingOccurrences(of: ",", with: "|") }
        let data = try directory.write(body.joined(separator: "\n") + "\n", to: "iris.txt")
        let summary = directory.path("summary.json")
        let first = try ChildProcess(
            [
                "train", "--data", data, "--delimiter", "|", "--no-header", "--format", "csv", "--model", "softmax",
                "--summary-json", summary,
            ], directory: directory.url)
        #expect(first.wait(timeout: 120) == 0, "\(first.stderr)")
        let recorded = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: summary))) as? [String: Any])
        let settings = try #require(recorded["settings"] as? [String: Any])
        #expect(settings["delimiter"] as? String == "|")
        #expect(settings["no_header"] as? Bool == true)
        #expect(settings["data_format"] as? String == "csv")
        let again = try ChildProcess(["train", "--config", summary, "--log-format", "json"], directory: directory.url)
        #expect(again.wait(timeout: 120) == 0, "\(again.stderr)")
        let line = try #require(again.stdout.split(separator: "\n").last)
        let replayed = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(replayed["parameters_sha256"] as? String == recorded["parameters_sha256"] as? String)
    }
}
