import CShardKernels

/// Per-block sums of the logistic-regression (binary cross-entropy on logits) objective.
///
/// For a block with rows x_i (length D = columns), labels y_i, weights w (D) and bias b:
///
///     z_i = x_i · w + b
///     e_i = exp(-|z_i|),  q_i = e_i / (1 + e_i)
///     l_i = max(z_i, 0) - y_i z_i + log1p(e_i)               (softplus(z_i) - y_i z_i)
///     r_i = sigmoid(z_i) - y_i = (z_i >= 0 ? (1 - y_i) - q_i : q_i - y_i)
///
///     output[0]      = Σ_i l_i
///     output[1 + j]  = Σ_i r_i x_ij      (j < D)
///     output[1 + D]  = Σ_i r_i
///
/// The mean objective and its gradient follow by dividing by the total row count N and adding the
/// L2 term: grad_w = output[1...D] / N + l2 · w, grad_b = output[1 + D] / N.
///
/// Precision: float32 blocks round w and b to Float once; the AVX2 path then computes z, the
/// sigmoid and the softplus in Float (relative error a few 1e-7 per row) and sums in float lanes
/// within tiles of at most 64 rows, in double across tiles. float64 blocks are computed in Double
/// throughout. The summation order depends only on the block's shape, so the same block and
/// parameters always give the same bits.
public enum LogisticKernel {
    /// Writes the `columns + 2` sums of `block` into `output` (overwriting it).
    public static func sums(
        of block: Block, weights: UnsafeBufferPointer<Double>, bias: Double,
        into output: UnsafeMutableBufferPointer<Double>, implementation: KernelImplementation = .fastest
    ) throws(KernelError) {
        guard weights.count == block.columns else {
            throw .weightsLength(expected: block.columns, actual: weights.count)
        }
        guard output.count == block.columns + 2, let out = output.baseAddress else {
            throw .outputLength(expected: block.columns + 2, actual: output.count)
        }
        let rows = block.rows
        let columns = block.columns
        let portable = implementation == .portable
        block.withValues { values in
            switch values {
            case .float32(let x, let y):
                let kernel = portable ? shardtrain_logistic_sums_f32_portable : shardtrain_logistic_sums_f32
                kernel(x.baseAddress, y.baseAddress, rows, columns, weights.baseAddress, bias, out)
            case .float64(let x, let y):
                let kernel = portable ? shardtrain_logistic_sums_f64_portable : shardtrain_logistic_sums_f64
                kernel(x.baseAddress, y.baseAddress, rows, columns, weights.baseAddress, bias, out)
            }
        }
    }

    /// The `columns + 2` sums of `block` as a new array (see `sums(of:weights:bias:into:implementation:)`).
    public static func sums(
        of block: Block, weights: [Double], bias: Double, implementation: KernelImplementation = .fastest
    ) throws(KernelError) -> [Double] {
        var output = [Double](repeating: 0, count: block.columns + 2)
        let result: Result<Void, KernelError> = weights.withUnsafeBufferPointer { w in
            output.withUnsafeMutableBufferPointer { out in
                Result { () throws(KernelError) in
                    try sums(of: block, weights: w, bias: bias, into: out, implementation: implementation)
                }
            }
        }
        try result.get()
        return output
    }
}
