#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import ShardLosses
import ShardNumerics

/// An embedding network trained with the squared-distance triplet loss (FaceNet) or the contrastive loss.
///
/// ```
/// linear:  e(x) = tanh(x·W)                          W (D, E), no bias
/// mlp:     e(x) = tanh(relu(x·W1 + b1)·W2)           W1 (D, H), b1 (H), W2 (H, E)
/// triplet loss:      max(0, ‖e_a − e_p‖² − ‖e_a − e_n‖² + margin)                   (TripletLoss, squared)
/// contrastive loss:  y ‖e_1 − e_2‖² + (1 − y) max(0, margin − ‖e_1 − e_2‖)²        (ContrastiveEmbeddingLoss)
/// L2 on W (linear) or on W1 and W2 (mlp); never on b1
/// ```
/// Parameters in layout order `W` or `W1, b1, W2`, each matrix `(in, out)` row-major (Tests/Reference
/// README, `triplet_linear`, `triplet_mlp`).
///
/// **Reduction in training.** `blockSums` forms one triplet (or one pair) per anchor row inside the block
/// (see `PairMining`) and returns the sum over the formed triplets. The engine divides by the number of
/// training rows N, so the objective is
///
/// ```
/// F(θ) = (1/N) Σ_{formed triplets t} loss_t(θ) + (l2/2) ‖W‖²
/// ```
/// Anchors that form no triplet (no classmate or no other class in their block) add 0; with blocks that
/// hold every class, every row forms one triplet and F is the plain mean.
///
/// **Accuracy.** The model is not a classifier: `correctPredictions` returns 0 (retrieval metrics use
/// `embeddings(of:parameters:)`).
public struct TripletEmbedding: Model {
    public let featureCount: Int
    public let embeddingDimension: Int
    /// Width of the hidden ReLU layer; nil for the linear variant.
    public let hiddenUnits: Int?
    public let margin: Double
    public let l2: Double
    public let classCount: Int
    public let pairObjective: PairObjective
    public let layout: ParameterLayout

    /// Checks every hyper-parameter (`ModelError.invalidSpec` with the offending value).
    public init(
        featureCount: Int, embeddingDimension: Int, hiddenUnits: Int?, margin: Double, l2: Double,
        classCount: Int, pairObjective: PairObjective
    ) throws(ModelError) {
        try validateNetworkShape(
            model: "triplet", featureCount: featureCount, outputName: "embedding dimension",
            outputDimension: embeddingDimension, hiddenUnits: hiddenUnits)
        guard margin.isFinite, margin > 0 else { throw .invalidSpec("triplet: margin \(margin) must be finite and > 0") }
        guard l2.isFinite, l2 >= 0 else { throw .invalidSpec("triplet: l2 = \(l2) must be finite and non-negative") }
        guard classCount >= 2 else {
            throw .invalidSpec("triplet: classCount \(classCount) must be at least 2 (negatives need another class)")
        }
        self.featureCount = featureCount
        self.embeddingDimension = embeddingDimension
        self.hiddenUnits = hiddenUnits
        self.margin = margin
        self.l2 = l2
        self.classCount = classCount
        self.pairObjective = pairObjective
        if let hiddenUnits {
            layout = ParameterLayout([
                ("W1", [featureCount, hiddenUnits], true), ("b1", [hiddenUnits], false),
                ("W2", [hiddenUnits, embeddingDimension], true),
            ])
        } else {
            layout = ParameterLayout([("W", [featureCount, embeddingDimension], true)])
        }
    }

    public var spec: ModelSpec {
        ModelSpec(
            kind: .triplet, featureCount: featureCount, l2: l2, classCount: classCount, margin: margin,
            hiddenUnits: hiddenUnits, outputDimension: embeddingDimension, pairObjective: pairObjective)
    }

    /// Glorot-uniform weights, zero bias (see `Initialization.glorotUniform`).
    public func initialParameters() -> [Double] { Initialization.glorotUniform(layout) }

    // MARK: - Explicit triplets (the reference cases)

    /// Loss sums and exact gradient on given triplets.
    public struct TripletEvaluation: Sendable, Equatable {
        /// `Σ_t loss_t` over the triplets.
        public var lossSum: Double
        /// `Σ_t ∂loss_t/∂θ`, in layout order (use `Model.objective(sums:…)` with `[lossSum] + gradient`).
        public var gradient: [Double]
        /// `loss_t` per triplet.
        public var perSample: [Double]
        /// Embeddings (N, E) row-major of the anchors, positives and negatives.
        public var anchorEmbeddings: [Double]
        public var positiveEmbeddings: [Double]
        public var negativeEmbeddings: [Double]
    }

