import ShardNumerics

/// Affine layers on row-major matrices, shared by the embedding network and the VAE.
///
/// ```
/// forward:   Y = X·W + b            X (n, in), W (in, out) stored as `in` rows of `out`, b (out), Y (n, out)
/// backward:  ∂W += Xᵀ·∂Y,   ∂b += Σ_rows ∂Y,   ∂X = ∂Y·Wᵀ
/// ```
/// Sums run over rows in increasing order, so results are bit-reproducible.
enum DenseLayer {
    /// `output = input·weights + bias` (bias optional: a layer without bias adds 0).
    static func forward(
        _ input: UnsafeBufferPointer<Double>, rows: Int, inputWidth: Int,
        weights: UnsafeBufferPointer<Double>, bias: UnsafeBufferPointer<Double>?,
        into output: UnsafeMutableBufferPointer<Double>, outputWidth: Int
    ) {
        for row in 0..<rows {
            let outputBase = row * outputWidth
            if let bias {
                for column in 0..<outputWidth { output[outputBase + column] = bias[column] }
            } else {
                for column in 0..<outputWidth { output[outputBase + column] = 0 }
            }
            let inputBase = row * inputWidth
            for inner in 0..<inputWidth {
                let value = input[inputBase + inner]
                if value == 0 { continue }
                let weightBase = inner * outputWidth
                for column in 0..<outputWidth { output[outputBase + column] += value * weights[weightBase + column] }
            }
        }
    }

    /// Accumulates `∂W += Xᵀ·∂Y` and `∂b += Σ_rows ∂Y` (when `biasGradient` is given) and, when
    /// `inputGradient` is given, overwrites it with `∂X = ∂Y·Wᵀ`.
    static func backward(
        _ input: UnsafeBufferPointer<Double>, rows: Int, inputWidth: Int,
        weights: UnsafeBufferPointer<Double>, outputGradient: UnsafeBufferPointer<Double>, outputWidth: Int,
        weightGradient: UnsafeMutableBufferPointer<Double>, biasGradient: UnsafeMutableBufferPointer<Double>?,
        inputGradient: UnsafeMutableBufferPointer<Double>?
    ) {
        for row in 0..<rows {
            let outputBase = row * outputWidth
            let inputBase = row * inputWidth
            if let biasGradient {
                for column in 0..<outputWidth { biasGradient[column] += outputGradient[outputBase + column] }
            }
            for inner in 0..<inputWidth {
                let value = input[inputBase + inner]
                let weightBase = inner * outputWidth
                var back = 0.0
                for column in 0..<outputWidth {
                    let upstream = outputGradient[outputBase + column]
                    weightGradient[weightBase + column] += value * upstream
                    back += upstream * weights[weightBase + column]
                }
                inputGradient?[inputBase + inner] = back
            }
        }
    }

    /// `values ← relu(values)` (relu'(0) = 0, the reference convention).
    static func relu(_ values: UnsafeMutableBufferPointer<Double>) {
        for index in values.indices where !(values[index] > 0) { values[index] = 0 }
    }

    /// `gradient ← gradient ⊙ [activation > 0]` for an activation that went through `relu`.
    static func reluBackward(activation: UnsafeBufferPointer<Double>, gradient: UnsafeMutableBufferPointer<Double>) {
        for index in gradient.indices where !(activation[index] > 0) { gradient[index] = 0 }
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

/// The random numbers the models draw, one `CounterRandom.Purpose` each, so that no two uses share a stream.
enum RandomPurpose {
    static let positive = CounterRandom.Purpose(1)
    static let negative = CounterRandom.Purpose(2)
    static let pairPartner = CounterRandom.Purpose(3)
    static let latentNoise = CounterRandom.Purpose(4)
    static let initialization = CounterRandom.Purpose(5)
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
                    seed: seed, round: 0, block: tensorIndex, row: element >> 24, purpose: RandomPurpose.initialization)
                let u = random.uniform(element & 0xFF_FFFF)
                parameters[tensor.range.lowerBound + element] = (2 * u - 1) * limit
            }
        }
        return parameters
    }
}

/// A block's features as `Double`, converted once per block when they are stored as `Float`.
func withDoubleFeatures<R>(
    of block: Block, _ body: (UnsafeBufferPointer<Double>) throws(ModelError) -> R
) throws(ModelError) -> R {
    switch block.storage {
    case .float64(let features, _):
        return try features.withUnsafeBufferPointer { (buffer) throws(ModelError) -> R in try body(buffer) }
    case .float32(let features, _):
        let widened = features.map(Double.init)
        return try widened.withUnsafeBufferPointer { (buffer) throws(ModelError) -> R in try body(buffer) }
    }
}

/// The block's labels read as class indices `0..<classCount`; anything else is a typed error.
func classLabels(of block: Block, classCount: Int) throws(ModelError) -> [Int] {
    func convert<T: BinaryFloatingPoint>(_ labels: [T]) throws(ModelError) -> [Int] {
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
    switch block.storage {
    case .float32(_, let labels): return try convert(labels)
    case .float64(_, let labels): return try convert(labels)
    }
}

/// A parameter tensor's slice of the flat vector.
extension UnsafeBufferPointer where Element == Double {
    func slice(_ tensor: ParameterTensor) -> UnsafeBufferPointer<Double> {
        UnsafeBufferPointer(rebasing: self[tensor.range])
    }
}

extension UnsafeMutableBufferPointer where Element == Double {
    func slice(_ tensor: ParameterTensor) -> UnsafeMutableBufferPointer<Double> {
        UnsafeMutableBufferPointer(rebasing: self[tensor.range])
    }
}
