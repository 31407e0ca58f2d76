import CShardKernels

/// The read-bandwidth baseline: every stored value of a block read once with SIMD loads.
///
///     checksum = Σ_ij x_ij + Σ_i y_i
///
/// (float32 values are summed in float lanes within runs of 4096 values, in double across runs;
/// float64 values in double lanes). The result depends on every value, so the reads cannot be
/// dropped by the compiler; it is a checksum, not a quantity to compute with.
public enum ReadPass {
    public static func checksum(of block: Block) -> Double {
        block.withValues { values in
            switch values {
            case .float32(let features, let labels):
                shardtrain_read_sum_f32(features.baseAddress, features.count)
                    + shardtrain_read_sum_f32(labels.baseAddress, labels.count)
            case .float64(let features, let labels):
                shardtrain_read_sum_f64(features.baseAddress, features.count)
                    + shardtrain_read_sum_f64(labels.baseAddress, labels.count)
            }
        }
    }
}
