import Foundation
import ShardNumerics
import Testing

/// The softmax sums of `LinearLossKernel` (softmax_avx2.c) against a scalar double reference, one row at a time:
///
///     s_ik = Σ_d x_id W_dk + b_k,  h = max_k s_ik,  Σ = Σ_k exp(s_ik − h),  lse = h + log Σ
///     loss = c_y (lse − s_iy),  slope_k = c_y (exp(s_ik − h) / Σ − [k = y])
///     out = [Σ loss, Σ x_id slope_k (d-major), Σ slope_k]
///
/// with the parameters as the kernel sees them (float32 blocks: x, W and b rounded to Float).
///
/// Stated tolerance: |kernel − reference| ≤ factor · ε · scale per output, scale = Σ_i c_max (1 + S_i) · m_i with
/// S_i = Σ_dk |x_id W_dk| + Σ_k |b_k| (how far rounding can move a score, relative) and m_i = 1 + log K (loss),
/// |x_id| (gradient) or 1 (bias), and factor = 16: float64 with ε = 2⁻⁵³ (exp and log within 1 ulp, other
/// summation orders; largest seen 1.5), float32 with ε = 2⁻²⁴ (scores, exp, log and the sums within a tile of
/// at most 64 rows in float; largest seen 0.25).
@Suite("Softmax kernel")
struct SoftmaxKernelTests {
    struct Expected {
        var sums: [Double]
        var scale: [Double]
    }

    static func reference(
        features: [Double], labels: [Double], columns: Int, classes: Int, parameters: [Double], classWeights: [Double]?
    ) -> Expected {
        let width = (columns + 1) * classes + 1
        var sums = [Double](repeating: 0, count: width)
        var scale = [Double](repeating: 0, count: width)
        let largestWeight = classWeights?.max() ?? 1
        var scores = [Double](repeating: 0, count: classes)
        for i in 0..<labels.count {
            var magnitude = 0.0
            for k in 0..<classes {
                var s = parameters[columns * classes + k]
                magnitude += abs(s)
                for d in 0..<columns {
                    let term = features[i * columns + d] * parameters[d * classes + k]
                    s += term
                    magnitude += abs(term)
                }
                scores[k] = s
            }
            let high = scores.max() ?? 0
            let total = scores.reduce(0) { $0 + Foundation.exp($1 - high) }
            let y = Int(labels[i])
            let c = classWeights?[y] ?? 1
            let reach = largestWeight * (1 + magnitude)
            sums[0] += c * (high + Foundation.log(total) - scores[y])
            scale[0] += reach * (1 + Foundation.log(Double(classes)))
            for k in 0..<classes {
                let slope = c * (Foundation.exp(scores[k] - high) / total - (k == y ? 1 : 0))
                for d in 0..<columns {
                    sums[1 + d * classes + k] += slope * features[i * columns + d]
                    scale[1 + d * classes + k] += reach * abs(features[i * columns + d])
                }
                sums[1 + columns * classes + k] += slope
                scale[1 + columns * classes + k] += reach
            }
        }
        return Expected(sums: sums, scale: scale)
    }

    /// The kernel's outcome and sums for a block of `features` (row-major, `columns` wide) and `labels`.
    static func kernelSums(
        features: [Double], labels: [Double], columns: Int, classes: Int, parameters: [Double],
        classWeights: [Double]?, precision: Precision, vectors: VectorWidth = .widest
    ) throws -> (LinearLossKernel.Outcome, [Double]) {
        let block = try Block(features: features, labels: labels, columns: columns, id: 1, precision: precision)
        var out = [Double](repeating: .nan, count: (columns + 1) * classes + 1)
        let outcome = try parameters.withUnsafeBufferPointer { p in
            try out.withUnsafeMutableBufferPointer { o in
                try LinearLossKernel.sums(
                    of: block, loss: .softmax(classes: classes, classWeights: classWeights), parameters: p, into: o,
                    vectors: vectors)
            }
        }
        return (outcome, out)
    }

