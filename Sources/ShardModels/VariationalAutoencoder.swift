#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import ShardLosses
import ShardNumerics

/// A variational auto-encoder with a Bernoulli decoder (Kingma & Welling 2014), for inputs in [0, 1].
///
/// ```
/// encoder  h = x·enc_W + enc_b                              linear      enc_W (D, 2L), enc_b (2L)
///          h = relu(x·enc_W1 + enc_b1)·enc_W2 + enc_b2      hidden H    enc_W1 (D, H), enc_W2 (H, 2L)
/// mean = h[0 ..< L],  logvar = h[L ..< 2L]
/// z        = mean + eps ⊙ exp(logvar / 2)                  eps ~ N(0, I_L)
/// decoder  logits = z·dec_W + dec_b                         linear      dec_W (L, D), dec_b (D)
///          logits = relu(z·dec_W1 + dec_b1)·dec_W2 + dec_b2 hidden H    dec_W1 (L, H), dec_W2 (H, D)
/// recon_i  = Σ_j softplus(logits_ij) − x_ij logits_ij       (BinaryCrossEntropyWithLogits, stable)
/// kl_i     = ½ Σ_j (mean_ij² + expm1(logvar_ij) − logvar_ij) (GaussianKL)
/// loss_i   = recon_i + kl_i                                 (the negative ELBO of row i)
/// L2 on every weight matrix (enc_W, dec_W, or enc_W1, enc_W2, dec_W1, dec_W2), never on biases
/// ```
/// Backward pass (reparameterisation trick):
///
/// ```
/// ∂loss/∂logits = sigmoid(logits) − x
/// ∂loss/∂mean   = ∂loss/∂z + mean
/// ∂loss/∂logvar = ∂loss/∂z ⊙ eps ⊙ ½ exp(logvar / 2) + ½ expm1(logvar)
/// ```
/// Layout and names follow Tests/Reference/README.md (`vae_linear`, `vae_mlp`). In `blockSums`,
/// `eps[row, j] = CounterRandom(seed, round, block.id, row, purpose latentNoise).normal(j)`. Log-variances
/// of ±15 stay finite (exp(7.5) ≈ 1808). Labels are not used.
///
/// **Precision.** Float64 blocks compute in Double (dgemm), float32 blocks in Float (sgemm, Float losses): the
/// parameters are rounded to Float once per block and the block's sums widened back to Double.
public struct VariationalAutoencoder: Model, FloatComputingNetwork {
    public let featureCount: Int
    public let latentDimension: Int
    /// Width of the hidden ReLU layers of encoder and decoder; nil for the linear model.
    public let hiddenUnits: Int?
    public let l2: Double
    public let layout: ParameterLayout

    /// Checks every hyper-parameter (`ModelError.invalidSpec` with the offending value).
    public init(featureCount: Int, latentDimension: Int, hiddenUnits: Int?, l2: Double) throws(ModelError) {
        try validateNetworkShape(
            model: "vae", featureCount: featureCount, outputName: "latent dimension", outputDimension: latentDimension,
            hiddenUnits: hiddenUnits)
        guard l2.isFinite, l2 >= 0 else { throw .invalidSpec("vae: l2 = \(l2) must be finite and non-negative") }
        self.featureCount = featureCount
        self.latentDimension = latentDimension
        self.hiddenUnits = hiddenUnits
        self.l2 = l2
        let (d, l) = (featureCount, latentDimension)
        if let h = hiddenUnits {
            layout = ParameterLayout([
                ("enc_W1", [d, h], true), ("enc_b1", [h], false), ("enc_W2", [h, 2 * l], true), ("enc_b2", [2 * l], false),
                ("dec_W1", [l, h], true), ("dec_b1", [h], false), ("dec_W2", [h, d], true), ("dec_b2", [d], false),
            ])
        } else {
            layout = ParameterLayout([
                ("enc_W", [d, 2 * l], true), ("enc_b", [2 * l], false), ("dec_W", [l, d], true), ("dec_b", [d], false),
            ])
        }
    }

