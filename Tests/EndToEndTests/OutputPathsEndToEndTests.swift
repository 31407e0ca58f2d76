import Foundation
import Testing
import _TestSupport

/// No command writes over a file it reads: the refusal names both flags, and the input is left byte for byte.
@Suite("End to end: outputs never overwrite inputs", .serialized)
struct OutputPathsEndToEndTests {
    @Test func trainAndPredictRefuseToWriteOverTheirInputs() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let source = ReferenceData.repositoryRoot.appendingPathComponent("data/diabetes.csv")
        let data = directory.path("data.csv")
        try FileManager.default.copyItem(atPath: source.path, toPath: data)
        let original = try Data(contentsOf: URL(fileURLWithPath: data))
        try FileManager.default.linkItem(atPath: data, toPath: directory.path("hard-link.csv"))
        try FileManager.default.createSymbolicLink(atPath: directory.path("soft-link.csv"), withDestinationPath: data)
        let train = ["train", "--model", "linear", "--data", data]
        let refusals: [([String], String)] = [
            (train + ["--summary-json", data], "--summary-json \(data) names the same file as --data"),
            (train + ["--save", directory.path("hard-link.csv")], "names the same file as --data \(data)"),
            (train + ["--save", directory.path("soft-link.csv")], "names the same file as --data \(data)"),
            (train + ["--save", directory.path("m"), "--summary-json", directory.path("./m")], "--save and --summary-json name the same file"),
        ]
        for (arguments, message) in refusals {
            let (status, _, stderr) = try ModelCommandsEndToEndTests.run(arguments, in: directory)
            #expect(status == 64, "\(arguments)")
            #expect(stderr.contains(message), "\(stderr)")
        }
        let model = directory.path("model.safetensors")
        let (trained, _, trainError) = try ModelCommandsEndToEndTests.run(train + ["--save", model], in: directory)
        try #require(trained == 0, "\(trainError)")
        let savedModel = try Data(contentsOf: URL(fileURLWithPath: model))
        for output in [data, model] {
            let (status, _, stderr) = try ModelCommandsEndToEndTests.run(
                ["predict", "--model-file", model, "--data", data, "--output", output], in: directory)
            #expect(status == 64 && stderr.contains("--output \(output) names the same file as"), "\(stderr)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: data)) == original)
        #expect(try Data(contentsOf: URL(fileURLWithPath: model)) == savedModel)
    }
}
