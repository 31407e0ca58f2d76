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

    /// Whether a block's loss depends on the round's random numbers (triplet mining, VAE noise), so that the
    /// same parameters give another data loss in another round.
    public var lossDrawsRandomNumbers: Bool {
        switch self {
        case .logistic, .svm, .quantile, .softmax, .linear: false
        case .triplet, .vae: true
        }
    }

    /// What the label column means for this model.
    public var labelKind: LabelKind {
        switch self {
        case .logistic: .binary(.zeroOne)
        case .svm: .binary(.plusMinusOne)
        case .quantile, .linear: .real
        case .softmax, .triplet: .classIndex
        case .vae: .ignored
        }
    }
}

/// How a model reads the label column.
public enum LabelKind: Sendable, Equatable {
    /// Two classes, encoded as the model wants them.
    case binary(LabelEncoding)
    /// Class indices 0, 1, …, K−1.
    case classIndex
    /// A real-valued target (regression).
    case real
    /// Unsupervised: the labels are not used.
    case ignored
}

/// How a binary model wants its labels.
public enum LabelEncoding: String, Sendable, Codable {
    /// y ∈ {0, 1}
    case zeroOne
    /// y ∈ {−1, +1}
    case plusMinusOne
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

/// Everything needed to rebuild a model in another process: kind, input width and hyper-parameters.
/// Fields that do not apply to a kind are nil.
public struct ModelSpec: Sendable, Codable, Equatable {
    public var kind: ModelKind
    public var featureCount: Int
    /// Strength of the L2 penalty `(l2/2)·‖W‖²` on weight tensors (never on biases).
    public var l2: Double
    /// logistic: focal loss instead of BCE.
    public var focal: FocalParameters?
    /// logistic (2 entries) and softmax (K entries): per-class weight of each row's loss.
    public var classWeights: [Double]?
    /// softmax and triplet: number of classes K (labels 0…K−1).
    public var classCount: Int?
    /// quantile: the quantile levels τ ∈ (0, 1), one output per τ.
    public var taus: [Double]?
    /// triplet: margin of the triplet or contrastive loss.
    public var margin: Double?
    /// triplet and vae: hidden ReLU layer width (nil = the linear variant).
    public var hiddenUnits: Int?
    /// triplet: embedding dimension E; vae: latent dimension L.
    public var outputDimension: Int?
    /// triplet: how pairs/triplets are formed.
    public var pairObjective: PairObjective?
    /// linear: the loss.
    public var regression: RegressionSettings?

    public init(
        kind: ModelKind, featureCount: Int, l2: Double, focal: FocalParameters? = nil, classWeights: [Double]? = nil,
        classCount: Int? = nil, taus: [Double]? = nil, margin: Double? = nil, hiddenUnits: Int? = nil,
        outputDimension: Int? = nil, pairObjective: PairObjective? = nil, regression: RegressionSettings? = nil
    ) {
        self.kind = kind
        self.featureCount = featureCount
        self.l2 = l2
        self.focal = focal
        self.classWeights = classWeights
        self.classCount = classCount
        self.taus = taus
        self.margin = margin
        self.hiddenUnits = hiddenUnits
        self.outputDimension = outputDimension
        self.pairObjective = pairObjective
        self.regression = regression
    }

    /// Whether the exact loss has kinks (hinge, pinball, absolute error), so that full-batch solvers reach the
    /// optimum through a smoothing continuation.
    public var isNonSmooth: Bool {
        switch kind {
        case .svm, .quantile: true
        case .linear: regression?.loss == .mae
        case .logistic, .softmax, .triplet, .vae: false
        }
    }

    /// Builds the model, checking the hyper-parameters.
    public func makeModel() throws(ModelError) -> any Model {
        guard featureCount >= 1 else { throw .invalidSpec("feature count \(featureCount) must be at least 1") }
        guard l2.isFinite, l2 >= 0 else { throw .invalidSpec("l2 = \(l2) must be finite and non-negative") }
        switch kind {
        case .logistic:
            return try LogisticRegression(featureCount: featureCount, l2: l2, focal: focal, classWeights: classWeights)
        case .svm: return LinearSVM(featureCount: featureCount, l2: l2)
        case .quantile:
            guard let taus else { throw .invalidSpec("quantile regression needs taus (one or more levels τ ∈ (0, 1))") }
            return try QuantileRegression(featureCount: featureCount, l2: l2, taus: taus)
        case .softmax:
            guard let classCount else { throw .invalidSpec("softmax regression needs classCount (K ≥ 2)") }
            return try SoftmaxRegression(
                featureCount: featureCount, l2: l2, classCount: classCount, classWeights: classWeights)
        case .triplet:
            guard let classCount else { throw .invalidSpec("triplet: classCount is required (labels are class indices)") }
            guard let outputDimension else {
                throw .invalidSpec("triplet: outputDimension (the embedding dimension E) is required")
            }
            guard let margin else { throw .invalidSpec("triplet: margin is required") }
            // No pair objective given: random-negative triplets.
            return try TripletEmbedding(
                featureCount: featureCount, embeddingDimension: outputDimension, hiddenUnits: hiddenUnits,
                margin: margin, l2: l2, classCount: classCount, pairObjective: pairObjective ?? .tripletRandom)
        case .vae:
            guard let outputDimension else { throw .invalidSpec("vae: outputDimension (the latent dimension L) is required") }
            return try VariationalAutoencoder(
                featureCount: featureCount, latentDimension: outputDimension, hiddenUnits: hiddenUnits, l2: l2)
        case .linear:
            guard let regression else { throw .invalidSpec("linear: the regression loss (mse, huber or mae) is required") }
            return try LinearRegression(featureCount: featureCount, l2: l2, settings: regression)
        }
    }
}
