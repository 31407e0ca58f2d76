#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import ShardLosses
import ShardNumerics
import Synchronization

/// The element types the networks compute in: `Double`, and `Float` for float32 storage (as JAX and PyTorch
/// compute). Parameters and block sums stay `Double` outside a pass; a Float pass rounds the parameters to Float
/// once per block and widens its sums back.
protocol NetworkScalar: LossScalar, BLASScalar {
    /// The process's reusable arrays of this type (see `ScratchPool`).
    static var scratch: ScratchPool<Self> { get }
    /// `values[i] ← tanh(values[i])`: `DenseKernels.tanh` for Double, `Activation.tanh` for Float.
    static func tanh(_ values: UnsafeMutableBufferPointer<Self>)
    /// `DenseKernels.relu`, `reluBackward`, `columnSums`, `firstOutsideUnitInterval` in this precision.
    static func relu(_ values: UnsafeMutableBufferPointer<Self>)
    static func reluBackward(activation: UnsafeBufferPointer<Self>, gradient: UnsafeMutableBufferPointer<Self>)
    static func columnSums(_ matrix: UnsafeBufferPointer<Self>, rows: Int, into sums: UnsafeMutableBufferPointer<Self>)
    static func firstOutsideUnitInterval(_ values: UnsafeBufferPointer<Self>) -> Int?
    /// The compiled `bce_logits` pass (`ElementwiseLossKernel`) in this precision, gradient scale 1.
    static func binaryCrossEntropyWithLogits(
        target: UnsafePointer<Self>, logits: UnsafePointer<Self>, count: Int, losses: UnsafeMutablePointer<Self>,
        gradient: UnsafeMutablePointer<Self>
    ) -> ElementwiseLossKernel.Outcome<Self>?
}

extension Double: NetworkScalar {
    static var scratch: ScratchPool<Double> { doubleScratch }
    static func tanh(_ values: UnsafeMutableBufferPointer<Double>) { DenseKernels.tanh(values) }
    static func relu(_ values: UnsafeMutableBufferPointer<Double>) { DenseKernels.relu(values) }
    static func reluBackward(activation: UnsafeBufferPointer<Double>, gradient: UnsafeMutableBufferPointer<Double>) {
        DenseKernels.reluBackward(activation: activation, gradient: gradient)
    }
    static func columnSums(
        _ matrix: UnsafeBufferPointer<Double>, rows: Int, into sums: UnsafeMutableBufferPointer<Double>
    ) {
        DenseKernels.columnSums(matrix, rows: rows, into: sums)
    }
    static func firstOutsideUnitInterval(_ values: UnsafeBufferPointer<Double>) -> Int? {
        DenseKernels.firstOutsideUnitInterval(values)
    }
    static func binaryCrossEntropyWithLogits(
        target: UnsafePointer<Double>, logits: UnsafePointer<Double>, count: Int, losses: UnsafeMutablePointer<Double>,
        gradient: UnsafeMutablePointer<Double>
    ) -> ElementwiseLossKernel.Outcome<Double>? {
        ElementwiseLossKernel.binaryCrossEntropyWithLogits.evaluate(
            target: target, prediction: logits, count: count, perSample: losses, gradient: gradient, gradientScale: 1)
    }
}

extension Float: NetworkScalar {
    static var scratch: ScratchPool<Float> { floatScratch }
    static func tanh(_ values: UnsafeMutableBufferPointer<Float>) {
        for index in values.indices { values[index] = Activation.tanh(values[index]) }
    }
    static func relu(_ values: UnsafeMutableBufferPointer<Float>) { DenseKernels.relu(values) }
    static func reluBackward(activation: UnsafeBufferPointer<Float>, gradient: UnsafeMutableBufferPointer<Float>) {
        DenseKernels.reluBackward(activation: activation, gradient: gradient)
    }
    static func columnSums(_ matrix: UnsafeBufferPointer<Float>, rows: Int, into sums: UnsafeMutableBufferPointer<Float>) {
        DenseKernels.columnSums(matrix, rows: rows, into: sums)
    }
    static func firstOutsideUnitInterval(_ values: UnsafeBufferPointer<Float>) -> Int? {
        DenseKernels.firstOutsideUnitInterval(values)
    }
    static func binaryCrossEntropyWithLogits(
        target: UnsafePointer<Float>, logits: UnsafePointer<Float>, count: Int, losses: UnsafeMutablePointer<Float>,
        gradient: UnsafeMutablePointer<Float>
    ) -> ElementwiseLossKernel.Outcome<Float>? {
        ElementwiseLossKernel.binaryCrossEntropyWithLogits.evaluate(
            target: target, prediction: logits, count: count, perSample: losses, gradient: gradient, gradientScale: 1)
    }
}

