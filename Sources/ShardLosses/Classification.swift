import ShardNumerics

// Classification losses: binary and categorical cross-entropy (on probabilities and from logits)
// and focal loss (on probabilities and from logits, both α conventions).

/// The clip interval `[eps, 1 - eps]` of the probability losses, in the precision `T`.
///
/// `1 - eps` is the float64 result of `1.0 - eps` rounded to `T`. When that rounds to 1 (in `Float`
/// with `eps` below about 6e-8, e.g. the usual 1e-15), the upper bound is the largest `T` below 1
/// instead, so `log(1 - p)` stays finite.
///
/// The lower bound is clamped from below to the smallest normal `T`:
/// ```
/// low = max(T(eps), T.leastNormalMagnitude)
/// ```
/// In `Float` an eps below about 7e-46 would otherwise round to 0 (and a subnormal eps makes
/// `1 / pc` overflow), so `log(pc)` would be -inf and `0 · log(0)` NaN on the two-logarithm branch.
/// With the clamp every loss and gradient stays finite; for eps >= 1.2e-38 (Float) or 2.2e-308
/// (Double) nothing changes.
@usableFromInline
struct ProbabilityClip<T: LossScalar> {
    @usableFromInline let low: T
    @usableFromInline let high: T

    @inlinable init(epsilon: Double) {
        low = max(T(epsilon), T.leastNormalMagnitude)
        let upper = T(1.0 - epsilon)
        high = upper < 1 ? upper : T(1).nextDown
    }

    /// The clipped probability and whether the clip is the identity there (derivative 1, else 0).
    @inlinable func callAsFunction(_ probability: T) -> (clipped: T, inside: Bool) {
        (min(max(probability, low), high), probability >= low && probability <= high)
    }
}

@inlinable func isProbability<T: LossScalar>(_ value: T) -> Bool { value >= 0 && value <= 1 }

/// Checks that every entry of a row-major matrix with `columns` columns lies in [0, 1] (NaN does
/// not). The first entry (r, c) that does not throws
/// `makeError("<loss>: <entry>(r, c) is <value>; it must be in [0, 1]")`.
func checkProbabilities<T: LossScalar>(
    _ values: [T], columns: Int, entry: String, loss: String, error makeError: (String) -> LossError
) throws(LossError) {
    let width = max(columns, 1)
    for (index, value) in values.enumerated() where !isProbability(value) {
        throw makeError("\(loss): \(entry)(\(index / width), \(index % width)) is \(value); it must be in [0, 1]")
    }
}

func probabilityDomainError(loss: String, index: Int, target: Double, prediction: Double, binaryTarget: Bool) -> LossError {
    if binaryTarget ? !(target == 0 || target == 1) : !(target >= 0 && target <= 1) {
        return .invalidTarget("\(loss): target \(index) is \(target); it must be \(binaryTarget ? "0 or 1" : "in [0, 1]")")
    }
    return .invalidPrediction("\(loss): probability \(index) is \(prediction); probabilities must lie in [0, 1]")
}

func logitDomainError(loss: String, index: Int, logit: Double) -> LossError {
    .invalidPrediction("\(loss): logit \(index) is \(logit); logits must be finite")
}

/// Binary cross-entropy on probabilities, clipped to `[eps, 1 - eps]` (default eps = 1e-15).
///
/// ```
/// pc = clip(p, eps, 1 - eps)
/// loss = -(y log(pc) + (1 - y) log(1 - pc))
/// d loss / d p = (pc - y) / (pc (1 - pc))   if eps <= p <= 1 - eps
///                0                          otherwise (the clip is flat; p = 0 or 1 has gradient 0)
/// ```
/// Shapes: `y ∈ [0, 1]` (soft labels allowed) and `p ∈ [0, 1]`, any shape with M elements; mean
/// over M. Values outside [0, 1] throw. See `ProbabilityClip` for `Float` with eps = 1e-15.
/// Reference: Tests/Reference/README.md, `bce_prob`.
public struct BinaryCrossEntropy: ElementwiseLoss {
    public static let name = "bce_prob"
    public let epsilon: Double

    /// Throws `LossError.invalidParameter` unless 0 < epsilon < 0.5.
    public init(epsilon: Double = 1e-15) throws(LossError) {
        try ParameterCheck.clipEpsilon(epsilon, loss: Self.name)
        self.epsilon = epsilon
    }

