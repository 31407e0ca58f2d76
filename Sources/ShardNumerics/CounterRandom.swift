#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The Philox4x32-10 block function (Salmon, Moraes, Dror & Shaw 2011, "Parallel Random Numbers: As
/// Easy as 1, 2, 3"): a keyed bijection of 128-bit counters.
///
/// ```
/// counter c = (c0, c1, c2, c3), key k = (k0, k1), all 32-bit words
/// one round:   (hi0, lo0) = mulhilo(0xD2511F53, c0)      (64-bit product split in high/low words)
///              (hi1, lo1) = mulhilo(0xCD9E8D57, c2)
///              c' = (hi1 ⊕ c1 ⊕ k0,  lo1,  hi0 ⊕ c3 ⊕ k1,  lo0)
/// key bump between rounds:  k0 += 0x9E3779B9,  k1 += 0xBB67AE85   (mod 2^32)
/// output = 10 rounds applied to c, the key bumped before rounds 2…10
/// ```
/// A pure function: the same (counter, key) gives the same four words on every machine, so random
/// numbers can be addressed by *what they are for* instead of drawn from a sequential state.
public enum Philox4x32 {
    public static let rounds = 10

    @inlinable
    public static func block(
        counter: (UInt32, UInt32, UInt32, UInt32), key: (UInt32, UInt32)
    ) -> (UInt32, UInt32, UInt32, UInt32) {
        var (c0, c1, c2, c3) = counter
        var (k0, k1) = key
        for round in 0..<rounds {
            if round > 0 {
                k0 &+= 0x9E37_79B9
                k1 &+= 0xBB67_AE85
            }
            let product0 = UInt64(0xD251_1F53) &* UInt64(c0)
            let product1 = UInt64(0xCD9E_8D57) &* UInt64(c2)
            let (hi0, lo0) = (UInt32(truncatingIfNeeded: product0 >> 32), UInt32(truncatingIfNeeded: product0))
            let (hi1, lo1) = (UInt32(truncatingIfNeeded: product1 >> 32), UInt32(truncatingIfNeeded: product1))
            (c0, c1, c2, c3) = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0)
        }
        return (c0, c1, c2, c3)
    }
}

/// Random numbers addressed by a key instead of a sequence: uniform doubles in (0, 1) and standard
/// normals, from Philox4x32-10.
///
/// ```
/// key     = (low 32 bits of seed, high 32 bits of seed)
/// counter = (purpose · 2^24 + (draw / 2) mod 2^24,  row,  block,  round)     (each word mod 2^32)
/// block   = Philox4x32-10(counter, key) = (w0, w1, w2, w3)
/// uniform(draw)  = (⌊u64 / 2^12⌋ + 1/2) · 2^−52   with u64 = w0·2^32 + w1 (even draw) or w2·2^32 + w3 (odd)
///                  ∈ [2^−53, 1 − 2^−53]: never 0 or 1, exactly representable (53 significant bits)
/// normal(draw)   : Box–Muller on the pair (u1, u2) = (uniform(2m), uniform(2m+1)) of m = ⌊draw/2⌋:
///                  r = sqrt(−2 ln u1), θ = 2π u2;  even draw → r cos θ,  odd draw → r sin θ
/// ```
/// Every (seed, round, block, row, purpose, draw) names one number; changing any of them gives an
/// independent one (Philox is a bijection of the counter for each key). Draw indices are used modulo
/// 2^25 (2^24 Philox blocks of two numbers per purpose and row); rows, blocks and rounds modulo 2^32.
/// A purpose should be used either for uniforms or for normals: `uniform(2m)` and `normal(2m)` read the
/// same Philox block.
public struct CounterRandom: Sendable, Equatable {
    /// What a stream of numbers is used for: part of the counter, so that two uses of the same row
    /// never share numbers. Values 0…255.
    public struct Purpose: Sendable, Equatable, Hashable {
        public let rawValue: UInt8
        public init(_ rawValue: UInt8) { self.rawValue = rawValue }
    }

    public let key: (UInt32, UInt32)
    public let stream: (purpose: UInt8, row: UInt32, block: UInt32, round: UInt32)

