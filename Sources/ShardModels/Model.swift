import ShardNumerics

/// A trainable model: parameters are one flat `[Double]` vector described by a `ParameterLayout`.
///
/// Workers call `blockSums` on their blocks; the engine adds the sums of all blocks in a fixed tree order
/// and the coordinator turns them into the objective
///
///     F(θ) = (1/N) Σ_i loss_i(θ) + (l2/2) Σ_{regularised θ_k} θ_k²
///     ∇F   = (1/N) Σ_i ∇loss_i(θ) + l2 · θ ⊙ mask
///
/// where N is the number of training rows and `mask` selects the weight tensors (biases are never
/// regularised).
public protocol Model: Sendable {
    /// What a worker needs to rebuild this model (sent in the job spec).
    var spec: ModelSpec { get }
    /// The tensors that make up the flat parameter vector, in order.
    var layout: ParameterLayout { get }
    /// The starting point of training.
    func initialParameters() -> [Double]
    /// Writes the data-loss sums of one block into `output` (`layout.count + 1` values):
    ///
    ///     output[0]      = Σ_{rows i of the block} loss_i(θ)
    ///     output[1 + k]  = Σ_i ∂loss_i/∂θ_k
    ///
    /// Any randomness (sampling, noise) must come from a counter-based generator keyed by
    /// `(context.seed, context.round, block.id, row)`, so the sums do not depend on who computes the block.
    func blockSums(
        _ block: Block, parameters: UnsafeBufferPointer<Double>, context: RoundContext,
        into output: UnsafeMutableBufferPointer<Double>
    ) throws(ModelError)
    /// Whether `blockSums` computes a float32 block with the parameters rounded to `Float` (the networks):
    /// the engine then rounds them once for all the blocks it computes together and calls
    /// `blockSums(_:parameters:rounded:context:into:)`, which must give the same bits as `blockSums`.
    var roundsParametersForFloat32Blocks: Bool { get }
    /// `blockSums` with `rounded[k] = Float(parameters[k])` already made (default: `blockSums`).
    func blockSums(
        _ block: Block, parameters: UnsafeBufferPointer<Double>, rounded: UnsafeBufferPointer<Float>,
        context: RoundContext, into output: UnsafeMutableBufferPointer<Double>
    ) throws(ModelError)
    /// Whether the model computes `block`'s gradient in Float and can hand it over as it is
    /// (`blockSums(_:parameters:rounded:context:into: FloatGradientSums)`), so that the engine need not widen it
    /// (default: false).
    func writesFloatGradient(of block: Block) -> Bool
    /// `blockSums(_:parameters:rounded:context:into:)` with the gradient left in Float, for a block for which
    /// `writesFloatGradient(of:)` is true: widening `output`'s entries gives the same bits.
    func blockSums(
        _ block: Block, parameters: UnsafeBufferPointer<Double>, rounded: UnsafeBufferPointer<Float>,
        context: RoundContext, into output: FloatGradientSums
    ) throws(ModelError)
}

extension Model {
    public var parameterCount: Int { layout.count }

    public var roundsParametersForFloat32Blocks: Bool { false }

    public func writesFloatGradient(of block: Block) -> Bool { false }

    public func blockSums(
        _ block: Block, parameters: UnsafeBufferPointer<Double>, rounded: UnsafeBufferPointer<Float>,
        context: RoundContext, into output: FloatGradientSums
    ) throws(ModelError) {
        throw .dimension("\(spec.kind) computes block \(block.id)'s gradient in Double, not in Float")
    }

    public func blockSums(
        _ block: Block, parameters: UnsafeBufferPointer<Double>, rounded: UnsafeBufferPointer<Float>,
        context: RoundContext, into output: UnsafeMutableBufferPointer<Double>
    ) throws(ModelError) {
        try blockSums(block, parameters: parameters, context: context, into: output)
    }

    /// The index ranges of the tensors in the L2 term, in layout order.
    public var regularizedRanges: [Range<Int>] { layout.tensors.filter(\.regularized).map(\.range) }