    @inlinable
    public func lossAndDerivative<T: LossScalar>(target: T, prediction: T) -> (loss: T, derivative: T) {
        let (clipped, inside) = ProbabilityClip<T>(epsilon: epsilon)(prediction)
        let complement = 1 - clipped
        let derivative = inside ? (clipped - target) / (clipped * complement) : 0
        // A hard label needs one logarithm: y pc + (1 - y)(1 - pc) is exactly pc or 1 - pc.
        if target * (1 - target) == 0 {
            return (-T.log(target * clipped + (1 - target) * complement), derivative)
        }
        return (-(target * T.log(clipped) + (1 - target) * T.log(complement)), derivative)
    }

    @inlinable
    public func isOutsideDomain<T: LossScalar>(target: T, prediction: T) -> Bool {
        !(isProbability(target) && isProbability(prediction))
    }

    public func domainError(index: Int, target: Double, prediction: Double) -> LossError {
        probabilityDomainError(loss: Self.name, index: index, target: target, prediction: prediction, binaryTarget: false)
    }

    /// The same formulas compiled (AVX2 when available), with the clip bounds of `ProbabilityClip<T>`.
    @inlinable
    public func compiledKernel<T: LossScalar>(for scalar: T.Type) -> ElementwiseLossKernel? {
        let clip = ProbabilityClip<T>(epsilon: epsilon)
        return .binaryCrossEntropy(clipLow: Double(clip.low), clipHigh: Double(clip.high))
    }
}

/// Binary cross-entropy from logits, stable for any finite logit.
///
/// ```
/// loss = softplus(z) - y z = max(z, 0) - y z + log(1 + e^-|z|)
/// d loss / d z = sigmoid(z) - y
/// ```
/// Shapes: `y ∈ [0, 1]` and `z`, any shape with M elements; mean over M. Logits of ±1000 give
/// finite values; a NaN or infinite logit throws `LossError.invalidPrediction` (at z = ±inf the
/// formula is inf - inf or 0 · inf even when the prediction is right).
/// Reference: Tests/Reference/README.md, `bce_logits`.
public struct BinaryCrossEntropyWithLogits: ElementwiseLoss {
    public static let name = "bce_logits"
    public init() {}

    @inlinable
    public func lossAndDerivative<T: LossScalar>(target: T, prediction: T) -> (loss: T, derivative: T) {
        // Branch-free (VectorMath exp/log1p and selects), so the element loop vectorises.
        let logit = prediction
        let decay = T.expOfNonPositive(-abs(logit))
        let positivePart = logit > 0 ? logit : 0
        let loss = positivePart - target * logit + T.log1pOfUnitInterval(decay)
        let sigmoid = (logit >= 0 ? 1 : decay) / (1 + decay)
        return (loss, sigmoid - target)
    }

    @inlinable
    public func isOutsideDomain<T: LossScalar>(target: T, prediction: T) -> Bool {
        !isProbability(target) || !prediction.isFinite
    }

    public func domainError(index: Int, target: Double, prediction: Double) -> LossError {
        guard isProbability(target) else {
            return .invalidTarget("\(Self.name): target \(index) is \(target); it must be in [0, 1]")
        }
        return logitDomainError(loss: Self.name, index: index, logit: prediction)
    }

    /// The same formulas compiled (AVX2 with a vector exp and log1p when available).
    @inlinable
    public func compiledKernel<T: LossScalar>(for scalar: T.Type) -> ElementwiseLossKernel? {
        .binaryCrossEntropyWithLogits
    }
}

/// The class weight `w` of the focal loss.
public enum FocalWeighting: Sendable, Equatable {
    /// `w = α` for every sample: a constant factor (the tutorial's convention, `alpha_mode = "all"`).
    case everySample(alpha: Double)
    /// `w = α` for `y = 1` and `1 - α` for `y = 0` (RetinaNet's α_t, `alpha_mode = "alpha_t"`).
    case byClass(alpha: Double)

    public var alpha: Double {
        switch self {
        case .everySample(let alpha), .byClass(let alpha): alpha
        }
    }

    @inlinable func weight<T: LossScalar>(positive: Bool) -> T {
        switch self {
        case .everySample(let alpha): T(alpha)
        case .byClass(let alpha): positive ? T(alpha) : T(1 - alpha)
        }
    }
}

/// `q^γ` and `γ q^(γ-1)` with the common γ (0, 1, 2) done without `pow`.
@usableFromInline
enum FocalPower {
    /// `q^γ`, with `q^0 = 1` (also for q = 0).
    @inlinable static func value<T: LossScalar>(_ q: T, gamma: T) -> T {
        if gamma == 2 { return q * q }
        if gamma == 1 { return q }
        if gamma == 0 { return 1 }
        return T.pow(q, gamma)
    }

