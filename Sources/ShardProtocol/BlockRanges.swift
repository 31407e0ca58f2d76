/// Sets of block ids as ascending, disjoint, non-empty ranges, with adjacent ranges merged: the form `hold`
/// and `params` carry, and what the coordinator tracks per worker.
public struct BlockRanges: Sendable, Equatable, CustomStringConvertible {
    public private(set) var ranges: [Range<Int>]

    public init(_ ranges: [Range<Int>] = []) {
        self.ranges = Self.normalized(ranges)
    }

    public var isEmpty: Bool { ranges.isEmpty }
    public var blockCount: Int { ranges.reduce(0) { $0 + $1.count } }

    public func contains(_ block: Int) -> Bool {
        ranges.contains { $0.contains(block) }
    }

    /// Whether every block of `range` is in the set.
    public func contains(_ range: Range<Int>) -> Bool {
        range.isEmpty || ranges.contains { $0.lowerBound <= range.lowerBound && range.upperBound <= $0.upperBound }
    }

    public func union(_ other: BlockRanges) -> BlockRanges { BlockRanges(ranges + other.ranges) }

    public mutating func insert(_ range: Range<Int>) { self = BlockRanges(ranges + [range]) }

    /// The blocks of the set that are not in `other`.
    public func subtracting(_ other: BlockRanges) -> BlockRanges {
        var result: [Range<Int>] = []
        for range in ranges {
            var start = range.lowerBound
            for cut in other.ranges where cut.upperBound > start && cut.lowerBound < range.upperBound {
                if cut.lowerBound > start { result.append(start..<cut.lowerBound) }
                start = max(start, cut.upperBound)
            }
            if start < range.upperBound { result.append(start..<range.upperBound) }
        }
        return BlockRanges(result)
    }

    public var blocks: [Int] { ranges.flatMap { Array($0) } }

    public var description: String {
        ranges.isEmpty ? "no blocks" : ranges.map { "\($0.lowerBound)..<\($0.upperBound)" }.joined(separator: ", ")
    }

    /// Sorted, empty ranges dropped, overlapping or adjacent ranges merged.
    static func normalized(_ ranges: [Range<Int>]) -> [Range<Int>] {
        var merged: [Range<Int>] = []
        for range in ranges.filter({ !$0.isEmpty }).sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = merged.last, range.lowerBound <= last.upperBound {
                merged[merged.count - 1] = last.lowerBound..<max(last.upperBound, range.upperBound)
            } else {
                merged.append(range)
            }
        }
        return merged
    }
}
