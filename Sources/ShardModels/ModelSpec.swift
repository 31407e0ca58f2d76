import ShardNumerics

/// The models the engine can train.
public enum ModelKind: String, Sendable, Codable, CaseIterable {
    /// Binary logistic regression: BCE from logits, or focal loss; optional class weights.
    case logistic
    /// Linear SVM: hinge loss (smoothed by `RoundContext.smoothing` during continuation).
    case svm
    /// Linear quantile regression: pinball loss for one or several τ.
    case quantile
    /// Softmax regression: categorical cross-entropy from logits.
    case softmax
    /// Embedding network trained with triplet loss (or contrastive pairs).
    case triplet
    /// Variational auto-encoder.
    case vae
    /// Linear regression: squared error (ridge), Huber or absolute error.
    case linear
}

/// How a model reads the label column.
public enum LabelKind: Sendable, Equatable {
    /// Two classes, encoded as the model wants them.
    case binary(BinaryLabelEncoding)
    /// Class indices 0, 1, …, K−1.
    case classIndex
    /// A real-valued target (regression).
    case real
    /// Unsupervised: the labels are not used.
    case ignored
}

/// Focal-loss parameters (α_t convention: weight α for y = 1 and 1 − α for y = 0).
public struct FocalParameters: Sendable, Codable, Equatable {
    public var gamma: Double
    public var alpha: Double

    public init(gamma: Double, alpha: Double) {
        self.gamma = gamma
        self.alpha = alpha
    }
}

/// How training pairs or triplets are formed inside a block for the embedding model.
public enum PairObjective: String, Sendable, Codable, CaseIterable {
    /// Triplets (anchor, positive, negative) with a random negative.
    case tripletRandom
    /// Triplets with a semi-hard negative: farther than the positive, inside the margin if possible.
    case tripletSemiHard
    /// Contrastive loss on pairs (same / different class).
    case contrastive
}

/// The loss of linear regression (on the residual e = y − ŷ).
public enum RegressionLoss: String, Sendable, Codable, CaseIterable {
    /// e² (ridge regression with `l2`).
    case mse
    /// ½e² for |e| ≤ δ, δ(|e| − ½δ) beyond: quadratic near 0, linear in the tails.
    case huber
    /// |e|: the conditional median, solved by smoothing continuation.
    case mae
}

/// Linear regression's loss and, for Huber, its threshold δ.
public struct RegressionSettings: Sendable, Codable, Equatable {
    public var loss: RegressionLoss
    /// Huber's δ > 0 (nil for the other losses).
    public var delta: Double?

    public init(loss: RegressionLoss, delta: Double? = nil) {
        self.loss = loss
        self.delta = delta
    }
}

/// The triplet / contrastive embedding network's settings.
public struct TripletSettings: Sendable, Codable, Equatable {
    /// K: labels are class indices 0…K−1.
    public var classCount: Int
    /// E, the embedding dimension.
    public var embeddingDimension: Int
    /// Width of the hidden ReLU layer (nil = the linear variant `tanh(x·W)`).
    public var hiddenUnits: Int?
    /// Margin of the triplet or contrastive loss.
    public var margin: Double
    public var pairObjective: PairObjective

    public init(
        classCount: Int, embeddingDimension: Int, hiddenUnits: Int? = nil, margin: Double = 1,
        pairObjective: PairObjective = .tripletRandom
    ) {
        self.classCount = classCount
        self.embeddingDimension = embeddingDimension
        self.hiddenUnits = hiddenUnits
        self.margin = margin
        self.pairObjective = pairObjective
    }
}

/// A model kind with the settings that apply to it, and nothing else.
public enum ModelConfiguration: Sendable, Equatable {
    /// BCE from logits, or focal loss; optional per-class weights `[w₀, w₁]`.
    case logistic(focal: FocalParameters? = nil, classWeights: [Double]? = nil)
    case svm
    /// One output per level τ ∈ (0, 1).
    case quantile(taus: [Double])
    /// K classes, optional per-class weights (K entries).
    case softmax(classCount: Int, classWeights: [Double]? = nil)
    case triplet(TripletSettings)
    /// L, the latent dimension; the hidden ReLU width (nil = linear encoder and decoder).
    case vae(latentDimension: Int, hiddenUnits: Int? = nil)
    case linear(RegressionSettings)

    public var kind: ModelKind {
        switch self {
        case .logistic: .logistic
        case .svm: .svm
        case .quantile: .quantile
        case .softmax: .softmax
        case .triplet: .triplet
        case .vae: .vae
        case .linear: .linear
        }
    }

    /// Whether the exact loss has kinks (hinge, pinball, absolute error), so that full-batch solvers reach the
    /// optimum through a smoothing continuation.
    public var isNonSmooth: Bool {
        switch self {
        case .svm, .quantile: true
        case .linear(let settings): settings.loss == .mae
        case .logistic, .softmax, .triplet, .vae: false
        }
    }
}

/// Everything needed to rebuild a model in another process: input width, L2 strength, kind and its settings.
///
/// Encoded flat, as model files and job specs have always held it (readable and writable by hand):
/// `{"kind": "softmax", "featureCount": 64, "l2": 0.001, "classCount": 10}` — the keys of the kind's settings
/// (`focal`, `classWeights`, `classCount`, `taus`, `margin`, `hiddenUnits`, `outputDimension`,
/// `pairObjective`, `regression`) beside the three common ones; a key another kind uses is refused.
public struct ModelSpec: Sendable, Codable, Equatable {
    public var featureCount: Int
    /// Strength of the L2 penalty `(l2/2)·‖W‖²` on weight tensors (never on biases).
    public var l2: Double
    public var configuration: ModelConfiguration

