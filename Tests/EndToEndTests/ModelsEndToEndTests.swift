import Foundation
import Testing
import _TestSupport

/// Every model trained by the real binary, in one process and with worker processes.
@Suite("End to end: every model", .serialized)
struct ModelsEndToEndTests {
    static func dataPath(_ name: String) -> String {
        ReferenceData.repositoryRoot.appendingPathComponent("data/\(name).csv").path
    }

    /// Trains with `arguments` and `--workers workers`, returning the summary JSON.
    static func train(_ arguments: [String], workers: Int, in directory: TemporaryDirectory) throws -> [String: Any] {
        let summaryPath = directory.path("summary-\(UUID().uuidString).json")
        let child = try ChildProcess(
            ["train"] + arguments + ["--workers", String(workers), "--summary-json", summaryPath, "--log-format", "json"],
            directory: directory.url)
        let status = child.wait(timeout: 300)
        try #require(status == 0, "\(arguments) with \(workers) workers: exit \(String(describing: status))\n\(child.stderr)")
        let data = try Data(contentsOf: URL(fileURLWithPath: summaryPath))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    struct OptimumCase: CustomTestStringConvertible, Sendable {
        let id: String
        let arguments: [String]
        let rtol: Double
        var testDescription: String { id }
    }

    static let optimumCases: [OptimumCase] = [
        OptimumCase(id: "breast_cancer/linear_svm/l2=0.01", arguments: ["--model", "svm", "--l2", "0.01"], rtol: 1e-5),
        OptimumCase(id: "diabetes/quantile/tau=0.1", arguments: ["--model", "quantile", "--tau", "0.1", "--l2", "0"], rtol: 1e-5),
        OptimumCase(id: "diabetes/quantile/tau=0.5", arguments: ["--model", "quantile", "--tau", "0.5", "--l2", "0"], rtol: 1e-5),
        OptimumCase(id: "diabetes/quantile/tau=0.9", arguments: ["--model", "quantile", "--tau", "0.9", "--l2", "0"], rtol: 1e-5),
        OptimumCase(id: "iris/softmax/l2=0.01", arguments: ["--model", "softmax", "--l2", "0.01"], rtol: 1e-7),
        OptimumCase(id: "digits/softmax/l2=0.001", arguments: ["--model", "softmax", "--l2", "0.001"], rtol: 1e-7),
    ]

    @Test("svm, quantile and softmax reach the optima of optima.json with 0 and 2 workers, with identical parameters",
        arguments: optimumCases)
    func reachesOptimum(_ testCase: OptimumCase) throws {
        let optima = try ReferenceData.load("optima.json")
        let problem = try #require(optima["problems"]?.array?.first { $0["id"]?.string == testCase.id }, "\(testCase.id)")
        let dataset = try #require(problem["dataset"]?.string)
        let optimum = try #require(problem["optimum"]?["objective"]?.double)
        let rows = try #require(optima["splits"]?[dataset]?["train_rows"]?.ints)
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let rowsPath = try directory.write(rows.map(String.init).joined(separator: ","), to: "rows.txt")
        let arguments = ["--data", Self.dataPath(dataset), "--rows", rowsPath, "--standardize"] + testCase.arguments
        var hashes: [String] = []
        for workers in [0, 2] {
            let summary = try Self.train(arguments, workers: workers, in: directory)
            let objective = try #require(summary["objective"] as? Double)
            let relative = (objective - optimum) / abs(optimum)
            #expect(relative <= testCase.rtol, "\(testCase.id), \(workers) workers: \(objective) vs optimum \(optimum)")
            #expect(relative >= -1e-12, "\(testCase.id): below the certified optimum: \(objective) vs \(optimum)")
            hashes.append(try #require(summary["parameters_sha256"] as? String))
        }
        #expect(hashes[0] == hashes[1], "\(testCase.id): parameters differ between 0 and 2 workers")
    }

    struct DeterminismCase: CustomTestStringConvertible, Sendable {
        let name: String
        let arguments: [String]
        var testDescription: String { name }
    }

    static let determinismCases: [DeterminismCase] = [
        DeterminismCase(
            name: "svm on breast cancer (continuation), labels {0,1}",
            arguments: ["--data", dataPath("breast_cancer"), "--standardize", "--model", "svm"]),
        DeterminismCase(
            name: "softmax on iris with balanced class weights",
            arguments: ["--data", dataPath("iris"), "--standardize", "--model", "softmax", "--class-weight", "balanced",
                "--block-rows", "32"]),
        DeterminismCase(
            name: "focal logistic on fraud, float32",
            arguments: ["--data", dataPath("fraud_synthetic"), "--standardize", "--focal-gamma", "2", "--precision",
                "float32", "--max-rounds", "60"]),
        DeterminismCase(
            name: "multi-quantile on diabetes",
            arguments: ["--data", dataPath("diabetes"), "--standardize", "--model", "quantile", "--tau", "0.1", "--tau",
                "0.5", "--tau", "0.9", "--l2", "0.001", "--max-rounds", "200"]),
        DeterminismCase(
            name: "triplet (semi-hard, hidden layer) on digits, mini-batches",
            arguments: ["--data", dataPath("digits"), "--model", "triplet", "--hidden", "16", "--dimension", "4",
                "--batch-blocks", "3", "--max-rounds", "25", "--seed", "7"]),
        DeterminismCase(
            name: "contrastive pairs on iris, sgd with Nesterov",
            arguments: ["--data", dataPath("iris"), "--standardize", "--model", "triplet", "--pairs", "contrastive",
                "--optimizer", "sgd", "--nesterov", "--block-rows", "16", "--batch-blocks", "2", "--max-rounds", "40"]),
        DeterminismCase(
            name: "VAE with a hidden layer on digits, adamw",
            arguments: ["--data", dataPath("digits"), "--model", "vae", "--hidden", "16", "--dimension", "3",
                "--optimizer", "adamw", "--batch-blocks", "4", "--max-rounds", "25", "--seed", "11"]),
        DeterminismCase(
            name: "VAE with a hidden layer on digits, float32 compute (sgemm)",
            arguments: ["--data", dataPath("digits"), "--model", "vae", "--hidden", "16", "--dimension", "3",
                "--precision", "float32", "--batch-blocks", "4", "--max-rounds", "25", "--seed", "5"]),
        DeterminismCase(
            name: "linear triplet (random) on digits, float32 compute (sgemm, Float tanh)",
            arguments: ["--data", dataPath("digits"), "--model", "triplet", "--pairs", "tripletRandom", "--dimension", "8",
                "--precision", "float32", "--batch-blocks", "3", "--max-rounds", "25", "--seed", "3"]),
    ]

    @Test("every model trains to identical parameters with 0, 1 and 3 workers (mini-batch models too)",
        arguments: determinismCases)
    func identicalAcrossWorkerCounts(_ testCase: DeterminismCase) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var hashes: [String] = []
        for workers in [0, 1, 3] {
            let summary = try Self.train(testCase.arguments, workers: workers, in: directory)
            #expect((summary["objective"] as? Double)?.isFinite == true)
            hashes.append(try #require(summary["parameters_sha256"] as? String))
        }
        #expect(Set(hashes).count == 1, "\(testCase.name): \(hashes)")
    }
}

/// Held-out quality of the models that have no closed-form optimum, on the splits of optima.json.
@Suite("End to end: held-out quality", .serialized)
struct HeldOutQualityEndToEndTests {
    /// Writes the train and test rows of `dataset`'s split in optima.json; returns the two paths.
    static func split(_ dataset: String, in directory: TemporaryDirectory) throws -> (train: String, test: String) {
        let split = try #require(try ReferenceData.load("optima.json")["splits"]?[dataset])
        let train = try #require(split["train_rows"]?.ints)
        let test = try #require(split["test_rows"]?.ints)
        return (
            try directory.write(train.map(String.init).joined(separator: ","), to: "\(dataset)-train.txt"),
            try directory.write(test.map(String.init).joined(separator: ","), to: "\(dataset)-test.txt")
        )
    }

    static func testMetrics(_ summary: [String: Any]) throws -> [String: Any] {
        try #require(summary["test_metrics"] as? [String: Any], "no test_metrics in the summary")
    }

    @Test("fraud: focal loss beats plain BCE on held-out PR-AUC; balanced weights raise positive recall")
    func fraudImbalance() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (train, test) = try Self.split("fraud_synthetic", in: directory)
        let base = [
            "--data", ModelsEndToEndTests.dataPath("fraud_synthetic"), "--rows", train, "--test-rows", test,
            "--standardize", "--l2", "0.001",
        ]
        func positiveClass(_ summary: [String: Any]) throws -> (averagePrecision: Double, recall: Double) {
            let metrics = try Self.testMetrics(summary)
            let ranking = try #require(metrics["ranking"] as? [String: Any])
            let classes = try #require((metrics["classification"] as? [String: Any])?["classes"] as? [[String: Any]])
            return (
                try #require(ranking["average_precision"] as? Double), try #require(classes[1]["recall"] as? Double)
            )
        }
        let plain = try positiveClass(ModelsEndToEndTests.train(base, workers: 0, in: directory))
        let focal = try positiveClass(
            ModelsEndToEndTests.train(base + ["--focal-gamma", "2", "--focal-alpha", "0.25"], workers: 0, in: directory))
        let balanced = try positiveClass(
            ModelsEndToEndTests.train(base + ["--class-weight", "balanced"], workers: 0, in: directory))
        #expect(focal.averagePrecision > plain.averagePrecision, "focal AP \(focal) vs BCE \(plain)")
        #expect(balanced.recall > plain.recall + 0.5, "balanced recall \(balanced) vs BCE \(plain)")
    }

    @Test("triplet embedding on digits: held-out recall@1 far above chance (0.1) and above the untrained network")
    func tripletRecall() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (train, test) = try Self.split("digits", in: directory)
        let arguments = [
            "--data", ModelsEndToEndTests.dataPath("digits"), "--rows", train, "--test-rows", test, "--model", "triplet",
            "--hidden", "32", "--dimension", "8", "--block-rows", "128", "--batch-blocks", "2",
        ]
        func recall(rounds: Int) throws -> Double {
            let summary = try ModelsEndToEndTests.train(arguments + ["--max-rounds", String(rounds)], workers: 0, in: directory)
            let embedding = try #require(try Self.testMetrics(summary)["embedding"] as? [String: Any])
            return try #require(embedding["recall_at_one"] as? Double)
        }
        let untrained = try recall(rounds: 1)
        let trained = try recall(rounds: 1000)
        #expect(trained >= 0.95, "held-out recall@1 \(trained)")
        #expect(trained > untrained + 0.2, "trained \(trained) vs untrained \(untrained)")
    }

