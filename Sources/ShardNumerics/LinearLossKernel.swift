import CShardKernels

/// A loss of a linear model with Q outputs, as computed by `LinearLossKernel` (the formulas are in
/// CShardKernels.h, `shardtrain_linear_loss_kind`).
public enum LinearLoss: Sendable, Equatable {
    /// Hinge on labels ±1 (Q = 1); Huber-smoothed when `smoothing` μ > 0.
    case hinge(smoothing: Double)
    /// Mean pinball loss over the levels τ_q (Q = levels.count) on real targets; smoothed when μ > 0.
    case pinball(levels: [Double], smoothing: Double)
    /// Softmax cross-entropy over `classes` (Q = K) on class indices, each row times its class weight.
    case softmax(classes: Int, classWeights: [Double]?)
    /// Focal loss from logits on labels 0/1 (Q = 1) with γ, α_t = `alphaPositive` / `alphaNegative`, each
    /// row times its class weight `classWeights = [c_0, c_1]` (γ = 0, α_t = 1: the binary cross-entropy).
    case focal(gamma: Double, alphaPositive: Double, alphaNegative: Double, classWeights: [Double]?)

    /// Q, the number of scores per row.
    public var outputCount: Int {
        switch self {
        case .hinge, .focal: 1
        case .pinball(let levels, _): levels.count
        case .softmax(let classes, _): classes
        }
    }
}

/// Fused block sums of a linear model: scores, loss and gradient sums in one pass over the block
/// (`shardtrain_linear_sums_f32/_f64`, AVX2+FMA; softmax and pinball with AVX-512 where the CPU has it, see
/// `VectorWidth`).
///
///     s_iq = Σ_d x_id W_dq + b_q                       (parameters = [W (D×Q row-major), b (Q)])
///     output[0]              = Σ_i loss_i
///     output[1 + d·Q + q]    = Σ_i x_id ∂loss_i/∂s_iq
///     output[1 + D·Q + q]    = Σ_i ∂loss_i/∂s_iq
///
/// float64 blocks are computed in double; float32 blocks compute scores, losses and gradient sums in float
/// lanes within tiles of at most 64 rows (as `LogisticKernel`), with double sums across tiles (CShardKernels.h). The order of every sum depends
/// only on the block's shape and Q, so a block and its parameters always give the same bits on one CPU.
public enum LinearLossKernel {
    /// What a call did.
    public enum Outcome: Sendable, Equatable {
        /// `output` holds the block's sums.
        case computed
        /// The label of `row` is outside the loss's domain; `output` is meaningless.
        case invalidLabel(row: Int)
        /// No AVX2+FMA on this CPU, or a loss the kernel does not handle (focal γ other than 0, 1, 2):
        /// the caller computes the sums itself.
        case unsupported
    }

    public static func sums(
        of block: Block, loss: LinearLoss, parameters: UnsafeBufferPointer<Double>,
        into output: UnsafeMutableBufferPointer<Double>, vectors: VectorWidth = .widest
    ) throws(KernelError) -> Outcome {
        let outputs = loss.outputCount
        guard outputs >= 1 else { throw .invalidLoss("a linear loss needs at least one output") }
        let parameterCount = (block.columns + 1) * outputs
        guard parameters.count == parameterCount else {
            throw .parametersLength(expected: parameterCount, actual: parameters.count)
        }
        guard output.count == parameterCount + 1, let out = output.baseAddress else {
            throw .outputLength(expected: parameterCount + 1, actual: output.count)
        }
        let classWeights: [Double]?
        var levels: [Double] = []
        var params = shardtrain_linear_params()
        params.outputs = outputs
        params.vectors = vectors == .widest ? SHARDTRAIN_VECTORS_WIDEST : SHARDTRAIN_VECTORS_AVX2
        switch loss {
        case .hinge(let smoothing):
            params.kind = SHARDTRAIN_LINEAR_HINGE
            params.smoothing = smoothing
            classWeights = nil
        case .pinball(let taus, let smoothing):
            params.kind = SHARDTRAIN_LINEAR_PINBALL
            params.smoothing = smoothing
            levels = taus
            classWeights = nil
        case .softmax(_, let weights):
            params.kind = SHARDTRAIN_LINEAR_SOFTMAX
            classWeights = weights
        case .focal(let gamma, let alphaPositive, let alphaNegative, let weights):
            params.kind = SHARDTRAIN_LINEAR_FOCAL
            params.gamma = gamma
            params.weight_positive = alphaPositive
            params.weight_negative = alphaNegative
            classWeights = weights
        }
        let weightCount = params.kind == SHARDTRAIN_LINEAR_FOCAL ? 2 : outputs
        if let classWeights, classWeights.count != weightCount {
            throw .invalidLoss("\(classWeights.count) class weights, expected \(weightCount)")
        }
        let rows = block.rows
        let columns = block.columns
        let theta = parameters.baseAddress
        let result: Int = levels.withUnsafeBufferPointer { levelPointer in
            (classWeights ?? []).withUnsafeBufferPointer { weightPointer in
                params.levels = levelPointer.baseAddress
                params.class_weights = classWeights == nil ? nil : weightPointer.baseAddress
                return block.withValues { values in
                    switch values {
                    case .float32(let x, let y):
                        shardtrain_linear_sums_f32(&params, x.baseAddress, y.baseAddress, rows, columns, theta, out)
                    case .float64(let x, let y):
                        shardtrain_linear_sums_f64(&params, x.baseAddress, y.baseAddress, rows, columns, theta, out)
                    }
                }
            }
        }
        if result == Int(bitPattern: UInt(bitPattern: -1)) { return .unsupported }
        return result == rows ? .computed : .invalidLabel(row: result)
    }
}
