/// The models the engine can train.
public enum ModelKind: String, Sendable, Codable, CaseIterable {
    case logistic

    /// The label values a model accepts after encoding.
    public var labelEncoding: LabelEncoding {
        switch self {
        case .logistic: .zeroOne
        }
    }
}

/// How a binary model wants its labels.
public enum LabelEncoding: String, Sendable, Codable {
    /// y ∈ {0, 1}
    case zeroOne
    /// y ∈ {−1, +1}
    case plusMinusOne
}

/// Everything needed to rebuild a model in another process: kind, input width and hyper-parameters.
public struct ModelSpec: Sendable, Codable, Equatable {
    public var kind: ModelKind
    public var featureCount: Int
    /// Strength of the L2 penalty `(l2/2)·‖W‖²` on weight tensors.
    public var l2: Double

    public init(kind: ModelKind, featureCount: Int, l2: Double) {
        self.kind = kind
        self.featureCount = featureCount
        self.l2 = l2
    }

    /// Builds the model, checking the hyper-parameters.
    public func makeModel() throws(ModelError) -> any Model {
        guard featureCount >= 1 else { throw .invalidSpec("feature count \(featureCount) must be at least 1") }
        guard l2.isFinite, l2 >= 0 else { throw .invalidSpec("l2 = \(l2) must be finite and non-negative") }
        switch kind {
        case .logistic: return LogisticRegression(featureCount: featureCount, l2: l2)
        }
    }
}
