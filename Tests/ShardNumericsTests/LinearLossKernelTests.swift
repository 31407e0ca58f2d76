import Foundation
import ShardNumerics
import Testing
import _TestSupport

/// `LinearLossKernel` (hinge, pinball, focal) against a scalar reference in double, one row at a time, on the
/// values the kernel sees (features and labels rounded to float for float32 blocks), for every column count
/// 1…40 (tails of D mod 8 columns, the float32 overlapped tail for D > 8), several Q and row counts that are
/// not multiples of the tile or of the 8-row groups.
///
/// Tolerance, with scale = Σ_i (1 + ‖x_i‖₁)(1 + max_q |s_iq|) · 3 (a bound on every row's contribution):
/// float64 within 1e-12 · scale (double throughout, another summation order, exp/log within 1 ulp);
/// float32 within 1e-5 · scale (scores, losses and gradient sums in float lanes, ≈ 170 float ε).
@Suite("Linear loss kernel")
struct LinearLossKernelTests {
    /// The losses under test; Q = 1 except pinball.
    static let losses: [LinearLoss] = [
        .hinge(smoothing: 0), .hinge(smoothing: 0.5),
        .pinball(levels: [0.3], smoothing: 0), .pinball(levels: [0.1, 0.9], smoothing: 0),
        .pinball(levels: [0.1, 0.5, 0.9], smoothing: 0), .pinball(levels: [0.1, 0.5, 0.9], smoothing: 0.3),
        .pinball(levels: [0.05, 0.25, 0.5, 0.75, 0.95], smoothing: 0.2),
        .focal(gamma: 0, alphaPositive: 1, alphaNegative: 1, classWeights: nil),
        .focal(gamma: 1, alphaPositive: 0.7, alphaNegative: 0.3, classWeights: [1, 3]),
        .focal(gamma: 2, alphaPositive: 0.25, alphaNegative: 0.75, classWeights: nil),
    ]

    /// Loss and ∂loss/∂s_q of one row in double (the formulas of CShardKernels.h).
    static func row(_ loss: LinearLoss, label y: Double, scores s: [Double]) -> (Double, [Double]) {
        switch loss {
        case .hinge(let mu):
            let m = 1 - y * s[0]
            if m <= 0 { return (0, [0]) }
            if mu == 0 || m >= mu { return (mu == 0 ? m : m - mu / 2, [-y]) }
            return (m * m / (2 * mu), [-y * m / mu])
        case .pinball(let levels, let mu):
            let share = 1 / Double(levels.count)
            var total = 0.0
            var slopes: [Double] = []
            for (q, tau) in levels.enumerated() {
                let e = y - s[q]
                let (value, slope): (Double, Double)
                if mu == 0 {
                    value = e * (tau - (e < 0 ? 1 : 0))
                    slope = e < 0 ? 1 - tau : (e > 0 ? -tau : 0)
                } else if e >= tau * mu {
                    (value, slope) = (tau * e - tau * tau * mu / 2, -tau)
                } else if e <= -(1 - tau) * mu {
                    (value, slope) = ((tau - 1) * e + (1 - tau) * (-(1 - tau) * mu) / 2, 1 - tau)
                } else {
                    (value, slope) = (e * e / (2 * mu), -e / mu)
                }
                total += value
                slopes.append(slope * share)
            }
            return (total * share, slopes)
        case .focal(let gamma, let alphaPositive, let alphaNegative, let classWeights):
            let z = s[0]
            let positive = y == 1
            let crossEntropy = max(z, 0) - y * z + Foundation.log1p(Foundation.exp(-abs(z)))
            let sigmoid = 1 / (1 + Foundation.exp(-z))
            let truth = positive ? sigmoid : 1 - sigmoid
            let miss = 1 - truth
            let weight = (positive ? alphaPositive : alphaNegative) * (classWeights?[positive ? 1 : 0] ?? 1)
            let focus = Foundation.pow(miss, gamma)
            let slope = (positive ? -1.0 : 1.0) * weight * focus * (gamma * truth * crossEntropy + miss)
            return (weight * focus * crossEntropy, [slope])
        case .softmax:
            Issue.record("softmax is not under test here")
            return (0, [])
        }
    }

    /// Labels in the loss's domain for a row whose first score is `score`.
    static func label(_ loss: LinearLoss, score: Double, draw: UInt64) -> Double {
        switch loss {
        case .hinge: draw & 1 == 0 ? -1 : 1
        case .pinball: score + (Double(draw % 8) + 0.5) / 4 - 1
        default: Double(draw & 1)
        }
    }

