// Embedding losses: contrastive (from distances and from embedding pairs) and triplet
// (squared and plain Euclidean distances).

/// Contrastive loss from precomputed distances (Hadsell, Chopra & LeCun 2006, without the ½).
///
/// ```
/// loss = y d^2 + (1 - y) max(0, margin - d)^2
/// d loss / d d = 2 y d - 2 (1 - y) max(0, margin - d)
/// ```
/// Shapes: `y ∈ [0, 1]` (1 = similar, 0 = dissimilar) and distances `d >= 0`, any shape with M
/// elements; mean over M. Reference: Tests/Reference/README.md, `contrastive_distance`.
public struct ContrastiveDistanceLoss: ElementwiseLoss {
    public static let name = "contrastive_distance"
    public let margin: Double

    /// Throws `LossError.invalidParameter` for a negative or non-finite margin.
    public init(margin: Double = 1) throws(LossError) {
        try ParameterCheck.nonNegative(margin, name: "margin", loss: Self.name)
        self.margin = margin
    }

    @inlinable
    public func lossAndDerivative<T: LossScalar>(target: T, prediction: T) -> (loss: T, derivative: T) {
        let distance = prediction
        let shortfall = max(T(margin) - distance, 0)
        let loss = target * distance * distance + (1 - target) * shortfall * shortfall
        return (loss, 2 * target * distance - 2 * (1 - target) * shortfall)
    }

    @inlinable
    public func isOutsideDomain<T: LossScalar>(target: T, prediction: T) -> Bool {
        !(isProbability(target) && prediction >= 0)
    }

    public func domainError(index: Int, target: Double, prediction: Double) -> LossError {
        if !(target >= 0 && target <= 1) {
            return .invalidTarget("\(Self.name): target \(index) is \(target); it must be in [0, 1] (1 = similar)")
        }
        return .invalidPrediction("\(Self.name): distance \(index) is \(prediction); distances must be >= 0")
    }
}

func checkSameShape<T>(_ matrices: [(String, Matrix<T>)], loss: String) throws(LossError) {
    guard let (firstName, first) = matrices.first else { return }
    for (name, matrix) in matrices.dropFirst() where matrix.rows != first.rows || matrix.columns != first.columns {
        throw .shapeMismatch("\(loss): \(name) is \(matrix.shapeText), \(firstName) is \(first.shapeText)")
    }
}

/// Contrastive loss on pairs of embeddings, with the exact Euclidean norm (no epsilon).
///
/// ```
/// diff = x1 - x2,   sq = ||diff||^2,   dist = sqrt(sq)
/// loss = y sq + (1 - y) max(0, margin - dist)^2
/// d loss / d x1 = 2 y diff - 2 (1 - y) max(0, margin - dist) diff / dist     (0 when dist = 0)
/// d loss / d x2 = -d loss / d x1
/// ```
/// The similar term uses `sq` directly, so identical similar embeddings have gradient 0; a
/// dissimilar pair at distance 0 has no direction and gets gradient 0.
/// Shapes: `y` (N), `x1`, `x2` (N, D); `perSample` N; gradients N x D; `.mean` divides by N.
/// Reference: Hadsell et al. (2006); Tests/Reference/README.md, `contrastive_embeddings`.
public struct ContrastiveEmbeddingLoss: Sendable {
    public static let name = "contrastive_embeddings"
    public let margin: Double

    /// Throws `LossError.invalidParameter` for a negative or non-finite margin.
    public init(margin: Double = 1) throws(LossError) {
        try ParameterCheck.nonNegative(margin, name: "margin", loss: Self.name)
        self.margin = margin
    }

    @_specialize(where T == Double)
    @_specialize(where T == Float)
    public func evaluate<T: LossScalar>(
        similarity: [T], first: Matrix<T>, second: Matrix<T>, reduction: Reduction = .mean
    ) throws(LossError) -> PairLossResult<T> {
        try checkSameShape([("x1", first), ("x2", second)], loss: Self.name)
        guard similarity.count == first.rows else {
            throw .shapeMismatch("\(Self.name): \(similarity.count) targets for \(first.rows) pairs")
        }
        for (index, value) in similarity.enumerated() where !isProbability(value) {
            throw .invalidTarget("\(Self.name): target \(index) is \(value); it must be in [0, 1] (1 = similar)")
        }
        let (rows, columns) = (first.rows, first.columns)
        let weight: T = reduction.weight(count: rows)
        let margin = T(self.margin)
        var perSample = [T](repeating: 0, count: rows)
        var gradientFirst = [T](repeating: 0, count: rows * columns)
        var gradientSecond = [T](repeating: 0, count: rows * columns)
        var total: T = 0
        for row in 0..<rows {
            let base = row * columns
            var squared: T = 0
            for column in 0..<columns {
                let difference = first.values[base + column] - second.values[base + column]
                squared += difference * difference
            }
            let distance = squared.squareRoot()
            let y = similarity[row]
            let shortfall = max(margin - distance, 0)
            let loss = y * squared + (1 - y) * shortfall * shortfall
            perSample[row] = loss
            total += loss
            // d loss / d diff = coefficient * diff
            let pull = 2 * y
            let push = distance > 0 ? 2 * (1 - y) * shortfall / distance : 0
            let coefficient = (pull - push) * weight
            for column in 0..<columns {
                let difference = first.values[base + column] - second.values[base + column]
                gradientFirst[base + column] = coefficient * difference
                gradientSecond[base + column] = -coefficient * difference
            }
        }
        return PairLossResult(
            value: reduction.value(total: total, weight: weight), perSample: perSample,
            gradientFirst: gradientFirst, gradientSecond: gradientSecond)
    }
}

