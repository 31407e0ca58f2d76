import ShardNumerics
import Testing

/// Philox4x32-10 against the published known answers, and the statistics of the derived streams.
@Suite("Counter-based random numbers")
struct CounterRandomTests {
    struct KnownAnswer: Sendable, CustomStringConvertible {
        let counter: [UInt32]
        let key: [UInt32]
        let expected: [UInt32]
        var description: String { "counter \(counter.map { String($0, radix: 16) })" }
    }

    /// Random123 `examples/kat_vectors`, the three `philox4x32 10` lines (counter, key → output).
    static let knownAnswers: [KnownAnswer] = [
        KnownAnswer(
            counter: [0, 0, 0, 0], key: [0, 0], expected: [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8]),
        KnownAnswer(
            counter: [0xffff_ffff, 0xffff_ffff, 0xffff_ffff, 0xffff_ffff], key: [0xffff_ffff, 0xffff_ffff],
            expected: [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd]),
        KnownAnswer(
            counter: [0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344], key: [0xa409_3822, 0x299f_31d0],
            expected: [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1]),
    ]

    @Test("Philox4x32-10 reproduces the Random123 known-answer vectors", arguments: knownAnswers)
    func philoxKnownAnswers(_ vector: KnownAnswer) {
        let c = vector.counter
        let output = Philox4x32.block(counter: (c[0], c[1], c[2], c[3]), key: (vector.key[0], vector.key[1]))
        #expect([output.0, output.1, output.2, output.3] == vector.expected)
    }

    @Test("the stream words land in the documented counter and key positions")
    func counterLayout() {
        let seed: UInt64 = 0x299f_31d0_a409_3822
        let random = CounterRandom(seed: seed, round: 0x0370_7344, block: 0x1319_8a2e, row: 0x85a3_08d3, purpose: .init(0x24))
        // Philox block 0x3f6a88 of purpose 0x24 is the third known-answer counter.
        let words = random.words(0x3f_6a88)
        #expect([words.0, words.1, words.2, words.3] == [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1])
        #expect(random.uniform(2 * 0x3f_6a88) == CounterRandom.openUnitInterval(0xd16c_fe09_94fd_cceb))
        #expect(random.uniform(2 * 0x3f_6a88 + 1) == CounterRandom.openUnitInterval(0x5001_e420_2412_6ea1))
    }

    @Test("uniforms stay strictly inside (0, 1), also at the extreme bit patterns")
    func openInterval() {
        #expect(CounterRandom.openUnitInterval(0) == 0x1p-53)
        #expect(CounterRandom.openUnitInterval(.max) == 1 - 0x1p-53)
        #expect(CounterRandom.openUnitInterval(.max) < 1)
        let random = CounterRandom(seed: 1, round: 1, block: 0, row: 0, purpose: .init(0))
        for draw in 0..<10_000 {
            let u = random.uniform(draw)
            #expect(u > 0 && u < 1)
        }
    }

    @Test("10^5 uniforms and normals have the right mean and variance")
    func moments() {
        let count = 100_000
        var uniformSum = 0.0
        var uniformSquares = 0.0
        var normalSum = 0.0
        var normalSquares = 0.0
        var normalFourth = 0.0
        for draw in 0..<count {
            // Spread over rows as the models do: 10 draws per row.
            let row = draw / 10
            let uniform = CounterRandom(seed: 42, round: 3, block: 7, row: row, purpose: .init(1)).uniform(draw % 10)
            let normal = CounterRandom(seed: 42, round: 3, block: 7, row: row, purpose: .init(2)).normal(draw % 10)
            #expect(normal.isFinite)
            uniformSum += uniform
            uniformSquares += uniform * uniform
            normalSum += normal
            normalSquares += normal * normal
            normalFourth += normal * normal * normal * normal
        }
        let n = Double(count)
        // Standard errors: uniform mean 0.29/√n ≈ 9e-4, normal mean 1/√n ≈ 3.2e-3, normal variance √2/√n ≈ 4.5e-3.
        #expect(abs(uniformSum / n - 0.5) < 5e-3)
        #expect(abs(uniformSquares / n - uniformSum * uniformSum / (n * n) - 1.0 / 12) < 3e-3)
        #expect(abs(normalSum / n) < 0.016)
        #expect(abs(normalSquares / n - 1) < 0.025)
        #expect(abs(normalFourth / n - 3) < 0.15)
    }