/// Activations written so that loops over them vectorise (libm's `tanhf` is a call per element).
public enum Activation {
    /// `tanh(x)` for Float, computed in Double and rounded once (within 1 ulp of the exact value):
    ///
    /// ```
    /// a = |x|,  e = exp(−2a)  (VectorMath, branch-free, a few Double ulp)
    /// tanh(a) = a − a³/3 + 2a⁵/15                 a < 2⁻⁶   (truncation < 17a⁷/315: relative < 1e-12)
    ///         = (1 − e) / (1 + e)                  otherwise (1 − e ≥ 0.03: relative error < 1e-14)
    /// tanh(x) = sign(x) · tanh(a);  NaN stays NaN
    /// ```
    @inlinable
    public static func tanh(_ x: Float) -> Float {
        let a = Double(abs(x))
        let e = VectorMath.exp(nonPositive: -2 * a)
        let a2 = a * a
        let series = a - a * a2 * (1.0 / 3 - a2 * (2.0 / 15))
        let magnitude = a < 0x1p-6 ? series : (1 - e) / (1 + e)
        let result = Float(magnitude)
        return x.isNaN ? x : (x.sign == .minus ? -result : result)
    }
}

private let doubleScratch = ScratchPool<Double>()
private let floatScratch = ScratchPool<Float>()

/// Arrays a pass borrows for its largest temporaries (the parameters rounded to Float, the Float gradient: one
/// value per parameter, per block) and gives back, so blocks reuse warm memory instead of asking the allocator
/// for megabytes that it maps, zero-fills and returns each time. A borrowed array's contents are unspecified.
final class ScratchPool<T: NetworkScalar>: Sendable {
    /// At most this many arrays wait in the pool (one or two per compute thread).
    private static var capacity: Int { 16 }
    private let free = Mutex<[[T]]>([])

    /// `body` on an array of `count` values with unspecified contents; the array returns to the pool after.
    func withArray<R>(count: Int, _ body: (inout [T]) throws(ModelError) -> R) throws(ModelError) -> R {
        var array = free.withLock { free in free.firstIndex { $0.count == count }.map { free.remove(at: $0) } }
            ?? [T](repeating: 0, count: count)
        defer {
            free.withLock { free in
                if free.count < Self.capacity { free.append(array) }
            }
        }
        return try body(&array)
    }
}

/// Affine layers on row-major matrices, shared by the embedding network and the VAE, on `BLAS.gemm`.
///
/// ```
/// forward:   Y = X·W + b            X (n, in), W (in, out) stored as `in` rows of `out`, b (out), Y (n, out)
/// backward:  ∂W = Xᵀ·∂Y,   ∂b = Σ_rows ∂Y,   ∂X = ∂Y·Wᵀ
/// ```
/// Every product is one gemm call whose shapes depend only on the block, and OpenBLAS runs on one thread, so a
/// block's results do not depend on which thread or process computes it. Bias sums run over rows in order.
enum DenseLayer {
    /// `output = input·weights + bias` (bias optional: a layer without bias adds 0).
    static func forward<T: NetworkScalar>(
        _ input: UnsafeBufferPointer<T>, rows: Int, inputWidth: Int,
        weights: UnsafeBufferPointer<T>, bias: UnsafeBufferPointer<T>?,
        into output: UnsafeMutableBufferPointer<T>, outputWidth: Int
    ) throws(ModelError) {
        if let bias {
            for row in 0..<rows {
                _ = UnsafeMutableBufferPointer(rebasing: output[(row * outputWidth)..<((row + 1) * outputWidth)])
                    .update(fromContentsOf: bias)
            }
        }
        try product(
            m: rows, n: outputWidth, k: inputWidth, input, weights, beta: bias == nil ? 0 : 1, into: output)
    }

