import Foundation
import Testing
import _TestSupport

/// Runs that record themselves: `train --config summary.json` repeats a run to the same bits, flags override the
/// record, `--history` has a row per round, `--version` names the build.
@Suite("End to end: recorded runs", .serialized)
struct RecordedRunEndToEndTests {
    static func dataPath(_ name: String) -> String { ModelsEndToEndTests.dataPath(name) }

    /// Runs `shardtrain arguments` in `directory`; requires exit status `status`.
    @discardableResult
    static func shardtrain(_ arguments: [String], in directory: TemporaryDirectory, status: Int32 = 0) throws -> ChildProcess {
        let child = try ChildProcess(arguments, directory: directory.url)
        let exit = child.wait(timeout: 300)
        try #require(exit == status, "\(arguments): exit \(String(describing: exit))\n\(child.stderr)")
        return child
    }

    static func json(_ path: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
    }

    struct Case: CustomTestStringConvertible, Sendable {
        let model: String
        let arguments: [String]
        var testDescription: String { model }
    }

    /// Every model kind with settings other than the defaults (short runs).
    static let cases: [Case] = [
        Case(model: "logistic", arguments: ["--data", dataPath("breast_cancer"), "--standardize", "--focal-gamma", "2",
            "--l2", "0.05", "--test-fraction", "0.2", "--seed", "5", "--max-rounds", "40"]),
        Case(model: "svm", arguments: ["--data", dataPath("breast_cancer"), "--model", "svm", "--standardize",
            "--smoothing-final", "1e-4", "--precision", "float32", "--max-rounds", "60"]),
        Case(model: "quantile", arguments: ["--data", dataPath("diabetes"), "--model", "quantile", "--tau", "0.2",
            "--tau", "0.8", "--l2", "0.001", "--block-rows", "64", "--max-rounds", "60"]),
        Case(model: "softmax", arguments: ["--data", dataPath("iris"), "--model", "softmax", "--class-weight", "balanced",
            "--optimizer", "gd", "--learning-rate", "0.3", "--standardize", "--max-rounds", "50"]),
        Case(model: "linear", arguments: ["--data", dataPath("diabetes"), "--model", "linear", "--loss", "huber",
            "--delta", "20", "--standardize", "--test-fraction", "0.2", "--seed", "3"]),
        Case(model: "triplet", arguments: ["--data", dataPath("digits"), "--model", "triplet", "--hidden", "16",
            "--dimension", "4", "--margin", "0.5", "--schedule", "cosine", "--batch-blocks", "3", "--max-rounds", "20",
            "--seed", "7"]),
        Case(model: "vae", arguments: ["--data", dataPath("digits"), "--model", "vae", "--hidden", "16", "--dimension",
            "3", "--optimizer", "adamw", "--weight-decay", "0.02", "--warmup", "5", "--batch-blocks", "4",
            "--precision", "float32", "--max-rounds", "20", "--seed", "11"]),
    ]