    public var spec: ModelSpec {
        ModelSpec(featureCount: featureCount, l2: l2, .vae(latentDimension: latentDimension, hiddenUnits: hiddenUnits))
    }

    /// Glorot-uniform weights, zero biases (see `Initialization.glorotUniform`).
    public func initialParameters() -> [Double] { Initialization.glorotUniform(layout) }

    /// Everything one evaluation computes, for given noise.
    public struct Evaluation: Sendable, Equatable {
        /// `Σ_i (recon_i + kl_i)`
        public var lossSum: Double
        /// `Σ_i ∂(recon_i + kl_i)/∂θ` in layout order (empty when not requested).
        public var gradient: [Double]
        /// (N, L) row-major each.
        public var mean: [Double]
        public var logVariance: [Double]
        public var latent: [Double]
        /// (N, D) row-major.
        public var decoderLogits: [Double]
        public var reconstructionPerSample: [Double]
        public var klPerSample: [Double]
    }

    /// The two parts of one row's negative ELBO.
    public struct ELBOParts: Sendable, Equatable {
        /// `Σ_j bce_logits(x_j, logits_j)`
        public var reconstruction: Double
        /// `KL(N(mean, exp(logvar)) ‖ N(0, I))`
        public var kl: Double
    }

    /// Loss sums, gradient and intermediates on explicit inputs `(rows, D)` and noise `(rows, L)`.
    ///
    /// `precision` `.float64` computes in Double (the path of float64 blocks); `.float32` rounds inputs, noise and
    /// parameters to Float and computes in Float, as `blockSums` does for float32 blocks (results widened back).
    public func evaluate(
        inputs: [Double], rows: Int, noise: [Double], parameters: [Double], precision: Precision = .float64
    ) throws(ModelError) -> Evaluation {
        guard rows >= 0, inputs.count == rows * featureCount, noise.count == rows * latentDimension else {
            throw .dimension(
                "vae: \(rows) rows need \(max(rows, 0) * featureCount) inputs and \(max(rows, 0) * latentDimension) "
                    + "noise values, got \(inputs.count) and \(noise.count)")
        }
        try checkParameterCount(parameters.count)
        switch precision {
        case .float64: return try evaluate(Double.self, inputs: inputs, rows: rows, noise: noise, parameters: parameters)
        case .float32: return try evaluate(Float.self, inputs: inputs, rows: rows, noise: noise, parameters: parameters)
        }
    }

    func networkBlockSums(
        _ block: Block, parameters: UnsafeBufferPointer<Double>, rounded: UnsafeBufferPointer<Float>?,
        context: RoundContext, loss: UnsafeMutablePointer<Double>, gradient: GradientDestination
    ) throws(ModelError) {
        try checkBlock(block)
        try checkParameterCount(parameters.count)
        let noise = latentNoise(block, context: context)
        switch block.precision {
        case .float64:
            loss.pointee = try blockPass(Double.self, block, noise: noise, parameters: parameters, gradient: gradient).lossSum
        case .float32:
            loss.pointee = try blockPass(
                Float.self, block, noise: noise, parameters: parameters, rounded: rounded, gradient: gradient
            ).lossSum
        }
    }

    /// Reconstruction and KL terms of every row of `block` with the noise `blockSums` draws in `context`
    /// (computed in the block's storage precision, as `blockSums` does).
    public func elboParts(_ block: Block, parameters: [Double], context: RoundContext) throws(ModelError) -> [ELBOParts] {
        try checkBlock(block)
        try checkParameterCount(parameters.count)
        let noise = latentNoise(block, context: context)
        return try parameters.withUnsafeBufferPointer { (theta) throws(ModelError) -> [ELBOParts] in
            switch block.precision {
            case .float64:
                let pass = try blockPass(Double.self, block, noise: noise, parameters: theta, gradient: nil)
                return zip(pass.reconstruction, pass.kl).map { ELBOParts(reconstruction: $0, kl: $1) }
            case .float32:
                let pass = try blockPass(Float.self, block, noise: noise, parameters: theta, gradient: nil)
                return zip(pass.reconstruction, pass.kl).map { ELBOParts(reconstruction: Double($0), kl: Double($1)) }
            }
        }
    }