    /// Evaluates the triplet loss on explicit rows: triplet i is (anchor row i, positive row i, negative row i),
    /// each input `(rows, D)` row-major.
    public func tripletSums(
        anchors: [Double], positives: [Double], negatives: [Double], rows: Int, parameters: [Double]
    ) throws(ModelError) -> TripletEvaluation {
        guard rows >= 0, anchors.count == rows * featureCount, positives.count == anchors.count,
            negatives.count == anchors.count
        else {
            throw .dimension(
                "triplet: \(rows) triplets of \(featureCount) features need \(max(rows, 0) * featureCount) values "
                    + "per input, got \(anchors.count), \(positives.count), \(negatives.count)")
        }
        try checkParameterCount(parameters.count)
        let stacked = anchors + positives + negatives
        let triplets = (0..<rows).map { TripletIndices(anchor: $0, positive: rows + $0, negative: 2 * rows + $0) }
        var gradient = [Double](repeating: 0, count: layout.count)
        let result = try stacked.withUnsafeBufferPointer { (inputs) throws(ModelError) -> LossPass in
            try parameters.withUnsafeBufferPointer { (weights) throws(ModelError) -> LossPass in
                try gradient.withUnsafeMutableBufferPointer { (output) throws(ModelError) -> LossPass in
                    try lossPass(
                        inputs: inputs, rows: 3 * rows, parameters: weights, gradient: output,
                        select: { _ in .triplets(triplets) })
                }
            }
        }
        let width = rows * embeddingDimension
        return TripletEvaluation(
            lossSum: result.lossSum, gradient: gradient, perSample: result.perSample,
            anchorEmbeddings: Array(result.embeddings[0..<width]),
            positiveEmbeddings: Array(result.embeddings[width..<(2 * width)]),
            negativeEmbeddings: Array(result.embeddings[(2 * width)..<(3 * width)]))
    }

    // MARK: - Training on blocks

    public func blockSums(
        _ block: Block, parameters: UnsafeBufferPointer<Double>, context: RoundContext,
        into output: UnsafeMutableBufferPointer<Double>
    ) throws(ModelError) {
        try checkBlock(block)
        try checkParameterCount(parameters.count)
        guard output.count == sumsWidth else {
            throw .dimension("triplet: the sums buffer holds \(output.count) values, expected \(sumsWidth)")
        }
        let classes = try classLabels(of: block, classCount: classCount)
        let groups = ClassGroups(classes: classes, classCount: classCount)
        let pass = try withDoubleFeatures(of: block) { (inputs) throws(ModelError) -> LossPass in
            try lossPass(
                inputs: inputs, rows: block.rows, parameters: parameters,
                gradient: UnsafeMutableBufferPointer(rebasing: output[1...]),
                select: { embeddings in
                    selection(
                        classes: classes, groups: groups, embeddings: embeddings, context: context, blockID: block.id)
                })
        }
        output[0] = pass.lossSum
    }

    /// The triplets `blockSums` forms for `block` at `parameters` in `context` (row indices of the block).
    /// Empty for the contrastive objective.
    public func minedTriplets(_ block: Block, parameters: [Double], context: RoundContext) throws(ModelError)
        -> [TripletIndices]
    {
        if case .triplets(let triplets) = try minedSelection(block, parameters: parameters, context: context) {
            return triplets
        }
        return []
    }

    /// The pairs `blockSums` forms with the contrastive objective (empty for the triplet objectives).
    public func minedPairs(_ block: Block, parameters: [Double], context: RoundContext) throws(ModelError)
        -> [PairIndices]
    {
        if case .pairs(let pairs) = try minedSelection(block, parameters: parameters, context: context) {
            return pairs
        }
        return []
    }

    /// The embeddings `(rows, E)` row-major of every row of `block`.
    public func embeddings(of block: Block, parameters: [Double]) throws(ModelError) -> [Double] {
        try checkBlock(block)
        try checkParameterCount(parameters.count)
        var embeddings = [Double](repeating: 0, count: block.rows * embeddingDimension)
        var hidden = [Double](repeating: 0, count: block.rows * (hiddenUnits ?? 0))
        try withDoubleFeatures(of: block) { (inputs) throws(ModelError) in
            parameters.withUnsafeBufferPointer { weights in
                forward(inputs: inputs, rows: block.rows, parameters: weights, hidden: &hidden, embeddings: &embeddings)
            }
        }
        return embeddings
    }

    /// Always 0: the embedding model does not predict classes.
    public func correctPredictions(_ block: Block, parameters: [Double]) throws(ModelError) -> Int {
        try checkBlock(block)
        try checkParameterCount(parameters.count)
        return 0
    }

