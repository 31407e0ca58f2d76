import Foundation
import ShardNumerics
import Testing

/// The double exp/log/log1p and float log of the element-wise loss kernels against libm (maximum ulp
/// error over wide ranges and the special values), and the loss kernels' AVX2 path against the
/// portable one.
@Suite("Element-wise loss kernels")
struct LossKernelTests {
    /// |ours - libm| in units of libm's ulp (libm is within 1 ulp of the exact value itself).
    static func ulpError(_ ours: Double, _ reference: Double) -> Double {
        if ours == reference { return 0 }
        return abs(ours - reference) / reference.ulp
    }

    static func ulpError(_ ours: Float, _ reference: Float) -> Double {
        if ours == reference { return 0 }
        return Double(abs(ours - reference) / reference.ulp)
    }

    /// Log-uniform magnitudes 2^[-lowExponent, highExponent] plus uniform values on [low, high].
    static func samples(_ random: inout SplitMix64, count: Int, uniform range: ClosedRange<Double>) -> [Double] {
        (0..<count).map { _ in range.lowerBound + random.nextUnit() * (range.upperBound - range.lowerBound) }
    }

    @Test func doubleExpWithinOneUlpOfLibm() {
        var random = SplitMix64(seed: 41)
        var inputs = Self.samples(&random, count: 200_000, uniform: -745...709.7)
        inputs += Self.samples(&random, count: 100_000, uniform: -1...1)
        inputs += Self.samples(&random, count: 20_000, uniform: -745.1...(-700))  // subnormal results
        let outputs = LossKernelMath.exp(inputs)
        var worst = 0.0
        var worstSubnormal = 0.0
        for (x, ours) in zip(inputs, outputs) {
            let reference = Foundation.exp(x)
            if reference < Double.leastNormalMagnitude {
                worstSubnormal = max(worstSubnormal, abs(ours - reference) / Double.leastNonzeroMagnitude)
            } else {
                worst = max(worst, Self.ulpError(ours, reference))
            }
        }
        print("loss kernel exp worst error: \(worst) ulp (normal), \(worstSubnormal) subnormal steps")
        #expect(worst <= 1.0)
        #expect(worstSubnormal <= 1.0)
        let special = LossKernelMath.exp([0, -0.0, 709.79, .infinity, -745.2, -.infinity, .nan, 1])
        #expect(special[0] == 1 && special[1] == 1)
        #expect(special[2] == .infinity && special[3] == .infinity)
        #expect(special[4] == 0 && special[5] == 0)
        #expect(special[6].isNaN)
        #expect(Self.ulpError(special[7], Foundation.exp(1.0)) <= 1)
    }

    @Test func doubleLogWithinOneUlpOfLibm() {
        var random = SplitMix64(seed: 42)
        // Every binade from subnormals to the largest doubles, and the hard region near 1.
        var inputs = (0..<300_000).map { _ in Foundation.exp2(random.nextUnit() * 2098 - 1074) }
        inputs += Self.samples(&random, count: 200_000, uniform: 0.7...1.45)
        inputs += Self.samples(&random, count: 50_000, uniform: 1e-15...1)
        let outputs = LossKernelMath.log(inputs)
        var worst = 0.0
        for (x, ours) in zip(inputs, outputs) where x != 1 {
            worst = max(worst, Self.ulpError(ours, Foundation.log(x)))
        }
        print("loss kernel log worst error: \(worst) ulp")
        #expect(worst <= 1.0)
        let special = LossKernelMath.log([1, 0, -0.0, .infinity, -1, .nan, .leastNonzeroMagnitude, .greatestFiniteMagnitude])
        #expect(special[0] == 0)
        #expect(special[1] == -.infinity && special[2] == -.infinity)
        #expect(special[3] == .infinity)
        #expect(special[4].isNaN && special[5].isNaN)
        #expect(Self.ulpError(special[6], Foundation.log(Double.leastNonzeroMagnitude)) <= 1)
        #expect(Self.ulpError(special[7], Foundation.log(Double.greatestFiniteMagnitude)) <= 1)
    }

