import Foundation
import ShardArtifacts
import ShardData
import ShardModels
import Testing
import _TestSupport

extension ArtifactsTests {
    static func logisticFile() throws -> ModelFile {
        let spec = ModelSpec(featureCount: 2, l2: 0.01, .logistic())
        return ModelFile(
            spec: spec, parameters: [0.5, -0.25, 0.125], featureNames: ["a", "b"], labelName: "label", labelEncoding: "zeroOne",
            standardization: nil)
    }

    @Test("a decision threshold reads back exactly; a file without one (as written before) reads with none")
    func decisionThresholdRoundTrip() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var file = try Self.logisticFile()
        let path = directory.path("old.safetensors")
        try file.write(to: path)
        #expect(try SafetensorsFile.read(from: path).metadata["decision_threshold"] == nil)
        #expect(try ModelFile.read(from: path).decisionThreshold == nil)

        file.decisionThreshold = DecisionThreshold(
            value: 0.1 + 0.2, target: "precision=0.9", targetMet: false, precision: 2.0 / 3, recall: 0.875, f1: 0.7567567567567568,
            heldOutRows: 114)
        let withThreshold = directory.path("new.safetensors")
        try file.write(to: withThreshold)
        let read = try ModelFile.read(from: withThreshold)
        #expect(read == file)
        #expect(read.decisionThreshold?.value.bitPattern == (0.1 + 0.2).bitPattern)
        let metadata = try #require(try SafetensorsFile.read(from: withThreshold).metadata["decision_threshold"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(metadata.utf8)) as? [String: Any])
        #expect(Set(object.keys) == ["value", "target", "target_met", "precision", "recall", "f1", "held_out_rows"])
    }

    @Test("a streamed atomic write appears whole at commit; an abandoned one leaves the old file and no temporary")
    func streamedAtomicWrite() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("predictions.csv")
        try AtomicFile.write(Data("old\n".utf8), to: path)
        do {
            let writer = try AtomicFileWriter(destination: path)
            try writer.write(Array("line,score\n".utf8))
            try writer.write(Array("2,0.5\n".utf8))
            // Not committed: the destination keeps its old text while writing, and after release.
            #expect(try String(contentsOfFile: path, encoding: .utf8) == "old\n")
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "old\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.url.path) == ["predictions.csv"])

        let writer = try AtomicFileWriter(destination: path)
        for row in 0..<1000 { try writer.write(Array("\(row + 2),\(Double(row) / 7)\n".utf8)) }
        try writer.commit()
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 1000 && lines[999] == "1001,\(999.0 / 7)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.url.path) == ["predictions.csv"])
        #expect(throws: ArtifactError.self) { try writer.write(Array("late".utf8)) }
        #expect(throws: ArtifactError.self) { try AtomicFileWriter(destination: directory.path("missing/p.csv")) }
    }
}