    // MARK: - Internals

    enum Selection {
        case triplets([TripletIndices])
        case pairs([PairIndices])
    }

    struct LossPass {
        var lossSum: Double
        var perSample: [Double]
        var embeddings: [Double]
    }

    private func minedSelection(_ block: Block, parameters: [Double], context: RoundContext) throws(ModelError)
        -> Selection
    {
        let classes = try classLabels(of: block, classCount: classCount)
        let groups = ClassGroups(classes: classes, classCount: classCount)
        let embeddings = try embeddings(of: block, parameters: parameters)
        return embeddings.withUnsafeBufferPointer { buffer in
            selection(classes: classes, groups: groups, embeddings: buffer, context: context, blockID: block.id)
        }
    }

    private func selection(
        classes: [Int], groups: ClassGroups, embeddings: UnsafeBufferPointer<Double>, context: RoundContext,
        blockID: Int
    ) -> Selection {
        switch pairObjective {
        case .tripletRandom, .tripletSemiHard:
            return .triplets(
                PairMining.triplets(
                    classes: classes, groups: groups, embeddings: embeddings, dimension: embeddingDimension,
                    semiHardMargin: pairObjective == .tripletSemiHard ? margin : nil, context: context,
                    blockID: blockID))
        case .contrastive:
            return .pairs(PairMining.pairs(classes: classes, groups: groups, context: context, blockID: blockID))
        }
    }

    /// Embeds `rows` inputs, lets `select` pick triplets or pairs on the embeddings, evaluates the loss
    /// (sum reduction) and back-propagates:
    ///
    /// ```
    /// ∂L/∂e_r  = Σ over the triplets/pairs that use row r of the loss gradient at that slot
    /// ∂L/∂u    = ∂L/∂e ⊙ (1 − e²)                  u = pre-tanh output
    /// linear:  ∂W  = Xᵀ ∂L/∂u
    /// mlp:     ∂W2 = Hᵀ ∂L/∂u,  ∂H = ∂L/∂u W2ᵀ ⊙ [H > 0],  ∂W1 = Xᵀ ∂H,  ∂b1 = Σ_rows ∂H
    /// ```
    /// `gradient` (layout.count values) is overwritten with the gradient sums.
    private func lossPass(
        inputs: UnsafeBufferPointer<Double>, rows: Int, parameters: UnsafeBufferPointer<Double>,
        gradient: UnsafeMutableBufferPointer<Double>,
        select: (UnsafeBufferPointer<Double>) throws(ModelError) -> Selection
    ) throws(ModelError) -> LossPass {
        let dimension = embeddingDimension
        var embeddings = [Double](repeating: 0, count: rows * dimension)
        var hidden = [Double](repeating: 0, count: rows * (hiddenUnits ?? 0))
        forward(inputs: inputs, rows: rows, parameters: parameters, hidden: &hidden, embeddings: &embeddings)
        let chosen = try embeddings.withUnsafeBufferPointer { (buffer) throws(ModelError) -> Selection in
            try select(buffer)
        }
        var embeddingGradient = [Double](repeating: 0, count: rows * dimension)
        func gather(_ rowIndices: [Int]) throws(LossError) -> Matrix<Double> {
            var values = [Double](repeating: 0, count: rowIndices.count * dimension)
            for (slot, row) in rowIndices.enumerated() {
                for column in 0..<dimension { values[slot * dimension + column] = embeddings[row * dimension + column] }
            }
            return try Matrix(rows: rowIndices.count, columns: dimension, values: values)
        }
        func scatter(_ rowIndices: [Int], _ slotGradients: [Double]) {
            for (slot, row) in rowIndices.enumerated() {
                for column in 0..<dimension {
                    embeddingGradient[row * dimension + column] += slotGradients[slot * dimension + column]
                }
            }
        }
        let lossSum: Double
        let perSample: [Double]
        do throws(LossError) {
            switch chosen {
            case .triplets(let triplets):
                let anchors = triplets.map(\.anchor)
                let positives = triplets.map(\.positive)
                let negatives = triplets.map(\.negative)
                let loss = try TripletLoss(margin: margin, distance: .squaredEuclidean)
                let result = try loss.evaluate(
                    anchor: gather(anchors), positive: gather(positives), negative: gather(negatives),
                    reduction: .sum)
                scatter(anchors, result.gradientAnchor)
                scatter(positives, result.gradientPositive)
                scatter(negatives, result.gradientNegative)
                (lossSum, perSample) = (result.value, result.perSample)
            case .pairs(let pairs):
                let firsts = pairs.map(\.first)
                let seconds = pairs.map(\.second)
                let loss = try ContrastiveEmbeddingLoss(margin: margin)
                let result = try loss.evaluate(
                    similarity: pairs.map { $0.similar ? 1.0 : 0.0 }, first: gather(firsts), second: gather(seconds),
                    reduction: .sum)
                scatter(firsts, result.gradientFirst)
                scatter(seconds, result.gradientSecond)
                (lossSum, perSample) = (result.value, result.perSample)
            }
        } catch {
            throw .dimension("triplet: \(error.description)")
        }
        backward(
            inputs: inputs, rows: rows, parameters: parameters, hidden: hidden, embeddings: embeddings,
            embeddingGradient: &embeddingGradient, gradient: gradient)
        return LossPass(lossSum: lossSum, perSample: perSample, embeddings: embeddings)
    }

