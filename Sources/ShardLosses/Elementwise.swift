import ShardNumerics

/// A loss applied element by element: `loss_i = f(y_i, ŷ_i)`, with the derivative `f'(y_i, ŷ_i)`
/// with respect to the prediction computed in the same pass.
///
/// Shapes: `target` and `prediction` have the same number of elements `M` (any shape, flattened
/// row-major); `perSample` and `gradient` have `M` entries too. `.mean` divides by `M`.
public protocol ElementwiseLoss: Sendable {
    /// The short name used by the reference data and the CLI (`"mse"`, `"bce_logits"`, ...).
    static var name: String { get }

    /// The per-element loss and its derivative with respect to `prediction`.
    func lossAndDerivative<T: LossScalar>(target: T, prediction: T) -> (loss: T, derivative: T)

    /// True when `(target, prediction)` is outside the loss's domain (checked for every element).
    func isOutsideDomain<T: LossScalar>(target: T, prediction: T) -> Bool

    /// The error reported for an element outside the domain.
    func domainError(index: Int, target: Double, prediction: Double) -> LossError

    /// The compiled kernel (`ShardNumerics.ElementwiseLossKernel`) that computes exactly this loss in
    /// the precision `T`, or nil to use the generic element loop over `lossAndDerivative`. The
    /// default is nil.
    func compiledKernel<T: LossScalar>(for scalar: T.Type) -> ElementwiseLossKernel?
}

extension ElementwiseLoss {
    @inlinable public func isOutsideDomain<T: LossScalar>(target: T, prediction: T) -> Bool { false }

    @inlinable public func compiledKernel<T: LossScalar>(for scalar: T.Type) -> ElementwiseLossKernel? { nil }

    public func domainError(index: Int, target: Double, prediction: Double) -> LossError {
        .invalidPrediction("\(Self.name): element \(index) (target \(target), prediction \(prediction)) is outside the domain")
    }

    /// Evaluates the loss on arrays and returns value, per-element losses and gradient.
    ///
    /// Throws `LossError.shapeMismatch` when the counts differ and the loss's domain error when an
    /// element is outside its domain.
    @inlinable
    public func evaluate<T: LossScalar>(
        target: [T], prediction: [T], reduction: Reduction = .mean
    ) throws(LossError) -> LossResult<T> {
        let count = prediction.count
        guard target.count == count else {
            throw .shapeMismatch("\(Self.name): target has \(target.count) elements, prediction has \(count)")
        }
        var failure: LossError?
        var value: T = 0
        var gradient: [T] = []
        let perSample = [T](unsafeUninitializedCapacity: count) { perSampleBuffer, perSampleCount in
            gradient = [T](unsafeUninitializedCapacity: count) { gradientBuffer, gradientCount in
                do throws(LossError) {
                    value = try target.withUnsafeBufferPointer { (targets) throws(LossError) -> T in
                        try prediction.withUnsafeBufferPointer { (predictions) throws(LossError) -> T in
                            try evaluate(
                                target: targets, prediction: predictions, perSample: perSampleBuffer,
                                gradient: gradientBuffer, reduction: reduction)
                        }
                    }
                } catch {
                    failure = error
                }
                gradientCount = count
            }
            perSampleCount = count
        }
        if let failure { throw failure }
        return LossResult(value: value, perSample: perSample, gradient: gradient)
    }

