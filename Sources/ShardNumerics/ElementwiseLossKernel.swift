import CShardKernels

/// The compiled element-wise classification losses: loss, scaled derivative and the sum of the
/// losses in one pass over `target` and `prediction` (AVX2+FMA with 4 doubles or 8 floats per vector
/// when the CPU has it, one element at a time with libm otherwise).
///
/// ```
/// bce_prob:      pc = clip(p, low, high)
///                loss = -(y log pc + (1 - y) log(1 - pc))          (one log when y is 0 or 1)
///                d/dp = (pc - y) / (pc (1 - pc)) if low <= p <= high, else 0
/// bce_logits:    e = exp(-|z|),  loss = (max(z, 0) - y z) + log1p(e)
///                d/dz = (z >= 0 ? 1 : e) / (1 + e) - y
/// focal_prob:    p_t = y = 1 ? pc : 1 - pc,  q = 1 - p_t,  ce = -log(p_t),  w = w+ if y = 1 else w-
///                loss = (w q^γ) ce,  d/dp = ∓ w (γ q^(γ-1) ce + q^γ / p_t) inside the clip, else 0
/// focal_logits:  ce = the bce_logits loss,  p_t = sigmoid(s z),  q = sigmoid(-s z)  (s = ±1 for y = 1 / 0)
///                loss = (w q^γ) ce,  d/dz = ∓ (w q^γ)(γ p_t ce + q)                (minus for y = 1)
///
/// gradient_i = gradientScale · d loss_i / d prediction_i
/// total      = Σ_i loss_i in blocks of 1024: eight running sums per block (element k of each whole
///              group of eight to sum k, the block's last count mod 8 elements to sum 0, in order),
///              combined as ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7)); block sums added in order.
/// ```
/// The summation order depends only on the count. Focal losses support γ ∈ {0, 1, 2}; `evaluate`
/// returns nil for other γ. Domains: bce_prob y, p ∈ [0, 1]; bce_logits y ∈ [0, 1] and z finite;
/// focal y ∈ {0, 1} (and p ∈ [0, 1] for focal_prob, z finite for focal_logits); NaN is outside every
/// domain.
public enum ElementwiseLossKernel: Sendable, Equatable {
    case binaryCrossEntropy(clipLow: Double, clipHigh: Double)
    case binaryCrossEntropyWithLogits
    case focal(gamma: Double, weightPositive: Double, weightNegative: Double, clipLow: Double, clipHigh: Double)
    case focalWithLogits(gamma: Double, weightPositive: Double, weightNegative: Double)

    /// The result of one pass.
    public enum Outcome<T: Sendable & Equatable>: Sendable, Equatable {
        /// Every element was inside the domain; `total` is the plain sum of the losses.
        case completed(total: T)
        /// `index` is the first element outside the domain (outputs are only partly written).
        case outsideDomain(index: Int)
    }

    /// Whether the compiled kernels handle this loss (focal γ must be 0, 1 or 2).
    public var isSupported: Bool {
        switch self {
        case .binaryCrossEntropy, .binaryCrossEntropyWithLogits: true
        case .focal(let gamma, _, _, _, _), .focalWithLogits(let gamma, _, _): gamma == 0 || gamma == 1 || gamma == 2
        }
    }

    private func parameters(gradientScale: Double) -> shardtrain_elementwise_params {
        var parameters = shardtrain_elementwise_params()
        parameters.gradient_scale = gradientScale
        switch self {
        case .binaryCrossEntropy(let low, let high):
            parameters.kind = SHARDTRAIN_LOSS_BCE_PROBABILITY
            (parameters.clip_low, parameters.clip_high) = (low, high)
        case .binaryCrossEntropyWithLogits:
            parameters.kind = SHARDTRAIN_LOSS_BCE_LOGITS
        case .focal(let gamma, let positive, let negative, let low, let high):
            parameters.kind = SHARDTRAIN_LOSS_FOCAL_PROBABILITY
            (parameters.gamma, parameters.weight_positive, parameters.weight_negative) = (gamma, positive, negative)
            (parameters.clip_low, parameters.clip_high) = (low, high)
        case .focalWithLogits(let gamma, let positive, let negative):
            parameters.kind = SHARDTRAIN_LOSS_FOCAL_LOGITS
            (parameters.gamma, parameters.weight_positive, parameters.weight_negative) = (gamma, positive, negative)
        }
        return parameters
    }

