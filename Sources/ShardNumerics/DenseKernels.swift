#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import CShardKernels

/// The element-wise passes of the dense networks, vectorised in C (`dense_layers.c`; the Swift loops they
/// replace ran one element at a time). Every pass but `tanh` gives the same bits on every CPU:
///
/// ```
/// relu             v ← v > 0 ? v : 0                       (NaN → 0)
/// reluBackward     g ← a > 0 ? g : 0
/// columnSums       sums[c] = ((0 + m[0, c]) + m[1, c]) + …   m (rows, sums.count) row-major, rows in order
/// widen / round    Double(f) / Float(d) (round to nearest even)
/// firstOutsideUnitInterval   the first index i with !(0 ≤ v[i] ≤ 1), or nil
/// tanh             AVX2 expm1 form, within 3 ulp of libm (libm `tanh` itself on CPUs without AVX2+FMA)
/// ```
public enum DenseKernels {
    public static func relu(_ values: UnsafeMutableBufferPointer<Float>) {
        guard let base = values.baseAddress else { return }
        shardtrain_relu_f32(base, values.count)
    }

    public static func relu(_ values: UnsafeMutableBufferPointer<Double>) {
        guard let base = values.baseAddress else { return }
        shardtrain_relu_f64(base, values.count)
    }

    /// `activation` and `gradient` have the same count.
    public static func reluBackward(activation: UnsafeBufferPointer<Float>, gradient: UnsafeMutableBufferPointer<Float>) {
        precondition(activation.count == gradient.count, "reluBackward: \(activation.count) vs \(gradient.count) values")
        guard let a = activation.baseAddress, let g = gradient.baseAddress else { return }
        shardtrain_relu_backward_f32(a, g, gradient.count)
    }

    public static func reluBackward(
        activation: UnsafeBufferPointer<Double>, gradient: UnsafeMutableBufferPointer<Double>
    ) {
        precondition(activation.count == gradient.count, "reluBackward: \(activation.count) vs \(gradient.count) values")
        guard let a = activation.baseAddress, let g = gradient.baseAddress else { return }
        shardtrain_relu_backward_f64(a, g, gradient.count)
    }

    /// `matrix` holds at least `rows · sums.count` values.
    public static func columnSums(_ matrix: UnsafeBufferPointer<Float>, rows: Int, into sums: UnsafeMutableBufferPointer<Float>) {
        precondition(rows >= 0 && matrix.count >= rows * sums.count, "columnSums: \(matrix.count) values, \(rows) rows")
        guard let s = sums.baseAddress else { return }
        shardtrain_column_sums_f32(matrix.baseAddress ?? UnsafePointer(s), rows, sums.count, s)
    }

    public static func columnSums(
        _ matrix: UnsafeBufferPointer<Double>, rows: Int, into sums: UnsafeMutableBufferPointer<Double>
    ) {
        precondition(rows >= 0 && matrix.count >= rows * sums.count, "columnSums: \(matrix.count) values, \(rows) rows")
        guard let s = sums.baseAddress else { return }
        shardtrain_column_sums_f64(matrix.baseAddress ?? UnsafePointer(s), rows, sums.count, s)
    }

    /// `output[i] = Double(input[i])`; the counts are equal.
    public static func widen(_ input: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Double>) {
        precondition(input.count == output.count, "widen: \(input.count) vs \(output.count) values")
        guard let i = input.baseAddress, let o = output.baseAddress else { return }
        shardtrain_widen_f32_to_f64(i, o, input.count)
    }

    /// `output[i] = Float(input[i])`; the counts are equal.
    public static func round(_ input: UnsafeBufferPointer<Double>, into output: UnsafeMutableBufferPointer<Float>) {
        precondition(input.count == output.count, "round: \(input.count) vs \(output.count) values")
        guard let i = input.baseAddress, let o = output.baseAddress else { return }
        shardtrain_round_f64_to_f32(i, o, input.count)
    }

    public static func firstOutsideUnitInterval(_ values: UnsafeBufferPointer<Float>) -> Int? {
        guard let base = values.baseAddress else { return nil }
        let index = shardtrain_first_outside_unit_f32(base, values.count)
        return index < values.count ? index : nil
    }

    public static func firstOutsideUnitInterval(_ values: UnsafeBufferPointer<Double>) -> Int? {
        guard let base = values.baseAddress else { return nil }
        let index = shardtrain_first_outside_unit_f64(base, values.count)
        return index < values.count ? index : nil
    }

    /// `values[i] ← tanh(values[i])` (see the type's documentation for the accuracy).
    public static func tanh(_ values: UnsafeMutableBufferPointer<Double>) {
        guard let base = values.baseAddress else { return }
        if shardtrain_tanh_f64(base, values.count) != 0 { return }
        for index in values.indices { values[index] = libmTanh(values[index]) }
    }
}

// A free function so that `tanh` inside `DenseKernels` does not resolve to the member above.
private func libmTanh(_ x: Double) -> Double { tanh(x) }