    /// `(q^γ, γ q^(γ-1))` for q > 0; the slope is 0 when γ = 0.
    @inlinable static func valueAndSlope<T: LossScalar>(_ q: T, gamma: T) -> (value: T, slope: T) {
        if gamma == 2 { return (q * q, 2 * q) }
        if gamma == 1 { return (q, 1) }
        if gamma == 0 { return (1, 0) }
        let lower = T.pow(q, gamma - 1)
        return (lower * q, gamma * lower)
    }
}

func checkFocal(gamma: Double, weighting: FocalWeighting, loss: String) throws(LossError) {
    try ParameterCheck.nonNegative(gamma, name: "gamma", loss: loss)
    try ParameterCheck.closedUnitInterval(weighting.alpha, name: "alpha", loss: loss)
}

/// Focal loss on probabilities (binary, labels in {0, 1}).
///
/// ```
/// pc  = clip(p, eps, 1 - eps)
/// p_t = pc if y = 1, 1 - pc if y = 0;   q = 1 - p_t;   s = +1 if y = 1, -1 if y = 0
/// ce  = -log(p_t)
/// loss = w q^γ ce                          (w from FocalWeighting; q^0 = 1)
/// d loss / d p = -s w (γ q^(γ-1) ce + q^γ / p_t)   inside the clip, 0 outside
/// ```
/// Shapes: `y`, `p` any shape with M elements; mean over M. Reference: Lin et al. (2017), "Focal
/// Loss for Dense Object Detection"; Tests/Reference/README.md, `focal_prob`.
public struct FocalLoss: ElementwiseLoss {
    public static let name = "focal_prob"
    public let gamma: Double
    public let weighting: FocalWeighting
    public let epsilon: Double

    /// Throws `LossError.invalidParameter` for γ < 0, α outside [0, 1] or eps outside (0, 0.5).
    public init(gamma: Double = 2, weighting: FocalWeighting, epsilon: Double = 1e-15) throws(LossError) {
        try checkFocal(gamma: gamma, weighting: weighting, loss: Self.name)
        try ParameterCheck.clipEpsilon(epsilon, loss: Self.name)
        self.gamma = gamma
        self.weighting = weighting
        self.epsilon = epsilon
    }

    @inlinable
    public func lossAndDerivative<T: LossScalar>(target: T, prediction: T) -> (loss: T, derivative: T) {
        let gamma = T(self.gamma)
        let (clipped, inside) = ProbabilityClip<T>(epsilon: epsilon)(prediction)
        let positive = target == 1
        let trueClass = positive ? clipped : 1 - clipped
        let miss = positive ? 1 - clipped : clipped
        let crossEntropy = -T.log(trueClass)
        let weight: T = weighting.weight(positive: positive)
        let (focus, focusSlope) = FocalPower.valueAndSlope(miss, gamma: gamma)
        let loss = weight * focus * crossEntropy
        guard inside else { return (loss, 0) }
        let derivative = weight * (focusSlope * crossEntropy + focus / trueClass)
        return (loss, positive ? -derivative : derivative)
    }

    @inlinable
    public func isOutsideDomain<T: LossScalar>(target: T, prediction: T) -> Bool {
        // y (1 - y) == 0 exactly for y ∈ {0, 1}: one comparison instead of an unpredictable branch.
        target * (1 - target) != 0 || !isProbability(prediction)
    }

    public func domainError(index: Int, target: Double, prediction: Double) -> LossError {
        probabilityDomainError(loss: Self.name, index: index, target: target, prediction: prediction, binaryTarget: true)
    }

    /// The same formulas compiled for γ ∈ {0, 1, 2} (nil, the generic loop, for other γ), with the
    /// class weights and clip bounds rounded to `T`.
    @inlinable
    public func compiledKernel<T: LossScalar>(for scalar: T.Type) -> ElementwiseLossKernel? {
        let clip = ProbabilityClip<T>(epsilon: epsilon)
        let (positive, negative): (T, T) = (weighting.weight(positive: true), weighting.weight(positive: false))
        let kernel = ElementwiseLossKernel.focal(
            gamma: Double(T(gamma)), weightPositive: Double(positive), weightNegative: Double(negative),
            clipLow: Double(clip.low), clipHigh: Double(clip.high))
        return kernel.isSupported ? kernel : nil
    }
}

