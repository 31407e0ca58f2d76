/// Branch-free `exp` and `log1p` on the ranges the logit losses need, so the element loops that
/// call them can be vectorised (libm calls cannot). Accuracy is checked against libm in the tests
/// (a few ulp).
///
/// ```
/// exp(x), x <= 0:  k = round(x / ln 2)            (via the 1.5 * 2^p "magic number" rounding)
///                  r = x - k ln2_hi - k ln2_lo    (Cody-Waite; k ln2_hi is exact), |r| <= ln2 / 2
///                  e^x = 2^k * sum_{j<=n} r^j / j!   (n = 13 for Double, 7 for Float: truncation
///                                                     below 2^-56 / 2^-27 relative)
///                  2^k is built in the exponent bits. Below -708 (Double) / -87 (Float), where
///                  e^x is smaller than the least normal number, the result is 0.
/// log1p(u), 0 <= u <= 1:  s = u / (2 + u) in [0, 1/3]
///                  log(1 + u) = 2 atanh(s) = 2 s sum_{j<=n} s^(2j) / (2j + 1)
///                  (n = 16 for Double, 6 for Float: truncation below 9^-n / (2n + 1))
/// Both polynomials are evaluated with Estrin's scheme (short dependency chains), leading terms last.
/// ```
public enum VectorMath {
    @inlinable
    public static func exp(nonPositive x: Double) -> Double {
        let floor = -708.0
        let clamped = x < floor ? floor : x
        let magic = 6_755_399_441_055_744.0  // 1.5 * 2^52: adding it rounds to an integer
        let shifted = clamped * 1.442_695_040_888_963_4 + magic
        let k = shifted - magic
        let r = (clamped - k * 0.693_147_180_369_123_816_49) - k * 1.908_214_929_270_587_700_02e-10
        // e^r = 1 + (r + r^2 q(r)), q(r) = sum_{j=2..13} r^(j-2) / j! by Estrin's scheme (short
        // dependency chains); the leading terms are added last, which keeps the rounding small.
        let r2 = r * r
        let r4 = r2 * r2
        let r8 = r4 * r4
        let q01 = 0.5 + r * (1.0 / 6)
        let q23 = 1.0 / 24 + r * (1.0 / 120)
        let q45 = 1.0 / 720 + r * (1.0 / 5_040)
        let q67 = 1.0 / 40_320 + r * (1.0 / 362_880)
        let q89 = 1.0 / 3_628_800 + r * (1.0 / 39_916_800)
        let q1011 = 1.0 / 479_001_600 + r * (1.0 / 6_227_020_800)
        let q = (q01 + q23 * r2) + (q45 + q67 * r2) * r4 + (q89 + q1011 * r2) * r8
        let p = 1 + (r + r2 * q)
        let exponent = Int64(bitPattern: shifted.bitPattern) &- Int64(bitPattern: magic.bitPattern)
        let scale = Double(bitPattern: UInt64(bitPattern: (exponent &+ 1023) &<< 52))
        return x < floor ? 0 : p * scale
    }

    @inlinable
    public static func exp(nonPositive x: Float) -> Float {
        let floor: Float = -87
        let clamped = x < floor ? floor : x
        let magic: Float = 12_582_912  // 1.5 * 2^23
        let shifted = clamped * 1.442_695_04 + magic
        let k = shifted - magic
        let r = (clamped - k * 0.693_145_751_953_125) - k * 1.428_606_765_330_187e-06
        let r2 = r * r
        let q01: Float = 0.5 + r * (1.0 / 6)
        let q23: Float = 1.0 / 24 + r * (1.0 / 120)
        let q45: Float = 1.0 / 720 + r * (1.0 / 5_040)
        let q = (q01 + q23 * r2) + q45 * (r2 * r2)
        let p = 1 + (r + r2 * q)
        let exponent = Int32(bitPattern: shifted.bitPattern) &- Int32(bitPattern: magic.bitPattern)
        let scale = Float(bitPattern: UInt32(bitPattern: (exponent &+ 127) &<< 23))
        return x < floor ? 0 : p * scale
    }

    @inlinable
    public static func log1p(unitInterval u: Double) -> Double {
        let s = u / (2 + u)
        let s2 = s * s
        // log1p(u) = 2 (s + s^3 q(s^2)), q(x) = sum_{j=1..16} x^(j-1) / (2j + 1) by Estrin's scheme;
        // the leading term is added last.
        let x2 = s2 * s2
        let x4 = x2 * x2
        let x8 = x4 * x4
        let q01 = 1.0 / 3 + s2 * (1.0 / 5)
        let q23 = 1.0 / 7 + s2 * (1.0 / 9)
        let q45 = 1.0 / 11 + s2 * (1.0 / 13)
        let q67 = 1.0 / 15 + s2 * (1.0 / 17)
        let q89 = 1.0 / 19 + s2 * (1.0 / 21)
        let q1011 = 1.0 / 23 + s2 * (1.0 / 25)
        let q1213 = 1.0 / 27 + s2 * (1.0 / 29)
        let q1415 = 1.0 / 31 + s2 * (1.0 / 33)
        let low = (q01 + q23 * x2) + (q45 + q67 * x2) * x4
        let high = (q89 + q1011 * x2) + (q1213 + q1415 * x2) * x4
        let q = low + high * x8
        return 2 * (s + s * s2 * q)
    }

    @inlinable
    public static func log1p(unitInterval u: Float) -> Float {
        let s = u / (2 + u)
        let s2 = s * s
        let x2 = s2 * s2
        let q01: Float = 1.0 / 3 + s2 * (1.0 / 5)
        let q23: Float = 1.0 / 7 + s2 * (1.0 / 9)
        let q45: Float = 1.0 / 11 + s2 * (1.0 / 13)
        let q = (q01 + q23 * x2) + q45 * (x2 * x2)
        return 2 * (s + s * s2 * q)
    }
}
