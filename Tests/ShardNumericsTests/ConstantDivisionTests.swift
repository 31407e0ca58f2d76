import Foundation
import ShardNumerics
import Testing

/// The division by a constant of Adam's pass against the division itself, bit for bit.
@Suite("Division by a constant")
struct ConstantDivisionTests {
    /// Adam's bias corrections 1 − β^t (those below 1), and a few others.
    static let divisors: [Double] = {
        var divisors: [Double] = []
        for t in 1...400 { divisors.append(1 - pow(0.9, Double(t))) }
        for t in [1, 2, 3, 7, 10, 100, 1_000, 10_000, 100_000] { divisors.append(1 - pow(0.999, Double(t))) }
        for t in 1...52 { divisors.append(1 - pow(0.5, Double(t))) }
        divisors += [1e-6, 0x1p-1022, 0x1.fffffffffffffp-1, 3, 0.1, 1e300]
        return divisors.filter { $0 < 1 || $0 > 1 }
    }()

    /// Random values over the whole exponent range, zeros, infinities, NaN, subnormals, the extremes, and values
    /// whose quotient by `divisor` lies within an ulp or two of a midpoint between doubles (where a one-step
    /// correction is most often wrong).
    static func values(for divisor: Double, random: inout SplitMix64) -> [Double] {
        var values: [Double] = [0, -0.0, .infinity, -.infinity, .nan, 0x1p-1074, -0x1p-1074, 0x1p-1060, 0x1p-1022,
            0x1.0000000000001p-1022, .greatestFiniteMagnitude, -.greatestFiniteMagnitude, 1, -1, divisor, -divisor]
        for _ in 0..<1_500 {
            let exponent = Int(random.next() % 2_000) - 1_000
            let sign: Double = random.next() % 2 == 0 ? 1 : -1
            values.append(sign * (1 + random.nextUnit()) * pow(2, Double(exponent)))
        }
        for _ in 0..<1_500 {
            // A quotient q with a midpoint q + ulp/2: a = c·(q + ulp/2) rounded, and its neighbours.
            let q = (1 + random.nextUnit()) * pow(2, Double(Int(random.next() % 120) - 60))
            let midpoint = divisor * (q + q.ulp / 2)
            values += [midpoint, midpoint.nextUp, midpoint.nextDown, divisor * q, -midpoint]
        }
        for _ in 0..<200 { values.append(Double(random.next() % 1_000) * 0x1p-1074) }
        return values
    }

    @Test("every quotient has the bits of the division")
    func quotientsHaveTheBitsOfTheDivision() {
        var random = SplitMix64(seed: 0xD1_5105)
        for divisor in Self.divisors {
            let values = Self.values(for: divisor, random: &random)
            let (quotients, vectorPath) = KernelMath.divided(values, by: divisor)
            #expect(vectorPath == KernelImplementation.simdAvailable)
            var mismatches: [(Double, Double, Double)] = []
            for (value, quotient) in zip(values, quotients) {
                let expected = value / divisor
                let same = expected.isNaN ? quotient.isNaN : quotient.bitPattern == expected.bitPattern
                if !same { mismatches.append((value, quotient, expected)) }
            }
            #expect(mismatches.isEmpty, "divisor \(divisor): \(mismatches.prefix(5))")
        }
    }
}
