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

    init(columns: [String], rows: [[Double]]) {
        self.columns = columns
        self.rows = rows
    }

    /// The table without the column `name` (e.g. predict's `line`).
    func without(_ name: String) throws -> NumericTable {
        let index = try #require(columns.firstIndex(of: name), "no column \(name) in \(columns)")
        return NumericTable(
            columns: columns.enumerated().filter { $0.offset != index }.map(\.element),
            rows: rows.map { row in row.enumerated().filter { $0.offset != index }.map(\.element) })
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
            ["predict", "--model-file", model, "--data", Self.dataPath("breast_cancer.csv"), "--output", output], in: directory)
        try #require(status == 0, "\(stderr)")
        let predictions = try NumericTable(path: output)
        #expect(predictions.columns == ["line", "score", "probability", "predicted_label"])
        #expect(try predictions.column("line") == (0..<569).map { Double($0 + 2) })
        let scores = try predictions.column("score")
        #expect(scores.map(\.bitPattern) == expectedScores.map(\.bitPattern))
        let probabilities = try predictions.column("probability")
        for (score, probability) in zip(expectedScores, probabilities) {
            #expect(abs(probability - 1 / (1 + exp(-score))) <= 1e-15)
        }
        // The default threshold: label 1 when the probability is ≥ 0.5.
        #expect(try predictions.column("predicted_label") == probabilities.map { $0 >= 0.5 ? 1 : 0 })

        // The same rows without the label column: no labels needed, same predictions (to stdout).
        let unlabelled = try directory.write(data.csv(columns: features, rows: Array(0..<40)), to: "unlabelled.csv")
        let (status2, stdout, stderr2) = try Self.run(["predict", "--model-file", model, "--data", unlabelled], in: directory)
        try #require(status2 == 0, "\(stderr2)")
        #expect(try NumericTable(text: stdout).column("score") == Array(scores[0..<40]))

        let (status3, evaluation, stderr3) = try Self.run(
            ["evaluate", "--model-file", model, "--data", Self.dataPath("breast_cancer.csv"), "--json"], in: directory)
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
            ["evaluate", "--model-file", model, "--data", Self.dataPath("breast_cancer.csv")], in: directory)
        #expect(status4 == 0)
        #expect(text.contains("precision") && text.contains("ROC-AUC") && text.contains("true\\pred"))
    }

    @Test("a row whose score overflows is reported with its file line, not written as nan")
    func overflowingRowIsNamed() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (model, _) = try Self.trainLogistic(in: directory)
        let lines = try String(contentsOfFile: Self.dataPath("breast_cancer.csv"), encoding: .utf8).split(separator: "\n")
        let header = lines[0]
        let columns = header.split(separator: ",").count
        let huge = (0..<(columns - 1)).map { $0 % 2 == 0 ? "1e308" : "-1e308" }.joined(separator: ",") + ",1"
        let csv = try directory.write([String(header), String(lines[1]), huge].joined(separator: "\n") + "\n", to: "huge.csv")
        for command in ["predict", "evaluate"] {
            let (status, stdout, stderr) = try Self.run([command, "--model-file", model, "--data", csv], in: directory)
            #expect(status == 1, "\(command): \(stdout)")
            #expect(stderr.contains("huge.csv:3"), "\(command): \(stderr)")
            #expect(!stdout.contains("nan"))
        }
    }

    @Test("columns are found by name: reordered columns give the same predictions, an extra one a note, a missing one exit 1")
    func columnsByName() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (model, _) = try Self.trainLogistic(in: directory)
        let data = try NumericTable(path: Self.dataPath("breast_cancer.csv"))
        let original = try directory.write(data.csv(columns: data.columns, rows: [0, 1, 2]), to: "original.csv")
        let reordered = try directory.write(
            data.csv(columns: data.columns.reversed(), rows: [0, 1, 2]), to: "reordered.csv")
        let (status0, expected, _) = try Self.run(["predict", "--model-file", model, "--data", original], in: directory)
        let (status, stdout, stderr) = try Self.run(["predict", "--model-file", model, "--data", reordered], in: directory)
        #expect(status0 == 0 && status == 0, "\(stderr)")
        #expect(stdout == expected && expected.split(separator: "\n").count == 4)
        let withExtra = try directory.write(
            try String(contentsOfFile: original, encoding: .utf8).split(separator: "\n").enumerated()
                .map { "\($0.element),\($0.offset == 0 ? "comment" : "x\($0.offset)")" }.joined(separator: "\n") + "\n",
            to: "extra.csv")
        let (status1, stdout1, stderr1) = try Self.run(["predict", "--model-file", model, "--data", withExtra], in: directory)
        #expect(status1 == 0 && stdout1 == expected)
        #expect(stderr1.contains("columns the model does not use, ignored: comment"), "\(stderr1)")

        let missing = try directory.write(
            data.csv(columns: Array(data.columns.dropFirst()), rows: [0, 1]), to: "missing.csv")
        let (status2, _, stderr2) = try Self.run(["evaluate", "--model-file", model, "--data", missing], in: directory)
        #expect(status2 == 1)
        #expect(stderr2.contains("mean_radius"), "\(stderr2)")

        // evaluate needs the label column; predict does not.
        let unlabelled = try directory.write(
            data.csv(columns: Array(data.columns.dropLast()), rows: [0, 1]), to: "unlabelled.csv")
        let (status3, _, stderr3) = try Self.run(["evaluate", "--model-file", model, "--data", unlabelled], in: directory)
        #expect(status3 == 1)
        #expect(stderr3.contains("label"), "\(stderr3)")
    }

    @Test("predict and evaluate on a .npy file: exit 1 with a message that says they read CSV, no binary bytes")
    func numpyInputToModelCommands() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (model, _) = try Self.trainLogistic(in: directory)
        let numpy = ReferenceData.repositoryRoot.appendingPathComponent("Tests/ShardDataTests/Fixtures/X_f8.npy").path
        for command in ["predict", "evaluate"] {
            let (status, _, stderr) = try Self.run([command, "--model-file", model, "--data", numpy], in: directory)
            #expect(status == 1)
            #expect(stderr.contains("is a NumPy .npy file") && stderr.contains("CSV"), "\(stderr)")
            #expect(!stderr.contains("NUMPY"), "\(stderr)")
        }
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

    // MARK: - Other kinds, from hand-written model files

    /// Reproducible parameters in (−scale, scale): a fractional-part hash of the index.
    static func parameters(_ count: Int, scale: Double, salt: Double) -> [Double] {
        (0..<count).map { k in
            let x = sin(Double(k) * 12.9898 + salt) * 43758.5453
            return (2 * (x - x.rounded(.down)) - 1) * scale
        }
    }

    /// A model file in the ModelFile layout (metadata keys of Sources/ShardArtifacts/ModelFile.swift).
    static func modelFile(
        spec: String, kind: String, features: [String], label: String, encoding: String = "none",
        standardization: (means: [Double], deviations: [Double])? = nil,
        tensors: [(name: String, shape: [Int], values: [Double])]
    ) throws -> RawModelFile {
        let names = String(decoding: try JSONSerialization.data(withJSONObject: features), as: UTF8.self)
        var metadata = [
            "format": "shardtrain-model-v1", "model": kind, "spec": spec, "feature_names": names, "label_column": label,
            "label_encoding": encoding, "standardized": standardization == nil ? "false" : "true",
        ]
        if let standardization {
            metadata["standardization_mean"] = "[" + standardization.means.map { "\($0)" }.joined(separator: ",") + "]"
            metadata["standardization_std"] = "[" + standardization.deviations.map { "\($0)" }.joined(separator: ",") + "]"
        }
        return RawModelFile(metadata: metadata, tensors: tensors)
    }

    /// Row-major `x·W + b` for one row, summed like the models: `Σ_j x_j W[j, o]` from 0, then `+ b_o`.
    static func affine(_ x: [Double], _ weights: [Double], _ bias: [Double]?, outputs: Int) -> [Double] {
        var result = [Double](repeating: 0, count: outputs)
        for j in x.indices {
            for o in 0..<outputs { result[o] += x[j] * weights[j * outputs + o] }
        }
        if let bias { for o in 0..<outputs { result[o] += bias[o] } }
        return result
    }

    @Test("softmax: class probabilities, argmax, accuracy and cross-entropy from a hand-written model file")
    func softmaxModel() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let data = try NumericTable(path: Self.dataPath("iris.csv"))
        let features = Array(data.columns.dropLast())
        let (weights, bias) = (Self.parameters(12, scale: 1.5, salt: 1), Self.parameters(3, scale: 0.5, salt: 2))
        let model = directory.path("softmax.safetensors")
        try Self.modelFile(
            spec: #"{"classCount":3,"featureCount":4,"kind":"softmax","l2":0.01}"#, kind: "softmax", features: features,
            label: "label", tensors: [("W", [4, 3], weights), ("b", [3], bias)]
        ).write(to: model)
        let (status, stdout, stderr) = try Self.run(
            ["predict", "--model-file", model, "--data", Self.dataPath("iris.csv")], in: directory)
        try #require(status == 0, "\(stderr)")
        let withLines = try NumericTable(text: stdout)
        #expect(withLines.columns == ["line", "predicted_class", "probability_0", "probability_1", "probability_2"])
        #expect(try withLines.column("line") == (0..<150).map { Double($0 + 2) })
        let predictions = try withLines.without("line")
        var correct = 0
        var loss = 0.0
        for (row, values) in data.rows.enumerated() {
            let scores = Self.affine(Array(values.dropLast()), weights, bias, outputs: 3)
            let largest = scores.max()!
            let total = scores.reduce(0) { $0 + exp($1 - largest) }
            let best = scores.indices.max { scores[$0] < scores[$1] || (scores[$0] == scores[$1] && $0 > $1) }!
            #expect(predictions.rows[row][0] == Double(best))
            for k in 0..<3 { #expect(abs(predictions.rows[row][1 + k] - exp(scores[k] - largest) / total) <= 1e-14) }
            let label = Int(values.last!)
            if best == label { correct += 1 }
            loss += largest + log(total) - scores[label]
        }
        let (status2, evaluation, stderr2) = try Self.run(
            ["evaluate", "--model-file", model, "--data", Self.dataPath("iris.csv"), "--json"], in: directory)
        try #require(status2 == 0, "\(stderr2)")
        let report = try Self.json(evaluation)
        let classification = try #require(report["classification"] as? [String: Any])
        #expect(classification["accuracy"] as? Double == Double(correct) / 150)
        #expect(report["ranking"] == nil)
        let dataLoss = try #require(report["data_loss"] as? Double)
        #expect(abs(dataLoss - loss / 150) <= 1e-12 * loss / 150)
    }

    @Test("quantile: one column per level, coverage and pinball loss, with a stored standardisation")
    func quantileModel() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let data = try NumericTable(path: Self.dataPath("diabetes.csv"))
        let features = Array(data.columns.dropLast())
        let taus = [0.1, 0.5, 0.9]
        let means = (0..<10).map { 40 + Double($0) * 3.25 }
        let deviations = (0..<10).map { $0 == 1 ? 0 : 5 + Double($0) }
        let (weights, bias) = (Self.parameters(30, scale: 20, salt: 3), [100.0, 150, 200])
        let model = directory.path("quantile.safetensors")
        try Self.modelFile(
            spec: #"{"featureCount":10,"kind":"quantile","l2":0,"taus":[0.1,0.5,0.9]}"#, kind: "quantile",
            features: features, label: "target", standardization: (means, deviations),
            tensors: [("W", [10, 3], weights), ("b", [3], bias)]
        ).write(to: model)
        let (status, stdout, stderr) = try Self.run(
            ["predict", "--model-file", model, "--data", Self.dataPath("diabetes.csv")], in: directory)
        try #require(status == 0, "\(stderr)")
        let predictions = try NumericTable(text: stdout).without("line")
        #expect(predictions.columns == ["q0.1", "q0.5", "q0.9"])
        var covered = [0, 0, 0]
        var pinball = [0.0, 0.0, 0.0]
        for (row, values) in data.rows.enumerated() {
            let z = (0..<10).map { (values[$0] - means[$0]) / (deviations[$0] == 0 ? 1 : deviations[$0]) }
            let expected = Self.affine(z, weights, bias, outputs: 3)
            #expect(predictions.rows[row].map(\.bitPattern) == expected.map(\.bitPattern))
            for q in 0..<3 {
                let residual = values[10] - expected[q]
                if values[10] <= expected[q] { covered[q] += 1 }
                pinball[q] += residual >= 0 ? taus[q] * residual : (taus[q] - 1) * residual
            }
        }
        let (status2, evaluation, stderr2) = try Self.run(
            ["evaluate", "--model-file", model, "--data", Self.dataPath("diabetes.csv"), "--json"], in: directory)
        try #require(status2 == 0, "\(stderr2)")
        let levels = try #require((try Self.json(evaluation)["quantile"] as? [String: Any])?["levels"] as? [[String: Any]])
        #expect(levels.count == 3)
        for q in 0..<3 {
            #expect(levels[q]["level"] as? Double == taus[q])
            #expect(levels[q]["coverage"] as? Double == Double(covered[q]) / 442)
            let loss = try #require(levels[q]["pinball_loss"] as? Double)
            #expect(abs(loss - pinball[q] / 442) <= 1e-12 * pinball[q] / 442)
        }
        // The same model with its levels given as --tau 0.5 --tau 0.9 --tau 0.1: the columns still come in
        // increasing τ, with the same values.
        let permutation = [1, 2, 0]
        let permutedWeights = (0..<10).flatMap { i in permutation.map { weights[i * 3 + $0] } }
        let shuffled = directory.path("quantile-shuffled.safetensors")
        try Self.modelFile(
            spec: #"{"featureCount":10,"kind":"quantile","l2":0,"taus":[0.5,0.9,0.1]}"#, kind: "quantile",
            features: features, label: "target", standardization: (means, deviations),
            tensors: [("W", [10, 3], permutedWeights), ("b", [3], permutation.map { bias[$0] })]
        ).write(to: shuffled)
        let (status3, stdout3, stderr3) = try Self.run(
            ["predict", "--model-file", shuffled, "--data", Self.dataPath("diabetes.csv")], in: directory)
        try #require(status3 == 0, "\(stderr3)")
        let reordered = try NumericTable(text: stdout3).without("line")
        #expect(reordered.columns == ["q0.1", "q0.5", "q0.9"])
        #expect(reordered.rows.map { $0.map(\.bitPattern) } == predictions.rows.map { $0.map(\.bitPattern) })
    }

    @Test("svm: predicted labels follow label_encoding; accuracy matches [score ≥ 0] = label")
    func svmModel() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let data = try NumericTable(path: Self.dataPath("breast_cancer.csv"))
        let features = Array(data.columns.dropLast())
        let weights = Self.parameters(30, scale: 0.05, salt: 4)
        let bias = -0.5
        var expectedCorrect = 0
        for values in data.rows {
            let score = Self.affine(Array(values.dropLast()), weights, [bias], outputs: 1)[0]
            if (score >= 0) == (values.last == 1) { expectedCorrect += 1 }
        }
        for (encoding, negative) in [("plusMinusOne", -1.0), ("zeroOne", 0.0)] {
            let model = directory.path("svm-\(encoding).safetensors")
            try Self.modelFile(
                spec: #"{"featureCount":30,"kind":"svm","l2":0.1}"#, kind: "svm", features: features, label: "label",
                encoding: encoding, tensors: [("w", [30], weights), ("b", [], [bias])]
            ).write(to: model)
            let (status, stdout, stderr) = try Self.run(
                ["predict", "--model-file", model, "--data", Self.dataPath("breast_cancer.csv")], in: directory)
            try #require(status == 0, "\(stderr)")
            let predictions = try NumericTable(text: stdout)
            #expect(predictions.columns == ["line", "score", "predicted_label"])
            #expect(try predictions.column("predicted_label") == (try predictions.column("score")).map { $0 >= 0 ? 1 : negative })
            let (status2, evaluation, _) = try Self.run(
                ["evaluate", "--model-file", model, "--data", Self.dataPath("breast_cancer.csv"), "--json"], in: directory)
            #expect(status2 == 0)
            let classification = try #require(try Self.json(evaluation)["classification"] as? [String: Any])
            #expect(classification["accuracy"] as? Double == Double(expectedCorrect) / 569)
        }
    }

    /// The nearest row (squared distance summed in component order, lowest index on ties).
    static func nearest(_ query: [Double], in rows: [[Double]], excluding: Int? = nil) -> (index: Int, distance: Double) {
        var best = -1
        var bestSquared = Double.infinity
        for (index, row) in rows.enumerated() where index != excluding {
            var squared = 0.0
            for k in row.indices { squared += (query[k] - row[k]) * (query[k] - row[k]) }
            if squared < bestSquared { (best, bestSquared) = (index, squared) }
        }
        return (best, bestSquared.squareRoot())
    }

    @Test("triplet: embeddings tanh(x·W), recall@1, and identify against a gallery")
    func tripletModel() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let data = try NumericTable(path: Self.dataPath("iris.csv"))
        let features = Array(data.columns.dropLast())
        let weights = Self.parameters(8, scale: 0.6, salt: 5)
        let model = directory.path("triplet.safetensors")
        try Self.modelFile(
            spec: #"{"classCount":3,"featureCount":4,"kind":"triplet","l2":0.01,"margin":0.2,"outputDimension":2}"#,
            kind: "triplet", features: features, label: "label", tensors: [("W", [4, 2], weights)]
        ).write(to: model)
        let (status, stdout, stderr) = try Self.run(
            ["predict", "--model-file", model, "--data", Self.dataPath("iris.csv")], in: directory)
        try #require(status == 0, "\(stderr)")
        let embeddings = try NumericTable(text: stdout).without("line")
        #expect(embeddings.columns == ["embedding_0", "embedding_1"])
        for (row, values) in data.rows.enumerated() {
            let expected = Self.affine(Array(values.dropLast()), weights, nil, outputs: 2).map { tanh($0) }
            for k in 0..<2 { #expect(abs(embeddings.rows[row][k] - expected[k]) <= 1e-15) }
        }
        let labels = try data.column("label").map { Int($0) }
        let hits = (0..<150).filter { labels[Self.nearest(embeddings.rows[$0], in: embeddings.rows, excluding: $0).index] == labels[$0] }
        let (status2, evaluation, stderr2) = try Self.run(
            ["evaluate", "--model-file", model, "--data", Self.dataPath("iris.csv"), "--json"], in: directory)
        try #require(status2 == 0, "\(stderr2)")
        let embedding = try #require(try Self.json(evaluation)["embedding"] as? [String: Any])
        #expect(embedding["hits"] as? Int == hits.count)
        #expect(abs(try #require(embedding["recall_at_one"] as? Double) - Double(hits.count) / 150) <= 1e-15)
        #expect((embedding["verification"] as? [String: Any])?["count"] as? Int == 150 * 149 / 2)

        // Gallery: even rows with labels; queries: odd rows without the label column.
        let gallery = try directory.write(data.csv(columns: data.columns, rows: Array(stride(from: 0, to: 150, by: 2))), to: "gallery.csv")
        let oddRows = Array(stride(from: 1, to: 150, by: 2))
        let queries = try directory.write(data.csv(columns: features, rows: oddRows), to: "queries.csv")
        let galleryEmbeddings = stride(from: 0, to: 150, by: 2).map { embeddings.rows[$0] }
        let (status3, identified, stderr3) = try Self.run(
            ["identify", "--model-file", model, "--gallery", gallery, "--query", queries, "--threshold", "1000"], in: directory)
        try #require(status3 == 0, "\(stderr3)")
        // Standard output is the CSV alone; the threshold is a note on standard error.
        let lines = identified.split(separator: "\n").map(String.init)
        #expect(lines.first == "line,identity,distance")
        #expect(stderr3.contains("note: threshold 1000.0 (given)"), "\(stderr3)")
        #expect(lines.count == 1 + oddRows.count)
        for (position, row) in oddRows.enumerated() {
            let fields = lines[1 + position].split(separator: ",").map(String.init)
            let (index, distance) = Self.nearest(embeddings.rows[row], in: galleryEmbeddings)
            #expect(fields[0] == String(position + 2))  // 1-based line of the query file
            #expect(fields[1] == String(labels[2 * index]))
            #expect(abs(try #require(Double(fields[2])) - distance) <= 1e-12)
        }
        // Threshold fitted on the gallery pairs; with threshold 0 only exact duplicates match.
        let (status4, _, fittedNote) = try Self.run(["identify", "--model-file", model, "--gallery", gallery, "--query", queries], in: directory)
        #expect(status4 == 0)
        #expect(fittedNote.contains("note: threshold ") && fittedNote.contains("fitted on the gallery pairs"), "\(fittedNote)")
        let (status5, strict, _) = try Self.run(
            ["identify", "--model-file", model, "--gallery", gallery, "--query", queries, "--threshold", "0"], in: directory)
        #expect(status5 == 0)
        for line in strict.split(separator: "\n").dropFirst(1) {
            let fields = line.split(separator: ",")
            #expect(fields[1] == "unknown" || Double(String(fields[2])) == 0, "\(line)")
        }
        // identify refuses other kinds.
        let (model2, _) = try Self.trainLogistic(in: directory)
        let (status6, _, stderr6) = try Self.run(["identify", "--model-file", model2, "--gallery", gallery, "--query", queries], in: directory)
        #expect(status6 == 1 && stderr6.contains("triplet"), "\(stderr6)")
    }

    @Test("vae: sample and reconstruct write image grids; evaluate reports the ELBO parts")
    func vaeModel() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let data = try NumericTable(path: Self.dataPath("digits.csv"))
        let features = Array(data.columns.dropLast())
        let (encoderWeights, encoderBias) = (Self.parameters(256, scale: 0.3, salt: 6), Self.parameters(4, scale: 0.1, salt: 7))
        let (decoderWeights, decoderBias) = (Self.parameters(128, scale: 2, salt: 8), Self.parameters(64, scale: 1, salt: 9))
        let model = directory.path("vae.safetensors")
        try Self.modelFile(
            spec: #"{"featureCount":64,"kind":"vae","l2":0,"outputDimension":2}"#, kind: "vae", features: features,
            label: "label",
            tensors: [
                ("enc_W", [64, 4], encoderWeights), ("enc_b", [4], encoderBias), ("dec_W", [2, 64], decoderWeights),
                ("dec_b", [64], decoderBias),
            ]
        ).write(to: model)

        // 5 samples: 3 columns × 2 rows of 8·4 + 1 = 33-pixel cells, plus the outer gap: 100 × 67.
        var samples: [[UInt8]] = []
        for (name, seed) in [("a.png", "3"), ("b.png", "3"), ("c.png", "4")] {
            let (status, _, stderr) = try Self.run(
                ["sample", "--model-file", model, "--count", "5", "--seed", seed, "--output", directory.path(name)], in: directory)
            try #require(status == 0, "\(stderr)")
            samples.append([UInt8](try Data(contentsOf: directory.url.appendingPathComponent(name))))
        }
        let png = samples[0]
        #expect(Array(png[0..<8]) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        #expect(Array(png[16..<24]) == [0, 0, 0, 100, 0, 0, 0, 67])
        #expect(png.count == 8 + 25 + 12 + (2 + 5 + 67 * 101 + 4) + 12)
        #expect(samples[0] == samples[1] && samples[0] != samples[2])

        // Reconstructions of the first 4 rows: 2 × 2 cells, 67 × 67, as PGM.
        let pgmPath = directory.path("recon.pgm")
        let (status, _, stderr) = try Self.run(
            ["reconstruct", "--model-file", model, "--data", Self.dataPath("digits.csv"), "--count", "4", "--output", pgmPath],
            in: directory)
        try #require(status == 0, "\(stderr)")
        let pgm = [UInt8](try Data(contentsOf: URL(fileURLWithPath: pgmPath)))
        let header = Array("P5\n67 67\n255\n".utf8)
        try #require(pgm.count == header.count + 67 * 67 && Array(pgm[0..<header.count]) == header)
        for cell in 0..<4 {
            let x = Array(data.rows[cell].dropLast())
            let mean = Array(Self.affine(x, encoderWeights, encoderBias, outputs: 4)[0..<2])
            let logits = Self.affine(mean, decoderWeights, decoderBias, outputs: 64)
            let (left, top) = (1 + (cell % 2) * 33, 1 + (cell / 2) * 33)
            for feature in 0..<64 {
                let expected = (255 / (1 + exp(-logits[feature]))).rounded()
                let pixel = pgm[header.count + (top + 4 * (feature / 8) + 3) * 67 + left + 4 * (feature % 8) + 3]
                #expect(abs(Double(pixel) - expected) <= 1, "cell \(cell) feature \(feature)")
            }
        }

        let (status2, evaluation, stderr2) = try Self.run(
            ["evaluate", "--model-file", model, "--data", Self.dataPath("digits.csv"), "--json"], in: directory)
        try #require(status2 == 0, "\(stderr2)")
        let report = try Self.json(evaluation)
        let vae = try #require(report["vae"] as? [String: Any])
        let elbo = try #require(vae["mean_negative_elbo"] as? Double)
        let reconstruction = try #require(vae["mean_reconstruction"] as? Double)
        let kl = try #require(vae["mean_kl"] as? Double)
        #expect(abs(elbo - (reconstruction + kl)) <= 1e-12 * elbo && kl > 0 && reconstruction > 0)
        let dataLoss = try #require(report["data_loss"] as? Double)
        #expect(abs(dataLoss - elbo) <= 1e-12 * elbo)
        // Images need a square feature count: a 6-feature VAE is refused, and so is --count 0.
        let narrow = directory.path("narrow.safetensors")
        try Self.modelFile(
            spec: #"{"featureCount":6,"kind":"vae","l2":0,"outputDimension":1}"#, kind: "vae",
            features: (0..<6).map { "f\($0)" }, label: "label",
            tensors: [
                ("enc_W", [6, 2], Array(repeating: 0.1, count: 12)), ("enc_b", [2], [0, 0]),
                ("dec_W", [1, 6], Array(repeating: 0.1, count: 6)), ("dec_b", [6], Array(repeating: 0, count: 6)),
            ]
        ).write(to: narrow)
        let (status3, _, stderr3) = try Self.run(
            ["sample", "--model-file", narrow, "--count", "4", "--output", directory.path("x.png")], in: directory)
        #expect(status3 == 1 && stderr3.contains("not a square"), "\(stderr3)")
        let (status4, _, _) = try Self.run(
            ["sample", "--model-file", model, "--count", "0", "--output", directory.path("x.png")], in: directory)
        #expect(status4 != 0)
        #expect(!FileManager.default.fileExists(atPath: directory.path("x.png")))
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
