import Foundation
import ShardArtifacts
import ShardData
import ShardModels
import Testing
import _TestSupport

extension ArtifactsTests {
    /// One spec per model kind, with the hyper-parameters each needs.
    static let specs: [ModelSpec] = [
        ModelSpec(featureCount: 3, l2: 0.01, .logistic(focal: FocalParameters(gamma: 2, alpha: 0.25))),
        ModelSpec(featureCount: 4, l2: 0.5, .svm),
        ModelSpec(featureCount: 3, l2: 0, .quantile(taus: [0.1, 0.5, 0.9])),
        ModelSpec(featureCount: 2, l2: 1e-3, .softmax(classCount: 3, classWeights: [1, 2, 0.5])),
        ModelSpec(featureCount: 4, l2: 0.01, .triplet(TripletSettings(classCount: 5, embeddingDimension: 2, hiddenUnits: 3, margin: 0.2, pairObjective: .tripletSemiHard))),
        ModelSpec(featureCount: 4, l2: 0, .vae(latentDimension: 2, hiddenUnits: nil)),
    ]

    /// Parameters with awkward bit patterns (negative zero, subnormals, long decimals), reproducible.
    static func parameters(count: Int) -> [Double] {
        (0..<count).map { k in
            switch k % 4 {
            case 0: Double(k) * 0.1 - 1.3
            case 1: -0.0
            case 2: Double.leastNonzeroMagnitude * Double(k)
            default: 1 / 3 * Double(k)
            }
        }
    }