    /// Overwrites `∂W = Xᵀ·∂Y`, `∂b = Σ_rows ∂Y` (when `biasGradient` is given) and, when `inputGradient` is
    /// given, `∂X = ∂Y·Wᵀ`.
    static func backward<T: NetworkScalar>(
        _ input: UnsafeBufferPointer<T>, rows: Int, inputWidth: Int,
        weights: UnsafeBufferPointer<T>, outputGradient: UnsafeBufferPointer<T>, outputWidth: Int,
        weightGradient: UnsafeMutableBufferPointer<T>, biasGradient: UnsafeMutableBufferPointer<T>?,
        inputGradient: UnsafeMutableBufferPointer<T>?
    ) throws(ModelError) {
        try product(
            m: inputWidth, n: outputWidth, k: rows, input, transposeA: true, outputGradient, into: weightGradient)
        if let biasGradient { columnSums(outputGradient, rows: rows, into: biasGradient) }
        if let inputGradient {
            try product(
                m: rows, n: inputWidth, k: outputWidth, outputGradient, weights, transposeB: true, into: inputGradient)
        }
    }

    /// `sums[c] = Σ_{r = 0, 1, …} matrix[r, c]` for a (rows, sums.count) row-major matrix, rows added in order.
    static func columnSums<T: NetworkScalar>(
        _ matrix: UnsafeBufferPointer<T>, rows: Int, into sums: UnsafeMutableBufferPointer<T>
    ) {
        T.columnSums(matrix, rows: rows, into: sums)
    }

    /// `values ← relu(values)` (relu'(0) = 0, the reference convention).
    static func relu<T: NetworkScalar>(_ values: UnsafeMutableBufferPointer<T>) { T.relu(values) }

    /// `gradient ← gradient ⊙ [activation > 0]` for an activation that went through `relu`.
    static func reluBackward<T: NetworkScalar>(
        activation: UnsafeBufferPointer<T>, gradient: UnsafeMutableBufferPointer<T>
    ) {
        T.reluBackward(activation: activation, gradient: gradient)
    }

    private static func product<T: NetworkScalar>(
        m: Int, n: Int, k: Int, _ a: UnsafeBufferPointer<T>, transposeA: Bool = false, _ b: UnsafeBufferPointer<T>,
        transposeB: Bool = false, beta: T = 0, into c: UnsafeMutableBufferPointer<T>
    ) throws(ModelError) {
        do throws(BLASError) {
            try BLAS.gemm(m: m, n: n, k: k, a, transposeA: transposeA, b, transposeB: transposeB, beta: beta, into: c)
        } catch {
            throw .dimension("dense layer: \(error.description)")
        }
    }
}

/// The shape checks every network model makes first, in this order (messages name `model`):
///
/// ```
/// featureCount ≥ 1,   outputDimension ≥ 1,   hiddenUnits ≥ 1 when given (nil: the linear variant)
/// ```
func validateNetworkShape(
    model: String, featureCount: Int, outputName: String, outputDimension: Int, hiddenUnits: Int?
) throws(ModelError) {
    guard featureCount >= 1 else { throw .invalidSpec("\(model): feature count \(featureCount) must be at least 1") }
    guard outputDimension >= 1 else {
        throw .invalidSpec("\(model): \(outputName) (outputDimension) \(outputDimension) must be at least 1")
    }
    if let hiddenUnits, hiddenUnits < 1 {
        throw .invalidSpec("\(model): hiddenUnits \(hiddenUnits) must be at least 1 (or absent for the linear model)")
    }
}

/// Deterministic starting points for the networks.
enum Initialization {
    /// The fixed seed of every initial parameter vector (`Model.initialParameters()` takes no seed).
    static let seed: UInt64 = 0x5EED_1417

    /// Glorot-uniform weights and zero biases:
    ///
    /// ```
    /// W[i, o] ~ U(−a, a),   a = sqrt(6 / (fan_in + fan_out))      for every regularised (weight) tensor
    /// b = 0                                                          for every other tensor
    /// u for flat element e of tensor t = CounterRandom(seed 0x5EED1417, round 0, block t,
    ///                                                  row ⌊e / 2^24⌋, purpose initialization).uniform(e mod 2^24)
    /// ```
    /// Matrix tensors have shape `[fan_in, fan_out]`; a vector weight uses `[fan_in, 1]`.
    static func glorotUniform(_ layout: ParameterLayout) -> [Double] {
        var parameters = [Double](repeating: 0, count: layout.count)
        for (tensorIndex, tensor) in layout.tensors.enumerated() where tensor.regularized {
            let fanIn = tensor.shape.first ?? 1
            let fanOut = tensor.shape.count > 1 ? tensor.shape.dropFirst().reduce(1, *) : 1
            let limit = (6.0 / Double(fanIn + fanOut)).squareRoot()
            for element in 0..<tensor.count {
                let random = CounterRandom(
                    seed: seed, round: 0, block: tensorIndex, row: element >> 24, purpose: .initialization)
                let u = random.uniform(element & 0xFF_FFFF)
                parameters[tensor.range.lowerBound + element] = (2 * u - 1) * limit
            }
        }
        return parameters
    }
}