    /// Bernoulli means `sigmoid(decoder(z))`, `(rows, D)`, of latent points `z` `(rows, L)`.
    public func decode(latent: [Double], rows: Int, parameters: [Double]) throws(ModelError) -> [Double] {
        guard rows >= 0, latent.count == rows * latentDimension else {
            throw .dimension("vae: \(rows) latent rows need \(max(rows, 0) * latentDimension) values, got \(latent.count)")
        }
        try checkParameterCount(parameters.count)
        return try parameters.withUnsafeBufferPointer { (theta) throws(ModelError) -> [Double] in
            try latent.withUnsafeBufferPointer { (z) throws(ModelError) -> [Double] in
                try decoder(z, rows: rows, parameters: theta).logits.map { StableMath.sigmoid($0) }
            }
        }
    }

    /// `decode(mean(x))`: the reconstruction of inputs `(rows, D)` through the posterior mean (no noise).
    public func reconstruct(inputs: [Double], rows: Int, parameters: [Double]) throws(ModelError) -> [Double] {
        guard rows >= 0, inputs.count == rows * featureCount else {
            throw .dimension("vae: \(rows) rows need \(max(rows, 0) * featureCount) inputs, got \(inputs.count)")
        }
        try checkParameterCount(parameters.count)
        let (l, width) = (latentDimension, 2 * latentDimension)
        let encoded = try parameters.withUnsafeBufferPointer { (theta) throws(ModelError) -> [Double] in
            try inputs.withUnsafeBufferPointer { (x) throws(ModelError) -> [Double] in
                try encoder(x, rows: rows, parameters: theta).output
            }
        }
        var means = [Double](repeating: 0, count: rows * l)
        for row in 0..<rows {
            for j in 0..<l { means[row * l + j] = encoded[row * width + j] }
        }
        return try decode(latent: means, rows: rows, parameters: parameters)
    }

    // MARK: - Internals

    /// One pass in precision `T`; `lossSum` is added in Double, row by row.
    struct Pass<T: NetworkScalar> {
        var lossSum: Double
        var mean: [T]
        var logVariance: [T]
        var latent: [T]
        var logits: [T]
        var reconstruction: [T]
        var kl: [T]
    }

    /// The noise `blockSums` uses for `block` in `context`, (rows, L) row-major:
    ///
    /// ```
    /// eps[row, j] = CounterRandom(seed, round, block.id, row, purpose latentNoise).normal(j)
    /// ```
    /// `evaluate(inputs:rows:noise:parameters:precision:)` with this noise and the block's precision reproduces
    /// `blockSums` bit for bit.
    public func latentNoise(_ block: Block, context: RoundContext) -> [Double] {
        var noise = [Double](repeating: 0, count: block.rows * latentDimension)
        for row in 0..<block.rows {
            let random = CounterRandom(
                seed: context.seed, round: context.round, block: block.id, row: row, purpose: .latentNoise)
            for pair in 0..<(latentDimension / 2) {
                (noise[row * latentDimension + 2 * pair], noise[row * latentDimension + 2 * pair + 1]) =
                    random.normalPair(pair)
            }
            if latentDimension % 2 == 1 { noise[(row + 1) * latentDimension - 1] = random.normal(latentDimension - 1) }
        }
        return noise
    }

