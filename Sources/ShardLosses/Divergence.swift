// Divergences: KL between discrete distributions and the Gaussian KL term of a VAE.

/// How far a row of C probabilities may be from summing to 1 (or a row of C log-probabilities from
/// a log-sum-exp of 0) and still count as normalised:
/// ```
/// tolerance = 1e-6 · C   in Double
///             1e-4 · C   in Float (rows rounded from Double, or normalised in Float, are off by a few ulp per entry)
/// ```
@inlinable func normalisationTolerance<T: LossScalar>(_ type: T.Type, classes: Int) -> T {
    T(T.ulpOfOne < 1e-10 ? 1e-6 : 1e-4) * T(classes)
}

/// The tolerance as text for error messages: "1e-06·C = 4e-06".
func normalisationToleranceText<T: LossScalar>(_ type: T.Type, classes: Int) -> String {
    "\(T.ulpOfOne < 1e-10 ? "1e-6" : "1e-4")·C = \(normalisationTolerance(T.self, classes: classes))"
}

/// Throws `makeError` for the first row of a row-major `rows x columns` matrix whose sum is not 1
/// within `normalisationTolerance`.
func checkRowsSumToOne<T: LossScalar>(
    _ values: [T], rows: Int, columns: Int, entry: String, loss: String, error makeError: (String) -> LossError
) throws(LossError) {
    let tolerance = normalisationTolerance(T.self, classes: columns)
    for row in 0..<rows {
        var sum: T = 0
        for column in 0..<columns { sum += values[row * columns + column] }
        guard abs(sum - 1) <= tolerance else {
            throw makeError(
                "\(loss): row \(row) of \(entry) sums to \(sum); each row must sum to 1 within "
                    + normalisationToleranceText(T.self, classes: columns))
        }
    }
}

/// KL divergence `KL(p || q)` per row, between a target distribution `p` and a prediction `q`.
///
/// ```
/// loss_n = sum_c p[n,c] (log p[n,c] - log q[n,c])       terms with p[n,c] = 0 are 0
/// d loss_n / d q[n,c] = -p[n,c] / q[n,c]                 (0 where p[n,c] = 0)
/// ```
/// `q[n,c] = 0` with `p[n,c] > 0` gives `+∞` (the divergence is infinite there).
/// Both `p` and `q` must be distributions: every row sums to 1 within `1e-6·C` (Double) or `1e-4·C`
/// (Float), else `invalidTarget` (p) or `invalidPrediction` (q) names the row (unnormalised rows
/// would give a negative "divergence").
/// Shapes: `p`, `q` (N, C) with entries in [0, 1]; `perSample` N; gradient N x C; `.mean` divides
/// by N. Reference: Kullback & Leibler (1951); Tests/Reference/README.md, `kl_div`.
public struct KLDivergence: Sendable {
    public static let name = "kl_div"
    public init() {}

    @_specialize(where T == Double)
    @_specialize(where T == Float)
    public func evaluate<T: LossScalar>(
        target: Matrix<T>, prediction: Matrix<T>, reduction: Reduction = .mean
    ) throws(LossError) -> LossResult<T> {
        try checkSameShape([("p", target), ("q", prediction)], loss: Self.name)
        let (rows, columns) = (target.rows, target.columns)
        try checkProbabilities(target.values, columns: columns, entry: "p", loss: Self.name, error: LossError.invalidTarget)
        try checkProbabilities(
            prediction.values, columns: columns, entry: "q", loss: Self.name, error: LossError.invalidPrediction)
        try checkRowsSumToOne(target.values, rows: rows, columns: columns, entry: "p", loss: Self.name, error: LossError.invalidTarget)
        try checkRowsSumToOne(
            prediction.values, rows: rows, columns: columns, entry: "q", loss: Self.name, error: LossError.invalidPrediction)
        let weight: T = reduction.weight(count: rows)
        var perSample = [T](repeating: 0, count: rows)
        var gradient = [T](repeating: 0, count: rows * columns)
        var total: T = 0
        for row in 0..<rows {
            var loss: T = 0
            for column in 0..<columns {
                let index = row * columns + column
                let (p, q) = (target.values[index], prediction.values[index])
                guard p > 0 else { continue }
                loss += p * (T.log(p) - T.log(q))
                gradient[index] = -p / q * weight
            }
            perSample[row] = loss
            total += loss
        }
        return LossResult(value: reduction.value(total: total, weight: weight), perSample: perSample, gradient: gradient)
    }
}

/// The KL term of a VAE: `KL(N(mean, exp(logvar)) || N(0, I))` per row.
///
/// ```
/// loss_n = -0.5 sum_j (1 + logvar[n,j] - mean[n,j]^2 - exp(logvar[n,j]))
///        =  0.5 sum_j (mean^2 + expm1(logvar) - logvar)
/// d loss_n / d mean[n,j]   = mean[n,j]
/// d loss_n / d logvar[n,j] = 0.5 (exp(logvar[n,j]) - 1)
/// ```
/// Finite for log-variances of ±15 (and far beyond). Shapes: `mean`, `logvar` (N, L); `perSample`
/// N; gradients N x L; `.mean` divides by N. Reference: Kingma & Welling (2014), "Auto-Encoding
/// Variational Bayes", appendix B; Tests/Reference/README.md, `gaussian_kl`.
public struct GaussianKL: Sendable {
    public static let name = "gaussian_kl"
    public init() {}

    @_specialize(where T == Double)
    @_specialize(where T == Float)
    public func evaluate<T: LossScalar>(
        mean: Matrix<T>, logVariance: Matrix<T>, reduction: Reduction = .mean
    ) throws(LossError) -> GaussianKLResult<T> {
        try checkSameShape([("mean", mean), ("logvar", logVariance)], loss: Self.name)
        let (rows, columns) = (mean.rows, mean.columns)
        let weight: T = reduction.weight(count: rows)
        var perSample = [T](repeating: 0, count: rows)
        var gradientMean = [T](repeating: 0, count: rows * columns)
        var gradientLogVariance = [T](repeating: 0, count: rows * columns)
        var total: T = 0
        for row in 0..<rows {
            var loss: T = 0
            for column in 0..<columns {
                let index = row * columns + column
                let (mu, logVar) = (mean.values[index], logVariance.values[index])
                let varianceMinusOne = T.expm1(logVar)
                loss += mu * mu + varianceMinusOne - logVar
                gradientMean[index] = mu * weight
                gradientLogVariance[index] = 0.5 * varianceMinusOne * weight
            }
            perSample[row] = 0.5 * loss
            total += 0.5 * loss
        }
        return GaussianKLResult(
            value: reduction.value(total: total, weight: weight), perSample: perSample,
            gradientMean: gradientMean, gradientLogVariance: gradientLogVariance)
    }
}
