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

/// True when every entry is finite (one branch-free pass; see `nonFiniteBit`).
func allFinite(_ a: [Double]) -> Bool {
    a.withUnsafeBufferPointer { values in
        var flags: UInt64 = 0
        for value in values { flags |= nonFiniteBit(value) }
        return flags == 0
    }
}

/// 1 << 63 when `x` is NaN or ±∞, else 0, without a branch (so loops OR-ing it vectorise):
///
/// ```
/// x is not finite  ⇔  its 11 exponent bits are all ones
/// (bits ∧ 0x7FF0…0) + 0x0010…0 carries into bit 63 exactly then
/// ```
@inline(__always)
func nonFiniteBit(_ x: Double) -> UInt64 {
    ((x.bitPattern & 0x7FF0_0000_0000_0000) &+ 0x0010_0000_0000_0000) & 0x8000_0000_0000_0000
}
