import CShardKernels

/// ∇F of a model's objective from the reduced block sums `[Σ loss, Σ ∂loss/∂θ_0, …]` over N rows, entry by entry:
///
/// ```
/// g[k] = sums[k + 1] · scale          (scale = 1/N; sums[k + 1] = left + right when the last addition is pending,
///                                       each widened from Float when the slots hold Float gradients)
/// g[k] += l2 · θ[k]                   for k in a regularised range
/// ```
/// Each operation is correctly rounded and none is fused (`shardtrain_objective_gradient_f64`, or the same operations
/// in Adam's pass, `shardtrain_adam_update_objective_f64`), so an entry's bits depend on k alone: the same however
/// the indices are cut into pieces and whichever thread or pass writes them.
public struct ObjectiveGradient: Sendable {
    public let sums: ReducedSums
    public let parameters: [Double]
    public let scale: Double
    public let l2: Double
    /// Ascending, disjoint, inside `0..<parameters.count`.
    public let regularized: [Range<Int>]

    public init(sums: ReducedSums, parameters: [Double], scale: Double, l2: Double, regularized: [Range<Int>]) {
        precondition(
            sums.count == parameters.count + 1,
            "ObjectiveGradient: \(sums.count) sums for \(parameters.count) parameters")
        self.sums = sums
        self.parameters = parameters
        self.scale = scale
        self.l2 = l2
        self.regularized = regularized
    }

    /// Entries of the gradient.
    public var count: Int { parameters.count }

    /// Writes `g[k]` for every k in `range` into `gradient + k`.
    public func write(_ range: Range<Int>, into gradient: UnsafeMutablePointer<Double>) {
        var start = range.lowerBound
        while start < range.upperBound {
            let (end, isRegularized) = run(from: start, below: range.upperBound)
            withSource(from: start, regularized: isRegularized) { source in
                shardtrain_objective_gradient_f64(&source, end - start, gradient + start)
            }
            start = end
        }
    }

    /// The whole gradient, written in `VectorPasses` chunks on `threads` threads (0 = every core), with ‖g‖² summed
    /// in `VectorPasses.sumOfSquares` order as each chunk is written.
    public func gradient(threads: Int) -> (gradient: [Double], squaredNorm: Double) {
        var squaredNorm = 0.0
        let gradient = [Double](unsafeUninitializedCapacity: count) { buffer, initialized in
            let to = SharedMutablePointer(buffer.baseAddress)
            squaredNorm = VectorPasses.forEachChunk(
                count: count, threads: threads, summingSquaresOf: UnsafeBufferPointer(buffer)
            ) { range in
                guard let to = to.pointer else { return }
                write(range, into: to)
            }
            initialized = count
        }
        return (gradient, squaredNorm)
    }

    /// Whether every index of `piece` is regularised (true) or none is (false); nil when the piece straddles a
    /// range's end.
    public func regularization(of piece: Range<Int>) -> Bool? {
        guard !piece.isEmpty else { return false }
        let (end, isRegularized) = run(from: piece.lowerBound, below: piece.upperBound)
        return end == piece.upperBound ? isRegularized : nil
    }

    /// The kernel's description of the gradient from coordinate `start` on (pointers valid inside `body` only).
    public func withSource<R>(
        from start: Int, regularized: Bool, _ body: (inout shardtrain_objective_gradient) -> R
    ) -> R {
        sums.withEntries { entries in
            parameters.withUnsafeBufferPointer { parameters in
                let floats = entries.leftGradient != nil
                var source = shardtrain_objective_gradient(
                    sums: floats ? nil : entries.left + 1 + start,
                    other: floats ? nil : entries.right.map { $0 + 1 + start },
                    parameters: parameters.baseAddress.map { $0 + start }, scale: scale, l2: l2,
                    regularized: regularized ? 1 : 0, sums_f32: entries.leftGradient.map { $0 + start },
                    other_f32: entries.rightGradient.map { $0 + start })
                return body(&source)
            }
        }
    }

    /// The end (at most `limit`) of the run of indices from `start` that are all regularised (touching ranges join)
    /// or all not, and which.
    private func run(from start: Int, below limit: Int) -> (end: Int, regularized: Bool) {
        var end = start
        var inside = false
        for range in regularized where !range.isEmpty && range.upperBound > end {
            if range.lowerBound <= end {
                (end, inside) = (range.upperBound, true)
            } else if inside {
                break
            } else {
                return (min(range.lowerBound, limit), false)
            }
        }
        return inside ? (min(end, limit), true) : (limit, false)
    }
}
