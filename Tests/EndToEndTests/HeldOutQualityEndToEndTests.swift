import Foundation
import Testing
import _TestSupport

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
