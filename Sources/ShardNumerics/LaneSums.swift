/// Sums over long vectors in eight interleaved lanes, so the additions do not wait on one another (a single
/// running sum is bound by the adder's latency: about 0.7 ms for 420k values). The order is fixed by the
/// vector's length alone:
///
/// ```
/// lane_j = Σ_{i ≡ j (mod 8)} term(i), each lane added in increasing i
/// sum    = ((lane_0 + lane_1) + (lane_2 + lane_3)) + ((lane_4 + lane_5) + (lane_6 + lane_7))
/// ```
public enum LaneSums {
    /// `Σ values[i]²` in the lane order above.
    public static func sumOfSquares(_ values: UnsafeBufferPointer<Double>) -> Double {
        guard let base = values.baseAddress else { return 0 }
        let raw = UnsafeRawPointer(base)
        var lanes = SIMD8<Double>()
        let whole = values.count / 8 * 8
        var index = 0
        while index < whole {
            let chunk = raw.loadUnaligned(fromByteOffset: index * 8, as: SIMD8<Double>.self)
            lanes += chunk * chunk
            index += 8
        }
        while index < values.count {
            lanes[index - whole] += values[index] * values[index]
            index += 1
        }
        return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))
    }

    /// `sumOfSquares` of an array.
    public static func sumOfSquares(_ values: [Double]) -> Double {
        values.withUnsafeBufferPointer { sumOfSquares($0) }
    }
}
