import Foundation
import ShardNumerics
import Synchronization
import Testing
import _TestSupport

// MARK: - Reference computation

/// Double-precision logistic sums, one row at a time, with the error scale each output may carry.
///
///     z_i = Σ_j x_ij w_j + b   (w, b as the kernel sees them: rounded to Float for float32 blocks)
///     l_i = max(z_i, 0) - y_i z_i + log1p(exp(-|z_i|)),  r_i = sigmoid(z_i) - y_i
///
/// scale[k] = Σ_i (|term_ik| + sensitivity_ik · S_i), S_i = Σ_j |x_ij w_j| + |b|: the first part bounds
/// rounding in the terms and their sums, the second the effect of rounding z_i by a relative ε of S_i
/// (|dl/dz| = |r_i|, |dr/dz| = sigmoid'(z_i)). An implementation with unit round-off ε is accurate when
/// |actual - expected| <= c · ε · scale for a small c.
struct ReferenceSums {
    var sums: [Double]
    var scale: [Double]

    init(sums: [Double], scale: [Double]) {
        self.sums = sums
        self.scale = scale
    }

    init(features: [Double], labels: [Double], columns: Int, weights: [Double], bias: Double) {
        let rows = labels.count
        sums = [Double](repeating: 0, count: columns + 2)
        scale = [Double](repeating: 0, count: columns + 2)
        for i in 0..<rows {
            var z = bias
            var magnitude = abs(bias)
            for j in 0..<columns {
                z += features[i * columns + j] * weights[j]
                magnitude += abs(features[i * columns + j] * weights[j])
            }
            let y = labels[i]
            let e = Foundation.exp(-abs(z))
            let q = e / (1 + e)
            let loss = max(z, 0) - y * z + Foundation.log1p(e)
            let r = z >= 0 ? (1 - y) - q : q - y
            let slope = q * (1 - q)  // sigmoid'(z)
            sums[0] += loss
            scale[0] += abs(loss) + abs(z) + abs(r) * magnitude
            for j in 0..<columns {
                let x = features[i * columns + j]
                sums[1 + j] += r * x
                scale[1 + j] += abs(r * x) + slope * abs(x) * magnitude
            }
            sums[1 + columns] += r
            scale[1 + columns] += abs(r) + slope * magnitude
        }
    }
}

extension SplitMix64 {
    /// An integer in `range` as `lowerBound + next() mod count` (slightly biased; fine for test shapes).
    mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.count))
    }
}

struct RandomProblem {
    var block: Block
    var weights: [Double]
    var bias: Double
    var reference: ReferenceSums
}

/// A random block (features in [-2, 2], labels in {0, 1}, weights and bias in [-1, 1]) with its reference.
func randomProblem(_ random: inout SplitMix64, precision: Precision, rows: Int, columns: Int, id: Int = 0) throws
    -> RandomProblem
{
    var features = (0..<rows * columns).map { _ in random.nextUniform(-2, 2) }
    let labels = random.binaryLabels(rows)
    let weights = (0..<columns).map { _ in random.nextUniform(-1, 1) }
    let bias = random.nextUniform(-1, 1)
    return try problem(
        features: &features, labels: labels, columns: columns, weights: weights, bias: bias, precision: precision,
        id: id)
}

/// A block of the given values in `precision` (features rounded to Float for float32) and its reference
/// computed on exactly the values and parameters the kernel sees.
func problem(
    features: inout [Double], labels: [Double], columns: Int, weights: [Double], bias: Double,
    precision: Precision, id: Int = 0
) throws -> RandomProblem {
    let block = try Block(features: features, labels: labels, columns: columns, id: id, precision: precision)
    var seenWeights = weights
    var seenBias = bias
    if precision == .float32 {
        features = features.map { Double(Float($0)) }
        seenWeights = weights.map { Double(Float($0)) }
        seenBias = Double(Float(bias))
    }
    let reference = ReferenceSums(
        features: features, labels: labels, columns: columns, weights: seenWeights, bias: seenBias)
    return RandomProblem(block: block, weights: weights, bias: bias, reference: reference)
}

