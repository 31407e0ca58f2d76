import Foundation
import ShardArtifacts
import ShardData
import ShardLosses
import ShardMetrics
import ShardModels
import ShardNumerics

/// Why `predict`, `evaluate`, `identify`, `sample` or `reconstruct` could not run.
public enum ApplicationError: Error, Sendable, Equatable, CustomStringConvertible {
    case artifact(ArtifactError)
    case data(DataError)
    case model(ModelError)
    case metrics(MetricsError)
    /// The CSV's feature columns are not the model's `feature_names` (same names, same order).
    case columnMismatch(path: String, detail: String)
    /// The command needs labels but the CSV has only the feature columns.
    case missingLabels(path: String, labelColumn: String)
    /// A label the model kind cannot use, at a 1-based file line.
    case invalidLabel(path: String, line: Int, value: Double, requirement: String)
    /// The command does not apply to the model's kind.
    case unsupportedKind(command: String, kind: ModelKind, supported: [ModelKind])
    /// A command-line value that does not fit the model (image side, count).
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .artifact(let error): return error.description
        case .data(let error): return error.description
        case .model(let error): return error.description
        case .metrics(let error): return error.description
        case .columnMismatch(let path, let detail):
            return "\(path):1: the columns do not match the model's features: \(detail)"
        case .missingLabels(let path, let labelColumn):
            return "\(path):1: this command needs labels, but there is no label column \"\(labelColumn)\""
        case .invalidLabel(let path, let line, let value, let requirement):
            return "\(path):\(line): label \(value) is invalid: \(requirement)"
        case .unsupportedKind(let command, let kind, let supported):
            return "\(command) works with \(supported.map(\.rawValue).joined(separator: ", ")) models; "
                + "this model is \(kind.rawValue)"
        case .invalidArgument(let message): return message
        }
    }
}

/// Whether a command needs the label column.
public enum LabelRequirement: Sendable {
    case required
    case optional
    /// Not read even when the file has the label column (predict: new rows often carry an empty or unknown target).
    case ignored
}

