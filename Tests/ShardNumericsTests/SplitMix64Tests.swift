import ShardNumerics
import Testing

/// SplitMix64 against the published outputs of the reference algorithm, and its derived draws.
@Suite("SplitMix64")
struct SplitMix64Tests {
    /// First five outputs for seeds 0 and 1234567, computed from the reference algorithm (Steele, Lea
    /// & Flood 2014; Vigna's splitmix64.c) with Python integers mod 2⁶⁴. Seed 1234567 starts with the
    /// widely published 6457827717110365317, 3203168211198807973, 9817491932198370423.
    static let knownAnswers: [(seed: UInt64, outputs: [UInt64])] = [
        (0, [0xe220_a839_7b1d_cdaf, 0x6e78_9e6a_a1b9_65f4, 0x06c4_5d18_8009_454f, 0xf88b_b8a8_724c_81ec,
             0x1b39_896a_51a8_749b]),
        (1_234_567, [0x599e_d017_fb08_fc85, 0x2c73_f084_5854_0fa5, 0x883e_bce5_a3f2_7c77, 0x3fbe_f740_e917_7b3f,
                     0xe3b8_3467_08cb_5ecd]),
    ]

    @Test("next() reproduces the reference outputs", arguments: 0..<2)
    func knownAnswer(_ index: Int) {
        let (seed, expected) = Self.knownAnswers[index]
        var generator = SplitMix64(seed: seed)
        #expect((0..<expected.count).map { _ in generator.next() } == expected)
    }

    @Test("seed 1234567 gives the published decimal outputs")
    func publishedDecimals() {
        var generator = SplitMix64(seed: 1_234_567)
        let first = (0..<3).map { _ in generator.next() }
        #expect(first == [6_457_827_717_110_365_317, 3_203_168_211_198_807_973, 9_817_491_932_198_370_423])
    }

    @Test("nextUnit() is the top 53 bits of next() scaled by 2⁻⁵³")
    func unitDraws() {
        var generator = SplitMix64(seed: 1_234_567)
        // Python: (0x599ed017fb08fc85 >> 11) * 2**-53 and the next two.
        let expected = [0.3500795420214081, 0.17364409667091263, 0.5322073040624192]
        #expect((0..<3).map { _ in generator.nextUnit() } == expected)
        var raw = SplitMix64(seed: 99), unit = SplitMix64(seed: 99)
        for _ in 0..<1000 {
            let u = unit.nextUnit()
            #expect(u == Double(raw.next() >> 11) * 0x1p-53)
            #expect(u >= 0 && u < 1)
        }
    }

    @Test("nextUniform(low, high) maps one unit draw onto [low, high)")
    func uniformDraws() {
        var unit = SplitMix64(seed: 7), ranged = SplitMix64(seed: 7)
        for _ in 0..<1000 {
            let u = unit.nextUnit()
            let value = ranged.nextUniform(-2, 3)
            #expect(value == -2 + 5 * u)
            #expect(value >= -2 && value < 3)
        }
        #expect(unit.state == ranged.state)
    }

    @Test("the stdlib draws through RandomNumberGenerator consume the same stream")
    func randomNumberGeneratorConformance() {
        var generator = SplitMix64(seed: 1_234_567)
        var reference = SplitMix64(seed: 1_234_567)
        // UInt64.random(in: 0...UInt64.max) takes one full 64-bit output unchanged.
        #expect(UInt64.random(in: 0...UInt64.max, using: &generator) == reference.next())
        #expect(generator.state == 1_234_567 &+ 0x9E37_79B9_7F4A_7C15)
    }
}
