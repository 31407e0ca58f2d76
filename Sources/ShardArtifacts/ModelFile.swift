import Foundation
import ShardData
import ShardModels

/// A trained model on disk: safetensors with one F64 tensor per layout entry and string metadata.
///
/// Metadata keys (all values are strings, as safetensors requires):
///
///     format                 "shardtrain-model-v1"
///     model                  the model kind (logistic, svm, quantile, softmax, triplet, vae)
///     spec                   the full ModelSpec as JSON (kind, feature count, l2 and every hyper-parameter)
///     feature_names          JSON array of the training CSV's feature column names, in order
///     label_column           the label column's name
///     label_encoding         zeroOne, plusMinusOne or none: how the training CSV writes binary labels
///                            (the model itself uses 0/1 for logistic and ±1 for svm; predictions are
///                            written back in this encoding)
///     standardized           "true" or "false"
///     standardization_mean   JSON array (only when standardized): subtract from each feature …
///     standardization_std    JSON array: … then divide by this (a 0 is read as 1)
///     decision_threshold     JSON object (optional; binary models trained with --threshold-for): `DecisionThreshold`
///     schema                 JSON (optional): the training CSV's columns by name and kind — numeric, categorical
///                            with its vocabulary, label (with its classes for string labels), ignored, id — the
///                            fill values of missing cells and the missing-value policy (`TableSchema`)
///     classes                JSON array (optional): the label's class names by label value (binary models:
///                            [negative, positive]); absent in files written before it, whose names are derived
///                            from label_encoding
///
/// NumPy users: `safetensors.numpy.load_file(path)` gives the tensors; `json.loads(metadata["spec"])` the spec.
public struct ModelFile: Sendable, Equatable {
    public static let format = "shardtrain-model-v1"

    public var spec: ModelSpec
    public var parameters: [Double]
    public var featureNames: [String]
    public var labelName: String
    /// "zeroOne", "plusMinusOne" or nil.
    public var labelEncoding: String?
    public var standardization: Standardization?
    public var decisionThreshold: DecisionThreshold?
    /// The training CSV's columns (nil: a file written before schemas were recorded, or data without a CSV schema).
    public var schema: TableSchema?
    /// The label's class names by label value (nil: not recorded).
    public var classes: [String]?

    public init(
        spec: ModelSpec, parameters: [Double], featureNames: [String], labelName: String, labelEncoding: String?,
        standardization: Standardization?, schema: TableSchema? = nil, classes: [String]? = nil
    ) {
        self.schema = schema
        self.classes = classes
        self.spec = spec
        self.parameters = parameters
        self.featureNames = featureNames
        self.labelName = labelName
        self.labelEncoding = labelEncoding
        self.standardization = standardization
    }

    /// Writes the file atomically.
    public func write(to path: String) throws(ArtifactError) {
        try AtomicFile.write(try encoded(path: path), to: path)
    }

    /// The bytes of the file (`path` names it in messages).
    public func encoded(path: String) throws(ArtifactError) -> Data {
        let model: any Model
        do {
            model = try spec.makeModel()
        } catch {
            throw .format(path: path, reason: "\(error)")
        }
        guard model.parameterCount == parameters.count else {
            throw .format(path: path, reason: "\(parameters.count) parameters for a model with \(model.parameterCount)")
        }
        let tensors = model.layout.tensors.map { tensor in
            SafetensorsFile.Tensor(name: tensor.name, shape: tensor.shape, values: Array(parameters[tensor.range]))
        }
        var metadata: [String: String] = [
            "format": Self.format,
            "model": spec.kind.rawValue,
            "spec": Self.json(spec),
            "feature_names": Self.json(featureNames),
            "label_column": labelName,
            "label_encoding": labelEncoding ?? "none",
            "standardized": standardization == nil ? "false" : "true",
        ]
        if let standardization {
            metadata["standardization_mean"] = Self.json(standardization.means)
            metadata["standardization_std"] = Self.json(standardization.standardDeviations)
        }
        if let decisionThreshold { metadata["decision_threshold"] = Self.json(decisionThreshold) }
        if let schema { metadata["schema"] = Self.json(schema) }
        if let classes { metadata["classes"] = Self.json(classes) }
        return try SafetensorsFile(tensors: tensors, metadata: metadata).encoded()
    }