/// A block's features as `T`: the stored values themselves when the storage precision is `T`, else rounded.
/// The networks compute in `Double` for float64 blocks and in `Float` for float32 blocks.
func withFeatures<T: NetworkScalar, R>(
    of block: Block, as type: T.Type, _ body: (UnsafeBufferPointer<T>) throws(ModelError) -> R
) throws(ModelError) -> R {
    try block.withValues { (values) throws(ModelError) -> R in
        switch values {
        case .float64(let features, _): try withConverted(features, as: type, body)
        case .float32(let features, _): try withConverted(features, as: type, body)
        }
    }
}

/// `values` as `T`: the same memory when `Source` is `T`, else a rounded copy.
func withConverted<Source: BinaryFloatingPoint, T: NetworkScalar, R>(
    _ values: UnsafeBufferPointer<Source>, as _: T.Type, _ body: (UnsafeBufferPointer<T>) throws(ModelError) -> R
) throws(ModelError) -> R {
    if Source.self == T.self {
        let same = UnsafeRawPointer(values.baseAddress)?.assumingMemoryBound(to: T.self)
        return try body(UnsafeBufferPointer(start: same, count: values.count))
    }
    return try T.scratch.withArray(count: values.count) { (rounded) throws(ModelError) -> R in
        try rounded.withUnsafeMutableBufferPointer { (buffer) throws(ModelError) -> R in
            if let doubles = values as? UnsafeBufferPointer<Double>, let floats = buffer as? UnsafeMutableBufferPointer<Float> {
                DenseKernels.round(doubles, into: floats)
            } else {
                for index in 0..<values.count { buffer[index] = T(values[index]) }
            }
            return try body(UnsafeBufferPointer(buffer))
        }
    }
}

/// The networks (VAE, triplet embedding): float32 blocks compute in Float with the parameters rounded to Float,
/// which the engine may do once for all the blocks it computes together (`Model.roundsParametersForFloat32Blocks`).
/// Both `blockSums` entry points of `Model` lead to `networkBlockSums`, `rounded` nil when the block rounds itself.
protocol FloatComputingNetwork: Model {
    /// Writes the loss sum of `block` into `loss` and its gradient sums into `gradient`.
    func networkBlockSums(
        _ block: Block, parameters: UnsafeBufferPointer<Double>, rounded: UnsafeBufferPointer<Float>?,
        context: RoundContext, loss: UnsafeMutablePointer<Double>, gradient: GradientDestination
    ) throws(ModelError)
}

extension FloatComputingNetwork {
    public var roundsParametersForFloat32Blocks: Bool { true }

    /// A float32 block's gradient is computed in Float.
    public func writesFloatGradient(of block: Block) -> Bool { block.precision == .float32 }

    public func blockSums(
        _ block: Block, parameters: UnsafeBufferPointer<Double>, context: RoundContext,
        into output: UnsafeMutableBufferPointer<Double>
    ) throws(ModelError) {
        try blockSums(block, parameters: parameters, rounded: nil, context: context, into: output)
    }

    public func blockSums(
        _ block: Block, parameters: UnsafeBufferPointer<Double>, rounded: UnsafeBufferPointer<Float>,
        context: RoundContext, into output: UnsafeMutableBufferPointer<Double>
    ) throws(ModelError) {
        try blockSums(block, parameters: parameters, rounded: Optional(rounded), context: context, into: output)
    }

    public func blockSums(
        _ block: Block, parameters: UnsafeBufferPointer<Double>, rounded: UnsafeBufferPointer<Float>,
        context: RoundContext, into output: FloatGradientSums
    ) throws(ModelError) {
        try checkSumsWidth(output.gradient.count + 1)
        guard writesFloatGradient(of: block) else {
            throw .dimension("\(spec.kind): block \(block.id) holds \(block.precision) values; its gradient is not computed in Float")
        }
        try networkBlockSums(
            block, parameters: parameters, rounded: rounded, context: context, loss: output.loss,
            gradient: .floats(output.gradient))
    }

    private func blockSums(
        _ block: Block, parameters: UnsafeBufferPointer<Double>, rounded: UnsafeBufferPointer<Float>?,
        context: RoundContext, into output: UnsafeMutableBufferPointer<Double>
    ) throws(ModelError) {
        try checkSumsWidth(output.count)
        try networkBlockSums(
            block, parameters: parameters, rounded: rounded, context: context, loss: output.baseAddress!,
            gradient: .doubles(UnsafeMutableBufferPointer(rebasing: output[1...])))
    }

