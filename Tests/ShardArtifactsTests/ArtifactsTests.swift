import Foundation
import ShardArtifacts
import Testing
import _TestSupport

@Suite("Artifacts")
struct ArtifactsTests {
    @Test("SHA-256 matches the FIPS 180-2 test vectors")
    func sha256Vectors() {
        #expect(Digest.sha256Hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Digest.sha256Hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test("parameters_sha256 hashes the little-endian float64 bytes (value from Python's hashlib and struct)")
    func parameterDigest() {
        // hashlib.sha256(struct.pack('<3d', 1.0, -2.5, 0.1)).hexdigest()
        #expect(Digest.parametersSHA256([1.0, -2.5, 0.1]) == "71da1541228ec3b80f80a42910c0512bc24ce229e09875fa2684836df5f229ee")
        #expect(Digest.parametersSHA256([0.0]) != Digest.parametersSHA256([-0.0]))
    }

    @Test("safetensors files round-trip exactly, with metadata and 8-byte aligned data")
    func safetensorsRoundTrip() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = SafetensorsFile(
            tensors: [
                .init(name: "w", shape: [3], values: [1.5, -0.0, .leastNonzeroMagnitude]),
                .init(name: "b", shape: [], values: [0.25]),
                .init(name: "W", shape: [2, 2], values: [1, 2, 3, 4]),
            ],
            metadata: ["model": "logistic", "feature_names": "[\"a\",\"b\",\"c\"]"])
        let path = directory.path("model.safetensors")
        try file.write(to: path)
        let read = try SafetensorsFile.read(from: path)
        #expect(read.metadata == file.metadata)
        #expect(read.tensors.map(\.name) == ["w", "b", "W"])
        #expect(read.tensors.map(\.shape) == file.tensors.map(\.shape))
        #expect(read.tensors.flatMap(\.values).map(\.bitPattern) == file.tensors.flatMap(\.values).map(\.bitPattern))
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let headerLength = bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        #expect(headerLength % 8 == 0)
        #expect(bytes.count == 8 + headerLength + 8 * 8)
    }

    @Test("corrupt safetensors files are reported, not trapped on")
    func safetensorsCorrupt() throws {
        #expect(throws: ArtifactError.self) { try SafetensorsFile.decode(Data([1, 2, 3]), path: "x") }
        #expect(throws: ArtifactError.self) { try SafetensorsFile.decode(Data([255, 0, 0, 0, 0, 0, 0, 0, 1]), path: "x") }
        let header = Array(#"{"w":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}}"#.utf8)
        var data = Data([UInt8(header.count), 0, 0, 0, 0, 0, 0, 0] + header)
        data.append(Data(count: 8))
        #expect(throws: ArtifactError.self) { try SafetensorsFile.decode(data, path: "x") }
        // Negative dimensions, reversed offsets and huge shapes are errors, not traps.
        for entry in [
            #"{"w":{"dtype":"F64","shape":[-1],"data_offsets":[8,0]}}"#,
            #"{"w":{"dtype":"F64","shape":[4611686018427387904,4],"data_offsets":[0,8]}}"#,
            #"{"w":{"dtype":"F64","shape":[1],"data_offsets":[-8,0]}}"#,
        ] {
            let header = Array(entry.utf8)
            var bytes = Data([UInt8(header.count), 0, 0, 0, 0, 0, 0, 0] + header)
            bytes.append(Data(count: 16))
            #expect(throws: ArtifactError.self, "\(entry)") { try SafetensorsFile.decode(bytes, path: "x") }
        }
    }

    /// Reading went through `FileManager.contents(atPath:)`, which reads `/dev/zero` until memory runs out (and
    /// leaks 4 KiB per file, found by `scripts/fuzz.sh modelfile`).
    @Test("a model path that is not a regular file is refused with the reason")
    func safetensorsReadRefusesNonRegularFiles() {
        for (path, reason) in [
            ("/dev/zero", "not a regular file (a device)"), ("/", "Is a directory"),
            ("/nonexistent/m.safetensors", "No such file or directory"),
        ] {
            #expect(throws: ArtifactError.io(path: path, reason: "cannot read the file: \(reason)")) {
                try SafetensorsFile.read(from: path)
            }
        }
    }

    @Test("atomic writes replace the file whole and leave no temporary files; a missing directory is an error")
    func atomicWrites() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("summary.json")
        try AtomicFile.write(Data("first".utf8), to: path)
        try AtomicFile.write(Data("second".utf8), to: path)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "second")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.url.path) == ["summary.json"])
        #expect(throws: ArtifactError.self) {
            try AtomicFile.write(Data(), to: directory.path("missing/summary.json"))
        }
    }

    @Test("the summary has the documented snake_case keys")
    func summaryKeys() throws {
        let summary = RunSummary(
            model: "logistic", workers: 2, rounds: 10, objective: 0.1, dataLoss: 0.09, l2Term: 0.01, gradientNorm: 1e-9,
            converged: true, stopReason: "gradient", trainAccuracy: 0.99, wallSeconds: 0.5,
            parametersSHA256: "00", parameters: [1, 2], optimizer: "lbfgs", precision: "float64", l2: 0.01, rows: 455,
            features: 30, blockRows: 128, blocks: 4, dataFile: "data/breast_cancer.csv")
        let object = try #require(try JSONSerialization.jsonObject(with: summary.jsonData()) as? [String: Any])
        for key in [
            "model", "workers", "rounds", "objective", "data_loss", "l2_term", "gradient_norm", "converged",
            "train_accuracy", "wall_seconds", "parameters_sha256",
        ] {
            #expect(object[key] != nil, "missing \(key)")
        }
        let decoded = try JSONDecoder().decode(RunSummary.self, from: summary.jsonData())
        #expect(decoded == summary)
    }
}
