import Foundation
import ShardNumerics
import Testing

/// `DenseKernels` against the plain Swift loops they replace (bit for bit), and the vector tanh against libm.
@Suite("Dense kernels")
struct DenseKernelsTests {
    /// Values every pass must handle: signed zeros, NaN, infinities, subnormals, the unit interval's ends, and
    /// random values; 1,003 of them, so the vector loops also run their tails.
    static let values: [Double] = {
        var generator = SplitMix64(seed: 41)
        var values: [Double] = [
            0, -0.0, .nan, .infinity, -.infinity, .leastNonzeroMagnitude, -.leastNormalMagnitude, 1, -1, 0.5,
            1 + .ulpOfOne, -.ulpOfOne, 1e-300, 3e38, -7e-46,
        ]
        while values.count < 1003 { values.append((Double(generator.next() >> 11) * 0x1p-53 - 0.5) * 6) }
        return values
    }()

    /// Bit patterns, so NaN == NaN and −0 ≠ +0.
    static func bits(_ values: [Double]) -> [UInt64] { values.map(\.bitPattern) }
    static func bits(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }

    @Test("relu and its backward pass give the bits of `v > 0 ? v : 0`, Float and Double")
    func reluMatchesTheLoop() {
        var doubles = Self.values
        doubles.withUnsafeMutableBufferPointer { DenseKernels.relu($0) }
        #expect(Self.bits(doubles) == Self.bits(Self.values.map { $0 > 0 ? $0 : 0 }))
        let floats = Self.values.map { Float($0) }
        var reluFloats = floats
        reluFloats.withUnsafeMutableBufferPointer { DenseKernels.relu($0) }
        #expect(Self.bits(reluFloats) == Self.bits(floats.map { $0 > 0 ? $0 : 0 }))

        let gradient = Self.values.reversed().map { $0 }
        var masked = gradient
        Self.values.withUnsafeBufferPointer { a in masked.withUnsafeMutableBufferPointer { DenseKernels.reluBackward(activation: a, gradient: $0) } }
        #expect(Self.bits(masked) == Self.bits(zip(Self.values, gradient).map { $0 > 0 ? $1 : 0 }))
        let floatGradient = gradient.map { Float($0) }
        var maskedFloats = floatGradient
        floats.withUnsafeBufferPointer { a in
            maskedFloats.withUnsafeMutableBufferPointer { DenseKernels.reluBackward(activation: a, gradient: $0) }
        }
        #expect(Self.bits(maskedFloats) == Self.bits(zip(floats, floatGradient).map { $0 > 0 ? $1 : 0 }))
    }

    @Test("column sums add the rows in order, column by column (bits of the loop), Float and Double",
          arguments: [(0, 5), (1, 7), (17, 3), (59, 16)])
    func columnSumsMatchTheLoop(rows: Int, width: Int) {
        let matrix = Array(Self.values.dropFirst(5).prefix(rows * width))  // finite values only
        var expected = [Double](repeating: 0, count: width)
        for row in 0..<rows { for column in 0..<width { expected[column] += matrix[row * width + column] } }
        var sums = [Double](repeating: .nan, count: width)
        matrix.withUnsafeBufferPointer { m in sums.withUnsafeMutableBufferPointer { DenseKernels.columnSums(m, rows: rows, into: $0) } }
        #expect(Self.bits(sums) == Self.bits(expected))

        let floats = matrix.map { Float($0) }
        var expectedFloats = [Float](repeating: 0, count: width)
        for row in 0..<rows { for column in 0..<width { expectedFloats[column] += floats[row * width + column] } }
        var floatSums = [Float](repeating: .nan, count: width)
        floats.withUnsafeBufferPointer { m in
            floatSums.withUnsafeMutableBufferPointer { DenseKernels.columnSums(m, rows: rows, into: $0) }
        }
        #expect(Self.bits(floatSums) == Self.bits(expectedFloats))
    }

    @Test("widen and round are Double(Float) and Float(Double), NaN, infinities and subnormals included")
    func conversionsMatchSwift() {
        var rounded = [Float](repeating: 0, count: Self.values.count)
        Self.values.withUnsafeBufferPointer { d in rounded.withUnsafeMutableBufferPointer { DenseKernels.round(d, into: $0) } }
        #expect(Self.bits(rounded) == Self.bits(Self.values.map { Float($0) }))
        var widened = [Double](repeating: 0, count: rounded.count)
        rounded.withUnsafeBufferPointer { f in widened.withUnsafeMutableBufferPointer { DenseKernels.widen(f, into: $0) } }
        #expect(Self.bits(widened) == Self.bits(rounded.map { Double($0) }))
    }

    @Test("firstOutsideUnitInterval finds the first value outside [0, 1] (NaN counts), in any run of 256")
    func firstOutsideUnitInterval() {
        for (count, bad) in [(0, nil), (5, nil), (700, nil), (700, 0), (700, 255), (700, 256), (700, 699), (3, 2)] as [(Int, Int?)] {
            for badValue in [-0x1p-60, Double(1 + Float.ulpOfOne), .nan, -.infinity] {
                var values = (0..<count).map { Double($0 % 11) / 10 }
                if let bad {
                    values[bad] = badValue
                    if bad + 7 < count { values[bad + 7] = 2 }  // a later one must not be reported
                }
                let found = values.withUnsafeBufferPointer { DenseKernels.firstOutsideUnitInterval($0) }
                #expect(found == bad, "count \(count), bad \(String(describing: bad)) = \(badValue)")
                let floats = values.map { Float($0) }
                let foundFloat = floats.withUnsafeBufferPointer { DenseKernels.firstOutsideUnitInterval($0) }
                #expect(foundFloat == bad, "Float: count \(count), bad \(String(describing: bad)) = \(badValue)")
            }
        }
    }

    @Test("tanh is within 3 ulp of libm, odd, exactly ±1 beyond 20, NaN stays NaN")
    func tanhAgainstLibm() {
        var inputs = Self.values
        var generator = SplitMix64(seed: 7)
        for _ in 0..<20_000 {
            // Magnitudes 2^-40 … 2^5 spread evenly in the exponent, both signs.
            let exponent = Double(generator.next() >> 11) * 0x1p-53 * 45 - 40
            inputs.append(Foundation.pow(2, exponent) * (generator.next() & 1 == 0 ? 1 : -1))
        }
        inputs += [0x1p-1074, 0x1p-1022, 1e-8, 0.17, 0.35, 0.55, 1.04, 19.06, 20, 20.5, 710, 1e308]
        var outputs = inputs
        outputs.withUnsafeMutableBufferPointer { DenseKernels.tanh($0) }
        for (x, y) in zip(inputs, outputs) {
            let reference = Foundation.tanh(x)
            if reference.isNaN {
                #expect(y.isNaN, "tanh(\(x)) = \(y)")
                continue
            }
            #expect(y.sign == x.sign, "tanh(\(x)) = \(y) has the wrong sign")
            let error = abs(y - reference) / max(reference.ulp, Double.leastNonzeroMagnitude)
            #expect(error <= 3, "tanh(\(x)) = \(y), libm \(reference): \(error) ulp")
            if abs(x) >= 20 { #expect(abs(y) == 1, "tanh(\(x)) = \(y)") }
        }
    }
}
