import Foundation
import Testing
import _TestSupport

/// A run's outputs are one transaction (real processes): unwritable paths are refused before round 1, a kill while
/// saving never leaves a summary beside another run's model, and a run that ends unsaved says that the files it
/// left are an earlier run's.
@Suite("End to end: outputs are one transaction", .serialized)
struct OutputTransactionEndToEndTests {
    static let data = ModelCommandsEndToEndTests.dataPath("breast_cancer.csv")

    /// SHA-256 (hex) of `bytes`, from coreutils' `sha256sum`.
    static func sha256(_ bytes: [UInt8], in directory: TemporaryDirectory) throws -> String {
        let file = directory.path("digest-input")
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        let child = try ChildProcess([file], executable: "/usr/bin/sha256sum", directory: directory.url)
        try #require(child.wait(timeout: 10) == 0)
        return String(child.stdout.prefix(64))
    }

    /// The `parameters_sha256` of a model file: the digest of its tensors' little-endian float64 bytes in file order.
    static func parametersSHA256(ofModel path: String, in directory: TemporaryDirectory) throws -> String {
        let parameters = try RawModelFile.read(path).parameters
        let bytes = parameters.flatMap { value in (0..<8).map { UInt8(truncatingIfNeeded: value.bitPattern >> (8 * UInt64($0))) } }
        return try sha256(bytes, in: directory)
    }

