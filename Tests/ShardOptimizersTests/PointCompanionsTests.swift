import Foundation
import ShardNumerics
import ShardOptimizers
import Testing

/// Adam's companions of each new point (Σθ² over ranges, Float(θ)) against the separate passes they replace.
@Suite("Point companions")
struct PointCompanionsTests {
    static let dimension = 40_003
    /// Ranges that start off the lane grid, span chunk boundaries, touch each other, and an empty one.
    static let ranges = [3..<17_000, 17_000..<17_000, 17_000..<20_011, 21_000..<40_003]

    static func adam(_ initial: [Double], decayed: Bool) throws -> AnyOptimizer {
        decayed
            ? .adamW(
                try AdamW(
                    initialPoint: initial, schedule: .constant(rate: 0.01), weightDecay: 0.1,
                    decayedRanges: Array(ranges)))
            : .adam(try Adam(initialPoint: initial, schedule: .constant(rate: 0.01)))
    }

    @Test("each update's squares and rounded point have the bits of the separate passes; the state is untouched", arguments: [false, true])
    func companionsMatchSeparatePasses(decayed: Bool) throws {
        let initial = randomGradients(count: 1, dimension: Self.dimension, seed: 12)[0]
        let gradients = randomGradients(count: 3, dimension: Self.dimension, seed: 13, scale: 2)
        var plain = try Self.adam(initial, decayed: decayed)
        var asked = try Self.adam(initial, decayed: decayed)
        try asked.requestCompanions(CompanionRequest(squaredRanges: Self.ranges, rounded: true))
        #expect(asked.pendingCompanions == nil, "the initial point has none")
        for gradient in gradients {
            try plain.observe(value: 1, gradient: gradient)
            try asked.observe(value: 1, gradient: gradient)
            let point = try #require(asked.pendingPoint)
            #expect(point.map(\.bitPattern) == plain.pendingPoint?.map(\.bitPattern))
            #expect(asked == plain, "companions are not part of the state")
            let companions = try #require(asked.pendingCompanions)
            let squares = point.withUnsafeBufferPointer { VectorPasses.sumOfSquares($0, over: Self.ranges, threads: 1) }
            #expect(companions.squares?.bitPattern == squares.bitPattern)
            #expect(companions.rounded == point.map { Float($0) })
        }
        // Only what was asked for; a decoded state makes none until asked again.
        var squaresOnly = try Self.adam(initial, decayed: decayed)
        try squaresOnly.requestCompanions(CompanionRequest(squaredRanges: [0..<5], rounded: false))
        try squaresOnly.observe(value: 1, gradient: gradients[0])
        #expect(squaresOnly.pendingCompanions?.rounded == nil && squaresOnly.pendingCompanions?.squares != nil)
        var decoded = try JSONDecoder().decode(AnyOptimizer.self, from: JSONEncoder().encode(asked))
        #expect(decoded == asked)
        try decoded.observe(value: 1, gradient: gradients[0])
        #expect(decoded.pendingCompanions == nil)
    }

    @Test("ranges that are not ascending, disjoint and inside the parameters are refused")
    func invalidRangesAreRefused() throws {
        for ranges in [[5..<9, 2..<4], [0..<6, 5..<8], [0..<(Self.dimension + 1)]] {
            var adam = try Self.adam([Double](repeating: 0, count: Self.dimension), decayed: false)
            expectInvalidSetting(containing: "squared ranges must be ascending") { () throws(OptimizerError) in
                try adam.requestCompanions(CompanionRequest(squaredRanges: ranges, rounded: false))
            }
        }
    }
}

extension PointCompanions: Equatable {
    public static func == (left: PointCompanions, right: PointCompanions) -> Bool {
        left.squares?.bitPattern == right.squares?.bitPattern && left.rounded == right.rounded
    }
}
