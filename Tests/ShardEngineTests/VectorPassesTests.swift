import ShardNumerics
import Testing

@Suite("Vector passes")
struct VectorPassesTests {
    static func values(_ count: Int, seed: UInt64) -> [Double] {
        var random = SplitMix64(seed: seed)
        return (0..<count).map { _ in random.nextUniform(-2, 2) }
    }

    /// The documented order written out plainly: per chunk, 8 lanes by index mod 8, lanes paired; chunks in order.
    static func documentedSumOfSquares(_ values: [Double]) -> Double {
        var total = 0.0
        var start = 0
        while start < values.count {
            let end = min(start + VectorPasses.chunk, values.count)
            var lanes = [Double](repeating: 0, count: 8)
            for index in start..<end { lanes[(index - start) % 8] += values[index] * values[index] }
            let chunkSum = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))
            total = start == 0 ? chunkSum : total + chunkSum
            start = end
        }
        return total
    }

    @Test("sum of squares: the documented order, the same bits for 1, 2 and 3 threads", arguments: [0, 1, 7, 8, 1_001, 16_384, 50_007])
    func sumOfSquares(count: Int) {
        let values = Self.values(count, seed: UInt64(count) + 1)
        let expected = Self.documentedSumOfSquares(values)
        for threads in [1, 2, 3] {
            let sum = values.withUnsafeBufferPointer { VectorPasses.sumOfSquares($0, threads: threads) }
            #expect(sum.bitPattern == expected.bitPattern, "threads \(threads)")
        }
    }

    @Test("add and copy are element-wise: every element as the scalar loop gives it", arguments: [0, 5, 40_000])
    func addAndCopy(count: Int) {
        let source = Self.values(count, seed: 3)
        let start = Self.values(count, seed: 4)
        let expected = zip(start, source).map { $0 + $1 }
        for threads in [1, 2, 3] {
            var target = start
            source.withUnsafeBufferPointer { from in
                target.withUnsafeMutableBufferPointer { VectorPasses.add(from, into: $0, threads: threads) }
            }
            #expect(target.map(\.bitPattern) == expected.map(\.bitPattern))
            let copy = source.withUnsafeBufferPointer { VectorPasses.array(copying: $0, threads: threads) }
            #expect(copy.map(\.bitPattern) == source.map(\.bitPattern))
        }
    }

    @Test("the sum of two vectors into new memory has the bits of adding one into a copy of the other", arguments: [0, 9, 40_000])
    func sumIntoNewMemory(count: Int) {
        let left = Self.values(count, seed: 7)
        let right = Self.values(count, seed: 8)
        var expected = left
        right.withUnsafeBufferPointer { from in
            expected.withUnsafeMutableBufferPointer { VectorPasses.add(from, into: $0, threads: 1) }
        }
        for threads in [1, 2, 3] {
            let sum = left.withUnsafeBufferPointer { a in
                right.withUnsafeBufferPointer { b in VectorPasses.array(summing: a, b, threads: threads) }
            }
            #expect(sum.map(\.bitPattern) == expected.map(\.bitPattern), "threads \(threads)")
        }
    }

    @Test("a pass that sums the squares of what it wrote gives the bits of the separate sum of squares", arguments: [0, 3, 16_384, 50_007])
    func squaresOfAWrittenPass(count: Int) {
        let source = Self.values(count, seed: 9)
        for threads in [1, 2, 3] {
            var written = [Double](repeating: .nan, count: count)
            let squares = source.withUnsafeBufferPointer { source in
                written.withUnsafeMutableBufferPointer { target in
                    let (from, to) = (SharedPointer(source.baseAddress), SharedMutablePointer(target.baseAddress))
                    return VectorPasses.forEachChunk(
                        count: count, threads: threads, summingSquaresOf: UnsafeBufferPointer(target)
                    ) { range in
                        for k in range { to.pointer![k] = 3 * from.pointer![k] }
                    }
                }
            }
            #expect(written == source.map { 3 * $0 })
            #expect(squares.bitPattern == Self.documentedSumOfSquares(written).bitPattern, "threads \(threads)")
        }
    }

    @Test("a pass in pieces visits every index once and sums the ranges' squares with the bits of the separate sums")
    func piecesOverRanges() {
        let count = 50_007
        let values = Self.values(count, seed: 10)
        let cases: [[Range<Int>]] = [[], [0..<count], [5..<5, 7..<16_391, 16_391..<40_000, 40_001..<count], [33_333..<33_340]]
        for ranges in cases {
            let expected = values.withUnsafeBufferPointer { VectorPasses.sumOfSquares($0, over: ranges, threads: 1) }
            var plain = 0.0
            for range in ranges { plain += Self.documentedSumOfSquares(Array(values[range])) }
            #expect(expected.bitPattern == plain.bitPattern)
            for threads in [1, 2, 3] {
                var visits = [Int](repeating: 0, count: count)
                let squares = values.withUnsafeBufferPointer { values in
                    visits.withUnsafeMutableBufferPointer { visits in
                        let to = SharedMutablePointer(visits.baseAddress)
                        return VectorPasses.forEachPiece(
                            count: count, threads: threads, summingSquaresOf: values, over: ranges
                        ) { piece in
                            for k in piece { to.pointer![k] += 1 }
                        }
                    }
                }
                #expect(visits.allSatisfy { $0 == 1 }, "threads \(threads)")
                #expect(squares.bitPattern == expected.bitPattern, "\(ranges), threads \(threads)")
            }
        }
    }
}