    /// The allocation-free form: writes `perSample` and `gradient` (each `M` entries, caller owned)
    /// and returns the reduced value. One pass over the inputs.
    @inlinable
    public func evaluate<T: LossScalar>(
        target: UnsafeBufferPointer<T>, prediction: UnsafeBufferPointer<T>,
        perSample: UnsafeMutableBufferPointer<T>, gradient: UnsafeMutableBufferPointer<T>,
        reduction: Reduction = .mean
    ) throws(LossError) -> T {
        let count = prediction.count
        guard target.count == count, perSample.count == count, gradient.count == count else {
            throw .shapeMismatch(
                "\(Self.name): target, prediction, perSample and gradient need equal counts, got "
                    + "\(target.count), \(count), \(perSample.count), \(gradient.count)")
        }
        guard count > 0, let targets = target.baseAddress, let predictions = prediction.baseAddress,
            let losses = perSample.baseAddress, let derivatives = gradient.baseAddress
        else { return 0 }
        let weight: T = reduction.weight(count: count)
        if let kernel = compiledKernel(for: T.self),
            let outcome = runCompiled(
                kernel, targets: targets, predictions: predictions, count: count, losses: losses,
                derivatives: derivatives, gradientScale: weight)
        {
            switch outcome {
            case .completed(let total):
                return reduction.value(total: total, weight: weight)
            case .outsideDomain(let index):
                throw domainError(index: index, target: Double(targets[index]), prediction: Double(predictions[index]))
            }
        }
        // Blocks of 1024 elements. The element loop has no early exit and no floating-point
        // reduction, so the optimiser can vectorise it; domain violations are counted and reported
        // after the block, and the block's losses are summed from L1 with eight accumulators
        // (a fixed order, so results are reproducible). Summing per block also keeps the rounding
        // error of a 10^7-element mean small.
        var total: T = 0
        var start = 0
        while start < count {
            let end = Swift.min(start + 1024, count)
            var violations = 0
            for index in start..<end {
                let y = targets[index]
                let prediction = predictions[index]
                violations &+= isOutsideDomain(target: y, prediction: prediction) ? 1 : 0
                let (loss, derivative) = lossAndDerivative(target: y, prediction: prediction)
                losses[index] = loss
                derivatives[index] = derivative * weight
            }
            if violations != 0 {
                for index in start..<end where isOutsideDomain(target: targets[index], prediction: predictions[index]) {
                    throw domainError(index: index, target: Double(targets[index]), prediction: Double(predictions[index]))
                }
            }
            total += blockSum(losses + start, count: end - start)
            start = end
        }
        return reduction.value(total: total, weight: weight)
    }
}

/// Runs `kernel` when `T` is `Double` or `Float` (nil for other scalar types or an unsupported
/// kernel). The kernel sums the losses in the order of the generic loop below (blocks of 1024,
/// `blockSum` within a block).
@inlinable
func runCompiled<T: LossScalar>(
    _ kernel: ElementwiseLossKernel, targets: UnsafePointer<T>, predictions: UnsafePointer<T>, count: Int,
    losses: UnsafeMutablePointer<T>, derivatives: UnsafeMutablePointer<T>, gradientScale: T
) -> ElementwiseLossKernel.Outcome<T>? {
    func converted<U: BinaryFloatingPoint>(_ outcome: ElementwiseLossKernel.Outcome<U>?) -> ElementwiseLossKernel.Outcome<T>? {
        switch outcome {
        case .completed(let total): .completed(total: T(total))
        case .outsideDomain(let index): .outsideDomain(index: index)
        case nil: nil
        }
    }
    if T.self == Double.self {
        return converted(
            kernel.evaluate(
                target: UnsafeRawPointer(targets).assumingMemoryBound(to: Double.self),
                prediction: UnsafeRawPointer(predictions).assumingMemoryBound(to: Double.self), count: count,
                perSample: UnsafeMutableRawPointer(losses).assumingMemoryBound(to: Double.self),
                gradient: UnsafeMutableRawPointer(derivatives).assumingMemoryBound(to: Double.self),
                gradientScale: Double(gradientScale)))
    }
    if T.self == Float.self {
        return converted(
            kernel.evaluate(
                target: UnsafeRawPointer(targets).assumingMemoryBound(to: Float.self),
                prediction: UnsafeRawPointer(predictions).assumingMemoryBound(to: Float.self), count: count,
                perSample: UnsafeMutableRawPointer(losses).assumingMemoryBound(to: Float.self),
                gradient: UnsafeMutableRawPointer(derivatives).assumingMemoryBound(to: Float.self),
                gradientScale: Float(gradientScale)))
    }
    return nil
}

/// The sum of `count` values with eight interleaved accumulators, combined pairwise at the end.
@inlinable
func blockSum<T: LossScalar>(_ values: UnsafePointer<T>, count: Int) -> T {
    var (s0, s1, s2, s3, s4, s5, s6, s7): (T, T, T, T, T, T, T, T) = (0, 0, 0, 0, 0, 0, 0, 0)
    var index = 0
    while index + 8 <= count {
        s0 += values[index]
        s1 += values[index + 1]
        s2 += values[index + 2]
        s3 += values[index + 3]
        s4 += values[index + 4]
        s5 += values[index + 5]
        s6 += values[index + 6]
        s7 += values[index + 7]
        index += 8
    }
    while index < count {
        s0 += values[index]
        index += 1
    }
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
}