    @Test func doubleLog1pOnTheUnitIntervalWithinOneUlpOfLibm() throws {
        var random = SplitMix64(seed: 43)
        var inputs = Self.samples(&random, count: 300_000, uniform: 0...1)
        inputs += (0..<100_000).map { _ in Foundation.exp2(-random.nextUnit() * 1074) }
        inputs += [0, 1, 0.5, 0.5.nextDown, Double.leastNonzeroMagnitude, Double.leastNormalMagnitude]
        let outputs = try LossKernelMath.log1pUnit(inputs)
        var worst = 0.0
        for (x, ours) in zip(inputs, outputs) {
            worst = max(worst, Self.ulpError(ours, Foundation.log1p(x)))
        }
        print("loss kernel log1p worst error: \(worst) ulp")
        #expect(worst <= 1.0)
        #expect(try LossKernelMath.log1pUnit([0]) == [0])
        #expect(throws: KernelError.self) { try LossKernelMath.log1pUnit([1.5]) }
        #expect(throws: KernelError.self) { try LossKernelMath.log1pUnit([.nan]) }
    }

    @Test func floatLogWithinOneUlpOfLibm() {
        var random = SplitMix64(seed: 44)
        var inputs = (0..<300_000).map { _ in Float(Foundation.exp2(random.nextUnit() * 277 - 149)) }
        inputs += (0..<200_000).map { _ in Float(0.7 + random.nextUnit() * 0.75) }
        inputs = inputs.filter { $0 > 0 && $0.isFinite }
        let outputs = LossKernelMath.log(inputs)
        var worst = 0.0
        for (x, ours) in zip(inputs, outputs) where x != 1 {
            worst = max(worst, Self.ulpError(ours, Foundation.logf(x)))
        }
        print("loss kernel logf worst error: \(worst) ulp")
        #expect(worst <= 1.0)
        let special = LossKernelMath.log([1, 0, Float.infinity, -1, Float.nan])
        #expect(special[0] == 0 && special[1] == -.infinity && special[2] == .infinity)
        #expect(special[3].isNaN && special[4].isNaN)
    }

    static let kernels: [ElementwiseLossKernel] = [
        .binaryCrossEntropy(clipLow: 1e-7, clipHigh: 1 - 1e-7),
        .binaryCrossEntropyWithLogits,
        .focal(gamma: 2, weightPositive: 0.25, weightNegative: 0.75, clipLow: 1e-7, clipHigh: 1 - 1e-7),
        .focal(gamma: 0, weightPositive: 0.25, weightNegative: 0.25, clipLow: 1e-7, clipHigh: 1 - 1e-7),
        .focalWithLogits(gamma: 1, weightPositive: 0.5, weightNegative: 0.5),
        .focalWithLogits(gamma: 2, weightPositive: 0.25, weightNegative: 0.75),
    ]

    /// The AVX2 and portable passes agree to a few ulp per element and in the total, on every count
    /// from 0 to 2100 (whole blocks, block tails, groups of eight and their tails).
    @Test(arguments: kernels)
    func fastestMatchesPortable(_ kernel: ElementwiseLossKernel) throws {
        var random = SplitMix64(seed: 45)
        let logits: Bool
        switch kernel {
        case .binaryCrossEntropyWithLogits, .focalWithLogits: logits = true
        default: logits = false
        }
        let softLabels: Bool
        if case .binaryCrossEntropy = kernel { softLabels = true } else { softLabels = false }
        for count in [0, 1, 7, 8, 9, 1023, 1024, 1031, 2100] {
            let target = (0..<count).map { index in softLabels && index % 3 == 0 ? random.nextUnit() : Double(random.next() & 1) }
            var prediction = (0..<count).map { _ in logits ? random.nextUnit() * 60 - 30 : random.nextUnit() }
            if count > 8 {
                prediction[1] = logits ? 1000 : 0
                prediction[2] = logits ? -1000 : 1
            }
            try compare(kernel, target: target, prediction: prediction)
            try compare(kernel, target: target.map(Float.init), prediction: prediction.map(Float.init))
        }
    }