    private func evaluate<T: NetworkScalar>(
        _ type: T.Type, inputs: [Double], rows: Int, noise: [Double], parameters: [Double]
    ) throws(ModelError) -> Evaluation {
        var gradient = [Double](repeating: 0, count: layout.count)
        let pass = try inputs.withUnsafeBufferPointer { (x) throws(ModelError) -> Pass<T> in
            try noise.withUnsafeBufferPointer { (eps) throws(ModelError) -> Pass<T> in
                try parameters.withUnsafeBufferPointer { (theta) throws(ModelError) -> Pass<T> in
                    try gradient.withUnsafeMutableBufferPointer { (output) throws(ModelError) -> Pass<T> in
                        try withConverted(x, as: type) { (x) throws(ModelError) -> Pass<T> in
                            try withConverted(eps, as: type) { (eps) throws(ModelError) -> Pass<T> in
                                try self.pass(
                                    inputs: x, rows: rows, noise: eps, parameters: theta, gradient: .doubles(output),
                                    inputsChecked: false)
                            }
                        }
                    }
                }
            }
        }
        func widened(_ values: [T]) -> [Double] { values.map { Double($0) } }
        return Evaluation(
            lossSum: pass.lossSum, gradient: gradient, mean: widened(pass.mean),
            logVariance: widened(pass.logVariance), latent: widened(pass.latent), decoderLogits: widened(pass.logits),
            reconstructionPerSample: widened(pass.reconstruction), klPerSample: widened(pass.kl))
    }

    /// `pass` on a block's features in precision `T` (see `withFeatures`).
    private func blockPass<T: NetworkScalar>(
        _ type: T.Type, _ block: Block, noise: [Double], parameters: UnsafeBufferPointer<Double>,
        rounded: UnsafeBufferPointer<Float>? = nil, gradient: GradientDestination?
    ) throws(ModelError) -> Pass<T> {
        // Checked once per block (the block remembers), not every round.
        if let index = block.firstFeatureOutsideUnitInterval {
            let value = block.withValues { values in
                switch values {
                case .float32(let features, _): "\(features[index])"
                case .float64(let features, _): "\(features[index])"
                }
            }
            throw outsideUnitInterval(value, at: index, blockID: block.id)
        }
        return try withFeatures(of: block, as: type) { (x) throws(ModelError) -> Pass<T> in
            try noise.withUnsafeBufferPointer { (eps) throws(ModelError) -> Pass<T> in
                try withConverted(eps, as: type) { (eps) throws(ModelError) -> Pass<T> in
                    try self.pass(
                        inputs: x, rows: block.rows, noise: eps, parameters: parameters, rounded: rounded,
                        gradient: gradient, inputsChecked: true)
                }
            }
        }
    }

    /// The encoder output `h` (rows, 2L) and, for the hidden variant, the post-ReLU hidden layer.
    private func encoder<T: NetworkScalar>(
        _ x: UnsafeBufferPointer<T>, rows: Int, parameters: UnsafeBufferPointer<T>
    ) throws(ModelError) -> (hidden: [T], output: [T]) {
        try network(
            x, rows: rows, inputWidth: featureCount, outputWidth: 2 * latentDimension, firstTensor: 0,
            parameters: parameters)
    }

    /// The decoder logits (rows, D) and, for the hidden variant, the post-ReLU hidden layer.
    private func decoder<T: NetworkScalar>(
        _ z: UnsafeBufferPointer<T>, rows: Int, parameters: UnsafeBufferPointer<T>
    ) throws(ModelError) -> (hidden: [T], logits: [T]) {
        let (hidden, logits) = try network(
            z, rows: rows, inputWidth: latentDimension, outputWidth: featureCount,
            firstTensor: hiddenUnits == nil ? 2 : 4, parameters: parameters)
        return (hidden, logits)
    }

