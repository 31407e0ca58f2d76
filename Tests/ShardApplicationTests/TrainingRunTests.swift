import Foundation
@testable import ShardApplication
import ShardArtifacts
import ShardData
import ShardEngine
import ShardModels
import Testing
import _TestSupport

/// A whole run through the application library, in this process: prepare, train, report, save.
@Suite struct TrainingRunTests {
    static func request(_ kind: ModelKind, data: String, edit: (inout ModelChoices, inout SolverChoices) -> Void = { _, _ in })
        -> TrainingRequest
    {
        var model = ModelChoices()
        model.kind = kind
        var solver = SolverChoices()
        edit(&model, &solver)
        let path = ReferenceData.repositoryRoot.appendingPathComponent("data/\(data).csv").path
        return TrainingRequest(
            data: DataConfiguration(path: path, testFraction: 0.2, seed: 3, standardize: true), model: model, solver: solver)
    }

    @Test func aSoftmaxRunReportsItsHeldOutRowsAndSavesBothFiles() throws {
        let run = try PreparedRun(Self.request(.softmax, data: "iris"))
        #expect(run.data.dataset.rowCount == 120 && run.data.test?.rowCount == 30)
        #expect(run.model.spec == ModelSpec(featureCount: 4, l2: 0.01, .softmax(classCount: 3)))
        let executor = try LocalExecutor(model: run.model, blocks: run.data.blocks, threads: 1)
        let outcome = try run.train(executor: executor, workers: 0, observer: nil, shouldStop: { false })
        #expect(outcome.summary.converged)
        #expect(outcome.summary.rows == 120 && outcome.summary.model == "softmax")
        let accuracy = try #require(outcome.document.test?.classification?.accuracy)
        #expect(accuracy >= 0.9)
        // The training report's data loss is the final objective's (no second pass for a deterministic loss).
        #expect(outcome.document.train?.dataLoss == outcome.result.objective.dataLoss)
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try outcome.save(
            model: directory.path("m.safetensors"), summary: directory.path("s.json"), rescueFolders: [directory.path("")])
        let loaded = try LoadedModel.load(path: directory.path("m.safetensors"))
        #expect(loaded.file.parameters == outcome.result.parameters)
        let summary = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: directory.url.appendingPathComponent("s.json")))
                as? [String: Any])
        #expect(summary["parameters_sha256"] as? String == outcome.summary.parametersSHA256)
        // The settings the run used, defaults resolved.
        let settings = try #require(summary["settings"] as? [String: Any])
        #expect(settings["optimizer"] as? String == "lbfgs" && settings["lbfgs_memory"] as? Int == 10)
        #expect(settings["test_fraction"] as? Double == 0.2 && settings["seed"] as? Int == 3)
        #expect(settings["standardize"] as? Bool == true && settings["block_rows"] as? Int == run.data.blockRows)
        let model = try #require(settings["model"] as? [String: Any])
        #expect(model["kind"] as? String == "softmax" && model["class_count"] as? Int == 3)
    }

    /// A save that fails at the end (here: the model's folder is gone) keeps the whole result: model and summary
    /// are written together to a new folder in the rescue folder, the error names it, and the summary beside the
    /// rescued model is that model's.
    @Test("numeric softmax labels with gaps: a warning names --categorical LABEL, which makes them class names")
    func labelGapsSuggestReadingLabelsAsNames() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let iris = try String(
            contentsOf: ReferenceData.repositoryRoot.appendingPathComponent("data/iris.csv"), encoding: .utf8)
        // Labels 0, 1, 2 written as 3, 5, 7.
        var lines = iris.split(separator: "\n").map(String.init)
        let header = lines.removeFirst()
        let shifted = lines.map { line -> String in
            var fields = line.split(separator: ",").map(String.init)
            fields[fields.count - 1] = String(Int(Double(fields[fields.count - 1])!) * 2 + 3)
            return fields.joined(separator: ",")
        }
        let path = try directory.write(([header] + shifted).joined(separator: "\n") + "\n", to: "shifted.csv")
        var request = Self.request(.softmax, data: "iris")
        request.data.path = path
        let indices = try PreparedRun(request)
        #expect(indices.data.classCount == 8)
        #expect(indices.warnings == [
            "classes 0, 1, 2, 4, 6 have no training rows: labels are class indices 0…7 (the largest label + 1); "
                + "relabel from 0, give --classes, or read them as class names with --categorical label",
        ])
        request.data.schema.categorical = ["label"]
        let names = try PreparedRun(request)
        #expect(names.data.classCount == 3 && names.data.classNames == ["3", "5", "7"])
        #expect(names.warnings.isEmpty)
    }

    @Test func aFailedSaveKeepsTheResultInTheRescueFolderAndSaysWhere() throws {
        let run = try PreparedRun(Self.request(.logistic, data: "breast_cancer"))
        let executor = try LocalExecutor(model: run.model, blocks: run.data.blocks, threads: 1)
        let outcome = try run.train(executor: executor, workers: 0, observer: nil, shouldStop: { false })
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let rescue = directory.path("rescue")
        try FileManager.default.createDirectory(atPath: rescue, withIntermediateDirectories: false)
        let modelPath = directory.path("gone/m.safetensors"), summaryPath = directory.path("s.json")
        let error = try #require(throws: OutputSetError.self) {
            try outcome.save(model: modelPath, summary: summaryPath, rescueFolders: [directory.path("missing"), rescue])
        }
        #expect(error.placed.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: summaryPath))
        guard case .saved(let copies) = error.rescue else {
            Issue.record("not rescued: \(error)")
            return
        }
        #expect(copies.map(\.destination) == [modelPath, summaryPath])
        #expect(copies.allSatisfy { $0.copy.hasPrefix(rescue + "/shardtrain-unsaved-") })
        #expect(copies.allSatisfy { error.description.contains($0.copy) })
        let loaded = try LoadedModel.load(path: copies[0].copy)
        #expect(loaded.file.parameters == outcome.result.parameters)
        let summary = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: copies[1].copy))) as? [String: Any])
        #expect(summary["parameters_sha256"] as? String == outcome.summary.parametersSHA256)
    }

    /// Gradient descent with a huge step leaves the finite initial point as its best point: that is not a trained
    /// model, so the run is an error and nothing can be saved.
    @Test func aDivergingRunIsAnErrorAndNotAResult() throws {
        let run = try PreparedRun(Self.request(.logistic, data: "breast_cancer") { _, solver in
            solver.optimizer = .gd
            solver.learningRate = 1e300
            solver.maxRounds = 5
        })
        let executor = try LocalExecutor(model: run.model, blocks: run.data.blocks, threads: 1)
        #expect {
            _ = try run.train(executor: executor, workers: 0, observer: nil, shouldStop: { false })
        } throws: { error in
            guard case .diverged(_, _, let reason) = error as? TrainingRunError else { return false }
            return reason.contains("the objective is not finite after step")
        }
    }

    @Test func aFloat32LineSearchStopSaysWhy() throws {
        var request = Self.request(.softmax, data: "iris")
        request.data.precision = .float32
        let run = try PreparedRun(request)
        func result(_ reason: String) -> TrainingResult {
            TrainingResult(
                parameters: [], objective: Objective(value: 0, dataLoss: 0, l2Term: 0, gradient: []), rounds: 1,
                converged: false, stopReason: reason,
                stop: reason.hasPrefix("line search failed") ? .lineSearchFailed(iteration: 3, detail: "x") : nil,
                wallSeconds: 0)
        }
        #expect(run.stopReason(of: result("line search failed at iteration 3: x")).contains("float32 rounding"))
        #expect(run.stopReason(of: result("reached the round limit (5)")) == "reached the round limit (5)")
        let float64 = try PreparedRun(Self.request(.softmax, data: "iris"))
        #expect(float64.stopReason(of: result("line search failed at iteration 3: x")) == "line search failed at iteration 3: x")
    }

    @Test func badRequestsFailBeforeReadingData() {
        #expect {
            _ = try PreparedRun(Self.request(.quantile, data: "diabetes"))
        } throws: { error in
            guard case .setup(let setup) = error as? TrainingRunError else { return false }
            return setup.description == "--model quantile needs --tau (one or more)"
        }
    }
}
