#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The floating-point types every loss accepts: `Float` and `Double`.
///
/// The protocol only adds the libm functions the losses need, bound to the precision of the type
/// (`expf` for `Float`, `exp` for `Double`, ...), so a `Float` evaluation never widens to `Double`.
public protocol LossScalar: BinaryFloatingPoint, Sendable, CustomStringConvertible
where RawSignificand: FixedWidthInteger {
    /// `e^x`
    static func exp(_ x: Self) -> Self
    /// natural logarithm
    static func log(_ x: Self) -> Self
    /// `log(1 + x)`, accurate for small `x`
    static func log1p(_ x: Self) -> Self
    /// `e^x - 1`, accurate for small `x`
    static func expm1(_ x: Self) -> Self
    /// `x^y`
    static func pow(_ x: Self, _ y: Self) -> Self
    /// `e^x` for `x <= 0`, without branches so that loops over it vectorise (see `VectorMath`).
    static func expOfNonPositive(_ x: Self) -> Self
    /// `log(1 + u)` for `0 <= u <= 1`, without branches (see `VectorMath`).
    static func log1pOfUnitInterval(_ u: Self) -> Self
}

extension Double: LossScalar {
    @inlinable public static func exp(_ x: Double) -> Double { libmExp(x) }
    @inlinable public static func log(_ x: Double) -> Double { libmLog(x) }
    @inlinable public static func log1p(_ x: Double) -> Double { libmLog1p(x) }
    @inlinable public static func expm1(_ x: Double) -> Double { libmExpm1(x) }
    @inlinable public static func pow(_ x: Double, _ y: Double) -> Double { libmPow(x, y) }
    @inlinable public static func expOfNonPositive(_ x: Double) -> Double { VectorMath.exp(nonPositive: x) }
    @inlinable public static func log1pOfUnitInterval(_ u: Double) -> Double { VectorMath.log1p(unitInterval: u) }
}

extension Float: LossScalar {
    @inlinable public static func exp(_ x: Float) -> Float { expf(x) }
    @inlinable public static func log(_ x: Float) -> Float { logf(x) }
    @inlinable public static func log1p(_ x: Float) -> Float { log1pf(x) }
    @inlinable public static func expm1(_ x: Float) -> Float { expm1f(x) }
    @inlinable public static func pow(_ x: Float, _ y: Float) -> Float { powf(x, y) }
    @inlinable public static func expOfNonPositive(_ x: Float) -> Float { VectorMath.exp(nonPositive: x) }
    @inlinable public static func log1pOfUnitInterval(_ u: Float) -> Float { VectorMath.log1p(unitInterval: u) }
}

// Free functions so that the names inside `extension Double` do not resolve to the members above.
@inlinable func libmExp(_ x: Double) -> Double { exp(x) }
@inlinable func libmLog(_ x: Double) -> Double { log(x) }
@inlinable func libmLog1p(_ x: Double) -> Double { log1p(x) }
@inlinable func libmExpm1(_ x: Double) -> Double { expm1(x) }
@inlinable func libmPow(_ x: Double, _ y: Double) -> Double { pow(x, y) }

/// Numerically stable building blocks shared by the losses.
public enum StableMath {
    /// ```
    /// sigmoid(z) = 1 / (1 + e^-z)      computed as  1/(1+e^-|z|) for z ≥ 0,  e^-|z|/(1+e^-|z|) for z < 0
    /// ```
    /// Never evaluates `e^x` for positive `x`, so it neither overflows nor loses the small tail.
    @inlinable public static func sigmoid<T: LossScalar>(_ z: T) -> T {
        let decay = T.exp(-abs(z))
        return z >= 0 ? 1 / (1 + decay) : decay / (1 + decay)
    }

    /// ```
    /// logAddExp(a, b) = log(e^a + e^b) = max + log(1 + e^(min - max))
    /// ```
    /// `-∞` is the neutral element: `logAddExp(-∞, -∞) = -∞`.
    @inlinable public static func logAddExp<T: LossScalar>(_ a: T, _ b: T) -> T {
        let high = max(a, b)
        if high == -.infinity { return high }
        return high + T.log1p(T.exp(min(a, b) - high))
    }

    /// ```
    /// logSumExp(x) = m + log(sum_i e^(x_i - m)),   m = max_i x_i
    /// ```
    /// `-∞` for an empty slice or when every entry is `-∞`; `+∞` if any entry is `+∞`.
    @inlinable public static func logSumExp<T: LossScalar>(_ values: UnsafeBufferPointer<T>) -> T {
        var high = -T.infinity
        for value in values { high = max(high, value) }
        if high == -.infinity || high == .infinity { return high }
        var sum: T = 0
        for value in values { sum += T.exp(value - high) }
        return high + T.log(sum)
    }
}