/// Unit round-off of the arithmetic an implementation uses for a precision.
func roundOff(_ precision: Precision, _ implementation: KernelImplementation) -> Double {
    precision == .float32 && implementation == .fastest && KernelImplementation.simdAvailable ? 0x1p-24 : 0x1p-53
}

/// Indices where |actual - expected| > factor · ε · scale (plus a floor far below any value that matters).
func outOfBounds(_ actual: [Double], _ reference: ReferenceSums, epsilon: Double, factor: Double) -> [Int] {
    guard actual.count == reference.sums.count else { return Array(actual.indices) }
    return actual.indices.filter {
        !(abs(actual[$0] - reference.sums[$0]) <= factor * epsilon * reference.scale[$0] + 1e-300)
    }
}

func bitPatterns(_ values: [Double]) -> [UInt64] { values.map(\.bitPattern) }

// MARK: - Suite

@Suite("ShardNumerics")
struct ShardNumericsSuite {
    static let precisionsAndImplementations: [(Precision, KernelImplementation)] = [
        (.float32, .fastest), (.float32, .portable), (.float64, .fastest), (.float64, .portable),
    ]

    // MARK: Logistic kernel accuracy

    @Test("logistic sums match double math for random shapes (D 1…37, rows 0…300)",
          arguments: precisionsAndImplementations)
    func randomShapes(precision: Precision, implementation: KernelImplementation) throws {
        var random = SplitMix64(seed: 0xC0FFEE ^ UInt64(precision.byteWidth))
        var shapes = [(rows: 0, columns: 1), (1, 1), (7, 8), (8, 8), (9, 9), (64, 20), (65, 33), (300, 37)]
        for _ in 0..<150 { shapes.append((random.int(0...300), random.int(1...37))) }
        let epsilon = roundOff(precision, implementation)
        // 8ε of the magnitude sums is ≈9e-16 (f64) and ≈5e-7 (f32 SIMD) relative; the SIMD paths were
        // measured at ≈1.8ε (f64) and ≈1.2ε (f32), the portable paths reproduce this reference exactly.
        for (rows, columns) in shapes {
            let p = try randomProblem(&random, precision: precision, rows: rows, columns: columns)
            let actual = try LogisticKernel.sums(
                of: p.block, weights: p.weights, bias: p.bias, implementation: implementation)
            let bad = outOfBounds(actual, p.reference, epsilon: epsilon, factor: 8)
            #expect(bad.isEmpty, "rows \(rows) cols \(columns): \(bad.map { (actual[$0], p.reference.sums[$0]) })")
        }
    }

    @Test("wide rows: several 32-column blocks, and more than 1024 columns (weights converted per chunk)",
          arguments: [(70, 64), (33, 96), (20, 1100), (3, 2049)])
    func wideRows(rows: Int, columns: Int) throws {
        for (precision, implementation) in Self.precisionsAndImplementations {
            var random = SplitMix64(seed: UInt64(rows * 7919 + columns))
            let p = try randomProblem(&random, precision: precision, rows: rows, columns: columns)
            let actual = try LogisticKernel.sums(
                of: p.block, weights: p.weights, bias: p.bias, implementation: implementation)
            let bad = outOfBounds(actual, p.reference, epsilon: roundOff(precision, implementation), factor: 8)
            #expect(bad.isEmpty, "\(precision) \(implementation): \(bad.count) of \(actual.count) outside the bound")
        }
    }

    @Test("columns = 0: only the bias acts (z_i = b)", arguments: precisionsAndImplementations)
    func noColumns(precision: Precision, implementation: KernelImplementation) throws {
        for rows in [1, 5, 64, 100] {
            var features: [Double] = []
            let labels = (0..<rows).map { Double($0 % 3 == 0 ? 1 : 0) }
            let p = try problem(
                features: &features, labels: labels, columns: 0, weights: [], bias: 0.75, precision: precision)
            let sums = try LogisticKernel.sums(of: p.block, weights: [], bias: 0.75, implementation: implementation)
            #expect(outOfBounds(sums, p.reference, epsilon: roundOff(precision, implementation), factor: 8).isEmpty)
        }
    }

