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