    /// Runs one case in `precision` and checks it against the reference; returns the largest error / (ε · scale).
    @discardableResult
    static func check(
        features: [Double], labels: [Double], columns: Int, classes: Int, parameters: [Double],
        classWeights: [Double]?, precision: Precision, vectors: VectorWidth, label: String
    ) throws -> Double {
        let (outcome, sums) = try kernelSums(
            features: features, labels: labels, columns: columns, classes: classes, parameters: parameters,
            classWeights: classWeights, precision: precision, vectors: vectors)
        guard KernelImplementation.simdAvailable else {
            #expect(outcome == .unsupported)
            return 0
        }
        #expect(outcome == .computed, "\(label), \(vectors)")
        let single = precision == .float32
        let seenFeatures = single ? features.map { Double(Float($0)) } : features
        let seenParameters = single ? parameters.map { Double(Float($0)) } : parameters
        let expected = reference(
            features: seenFeatures, labels: labels, columns: columns, classes: classes, parameters: seenParameters,
            classWeights: classWeights)
        let epsilon = single ? 0x1p-24 : 0x1p-53
        var worst = 0.0
        for index in sums.indices {
            let error = abs(sums[index] - expected.sums[index]) / (epsilon * expected.scale[index] + 1e-300)
            #expect(error <= 16, "\(label), \(vectors): output \(index) = \(sums[index]), reference \(expected.sums[index])")
            worst = max(worst, error.isNaN ? .infinity : error)
        }
        return worst
    }

    @Test(
        "matches the double reference for K = 2…9, 16, 17, D = 0…40 and row counts around the tile and group sizes",
        arguments: Precision.allCases, VectorWidth.allCases)
    func matchesReference(precision: Precision, vectors: VectorWidth) throws {
        var random = SplitMix64(seed: 0x50F7)
        let shapes: [(classes: Int, columns: Int)] =
            (2...9).flatMap { k in [1, 2, 3, 4, 7, 8, 9, 15, 16, 17, 20, 31, 40].map { (k, $0) } }
            + [(2, 0), (4, 0), (16, 19), (17, 20), (17, 5)]
        let rowCounts = [1, 3, 7, 8, 9, 63, 64, 65, 100, 131]
        for (index, shape) in shapes.enumerated() {
            let (classes, columns) = shape
            // Every third of the row counts (starting at a shape-dependent one): partial groups and tiles.
            for rows in stride(from: index % 3, to: rowCounts.count, by: 3).map({ rowCounts[$0] }) {
                let features = (0..<rows * columns).map { _ in random.nextUniform(-2, 2) }
                let labels = (0..<rows).map { _ in Double(random.next() % UInt64(classes)) }
                let parameters = (0..<(columns + 1) * classes).map { _ in random.nextUniform(-1, 1) }
                let weights: [Double]? = index % 2 == 0 ? nil : (0..<classes).map { _ in random.nextUniform(0, 3) }
                try Self.check(
                    features: features, labels: labels, columns: columns, classes: classes, parameters: parameters,
                    classWeights: weights, precision: precision, vectors: vectors,
                    label: "K = \(classes), \(rows)×\(columns)")
            }
        }
    }

    @Test("a block of many tiles (4096 rows) matches the reference", arguments: Precision.allCases, VectorWidth.allCases)
    func manyTiles(precision: Precision, vectors: VectorWidth) throws {
        var random = SplitMix64(seed: 0x4096)
        let (rows, columns, classes) = (4096, 20, 4)
        let features = (0..<rows * columns).map { _ in random.nextUniform(-2, 2) }
        let labels = (0..<rows).map { _ in Double(random.next() % UInt64(classes)) }
        let parameters = (0..<(columns + 1) * classes).map { _ in random.nextUniform(-0.5, 0.5) }
        try Self.check(
            features: features, labels: labels, columns: columns, classes: classes, parameters: parameters,
            classWeights: [1, 1.25, 1.5, 1.75], precision: precision, vectors: vectors, label: "4096×20")
    }