    @Test("the AVX2+FMA path is selected exactly when /proc/cpuinfo lists avx2 and fma",
          .enabled(if: FileManager.default.fileExists(atPath: "/proc/cpuinfo")))
    func cpuDispatch() throws {
        let cpuinfo = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        guard let flagsLine = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else {
            Issue.record("no flags line in /proc/cpuinfo")
            return
        }
        let flags = Set(flagsLine.split(separator: " ").map(String.init))
        #expect(KernelImplementation.simdAvailable == (flags.contains("avx2") && flags.contains("fma")))
    }

    @Test("rows = 0 gives all-zero sums", arguments: precisionsAndImplementations)
    func emptyBlock(precision: Precision, implementation: KernelImplementation) throws {
        var random = SplitMix64(seed: 7)
        let p = try randomProblem(&random, precision: precision, rows: 0, columns: 5)
        let sums = try LogisticKernel.sums(of: p.block, weights: p.weights, bias: p.bias, implementation: implementation)
        #expect(sums == [Double](repeating: 0, count: 7))
    }

    @Test("logits of ±1000 (and ±90, where exp(-|z|) is subnormal in Float) give finite, exact sums",
          arguments: precisionsAndImplementations)
    func extremeLogits(precision: Precision, implementation: KernelImplementation) throws {
        // Row i has x = [s_i, 0.5], w = [1, 0], b = 0, so z_i = s_i exactly in both precisions.
        let logits: [Double] = [1000, -1000, 1000, -1000, 90, -90, 90, -90, 30, -30, 0, 1e-3, 1000, -1000, 5, -5, 1000]
        let labels: [Double] = [1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 1, 0, 1, 0, 1, 1, 1]
        var features = logits.flatMap { [$0, 0.5] }
        let p = try problem(
            features: &features, labels: labels, columns: 2, weights: [1, 0], bias: 0, precision: precision)
        let sums = try LogisticKernel.sums(of: p.block, weights: p.weights, bias: p.bias, implementation: implementation)
        #expect(sums.allSatisfy { $0.isFinite })
        let bad = outOfBounds(sums, p.reference, epsilon: roundOff(precision, implementation), factor: 8)
        #expect(bad.isEmpty, "\(sums) vs \(p.reference.sums)")
        // By hand: the two ±1000 rows and the two ±90 rows with the wrong label add 2000 + 180, the
        // -5 row with label 1 adds 5.0067, the rows at 0 and 1e-3 add ln 2 each; the rest is < 0.01.
        #expect(abs(sums[0] - p.reference.sums[0]) <= 1e-6 * 2187)
        #expect(p.reference.sums[0] > 2186.39 && p.reference.sums[0] < 2186.41)
    }

    @Test("each row's loss and gradient, evaluated alone, match the formulas for extreme single rows",
          arguments: precisionsAndImplementations)
    func singleRowExtremes(precision: Precision, implementation: KernelImplementation) throws {
        for (z, y, loss, residual) in [(1000.0, 0.0, 1000.0, 1.0), (-1000, 1, 1000, -1), (1000, 1, 0, 0), (-1000, 0, 0, 0)] {
            var features = [z]
            let p = try problem(features: &features, labels: [y], columns: 1, weights: [1], bias: 0, precision: precision)
            let sums = try LogisticKernel.sums(of: p.block, weights: p.weights, bias: p.bias, implementation: implementation)
            #expect(sums == [loss, residual * z, residual], "z \(z) y \(y)")
        }
    }

    // MARK: Determinism

    @Test("same inputs give the same bits on repeated calls and with 1, 2, 3 or 8 threads",
          arguments: [Precision.float32, .float64])
    func determinism(precision: Precision) throws {
        var random = SplitMix64(seed: 99)
        let columns = 13
        let blocks = try (0..<37).map { id in
            try randomProblem(&random, precision: precision, rows: random.int(0...300), columns: columns, id: id).block
        }
        let weights = (0..<columns).map { _ in random.nextUniform(-1, 1) }
        var runs: [[UInt64]] = []
        for threads in [1, 2, 3, 8, 1, 2] {
            let buffer = try BlockSumsBuffer(count: blocks.count, width: columns + 2)
            try buffer.fill(threads: threads) { index, slot in
                weights.withUnsafeBufferPointer { w in
                    do { try LogisticKernel.sums(of: blocks[index], weights: w, bias: 0.25, into: slot) } catch {
                        slot.update(repeating: .nan)
                    }
                }
            }
            runs.append(try (0..<blocks.count).flatMap { try bitPatterns(buffer.values(of: $0)) })
        }
        #expect(runs.allSatisfy { $0 == runs[0] })
        let direct = try blocks.flatMap { try bitPatterns(LogisticKernel.sums(of: $0, weights: weights, bias: 0.25)) }
        #expect(direct == runs[0])
        #expect(!runs[0].contains(Double.nan.bitPattern))
    }

