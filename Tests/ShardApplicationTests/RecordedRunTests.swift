import Foundation
import ShardArtifacts
@testable import ShardApplication
import ShardData
import ShardEngine
import ShardModels
import Testing
import _TestSupport

/// A summary's settings read back (`train --config`), their command-line form, and the round history.
@Suite struct RecordedRunTests {
    static let iris = ReferenceData.repositoryRoot.appendingPathComponent("data/iris.csv").path
    static let diabetes = ReferenceData.repositoryRoot.appendingPathComponent("data/diabetes.csv").path

    static func run(
        _ kind: ModelKind, data: String = iris, edit: (inout ModelChoices, inout SolverChoices) -> Void = { _, _ in }
    ) throws -> PreparedRun {
        var model = ModelChoices()
        model.kind = kind
        var solver = SolverChoices()
        solver.maxRounds = 12
        edit(&model, &solver)
        return try PreparedRun(
            TrainingRequest(
                data: DataConfiguration(path: data, testFraction: 0.25, seed: 9, standardize: true, blockRows: 32),
                model: model, solver: solver, threads: 1))
    }

    static func summary(of run: PreparedRun, history: TrainingHistory? = nil) throws -> SummaryDocument {
        let executor = try LocalExecutor(
            model: run.model, blocks: run.data.blocks, threads: 1, seed: run.request.seed, schedule: run.options.batch)
        var document = try run.train(executor: executor, workers: 0, observer: history, shouldStop: { false }).document
        document.inputSHA256 = try InputDigests(run.request.data).summaryKeys
        return document
    }

