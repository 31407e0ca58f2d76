/// How per-sample losses become the reported value. One enum for every loss; `.mean` is the
/// default everywhere.
///
/// ```
/// mean:  value = (1/M) sum_i loss_i     gradient = (1/M) d loss_i / d input
/// sum:   value = sum_i loss_i           gradient = d loss_i / d input
/// none:  perSample is the result; value = sum_i loss_i and gradient = d loss_i / d input
///        (each sample's own derivative, unscaled)
/// ```
/// `M` counts **elements** for element-wise losses (an `N x K` input divides by `N*K`) and **rows**
/// for row-wise losses (categorical cross-entropy, KL, Gaussian KL, contrastive on embeddings,
/// triplet, CTC). An empty input has value 0 under every reduction.
public enum Reduction: String, Sendable, CaseIterable, Equatable {
    case mean
    case sum
    case none

    /// The factor applied to each per-sample loss (and its derivative) for `count` samples.
    @inlinable public func weight<T: LossScalar>(count: Int) -> T {
        switch self {
        case .mean: count > 0 ? 1 / T(count) : 0
        case .sum, .none: 1
        }
    }

    /// The reported value from the plain sum of the per-sample losses and `weight(count:)`:
    ///
    /// ```
    /// mean:        value = total · weight
    /// sum, none:   value = total
    /// ```
    @inlinable func value<T: LossScalar>(total: T, weight: T) -> T {
        self == .mean ? total * weight : total
    }
}

/// A row-major `rows x columns` matrix: entry `(r, c)` is `values[r * columns + c]`.
public struct Matrix<T: LossScalar>: Sendable, Equatable {
    public let rows: Int
    public let columns: Int
    public private(set) var values: [T]

    /// Wraps `values` after checking that it holds `rows * columns` entries.
    public init(rows: Int, columns: Int, values: [T]) throws(LossError) {
        guard rows >= 0, columns >= 0, values.count == rows * columns else {
            throw .shapeMismatch("a \(rows)x\(columns) matrix needs \(max(0, rows) * max(0, columns)) values, got \(values.count)")
        }
        self.rows = rows
        self.columns = columns
        self.values = values
    }

    /// Builds a matrix from equal-length rows (an empty list gives a 0x0 matrix).
    public init(_ rowList: [[T]]) throws(LossError) {
        let columns = rowList.first?.count ?? 0
        for (index, row) in rowList.enumerated() where row.count != columns {
            throw .shapeMismatch("matrix row \(index) has \(row.count) columns, row 0 has \(columns)")
        }
        self.rows = rowList.count
        self.columns = columns
        self.values = rowList.flatMap { $0 }
    }

    /// A zero-filled matrix.
    public init(zeros rows: Int, _ columns: Int) {
        self.rows = rows
        self.columns = columns
        self.values = [T](repeating: 0, count: rows * columns)
    }

    public subscript(row: Int, column: Int) -> T {
        get { values[row * columns + column] }
        set { values[row * columns + column] = newValue }
    }

    /// The matrix as a list of rows.
    public var rowList: [[T]] {
        (0..<rows).map { Array(values[($0 * columns)..<(($0 + 1) * columns)]) }
    }

    var shapeText: String { "\(rows)x\(columns)" }
}

/// The result of a loss with one prediction input.
public struct LossResult<T: LossScalar>: Sendable, Equatable {
    /// The reduced loss (see `Reduction`).
    public var value: T
    /// The unreduced losses: one per element for element-wise losses, one per row for row-wise ones
    /// (row-major for 2-D element-wise inputs).
    public var perSample: [T]
    /// `d value / d prediction`, same layout as the prediction input (row-major).
    public var gradient: [T]

    public init(value: T, perSample: [T], gradient: [T]) {
        self.value = value
        self.perSample = perSample
        self.gradient = gradient
    }
}

/// The result of a loss on pairs of embeddings: a gradient for each member of the pair.
public struct PairLossResult<T: LossScalar>: Sendable, Equatable {
    public var value: T
    /// One loss per pair (row).
    public var perSample: [T]
    /// `d value / d x1`, row-major `N x D`.
    public var gradientFirst: [T]
    /// `d value / d x2`, row-major `N x D`.
    public var gradientSecond: [T]
}

/// The result of a triplet loss: a gradient for each of the three embeddings.
public struct TripletLossResult<T: LossScalar>: Sendable, Equatable {
    public var value: T
    /// One loss per triplet (row).
    public var perSample: [T]
    /// `d value / d anchor`, row-major `N x D`.
    public var gradientAnchor: [T]
    /// `d value / d positive`, row-major `N x D`.
    public var gradientPositive: [T]
    /// `d value / d negative`, row-major `N x D`.
    public var gradientNegative: [T]
}

/// The result of the Gaussian KL term of a VAE: a gradient for the mean and one for the log-variance.
public struct GaussianKLResult<T: LossScalar>: Sendable, Equatable {
    public var value: T
    /// One KL per row.
    public var perSample: [T]
    /// `d value / d mean`, row-major `N x L`.
    public var gradientMean: [T]
    /// `d value / d logvar`, row-major `N x L`.
    public var gradientLogVariance: [T]
}