    /// Reads a file written by `write`, checking that the tensors fit the spec's layout.
    public static func read(from path: String) throws(ArtifactError) -> ModelFile {
        let file = try SafetensorsFile.read(from: path)
        let metadata = file.metadata
        guard metadata["format"] == format else {
            throw .format(path: path, reason: "metadata format is \(metadata["format"] ?? "missing"), expected \(format)")
        }
        func decode<T: Decodable>(_ type: T.Type, _ key: String) throws(ArtifactError) -> T {
            guard let text = metadata[key] else { throw .format(path: path, reason: "metadata has no \(key)") }
            do {
                return try JSONDecoder().decode(T.self, from: Data(text.utf8))
            } catch {
                throw .format(path: path, reason: "metadata \(key) is not valid: \(error)")
            }
        }
        let spec = try decode(ModelSpec.self, "spec")
        let featureNames = try decode([String].self, "feature_names")
        guard featureNames.count == spec.featureCount else {
            throw .format(path: path, reason: "\(featureNames.count) feature names for a model of \(spec.featureCount) features")
        }
        let model: any Model
        do {
            model = try spec.makeModel()
        } catch {
            throw .format(path: path, reason: "\(error)")
        }
        var parameters: [Double] = []
        for tensor in model.layout.tensors {
            guard let stored = file.tensors.first(where: { $0.name == tensor.name }) else {
                throw .format(path: path, reason: "tensor \(tensor.name) is missing")
            }
            guard stored.shape == tensor.shape else {
                throw .format(path: path, reason: "tensor \(tensor.name) has shape \(stored.shape), expected \(tensor.shape)")
            }
            guard let bad = stored.values.firstIndex(where: { !$0.isFinite }) else {
                parameters += stored.values
                continue
            }
            throw .format(path: path, reason: "tensor \(tensor.name) entry \(bad) is \(stored.values[bad])")
        }
        var standardization: Standardization?
        if metadata["standardized"] == "true" {
            let means = try decode([Double].self, "standardization_mean")
            let deviations = try decode([Double].self, "standardization_std")
            guard means.count == spec.featureCount, deviations.count == spec.featureCount else {
                throw .format(
                    path: path,
                    reason: "standardisation of \(means.count)/\(deviations.count) features for a model of \(spec.featureCount)")
            }
            do {
                standardization = try Standardization(means: means, standardDeviations: deviations)
            } catch {
                throw .format(path: path, reason: "\(error)")
            }
        }
        let encoding = metadata["label_encoding"].flatMap { $0 == "none" ? nil : $0 }
        let schema = metadata["schema"] == nil ? nil : try decode(TableSchema.self, "schema")
        if let schema, schema.featureNames != featureNames {
            throw .format(path: path, reason: "the schema's features differ from feature_names")
        }
        let classes = metadata["classes"] == nil ? nil : try decode([String].self, "classes")
        var read = ModelFile(
            spec: spec, parameters: parameters, featureNames: featureNames, labelName: metadata["label_column"] ?? "",
            labelEncoding: encoding, standardization: standardization, schema: schema, classes: classes)
        if metadata["decision_threshold"] != nil {
            let threshold = try decode(DecisionThreshold.self, "decision_threshold")
            guard threshold.value.isFinite else { throw .format(path: path, reason: "decision_threshold value is not finite") }
            read.decisionThreshold = threshold
        }
        return read
    }

    private static func json<T: Encodable>(_ value: T) -> String {
        // Specs, names and finite numbers always encode.
        String(decoding: try! JSONStyle.encoder().encode(value), as: UTF8.self)
    }
}