    /// Width of a block's sums vector: the loss sum followed by the gradient.
    public var sumsWidth: Int { layout.count + 1 }

    /// Turns reduced block sums into the objective, its parts and its gradient (see `Model`).
    /// `regularizedSquares`, when a pass over the parameters summed it already, must be
    /// `VectorPasses.sumOfSquares(parameters, over: regularizedRanges)`.
    public func objective(sums: [Double], rowCount: Int, parameters: [Double], regularizedSquares: Double? = nil)
        throws(ModelError) -> Objective
    {
        let pending = try pendingObjective(
            sums: .array(sums), rowCount: rowCount, parameters: parameters, regularizedSquares: regularizedSquares)
        // Element-wise on every core (`VectorPasses`); ‖∇F‖² summed chunk by chunk as each is written.
        let (gradient, squaredNorm) = pending.gradient.gradient(threads: 0)
        return pending.objective(gradient: gradient, squaredGradientNorm: squaredNorm)
    }

    /// `objective(sums:rowCount:parameters:regularizedSquares:)` with its gradient not yet written: the value and
    /// its parts, and the gradient's pieces for a pass that writes them where it needs them (an optimizer's update).
    public func pendingObjective(
        sums: ReducedSums, rowCount: Int, parameters: [Double], regularizedSquares: Double? = nil
    ) throws(ModelError) -> PendingObjective {
        guard sums.count == sumsWidth, parameters.count == parameterCount else {
            throw ModelError.dimension(
                "objective: expected \(sumsWidth) sums and \(parameterCount) parameters, "
                    + "got \(sums.count) and \(parameters.count)")
        }
        guard rowCount > 0 else { throw ModelError.dimension("objective: no training rows") }
        let scale = 1.0 / Double(rowCount)
        let dataLoss = sums.value(at: 0) * scale
        let l2 = spec.l2
        let regularized = regularizedRanges
        // Tensor by tensor in layout order, each tensor's squares in `VectorPasses.sumOfSquares` order.
        let squares =
            regularizedSquares
            ?? parameters.withUnsafeBufferPointer { VectorPasses.sumOfSquares($0, over: regularized, threads: 0) }
        let l2Term = 0.5 * l2 * squares
        return PendingObjective(
            value: dataLoss + l2Term, dataLoss: dataLoss, l2Term: l2Term,
            gradient: ObjectiveGradient(
                sums: sums, parameters: parameters, scale: scale, l2: l2, regularized: regularized))
    }
}

/// The objective's value and parts, its gradient still to be written (`Model.pendingObjective`).
public struct PendingObjective: Sendable {
    public let value: Double
    public let dataLoss: Double
    public let l2Term: Double
    public let gradient: ObjectiveGradient

    /// The objective once `gradient` has been written (`squaredGradientNorm`: ‖g‖² when the pass that wrote it
    /// summed it, see `Objective.init`).
    public func objective(gradient: [Double], squaredGradientNorm: Double? = nil) -> Objective {
        Objective(
            value: value, dataLoss: dataLoss, l2Term: l2Term, gradient: gradient,
            squaredGradientNorm: squaredGradientNorm)
    }
}

/// What one round computes: the point comes separately; this says under which settings.
public struct RoundRequest: Sendable, Equatable, Codable {
    /// The round number (1, 2, …): it keys the models' random numbers.
    public var round: Int
    /// Smoothing μ ≥ 0 of non-smooth losses (hinge, pinball, absolute error) during a continuation solve;
    /// 0 = the exact loss. Models with smooth losses ignore it.
    public var smoothing: Double
    /// The mini-batch step of the batch schedule, or nil for all blocks.
    public var batchStep: Int?

    public init(round: Int, smoothing: Double = 0, batchStep: Int? = nil) {
        self.round = round
        self.smoothing = smoothing
        self.batchStep = batchStep
    }
}

/// Where a block's computation sits in training: the round's settings and the run's seed, the key of every
/// random number a model draws (with the block id and row).
public struct RoundContext: Sendable, Equatable, Codable {
    /// The run's seed (`--seed`).
    public var seed: UInt64
    public var request: RoundRequest