    @Test("VAE on digits: held-out ELBO improves (2-point moving average) and beats independent pixel Bernoullis")
    func vaeELBO() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (train, test) = try Self.split("digits", in: directory)
        let summaryPath = directory.path("vae.json")
        let child = try ChildProcess(
            [
                "train", "--data", ModelsEndToEndTests.dataPath("digits"), "--rows", train, "--test-rows", test,
                "--model", "vae", "--hidden", "32", "--dimension", "4", "--block-rows", "128", "--batch-blocks", "2",
                "--max-rounds", "1601",
                "--schedule", "cosine", "--learning-rate", "0.01", "--eval-every", "200", "--log-format", "json",
                "--summary-json", summaryPath,
            ], directory: directory.url)
        try #require(child.wait(timeout: 600) == 0, "\(child.stderr)")
        var curve: [Double] = []
        for line in child.stdout.split(separator: "\n") where line.contains("\"event\":\"eval\"") {
            let event = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let vae = try #require((event["metrics"] as? [String: Any])?["vae"] as? [String: Any])
            curve.append(try #require(vae["mean_negative_elbo"] as? Double))
        }
        try #require(curve.count == 8, "expected 8 held-out evaluations, got \(curve)")
        let smoothed = zip(curve, curve.dropFirst()).map { ($0 + $1) / 2 }
        for (earlier, later) in zip(smoothed, smoothed.dropFirst()) {
            #expect(later <= earlier + 0.01, "held-out −ELBO rose: \(curve)")
        }
        #expect(curve.last! < curve.first! - 0.3, "\(curve)")
        // Baseline: every pixel an independent Bernoulli with its training-set mean, scored with the same
        // binary cross-entropy the VAE's reconstruction term uses.
        let baseline = try Self.independentPixelBaseline(train: train, test: test)
        #expect(curve.last! < baseline - 1, "VAE −ELBO \(curve.last!) vs baseline \(baseline)")
    }

    /// Mean over the test rows of Σ_j BCE(x_j, p_j), with p_j the training mean of pixel j (clipped to
    /// [1e-12, 1 − 1e-12]).
    static func independentPixelBaseline(train: String, test: String) throws -> Double {
        let text = try String(contentsOfFile: ModelsEndToEndTests.dataPath("digits"), encoding: .utf8)
        let rows = text.split(separator: "\n").dropFirst().map { $0.split(separator: ",").dropLast().map { Double($0)! } }
        func indices(_ path: String) throws -> [Int] {
            try String(contentsOfFile: path, encoding: .utf8).split(separator: ",").map { Int($0)! }
        }
        let trainRows = try indices(train).map { rows[$0] }
        let testRows = try indices(test).map { rows[$0] }
        let width = trainRows[0].count
        let means = (0..<width).map { j in
            min(max(trainRows.reduce(0) { $0 + $1[j] } / Double(trainRows.count), 1e-12), 1 - 1e-12)
        }
        var total = 0.0
        for row in testRows {
            for j in 0..<width {
                let x = row[j]
                let p = means[j]
                total -= x * log(p) + (1 - x) * log(1 - p)
            }
        }
        return total / Double(testRows.count)
    }
}
