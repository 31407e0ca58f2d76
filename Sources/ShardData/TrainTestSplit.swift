import ShardNumerics

/// A seeded split of a dataset's rows into training and test rows.
///
/// The rows are put in the order of a Fisher–Yates permutation drawn from the counter-based generator keyed
/// by `seed` (purpose `testSplit`); the last `⌈fraction · n⌉` rows of that order form the test set and the rest,
/// in permutation order, the training set. The same seed and row count always give the same split.
public struct TrainTestSplit: Sendable, Equatable {
    public let trainRows: [Int]
    public let testRows: [Int]


    public init(rowCount: Int, testFraction: Double, seed: UInt64) throws(DataError) {
        guard testFraction > 0, testFraction < 1 else {
            throw .invalidSplit(detail: "the test fraction must be strictly between 0 and 1, got \(testFraction)")
        }
        let testCount = Int((testFraction * Double(rowCount)).rounded(.up))
        guard testCount >= 1, testCount < rowCount else {
            throw .invalidSplit(
                detail: "a test fraction of \(testFraction) of \(rowCount) rows leaves no training or no test rows")
        }
        let order = seededPermutation(count: rowCount, seed: seed, purpose: .testSplit)
        trainRows = Array(order[..<(rowCount - testCount)])
        testRows = Array(order[(rowCount - testCount)...])
    }
}

/// A Fisher–Yates permutation of `0..<count` drawn from the counter-based generator keyed by `seed` and
/// `purpose`: the same arguments always give the same order, on any machine.
public func seededPermutation(count: Int, seed: UInt64, purpose: CounterRandom.Purpose) -> [Int] {
    var order = Array(0..<max(count, 0))
    let random = CounterRandom(seed: seed, round: 0, block: 0, row: 0, purpose: purpose)
    var i = order.count - 1
    while i > 0 {
        order.swapAt(i, random.index(i, below: i + 1))
        i -= 1
    }
    return order
}

extension Dataset {
    /// The generator purpose of `shuffled(seed:)` (201 is the train/test split).

    /// The rows in a seeded random order, so that fixed-size blocks of a file sorted by class (or by time)
    /// mix the classes. Depends only on the seed and the row count, never on the number of workers.
    public func shuffled(seed: UInt64) throws(DataError) -> Dataset {
        try selectingRows(seededPermutation(count: rowCount, seed: seed, purpose: .rowShuffle), in: features.arena)
    }
}