    @Test("a model file reads back the same spec, parameters, names, encoding and standardisation", arguments: specs)
    func modelFileRoundTrip(spec: ModelSpec) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let model = try spec.makeModel()
        let names = (0..<spec.featureCount).map { "feature_\($0)" }
        let standardization = try Standardization(
            means: (0..<spec.featureCount).map { Double($0) * 1.5 - 0.1 },
            standardDeviations: (0..<spec.featureCount).map { $0 == 1 ? 0 : 0.7 * Double($0 + 1) })
        let file = ModelFile(
            spec: spec, parameters: Self.parameters(count: model.parameterCount), featureNames: names,
            labelName: "label", labelEncoding: spec.kind == .svm ? "plusMinusOne" : nil,
            standardization: spec.kind == .vae ? nil : standardization)
        let path = directory.path("model.safetensors")
        try file.write(to: path)
        let read = try ModelFile.read(from: path)
        #expect(read.spec == file.spec)
        #expect(read.parameters.map(\.bitPattern) == file.parameters.map(\.bitPattern))
        #expect(read.featureNames == names && read.labelName == "label" && read.labelEncoding == file.labelEncoding)
        #expect(read.standardization == file.standardization)
        // The raw file has one tensor per layout entry with the layout's shape.
        let tensors = try SafetensorsFile.read(from: path).tensors
        #expect(tensors.map(\.name) == model.layout.tensors.map(\.name))
        #expect(tensors.map(\.shape) == model.layout.tensors.map(\.shape))
    }

    @Test("the schema and the classes read back; a file without them reads with nil; a schema of other features is refused")
    func schemaRoundTrip() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let spec = ModelSpec(featureCount: 3, l2: 0.01, .logistic(focal: nil))
        let schema = TableSchema(
            columns: [
                TableSchema.Column(name: "id", kind: .id), TableSchema.Column(name: "size", kind: .numeric, fill: 2.5),
                TableSchema.Column(name: "color", kind: .categorical, values: ["blue", "red"]),
                TableSchema.Column(name: "note", kind: .ignored),
                TableSchema.Column(name: "label", kind: .label, values: ["yes", "no"]),
            ], missing: .mean)
        var file = ModelFile(
            spec: spec, parameters: Self.parameters(count: 4), featureNames: schema.featureNames, labelName: "label",
            labelEncoding: "zeroOne", standardization: nil, schema: schema, classes: ["yes", "no"])
        let path = directory.path("model.safetensors")
        try file.write(to: path)
        let read = try ModelFile.read(from: path)
        #expect(read == file)
        #expect(read.featureNames == ["size", "color=blue", "color=red"])
        file.schema = nil
        file.classes = nil
        try file.write(to: path)
        #expect(try ModelFile.read(from: path) == file)
        // Metadata whose schema makes other features than feature_names.
        var raw = try SafetensorsFile.read(from: path)
        raw.metadata["schema"] = "{\"columns\":[{\"name\":\"a\",\"kind\":\"numeric\"}],\"missing\":\"error\"}"
        try Data(try raw.encoded()).write(to: URL(fileURLWithPath: path))
        #expect(throws: ArtifactError.self) { try ModelFile.read(from: path) }
    }

    @Test("a wrong parameter count is refused on write")
    func modelFileWrongParameterCount() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = ModelFile(
            spec: ModelSpec(featureCount: 3, l2: 0, .logistic()), parameters: [1, 2, 3], featureNames: ["a", "b", "c"],
            labelName: "y", labelEncoding: nil, standardization: nil)
        #expect(throws: ArtifactError.self) { try file.write(to: directory.path("m.safetensors")) }
    }

    /// A valid logistic model file's metadata and tensors, to corrupt one piece at a time.
    static func validLogisticParts() -> (metadata: [String: String], tensors: [SafetensorsFile.Tensor]) {
        let metadata = [
            "format": ModelFile.format, "model": "logistic",
            "spec": #"{"featureCount":2,"kind":"logistic","l2":0.01}"#, "feature_names": #"["a","b"]"#,
            "label_column": "y", "label_encoding": "zeroOne", "standardized": "true",
            "standardization_mean": "[0.5,1]", "standardization_std": "[2,0]",
        ]
        let tensors = [
            SafetensorsFile.Tensor(name: "w", shape: [2], values: [0.25, -1]),
            SafetensorsFile.Tensor(name: "b", shape: [], values: [0.5]),
        ]
        return (metadata, tensors)
    }

    @Test("a hand-written file in the documented format reads as expected")
    func modelFileFromParts() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (metadata, tensors) = Self.validLogisticParts()
        let path = directory.path("m.safetensors")
        try SafetensorsFile(tensors: tensors, metadata: metadata).write(to: path)
        let file = try ModelFile.read(from: path)
        #expect(file.spec == ModelSpec(featureCount: 2, l2: 0.01, .logistic()))
        #expect(file.parameters == [0.25, -1, 0.5])
        #expect(file.standardization == (try Standardization(means: [0.5, 1], standardDeviations: [2, 0])))
        #expect(file.labelEncoding == "zeroOne")
    }

    /// The valid parts with one thing broken, by name.
    static func corrupted(_ name: String) -> (metadata: [String: String], tensors: [SafetensorsFile.Tensor]) {
        var (metadata, tensors) = validLogisticParts()
        switch name {
        case "format missing": metadata["format"] = nil
        case "other format": metadata["format"] = "shardtrain-model-v0"
        case "spec not JSON": metadata["spec"] = "{kind: logistic"
        case "spec of an unknown kind": metadata["spec"] = #"{"featureCount":2,"kind":"tree","l2":0}"#
        case "invalid spec": metadata["spec"] = #"{"featureCount":0,"kind":"logistic","l2":0}"#
        case "feature names missing": metadata["feature_names"] = nil
        case "standardisation not numbers": metadata["standardization_mean"] = #"["x",1]"#
        case "negative standard deviation": metadata["standardization_std"] = "[-1,1]"
        case "tensor missing": tensors.removeLast()
        case "tensor of the wrong shape": tensors[0] = SafetensorsFile.Tensor(name: "w", shape: [1, 2], values: [1, 2])
        case "fewer feature names than features": metadata["feature_names"] = #"["a"]"#
        case "standardisation of another width": metadata["standardization_mean"] = "[0.5,1,2]"
        case "non-finite parameter": tensors[1] = SafetensorsFile.Tensor(name: "b", shape: [], values: [.nan])
        default: break
        }
        return (metadata, tensors)
    }

    @Test(
        "corrupt model metadata or tensors are an ArtifactError",
        arguments: [
            "format missing", "other format", "spec not JSON", "spec of an unknown kind", "invalid spec",
            "feature names missing", "standardisation not numbers", "negative standard deviation", "tensor missing",
            "tensor of the wrong shape", "fewer feature names than features", "standardisation of another width",
            "non-finite parameter",
        ])
    func modelFileCorrupt(name: String) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (metadata, tensors) = Self.corrupted(name)
        #expect(metadata != Self.validLogisticParts().metadata || tensors != Self.validLogisticParts().tensors)
        let path = directory.path("m.safetensors")
        try SafetensorsFile(tensors: tensors, metadata: metadata).write(to: path)
        #expect(throws: ArtifactError.self) { try ModelFile.read(from: path) }
    }
}