    @Test func unwritableOutputsAreRefusedBeforeRoundOneAndEarlierFilesStay() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let summary = directory.path("summary.json")
        try "earlier run".write(toFile: summary, atomically: true, encoding: .utf8)
        // Root may write into folders without write permission; /proc takes no new files from anyone.
        let locked = directory.path("locked")
        try FileManager.default.createDirectory(atPath: locked, withIntermediateDirectories: false)
        chmod(locked, 0o555)
        defer { chmod(locked, 0o755) }
        let unwritable = geteuid() == 0 ? "/proc" : locked
        let train = ["train", "--data", Self.data, "--standardize", "--log-format", "json", "--summary-json", summary]
        let refusals: [([String], String)] = [
            (train + ["--save", unwritable + "/model.safetensors"],
             "--save \(unwritable)/model.safetensors: cannot create files in \(unwritable)"),
            (train + ["--save", directory.url.path], "--save \(directory.url.path): is a directory"),
            (train + ["--save", "/dev/null"], "--save /dev/null: is not a regular file"),
            (train + ["--save", "sub3/"], "--save sub3/: names a folder (it ends in /)"),
            (["predict", "--model-file", summary, "--data", Self.data, "--output", "pdir/"],
             "--output pdir/: names a folder (it ends in /)"),
            (train + ["--save", summary + "/model.safetensors"], "\(summary) is not a directory"),
            (["predict", "--model-file", summary, "--data", Self.data, "--output", unwritable + "/p.csv"],
             "--output \(unwritable)/p.csv: cannot create files in \(unwritable)"),
        ]
        for (arguments, message) in refusals {
            let (status, stdout, stderr) = try ModelCommandsEndToEndTests.run(arguments, in: directory)
            #expect(status == 64, "\(arguments)")
            #expect(stderr.contains(message), "\(stderr)")
            // No round was trained (with --log-format json every round prints a line).
            #expect(stdout.isEmpty, "\(stdout)")
        }
        #expect(try String(contentsOfFile: summary, encoding: .utf8) == "earlier run")
    }

    @Test func aRunThatEndsUnsavedSaysItsOutputsAreAnEarlierRuns() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (model, summary) = try ModelCommandsEndToEndTests.trainLogistic(in: directory)
        let before = try [model, summary].map { try Data(contentsOf: URL(fileURLWithPath: $0)) }
        // Plain gradient descent with a huge step diverges: no result, nothing saved.
        let (status, _, stderr) = try ModelCommandsEndToEndTests.run(
            [
                "train", "--data", Self.data, "--optimizer", "gd", "--learning-rate", "1e300", "--max-rounds", "3",
                "--save", model, "--summary-json", summary,
            ], in: directory)
        #expect(status == 1)
        #expect(stderr.contains("nothing was saved; these files are from an earlier run and were left as they were: \(model) (written "))
        #expect(stderr.contains("\(summary) (written "))
        #expect(try [model, summary].map { try Data(contentsOf: URL(fileURLWithPath: $0)) } == before)
    }

    /// The model's folder disappears while the outputs are written (after staging, before the renames): the run
    /// exits 1, still prints its summary, and keeps the complete result in `$TMPDIR/shardtrain-unsaved-…`, named in
    /// the error, with the summary's digest the rescued model's.
    @Test func aFailedFinalWriteKeepsTheResultInTheTemporaryFolderAndSaysWhere() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let folder = directory.path("models"), rescue = directory.path("tmp")
        for path in [folder, rescue] { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false) }
        let model = folder + "/model.safetensors", summary = directory.path("summary.json")
        let child = try ChildProcess(
            ["train", "--data", Self.data, "--standardize", "--log-format", "json", "--save", model, "--summary-json", summary],
            directory: directory.url, environment: ["SHARDTRAIN_TEST_OUTPUT_STEP_PAUSE": "0.2", "TMPDIR": rescue])
        let staged = child.waitForOutput(timeout: 60) { _, _ in
            ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).contains { $0.hasPrefix(".model.safetensors.tmp-") }
        }
        try #require(staged, "\(child.stderr)")
        try FileManager.default.removeItem(atPath: folder)
        #expect(child.wait(timeout: 60) == 1)
        #expect(child.stdout.contains("\"event\":\"summary\""))
        #expect(!FileManager.default.fileExists(atPath: summary))
        let saved = try #require(try FileManager.default.contentsOfDirectory(atPath: rescue).first { $0.hasPrefix("shardtrain-unsaved-") })
        let copies = (rescue + "/" + saved + "/model.safetensors", rescue + "/" + saved + "/summary.json")
        #expect(child.stderr.contains("\(copies.0) (for \(model)), \(copies.1) (for \(summary))"), "\(child.stderr)")
        let document = try ModelCommandsEndToEndTests.json(try String(contentsOfFile: copies.1, encoding: .utf8))
        #expect(try Self.parametersSHA256(ofModel: copies.0, in: directory) == document["parameters_sha256"] as? String)
    }

    /// 20 runs, each killed with SIGKILL at a different moment of writing its outputs (the test-only
    /// `SHARDTRAIN_TEST_OUTPUT_STEP_PAUSE` stretches each step of the commit to 40 ms, so the kills land inside
    /// every step): whenever a model and a summary are both there, the summary's `parameters_sha256` is the model's.
    @Test func killsWhileSavingNeverLeaveASummaryBesideAnotherRunsModel() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let model = directory.path("model.safetensors"), summary = directory.path("summary.json")
        func train(rounds: Int, pause: Double?) throws -> ChildProcess {
            try ChildProcess(
                [
                    "train", "--data", Self.data, "--standardize", "--max-rounds", String(rounds), "--save", model,
                    "--summary-json", summary,
                ], directory: directory.url,
                environment: pause.map { ["SHARDTRAIN_TEST_OUTPUT_STEP_PAUSE": String($0)] } ?? [:])
        }
        try #require(try train(rounds: 3, pause: nil).wait(timeout: 60) == 0)
        var killed = 0, summaryAbsent = 0
        for attempt in 0..<20 {
            // Another number of rounds each time: every run's parameters differ from the files on disk.
            let child = try train(rounds: 4 + attempt, pause: 0.04)
            // Saving starts when this run's first staged temporary appears beside the outputs.
            let staging = child.waitForOutput(timeout: 60) { _, _ in
                ((try? FileManager.default.contentsOfDirectory(atPath: directory.url.path)) ?? []).contains {
                    $0.hasPrefix(".model.safetensors.tmp-\(child.pid)-")
                }
            }
            try #require(staging, "attempt \(attempt): saving never started: \(child.stderr)")
            // Five steps of 40 ms (stage model, stage summary, remove the old summary, rename model, rename summary).
            usleep(useconds_t(5_000 + 35_000 * (attempt % 6)))
            kill(child.pid, SIGKILL)
            child.process.waitUntilExit()
            if child.process.terminationReason == .uncaughtSignal { killed += 1 }
            let hasModel = FileManager.default.fileExists(atPath: model)
            let hasSummary = FileManager.default.fileExists(atPath: summary)
            if !hasSummary { summaryAbsent += 1 }
            #expect(hasModel, "attempt \(attempt): the model file vanished")
            guard hasModel, hasSummary else { continue }
            let document = try ModelCommandsEndToEndTests.json(try String(contentsOfFile: summary, encoding: .utf8))
            let recorded = try #require(document["parameters_sha256"] as? String)
            #expect(try Self.parametersSHA256(ofModel: model, in: directory) == recorded, "attempt \(attempt): mixed pair")
        }
        // The kills landed inside the commit: most runs were killed, and some between removing the old summary and
        // placing the new one. The next write removed the temporaries the killed runs left.
        #expect(killed >= 15 && summaryAbsent >= 1, "killed \(killed), summary absent \(summaryAbsent)")
        try #require(try train(rounds: 30, pause: nil).wait(timeout: 60) == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.url.path).filter { $0.hasPrefix(".") }.isEmpty)
    }
}
