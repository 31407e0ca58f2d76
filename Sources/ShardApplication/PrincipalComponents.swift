/// A 2-D view of points in ℝᴱ: their projection onto the two directions of largest variance.
///
///     C = (1/n) Σ_i (x_i − x̄)(x_i − x̄)ᵀ          (E × E, population covariance)
///     C = V Λ Vᵀ by cyclic Jacobi rotations       (λ₁ ≥ λ₂ ≥ … ≥ 0, v_k the columns of V)
///     p_i = ((x_i − x̄)·v₁, (x_i − x̄)·v₂)
///
/// Each eigenvector's sign is fixed so that its largest-magnitude entry is positive (the same input always gives the
/// same picture). Sweeps stop when the off-diagonal mass is below 10⁻²⁴ of the total, or after 100 sweeps.
struct PrincipalComponents {
    /// `λ_k / Σ λ` of the first two components (the second is 0 for one-dimensional points).
    let explainedVariance: [Double]
    /// One 2-D point per input point.
    let projected: [(Double, Double)]

    init(_ points: [[Double]]) {
        let n = points.count
        let dimension = points.first?.count ?? 0
        guard n > 0, dimension > 0 else {
            explainedVariance = [0, 0]
            projected = []
            return
        }
        var mean = [Double](repeating: 0, count: dimension)
        for point in points { for j in 0..<dimension { mean[j] += point[j] } }
        for j in 0..<dimension { mean[j] /= Double(n) }
        var covariance = [[Double]](repeating: [Double](repeating: 0, count: dimension), count: dimension)
        for point in points {
            for a in 0..<dimension {
                let da = point[a] - mean[a]
                for b in a..<dimension { covariance[a][b] += da * (point[b] - mean[b]) }
            }
        }
        for a in 0..<dimension {
            for b in a..<dimension {
                covariance[a][b] /= Double(n)
                covariance[b][a] = covariance[a][b]
            }
        }
        let (values, vectors) = Self.symmetricEigen(covariance)
        let order = values.indices.sorted { values[$0] != values[$1] ? values[$0] > values[$1] : $0 < $1 }
        let total = values.reduce(0) { $0 + max($1, 0) }
        let components = (0..<2).map { rank -> [Double] in
            guard rank < order.count else { return [Double](repeating: 0, count: dimension) }
            var vector = (0..<dimension).map { vectors[$0][order[rank]] }
            let largest = vector.indices.max { abs(vector[$0]) < abs(vector[$1]) } ?? 0
            if vector[largest] < 0 { vector = vector.map { -$0 } }
            return vector
        }
        explainedVariance = (0..<2).map { rank in
            rank < order.count && total > 0 ? max(values[order[rank]], 0) / total : 0
        }
        projected = points.map { point in
            var first = 0.0, second = 0.0
            for j in 0..<dimension {
                first += (point[j] - mean[j]) * components[0][j]
                second += (point[j] - mean[j]) * components[1][j]
            }
            return (first, second)
        }
    }

    /// Eigenvalues and eigenvectors (columns of the second result) of the symmetric `matrix`, cyclic Jacobi.
    static func symmetricEigen(_ matrix: [[Double]]) -> (values: [Double], vectors: [[Double]]) {
        var a = matrix
        let size = a.count
        var v = (0..<size).map { row in (0..<size).map { $0 == row ? 1.0 : 0 } }
        let total = a.joined().reduce(0) { $0 + $1 * $1 }
        for _ in 0..<100 {
            var off = 0.0
            for p in 0..<size { for q in 0..<size where p != q { off += a[p][q] * a[p][q] } }
            if off <= 1e-24 * max(total, .leastNormalMagnitude) { break }
            for p in 0..<(size - 1) {
                for q in (p + 1)..<size where a[p][q] != 0 {
                    // The rotation that zeroes a[p][q]: t = sign(θ)/(|θ| + √(θ² + 1)), θ = (a_qq − a_pp)/(2 a_pq).
                    let theta = (a[q][q] - a[p][p]) / (2 * a[p][q])
                    let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let cosine = 1 / (t * t + 1).squareRoot()
                    let sine = t * cosine
                    for k in 0..<size {
                        let (akp, akq) = (a[k][p], a[k][q])
                        a[k][p] = cosine * akp - sine * akq
                        a[k][q] = sine * akp + cosine * akq
                    }
                    for k in 0..<size {
                        let (apk, aqk) = (a[p][k], a[q][k])
                        a[p][k] = cosine * apk - sine * aqk
                        a[q][k] = sine * apk + cosine * aqk
                    }
                    for k in 0..<size {
                        let (vkp, vkq) = (v[k][p], v[k][q])
                        v[k][p] = cosine * vkp - sine * vkq
                        v[k][q] = sine * vkp + cosine * vkq
                    }
                }
            }
        }
        return ((0..<size).map { a[$0][$0] }, v)
    }
}
