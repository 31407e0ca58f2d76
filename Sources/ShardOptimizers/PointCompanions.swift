import ShardNumerics

/// What the next round needs of the pending point besides the point itself, made by the optimizer's update pass
/// while the new point is in cache (Adam's pass waits on its divisions, so these come nearly free):
///
/// ```text
/// squares    = VectorPasses.sumOfSquares(θ, over: squaredRanges)    (a model's L2 penalty sum, the same bits)
/// rounded[k] = Float(θ_k)                                            (the parameters of float32 blocks)
/// ```
public struct PointCompanions: Sendable {
    public var squares: Double?
    public var rounded: [Float]?
}

/// Which companions the updates make: the squares over `squaredRanges` (ascending, disjoint, inside the parameter
/// indices; nil: none) and whether the rounded parameters.
public struct CompanionRequest: Sendable, Equatable {
    public var squaredRanges: [Range<Int>]?
    public var rounded: Bool

    public init(squaredRanges: [Range<Int>]?, rounded: Bool) {
        self.squaredRanges = squaredRanges
        self.rounded = rounded
    }

    /// Refuses ranges that are not ascending, disjoint and inside `0..<dimension`.
    func validate(dimension: Int) throws(OptimizerError) {
        var next = 0
        for range in squaredRanges ?? [] {
            guard range.lowerBound >= next, range.upperBound <= dimension else {
                throw .invalidSetting(
                    "squared ranges must be ascending, disjoint and inside 0..<\(dimension), got \(squaredRanges ?? [])")
            }
            next = range.upperBound
        }
    }
}

/// The request and the companions of the current iterate: a cache beside an optimizer's state, never part of it
/// (not encoded, and equal whatever it holds, so a decoded state equals the one that was saved).
struct CompanionCache: Sendable, Equatable {
    var request: CompanionRequest?
    var made: PointCompanions?

    static func == (_: CompanionCache, _: CompanionCache) -> Bool { true }
}