/// A file that is not safetensors (a CSV passed as the model) is named as such, not as a corrupt header.
@Test func aCSVIsNotTakenForACorruptModelFile() {
    for text in ["age,sex,bmi\n59,2,32.1\n", "short", ""] {
        do {
            _ = try SafetensorsFile.decode(Data(text.utf8), path: "data.csv")
            Issue.record("decoded \(text)")
        } catch {
            guard case .format(let path, let reason) = error else { Issue.record("\(error)"); continue }
            #expect(path == "data.csv" && reason.hasPrefix("not a safetensors model file"), "\(reason)")
        }
    }
}

/// A checkpoint or a summary given as the model is named as what it is; a real model whose header length starts with
/// the byte of "{" (123 bytes) is still a model.
@Test func aCheckpointOrASummaryIsNamedAndAHeaderOf123BytesStillReads() throws {
    let cases = [
        ("shardtrain-checkpoint 1 bytes=10 sha256=00\n0123456789", "a checkpoint (of train --checkpoint), not a model file"),
        (#"{"model": "logistic", "parameters_sha256": "ab"}"#, "this is JSON (a summary of --summary-json?), not a model"),
    ]
    for (text, expected) in cases {
        do {
            _ = try SafetensorsFile.decode(Data(text.utf8), path: "x")
            Issue.record("decoded \(text)")
        } catch {
            guard case .format(_, let reason) = error else { Issue.record("\(error)"); continue }
            #expect(reason.contains(expected), "\(reason)")
        }
    }
    // A header of exactly 123 bytes: its length's first byte is "{".
    var header = #"{"__metadata__":{"k":"v"},"w":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}"#
    header += String(repeating: " ", count: 123 - header.utf8.count)
    var bytes: [UInt8] = [123, 0, 0, 0, 0, 0, 0, 0] + Array(header.utf8)
    bytes += withUnsafeBytes(of: (1.5).bitPattern.littleEndian) { Array($0) }
    let file = try SafetensorsFile.decode(Data(bytes), path: "model.safetensors")
    #expect(file.metadata["k"] == "v")
}

/// A model file cut short (a partial copy) is called truncated, with the sizes, not "not a safetensors model file".
@Test func aTruncatedModelFileIsCalledTruncated() throws {
    let directory = try TemporaryDirectory()
    defer { directory.remove() }
    let path = directory.path("m.safetensors")
    try SafetensorsFile(tensors: [.init(name: "w", shape: [3], values: [1, 2, 3])], metadata: ["k": "v"]).write(to: path)
    let whole = try Data(contentsOf: URL(fileURLWithPath: path))
    for length in [12, 40] {
        do {
            _ = try SafetensorsFile.decode(whole.prefix(length), path: path)
            Issue.record("decoded \(length) bytes")
        } catch {
            guard case .format(_, let reason) = error else { Issue.record("\(error)"); continue }
            #expect(reason.hasPrefix("the model file is truncated: its header alone needs "), "\(reason)")
            #expect(reason.contains("the file has \(length - 8)"), "\(reason)")
        }
    }
}
