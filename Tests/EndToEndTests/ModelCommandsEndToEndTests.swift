import Foundation
import Testing
import _TestSupport

/// A safetensors model file read or written by the test itself (byte layout of Sources/ShardArtifacts/
/// Safetensors.swift and ModelFile.swift), so the checks do not trust the code under test.
struct RawModelFile {
    var metadata: [String: String]
    /// In file order.
    var tensors: [(name: String, shape: [Int], values: [Double])]

    var parameters: [Double] { tensors.flatMap(\.values) }

    static func read(_ path: String) throws -> RawModelFile {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let headerLength = (0..<8).reduce(0) { $0 | Int(bytes[$1]) << (8 * $1) }
        let header = try #require(
            try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + headerLength)])) as? [String: Any])
        var entries: [(begin: Int, name: String, shape: [Int], values: [Double])] = []
        for (name, value) in header where name != "__metadata__" {
            let entry = try #require(value as? [String: Any])
            #expect(entry["dtype"] as? String == "F64")
            let shape = try #require(entry["shape"] as? [Int])
            let offsets = try #require(entry["data_offsets"] as? [Int])
            let start = 8 + headerLength + offsets[0]
            let values = (0..<((offsets[1] - offsets[0]) / 8)).map { k in
                Double(bitPattern: (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[start + 8 * k + $1]) << (8 * UInt64($1)) })
            }
            entries.append((offsets[0], name, shape, values))
        }
        let metadata = try #require(header["__metadata__"] as? [String: String])
        return RawModelFile(
            metadata: metadata, tensors: entries.sorted { $0.begin < $1.begin }.map { ($0.name, $0.shape, $0.values) })
    }

    func write(to path: String) throws {
        var header: [String: Any] = ["__metadata__": metadata]
        var offset = 0
        for tensor in tensors {
            header[tensor.name] = ["dtype": "F64", "shape": tensor.shape, "data_offsets": [offset, offset + 8 * tensor.values.count]]
            offset += 8 * tensor.values.count
        }
        var json = [UInt8](try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
        while json.count % 8 != 0 { json.append(0x20) }
        var bytes = (0..<8).map { UInt8(truncatingIfNeeded: json.count >> (8 * $0)) } + json
        for value in parameters { bytes += (0..<8).map { UInt8(truncatingIfNeeded: value.bitPattern >> (8 * UInt64($0))) } }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// A JSON array of numbers in metadata, parsed with `Double(String)` (exact for shortest round-trip text).
    func numbers(_ key: String) throws -> [Double] {
        let text = try #require(metadata[key])
        return try text.dropFirst().dropLast().split(separator: ",").map { try #require(Double(String($0))) }
    }
}

/// A CSV file as numbers: header names and rows.
struct NumericTable {
    let columns: [String]
    let rows: [[Double]]

    init(path: String) throws {
        try self.init(text: try String(contentsOfFile: path, encoding: .utf8))
    }

    init(text: String) throws {
        let lines = text.split(separator: "\n")
        columns = try #require(lines.first).split(separator: ",").map(String.init)
        rows = try lines.dropFirst().map { line in try line.split(separator: ",").map { try #require(Double(String($0))) } }
    }

    func column(_ name: String) throws -> [Double] {
        let index = try #require(columns.firstIndex(of: name), "no column \(name) in \(columns)")
        return rows.map { $0[index] }
    }

    /// The CSV text of some columns of some rows.
    func csv(columns names: [String], rows selected: [Int]) -> String {
        let indices = names.map { columns.firstIndex(of: $0)! }
        return ([names.joined(separator: ",")] + selected.map { row in
            indices.map { Self.text(rows[row][$0]) }.joined(separator: ",")
        }).joined(separator: "\n") + "\n"
    }

    static func text(_ value: Double) -> String { value.rounded() == value ? String(Int(value)) : "\(value)" }
}

/// The `predict`, `evaluate`, `identify`, `sample` and `reconstruct` commands of the built binary.
@Suite("End to end: applying saved models", .serialized)
struct ModelCommandsEndToEndTests {
    static func dataPath(_ name: String) -> String {
        ReferenceData.repositoryRoot.appendingPathComponent("data/\(name)").path
    }

    /// Runs the binary and returns (status, stdout, stderr); fails the test on a timeout.
    static func run(_ arguments: [String], in directory: TemporaryDirectory) throws -> (Int32, String, String) {
        let child = try ChildProcess(arguments, directory: directory.url)
        let status = try #require(child.wait(timeout: 120), "timed out: \(arguments)")
        return (status, child.stdout, child.stderr)
    }

    static func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    /// Trains logistic regression on breast_cancer.csv with --standardize --save; returns model and summary paths.
    static func trainLogistic(in directory: TemporaryDirectory) throws -> (model: String, summary: String) {
        let model = directory.path("model.safetensors")
        let summary = directory.path("summary.json")
        let (status, _, stderr) = try run(
            [
                "train", "--data", dataPath("breast_cancer.csv"), "--standardize", "--l2", "0.01", "--save", model,
                "--summary-json", summary,
            ], in: directory)
        try #require(status == 0, "\(stderr)")
        return (model, summary)
    }

    /// `Σ_j z_j w_j + b` with `z_j = (x_j − mean_j) / (std_j or 1)`, in the model's summation order.
    static func logisticScores(file: RawModelFile, table: NumericTable, features: [String]) throws -> [Double] {
        let means = try file.numbers("standardization_mean")
        let deviations = try file.numbers("standardization_std")
        let weights = file.tensors[0].values
        let bias = file.tensors[1].values[0]
        let columns = try features.map { try table.column($0) }
        return (0..<table.rows.count).map { row in
            var score = 0.0
            for j in features.indices {
                let z = (columns[j][row] - means[j]) / (deviations[j] == 0 ? 1 : deviations[j])
                score += z * weights[j]
            }
            return score + bias
        }
    }

    @Test("logistic: predict and evaluate reproduce the saved model's scores and the training accuracy")
    func logisticPredictAndEvaluate() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (model, summaryPath) = try Self.trainLogistic(in: directory)
        let file = try RawModelFile.read(model)
        #expect(file.metadata["format"] == "shardtrain-model-v1" && file.metadata["model"] == "logistic")
        let data = try NumericTable(path: Self.dataPath("breast_cancer.csv"))
        let features = Array(data.columns.dropLast())
        let expectedScores = try Self.logisticScores(file: file, table: data, features: features)

        let output = directory.path("predictions.csv")
        let (status, _, stderr) = try Self.run(
            ["predict", "--model", model, "--data", Self.dataPath("breast_cancer.csv"), "--output", output], in: directory)
        try #require(status == 0, "\(stderr)")
        let predictions = try NumericTable(path: output)
        #expect(predictions.columns == ["score", "probability", "predicted_label"])
        let scores = try predictions.column("score")
        #expect(scores.map(\.bitPattern) == expectedScores.map(\.bitPattern))
        let probabilities = try predictions.column("probability")
        for (score, probability) in zip(expectedScores, probabilities) {
            #expect(abs(probability - 1 / (1 + exp(-score))) <= 1e-15)
        }
        #expect(try predictions.column("predicted_label") == expectedScores.map { $0 > 0 ? 1 : 0 })

        // The same rows without the label column: no labels needed, same predictions (to stdout).
        let unlabelled = try directory.write(data.csv(columns: features, rows: Array(0..<40)), to: "unlabelled.csv")
        let (status2, stdout, stderr2) = try Self.run(["predict", "--model", model, "--data", unlabelled], in: directory)
        try #require(status2 == 0, "\(stderr2)")
        #expect(try NumericTable(text: stdout).column("score") == Array(scores[0..<40]))

        let (status3, evaluation, stderr3) = try Self.run(
            ["evaluate", "--model", model, "--data", Self.dataPath("breast_cancer.csv"), "--json"], in: directory)
        try #require(status3 == 0, "\(stderr3)")
        let report = try Self.json(evaluation)
        let summary = try Self.json(try String(contentsOfFile: summaryPath, encoding: .utf8))
        let classification = try #require(report["classification"] as? [String: Any])
        #expect(classification["accuracy"] as? Double == summary["train_accuracy"] as? Double)
        #expect(report["rows"] as? Int == 569)
        let dataLoss = try #require(report["data_loss"] as? Double)
        let trainedLoss = try #require(summary["data_loss"] as? Double)
        #expect(abs(dataLoss - trainedLoss) <= 1e-12 * trainedLoss)
        let ranking = try #require(report["ranking"] as? [String: Any])
        let auc = try #require(ranking["roc_auc"] as? Double)
        #expect(auc > 0.99 && auc <= 1)
        #expect(ranking["positives"] as? Int == 357 && ranking["negatives"] as? Int == 212)
        // The confusion matrix agrees with the recomputed scores.
        let labels = try data.column("label")
        let counts = try #require((classification["confusion_matrix"] as? [String: Any])?["counts"] as? [[Int]])
        let truePositives = zip(labels, expectedScores).filter { $0.0 == 1 && $0.1 > 0 }.count
        #expect(counts[1][1] == truePositives)
        #expect(counts.joined().reduce(0, +) == 569)

        let (status4, text, _) = try Self.run(
            ["evaluate", "--model", model, "--data", Self.dataPath("breast_cancer.csv")], in: directory)
        #expect(status4 == 0)
        #expect(text.contains("precision") && text.contains("ROC-AUC") && text.contains("true\\pred"))
    }

    @Test("columns that do not match the model's features: exit 1 and the first mismatching column named")
    func columnMismatch() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (model, _) = try Self.trainLogistic(in: directory)
        let data = try NumericTable(path: Self.dataPath("breast_cancer.csv"))
        var swapped = data.columns
        swapped.swapAt(2, 3)
        let reordered = try directory.write(data.csv(columns: swapped, rows: [0, 1, 2]), to: "reordered.csv")
        let (status, _, stderr) = try Self.run(["predict", "--model", model, "--data", reordered], in: directory)
        #expect(status == 1)
        #expect(stderr.contains("mean_area") && stderr.contains("mean_perimeter"), "\(stderr)")
        #expect(stderr.contains("feature 3"), "\(stderr)")

        let missing = try directory.write(
            data.csv(columns: Array(data.columns.dropFirst()), rows: [0, 1]), to: "missing.csv")
        let (status2, _, stderr2) = try Self.run(["evaluate", "--model", model, "--data", missing], in: directory)
        #expect(status2 == 1)
        #expect(stderr2.contains("mean_radius"), "\(stderr2)")

        // evaluate needs the label column; predict does not.
        let unlabelled = try directory.write(
            data.csv(columns: Array(data.columns.dropLast()), rows: [0, 1]), to: "unlabelled.csv")
        let (status3, _, stderr3) = try Self.run(["evaluate", "--model", model, "--data", unlabelled], in: directory)
        #expect(status3 == 1)
        #expect(stderr3.contains("label"), "\(stderr3)")
    }

    @Test("the saved safetensors file opens in Python with numpy only", .enabled(if: Self.pythonIsAvailable))
    func safetensorsInNumpy() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (model, summaryPath) = try Self.trainLogistic(in: directory)
        let script = """
            import json, struct, sys
            import numpy as np
            raw = open(sys.argv[1], 'rb').read()
            (n,) = struct.unpack('<Q', raw[:8])
            header = json.loads(raw[8:8 + n])
            meta = header.pop('__metadata__')
            data = raw[8 + n:]
            tensors = {k: np.frombuffer(data[v['data_offsets'][0]:v['data_offsets'][1]], dtype='<f8').reshape(v['shape'])
                       for k, v in header.items() if v['dtype'] == 'F64'}
            flat = np.concatenate([tensors['w'].ravel(), tensors['b'].ravel()])
            expected = np.array(json.load(open(sys.argv[2]))['parameters'], dtype='<f8')
            spec = json.loads(meta['spec'])
            assert spec['kind'] == 'logistic' and spec['featureCount'] == 30, spec
            assert len(json.loads(meta['feature_names'])) == 30
            assert tensors['w'].shape == (30,) and tensors['b'].shape == ()
            assert flat.tobytes() == expected.tobytes(), (flat, expected)
            print('ok')
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, model, summaryPath]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(output == "ok\n")
    }

    static let pythonIsAvailable: Bool = {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import json"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }()
}
