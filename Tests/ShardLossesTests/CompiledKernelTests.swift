import ShardLosses
import ShardNumerics
import Testing

/// The compiled element-wise kernels (bce_prob, bce_logits, focal_prob, focal_logits) against the
/// generic Swift element loop (`lossAndDerivative`) they replace: every element, every reduction,
/// both precisions, both α conventions, γ ∈ {0, 1, 2}, with the clip edges, probabilities 0 and 1
/// and logits ±1000 mixed in. γ = 2.5 keeps the generic loop.
extension ShardLossesTests {
    /// Inputs crossing two block boundaries, with the edge values at fixed positions.
    static func edgeInputs<T: LossScalar>(
        _ random: inout SplitMix64, count: Int, logits: Bool, softLabels: Bool, epsilon: Double
    ) -> (target: [T], prediction: [T]) {
        let target = (0..<count).map { index in T(softLabels && index % 3 == 0 ? random.nextUnit() : Double(random.next() & 1)) }
        var prediction = (0..<count).map { _ in T(logits ? random.nextUnit() * 40 - 20 : random.nextUnit()) }
        let edges: [Double] =
            logits ? [1000, -1000, 0, -0.0, 50, -50, 745, -745, 1e-300] : [0, 1, epsilon, 1 - epsilon, epsilon / 2, 0.5, 1e-300]
        for (offset, edge) in edges.enumerated() {
            for base in [0, 1021, count - 9] { prediction[base + offset] = T(edge) }
        }
        return (target, prediction)
    }

    func expectCompiledMatchesGeneric<T: LossScalar>(
        _ loss: some ElementwiseLoss, _ scalar: T.Type, logits: Bool, softLabels: Bool, epsilon: Double = 1e-15
    ) throws {
        var random = SplitMix64(seed: 77)
        let count = 2100
        let (target, prediction): ([T], [T]) = Self.edgeInputs(
            &random, count: count, logits: logits, softLabels: softLabels, epsilon: epsilon)
        let (relative, absolute): (Double, Double) = T.self == Float.self ? (2e-5, 1e-6) : (1e-12, 1e-15)
        func close(_ a: T, _ b: T) -> Bool {
            if a == b || (a.isNaN && b.isNaN) { return true }
            return abs(Double(a) - Double(b)) <= relative * max(abs(Double(a)), abs(Double(b))) + absolute
        }
        #expect(loss.compiledKernel(for: T.self) != nil, "\(type(of: loss).name) \(T.self): no compiled kernel")
        for reduction in Reduction.allCases {
            let result = try loss.evaluate(target: target, prediction: prediction, reduction: reduction)
            let weight: T = reduction.weight(count: count)
            var genericTotal: T = 0
            var mismatches: [String] = []
            for index in 0..<count {
                let (expectedLoss, derivative) = loss.lossAndDerivative(target: target[index], prediction: prediction[index])
                let expectedGradient = derivative * weight
                genericTotal += expectedLoss
                if !close(result.perSample[index], expectedLoss) || !close(result.gradient[index], expectedGradient) {
                    mismatches.append(
                        "[\(index)] y \(target[index]) p \(prediction[index]): loss \(result.perSample[index]) vs \(expectedLoss), "
                            + "gradient \(result.gradient[index]) vs \(expectedGradient)")
                }
            }
            #expect(mismatches.isEmpty, "\(type(of: loss).name) \(T.self) \(reduction): \(mismatches.prefix(3))")
            let expectedValue = reduction == .mean ? genericTotal * weight : genericTotal
            #expect(
                abs(Double(result.value) - Double(expectedValue)) <= 8 * relative * abs(Double(expectedValue)) + absolute,
                "\(type(of: loss).name) \(T.self) \(reduction): value \(result.value) vs \(expectedValue)")
            #expect(result.perSample.allSatisfy(\.isFinite) && result.gradient.allSatisfy(\.isFinite))
        }
    }

    @Test func compiledCrossEntropiesMatchTheGenericLoop() throws {
        for epsilon in [1e-15, 1e-7, 0.01] {
            try expectCompiledMatchesGeneric(try BinaryCrossEntropy(epsilon: epsilon), Double.self, logits: false, softLabels: true, epsilon: epsilon)
            try expectCompiledMatchesGeneric(try BinaryCrossEntropy(epsilon: epsilon), Float.self, logits: false, softLabels: true, epsilon: epsilon)
        }
        try expectCompiledMatchesGeneric(BinaryCrossEntropyWithLogits(), Double.self, logits: true, softLabels: true)
        try expectCompiledMatchesGeneric(BinaryCrossEntropyWithLogits(), Float.self, logits: true, softLabels: true)
    }

    @Test(arguments: [0.0, 1, 2])
    func compiledFocalLossesMatchTheGenericLoop(gamma: Double) throws {
        for weighting in [FocalWeighting.everySample(alpha: 0.25), .byClass(alpha: 0.25), .byClass(alpha: 0.9)] {
            let onProbabilities = try FocalLoss(gamma: gamma, weighting: weighting)
            let onLogits = try FocalLossWithLogits(gamma: gamma, weighting: weighting)
            try expectCompiledMatchesGeneric(onProbabilities, Double.self, logits: false, softLabels: false)
            try expectCompiledMatchesGeneric(onProbabilities, Float.self, logits: false, softLabels: false)
            try expectCompiledMatchesGeneric(onLogits, Double.self, logits: true, softLabels: false)
            try expectCompiledMatchesGeneric(onLogits, Float.self, logits: true, softLabels: false)
        }
    }

    /// Other γ keep the generic loop: bit for bit `lossAndDerivative` scaled by the reduction weight.
    @Test func otherGammaUsesTheGenericLoop() throws {
        let loss = try FocalLossWithLogits(gamma: 2.5, weighting: .byClass(alpha: 0.25))
        #expect(loss.compiledKernel(for: Double.self) == nil)
        #expect(try FocalLoss(gamma: 0.5, weighting: .everySample(alpha: 0.25)).compiledKernel(for: Float.self) == nil)
        let target: [Double] = [1, 0, 1, 0]
        let logits: [Double] = [-3, 2, 0.5, -1000]
        let result = try loss.evaluate(target: target, prediction: logits)
        for index in target.indices {
            let (value, derivative) = loss.lossAndDerivative(target: target[index], prediction: logits[index])
            #expect(result.perSample[index] == value && result.gradient[index] == derivative / 4)
        }
    }

    /// The compiled path reports the first bad element with the loss's own error, also past the first block.
    @Test func compiledPathReportsTheFirstElementOutsideTheDomain() throws {
        var target = [Float](repeating: 0, count: 3000)
        target[2049] = 0.5
        target[2990] = 7
        let prediction = [Float](repeating: 0.25, count: 3000)
        #expect(throws: LossError.invalidTarget("focal_logits: target 2049 is 0.5; it must be 0 or 1")) {
            try FocalLossWithLogits(gamma: 2, weighting: .byClass(alpha: 0.25)).evaluate(target: target, prediction: prediction)
        }
        #expect(throws: LossError.invalidTarget("bce_logits: target 2990 is 7.0; it must be in [0, 1]")) {
            try BinaryCrossEntropyWithLogits().evaluate(target: target, prediction: prediction)
        }
        var probabilities = [Double](repeating: 0.5, count: 1500)
        probabilities[1100] = .nan
        #expect(throws: LossError.invalidPrediction("focal_prob: probability 1100 is nan; probabilities must lie in [0, 1]")) {
            try FocalLoss(weighting: .everySample(alpha: 0.25)).evaluate(target: [Double](repeating: 1, count: 1500), prediction: probabilities)
        }
    }
}
