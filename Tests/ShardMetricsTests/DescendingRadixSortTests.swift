import Testing

@testable import ShardMetrics

@Suite("DescendingRadixSort")
struct DescendingRadixSortTests {
    /// Values that stress the bit-pattern keys: signs, zeros of both signs, subnormals, extremes, repeats.
    static let specials: [Double] = [
        0, -0.0, 1, -1, .leastNonzeroMagnitude, -.leastNonzeroMagnitude, .leastNormalMagnitude,
        -.leastNormalMagnitude, .greatestFiniteMagnitude, -.greatestFiniteMagnitude, 0.5, -0.5, 1e-300, -1e300,
    ]

    /// Above 2 × 2¹⁶ scores the sort runs in parts that are merged: 2 parts, and 3 (an odd number of merges).
    @Test(
        "the same order as a comparison sort, labels carried along, for any thread count",
        arguments: [(0, 1), (1, 2), (2, 1), (7, 2), (1000, 2), (70_000, 2), (140_000, 2), (300_000, 3), (300_000, 1)])
    func matchesComparisonSort(count: Int, threads: Int) {
        var generator = SystemRandomNumberGenerator()
        var scores: [Double] = []
        for index in 0..<count {
            switch index % 4 {
            case 0: scores.append(Self.specials[Int.random(in: 0..<Self.specials.count, using: &generator)])
            case 1: scores.append(Double(Int.random(in: -5...5, using: &generator)))  // many ties
            default: scores.append(Double.random(in: -1e6...1e6, using: &generator))
            }
        }
        // Label = the position, so the carried labels reveal where each score went.
        let positions = Array(0..<count)
        let labels = positions.map { $0 % 3 == 0 }
        let (sorted, carried) = DescendingRadixSort.sort(scores: scores, labels: labels, threads: threads)
        #expect(sorted.count == count)
        #expect(zip(sorted, sorted.dropFirst()).allSatisfy { $0 >= $1 }, "not descending")
        #expect(sorted.map(\.bitPattern).sorted() == scores.map(\.bitPattern).sorted(), "not a permutation")
        // A stable comparison sort gives the same sequence of (score bits, label) pairs up to the order of
        // −0 and +0, which compare equal: compare with zeros' signs erased.
        let reference = positions.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
        func erased(_ value: Double) -> UInt64 { value == 0 ? 0 : value.bitPattern }
        #expect(sorted.map(erased) == reference.map { erased(scores[$0]) })
        var positives = [Int: Int](), expectedPositives = [Int: Int]()
        for (score, label) in zip(sorted, carried) where label { positives[Int(erased(score) % 1_000_003), default: 0] += 1 }
        for index in positions where labels[index] {
            expectedPositives[Int(erased(scores[index]) % 1_000_003), default: 0] += 1
        }
        #expect(positives == expectedPositives, "labels did not travel with their scores")
    }

    @Test("parts sorted apart and merged keep the input order among equal keys, as one part does")
    func mergedPartsAreStable() {
        // 200,000 scores from 5 values: long runs of equal keys that cross the parts' bounds.
        let scores = (0..<200_000).map { Double(($0 * 7919) % 5) - 2 }
        let labels = (0..<200_000).map { ($0 / 3) % 2 == 0 }
        let one = DescendingRadixSort.sort(scores: scores, labels: labels, threads: 1)
        for threads in [2, 3] {
            let parts = DescendingRadixSort.sort(scores: scores, labels: labels, threads: threads)
            #expect(parts.scores.map(\.bitPattern) == one.scores.map(\.bitPattern))
            #expect(parts.labels == one.labels)
        }
    }

    @Test("−0 sorts directly below +0 and among equal keys the input order is kept")
    func zerosAndStability() {
        let (sorted, labels) = DescendingRadixSort.sort(scores: [-0.0, 0, -0.0, 0, -1], labels: [true, false, false, true, true])
        #expect(sorted.map(\.bitPattern) == [0, 0, (-0.0).bitPattern, (-0.0).bitPattern, (-1.0).bitPattern])
        #expect(labels == [false, true, true, false, true])
    }
}