    /// The forward pass shared by encoder and decoder, on the layout tensors from `firstTensor` on:
    ///
    /// ```
    /// linear   output = input·W + b                        tensors W, b
    /// hidden   a = relu(input·W1 + b1),  output = a·W2 + b2  tensors W1, b1, W2, b2   (a returned as hidden)
    /// ```
    /// `hidden` is empty for the linear variant; `output` is (rows, outputWidth) row-major.
    private func network<T: NetworkScalar>(
        _ input: UnsafeBufferPointer<T>, rows: Int, inputWidth: Int, outputWidth: Int, firstTensor: Int,
        parameters: UnsafeBufferPointer<T>
    ) throws(ModelError) -> (hidden: [T], output: [T]) {
        let tensors = layout.tensors
        var output = [T](repeating: 0, count: rows * outputWidth)
        guard let units = hiddenUnits else {
            try output.withUnsafeMutableBufferPointer { (out) throws(ModelError) in
                try DenseLayer.forward(
                    input, rows: rows, inputWidth: inputWidth, weights: parameters.slice(tensors[firstTensor]),
                    bias: parameters.slice(tensors[firstTensor + 1]), into: out, outputWidth: outputWidth)
            }
            return ([], output)
        }
        var hidden = [T](repeating: 0, count: rows * units)
        try hidden.withUnsafeMutableBufferPointer { (a) throws(ModelError) in
            try DenseLayer.forward(
                input, rows: rows, inputWidth: inputWidth, weights: parameters.slice(tensors[firstTensor]),
                bias: parameters.slice(tensors[firstTensor + 1]), into: a, outputWidth: units)
            DenseLayer.relu(a)
            try output.withUnsafeMutableBufferPointer { (out) throws(ModelError) in
                try DenseLayer.forward(
                    UnsafeBufferPointer(a), rows: rows, inputWidth: units,
                    weights: parameters.slice(tensors[firstTensor + 2]),
                    bias: parameters.slice(tensors[firstTensor + 3]), into: out, outputWidth: outputWidth)
            }
        }
        return (hidden, output)
    }

    /// `pass` with the parameters rounded to `T` (see `withParameters`) and the gradient (when requested)
    /// widened back to Double.
    private func pass<T: NetworkScalar>(
        inputs x: UnsafeBufferPointer<T>, rows: Int, noise eps: UnsafeBufferPointer<T>,
        parameters: UnsafeBufferPointer<Double>, rounded: UnsafeBufferPointer<Float>? = nil,
        gradient: GradientDestination?, inputsChecked: Bool
    ) throws(ModelError) -> Pass<T> {
        try withParameters(parameters, rounded: rounded, as: T.self) { (theta) throws(ModelError) -> Pass<T> in
            guard let gradient else {
                return try pass(
                    inputs: x, rows: rows, noise: eps, parameters: theta, gradient: nil, inputsChecked: inputsChecked)
            }
            return try withGradient(into: gradient, as: T.self) { (output) throws(ModelError) -> Pass<T> in
                try pass(
                    inputs: x, rows: rows, noise: eps, parameters: theta, gradient: output, inputsChecked: inputsChecked)
            }
        }
    }

    /// The error for input `value` at flat index `index` (row-major, D per row) outside [0, 1].
    private func outsideUnitInterval(_ value: String, at index: Int, blockID: Int?) -> ModelError {
        let place = blockID.map { "block \($0), " } ?? ""
        return .dimension(
            "vae: \(place)row \(index / featureCount), feature \(index % featureCount) is \(value); VAE inputs must "
                + "lie in [0, 1] (scale features to [0, 1] instead of standardising them)")
    }