    @Test("different keys give uncorrelated streams; the same key gives the same bits")
    func independence() {
        let base = CounterRandom(seed: 9, round: 2, block: 5, row: 11, purpose: .init(3))
        let variants = [
            CounterRandom(seed: 10, round: 2, block: 5, row: 11, purpose: .init(3)),
            CounterRandom(seed: 9, round: 3, block: 5, row: 11, purpose: .init(3)),
            CounterRandom(seed: 9, round: 2, block: 6, row: 11, purpose: .init(3)),
            CounterRandom(seed: 9, round: 2, block: 5, row: 12, purpose: .init(3)),
            CounterRandom(seed: 9, round: 2, block: 5, row: 11, purpose: .init(4)),
            CounterRandom(seed: 9 | 1 << 32, round: 2, block: 5, row: 11, purpose: .init(3)),
        ]
        let count = 20_000
        let reference = (0..<count).map { base.normal($0) }
        let again = CounterRandom(seed: 9, round: 2, block: 5, row: 11, purpose: .init(3))
        #expect((0..<count).map { again.normal($0) } == reference)
        for variant in variants {
            #expect(variant != base)
            let other = (0..<count).map { variant.normal($0) }
            let correlation = zip(reference, other).reduce(0) { $0 + $1.0 * $1.1 } / Double(count)
            // Sample correlation of independent normals: standard error 1/√count ≈ 0.007.
            #expect(abs(correlation) < 0.04, "\(variant.stream)")
            #expect(Set(other).isDisjoint(with: reference))
        }
        // Neighbouring draws of one stream are uncorrelated too (cos/sin halves of Box–Muller).
        let lagged = zip(reference.dropFirst(), reference).reduce(0) { $0 + $1.0 * $1.1 } / Double(count - 1)
        #expect(abs(lagged) < 0.04)
    }

    @Test("normalPair(p) is (normal(2p), normal(2p + 1)) bit for bit")
    func normalPairsMatchSingleDraws() {
        for (seed, row) in [(UInt64(0), 0), (17, 5), (.max, 1 << 20)] {
            let random = CounterRandom(seed: seed, round: 3, block: 9, row: row, purpose: .latentNoise)
            for pair in [0, 1, 2, 15, 1 << 23] {
                let (even, odd) = random.normalPair(pair)
                #expect(even.bitPattern == random.normal(2 * pair).bitPattern, "seed \(seed), pair \(pair)")
                #expect(odd.bitPattern == random.normal(2 * pair + 1).bitPattern, "seed \(seed), pair \(pair)")
            }
        }
    }

    @Test("index(below:) is uniform over its range")
    func boundedIndices() {
        var counts = [Int](repeating: 0, count: 7)
        for row in 0..<70_000 {
            let draw = CounterRandom(seed: 5, round: 1, block: 0, row: row, purpose: .init(9)).index(0, below: 7)
            counts[draw] += 1
        }
        // Expected 10 000 each, standard deviation ≈ 93.
        #expect(counts.allSatisfy { abs($0 - 10_000) < 500 }, "\(counts)")
        #expect(CounterRandom(seed: 5, round: 1, block: 0, row: 0, purpose: .init(9)).index(0, below: 1) == 0)
    }
}

/// The purposes of the registry are distinct (two uses sharing one would draw the same numbers).
@Test func everyRandomPurposeIsDistinct() {
    #expect(Set(CounterRandom.Purpose.all.map(\.rawValue)).count == CounterRandom.Purpose.all.count)
    #expect(CounterRandom.Purpose.all.count == 9)
}