/// Focal loss from logits (binary, labels in {0, 1}), stable for any finite logit.
///
/// ```
/// s = +1 if y = 1, -1 if y = 0
/// q  = 1 - p_t = sigmoid(-s z)           (never rounds 1 - p_t through p_t)
/// ce = max(z, 0) - y z + log(1 + e^-|z|) (the bce_logits formula)
/// loss = w q^γ ce
/// d loss / d z = -s w q^γ (γ p_t ce + q),   p_t = sigmoid(s z)
/// ```
/// Shapes: `y`, `z` any shape with M elements; mean over M. A NaN or infinite logit throws
/// `LossError.invalidPrediction`. Reference: Lin et al. (2017);
/// Tests/Reference/README.md, `focal_logits`.
public struct FocalLossWithLogits: ElementwiseLoss {
    public static let name = "focal_logits"
    public let gamma: Double
    public let weighting: FocalWeighting

    /// Throws `LossError.invalidParameter` for γ < 0 or α outside [0, 1].
    public init(gamma: Double = 2, weighting: FocalWeighting) throws(LossError) {
        try checkFocal(gamma: gamma, weighting: weighting, loss: Self.name)
        self.gamma = gamma
        self.weighting = weighting
    }

    @inlinable
    public func lossAndDerivative<T: LossScalar>(target: T, prediction: T) -> (loss: T, derivative: T) {
        let gamma = T(self.gamma)
        let logit = prediction
        let positive = target == 1
        let decay = T.expOfNonPositive(-abs(logit))
        let positivePart = logit > 0 ? logit : 0
        let crossEntropy = positivePart - target * logit + T.log1pOfUnitInterval(decay)
        let large = 1 / (1 + decay)
        let small = decay * large
        // sigmoid(z) = large if z >= 0 else small; sigmoid(-z) the other one.
        let signedLogitNonNegative = positive ? logit >= 0 : logit < 0
        let trueClass = signedLogitNonNegative ? large : small
        let miss = signedLogitNonNegative ? small : large
        let weight: T = weighting.weight(positive: positive)
        let focus = FocalPower.value(miss, gamma: gamma)
        let loss = weight * focus * crossEntropy
        let derivative = weight * focus * (gamma * trueClass * crossEntropy + miss)
        return (loss, positive ? -derivative : derivative)
    }

    @inlinable
    public func isOutsideDomain<T: LossScalar>(target: T, prediction: T) -> Bool {
        target * (1 - target) != 0 || !prediction.isFinite
    }

    public func domainError(index: Int, target: Double, prediction: Double) -> LossError {
        guard target * (1 - target) == 0 else {
            return .invalidTarget("\(Self.name): target \(index) is \(target); it must be 0 or 1")
        }
        return logitDomainError(loss: Self.name, index: index, logit: prediction)
    }

    /// The same formulas compiled for γ ∈ {0, 1, 2} (nil, the generic loop, for other γ), with the
    /// class weights rounded to `T`.
    @inlinable
    public func compiledKernel<T: LossScalar>(for scalar: T.Type) -> ElementwiseLossKernel? {
        let (positive, negative): (T, T) = (weighting.weight(positive: true), weighting.weight(positive: false))
        let kernel = ElementwiseLossKernel.focalWithLogits(
            gamma: Double(T(gamma)), weightPositive: Double(positive), weightNegative: Double(negative))
        return kernel.isSupported ? kernel : nil
    }
}

/// Targets of the categorical losses: class indices (one-hot) or a target distribution per row.
public enum CategoricalTargets<T: LossScalar>: Sendable, Equatable {
    /// One class index in `0..<C` per row.
    case labels([Int])
    /// An `N x C` matrix of one-hot or soft targets, entries in [0, 1].
    case distributions(Matrix<T>)

    /// Checks the targets against an `N x C` prediction and returns the target weight of `(row, c)`.
    func validated(rows: Int, columns: Int, loss: String) throws(LossError) -> (Int, Int) -> T {
        switch self {
        case .labels(let labels):
            guard labels.count == rows else {
                throw .shapeMismatch("\(loss): \(labels.count) labels for \(rows) prediction rows")
            }
            for (row, label) in labels.enumerated() where label < 0 || label >= columns {
                throw .invalidTarget("\(loss): label \(row) is \(label); classes are 0..<\(columns)")
            }
            return { row, column in labels[row] == column ? 1 : 0 }
        case .distributions(let targets):
            guard targets.rows == rows, targets.columns == columns else {
                throw .shapeMismatch("\(loss): targets are \(targets.shapeText), predictions are \(rows)x\(columns)")
            }
            try checkProbabilities(
                targets.values, columns: columns, entry: "target ", loss: loss, error: LossError.invalidTarget)
            return { row, column in targets.values[row * columns + column] }
        }
    }
}

