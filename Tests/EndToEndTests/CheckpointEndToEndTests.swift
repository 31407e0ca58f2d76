import Foundation
import Testing
import _TestSupport

/// A run killed or stopped mid-way and resumed from its checkpoint folder ends with the bits of the run that
/// was never stopped, with any worker count.
@Suite("End to end: checkpoints and resume", .serialized)
struct CheckpointEndToEndTests {
    /// A mini-batch Adam VAE of a few seconds: long enough to stop in the middle, and its rounds draw random
    /// numbers keyed by the round, so a resumed run that got the round or the schedule wrong would differ.
    static let run = [
        "train", "--data", ReferenceData.repositoryRoot.appendingPathComponent("data/digits.csv").path, "--model", "vae",
        "--hidden", "16", "--dimension", "2", "--max-rounds", "160", "--seed", "4", "--log-format", "json",
    ]

    static func parametersSHA256(_ arguments: [String], in directory: TemporaryDirectory) throws -> String {
        let summary = directory.path("summary-\(UUID().uuidString).json")
        let child = try ChildProcess(arguments + ["--summary-json", summary], directory: directory.url)
        let status = child.wait(timeout: 120)
        try #require(status == 0, "\(arguments): exit \(String(describing: status))\n\(child.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: summary))) as? [String: Any]
        return try #require(object?["parameters_sha256"] as? String)
    }

