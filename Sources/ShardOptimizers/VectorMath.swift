// Small dense vector helpers for the optimizers. Plain left-to-right loops, so results are
// reproducible bit for bit on every run and every machine with IEEE double arithmetic.

/// Σᵢ aᵢ bᵢ, summed in index order.
func dot(_ a: [Double], _ b: [Double]) -> Double {
    var sum = 0.0
    for index in a.indices { sum += a[index] * b[index] }
    return sum
}

/// ‖a‖₂, scaled by max|aᵢ| so that very large or very small entries neither overflow nor underflow.
func euclideanNorm(_ a: [Double]) -> Double {
    var scale = 0.0
    for value in a { scale = max(scale, abs(value)) }
    guard scale > 0, scale.isFinite else { return scale }
    var sum = 0.0
    for value in a {
        let scaled = value / scale
        sum += scaled * scaled
    }
    return scale * sum.squareRoot()
}

/// x + α·d.
func step(from x: [Double], along direction: [Double], by alpha: Double) -> [Double] {
    var result = x
    for index in result.indices { result[index] += alpha * direction[index] }
    return result
}

/// a − b.
func difference(_ a: [Double], _ b: [Double]) -> [Double] {
    var result = a
    for index in result.indices { result[index] -= b[index] }
    return result
}

/// True when every entry is finite.
func allFinite(_ a: [Double]) -> Bool { a.allSatisfy(\.isFinite) }