    /// One forward pass and, when `gradient` is given, the backward pass (gradient overwritten with sums).
    ///
    /// The reconstruction term of each row is one compiled `bce_logits` pass over its D logits (the kernel's
    /// summation order, see `ElementwiseLossKernel`); a row with a non-finite logit falls back to the plain
    /// loop, so its loss is the same non-finite value the optimizer then reports.
    private func pass<T: NetworkScalar>(
        inputs x: UnsafeBufferPointer<T>, rows: Int, noise eps: UnsafeBufferPointer<T>,
        parameters: UnsafeBufferPointer<T>, gradient: UnsafeMutableBufferPointer<T>?, inputsChecked: Bool
    ) throws(ModelError) -> Pass<T> {
        let (d, l) = (featureCount, latentDimension)
        if !inputsChecked, let index = T.firstOutsideUnitInterval(UnsafeBufferPointer(rebasing: x[0..<(rows * d)])) {
            throw outsideUnitInterval("\(x[index])", at: index, blockID: nil)
        }
        let (encoderHidden, encoded) = try encoder(x, rows: rows, parameters: parameters)
        var mean = [T](repeating: 0, count: rows * l)
        var logVariance = [T](repeating: 0, count: rows * l)
        var deviation = [T](repeating: 0, count: rows * l)
        var latent = [T](repeating: 0, count: rows * l)
        for row in 0..<rows {
            for j in 0..<l {
                let index = row * l + j
                mean[index] = encoded[row * 2 * l + j]
                logVariance[index] = encoded[row * 2 * l + l + j]
                deviation[index] = T.exp(0.5 * logVariance[index])
                latent[index] = mean[index] + eps[index] * deviation[index]
            }
        }
        let (decoderHidden, logits) = try latent.withUnsafeBufferPointer { (z) throws(ModelError) in
            try decoder(z, rows: rows, parameters: parameters)
        }

        var reconstruction = [T](repeating: 0, count: rows)
        var logitGradient = [T](repeating: 0, count: rows * d)
        var elementLosses = [T](repeating: 0, count: d)
        logits.withUnsafeBufferPointer { z in
            logitGradient.withUnsafeMutableBufferPointer { dz in
                elementLosses.withUnsafeMutableBufferPointer { losses in
                    for row in 0..<rows {
                        let offset = row * d
                        let outcome = T.binaryCrossEntropyWithLogits(
                            target: x.baseAddress! + offset, logits: z.baseAddress! + offset, count: d,
                            losses: losses.baseAddress!, gradient: dz.baseAddress! + offset)
                        if case .completed(let total) = outcome {
                            reconstruction[row] = total
                            continue
                        }
                        let bce = BinaryCrossEntropyWithLogits()
                        var sum: T = 0
                        for index in offset..<(offset + d) {
                            let (loss, derivative) = bce.lossAndDerivative(target: x[index], prediction: z[index])
                            sum += loss
                            dz[index] = derivative
                        }
                        reconstruction[row] = sum
                    }
                }
            }
        }
        let divergence: GaussianKLResult<T>
        do throws(LossError) {
            divergence = try GaussianKL().evaluate(
                mean: Matrix(rows: rows, columns: l, values: mean),
                logVariance: Matrix(rows: rows, columns: l, values: logVariance), reduction: .sum)
        } catch {
            throw .dimension("vae: \(error.description)")
        }
        var lossSum = 0.0
        for row in 0..<rows { lossSum += Double(reconstruction[row]) + Double(divergence.perSample[row]) }

        if let gradient {
            try backward(
                x, rows: rows, noise: eps, parameters: parameters, encoderHidden: encoderHidden, deviation: deviation,
                latent: latent, decoderHidden: decoderHidden, logitGradient: logitGradient, divergence: divergence,
                gradient: gradient)
        }
        return Pass(
            lossSum: lossSum, mean: mean, logVariance: logVariance, latent: latent, logits: logits,
            reconstruction: reconstruction, kl: divergence.perSample)
    }

    /// Overwrites `gradient` (every tensor) with the gradient sums.
    private func backward<T: NetworkScalar>(
        _ x: UnsafeBufferPointer<T>, rows: Int, noise eps: UnsafeBufferPointer<T>,
        parameters: UnsafeBufferPointer<T>, encoderHidden: [T], deviation: [T], latent: [T],
        decoderHidden: [T], logitGradient: [T], divergence: GaussianKLResult<T>,
        gradient: UnsafeMutableBufferPointer<T>
    ) throws(ModelError) {
        let (d, l) = (featureCount, latentDimension)
        // Decoder: ∂logits → ∂z.
        var latentGradient = [T](repeating: 0, count: rows * l)
        try logitGradient.withUnsafeBufferPointer { (dLogits) throws(ModelError) in
            try latent.withUnsafeBufferPointer { (z) throws(ModelError) in
                try latentGradient.withUnsafeMutableBufferPointer { (dz) throws(ModelError) in
                    try networkBackward(
                        z, rows: rows, inputWidth: l, outputWidth: d, firstTensor: hiddenUnits == nil ? 2 : 4,
                        hidden: decoderHidden, outputGradient: dLogits, parameters: parameters, gradient: gradient,
                        inputGradient: dz)
                }
            }
        }
        // Reparameterisation and KL: ∂z → ∂h = [∂mean, ∂logvar].
        let width = 2 * l
        var encodedGradient = [T](repeating: 0, count: rows * width)
        for row in 0..<rows {
            for j in 0..<l {
                let index = row * l + j
                encodedGradient[row * width + j] = latentGradient[index] + divergence.gradientMean[index]
                encodedGradient[row * width + l + j] =
                    latentGradient[index] * eps[index] * 0.5 * deviation[index] + divergence.gradientLogVariance[index]
            }
        }
        // Encoder: ∂h → weights (the inputs need no gradient).
        try encodedGradient.withUnsafeBufferPointer { (dh) throws(ModelError) in
            try networkBackward(
                x, rows: rows, inputWidth: d, outputWidth: width, firstTensor: 0, hidden: encoderHidden,
                outputGradient: dh, parameters: parameters, gradient: gradient, inputGradient: nil)
        }
    }