    /// The rounds of the checkpoint files in `folder`, ascending.
    static func checkpointRounds(_ folder: String) -> [Int] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).compactMap { name in
            guard name.hasPrefix("checkpoint-"), name.hasSuffix(".stc") else { return nil }
            return Int(name.dropFirst("checkpoint-".count).dropLast(".stc".count))
        }.sorted()
    }

    /// Starts the run with checkpoints every 10 rounds into `folder` and waits until one of round ≥ 30 exists.
    static func startAndWaitForCheckpoint(_ folder: String, in directory: TemporaryDirectory) throws -> ChildProcess {
        let child = try ChildProcess(run + ["--checkpoint", folder, "--checkpoint-every", "10"], directory: directory.url)
        let deadline = Date().addingTimeInterval(60)
        while (checkpointRounds(folder).last ?? 0) < 30, child.process.isRunning, Date() < deadline { usleep(2_000) }
        try #require(child.process.isRunning, "the run ended before it could be stopped\n\(child.stderr)")
        return child
    }

    @Test("kill -9 mid-run, then --resume with 0 and with 2 workers: the uninterrupted run's parameters_sha256")
    func killedRunResumes() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let reference = try Self.parametersSHA256(Self.run, in: directory)
        let folder = directory.path("checkpoints")
        let child = try Self.startAndWaitForCheckpoint(folder, in: directory)
        kill(child.pid, SIGKILL)
        child.process.waitUntilExit()
        #expect(child.process.terminationReason == .uncaughtSignal)
        let rounds = Self.checkpointRounds(folder)
        // Two files, or three when the kill fell between a new file's rename and the removal of the oldest.
        #expect((1...3).contains(rounds.count) && (rounds.last ?? 0) >= 30 && (rounds.last ?? 160) < 160, "\(rounds)")
        for workers in [0, 2] {
            // Each resume from its own copy of the folder as the kill left it (a resume writes on into its folder).
            let copy = directory.path("resume-\(workers)")
            try FileManager.default.copyItem(atPath: folder, toPath: copy)
            let resumed = try Self.parametersSHA256(Self.run + ["--resume", copy, "--workers", String(workers)], in: directory)
            #expect(resumed == reference, "resumed with \(workers) workers after round \(rounds.last ?? 0)")
        }
    }

    @Test("SIGTERM writes a checkpoint and exits 130; another --l2 is refused naming it; the same run resumes")
    func terminatedRunResumesAndOtherOptionsAreRefused() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let folder = directory.path("checkpoints")
        let child = try Self.startAndWaitForCheckpoint(folder, in: directory)
        kill(child.pid, SIGTERM)
        #expect(child.wait(timeout: 30) == 130)
        #expect(child.stderr.contains("--resume \(folder)"), "\(child.stderr)")
        let refused = try ChildProcess(Self.run + ["--resume", folder, "--l2", "0.02"], directory: directory.url)
        #expect(refused.wait(timeout: 60) == 64)
        #expect(refused.stderr.contains("--l2 (model.l2) differs (checkpoint: 0.01, this run: 0.02)"), "\(refused.stderr)")
        let reference = try Self.parametersSHA256(Self.run, in: directory)
        #expect(try Self.parametersSHA256(Self.run + ["--resume", folder, "--workers", "3"], in: directory) == reference)
    }

    @Test("L-BFGS logistic and SVM continuation: a checkpoint from the middle of the run resumes with 3 workers to the same bits",
          arguments: ["logistic", "svm"])
    func fullBatchRunsResumeFromTheMiddle(model: String) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let run = [
            "train", "--data", ReferenceData.repositoryRoot.appendingPathComponent("data/breast_cancer.csv").path,
            "--standardize", "--model", model, "--log-format", "json",
        ]
        let summary = directory.path("reference.json")
        let reference = try ChildProcess(run + ["--summary-json", summary], directory: directory.url)
        try #require(reference.wait(timeout: 60) == 0, "\(reference.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: summary))) as? [String: Any]
        let rounds = try #require(object?["rounds"] as? Int)
        let sha = try #require(object?["parameters_sha256"] as? String)
        // Checkpoints every ⌈rounds/2⌉ rounds: the folder keeps the one from the middle and the final state.
        let folder = directory.path("checkpoints")
        let every = (rounds + 1) / 2
        let checkpointed = try ChildProcess(
            run + ["--checkpoint", folder, "--checkpoint-every", String(every)], directory: directory.url)
        try #require(checkpointed.wait(timeout: 60) == 0, "\(checkpointed.stderr)")
        let saved = Self.checkpointRounds(folder)
        #expect(saved == [every, rounds], "\(model): \(saved)")
        try FileManager.default.removeItem(atPath: folder + "/checkpoint-\(String(format: "%010d", rounds)).stc")
        #expect(try Self.parametersSHA256(run + ["--resume", folder, "--workers", "3"], in: directory) == sha, "\(model)")
    }

    @Test("a run stopped by --max-rounds continues with a larger one to the longer run's bits (L-BFGS, mini-batch Adam); a cosine schedule refuses",
          arguments: ["logistic", "vae"])
    func aFinishedRunContinuesWithMoreRounds(model: String) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let run =
            model == "vae"
            ? Self.run.filter { $0 != "--max-rounds" && $0 != "160" }
            : [
                "train", "--data", ReferenceData.repositoryRoot.appendingPathComponent("data/breast_cancer.csv").path,
                "--standardize", "--model", model, "--log-format", "json",
            ]
        let summary = directory.path("reference.json")
        let reference = try ChildProcess(run + ["--max-rounds", "160", "--summary-json", summary], directory: directory.url)
        try #require(reference.wait(timeout: 120) == 0, "\(reference.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: summary))) as? [String: Any]
        let rounds = try #require(object?["rounds"] as? Int)
        let sha = try #require(object?["parameters_sha256"] as? String)
        let folder = directory.path("checkpoints")
        let short = try ChildProcess(
            run + ["--max-rounds", String(rounds / 2), "--checkpoint", folder], directory: directory.url)
        try #require(short.wait(timeout: 120) == 0, "\(short.stderr)")
        #expect(!Self.checkpointRounds(folder).isEmpty)
        let report = directory.path("resumed.html")
        #expect(
            try Self.parametersSHA256(run + ["--max-rounds", "160", "--resume", folder, "--report", report], in: directory) == sha,
            "\(model)")
        // Its report says where it started.
        #expect(try String(contentsOfFile: report, encoding: .utf8).contains("This run was resumed from a checkpoint after round"))
        guard model == "vae" else { return }
        // A limit below the saved round says what to give.
        let below = try ChildProcess(run + ["--max-rounds", "10", "--resume", folder], directory: directory.url)
        #expect(below.wait(timeout: 60) == 1)
        #expect(below.stderr.contains("beyond --max-rounds 10: give a larger --max-rounds to continue it"), "\(below.stderr)")
        let cosine = directory.path("cosine")
        let stretched = try ChildProcess(
            run + ["--max-rounds", "40", "--schedule", "cosine", "--checkpoint", cosine], directory: directory.url)
        try #require(stretched.wait(timeout: 120) == 0, "\(stretched.stderr)")
        let refused = try ChildProcess(
            run + ["--max-rounds", "80", "--schedule", "cosine", "--resume", cosine], directory: directory.url)
        #expect(refused.wait(timeout: 60) == 64)
        #expect(refused.stderr.contains("--max-rounds differs (checkpoint: 40, this run: 80)"), "\(refused.stderr)")
        #expect(refused.stderr.contains("without a --schedule that stretches over it"), "\(refused.stderr)")
    }

    @Test("an SVM continuation cut short by --max-rounds does not continue with a larger one (its cut stage counts as finished)")
    func aCutContinuationIsRefused() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let run = [
            "train", "--data", ReferenceData.repositoryRoot.appendingPathComponent("data/breast_cancer.csv").path,
            "--standardize", "--model", "svm", "--log-format", "json",
        ]
        let folder = directory.path("checkpoints")
        let short = try ChildProcess(run + ["--max-rounds", "10", "--checkpoint", folder], directory: directory.url)
        try #require(short.wait(timeout: 60) == 0, "\(short.stderr)")
        let refused = try ChildProcess(run + ["--max-rounds", "20", "--resume", folder], directory: directory.url)
        #expect(refused.wait(timeout: 60) == 64)
        #expect(refused.stderr.contains("--max-rounds differs (checkpoint: 10, this run: 20)"), "\(refused.stderr)")
    }
}

