/// SplitMix64 (Steele, Lea & Flood 2014): a seedable 64-bit generator for reproducible data, sampling
/// and property tests. Not cryptographic; not the counter-based stream the trainer uses for
/// worker-independent randomness (see `Philox4x32`).
///
/// ```
/// state ← state + 0x9E3779B97F4A7C15                      (mod 2⁶⁴, the golden-ratio increment)
/// z ← (state ⊕ (state ≫ 30)) · 0xBF58476D1CE4E5B9          (mod 2⁶⁴)
/// z ← (z ⊕ (z ≫ 27)) · 0x94D049BB133111EB                  (mod 2⁶⁴)
/// next() = z ⊕ (z ≫ 31)
/// ```
///
/// Seed 1234567 gives 6457827717110365317, 3203168211198807973, 9817491932198370423, … (the
/// sequence published with the reference implementation).
public struct SplitMix64: RandomNumberGenerator, Sendable {
    /// The 64-bit state; the next output is derived from `state + 0x9E3779B97F4A7C15`.
    public private(set) var state: UInt64

    /// A generator whose first output is derived from `seed + 0x9E3779B97F4A7C15`.
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) on the grid k · 2⁻⁵³ from the top 53 bits of one output:
    ///
    /// ```
    /// nextUnit() = (next() ≫ 11) · 2⁻⁵³
    /// ```
    public mutating func nextUnit() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    /// Uniform in [low, high) (for low < high) from one `nextUnit()` draw u:
    ///
    /// ```
    /// nextUniform(low, high) = low + (high − low) · u
    /// ```
    ///
    /// Rounding can give exactly `high` when |low| ≫ high − low.
    public mutating func nextUniform(_ low: Double, _ high: Double) -> Double {
        low + (high - low) * nextUnit()
    }
}