    public init(seed: UInt64, request: RoundRequest) {
        self.seed = seed
        self.request = request
    }

    /// A full-batch round `round` with smoothing μ.
    public init(seed: UInt64, round: Int, smoothing: Double = 0) {
        self.init(seed: seed, request: RoundRequest(round: round, smoothing: smoothing))
    }

    /// The round (objective evaluation) number, from 1.
    public var round: Int { request.round }
    /// See `RoundRequest.smoothing`.
    public var smoothing: Double { request.smoothing }
}

/// The objective at one point: `value = dataLoss + l2Term`, and `gradient = ∇value`.
public struct Objective: Sendable, Equatable {
    public var value: Double
    public var dataLoss: Double
    public var l2Term: Double
    public var gradient: [Double] {
        didSet { squaredGradientNorm = nil }
    }

    /// `squaredGradientNorm`, when the caller summed it already, is Σ gradient[k]² added in an order fixed by the
    /// vector's length and the model's layout alone: `VectorPasses.sumOfSquares(gradient)`, or Adam's pieces.
    public init(value: Double, dataLoss: Double, l2Term: Double, gradient: [Double], squaredGradientNorm: Double? = nil) {
        self.value = value
        self.dataLoss = dataLoss
        self.l2Term = l2Term
        self.gradient = gradient
        self.squaredGradientNorm = squaredGradientNorm
    }

    /// ‖gradient‖² when known (a cache of `gradientNorm`'s sum, not part of the value).
    private var squaredGradientNorm: Double?

    /// Euclidean norm of the gradient (squares added as `squaredGradientNorm` was, else in
    /// `VectorPasses.sumOfSquares` order).
    public var gradientNorm: Double {
        (squaredGradientNorm ?? gradient.withUnsafeBufferPointer { VectorPasses.sumOfSquares($0, threads: 0) })
            .squareRoot()
    }

    public static func == (left: Objective, right: Objective) -> Bool {
        (left.value, left.dataLoss, left.l2Term, left.gradient) == (right.value, right.dataLoss, right.l2Term, right.gradient)
    }
}

/// One named tensor inside the flat parameter vector.
public struct ParameterTensor: Sendable, Equatable, Codable {
    public let name: String
    /// Row-major shape; `[]` is a scalar.
    public let shape: [Int]
    /// Whether the tensor enters the L2 term.
    public let regularized: Bool
    /// Where the tensor sits in the flat vector.
    public let range: Range<Int>

    public var count: Int { range.count }
}

/// The tensors of a model, laid out back to back in the flat parameter vector.
public struct ParameterLayout: Sendable, Equatable, Codable {
    public private(set) var tensors: [ParameterTensor] = []

    public init(_ entries: [(name: String, shape: [Int], regularized: Bool)]) {
        var offset = 0
        for entry in entries {
            let count = entry.shape.reduce(1, *)
            tensors.append(
                ParameterTensor(
                    name: entry.name, shape: entry.shape, regularized: entry.regularized,
                    range: offset..<(offset + count)))
            offset += count
        }
    }

    /// Total number of parameters.
    public var count: Int { tensors.last?.range.upperBound ?? 0 }

    public func tensor(named name: String) -> ParameterTensor? { tensors.first { $0.name == name } }
}

/// A model that cannot work on the given input.
public enum ModelError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Sizes that do not fit together (block columns vs features, buffer lengths).
    case dimension(String)
    /// A spec a worker cannot build (unknown kind, invalid hyper-parameter).
    case invalidSpec(String)
    /// A label the model's loss cannot use, with the block and row it sits in and what the model expects.
    case invalidLabel(block: Int, row: Int, label: Double, requirement: String)

    public var description: String {
        switch self {
        case .dimension(let message): "dimension mismatch: \(message)"
        case .invalidSpec(let message): "invalid model spec: \(message)"
        case .invalidLabel(let block, let row, let label, let requirement):
            "block \(block), row \(row): label \(label) is invalid; \(requirement)"
        }
    }
}