    // MARK: Errors

    @Test("wrong output or weight lengths are typed errors")
    func wrongSizes() throws {
        let block = try Block(id: 0, rows: 2, columns: 3, storage: .float32(features: [1, 2, 3, 4, 5, 6], labels: [0, 1]))
        #expect(throws: KernelError.weightsLength(expected: 3, actual: 2)) {
            try LogisticKernel.sums(of: block, weights: [1, 2], bias: 0)
        }
        var output = [Double](repeating: 0, count: 4)
        let weights = [0.1, 0.2, 0.3]
        let error = weights.withUnsafeBufferPointer { w -> KernelError? in
            output.withUnsafeMutableBufferPointer { out -> KernelError? in
                do throws(KernelError) {
                    try LogisticKernel.sums(of: block, weights: w, bias: 0, into: out)
                    return nil
                } catch {
                    return error
                }
            }
        }
        #expect(error == .outputLength(expected: 5, actual: 4))
        #expect(output == [0, 0, 0, 0])
    }

    // MARK: Vector math

    @Test("vector exp: relative error ≤ 2.5e-7 over [-87.3, 88.72], subnormal results within 1 ulp, limits exact")
    func vectorExp() {
        var inputs: [Float] = []
        var x: Float = -103.97
        while x <= 88.72 {
            inputs.append(x)
            x += 0.000_37
        }
        inputs += [0, -0.0, 1, -1, 88.7228, -87.33, -0x1p-30, 0x1p-30]
        let outputs = KernelMath.exp(inputs)
        var worstRelative = 0.0
        var worstSubnormal = 0.0
        for (input, output) in zip(inputs, outputs) {
            let exact = Foundation.exp(Double(input))
            if exact >= Double(Float.leastNormalMagnitude) {
                worstRelative = max(worstRelative, abs(Double(output) - exact) / exact)
            } else {
                worstSubnormal = max(worstSubnormal, abs(Double(output) - exact) / Double(Float.leastNonzeroMagnitude))
            }
        }
        #expect(worstRelative <= 2.5e-7, "worst relative error \(worstRelative)")
        #expect(worstSubnormal <= 1, "worst subnormal error \(worstSubnormal) ulp")
        let limits = KernelMath.exp([0, 88.73, 200, .infinity, -104, -1000, -.infinity, .nan])
        #expect(limits[0] == 1)
        #expect(limits[1..<4].allSatisfy { $0 == .infinity })
        #expect(limits[4..<7].allSatisfy { $0 == 0 })
        #expect(limits[7].isNaN)
    }

    @Test("vector log1p on [0, 1]: relative error ≤ 2.5e-7, exact at 0, domain errors outside")
    func vectorLog1p() throws {
        var inputs: [Float] = (0...1_000_000).map { Float($0) / 1_000_000 }
        var tiny = 1e-45
        while tiny < 1e-3 {
            inputs.append(Float(tiny))
            tiny *= 1.37
        }
        inputs += [Float(0.5), Float(0.5).nextDown, 1, Float(1).nextDown, 0x1p-24]
        let outputs = try KernelMath.log1pUnit(inputs)
        var worst = 0.0
        for (input, output) in zip(inputs, outputs) where input > 0 {
            let exact = Foundation.log1p(Double(input))
            worst = max(worst, abs(Double(output) - exact) / exact)
        }
        #expect(worst <= 2.5e-7, "worst relative error \(worst)")
        #expect(try KernelMath.log1pUnit([0]) == [0])
        #expect(throws: KernelError.outsideDomain(function: "log1pUnit", index: 1, value: -0.5)) {
            try KernelMath.log1pUnit([0.5, -0.5])
        }
        #expect(throws: KernelError.self) { try KernelMath.log1pUnit([1.5]) }
        #expect(throws: KernelError.self) { try KernelMath.log1pUnit([.nan]) }
    }

    // MARK: Read pass

    @Test("read pass checksum equals the sum of every feature and label", arguments: [Precision.float32, .float64])
    func readPass(precision: Precision) throws {
        for (rows, columns) in [(0, 3), (1, 1), (5, 7), (300, 37), (4096, 3)] {
            var random = SplitMix64(seed: UInt64(rows * 1000 + columns))
            let p = try randomProblem(&random, precision: precision, rows: rows, columns: columns)
            let (values, labels): ([Double], [Double]) =
                switch p.block.storage {
                case .float32(let f, let l): (f.map(Double.init), l.map(Double.init))
                case .float64(let f, let l): (f, l)
                }
            let exact = values.reduce(0, +) + labels.reduce(0, +)
            let magnitude = values.reduce(0) { $0 + abs($1) } + labels.reduce(0, +)
            let epsilon = precision == .float32 ? 0x1p-24 : 0x1p-53
            #expect(abs(ReadPass.checksum(of: p.block) - exact) <= 256 * epsilon * magnitude + 1e-300)
        }
    }

    // MARK: Block runner

    @Test("block sums buffer: 64-byte aligned slots, stride = width rounded up to 8 doubles, zeroed",
          arguments: [0, 1, 7, 8, 9, 22, 64])
    func bufferLayout(width: Int) throws {
        let buffer = try BlockSumsBuffer(count: 5, width: width)
        #expect(buffer.stride % 8 == 0 && buffer.stride >= width && buffer.stride < width + 8)
        let base = try buffer.slot(0)
        for index in 0..<5 {
            let slot = try buffer.slot(index)
            #expect(slot.count == width)
            guard let address = slot.baseAddress, let first = base.baseAddress else {
                Issue.record("slot \(index) has no address")
                continue
            }
            #expect(UInt(bitPattern: address) % 64 == 0)
            #expect(address - first == index * buffer.stride)
            #expect(try buffer.values(of: index) == [Double](repeating: 0, count: width))
        }
    }

    @Test("block sums buffer and runner reject bad shapes, indices and thread counts")
    func runnerErrors() throws {
        #expect(throws: BlockSumsBufferError.negativeShape(count: -1, width: 2)) {
            try BlockSumsBuffer(count: -1, width: 2)
        }
        #expect(throws: BlockSumsBufferError.tooLarge(count: Int.max / 2, width: 64)) {
            try BlockSumsBuffer(count: Int.max / 2, width: 64)
        }
        let buffer = try BlockSumsBuffer(count: 3, width: 2)
        #expect(throws: BlockSumsBufferError.indexOutOfRange(index: 3, count: 3)) { try buffer.slot(3) }
        #expect(throws: BlockSumsBufferError.indexOutOfRange(index: -1, count: 3)) { try buffer.values(of: -1) }
        #expect(throws: ParallelBlocksError.threadCount(0)) { try ParallelBlocks.run(count: 3, threads: 0) { _ in } }
        #expect(throws: ParallelBlocksError.negativeCount(-2)) { try ParallelBlocks.run(count: -2, threads: 1) { _ in } }
    }

    @Test("runner calls every index exactly once and fills each slot from its own item",
          arguments: [1, 2, 3, 16])
    func runnerCoverage(threads: Int) throws {
        let count = 1000
        let visits = Mutex([Int](repeating: 0, count: count))
        try ParallelBlocks.run(count: count, threads: threads) { index in
            visits.withLock { $0[index] += 1 }
        }
        #expect(visits.withLock { $0 } == [Int](repeating: 1, count: count))
        try ParallelBlocks.run(count: 0, threads: threads) { _ in Issue.record("called for an empty range") }

        let buffer = try BlockSumsBuffer(count: 257, width: 3)
        try buffer.fill(threads: threads) { index, slot in
            for k in 0..<slot.count { slot[k] = Double(index * 10 + k) }
        }
        for index in 0..<257 {
            #expect(try buffer.values(of: index) == [0, 1, 2].map { Double(index * 10 + $0) })
        }
    }

    // MARK: Golden values

    @Test("logistic cases of models.json: data loss and gradient from the block sums",
          arguments: precisionsAndImplementations)
    func referenceModels(precision: Precision, implementation: KernelImplementation) throws {
        let cases = try #require(ReferenceData.load("models.json")["cases"]?.array)
        let logistic = cases.filter { $0["model"]?.string == "logistic" }
        #expect(logistic.count >= 2)
        for item in logistic {
            let id = item["id"]?.string ?? "?"
            let x = try #require(item["inputs"]?["x"]?.matrix, "\(id): x")
            let y = try #require(item["inputs"]?["y"]?.doubles, "\(id): y")
            let w = try #require(item["parameters"]?["w"]?.doubles, "\(id): w")
            let b = try #require(item["parameters"]?["b"]?.double, "\(id): b")
            let l2 = try #require(item["hyper"]?["l2"]?.double, "\(id): l2")
            let expected = try #require(item["expected"], "\(id): expected")
            let expectedLoss = try #require(expected["data_loss"]?.double)
            let expectedGradW = try #require(expected["grad"]?["w"]?.doubles)
            let expectedGradB = try #require(expected["grad"]?["b"]?.double)
            let tolerancePrecision = precision == .float32 ? "float32" : "float64"
            if precision == .float32, item["flags"]?["float32_ok"]?.bool == false { continue }
            let tolerance = try #require(Tolerance(item, precision: tolerancePrecision), "\(id): tolerance")

            let block = try Block(features: x.values, labels: y, columns: x.columns, precision: precision)
            let sums = try LogisticKernel.sums(of: block, weights: w, bias: b, implementation: implementation)
            let n = Double(x.rows)
            let dataLoss = sums[0] / n
            let gradW = (0..<x.columns).map { sums[1 + $0] / n + l2 * w[$0] }
            let gradB = sums[1 + x.columns] / n
            #expect(tolerance.matches(dataLoss, expectedLoss), "\(id): data loss \(dataLoss) vs \(expectedLoss)")
            #expect(tolerance.mismatches(gradW, expectedGradW).isEmpty, "\(id): grad w \(gradW) vs \(expectedGradW)")
            #expect(tolerance.matches(gradB, expectedGradB), "\(id): grad b \(gradB) vs \(expectedGradB)")
        }
    }

    // MARK: Benchmark

    /// The benchmark's totals must equal the block-order sum of the portable kernel's block sums (within
    /// the f32 SIMD bound) and be bit-identical for every thread count.
    static func checkBenchmark(_ configuration: GradientBenchmark.Configuration) throws -> GradientBenchmark.Result {
        let result = try runLogistic(configuration)
        #expect(result.measurements.map(\.threads) == configuration.threadCounts)
        let blocks = try GradientBenchmark.makeBlocks(configuration)
        #expect(result.blockCount == blocks.count)
        #expect(result.bytes == configuration.rows * (configuration.columns + 1) * 4)
        let (weights, bias) = GradientBenchmark.parameters(columns: configuration.columns)
        var expected = [Double](repeating: 0, count: configuration.columns + 2)
        var scale = [Double](repeating: 0, count: configuration.columns + 2)
        var readExpected = 0.0
        for block in blocks {
            guard case .float32(let features, let labels) = block.storage else {
                Issue.record("benchmark block \(block.id) is not float32")
                continue
            }
            let reference = ReferenceSums(
                features: features.map(Double.init), labels: labels.map(Double.init), columns: block.columns,
                weights: weights.map { Double(Float($0)) }, bias: Double(Float(bias)))
            let portable = try LogisticKernel.sums(of: block, weights: weights, bias: bias, implementation: .portable)
            for k in expected.indices {
                expected[k] += portable[k]
                scale[k] += reference.scale[k]
            }
            readExpected += features.reduce(0.0) { $0 + Double($1) } + labels.reduce(0.0) { $0 + Double($1) }
        }
        let reference = ReferenceSums(sums: expected, scale: scale)
        for measurement in result.measurements {
            #expect(bitPatterns(measurement.totals) == bitPatterns(result.measurements[0].totals))
            #expect(outOfBounds(measurement.totals, reference, epsilon: 0x1p-24, factor: 8).isEmpty)
            #expect(abs(measurement.readChecksum - readExpected) <= 1e-4 * Double(result.bytes))
            #expect(measurement.gradientSeconds > 0 && measurement.readSeconds > 0)
            #expect(measurement.ratio.isFinite && measurement.ratio > 0)
            #expect(abs(measurement.ratio - measurement.readSeconds / measurement.gradientSeconds) <= 1e-9)
        }
        return result
    }

    /// The benchmark with the logistic kernel as its pass.
    static func runLogistic(_ configuration: GradientBenchmark.Configuration) throws -> GradientBenchmark.Result {
        let (weights, bias) = GradientBenchmark.parameters(columns: configuration.columns)
        return try GradientBenchmark.run(configuration, sumsWidth: configuration.columns + 2) { block, slot in
            weights.withUnsafeBufferPointer { w in
                do { try LogisticKernel.sums(of: block, weights: w, bias: bias, into: slot) } catch {
                    slot.update(repeating: .nan)
                }
            }
        }
    }

    @Test("gradient benchmark (small): totals match the portable kernel and do not depend on threads")
    func benchmarkSmall() throws {
        _ = try Self.checkBenchmark(
            .init(rows: 5000, columns: 20, blockRows: 512, threadCounts: [1, 2, 3], repetitions: 1))
        #expect(throws: GradientBenchmarkError.self) { try Self.runLogistic(.init(rows: 0)) }
        #expect(throws: GradientBenchmarkError.self) { try Self.runLogistic(.init(threadCounts: [0])) }
        #expect(throws: GradientBenchmarkError.self) { try Self.runLogistic(.init(repetitions: 0)) }
        #expect(throws: GradientBenchmarkError.self) { try GradientBenchmark.makeBlocks(.init(labels: .classes(1))) }
    }

    @Test("gradient benchmark data: labels of each kind, the same values in both precisions")
    func benchmarkLabels() throws {
        for labels: GradientBenchmark.Labels in [.binary, .signed, .real, .classes(4)] {
            let single = try GradientBenchmark.makeBlocks(.init(rows: 300, columns: 5, blockRows: 128, labels: labels))
            let double = try GradientBenchmark.makeBlocks(
                .init(rows: 300, columns: 5, blockRows: 128, precision: .float64, labels: labels))
            #expect(single.map(\.rows) == [128, 128, 44])
            for (a, b) in zip(single, double) {
                guard case .float32(let fa, let la) = a.storage, case .float64(let fb, let lb) = b.storage else {
                    Issue.record("block \(a.id) has the wrong storage")
                    continue
                }
                #expect(fa.map(Double.init) == fb && la.map(Double.init) == lb)
                let allowed: (Float) -> Bool =
                    switch labels {
                    case .binary: { $0 == 0 || $0 == 1 }
                    case .signed: { $0 == -1 || $0 == 1 }
                    case .real: { abs($0) < 2 }
                    case .classes(let k): { $0 >= 0 && $0 < Float(k) && $0.rounded() == $0 }
                    }
                #expect(la.allSatisfy(allowed), "\(labels)")
            }
        }
    }

    /// Full size (1M × 20, 4096-row blocks). Run in release with
    /// `SHARDTRAIN_BENCHMARK=1 swift test -c release --filter GradientBenchmark`.
    @Test("GradientBenchmark full size (SHARDTRAIN_BENCHMARK=1)",
          .enabled(if: ProcessInfo.processInfo.environment["SHARDTRAIN_BENCHMARK"] == "1"))
    func benchmarkFull() throws {
        let result = try Self.checkBenchmark(.init())
        for m in result.measurements {
            print(
                "GradientBenchmark threads \(m.threads): \(String(format: "%.1f", m.rowsPerSecond / 1e6)) M rows/s, "
                    + "gradient \(String(format: "%.2f", m.gradientGBPerSecond)) GB/s "
                    + "(\(String(format: "%.2f", m.gradientSeconds * 1e3)) ms), "
                    + "read \(String(format: "%.2f", m.readGBPerSecond)) GB/s "
                    + "(\(String(format: "%.2f", m.readSeconds * 1e3)) ms), ratio \(String(format: "%.3f", m.ratio))")
        }
    }
}