    @Test("train --config summary.json repeats the run to the same parameters_sha256 and settings", arguments: cases)
    func configReproducesTheRun(_ testCase: Case) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let first = directory.path("first.json")
        try Self.shardtrain(["train"] + testCase.arguments + ["--summary-json", first, "--log-format", "json"], in: directory)
        let again = directory.path("again.json")
        // The linear case repeats with a local worker: the record does not depend on the worker count.
        let workers = testCase.model == "linear" ? ["--workers", "1"] : []
        try Self.shardtrain(["train", "--config", first, "--summary-json", again, "--log-format", "json"] + workers, in: directory)
        let (recorded, repeated) = (try Self.json(first), try Self.json(again))
        let hash = try #require(recorded["parameters_sha256"] as? String)
        #expect(repeated["parameters_sha256"] as? String == hash, "\(testCase.model)")
        let settings = try #require(recorded["settings"] as? NSDictionary)
        #expect(repeated["settings"] as? NSDictionary == settings)
        #expect((recorded["input_sha256"] as? [String: String])?["data"]?.count == 64)
        #expect((recorded["build"] as? String)?.contains("; build ") == true)
    }

    @Test func aFlagOverridesTheRecordAndTheDataIsCheckedAgainstItsDigest() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let data = directory.path("cancer.csv")
        try FileManager.default.copyItem(atPath: Self.dataPath("breast_cancer"), toPath: data)
        let first = directory.path("first.json")
        try Self.shardtrain(
            ["train", "--data", data, "--standardize", "--l2", "0.05", "--max-rounds", "30", "--summary-json", first],
            in: directory)
        let recorded = try Self.json(first)

        let changed = directory.path("changed.json")
        try Self.shardtrain(
            ["train", "--config", first, "--l2", "0.2", "--no-standardize", "--summary-json", changed], in: directory)
        let overridden = try Self.json(changed)
        let settings = try #require(overridden["settings"] as? [String: Any])
        #expect((settings["model"] as? [String: Any])?["l2"] as? Double == 0.2)
        #expect(settings["standardize"] as? Bool == false)
        #expect(settings["max_rounds"] as? Int == 30)
        #expect(overridden["parameters_sha256"] as? String != recorded["parameters_sha256"] as? String)

        // The same recipe on edited data: a warning naming the file, or a refusal with --verify-data.
        var text = try String(contentsOfFile: data, encoding: .utf8)
        let secondLine = try #require(text.split(separator: "\n").dropFirst().first)
        text = text.replacingOccurrences(of: secondLine, with: secondLine.replacingOccurrences(of: ",", with: ",1", options: [], range: secondLine.range(of: ",")))
        try text.write(toFile: data, atomically: true, encoding: .utf8)
        let warned = try Self.shardtrain(["train", "--config", first], in: directory)
        #expect(warned.stderr.contains("DATA DIFFERS FROM THE RECORDED RUN: --data \(data) has SHA-256"))
        let refused = try Self.shardtrain(["train", "--config", first, "--verify-data"], in: directory, status: 1)
        #expect(refused.stderr.contains("DATA DIFFERS FROM THE RECORDED RUN") && refused.stdout.isEmpty)
        // One error style: the last line is "error: …".
        #expect(refused.stderr.split(separator: "\n").last?.hasPrefix("error: DATA DIFFERS FROM THE RECORDED RUN") == true, "\(refused.stderr)")

        // A settings object alone records no digest: nothing to verify against.
        let settingsOnly = try JSONSerialization.data(withJSONObject: try #require(recorded["settings"]))
        let settingsPath = directory.path("settings.json")
        try settingsOnly.write(to: URL(fileURLWithPath: settingsPath))
        let unverifiable = try Self.shardtrain(["train", "--config", settingsPath, "--verify-data"], in: directory, status: 1)
        #expect(unverifiable.stderr.contains("records no input_sha256"))
    }

    @Test func theHistoryHasOneRowPerRoundAndTheRunSaysWhereItWrote() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (history, summary, model) = (directory.path("h.csv"), directory.path("s.json"), directory.path("m.safetensors"))
        let child = try Self.shardtrain(
            ["train", "--data", Self.dataPath("iris"), "--model", "softmax", "--optimizer", "gd", "--max-rounds", "30",
                "--test-fraction", "0.3", "--eval-every", "10", "--history", history, "--summary-json", summary,
                "--save", model, "--workers", "2"],
            in: directory)
        #expect(child.stdout.hasSuffix("\nwrote model \(model), summary \(summary), history \(history)\n"))
        let lines = try String(contentsOfFile: history, encoding: .utf8).split(separator: "\n")
        let header: String = "round,objective,gradient_norm,learning_rate,smoothing,batch_step,rows_per_second,"
            + "round_seconds,eval_split,eval_data_loss,eval_accuracy,compute_seconds_w0,compute_seconds_w1"
        #expect(lines.first.map(String.init) == header)
        let rounds = try #require(try Self.json(summary)["rounds"] as? Int)
        #expect(lines.count == 1 + rounds && rounds == 30)
        let rows = lines.dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        #expect(rows.map { Int($0[0]) } == (1...30).map { $0 })
        #expect(rows.allSatisfy { $0[3] == "0.5" && $0[8] == ($0[0] == "10" || $0[0] == "20" || $0[0] == "30" ? "test" : "") })
        #expect(rows.allSatisfy { Double($0[11]) != nil && Double($0[12]) != nil })

        // JSON lines: the last line is still the summary, now with where it wrote.
        let jsonRun = try Self.shardtrain(
            ["train", "--config", summary, "--log-format", "json", "--summary-json", summary, "--history", history],
            in: directory)
        let last = try #require(jsonRun.stdout.split(separator: "\n").last)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any])
        #expect(object["event"] as? String == "summary")
        #expect(object["outputs"] as? [String: String] == ["summary": summary, "history": history])
    }

    @Test func anUnwritableHistoryStopsBeforeTraining() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let child = try Self.shardtrain(
            ["train", "--data", Self.dataPath("iris"), "--model", "softmax", "--history", directory.path("none/h.csv")],
            in: directory, status: 64)
        #expect(child.stderr.contains("--history"))
    }

    /// Mistakes a new user made (README-only review): each is a usage error (64) that names the fix.
    @Test func mistakesAreUsageErrorsThatNameTheFix() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let typo = try Self.shardtrain(["trian", "--data", "x.csv"], in: directory, status: 64)
        #expect(typo.stderr.contains("unknown command 'trian'; did you mean 'train'?"), "\(typo.stderr)")
        let text = directory.path("spam.csv")
        try "x,label\n1,ham\n2,spam\n3,ham\n4,spam\n".write(toFile: text, atomically: true, encoding: .utf8)
        let classes = try Self.shardtrain(["train", "--data", text, "--model", "softmax", "--classes", "5"], in: directory, status: 64)
        #expect(classes.stderr.contains("--classes 5: the labels are text with 2 classes (ham, spam)"), "\(classes.stderr)")
        let firstColumnLabel = directory.path("first.csv")
        try "target,a,b\n1,0.5,6.3483\n0,0.1,2.5\n".write(toFile: firstColumnLabel, atomically: true, encoding: .utf8)
        let label = try Self.shardtrain(["train", "--data", firstColumnLabel], in: directory, status: 1)
        #expect(label.stderr.contains("the label was read from column \"b\": if it is another column, name it with --label-column"),
            "\(label.stderr)")
    }

    @Test func versionPrintsTheVersionAndTheBuildIdentityTheSummaryRecords() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let lines = try Self.shardtrain(["--version"], in: directory).stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 2 && lines[0].hasPrefix("shardtrain ") && lines[1].hasPrefix("build: shardtrain (protocol "))
        let summary = directory.path("s.json")
        try Self.shardtrain(
            ["train", "--data", Self.dataPath("iris"), "--model", "softmax", "--max-rounds", "5", "--summary-json", summary],
            in: directory)
        let recorded = try Self.json(summary)
        #expect("build: " + (recorded["build"] as? String ?? "") == lines[1])
        #expect("shardtrain " + (recorded["version"] as? String ?? "") == lines[0])
        // The digest is the linker's build ID, found here by its note's bytes in the file (namesz 4, type 3 =
        // NT_GNU_BUILD_ID, "GNU\0"); an executable without one is named by the SHA-256 of its file instead.
        let executable = [UInt8](try Data(contentsOf: URL(fileURLWithPath: ShardTrainBinary.path)))
        let noteStart: [UInt8] = [4, 0, 0, 0]
        let noteTypeAndName: [UInt8] = [3, 0, 0, 0, 0x47, 0x4E, 0x55, 0]
        var buildID: [UInt8]?
        for offset in 0..<(executable.count - 16) where executable[offset..<(offset + 4)].elementsEqual(noteStart)
            && executable[(offset + 8)..<(offset + 16)].elementsEqual(noteTypeAndName)
        {
            let length = Int(executable[offset + 4])
            buildID = Array(executable[(offset + 16)..<(offset + 16 + length)])
            break
        }
        let digest = try #require(lines[1].split(separator: "; build ").last?.split(separator: ";").first)
        if let buildID {
            #expect(digest == buildID.prefix(8).map { String(format: "%02x", $0) }.joined())
        } else {
            #expect(digest.hasPrefix("sha256:") && digest.count == 7 + 16)
        }
    }
}
