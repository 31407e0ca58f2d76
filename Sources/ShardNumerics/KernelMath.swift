import CShardKernels

/// The float elementary functions of the f32 logistic path, exposed so their accuracy can be checked.
///
/// With `KernelImplementation.simdAvailable` these run the same AVX2 code the f32 kernel inlines;
/// otherwise they are libm `expf` / `log1pf` (the portable kernel itself uses double `exp` / `log1p`).
public enum KernelMath {
    /// exp(x) element-wise. Range reduction x = n ln2 + t with |t| <= ln2/2, a degree-7 polynomial for
    /// exp(t), scaling by 2^n in two steps (results down to the smallest subnormal). +inf above
    /// 88.7228394, 0 below -103.972084, NaN for NaN.
    public static func exp(_ values: [Float]) -> [Float] {
        var output = [Float](repeating: 0, count: values.count)
        values.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { out in
                _ = shardtrain_exp_f32(input.baseAddress, out.baseAddress, input.count)
            }
        }
        return output
    }

    /// log(1 + x) element-wise on the domain 0 <= x <= 1 (the softplus term log1p(exp(-|z|))):
    ///
    ///     x <  0.5:  2 atanh(s),        s = x / (2 + x)
    ///     x >= 0.5:  ln2 + 2 atanh(s),  s = f / (2 + f),  f = (x - 1) / 2
    ///     2 atanh(s) = 2s + 2s^3 (1/3 + s^2/5 + s^4/7 + s^6/9 + s^8/11),  |s| <= 0.2
    public static func log1pUnit(_ values: [Float]) throws(KernelError) -> [Float] {
        for (index, value) in values.enumerated() where !(value >= 0 && value <= 1) {
            throw .outsideDomain(function: "log1pUnit", index: index, value: Double(value))
        }
        var output = [Float](repeating: 0, count: values.count)
        values.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { out in
                _ = shardtrain_log1p_unit_f32(input.baseAddress, out.baseAddress, input.count)
            }
        }
        return output
    }

    /// `values[i] / divisor` for a normal `divisor` > 0, with the bits of the division, by the path of Adam's pass
    /// (`shardtrain_divide_by_constant_f64`: the reciprocal, one residual correction, a check per lane); returns
    /// whether that path ran (false: plain division, no AVX2+FMA).
    public static func divided(_ values: [Double], by divisor: Double) -> (quotients: [Double], vectorPath: Bool) {
        var output = [Double](repeating: 0, count: values.count)
        let vector = values.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { out in
                shardtrain_divide_by_constant_f64(input.baseAddress, input.count, divisor, out.baseAddress)
            }
        }
        return (output, vector != 0)
    }
}
