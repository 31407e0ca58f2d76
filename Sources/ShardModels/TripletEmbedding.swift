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
/// **Precision.** Float64 blocks compute in Double (dgemm, `DenseKernels.tanh`: within 3 ulp of libm), float32
/// blocks in Float (sgemm, `Activation.tanh`, Float losses and mining distances), as the VAE does.
///
/// **Accuracy.** The model is not a classifier: retrieval metrics use `embeddings(of:parameters:)`.
public struct TripletEmbedding: Model, FloatComputingNetwork {
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
            featureCount: featureCount, l2: l2,
            .triplet(
                TripletSettings(
                    classCount: classCount, embeddingDimension: embeddingDimension, hiddenUnits: hiddenUnits,
                    margin: margin, pairObjective: pairObjective)))
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
    ///
    /// `precision` `.float64` computes in Double (the path of float64 blocks); `.float32` rounds inputs and
    /// parameters to Float and computes in Float, as `blockSums` does for float32 blocks (results widened back).
    public func tripletSums(
        anchors: [Double], positives: [Double], negatives: [Double], rows: Int, parameters: [Double],
        precision: Precision = .float64
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
        switch precision {
        case .float64: return try tripletSums(Double.self, stacked: stacked, rows: rows, parameters: parameters)
        case .float32: return try tripletSums(Float.self, stacked: stacked, rows: rows, parameters: parameters)
        }
    }

    // MARK: - Training on blocks

    /// Computed in the block's storage precision (Double for float64 blocks, Float for float32 blocks).
    func networkBlockSums(
        _ block: Block, parameters: UnsafeBufferPointer<Double>, rounded: UnsafeBufferPointer<Float>?,
        context: RoundContext, loss: UnsafeMutablePointer<Double>, gradient: GradientDestination
    ) throws(ModelError) {
        try checkBlock(block)
        try checkParameterCount(parameters.count)
        switch block.precision {
        case .float64:
            loss.pointee = try blockSums(
                Double.self, block, parameters: parameters, rounded: nil, context: context, gradient: gradient)
        case .float32:
            loss.pointee = try blockSums(
                Float.self, block, parameters: parameters, rounded: rounded, context: context, gradient: gradient)
        }
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

    /// The embeddings `(rows, E)` row-major of every row of `block` (computed in the block's storage precision).
    public func embeddings(of block: Block, parameters: [Double]) throws(ModelError) -> [Double] {
        try checkBlock(block)
        try checkParameterCount(parameters.count)
        switch block.precision {
        case .float64: return try embeddings(Double.self, of: block, parameters: parameters)
        case .float32: return try embeddings(Float.self, of: block, parameters: parameters).map { Double($0) }
        }
    }

    // MARK: - Internals

    enum Selection {
        case triplets([TripletIndices])
        case pairs([PairIndices])
    }

    /// One loss pass in precision `T`: the loss sum (widened to Double), per-sample losses and embeddings.
    struct LossPass<T: NetworkScalar> {
        var lossSum: Double
        var perSample: [T]
        var embeddings: [T]
    }

    private func tripletSums<T: NetworkScalar>(
        _ type: T.Type, stacked: [Double], rows: Int, parameters: [Double]
    ) throws(ModelError) -> TripletEvaluation {
        let triplets = (0..<rows).map { TripletIndices(anchor: $0, positive: rows + $0, negative: 2 * rows + $0) }
        var gradient = [Double](repeating: 0, count: layout.count)
        let result = try stacked.withUnsafeBufferPointer { (inputs) throws(ModelError) -> LossPass<T> in
            try withConverted(inputs, as: type) { (inputs) throws(ModelError) -> LossPass<T> in
                try parameters.withUnsafeBufferPointer { (weights) throws(ModelError) -> LossPass<T> in
                    try gradient.withUnsafeMutableBufferPointer { (output) throws(ModelError) -> LossPass<T> in
                        try lossPass(
                            inputs: inputs, rows: 3 * rows, parameters: weights, gradient: .doubles(output),
                            select: { _ in .triplets(triplets) })
                    }
                }
            }
        }
        let width = rows * embeddingDimension
        let embeddings = result.embeddings.map { Double($0) }
        return TripletEvaluation(
            lossSum: result.lossSum, gradient: gradient, perSample: result.perSample.map { Double($0) },
            anchorEmbeddings: Array(embeddings[0..<width]),
            positiveEmbeddings: Array(embeddings[width..<(2 * width)]),
            negativeEmbeddings: Array(embeddings[(2 * width)..<(3 * width)]))
    }

    private func blockSums<T: NetworkScalar>(
        _ type: T.Type, _ block: Block, parameters: UnsafeBufferPointer<Double>, rounded: UnsafeBufferPointer<Float>?,
        context: RoundContext, gradient: GradientDestination
    ) throws(ModelError) -> Double {
        let classes = try classLabels(of: block, classCount: classCount)
        let groups = ClassGroups(classes: classes, classCount: classCount)
        let pass = try withFeatures(of: block, as: type) { (inputs) throws(ModelError) -> LossPass<T> in
            try lossPass(
                inputs: inputs, rows: block.rows, parameters: parameters, rounded: rounded, gradient: gradient,
                select: { embeddings in
                    selection(
                        classes: classes, groups: groups, embeddings: embeddings, context: context, blockID: block.id)
                })
        }
        return pass.lossSum
    }

    private func embeddings<T: NetworkScalar>(_ type: T.Type, of block: Block, parameters: [Double])
        throws(ModelError) -> [T]
    {
        try withFeatures(of: block, as: type) { (inputs) throws(ModelError) -> [T] in
            try parameters.withUnsafeBufferPointer { (weights) throws(ModelError) -> [T] in
                try withConverted(weights, as: type) { (weights) throws(ModelError) -> [T] in
                    try forward(inputs: inputs, rows: block.rows, parameters: weights).embeddings
                }
            }
        }
    }

    private func minedSelection(_ block: Block, parameters: [Double], context: RoundContext) throws(ModelError)
        -> Selection
    {
        try checkBlock(block)
        try checkParameterCount(parameters.count)
        switch block.precision {
        case .float64: return try minedSelection(Double.self, block, parameters: parameters, context: context)
        case .float32: return try minedSelection(Float.self, block, parameters: parameters, context: context)
        }
    }

    private func minedSelection<T: NetworkScalar>(
        _ type: T.Type, _ block: Block, parameters: [Double], context: RoundContext
    ) throws(ModelError) -> Selection {
        let classes = try classLabels(of: block, classCount: classCount)
        let groups = ClassGroups(classes: classes, classCount: classCount)
        let embeddings = try embeddings(type, of: block, parameters: parameters)
        return embeddings.withUnsafeBufferPointer { buffer in
            selection(classes: classes, groups: groups, embeddings: buffer, context: context, blockID: block.id)
        }
    }

    private func selection<T: NetworkScalar>(
        classes: [Int], groups: ClassGroups, embeddings: UnsafeBufferPointer<T>, context: RoundContext,
        blockID: Int
    ) -> Selection {
        switch pairObjective {
        case .tripletRandom, .tripletSemiHard:
            return .triplets(
                PairMining.triplets(
                    classes: classes, groups: groups, embeddings: embeddings, dimension: embeddingDimension,
                    semiHardMargin: pairObjective == .tripletSemiHard ? T(margin) : nil, context: context,
                    blockID: blockID))
        case .contrastive:
            return .pairs(PairMining.pairs(classes: classes, groups: groups, context: context, blockID: blockID))
        }
    }

    /// Embeds `rows` inputs, lets `select` pick triplets or pairs on the embeddings, evaluates the loss
    /// (sum reduction) and back-propagates, in precision `T` (parameters rounded to `T`, gradient widened):
    ///
    /// ```
    /// ∂L/∂e_r  = Σ over the triplets/pairs that use row r of the loss gradient at that slot
    /// ∂L/∂u    = ∂L/∂e ⊙ (1 − e²)                  u = pre-tanh output
    /// linear:  ∂W  = Xᵀ ∂L/∂u
    /// mlp:     ∂W2 = Hᵀ ∂L/∂u,  ∂H = ∂L/∂u W2ᵀ ⊙ [H > 0],  ∂W1 = Xᵀ ∂H,  ∂b1 = Σ_rows ∂H
    /// ```
    /// `gradient` (layout.count values) is overwritten with the gradient sums.
    private func lossPass<T: NetworkScalar>(
        inputs: UnsafeBufferPointer<T>, rows: Int, parameters: UnsafeBufferPointer<Double>,
        rounded: UnsafeBufferPointer<Float>? = nil, gradient: GradientDestination,
        select: (UnsafeBufferPointer<T>) throws(ModelError) -> Selection
    ) throws(ModelError) -> LossPass<T> {
        try withParameters(parameters, rounded: rounded, as: T.self) { (weights) throws(ModelError) -> LossPass<T> in
            try withGradient(into: gradient, as: T.self) { (output) throws(ModelError) -> LossPass<T> in
                try lossPass(inputs: inputs, rows: rows, parameters: weights, gradient: output, select: select)
            }
        }
    }

    private func lossPass<T: NetworkScalar>(
        inputs: UnsafeBufferPointer<T>, rows: Int, parameters: UnsafeBufferPointer<T>,
        gradient: UnsafeMutableBufferPointer<T>,
        select: (UnsafeBufferPointer<T>) throws(ModelError) -> Selection
    ) throws(ModelError) -> LossPass<T> {
        let dimension = embeddingDimension
        let (hidden, embeddings) = try forward(inputs: inputs, rows: rows, parameters: parameters)
        let chosen = try embeddings.withUnsafeBufferPointer { (buffer) throws(ModelError) -> Selection in
            try select(buffer)
        }
        var embeddingGradient = [T](repeating: 0, count: rows * dimension)
        func gather(_ rowIndices: [Int]) throws(LossError) -> Matrix<T> {
            var values = [T](repeating: 0, count: rowIndices.count * dimension)
            for (slot, row) in rowIndices.enumerated() {
                for column in 0..<dimension { values[slot * dimension + column] = embeddings[row * dimension + column] }
            }
            return try Matrix(rows: rowIndices.count, columns: dimension, values: values)
        }
        func scatter(_ rowIndices: [Int], _ slotGradients: [T]) {
            for (slot, row) in rowIndices.enumerated() {
                for column in 0..<dimension {
                    embeddingGradient[row * dimension + column] += slotGradients[slot * dimension + column]
                }
            }
        }
        let lossSum: T
        let perSample: [T]
        do throws(LossError) {
            switch chosen {
            case .triplets(let triplets):
                let direct = embeddings.withUnsafeBufferPointer { rows in
                    embeddingGradient.withUnsafeMutableBufferPointer { gradient in
                        squaredTripletLoss(triplets, embeddings: rows, embeddingGradient: gradient)
                    }
                }
                if let direct {
                    (lossSum, perSample) = direct
                    break
                }
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
                    similarity: pairs.map { $0.similar ? 1 : 0 }, first: gather(firsts), second: gather(seconds),
                    reduction: .sum)
                scatter(firsts, result.gradientFirst)
                scatter(seconds, result.gradientSecond)
                (lossSum, perSample) = (result.value, result.perSample)
            }
        } catch {
            throw .dimension("triplet: \(error.description)")
        }
        try backward(
            inputs: inputs, rows: rows, parameters: parameters, hidden: hidden, embeddings: embeddings,
            embeddingGradient: &embeddingGradient, gradient: gradient)
        return LossPass(lossSum: Double(lossSum), perSample: perSample, embeddings: embeddings)
    }

    /// The squared-distance triplet loss, sum reduction, on rows of `embeddings` (rows, E) chosen by index, its
    /// gradient added into `embeddingGradient`:
    ///
    /// ```
    /// d± = Σ_c (e_a,c − e_±,c)²  (`PairMining.squaredDistance`),   loss_t = max(0, d+ − d− + margin),   Σ_t loss_t in order
    /// active t:  ∂e_a += 2(e_a − e_p) − 2(e_a − e_n),   ∂e_p += −2(e_a − e_p),   ∂e_n += 2(e_a − e_n)
    /// ```
    /// The arithmetic of `TripletLoss.evaluate` (squared Euclidean, sum) on gathered rows, operation for
    /// operation, and the slots added in the order a gather–evaluate–scatter adds them (every anchor slot, then
    /// every positive, then every negative; inactive triplets add zeros, which leave the sums' bits alone), so
    /// the result has the bits of that route without its six (triplets, E) copies. Nil, with nothing added, when
    /// an argument is NaN or +∞ (the caller then takes that route, whose `TripletLoss` names the triplet).
    private func squaredTripletLoss<T: NetworkScalar>(
        _ triplets: [TripletIndices], embeddings: UnsafeBufferPointer<T>,
        embeddingGradient: UnsafeMutableBufferPointer<T>
    ) -> (lossSum: T, perSample: [T])? {
        let width = embeddingDimension
        let margin = T(self.margin)
        var perSample = [T](repeating: 0, count: triplets.count)
        var total: T = 0
        for (slot, triplet) in triplets.enumerated() {
            let squaredPositive = PairMining.squaredDistance(
                triplet.anchor, triplet.positive, embeddings: embeddings, dimension: width)
            let squaredNegative = PairMining.squaredDistance(
                triplet.anchor, triplet.negative, embeddings: embeddings, dimension: width)
            let argument = squaredPositive - squaredNegative + margin
            if !(argument < .infinity) { return nil }  // NaN or +∞: not a loss value
            guard argument > 0 else { continue }
            perSample[slot] = argument
            total += argument
        }
        // (2 · (e_a − e_p), 2 · (e_a − e_n)) of an active triplet, as `TripletLoss` computes them (weight 1).
        func pullAndPush(_ triplet: TripletIndices, _ column: Int) -> (T, T) {
            let anchor = embeddings[triplet.anchor * width + column]
            return (2 * (anchor - embeddings[triplet.positive * width + column]),
                    2 * (anchor - embeddings[triplet.negative * width + column]))
        }
        for (slot, triplet) in triplets.enumerated() where perSample[slot] > 0 {
            for column in 0..<width {
                let (pull, push) = pullAndPush(triplet, column)
                embeddingGradient[triplet.anchor * width + column] += pull - push
            }
        }
        for (slot, triplet) in triplets.enumerated() where perSample[slot] > 0 {
            for column in 0..<width { embeddingGradient[triplet.positive * width + column] += -pullAndPush(triplet, column).0 }
        }
        for (slot, triplet) in triplets.enumerated() where perSample[slot] > 0 {
            for column in 0..<width { embeddingGradient[triplet.negative * width + column] += pullAndPush(triplet, column).1 }
        }
        return (total, perSample)
    }

    /// `e = tanh(x·W)` or `tanh(relu(x·W1 + b1)·W2)`: the hidden layer (empty for the linear variant) and the
    /// embeddings, (rows, H) and (rows, E) row-major.
    private func forward<T: NetworkScalar>(
        inputs: UnsafeBufferPointer<T>, rows: Int, parameters: UnsafeBufferPointer<T>
    ) throws(ModelError) -> (hidden: [T], embeddings: [T]) {
        let tensors = layout.tensors
        var embeddings = [T](repeating: 0, count: rows * embeddingDimension)
        var hidden = [T](repeating: 0, count: rows * (hiddenUnits ?? 0))
        try embeddings.withUnsafeMutableBufferPointer { (output) throws(ModelError) in
            if let hiddenUnits {
                try hidden.withUnsafeMutableBufferPointer { (hiddenBuffer) throws(ModelError) in
                    try DenseLayer.forward(
                        inputs, rows: rows, inputWidth: featureCount, weights: parameters.slice(tensors[0]),
                        bias: parameters.slice(tensors[1]), into: hiddenBuffer, outputWidth: hiddenUnits)
                    DenseLayer.relu(hiddenBuffer)
                    try DenseLayer.forward(
                        UnsafeBufferPointer(hiddenBuffer), rows: rows, inputWidth: hiddenUnits,
                        weights: parameters.slice(tensors[2]), bias: nil, into: output, outputWidth: embeddingDimension)
                }
            } else {
                try DenseLayer.forward(
                    inputs, rows: rows, inputWidth: featureCount, weights: parameters.slice(tensors[0]), bias: nil,
                    into: output, outputWidth: embeddingDimension)
            }
            T.tanh(output)
        }
        return (hidden, embeddings)
    }

    /// Overwrites `gradient` (every tensor) with the gradient sums.
    private func backward<T: NetworkScalar>(
        inputs: UnsafeBufferPointer<T>, rows: Int, parameters: UnsafeBufferPointer<T>, hidden: [T],
        embeddings: [T], embeddingGradient: inout [T], gradient: UnsafeMutableBufferPointer<T>
    ) throws(ModelError) {
        for index in embeddingGradient.indices {
            embeddingGradient[index] *= 1 - embeddings[index] * embeddings[index]
        }
        let tensors = layout.tensors
        try embeddingGradient.withUnsafeBufferPointer { (outputGradient) throws(ModelError) in
            if let hiddenUnits {
                var hiddenGradient = [T](repeating: 0, count: rows * hiddenUnits)
                try hidden.withUnsafeBufferPointer { (hiddenBuffer) throws(ModelError) in
                    try hiddenGradient.withUnsafeMutableBufferPointer { (hiddenGradientBuffer) throws(ModelError) in
                        try DenseLayer.backward(
                            hiddenBuffer, rows: rows, inputWidth: hiddenUnits, weights: parameters.slice(tensors[2]),
                            outputGradient: outputGradient, outputWidth: embeddingDimension,
                            weightGradient: gradient.slice(tensors[2]), biasGradient: nil,
                            inputGradient: hiddenGradientBuffer)
                        DenseLayer.reluBackward(activation: hiddenBuffer, gradient: hiddenGradientBuffer)
                        try DenseLayer.backward(
                            inputs, rows: rows, inputWidth: featureCount, weights: parameters.slice(tensors[0]),
                            outputGradient: UnsafeBufferPointer(hiddenGradientBuffer), outputWidth: hiddenUnits,
                            weightGradient: gradient.slice(tensors[0]), biasGradient: gradient.slice(tensors[1]),
                            inputGradient: nil)
                    }
                }
            } else {
                try DenseLayer.backward(
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
