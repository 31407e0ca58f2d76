import Foundation
import Testing
import _TestSupport

/// The live line on a terminal (run under `script`, which gives the process a pseudo-terminal).
@Suite("End to end: live view")
struct LiveViewEndToEndTests {
    static func onTerminal(_ arguments: [String]) throws -> String {
        let command = ([ShardTrainBinary.path] + arguments).map { "'\($0)'" }.joined(separator: " ")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        process.arguments = ["-qec", command, "/dev/null"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        return String(decoding: data, as: UTF8.self)
    }

    @Test("a run whose end is known shows a bar, the percentage and the time left; one that converges shows rounds only")
    func progressBar() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/script") else { return }
        let iris = ReferenceData.repositoryRoot.appendingPathComponent("data/iris.csv").path
        let minibatch = try Self.onTerminal(
            ["train", "--data", iris, "--model", "softmax", "--optimizer", "adam", "--batch-blocks", "1", "--max-rounds", "300"])
        let updates = minibatch.split(separator: "\r").map(String.init)
        #expect(updates.contains { $0.contains("] 100%  ETA 0s  round 300 ") }, "\(updates.suffix(3))")
        #expect(updates.contains { $0.contains("%  ETA ") && !$0.contains("100%") }, "no intermediate update")
        let converging = try Self.onTerminal(["train", "--data", iris, "--model", "softmax"])
        #expect(!converging.contains("ETA"))
        #expect(converging.contains("round "))
    }
}
