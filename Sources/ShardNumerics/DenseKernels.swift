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

/// The nearest other row of query rows among `count` rows of `width` values (`shardtrain_nearest_rows_f64`):
///
/// ```
/// nearest(i) = argmin_{j ≠ i} Σ_k (rows[i, k] − rows[j, k])²   components added in order, as a plain loop does;
///              the first candidate is taken, a later one only when strictly nearer (lowest index on ties)
/// ```
/// The rows are also kept four at a time, component-major, so the AVX2 path computes four candidates per
/// vector with the bits of the scalar loop. Queries are independent: callers split them over threads.
public struct NearestRowSearch: Sendable {
    public let count: Int
    public let width: Int
    private let rows: [Double]
    private let packed: [Double]

    /// `rows` holds `count · width` values, row-major.
    public init(rows: [Double], count: Int, width: Int) {
        precondition(count >= 0 && width >= 0 && rows.count == count * width, "NearestRowSearch: \(rows.count) values")
        self.rows = rows
        self.count = count
        self.width = width
        let packedCount = (count + 3) / 4 * 4 * width
        packed = [Double](unsafeUninitializedCapacity: packedCount) { buffer, initialized in
            rows.withUnsafeBufferPointer { rows in
                if let base = buffer.baseAddress, let source = rows.baseAddress {
                    shardtrain_pack_rows4_f64(source, count, width, base)
                }
            }
            initialized = packedCount
        }
    }

    /// `nearest(i)` for every i in `queries` (a sub-range of `0..<count`; −1 when there is no other row).
    public func nearest(_ queries: Range<Int>) -> [Int] {
        precondition(queries.lowerBound >= 0 && queries.upperBound <= count, "queries \(queries) outside 0..<\(count)")
        var result = [Int64](repeating: -1, count: queries.count)
        rows.withUnsafeBufferPointer { rows in
            packed.withUnsafeBufferPointer { packed in
                result.withUnsafeMutableBufferPointer { out in
                    guard let base = rows.baseAddress, let out = out.baseAddress else { return }
                    shardtrain_nearest_rows_f64(
                        base, packed.baseAddress, count, width, queries.lowerBound, queries.upperBound, out)
                }
            }
        }
        return result.map { Int($0) }
    }
}