/// Categorical cross-entropy on probabilities, clipped to `[eps, 1 - eps]` and **not** re-normalised.
///
/// ```
/// loss_n = -sum_c y[n,c] log(clip(p[n,c], eps, 1 - eps))
/// d loss_n / d p[n,c] = -y[n,c] / clip(p[n,c])   inside the clip, 0 outside
/// ```
/// Shapes: `p` (N, C) with entries in [0, 1]; targets as labels (N) or (N, C). `perSample` has N
/// entries, `gradient` N x C; `.mean` divides by N. Reference: Tests/Reference/README.md, `cce_prob`.
public struct CategoricalCrossEntropy: Sendable {
    public static let name = "cce_prob"
    public let epsilon: Double

    /// Throws `LossError.invalidParameter` unless 0 < epsilon < 0.5.
    public init(epsilon: Double = 1e-15) throws(LossError) {
        try ParameterCheck.clipEpsilon(epsilon, loss: Self.name)
        self.epsilon = epsilon
    }

    @_specialize(where T == Double)
    @_specialize(where T == Float)
    public func evaluate<T: LossScalar>(
        targets: CategoricalTargets<T>, probabilities: Matrix<T>, reduction: Reduction = .mean
    ) throws(LossError) -> LossResult<T> {
        let (rows, columns) = (probabilities.rows, probabilities.columns)
        let target = try targets.validated(rows: rows, columns: columns, loss: Self.name)
        try checkProbabilities(
            probabilities.values, columns: columns, entry: "probability ", loss: Self.name,
            error: LossError.invalidPrediction)
        let clip = ProbabilityClip<T>(epsilon: epsilon)
        let weight: T = reduction.weight(count: rows)
        var perSample = [T](repeating: 0, count: rows)
        var gradient = [T](repeating: 0, count: rows * columns)
        var total: T = 0
        for row in 0..<rows {
            var loss: T = 0
            for column in 0..<columns {
                let share = target(row, column)
                guard share != 0 else { continue }
                let (clipped, inside) = clip(probabilities.values[row * columns + column])
                loss -= share * T.log(clipped)
                if inside { gradient[row * columns + column] = -share / clipped * weight }
            }
            perSample[row] = loss
            total += loss
        }
        return LossResult(value: reduction.value(total: total, weight: weight), perSample: perSample, gradient: gradient)
    }
}

/// Categorical cross-entropy from logits (softmax folded in, stable for any finite logits).
///
/// ```
/// lse_n = log sum_c e^z[n,c]
/// loss_n = -sum_c y[n,c] (z[n,c] - lse_n)            (= lse_n - z[n,label] for one-hot)
/// d loss_n / d z[n,c] = softmax(z_n)_c * sum_k y[n,k] - y[n,c]   (= softmax - y when rows sum to 1)
/// ```
/// Shapes: `z` (N, C); targets as labels (N) or (N, C). `perSample` has N entries, `gradient`
/// N x C; `.mean` divides by N. Reference: Tests/Reference/README.md, `cce_logits`.
public struct CategoricalCrossEntropyWithLogits: Sendable {
    public static let name = "cce_logits"
    public init() {}

    @_specialize(where T == Double)
    @_specialize(where T == Float)
    public func evaluate<T: LossScalar>(
        targets: CategoricalTargets<T>, logits: Matrix<T>, reduction: Reduction = .mean
    ) throws(LossError) -> LossResult<T> {
        let (rows, columns) = (logits.rows, logits.columns)
        let target = try targets.validated(rows: rows, columns: columns, loss: Self.name)
        let weight: T = reduction.weight(count: rows)
        var perSample = [T](repeating: 0, count: rows)
        var gradient = [T](repeating: 0, count: rows * columns)
        var total: T = 0
        logits.values.withUnsafeBufferPointer { values in
            for row in 0..<rows {
                let rowValues = UnsafeBufferPointer(rebasing: values[(row * columns)..<((row + 1) * columns)])
                let logSumExp = StableMath.logSumExp(rowValues)
                var loss: T = 0
                var targetMass: T = 0
                for column in 0..<columns {
                    let share = target(row, column)
                    targetMass += share
                    if share != 0 { loss -= share * (rowValues[column] - logSumExp) }
                }
                for column in 0..<columns {
                    let softmax = T.exp(rowValues[column] - logSumExp)
                    gradient[row * columns + column] = (softmax * targetMass - target(row, column)) * weight
                }
                perSample[row] = loss
                total += loss
            }
        }
        return LossResult(value: reduction.value(total: total, weight: weight), perSample: perSample, gradient: gradient)
    }
}