    /// The backward pass of `network` (same tensors from `firstTensor` on), given ∂output (rows, outputWidth):
    ///
    /// ```
    /// linear   ∂W = inputᵀ·∂output,  ∂b = Σ_rows ∂output,  ∂input = ∂output·Wᵀ
    /// hidden   ∂W2 = aᵀ·∂output,  ∂b2 = Σ_rows ∂output,  ∂a = (∂output·W2ᵀ) ⊙ [a > 0],
    ///          ∂W1 = inputᵀ·∂a,  ∂b1 = Σ_rows ∂a,  ∂input = ∂a·W1ᵀ
    /// ```
    /// Weight and bias gradients are written into `gradient`; ∂input overwrites `inputGradient` when given.
    private func networkBackward<T: NetworkScalar>(
        _ input: UnsafeBufferPointer<T>, rows: Int, inputWidth: Int, outputWidth: Int, firstTensor: Int,
        hidden: [T], outputGradient: UnsafeBufferPointer<T>, parameters: UnsafeBufferPointer<T>,
        gradient: UnsafeMutableBufferPointer<T>, inputGradient: UnsafeMutableBufferPointer<T>?
    ) throws(ModelError) {
        let tensors = layout.tensors
        let (weights, bias) = (tensors[firstTensor], tensors[firstTensor + 1])
        guard let units = hiddenUnits else {
            try DenseLayer.backward(
                input, rows: rows, inputWidth: inputWidth, weights: parameters.slice(weights),
                outputGradient: outputGradient, outputWidth: outputWidth, weightGradient: gradient.slice(weights),
                biasGradient: gradient.slice(bias), inputGradient: inputGradient)
            return
        }
        let (outerWeights, outerBias) = (tensors[firstTensor + 2], tensors[firstTensor + 3])
        var hiddenGradient = [T](repeating: 0, count: rows * units)
        try hidden.withUnsafeBufferPointer { (a) throws(ModelError) in
            try hiddenGradient.withUnsafeMutableBufferPointer { (da) throws(ModelError) in
                try DenseLayer.backward(
                    a, rows: rows, inputWidth: units, weights: parameters.slice(outerWeights),
                    outputGradient: outputGradient, outputWidth: outputWidth,
                    weightGradient: gradient.slice(outerWeights), biasGradient: gradient.slice(outerBias),
                    inputGradient: da)
                DenseLayer.reluBackward(activation: a, gradient: da)
                try DenseLayer.backward(
                    input, rows: rows, inputWidth: inputWidth, weights: parameters.slice(weights),
                    outputGradient: UnsafeBufferPointer(da), outputWidth: units,
                    weightGradient: gradient.slice(weights), biasGradient: gradient.slice(bias),
                    inputGradient: inputGradient)
            }
        }
    }

    private func checkBlock(_ block: Block) throws(ModelError) {
        guard block.columns == featureCount else {
            throw .dimension("block \(block.id) has \(block.columns) columns, the VAE expects \(featureCount)")
        }
    }

    private func checkParameterCount(_ count: Int) throws(ModelError) {
        guard count == layout.count else { throw .dimension("vae needs \(layout.count) parameters, got \(count)") }
    }
}