    public init(featureCount: Int, l2: Double, _ configuration: ModelConfiguration) {
        self.featureCount = featureCount
        self.l2 = l2
        self.configuration = configuration
    }

    public var kind: ModelKind { configuration.kind }
    public var isNonSmooth: Bool { configuration.isNonSmooth }

    /// Builds the model, checking the hyper-parameters and, first, the sizes against `memory` (`validateSizes`).
    public func makeModel(memory: MachineMemory = .current()) throws(ModelError) -> any Model {
        guard featureCount >= 1 else { throw .invalidSpec("feature count \(featureCount) must be at least 1") }
        guard l2.isFinite, l2 >= 0 else { throw .invalidSpec("l2 = \(l2) must be finite and non-negative") }
        try validateSizes(memory: memory)
        switch configuration {
        case .logistic(let focal, let classWeights):
            return try LogisticRegression(featureCount: featureCount, l2: l2, focal: focal, classWeights: classWeights)
        case .svm:
            return LinearSVM(featureCount: featureCount, l2: l2)
        case .quantile(let taus):
            return try QuantileRegression(featureCount: featureCount, l2: l2, taus: taus)
        case .softmax(let classCount, let classWeights):
            return try SoftmaxRegression(
                featureCount: featureCount, l2: l2, classCount: classCount, classWeights: classWeights)
        case .triplet(let settings):
            return try TripletEmbedding(
                featureCount: featureCount, embeddingDimension: settings.embeddingDimension,
                hiddenUnits: settings.hiddenUnits, margin: settings.margin, l2: l2, classCount: settings.classCount,
                pairObjective: settings.pairObjective)
        case .vae(let latentDimension, let hiddenUnits):
            return try VariationalAutoencoder(
                featureCount: featureCount, latentDimension: latentDimension, hiddenUnits: hiddenUnits, l2: l2)
        case .linear(let settings):
            return try LinearRegression(featureCount: featureCount, l2: l2, settings: settings)
        }
    }
}

extension ModelSpec {
    private enum CodingKeys: String, CodingKey, CaseIterable {
        case kind, featureCount, l2, focal, classWeights, classCount, taus, margin, hiddenUnits, outputDimension
        case pairObjective, regression
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        featureCount = try container.decode(Int.self, forKey: .featureCount)
        l2 = try container.decode(Double.self, forKey: .l2)
        let kind = try container.decode(ModelKind.self, forKey: .kind)
        var used: Set<CodingKeys> = [.kind, .featureCount, .l2]
        func required<T: Decodable>(_ type: T.Type, _ key: CodingKeys) throws -> T {
            used.insert(key)
            return try container.decode(type, forKey: key)
        }
        func optional<T: Decodable>(_ type: T.Type, _ key: CodingKeys) throws -> T? {
            used.insert(key)
            return try container.decodeIfPresent(type, forKey: key)
        }
        switch kind {
        case .logistic:
            configuration = .logistic(
                focal: try optional(FocalParameters.self, .focal), classWeights: try optional([Double].self, .classWeights))
        case .svm:
            configuration = .svm
        case .quantile:
            configuration = .quantile(taus: try required([Double].self, .taus))
        case .softmax:
            configuration = .softmax(
                classCount: try required(Int.self, .classCount), classWeights: try optional([Double].self, .classWeights))
        case .triplet:
            configuration = .triplet(
                TripletSettings(
                    classCount: try required(Int.self, .classCount),
                    embeddingDimension: try required(Int.self, .outputDimension),
                    hiddenUnits: try optional(Int.self, .hiddenUnits), margin: try required(Double.self, .margin),
                    pairObjective: try optional(PairObjective.self, .pairObjective) ?? .tripletRandom))
        case .vae:
            configuration = .vae(
                latentDimension: try required(Int.self, .outputDimension), hiddenUnits: try optional(Int.self, .hiddenUnits))
        case .linear:
            configuration = .linear(try required(RegressionSettings.self, .regression))
        }
        if let foreign = CodingKeys.allCases.first(where: { !used.contains($0) && container.contains($0) }) {
            throw DecodingError.dataCorruptedError(
                forKey: foreign, in: container, debugDescription: "\(foreign.rawValue) does not apply to \(kind.rawValue) models")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(kind, forKey: .kind)
        try container.encode(featureCount, forKey: .featureCount)
        try container.encode(l2, forKey: .l2)
        switch configuration {
        case .logistic(let focal, let classWeights):
            try container.encodeIfPresent(focal, forKey: .focal)
            try container.encodeIfPresent(classWeights, forKey: .classWeights)
        case .svm:
            break
        case .quantile(let taus):
            try container.encode(taus, forKey: .taus)
        case .softmax(let classCount, let classWeights):
            try container.encode(classCount, forKey: .classCount)
            try container.encodeIfPresent(classWeights, forKey: .classWeights)
        case .triplet(let settings):
            try container.encode(settings.classCount, forKey: .classCount)
            try container.encode(settings.embeddingDimension, forKey: .outputDimension)
            try container.encodeIfPresent(settings.hiddenUnits, forKey: .hiddenUnits)
            try container.encode(settings.margin, forKey: .margin)
            try container.encode(settings.pairObjective, forKey: .pairObjective)
        case .vae(let latentDimension, let hiddenUnits):
            try container.encode(latentDimension, forKey: .outputDimension)
            try container.encodeIfPresent(hiddenUnits, forKey: .hiddenUnits)
        case .linear(let settings):
            try container.encode(settings, forKey: .regression)
        }
    }
}