    private func run<T: BinaryFloatingPoint & Sendable>(
        _ kernel: ElementwiseLossKernel, _ target: [T], _ prediction: [T], _ implementation: KernelImplementation
    ) -> (ElementwiseLossKernel.Outcome<T>?, [T], [T]) {
        let count = target.count
        var loss = [T](repeating: 0, count: count)
        var gradient = [T](repeating: 0, count: count)
        var outcome: ElementwiseLossKernel.Outcome<T>?
        // Non-empty buffers so the pointers exist for count 0.
        (target + [0]).withUnsafeBufferPointer { y in
            (prediction + [0]).withUnsafeBufferPointer { p in
                var lossBuffer = loss + [0]
                var gradientBuffer = gradient + [0]
                lossBuffer.withUnsafeMutableBufferPointer { l in
                    gradientBuffer.withUnsafeMutableBufferPointer { g in
                        if let y = y.baseAddress as? UnsafePointer<Double>, let p = p.baseAddress as? UnsafePointer<Double>,
                            let l = l.baseAddress as? UnsafeMutablePointer<Double>, let g = g.baseAddress as? UnsafeMutablePointer<Double>
                        {
                            outcome = kernel.evaluate(
                                target: y, prediction: p, count: count, perSample: l, gradient: g, gradientScale: 0.5,
                                implementation: implementation) as? ElementwiseLossKernel.Outcome<T>
                        } else if let y = y.baseAddress as? UnsafePointer<Float>, let p = p.baseAddress as? UnsafePointer<Float>,
                            let l = l.baseAddress as? UnsafeMutablePointer<Float>, let g = g.baseAddress as? UnsafeMutablePointer<Float>
                        {
                            outcome = kernel.evaluate(
                                target: y, prediction: p, count: count, perSample: l, gradient: g, gradientScale: 0.5,
                                implementation: implementation) as? ElementwiseLossKernel.Outcome<T>
                        }
                    }
                }
                loss = Array(lossBuffer.prefix(count))
                gradient = Array(gradientBuffer.prefix(count))
            }
        }
        return (outcome, loss, gradient)
    }

