import ShardModels
import ShardNumerics

/// One block through a model, as the engine does it, for the tests of this target.
extension Model {
    /// `blockSums(block, parameters:context:into:)` into a fresh array, NaN-filled first so that an entry
    /// the model fails to write shows up.
    func sums(_ block: Block, _ parameters: [Double], _ context: RoundContext = RoundContext(seed: 0, round: 1)) throws
        -> [Double]
    {
        var output = [Double](repeating: .nan, count: sumsWidth)
        try parameters.withUnsafeBufferPointer { theta in
            try output.withUnsafeMutableBufferPointer { try blockSums(block, parameters: theta, context: context, into: $0) }
        }
        return output
    }

    /// The sums of `block` with the smoothing μ of a continuation stage (linear models draw no random numbers,
    /// so seed and round do not matter).
    func sums(_ block: Block, _ parameters: [Double], smoothing: Double) throws -> [Double] {
        try sums(block, parameters, RoundContext(seed: 0, round: 1, smoothing: smoothing))
    }

    /// The objective (mean loss + L2 term) and its gradient on the rows of `block` alone.
    func objective(_ block: Block, _ parameters: [Double], smoothing: Double = 0) throws -> Objective {
        try objective(sums: sums(block, parameters, smoothing: smoothing), rowCount: block.rows, parameters: parameters)
    }
}