    @Test("scores of ±1e4: finite sums that match the reference (exp underflows to 0 below the maximum)",
          arguments: Precision.allCases, VectorWidth.allCases)
    func extremeScores(precision: Precision, vectors: VectorWidth) throws {
        var random = SplitMix64(seed: 0xE4)
        for (classes, columns) in [(2, 3), (4, 20), (5, 7), (9, 2)] {
            let rows = 77
            // Features ±1 and weights ±5000 / D: scores up to ±1e4, differences of thousands between classes.
            let features = (0..<rows * columns).map { _ in random.next() & 1 == 0 ? -1.0 : 1.0 }
            let labels = (0..<rows).map { _ in Double(random.next() % UInt64(classes)) }
            let parameters = (0..<(columns + 1) * classes).map { _ in
                random.nextUniform(-1, 1) * 1e4 / Double(columns + 1)
            }
            let (outcome, sums) = try Self.kernelSums(
                features: features, labels: labels, columns: columns, classes: classes, parameters: parameters,
                classWeights: nil, precision: precision, vectors: vectors)
            guard KernelImplementation.simdAvailable else { continue }
            #expect(outcome == .computed)
            let finite = sums.allSatisfy { $0.isFinite }
            #expect(finite, "K = \(classes): \(sums)")
            try Self.check(
                features: features, labels: labels, columns: columns, classes: classes, parameters: parameters,
                classWeights: nil, precision: precision, vectors: vectors, label: "extreme, K = \(classes)")
        }
    }

    @Test("the first row whose label is not a class index is reported, wherever it is",
          arguments: Precision.allCases, VectorWidth.allCases)
    func invalidLabels(precision: Precision, vectors: VectorWidth) throws {
        guard KernelImplementation.simdAvailable else { return }
        var random = SplitMix64(seed: 0xBAD)
        for (columns, classes) in [(5, 3), (3, 17)] {
            for rows in [1, 9, 70, 200] {
                let features = (0..<rows * columns).map { _ in random.nextUniform(-2, 2) }
                let parameters = (0..<(columns + 1) * classes).map { _ in random.nextUniform(-1, 1) }
                for bad in [-1.0, Double(classes), 2.5, -0.5, .nan, .infinity, 1e9] {
                    for position in Set([0, rows / 2, rows - 1]) {
                        var labels = (0..<rows).map { _ in Double(random.next() % UInt64(classes)) }
                        labels[position] = bad
                        // A second bad label later does not move the reported row.
                        if position + 3 < rows { labels[position + 3] = Double(classes + 4) }
                        let (outcome, _) = try Self.kernelSums(
                            features: features, labels: labels, columns: columns, classes: classes,
                            parameters: parameters, classWeights: nil, precision: precision, vectors: vectors)
                        #expect(outcome == .invalidLabel(row: position), "label \(bad) at \(position) of \(rows), K = \(classes)")
                    }
                }
            }
        }
    }

    @Test("the same block gives the same bits every time (the AVX-512 path other bits than AVX2); K = 1 is left to the caller")
    func repeatableAndUnsupported() throws {
        var random = SplitMix64(seed: 11)
        let (rows, columns, classes) = (333, 13, 6)
        let features = (0..<rows * columns).map { _ in random.nextUniform(-2, 2) }
        let labels = (0..<rows).map { _ in Double(random.next() % UInt64(classes)) }
        let parameters = (0..<(columns + 1) * classes).map { _ in random.nextUniform(-1, 1) }
        for precision in Precision.allCases {
            var bits: [VectorWidth: [UInt64]] = [:]
            for vectors in VectorWidth.allCases {
                let first = try Self.kernelSums(
                    features: features, labels: labels, columns: columns, classes: classes, parameters: parameters,
                    classWeights: nil, precision: precision, vectors: vectors)
                let second = try Self.kernelSums(
                    features: features, labels: labels, columns: columns, classes: classes, parameters: parameters,
                    classWeights: nil, precision: precision, vectors: vectors)
                #expect(first.1.map(\.bitPattern) == second.1.map(\.bitPattern))
                bits[vectors] = first.1.map(\.bitPattern)
            }
            // Another summation order: some of the 85 sums differ in their last bits exactly when AVX-512 ran.
            #expect((bits[.widest] != bits[.avx2]) == KernelImplementation.wideVectorsAvailable, "\(precision)")
        }
        let (outcome, _) = try Self.kernelSums(
            features: [1, 2], labels: [0, 0], columns: 1, classes: 1, parameters: [0.5, 0], classWeights: nil,
            precision: .float64)
        #expect(outcome == .unsupported)
    }
}