    private func compare<T: BinaryFloatingPoint & Sendable>(_ kernel: ElementwiseLossKernel, target: [T], prediction: [T]) throws {
        let (fastOutcome, fastLoss, fastGradient) = run(kernel, target, prediction, .fastest)
        let (portableOutcome, portableLoss, portableGradient) = run(kernel, target, prediction, .portable)
        guard case .completed(let fastTotal) = try #require(fastOutcome),
            case .completed(let portableTotal) = try #require(portableOutcome)
        else {
            Issue.record("\(kernel) \(T.self) n=\(target.count): a valid input was reported outside the domain")
            return
        }
        // Float kernels compute in float (vector exp and log1p within ~2 ulp): allow 16 float ulp of
        // each value's magnitude plus the scale of the derivative terms; double within 8 ulp.
        let epsilon = Double(T.ulpOfOne)
        let allowed = T.self == Float.self ? 64 * epsilon : 16 * epsilon
        for index in 0..<target.count {
            let lossScale = max(1, abs(Double(portableLoss[index])))
            let gradientScale = max(1, abs(Double(portableGradient[index])))
            #expect(
                abs(Double(fastLoss[index] - portableLoss[index])) <= allowed * lossScale,
                "\(kernel) \(T.self) loss[\(index)] \(fastLoss[index]) vs \(portableLoss[index])")
            #expect(
                abs(Double(fastGradient[index] - portableGradient[index])) <= allowed * gradientScale,
                "\(kernel) \(T.self) gradient[\(index)] \(fastGradient[index]) vs \(portableGradient[index])")
        }
        let totalScale = portableLoss.reduce(0.0) { $0 + abs(Double($1)) } + 1
        #expect(abs(Double(fastTotal - portableTotal)) <= allowed * totalScale, "\(kernel) \(T.self) total")
        // The total is the documented order over the stored losses.
        #expect(fastTotal == Self.documentedSum(fastLoss), "\(kernel) \(T.self) n=\(target.count) summation order")
    }

    /// Blocks of 1024, eight running sums per block, the block's tail into sum 0.
    static func documentedSum<T: BinaryFloatingPoint & Sendable>(_ values: [T]) -> T {
        var total: T = 0
        var start = 0
        while start < values.count {
            let end = min(start + 1024, values.count)
            var sums = [T](repeating: 0, count: 8)
            let groupsEnd = start + (end - start) / 8 * 8
            for index in start..<end { sums[index < groupsEnd ? (index - start) % 8 : 0] += values[index] }
            total += ((sums[0] + sums[1]) + (sums[2] + sums[3])) + ((sums[4] + sums[5]) + (sums[6] + sums[7]))
            start = end
        }
        return total
    }

    /// A NaN or infinite logit at every lane position of two groups of eight and a tail (y = 0, so
    /// z = -inf would be a right prediction) is outside the domain for the AVX2 and portable passes
    /// alike, in both precisions; the finite logits around it are inside.
    @Test func nonFiniteLogitsAreOutsideTheDomainAtEveryLane() {
        let kernels: [ElementwiseLossKernel] = [
            .binaryCrossEntropyWithLogits,
            .focalWithLogits(gamma: 0, weightPositive: 0.25, weightNegative: 0.75),
            .focalWithLogits(gamma: 1, weightPositive: 0.25, weightNegative: 0.75),
            .focalWithLogits(gamma: 2, weightPositive: 0.25, weightNegative: 0.75),
        ]
        let count = 21
        let target = [Double](repeating: 0, count: count)
        let finite = (0..<count).map { Double($0) * 3 - 30 }
        for kernel in kernels {
            for implementation in KernelImplementation.allCases {
                #expect(run(kernel, target, finite, implementation).0.map { if case .completed = $0 { true } else { false } } == true)
                for bad in [Double.nan, .infinity, -.infinity] {
                    for position in 0..<count {
                        var logits = finite
                        logits[position] = bad
                        let double = run(kernel, target, logits, implementation).0
                        let float = run(kernel, target.map(Float.init), logits.map(Float.init), implementation).0
                        #expect(double == .outsideDomain(index: position), "\(kernel) \(implementation) double \(bad) at \(position)")
                        #expect(float == .outsideDomain(index: position), "\(kernel) \(implementation) float \(bad) at \(position)")
                    }
                }
            }
        }
    }

    @Test func reportsTheFirstElementOutsideTheDomainAndRefusesOtherGamma() {
        var target = [Double](repeating: 1, count: 3000)
        let prediction = [Double](repeating: 0.5, count: 3000)
        target[2500] = 0.5
        target[2700] = -1
        var loss = [Double](repeating: 0, count: 3000)
        var gradient = loss
        for implementation in KernelImplementation.allCases {
            let focal = ElementwiseLossKernel.focalWithLogits(gamma: 2, weightPositive: 1, weightNegative: 1)
            let bce = ElementwiseLossKernel.binaryCrossEntropyWithLogits
            let other = ElementwiseLossKernel.focalWithLogits(gamma: 2.5, weightPositive: 1, weightNegative: 1)
            #expect(!other.isSupported && focal.isSupported)
            target.withUnsafeBufferPointer { y in
                prediction.withUnsafeBufferPointer { p in
                    loss.withUnsafeMutableBufferPointer { l in
                        gradient.withUnsafeMutableBufferPointer { g in
                            func run(_ kernel: ElementwiseLossKernel) -> ElementwiseLossKernel.Outcome<Double>? {
                                kernel.evaluate(
                                    target: y.baseAddress!, prediction: p.baseAddress!, count: 3000, perSample: l.baseAddress!,
                                    gradient: g.baseAddress!, gradientScale: 1, implementation: implementation)
                            }
                            #expect(run(focal) == .outsideDomain(index: 2500), "\(implementation)")
                            #expect(run(bce) == .outsideDomain(index: 2700), "\(implementation)")
                            #expect(run(other) == nil, "\(implementation)")
                        }
                    }
                }
            }
        }
    }
}