    @Test func aSummaryGivesBackTheSettingsAndDigestsItRecorded() throws {
        let run = try Self.run(.softmax) { model, solver in
            model.classWeight = .balanced
            solver.optimizer = .sgd
            solver.momentum = 0.5
            solver.nesterov = true
            solver.schedule = .cosine
            solver.warmup = 3
            solver.batchBlocks = 2
            solver.learningRate = 0.05
        }
        let document = try Self.summary(of: run)
        let recorded = try RecordedRun(json: try document.jsonData(pretty: true), path: "summary.json")
        #expect(recorded.settings == RunSettings(run))
        #expect(recorded.inputDigests == (try InputDigests(run.request.data)))
        #expect(recorded.inputDigests.sha256["--data"]?.count == 64)

        // The settings object alone (as a user may keep it) reads the same, without digests.
        let whole = try #require(try JSONSerialization.jsonObject(with: document.jsonData(pretty: false)) as? [String: Any])
        let settingsOnly = try JSONSerialization.data(withJSONObject: try #require(whole["settings"]))
        let bare = try RecordedRun(json: settingsOnly, path: "settings.json")
        #expect(bare.settings == recorded.settings)
        #expect(bare.inputDigests.sha256.isEmpty)
    }

    @Test func theCommandLineFormStatesEverySettingThatAffectsTheBits() throws {
        let run = try Self.run(.quantile, data: Self.diabetes) { model, _ in
            model.taus = [0.1, 0.9]
            model.l2 = 0.001
        }
        let tokens = RecordedRun(settings: RunSettings(run)).arguments(besides: [])
        let expected = [
            "--data", Self.diabetes, "--label-column", "target", "--test-fraction", "0.25", "--seed", "9", "--standardize",
            "--precision", "float64", "--block-rows", "32", "--model", "quantile", "--l2", "0.001",
            "--tau", "0.1", "--tau", "0.9", "--optimizer", "lbfgs", "--lbfgs-memory", "10",
        ]
        #expect(Array(tokens.prefix(expected.count)) == expected)
        // The continuation: μ₀ resolved from the data, the last stage relative to it (the flag's meaning).
        let start = try #require(run.options.continuation?.initial)
        #expect(Array(tokens.dropFirst(expected.count)) == [
            "--smoothing-start", "\(start)", "--smoothing-final", "1e-08", "--max-rounds", "12",
            "--gradient-tolerance", "1e-08", "--objective-tolerance", "1e-13",
        ])
    }

    @Test func theSchemaOptionsAreRecordedReadBackAndStatedAsFlags() throws {
        var data = DataConfiguration(path: Self.iris, seed: 9, blockRows: 32)
        data.schema = SchemaOptions(ignored: ["sepal_width_cm"], categorical: ["petal_width_cm"], missing: .median)
        var model = ModelChoices()
        model.kind = .softmax
        var solver = SolverChoices()
        solver.maxRounds = 5
        let run = try PreparedRun(TrainingRequest(data: data, model: model, solver: solver, threads: 1))
        let settings = RunSettings(run)
        #expect(settings.ignore == ["sepal_width_cm"] && settings.categorical == ["petal_width_cm"])
        #expect(settings.missing == "median" && settings.idColumn == nil && settings.positiveClass == nil)
        let document = try Self.summary(of: run)
        let recorded = try RecordedRun(json: try document.jsonData(pretty: true), path: "summary.json")
        #expect(recorded.settings == settings)
        let tokens = recorded.arguments(besides: [])
        let start = try #require(tokens.firstIndex(of: "--ignore"))
        #expect(Array(tokens[start..<start + 6]) == ["--ignore", "sepal_width_cm", "--categorical", "petal_width_cm", "--missing", "median"])
        // A summary written before these options reads with none of them.
        var old = try #require(try JSONSerialization.jsonObject(with: document.jsonData(pretty: false)) as? [String: Any])
        var oldSettings = try #require(old["settings"] as? [String: Any])
        for key in ["ignore", "categorical", "missing"] { oldSettings[key] = nil }
        old["settings"] = oldSettings
        let before = try RecordedRun(json: try JSONSerialization.data(withJSONObject: old), path: "old.json")
        #expect(before.settings.ignore == nil && before.settings.missing == nil)
        #expect(!before.arguments(besides: []).contains("--missing"))
    }

    @Test func theCommandLineWinsAndAnotherModelDropsTheRecordedModelAndSolverSettings() throws {
        let recorded = RecordedRun(settings: RunSettings(try Self.run(.triplet) { model, _ in
            model.hidden = 8
            model.dimension = 3
        }))
        func flags(_ tokens: [String]) -> [String] { tokens.filter { $0.hasPrefix("--") } }
        let all = flags(recorded.arguments(besides: []))
        #expect(all.contains("--hidden") && all.contains("--optimizer") && all.contains("--learning-rate"))

        let seedGiven = recorded.arguments(besides: ["--seed", "4", "--no-standardize"])
        #expect(!seedGiven.contains("--seed") && !seedGiven.contains("--standardize"))
        #expect(seedGiven.contains("--hidden"))

        let otherModel = flags(recorded.arguments(besides: ["--model=vae"]))
        for dropped in ["--model", "--classes", "--hidden", "--dimension", "--margin", "--pairs", "--optimizer",
            "--learning-rate", "--schedule", "--batch-blocks"]
        {
            #expect(!otherModel.contains(dropped), "\(dropped)")
        }
        #expect(otherModel.contains("--seed") && otherModel.contains("--data") && otherModel.contains("--max-rounds"))

        let otherOptimizer = flags(recorded.arguments(besides: ["--optimizer", "sgd"]))
        #expect(otherOptimizer.contains("--hidden") && !otherOptimizer.contains("--learning-rate"))

        let numpy = recorded.arguments(besides: ["--data", "x.npy"])
        #expect(!numpy.contains("--label-column") && !numpy.contains(Self.iris))
        let heldOut = recorded.arguments(besides: ["--test-rows", "held.txt"])
        #expect(!heldOut.contains("--test-fraction"))
    }

    @Test func aFileWithoutSettingsOrWithABrokenFieldIsRefusedByName() throws {
        #expect(throws: ArtifactError.format(
            path: "s.json",
            reason: "no settings: expected a summary written by --summary-json (with \"settings\") or its settings object"
        )) {
            try RecordedRun(json: Data(#"{"model": "logistic"}"#.utf8), path: "s.json")
        }
        let run = try Self.run(.logistic, data: ReferenceData.repositoryRoot.appendingPathComponent("data/breast_cancer.csv").path)
        let whole = try #require(
            try JSONSerialization.jsonObject(with: JSONStyle.encoder(snakeCaseKeys: true).encode(RunSettings(run))) as? [String: Any])
        var broken = whole
        broken.removeValue(forKey: "max_rounds")
        #expect(throws: ArtifactError.format(path: "s.json", reason: "max_rounds is missing")) {
            try RecordedRun(json: try JSONSerialization.data(withJSONObject: broken), path: "s.json")
        }
        var nested = ["settings": whole]
        nested["settings"]?["max_rounds"] = "many"
        let wrongType = try JSONSerialization.data(withJSONObject: nested)
        let error = #expect(throws: ArtifactError.self) { try RecordedRun(json: wrongType, path: "s.json") }
        #expect(error?.description.hasPrefix("s.json: not a valid file: settings.max_rounds: ") == true, "\(String(describing: error))")
        #expect(throws: ArtifactError.self) { try RecordedRun(json: Data("[1, 2".utf8), path: "s.json") }
    }

    @Test func theHistoryHasOneRowPerRoundWithItsColumns() throws {
        let run = try Self.run(.softmax) { _, solver in
            solver.optimizer = .adam
            solver.schedule = .step
            solver.evalEvery = 5
        }
        let history = TrainingHistory(optimizer: run.options.optimizer)
        let evaluator = HeldOutEvaluator(run: run) { round, split, report in
            if case .success(let report) = report { history.recordEvaluation(report, round: round, split: split) }
        }
        let executor = try LocalExecutor(
            model: run.model, blocks: run.data.blocks, threads: 1, seed: run.request.seed, schedule: run.options.batch)
        _ = try run.train(
            executor: executor, workers: 0, observer: FanOut(observers: [history, evaluator]), shouldStop: { false })
        let lines = String(decoding: history.csv(), as: UTF8.self).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        #expect(lines[0] == [
            "round", "objective", "gradient_norm", "learning_rate", "smoothing", "batch_step", "rows_per_second",
            "round_seconds", "eval_split", "eval_data_loss", "eval_accuracy", "compute_seconds_w0",
        ])
        #expect(lines.count == 1 + 12)
        #expect(lines.dropFirst().map { $0[0] } == (1...12).map(String.init))
        // Step decay ×0.1 every ⌊12/3⌋ = 4 steps from the default peak 0.01.
        #expect(lines[1][3] == "0.01" && lines[5][3] == "\(0.01 * 0.1)")
        #expect(lines[5][8] == "test" && lines[10][8] == "test" && lines[1][8] == "")
        #expect(Double(lines[5][9])?.isFinite == true && Double(lines[5][10]).map { (0...1).contains($0) } == true)
        #expect(lines.dropFirst().allSatisfy { $0.count == lines[0].count && Double($0[11])! >= 0 })
    }

    private struct FanOut: TrainingObserver {
        let observers: [any TrainingObserver]
        func roundFinished(_ report: RoundReport) { for observer in observers { observer.roundFinished(report) } }
        func checkpoint(round: Int, parameters: [Double]) {
            for observer in observers { observer.checkpoint(round: round, parameters: parameters) }
        }
    }
}