    private static func outcome<T>(_ returned: Int, count: Int, total: T) -> Outcome<T>? {
        if returned == Int(bitPattern: UInt(bitPattern: -1)) { return nil }
        return returned == count ? .completed(total: total) : .outsideDomain(index: returned)
    }

    /// One pass over `count` doubles (see the type's documentation); nil when the loss is not supported.
    /// All four pointers must address `count` elements.
    public func evaluate(
        target: UnsafePointer<Double>, prediction: UnsafePointer<Double>, count: Int,
        perSample: UnsafeMutablePointer<Double>, gradient: UnsafeMutablePointer<Double>, gradientScale: Double,
        implementation: KernelImplementation = .fastest
    ) -> Outcome<Double>? {
        guard isSupported, count >= 0 else { return nil }
        var parameters = parameters(gradientScale: gradientScale)
        var total = 0.0
        let returned =
            implementation == .portable
            ? shardtrain_elementwise_loss_f64_portable(&parameters, target, prediction, count, perSample, gradient, &total)
            : shardtrain_elementwise_loss_f64(&parameters, target, prediction, count, perSample, gradient, &total)
        return Self.outcome(Int(bitPattern: UInt(returned)), count: count, total: total)
    }

    /// One pass over `count` floats, computed in Float. The parameters are rounded to Float first, so
    /// callers pass values that are already Float (clip bounds, weights, scale).
    public func evaluate(
        target: UnsafePointer<Float>, prediction: UnsafePointer<Float>, count: Int,
        perSample: UnsafeMutablePointer<Float>, gradient: UnsafeMutablePointer<Float>, gradientScale: Float,
        implementation: KernelImplementation = .fastest
    ) -> Outcome<Float>? {
        guard isSupported, count >= 0 else { return nil }
        var parameters = parameters(gradientScale: Double(gradientScale))
        var total: Float = 0
        let returned =
            implementation == .portable
            ? shardtrain_elementwise_loss_f32_portable(&parameters, target, prediction, count, perSample, gradient, &total)
            : shardtrain_elementwise_loss_f32(&parameters, target, prediction, count, perSample, gradient, &total)
        return Self.outcome(Int(bitPattern: UInt(returned)), count: count, total: total)
    }
}

/// The double vector exp/log/log1p and the float log of the element-wise loss kernels, applied to
/// arrays so their accuracy can be checked (libm when `KernelImplementation.simdAvailable` is false).
///
/// ```
/// exp(x):   n = round(x / ln2), r = (x - n ln2_hi) - n ln2_lo, exp(r) = 1 + r + r² q(r) (q of degree 9,
///           near-minimax), times 2^n (in two exact steps when the result is subnormal). +inf above 709.78, 0 below -745.13, NaN for NaN.
/// log(x):   x = 2^k (1 + f), 1 + f in [sqrt(1/2), sqrt(2)); s = f / (2 + f);
///           log(x) = k ln2 + f - (f²/2 - s (f²/2 + R)),  R ≈ Σ_{j>=1} 2 s^(2j) / (2j + 1)
///           (a degree-7 near-minimax polynomial in s² in Double, 4 Taylor terms in Float).
///           0 → -inf, +inf → +inf, negative or NaN → NaN.
/// log1p(x), 0 <= x <= 1: the same core with f = x (x < 0.5) or f = (x - 1) / 2 and k = 1 (x >= 0.5).
/// ```
public enum LossKernelMath {
    public static func exp(_ values: [Double]) -> [Double] { apply(values, shardtrain_exp_f64) }
    public static func log(_ values: [Double]) -> [Double] { apply(values, shardtrain_log_f64) }
    public static func log(_ values: [Float]) -> [Float] { apply(values, shardtrain_log_f32) }

    /// log(1 + x) on 0 <= x <= 1; throws `KernelError.outsideDomain` for any other value.
    public static func log1pUnit(_ values: [Double]) throws(KernelError) -> [Double] {
        for (index, value) in values.enumerated() where !(value >= 0 && value <= 1) {
            throw .outsideDomain(function: "log1pUnit", index: index, value: value)
        }
        return apply(values, shardtrain_log1p_unit_f64)
    }

    private static func apply<T: BinaryFloatingPoint>(
        _ values: [T], _ function: (UnsafePointer<T>?, UnsafeMutablePointer<T>?, Int) -> Int32
    ) -> [T] {
        var output = [T](repeating: 0, count: values.count)
        values.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { out in
                _ = function(input.baseAddress, out.baseAddress, input.count)
            }
        }
        return output
    }
}