    private func forward(
        inputs: UnsafeBufferPointer<Double>, rows: Int, parameters: UnsafeBufferPointer<Double>,
        hidden: inout [Double], embeddings: inout [Double]
    ) {
        let tensors = layout.tensors
        embeddings.withUnsafeMutableBufferPointer { output in
            if let hiddenUnits {
                hidden.withUnsafeMutableBufferPointer { hiddenBuffer in
                    DenseLayer.forward(
                        inputs, rows: rows, inputWidth: featureCount, weights: parameters.slice(tensors[0]),
                        bias: parameters.slice(tensors[1]), into: hiddenBuffer, outputWidth: hiddenUnits)
                    DenseLayer.relu(hiddenBuffer)
                    DenseLayer.forward(
                        UnsafeBufferPointer(hiddenBuffer), rows: rows, inputWidth: hiddenUnits,
                        weights: parameters.slice(tensors[2]), bias: nil, into: output, outputWidth: embeddingDimension)
                }
            } else {
                DenseLayer.forward(
                    inputs, rows: rows, inputWidth: featureCount, weights: parameters.slice(tensors[0]), bias: nil,
                    into: output, outputWidth: embeddingDimension)
            }
            for index in output.indices { output[index] = tanh(output[index]) }
        }
    }

    private func backward(
        inputs: UnsafeBufferPointer<Double>, rows: Int, parameters: UnsafeBufferPointer<Double>, hidden: [Double],
        embeddings: [Double], embeddingGradient: inout [Double], gradient: UnsafeMutableBufferPointer<Double>
    ) {
        for index in gradient.indices { gradient[index] = 0 }
        for index in embeddingGradient.indices {
            embeddingGradient[index] *= 1 - embeddings[index] * embeddings[index]
        }
        let tensors = layout.tensors
        embeddingGradient.withUnsafeBufferPointer { outputGradient in
            if let hiddenUnits {
                var hiddenGradient = [Double](repeating: 0, count: rows * hiddenUnits)
                hidden.withUnsafeBufferPointer { hiddenBuffer in
                    hiddenGradient.withUnsafeMutableBufferPointer { hiddenGradientBuffer in
                        DenseLayer.backward(
                            hiddenBuffer, rows: rows, inputWidth: hiddenUnits, weights: parameters.slice(tensors[2]),
                            outputGradient: outputGradient, outputWidth: embeddingDimension,
                            weightGradient: gradient.slice(tensors[2]), biasGradient: nil,
                            inputGradient: hiddenGradientBuffer)
                        DenseLayer.reluBackward(activation: hiddenBuffer, gradient: hiddenGradientBuffer)
                        DenseLayer.backward(
                            inputs, rows: rows, inputWidth: featureCount, weights: parameters.slice(tensors[0]),
                            outputGradient: UnsafeBufferPointer(hiddenGradientBuffer), outputWidth: hiddenUnits,
                            weightGradient: gradient.slice(tensors[0]), biasGradient: gradient.slice(tensors[1]),
                            inputGradient: nil)
                    }
                }
            } else {
                DenseLayer.backward(
                    inputs, rows: rows, inputWidth: featureCount, weights: parameters.slice(tensors[0]),
                    outputGradient: outputGradient, outputWidth: embeddingDimension,
                    weightGradient: gradient.slice(tensors[0]), biasGradient: nil, inputGradient: nil)
            }
        }
    }

    private func checkBlock(_ block: Block) throws(ModelError) {
        guard block.columns == featureCount else {
            throw .dimension("block \(block.id) has \(block.columns) columns, the triplet model expects \(featureCount)")
        }
    }

    private func checkParameterCount(_ count: Int) throws(ModelError) {
        guard count == layout.count else {
            throw .dimension("triplet model needs \(layout.count) parameters, got \(count)")
        }
    }
}