/// The distance a triplet loss compares.
public enum TripletDistance: String, Sendable, Equatable, CaseIterable {
    /// `||a - b||^2` (FaceNet; the tutorial's code).
    case squaredEuclidean
    /// `||a - b||` with no epsilon (`TripletMarginLoss(p=2)` style).
    case euclidean
}

/// Triplet margin loss.
///
/// ```
/// squaredEuclidean: d(a, b) = ||a - b||^2,  d d / d a = 2 (a - b)
/// euclidean:        d(a, b) = ||a - b||,    d d / d a = (a - b) / ||a - b||   (0 when a = b)
/// u = d(a, p) - d(a, n) + margin
/// loss = max(0, u)
/// gradients (when u > 0, else 0; u == 0 uses the subgradient 0):
///   d loss / d p = -d d(a,p) / d a
///   d loss / d n =  d d(a,n) / d a
///   d loss / d a =  d d(a,p) / d a - d d(a,n) / d a
/// ```
/// Shapes: `anchor`, `positive`, `negative` (N, D); `perSample` N; gradients N x D; `.mean`
/// divides by N. Reference: Schroff et al. (2015), "FaceNet"; Tests/Reference/README.md,
/// `triplet_squared`, `triplet_euclidean`.
public struct TripletLoss: Sendable {
    public let margin: Double
    public let distance: TripletDistance

    /// The reference name of the loss for this distance.
    public var name: String { distance == .squaredEuclidean ? "triplet_squared" : "triplet_euclidean" }

    /// Throws `LossError.invalidParameter` for a negative or non-finite margin.
    public init(margin: Double = 1, distance: TripletDistance) throws(LossError) {
        try ParameterCheck.nonNegative(margin, name: "margin", loss: "triplet")
        self.margin = margin
        self.distance = distance
    }

    @_specialize(where T == Double)
    @_specialize(where T == Float)
    public func evaluate<T: LossScalar>(
        anchor: Matrix<T>, positive: Matrix<T>, negative: Matrix<T>, reduction: Reduction = .mean
    ) throws(LossError) -> TripletLossResult<T> {
        try checkSameShape([("anchor", anchor), ("positive", positive), ("negative", negative)], loss: name)
        let (rows, columns) = (anchor.rows, anchor.columns)
        let weight: T = reduction.weight(count: rows)
        let margin = T(self.margin)
        var perSample = [T](repeating: 0, count: rows)
        var gradientAnchor = [T](repeating: 0, count: rows * columns)
        var gradientPositive = [T](repeating: 0, count: rows * columns)
        var gradientNegative = [T](repeating: 0, count: rows * columns)
        var total: T = 0
        for row in 0..<rows {
            let base = row * columns
            var squaredPositive: T = 0
            var squaredNegative: T = 0
            for column in 0..<columns {
                let toPositive = anchor.values[base + column] - positive.values[base + column]
                let toNegative = anchor.values[base + column] - negative.values[base + column]
                squaredPositive += toPositive * toPositive
                squaredNegative += toNegative * toNegative
            }
            // d distance / d anchor = scale * (anchor - other)
            let (distancePositive, distanceNegative, scalePositive, scaleNegative): (T, T, T, T)
            switch distance {
            case .squaredEuclidean:
                (distancePositive, distanceNegative, scalePositive, scaleNegative) =
                    (squaredPositive, squaredNegative, 2, 2)
            case .euclidean:
                let (normPositive, normNegative) = (squaredPositive.squareRoot(), squaredNegative.squareRoot())
                (distancePositive, distanceNegative) = (normPositive, normNegative)
                scalePositive = normPositive > 0 ? 1 / normPositive : 0
                scaleNegative = normNegative > 0 ? 1 / normNegative : 0
            }
            let argument = distancePositive - distanceNegative + margin
            // NaN (a NaN input, or inf - inf) or +inf (an infinite loss) cannot be a loss value.
            guard !argument.isNaN, argument < .infinity else {
                throw .invalidPrediction(
                    "\(name): row \(row): d(anchor, positive) - d(anchor, negative) + margin is \(argument) "
                        + "(d+ = \(distancePositive), d- = \(distanceNegative)); embeddings must be finite")
            }
            guard argument > 0 else { continue }
            perSample[row] = argument
            total += argument
            for column in 0..<columns {
                let toPositive = anchor.values[base + column] - positive.values[base + column]
                let toNegative = anchor.values[base + column] - negative.values[base + column]
                let positivePull = scalePositive * toPositive * weight
                let negativePush = scaleNegative * toNegative * weight
                gradientAnchor[base + column] = positivePull - negativePush
                gradientPositive[base + column] = -positivePull
                gradientNegative[base + column] = negativePush
            }
        }
        return TripletLossResult(
            value: reduction.value(total: total, weight: weight), perSample: perSample,
            gradientAnchor: gradientAnchor, gradientPositive: gradientPositive, gradientNegative: gradientNegative)
    }
}
