import Foundation
@testable import ShardApplication
import ShardData
import ShardEngine
import ShardModels
import Testing
import _TestSupport

/// Checkpoints of whole runs: written by `CheckpointWriter`, read back by `ResumePoint` for the same run only.
@Suite struct RunCheckpointTests {
    static func request(data path: String, edit: (inout ModelChoices, inout SolverChoices) -> Void = { _, _ in })
        -> TrainingRequest
    {
        var model = ModelChoices()
        model.kind = .softmax
        var solver = SolverChoices()
        edit(&model, &solver)
        return TrainingRequest(
            data: DataConfiguration(path: path, testFraction: 0.2, seed: 3, standardize: true), model: model, solver: solver)
    }

    static let iris = ReferenceData.repositoryRoot.appendingPathComponent("data/iris.csv").path

    static func train(_ run: PreparedRun, stopAfter: Int? = nil, resume: TrainerState? = nil, folder: String? = nil)
        throws -> TrainingOutcome
    {
        let executor = try LocalExecutor(model: run.model, blocks: run.data.blocks, threads: 1)
        let saving = try folder.map { StateSaving(sink: CheckpointWriter(folder: $0, identity: try RunIdentity(run)), every: 4) }
        var asked = 0
        return try run.train(
            executor: executor, workers: 0, observer: nil,
            shouldStop: {
                asked += 1
                return stopAfter.map { asked > $0 } ?? false
            }, resume: resume, saving: saving)
    }

    @Test func anInterruptedRunResumesFromItsFolderToTheSameBits() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let run = try PreparedRun(Self.request(data: Self.iris))
        let full = try Self.train(run)
        #expect(full.result.rounds > 12)
        #expect(throws: EngineError.interrupted) { try Self.train(run, stopAfter: 10, folder: folder.url.path) }
        // Rounds 4 and 8, then the interrupt after round 10: the newest two are kept.
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.url.path).sorted()
            == ["checkpoint-0000000008.stc", "checkpoint-0000000010.stc"])
        let point = try ResumePoint(folder: folder.url.path, identity: RunIdentity(run))
        #expect(point.state.round == 10 && point.moment == .interrupted && point.skipped.isEmpty)
        let resumed = try Self.train(run, resume: point.state, folder: folder.url.path)
        #expect(resumed.summary.parametersSHA256 == full.summary.parametersSHA256)
        #expect(resumed.summary.rounds == full.summary.rounds)
        // The finished run left its final state: resuming it again gives the same result.
        let again = try ResumePoint(folder: folder.url.path, identity: RunIdentity(run))
        #expect(again.moment == .finished)
        #expect(again.state.round == full.result.rounds, "L-BFGS ends at an evaluated point: no extra round after the final state")
        #expect(try Self.train(run, resume: again.state).summary.parametersSHA256 == full.summary.parametersSHA256)
    }

    @Test func aCheckpointOfOtherOptionsOrOtherDataIsRefusedNamingTheField() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let run = try PreparedRun(Self.request(data: Self.iris) { _, solver in solver.maxRounds = 8 })
        _ = try Self.train(run, folder: folder.url.path)
        func refusal(_ request: TrainingRequest) throws -> (field: String, saved: String, current: String)? {
            do {
                _ = try ResumePoint(folder: folder.url.path, identity: RunIdentity(PreparedRun(request)))
            } catch let error as CheckpointError {
                guard case .mismatch(_, let field, let saved, let current) = error else { throw error }
                #expect(error.description.contains("\(CheckpointError.shown(field)) differs"))
                return (field, saved, current)
            }
            return nil
        }
        #expect(try refusal(Self.request(data: Self.iris) { _, solver in solver.maxRounds = 8 }) == nil)
        // Another round limit continues the run (its L-BFGS has no schedule that stretches over the limit).
        #expect(try refusal(Self.request(data: Self.iris) { _, solver in solver.maxRounds = 9 }) == nil)
        #expect(try refusal(Self.request(data: Self.iris) { model, solver in
            solver.maxRounds = 8
            model.l2 = 0.5
        })! == ("model.l2", "0.01", "0.5"))
        #expect(try refusal(Self.request(data: Self.iris) { _, solver in
            solver.maxRounds = 8
            solver.lbfgsMemory = 5
        })!.field == "--lbfgs-memory")
        // A model's settings are compared one by one, with plain values (not `Optional(64)`).
        let digits = ReferenceData.repositoryRoot.appendingPathComponent("data/digits.csv").path
        func vae(hidden: Int) -> TrainingRequest {
            var model = ModelChoices()
            model.kind = .vae
            model.hidden = hidden
            var solver = SolverChoices()
            solver.maxRounds = 8
            return TrainingRequest(data: DataConfiguration(path: digits), model: model, solver: solver)
        }
        let settings = try RunIdentity(PreparedRun(vae(hidden: 64))).settings
        #expect(settings["model.configuration"] == "vae")
        #expect(settings["model.configuration.vae.hiddenUnits"] == "64")
        #expect(settings["model.configuration.vae.latentDimension"] == "2")
        #expect(try RunIdentity(PreparedRun(vae(hidden: 32))).settings["model.configuration.vae.hiddenUnits"] == "32")
        // The same rows in another file still resume; one changed value does not.
        let text = try String(contentsOfFile: Self.iris, encoding: .utf8)
        let moved = try folder.write(text, to: "moved.csv")
        #expect(try refusal(Self.request(data: moved) { _, solver in solver.maxRounds = 8 }) == nil)
        let changed = try folder.write(text.replacingOccurrences(of: "5.1,3.5", with: "5.1,3.6"), to: "changed.csv")
        #expect(try refusal(Self.request(data: changed) { _, solver in solver.maxRounds = 8 })?.field == "--data sha256")
    }

    @Test func anEmptyFolderOrDamagedCheckpointsAreReported() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let run = try PreparedRun(Self.request(data: Self.iris) { _, solver in solver.maxRounds = 9 })
        #expect(throws: CheckpointError.empty(folder: folder.url.path)) {
            try ResumePoint(folder: folder.url.path, identity: RunIdentity(run))
        }
        _ = try Self.train(run, folder: folder.url.path)
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.url.path).sorted()
        #expect(files.count == 2)
        let newest = folder.path(try #require(files.last))
        let bytes = try Data(contentsOf: URL(fileURLWithPath: newest))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: newest))
        let point = try ResumePoint(folder: folder.url.path, identity: RunIdentity(run))
        #expect(point.path == folder.path(files[0]) && point.skipped.map(\.path) == [newest])
        #expect(point.skipped.first?.reason.contains("truncated") == true)
    }
}