    /// The stream of `purpose` for one row of one block in one round of a run with `seed`.
    public init(seed: UInt64, round: Int, block: Int, row: Int, purpose: Purpose) {
        key = (UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32))
        stream = (
            purpose.rawValue, UInt32(truncatingIfNeeded: row), UInt32(truncatingIfNeeded: block),
            UInt32(truncatingIfNeeded: round)
        )
    }

    public static func == (lhs: CounterRandom, rhs: CounterRandom) -> Bool {
        lhs.key == rhs.key && lhs.stream == rhs.stream
    }

    /// The four Philox words of block `index` (0 ≤ index < 2^24, taken modulo 2^24) of this stream.
    @inlinable
    public func words(_ index: Int) -> (UInt32, UInt32, UInt32, UInt32) {
        let low = UInt32(truncatingIfNeeded: index) & 0x00FF_FFFF
        let counter = (UInt32(stream.purpose) << 24 | low, stream.row, stream.block, stream.round)
        return Philox4x32.block(counter: counter, key: key)
    }

    /// Uniform draw number `draw` in the open interval (0, 1).
    @inlinable
    public func uniform(_ draw: Int) -> Double {
        let (w0, w1, w2, w3) = words(draw >> 1)
        let bits = draw & 1 == 0 ? UInt64(w0) << 32 | UInt64(w1) : UInt64(w2) << 32 | UInt64(w3)
        return Self.openUnitInterval(bits)
    }

    /// Standard normal draw number `draw` (Box–Muller on one Philox block).
    @inlinable
    public func normal(_ draw: Int) -> Double {
        let (radius, angle) = polar(draw >> 1)
        return draw & 1 == 0 ? radius * cos(angle) : radius * sin(angle)
    }

    /// `(normal(2 · pair), normal(2 · pair + 1))`, the same bits, from one Philox block and one `log`.
    @inlinable
    public func normalPair(_ pair: Int) -> (Double, Double) {
        let (radius, angle) = polar(pair)
        return (radius * cos(angle), radius * sin(angle))
    }

    /// Box–Muller's radius `sqrt(−2 ln u₀)` and angle `2π u₁` of Philox block `block`.
    @inlinable
    func polar(_ block: Int) -> (radius: Double, angle: Double) {
        let (w0, w1, w2, w3) = words(block)
        let radiusUniform = Self.openUnitInterval(UInt64(w0) << 32 | UInt64(w1))
        let angleUniform = Self.openUnitInterval(UInt64(w2) << 32 | UInt64(w3))
        return ((-2 * log(radiusUniform)).squareRoot(), 2 * Double.pi * angleUniform)
    }

    /// A uniform integer in `0..<count` (count ≥ 1): `⌊uniform · count⌋`, clamped to `count − 1`.
    /// The bias is below count · 2^−52.
    @inlinable
    public func index(_ draw: Int, below count: Int) -> Int {
        guard count > 1 else { return 0 }
        return min(Int(uniform(draw) * Double(count)), count - 1)
    }

    /// `(⌊bits / 2^12⌋ + 1/2) · 2^−52`: the midpoints of 2^52 equal cells of (0, 1).
    @inlinable
    public static func openUnitInterval(_ bits: UInt64) -> Double {
        (Double(bits >> 12) + 0.5) * 0x1p-52
    }
}

/// Every stream the product draws from, in one place: no two uses may share a purpose.
extension CounterRandom.Purpose {
    /// Triplet mining: the positive and the negative drawn for an anchor.
    public static let tripletPositive = CounterRandom.Purpose(1)
    public static let tripletNegative = CounterRandom.Purpose(2)
    /// Contrastive pairs: the coin and the partner of a row.
    public static let pairPartner = CounterRandom.Purpose(3)
    /// VAE: the noise ε of the reparameterisation z = μ + σ·ε.
    public static let latentNoise = CounterRandom.Purpose(4)
    /// Glorot-uniform initial weights of the networks.
    public static let initialization = CounterRandom.Purpose(5)
    /// `sample`: the latent draws z ~ N(0, I).
    public static let latentSampling = CounterRandom.Purpose(16)
    /// Mini-batch epochs: the order of the blocks.
    public static let batchShuffle = CounterRandom.Purpose(200)
    /// `--test-fraction`: the permutation that splits off the held-out rows.
    public static let testSplit = CounterRandom.Purpose(201)
    /// The training rows put in random order before blocks are cut.
    public static let rowShuffle = CounterRandom.Purpose(202)

    /// All of the above (distinct, as a test checks).
    public static let all: [CounterRandom.Purpose] = [
        .tripletPositive, .tripletNegative, .pairPartner, .latentNoise, .initialization, .latentSampling, .batchShuffle,
        .testSplit, .rowShuffle,
    ]
}