    /// A label outside the loss's domain.
    static func invalidLabel(_ loss: LinearLoss) -> Double {
        switch loss {
        case .hinge: 0
        case .pinball: .nan
        default: 0.5
        }
    }

    static func sums(
        _ block: Block, _ loss: LinearLoss, _ parameters: [Double], _ vectors: VectorWidth
    ) throws -> (LinearLossKernel.Outcome, [Double]) {
        var out = [Double](repeating: .nan, count: parameters.count + 1)
        let outcome = try parameters.withUnsafeBufferPointer { p in
            try out.withUnsafeMutableBufferPointer { o in
                try LinearLossKernel.sums(of: block, loss: loss, parameters: p, into: o, vectors: vectors)
            }
        }
        return (outcome, out)
    }

    @Test("hinge, pinball (Q = 1, 2, 3, 5; μ = 0 and μ > 0) and focal match the scalar reference for D = 1…40",
          arguments: VectorWidth.allCases)
    func matchesScalarReference(vectors: VectorWidth) throws {
        guard KernelImplementation.simdAvailable else { return }
        var random = SplitMix64(seed: 0x11EA2)
        for columns in 1...40 {
            for loss in Self.losses {
                let outputs = loss.outputCount
                for rows in [1, 7, 9, 67, 131] {
                    let features = (0..<rows * columns).map { _ in random.nextUniform(-2, 2) }
                    let parameters = (0..<(columns + 1) * outputs).map { _ in random.nextUniform(-1, 1) }
                    let draws = (0..<rows).map { _ in random.next() }
                    for precision in [Precision.float32, .float64] {
                        let round: (Double) -> Double = precision == .float64 ? { $0 } : { Double(Float($0)) }
                        let x = features.map(round)
                        let scores = (0..<rows).map { i in
                            (0..<outputs).map { q in
                                (0..<columns).reduce(parameters[columns * outputs + q]) {
                                    $0 + x[i * columns + $1] * parameters[$1 * outputs + q]
                                }
                            }
                        }
                        let labels = (0..<rows).map { round(Self.label(loss, score: scores[$0][0], draw: draws[$0])) }
                        var expected = [Double](repeating: 0, count: parameters.count + 1)
                        var scale = 0.0
                        for i in 0..<rows {
                            let (value, slopes) = Self.row(loss, label: labels[i], scores: scores[i])
                            expected[0] += value
                            for q in 0..<outputs {
                                for d in 0..<columns { expected[1 + d * outputs + q] += x[i * columns + d] * slopes[q] }
                                expected[1 + columns * outputs + q] += slopes[q]
                            }
                            let norm = (0..<columns).reduce(1.0) { $0 + abs(x[i * columns + $1]) }
                            scale += norm * (1 + (scores[i].map(abs).max() ?? 0)) * 3
                        }
                        let block = try Block(features: x, labels: labels, columns: columns, id: 0, precision: precision)
                        let (outcome, got) = try Self.sums(block, loss, parameters, vectors)
                        #expect(outcome == .computed)
                        let allowed = (precision == .float64 ? 1e-12 : 1e-5) * scale
                        let bad = got.indices.filter { !(abs(got[$0] - expected[$0]) <= allowed) }
                        #expect(bad.isEmpty, "\(loss) \(precision) \(vectors) \(rows)×\(columns): \(bad.map { (got[$0], expected[$0]) })")
                    }
                }
            }
        }
    }

    @Test("the first row with a label outside the loss's domain is reported, in any tile and group position",
          arguments: VectorWidth.allCases)
    func locatesInvalidLabels(vectors: VectorWidth) throws {
        guard KernelImplementation.simdAvailable else { return }
        var random = SplitMix64(seed: 0xBAD1)
        for columns in [3, 20, 37] {
            for loss in Self.losses {
                let outputs = loss.outputCount
                let rows = 131
                let features = (0..<rows * columns).map { _ in random.nextUniform(-2, 2) }
                let parameters = (0..<(columns + 1) * outputs).map { _ in random.nextUniform(-1, 1) }
                for (first, second) in [(0, 5), (70, 71), (129, 130), (130, 130)] {
                    var labels = (0..<rows).map { Self.label(loss, score: 0, draw: UInt64($0)) }
                    labels[first] = Self.invalidLabel(loss)
                    labels[second] = Self.invalidLabel(loss)
                    for precision in [Precision.float32, .float64] {
                        let block = try Block(features: features, labels: labels, columns: columns, id: 0, precision: precision)
                        let (outcome, _) = try Self.sums(block, loss, parameters, vectors)
                        #expect(outcome == .invalidLabel(row: first), "\(loss) \(precision) \(vectors) D = \(columns)")
                    }
                }
            }
        }
    }
}