    private func checkSumsWidth(_ width: Int) throws(ModelError) {
        guard width == sumsWidth else {
            throw .dimension("\(spec.kind): the sums buffer holds \(width) values, expected \(sumsWidth)")
        }
    }
}

/// Where a network writes a block's gradient sums (`layout.count` values): Doubles, or Floats as a float32 block
/// computes them (`FloatGradientSums`).
enum GradientDestination {
    case doubles(UnsafeMutableBufferPointer<Double>)
    case floats(UnsafeMutableBufferPointer<Float>)
}

/// `parameters` as `T`: `rounded` (the same values rounded to Float once by the engine) when `T` is `Float`
/// and it is given, else as `withConverted` makes them.
func withParameters<T: NetworkScalar, R>(
    _ parameters: UnsafeBufferPointer<Double>, rounded: UnsafeBufferPointer<Float>?, as type: T.Type,
    _ body: (UnsafeBufferPointer<T>) throws(ModelError) -> R
) throws(ModelError) -> R {
    if T.self == Float.self, let rounded, rounded.count == parameters.count {
        let same = UnsafeRawPointer(rounded.baseAddress)?.assumingMemoryBound(to: T.self)
        return try body(UnsafeBufferPointer(start: same, count: rounded.count))
    }
    return try withConverted(parameters, as: type, body)
}

/// Runs `body` on a `T` gradient buffer and leaves its values in `destination`: written there directly when it
/// holds `T` (Doubles for Double; Floats for Float), else widened from a scratch buffer into its Doubles. `body`
/// must write every value: the buffer starts with unspecified contents.
func withGradient<T: NetworkScalar, R>(
    into destination: GradientDestination, as _: T.Type,
    _ body: (UnsafeMutableBufferPointer<T>) throws(ModelError) -> R
) throws(ModelError) -> R {
    switch destination {
    case .floats(let floats):
        guard T.self == Float.self else {
            throw .dimension("a gradient computed in \(T.self) cannot be written as Float values")
        }
        let same = UnsafeMutableRawPointer(floats.baseAddress)?.assumingMemoryBound(to: T.self)
        return try body(UnsafeMutableBufferPointer(start: same, count: floats.count))
    case .doubles(let output):
        if T.self == Double.self {
            let same = UnsafeMutableRawPointer(output.baseAddress)?.assumingMemoryBound(to: T.self)
            return try body(UnsafeMutableBufferPointer(start: same, count: output.count))
        }
        return try T.scratch.withArray(count: output.count) { (gradient) throws(ModelError) -> R in
            try gradient.withUnsafeMutableBufferPointer { (buffer) throws(ModelError) -> R in
                let result = try body(buffer)
                if let floats = buffer as? UnsafeMutableBufferPointer<Float> {
                    DenseKernels.widen(UnsafeBufferPointer(floats), into: output)
                } else {
                    for index in output.indices { output[index] = Double(buffer[index]) }
                }
                return result
            }
        }
    }
}

/// The block's labels read as class indices `0..<classCount`; anything else is a typed error.
func classLabels(of block: Block, classCount: Int) throws(ModelError) -> [Int] {
    func convert<T: BinaryFloatingPoint>(_ labels: UnsafeBufferPointer<T>) throws(ModelError) -> [Int] {
        var classes = [Int](repeating: 0, count: labels.count)
        for (row, label) in labels.enumerated() {
            guard label.isFinite, label.rounded() == label, label >= 0, label < T(classCount) else {
                throw .dimension(
                    "block \(block.id), row \(row): label \(label) is not a class index in 0..<\(classCount)")
            }
            classes[row] = Int(label)
        }
        return classes
    }
    return try block.withValues { (values) throws(ModelError) -> [Int] in
        switch values {
        case .float32(_, let labels): try convert(labels)
        case .float64(_, let labels): try convert(labels)
        }
    }
}

/// A parameter tensor's slice of the flat vector.
extension UnsafeBufferPointer {
    func slice(_ tensor: ParameterTensor) -> UnsafeBufferPointer<Element> {
        UnsafeBufferPointer(rebasing: self[tensor.range])
    }
}

extension UnsafeMutableBufferPointer {
    func slice(_ tensor: ParameterTensor) -> UnsafeMutableBufferPointer<Element> {
        UnsafeMutableBufferPointer(rebasing: self[tensor.range])
    }
}