/// Checkpoint folders checked before any data is read.
@Suite("End to end: checkpoint folders")
struct CheckpointFolderEndToEndTests {
    static let iris = ReferenceData.repositoryRoot.appendingPathComponent("data/iris.csv").path

    @Test("a folder holding another run's checkpoints, a file or an uncreatable path is refused before round 1")
    func foldersCheckedFirst() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let train = ["train", "--data", Self.iris, "--model", "softmax", "--max-rounds", "20", "--log-format", "json"]
        let first = try ChildProcess(train + ["--checkpoint", directory.path("ck")], directory: directory.url)
        #expect(first.wait(timeout: 60) == 0, "\(first.stderr)")
        let kept = try FileManager.default.contentsOfDirectory(atPath: directory.path("ck")).sorted()
        // A new run into the same folder would have its own checkpoints pruned by round: refused.
        let second = try ChildProcess(train + ["--checkpoint", directory.path("ck")], directory: directory.url)
        #expect(second.wait(timeout: 60) == 64)
        #expect(second.stderr.contains("already holds checkpoints of a run"), "\(second.stderr)")
        #expect(second.stdout.isEmpty, "no round may run")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path("ck")).sorted() == kept)
        for (path, message) in [(Self.iris, "not a folder"), ("/proc/none/ck", "cannot create the folder")] {
            let bad = try ChildProcess(train + ["--checkpoint", path], directory: directory.url)
            #expect(bad.wait(timeout: 60) == 64)
            #expect(bad.stderr.contains(message), "\(bad.stderr)")
            #expect(bad.stdout.isEmpty)
        }
        // Continuing the run in its own folder is what the folder is for.
        let resumed = try ChildProcess(train + ["--resume", directory.path("ck")], directory: directory.url)
        #expect(resumed.wait(timeout: 60) == 0, "\(resumed.stderr)")
    }

    @Test("a class label far beyond the rows (100000 among 0 and 1) is refused, not a 80 GB confusion matrix")
    func strayClassLabel() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let csv = try directory.write("a,b,label\n1,2,0\n3,4,1\n5,6,100000\n", to: "k.csv")
        let child = try ChildProcess(["train", "--data", csv, "--model", "softmax"], directory: directory.url)
        #expect(child.wait(timeout: 30) == 1)
        #expect(child.stderr.contains("the labels make 100001 classes (0 … 100000) for 3 rows"), "\(child.stderr)")
    }
}
