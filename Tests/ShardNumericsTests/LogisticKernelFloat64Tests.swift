import ShardNumerics
import Testing

/// The float64 logistic kernel: the AVX2 path (vector exp/log1p, 4 double lanes of loss and residual sums)
/// against the portable path (libm, one row at a time).
///
/// Stated tolerance: for every output k, |avx2_k − portable_k| ≤ 16 · 2⁻⁵³ · scale_k, with scale_k the
/// reference error scale of `ReferenceSums` (Σ_i of the terms' magnitudes plus their sensitivity to z_i).
/// exp and log1p within 1 ulp of libm and the different summation order account for a few ε per term.
@Suite("Logistic kernel float64")
struct LogisticKernelFloat64Tests {
    @Test("AVX2 and portable agree within 16 ε · scale on random shapes, with logits up to ±800")
    func avx2MatchesPortable() throws {
        var random = SplitMix64(seed: 0xF64)
        for round in 0..<60 {
            let columns = random.int(1...37)
            let rows = random.int(0...300)
            // Larger features every few rounds push |z| to hundreds: exp(−|z|) subnormal or 0.
            let spread = [2.0, 2.0, 40.0, 400.0][round % 4]
            var features = (0..<rows * columns).map { _ in random.nextUniform(-spread, spread) }
            let labels = (0..<rows).map { _ in random.next() % 3 == 0 ? random.nextUnit() : Double(random.next() & 1) }
            let weights = (0..<columns).map { _ in random.nextUniform(-1, 1) }
            let p = try problem(
                features: &features, labels: labels, columns: columns, weights: weights,
                bias: random.nextUniform(-1, 1), precision: .float64)
            let fast = try LogisticKernel.sums(of: p.block, weights: p.weights, bias: p.bias, implementation: .fastest)
            let portable = try LogisticKernel.sums(
                of: p.block, weights: p.weights, bias: p.bias, implementation: .portable)
            let bounds = ReferenceSums(sums: portable, scale: p.reference.scale)
            #expect(outOfBounds(fast, bounds, epsilon: 0x1p-53, factor: 16).isEmpty, "\(rows)×\(columns), spread \(spread)")
            #expect(fast.allSatisfy { $0.isFinite })
        }
    }

    @Test("a partial last group of rows adds nothing for its missing lanes")
    func partialGroups() throws {
        var random = SplitMix64(seed: 5)
        let columns = 6
        var features = (0..<7 * columns).map { _ in random.nextUniform(-2, 2) }
        let labels = (0..<7).map { Double($0 & 1) }
        let weights = (0..<columns).map { _ in random.nextUniform(-1, 1) }
        let all = try problem(
            features: &features, labels: labels, columns: columns, weights: weights, bias: 0.25, precision: .float64)
        // Rows 0..<4 and 4..<7 as two blocks add up to the 7-row block (within rounding of the split sums).
        var head = Array(features[0..<(4 * columns)])
        var tail = Array(features[(4 * columns)...])
        let first = try problem(
            features: &head, labels: Array(labels[0..<4]), columns: columns, weights: weights, bias: 0.25,
            precision: .float64)
        let second = try problem(
            features: &tail, labels: Array(labels[4...]), columns: columns, weights: weights, bias: 0.25,
            precision: .float64)
        let whole = try LogisticKernel.sums(of: all.block, weights: weights, bias: 0.25)
        let a = try LogisticKernel.sums(of: first.block, weights: weights, bias: 0.25)
        let b = try LogisticKernel.sums(of: second.block, weights: weights, bias: 0.25)
        let split = ReferenceSums(sums: zip(a, b).map { $0 + $1 }, scale: all.reference.scale)
        #expect(outOfBounds(whole, split, epsilon: 0x1p-53, factor: 16).isEmpty)
    }
}
