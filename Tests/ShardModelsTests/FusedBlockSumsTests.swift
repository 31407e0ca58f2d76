import ShardNumerics
import Testing
import _TestSupport

@testable import ShardModels

/// The fused kernel (`LinearLossKernel`, through each model's `blockSums`) against the Swift path it
/// replaces (`swiftBlockSums` / `weightedSums`, one row at a time), on random blocks and on blocks whose
/// rows sit exactly on the losses' kinks.
///
/// Tolerance, with scale = Σ_i (1 + ‖x_i‖₁)(1 + max_q |s_iq|) · c_max (a bound on the magnitude of every
/// row's contribution): float64 storage, where both compute in double (different summation orders,
/// exp/log within 1 ulp of libm), agrees within 1e-12 · scale; float32 storage, where the kernel computes
/// scores, losses and gradient sums in float lanes (as the float32 logistic kernel), within 1e-5 · scale
/// (≈ 170 float ε). On the kink blocks every score is exact in any order and in float
/// (dyadic values), so both paths take the same branch at every kink.
@Suite("Fused linear block sums")
struct FusedBlockSumsTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let model: any Model
        let smoothing: Double
        let labels: @Sendable (_ score: Double, _ draw: UInt64) -> Double
        var testDescription: String { name }
    }

    /// The models under test for `featureCount` features, with label makers from a row's first score.
    static func models(featureCount d: Int) throws -> [Case] {
        let binary: @Sendable (Double, UInt64) -> Double = { _, draw in Double(draw & 1) }
        let signed: @Sendable (Double, UInt64) -> Double = { _, draw in draw & 1 == 0 ? -1 : 1 }
        // Never exactly on the kink e = 0 (the scores of the two paths differ in the last bits; the kinks
        // are tested on exact scores in `kinks`).
        let real: @Sendable (Double, UInt64) -> Double = { score, draw in score + (Double(draw % 8) + 0.5) / 4 - 1 }
        let classes: (Int) -> @Sendable (Double, UInt64) -> Double = { k in { _, draw in Double(draw % UInt64(k)) } }
        return [
            Case(name: "svm", model: LinearSVM(featureCount: d, l2: 0), smoothing: 0, labels: signed),
            Case(name: "svm μ=0.5", model: LinearSVM(featureCount: d, l2: 0), smoothing: 0.5, labels: signed),
            Case(
                name: "quantile τ=0.25", model: try QuantileRegression(featureCount: d, l2: 0, taus: [0.25]),
                smoothing: 0, labels: real),
            Case(
                name: "quantile τ=0.25 μ=0.5", model: try QuantileRegression(featureCount: d, l2: 0, taus: [0.25]),
                smoothing: 0.5, labels: real),
            Case(
                name: "quantile 3 levels",
                model: try QuantileRegression(featureCount: d, l2: 0, taus: [0.1, 0.5, 0.9]), smoothing: 0,
                labels: real),
            Case(
                name: "quantile 3 levels μ=0.25",
                model: try QuantileRegression(featureCount: d, l2: 0, taus: [0.1, 0.5, 0.75]), smoothing: 0.25,
                labels: real),
            Case(
                name: "softmax K=3", model: try SoftmaxRegression(featureCount: d, l2: 0, classCount: 3),
                smoothing: 0, labels: classes(3)),
            Case(
                name: "softmax K=5 weighted",
                model: try SoftmaxRegression(
                    featureCount: d, l2: 0, classCount: 5, classWeights: [1, 0.5, 2, 0, 3]),
                smoothing: 0, labels: classes(5)),
            Case(
                name: "focal γ=2 α=0.25",
                model: try LogisticRegression(
                    featureCount: d, l2: 0, focal: FocalParameters(gamma: 2, alpha: 0.25), classWeights: nil),
                smoothing: 0, labels: binary),
            Case(
                name: "focal γ=1 α=0.7 weighted",
                model: try LogisticRegression(
                    featureCount: d, l2: 0, focal: FocalParameters(gamma: 1, alpha: 0.7), classWeights: [1, 3]),
                smoothing: 0, labels: binary),
            Case(
                name: "focal γ=0 α=0.5",
                model: try LogisticRegression(
                    featureCount: d, l2: 0, focal: FocalParameters(gamma: 0, alpha: 0.5), classWeights: nil),
                smoothing: 0, labels: binary),
            Case(
                name: "BCE weighted [2, 0.5]",
                model: try LogisticRegression(featureCount: d, l2: 0, focal: nil, classWeights: [2, 0.5]),
                smoothing: 0, labels: binary),
        ]
    }

    /// The Swift path of `model` (the one-row-at-a-time computation the kernel replaced).
    static func swiftSums(_ model: any Model, _ block: Block, _ parameters: [Double], smoothing: Double) throws
        -> [Double]
    {
        var sums = [Double](repeating: .nan, count: model.sumsWidth)
        try parameters.withUnsafeBufferPointer { p in
            try sums.withUnsafeMutableBufferPointer { out in
                switch model {
                case let svm as LinearSVM: try svm.swiftBlockSums(block, parameters: p, smoothing: smoothing, into: out)
                case let quantile as QuantileRegression:
                    try quantile.swiftBlockSums(block, parameters: p, smoothing: smoothing, into: out)
                case let softmax as SoftmaxRegression: try softmax.swiftBlockSums(block, parameters: p, into: out)
                case let logistic as LogisticRegression: try logistic.weightedSums(block, parameters: p, into: out)
                default: Issue.record("no Swift path for \(type(of: model))")
                }
            }
        }
        return sums
    }

    /// Scores s_iq (exact double products summed in d order, then the bias), Q = parameters / (D + 1).
    static func scores(_ features: [Double], rows: Int, columns: Int, parameters: [Double]) -> [[Double]] {
        let outputs = parameters.count / (columns + 1)
        return (0..<rows).map { i in
            (0..<outputs).map { q in
                var s = 0.0
                for d in 0..<columns { s += features[i * columns + d] * parameters[d * outputs + q] }
                return s + parameters[columns * outputs + q]
            }
        }
    }

    /// Compares the model's sums with the Swift path within the suite's tolerance; returns whether the two
    /// differ in any bit (they do whenever the kernel ran on a non-trivial block: another summation order).
    @discardableResult
    static func compare(
        _ testCase: Case, features: [Double], labels: [Double], columns: Int, parameters: [Double],
        precision: Precision, weightBound: Double, label: String
    ) throws -> Bool {
        let block = try Block(features: features, labels: labels, columns: columns, id: 3, precision: precision)
        let seen = precision == .float64 ? features : features.map { Double(Float($0)) }
        let fused = try testCase.model.sums(block, parameters, smoothing: testCase.smoothing)
        let swift = try swiftSums(testCase.model, block, parameters, smoothing: testCase.smoothing)
        let rowScores = scores(seen, rows: labels.count, columns: columns, parameters: parameters)
        var scale = 0.0
        for i in 0..<labels.count {
            let norm = (0..<columns).reduce(1.0) { $0 + abs(seen[i * columns + $1]) }
            scale += norm * (1 + (rowScores[i].map(abs).max() ?? 0)) * weightBound
        }
        let relative = precision == .float64 ? 1e-12 : 1e-5
        let bad = fused.indices.filter { !(abs(fused[$0] - swift[$0]) <= relative * scale + 1e-300) }
        #expect(bad.isEmpty, "\(testCase.name) \(precision) \(label): sums \(bad) differ: \(bad.map { (fused[$0], swift[$0]) })")
        return fused.map(\.bitPattern) != swift.map(\.bitPattern)
    }

    @Test("random blocks: the fused kernel matches the Swift path (every model, both precisions, D 0…70, odd row counts)")
    func randomBlocks() throws {
        var random = SplitMix64(seed: 0xF05ED)
        for columns in [0, 1, 3, 4, 7, 20, 37, 70] {
            for testCase in try Self.models(featureCount: columns) {
                let outputs = testCase.model.parameterCount / (columns + 1)
                var kernelRan = false
                for rows in [0, 1, 3, 5, 64, 67, 301] {
                    let features = (0..<rows * columns).map { _ in random.nextUniform(-2, 2) }
                    let parameters = (0..<testCase.model.parameterCount).map { _ in random.nextUniform(-1, 1) }
                    let rowScores = Self.scores(features, rows: rows, columns: columns, parameters: parameters)
                    let labels = (0..<rows).map { testCase.labels(rowScores[$0][0], random.next()) }
                    for precision in Precision.allCases {
                        let differs = try Self.compare(
                            testCase, features: features, labels: labels, columns: columns, parameters: parameters,
                            precision: precision, weightBound: 3, label: "\(rows)×\(columns), Q = \(outputs)")
                        kernelRan = kernelRan || differs
                    }
                }
                // With AVX2+FMA the fused kernel (not the Swift fallback) produced the sums.
                if columns >= 3, KernelImplementation.simdAvailable {
                    #expect(kernelRan, "\(testCase.name), D = \(columns): the fused kernel did not run")
                }
            }
        }
    }

    /// Rows placed exactly on a kink: with w_0 = 1, x_i0 = target − (the rest of the score), all dyadic,
    /// so s_i = target exactly in any summation order.
    @Test("kinks: margin exactly 1, residual exactly 0 and the smoothed junctions agree with the Swift path")
    func kinks() throws {
        let columns = 5
        var random = SplitMix64(seed: 0x4B1)
        let rows = 97
        for testCase in try Self.models(featureCount: columns) {
            let outputs = testCase.model.parameterCount / (columns + 1)
            // Dyadic parameters in [-1, 1] (multiples of 1/8), w_0q = 1 for every output.
            var parameters = (0..<testCase.model.parameterCount).map { _ in Double(Int(random.next() % 17) - 8) / 8 }
            for q in 0..<outputs { parameters[q] = 1 }
            var features = (0..<rows * columns).map { _ in Double(Int(random.next() % 9) - 4) / 4 }
            var labels = [Double](repeating: 0, count: rows)
            var onKink = 0
            for i in 0..<rows {
                let draw = random.next()
                let rest = (1..<columns).reduce(parameters[columns * outputs]) {
                    $0 + features[i * columns + $1] * parameters[$1 * outputs]
                }
                switch testCase.model {
                case is LinearSVM:
                    // m = y s ∈ {1, 1 − μ (the smoothed junction), 0.5}: s = y m.
                    let y: Double = draw & 1 == 0 ? -1 : 1
                    let margins = [1.0, 1 - max(testCase.smoothing, 0.25), 0.5, 1.5]
                    features[i * columns] = y * margins[Int((draw >> 1) % 4)] - rest
                    labels[i] = y
                    onKink += 1
                case is QuantileRegression:
                    // e = y − s_0 ∈ {0, τ_0 μ, −(1 − τ_0) μ}: labels put on the kinks of level 0.
                    let s = Double(Int(draw % 7) - 3) / 4
                    features[i * columns] = s - rest
                    let tau = (testCase.model as? QuantileRegression)?.taus[0] ?? 0.5
                    let offsets = [0.0, tau * testCase.smoothing, -(1 - tau) * testCase.smoothing]
                    labels[i] = s + offsets[Int((draw >> 3) % 3)]
                    onKink += 1
                default:
                    // Focal: z = 0 exactly (sigmoid 1/2); softmax: s_0 = 0 exactly; for a third of the rows.
                    if i % 3 == 0 {
                        features[i * columns] = -rest
                        onKink += 1
                    }
                    labels[i] = testCase.labels(0, draw >> 2)
                }
            }
            #expect(onKink > rows / 4, "\(testCase.name): only \(onKink) rows on a kink")
            for precision in Precision.allCases {
                try Self.compare(
                    testCase, features: features, labels: labels, columns: columns, parameters: parameters,
                    precision: precision, weightBound: 3, label: "kinks")
            }
        }
    }

    @Test("kink values: margin exactly 1 has slope 0, residual exactly 0 has slope 0 (exact losses)")
    func kinkValues() throws {
        // One feature, w = 1, b = 0: s = x.
        for precision in Precision.allCases {
            let svmBlock = try Block(features: [1, -1, 0.5], labels: [1, -1, 1], columns: 1, id: 3, precision: precision)
            let svm = try LinearSVM(featureCount: 1, l2: 0).sums(svmBlock, [1, 0], smoothing: 0)
            // Rows 0, 1 on the margin (loss 0, slope 0); row 2: loss 0.5, slope −1.
            #expect(svm == [0.5, -0.5, -1], "\(precision)")
            let quantileBlock = try Block(features: [1, 2, 3], labels: [1, 2, 4], columns: 1, id: 3, precision: precision)
            let quantile = try QuantileRegression(featureCount: 1, l2: 0, taus: [0.25])
                .sums(quantileBlock, [1, 0], smoothing: 0)
            // Rows 0, 1: residual 0 (loss 0, slope 0); row 2: e = 1, loss τ, slope −τ.
            #expect(quantile == [0.25, -0.75, -0.25], "\(precision)")
        }
    }

    @Test("focal γ outside {0, 1, 2} takes the Swift path (bit for bit)")
    func unsupportedGammaFallsBack() throws {
        var random = SplitMix64(seed: 9)
        let model = try LogisticRegression(
            featureCount: 4, l2: 0, focal: FocalParameters(gamma: 1.5, alpha: 0.3), classWeights: [1, 2])
        let features = (0..<40 * 4).map { _ in random.nextUniform(-2, 2) }
        let labels = (0..<40).map { _ in Double(random.next() & 1) }
        let parameters = (0..<5).map { _ in random.nextUniform(-1, 1) }
        for precision in Precision.allCases {
            let block = try Block(features: features, labels: labels, columns: 4, id: 3, precision: precision)
            let fused = try model.sums(block, parameters, smoothing: 0)
            let swift = try Self.swiftSums(model, block, parameters, smoothing: 0)
            #expect(fused.map(\.bitPattern) == swift.map(\.bitPattern))
        }
    }

    @Test("the kernel's own shape and loss errors are typed")
    func kernelErrors() throws {
        let block = try Block(features: [1, 2, 3, 4], labels: [1, -1], columns: 2, id: 3, precision: .float64)
        var out = [Double](repeating: 0, count: 4)
        let short = [0.5, 0.5]
        #expect(throws: KernelError.parametersLength(expected: 3, actual: 2)) {
            try short.withUnsafeBufferPointer { p in
                try out.withUnsafeMutableBufferPointer { o in
                    _ = try LinearLossKernel.sums(of: block, loss: .hinge(smoothing: 0), parameters: p, into: o)
                }
            }
        }
        let parameters = [0.5, 0.5, 0.5]
        #expect(throws: KernelError.outputLength(expected: 4, actual: 3)) {
            try parameters.withUnsafeBufferPointer { p in
                var small = [Double](repeating: 0, count: 3)
                try small.withUnsafeMutableBufferPointer { o in
                    _ = try LinearLossKernel.sums(of: block, loss: .hinge(smoothing: 0), parameters: p, into: o)
                }
            }
        }
        #expect(throws: KernelError.invalidLoss("3 class weights, expected 2")) {
            try parameters.withUnsafeBufferPointer { p in
                try out.withUnsafeMutableBufferPointer { o in
                    _ = try LinearLossKernel.sums(
                        of: block, loss: .focal(gamma: 2, alphaPositive: 1, alphaNegative: 1, classWeights: [1, 1, 1]),
                        parameters: p, into: o)
                }
            }
        }
        let outcome = try parameters.withUnsafeBufferPointer { p in
            try out.withUnsafeMutableBufferPointer { o in
                try LinearLossKernel.sums(of: block, loss: .hinge(smoothing: 0), parameters: p, into: o)
            }
        }
        #expect(outcome == (KernelImplementation.simdAvailable ? .computed : .unsupported))
        let badLabel = try Block(features: [1, 2, 3, 4], labels: [1, 0], columns: 2, id: 3, precision: .float32)
        let bad = try parameters.withUnsafeBufferPointer { p in
            try out.withUnsafeMutableBufferPointer { o in
                try LinearLossKernel.sums(of: badLabel, loss: .hinge(smoothing: 0), parameters: p, into: o)
            }
        }
        #expect(bad == (KernelImplementation.simdAvailable ? .invalidLabel(row: 1) : .unsupported))
    }
}
