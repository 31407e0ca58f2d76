// Divergences: KL between discrete distributions and the Gaussian KL term of a VAE.

/// KL divergence `KL(p || q)` per row, between a target distribution `p` and a prediction `q`.
///
/// ```
/// loss_n = sum_c p[n,c] (log p[n,c] - log q[n,c])       terms with p[n,c] = 0 are 0
/// d loss_n / d q[n,c] = -p[n,c] / q[n,c]                 (0 where p[n,c] = 0)
/// ```
/// `q[n,c] = 0` with `p[n,c] > 0` gives `+∞` (the divergence is infinite there).
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
