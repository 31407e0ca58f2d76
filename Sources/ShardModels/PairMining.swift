import ShardNumerics

/// One training triplet: row indices (inside one block, or inside stacked inputs) of the anchor, a
/// positive of the anchor's class and a negative of another class.
public struct TripletIndices: Sendable, Equatable, Hashable {
    public let anchor: Int
    public let positive: Int
    public let negative: Int

    public init(anchor: Int, positive: Int, negative: Int) {
        self.anchor = anchor
        self.positive = positive
        self.negative = negative
    }
}

/// One contrastive pair: two row indices and whether they share a class.
public struct PairIndices: Sendable, Equatable, Hashable {
    public let first: Int
    public let second: Int
    public let similar: Bool

    public init(first: Int, second: Int, similar: Bool) {
        self.first = first
        self.second = second
        self.similar = similar
    }
}

/// The rows of a block grouped by class (a counting sort): the rows of class `c` are
/// `order[start[c] ..< start[c + 1]]`, in increasing row order, and `position[row]` is a row's place in
/// `order`. Drawing "the k-th row of class c" or "the k-th row not of class c" is then O(1).
struct ClassGroups {
    let order: [Int]
    let start: [Int]
    let position: [Int]

    init(classes: [Int], classCount: Int) {
        var start = [Int](repeating: 0, count: classCount + 1)
        for label in classes { start[label + 1] += 1 }
        for label in 0..<classCount { start[label + 1] += start[label] }
        var next = start
        var order = [Int](repeating: 0, count: classes.count)
        var position = [Int](repeating: 0, count: classes.count)
        for (row, label) in classes.enumerated() {
            order[next[label]] = row
            position[row] = next[label]
            next[label] += 1
        }
        self.order = order
        self.start = start
        self.position = position
    }

    var rowCount: Int { order.count }

    func count(of label: Int) -> Int { start[label + 1] - start[label] }

    /// The k-th row (0-based, 0 ≤ k < count(label) − 1) of `row`'s class other than `row` itself.
    func classmate(_ k: Int, of row: Int, label: Int) -> Int {
        let offset = position[row] - start[label]
        return order[start[label] + (k < offset ? k : k + 1)]
    }

    /// The k-th row (0 ≤ k < rowCount − count(label)) whose class is not `label`.
    func outsider(_ k: Int, of label: Int) -> Int {
        k < start[label] ? order[k] : order[k + count(of: label)]
    }
}

/// How the embedding model forms its triplets and pairs inside a block.
///
/// Every random choice for anchor row `a` of block `b` in round `r` of a run with seed `s` comes from
/// `CounterRandom(seed: s, round: r, block: b, row: a, purpose: …)`, so a block's triplets do not depend
/// on which worker computes it.
///
/// ```
/// positive (both triplet rules):  uniform over the other rows of a's class           (purpose tripletPositive, draw 0)
/// tripletRandom negative:         uniform over the rows of other classes              (purpose tripletNegative, draw 0)
/// tripletSemiHard negative, with d(u, v) = ‖e(u) − e(v)‖² on the current embeddings:
///     S  = { n of another class : d(a, n) > d(a, p) }
///     n* = argmin_{n ∈ S} d(a, n)
///     n* if S ≠ ∅ and d(a, n*) < d(a, p) + margin       (semi-hard: farther than p, inside the margin)
///     else argmin over all negatives of d(a, n)         (the hardest negative)
///     ties go to the lowest row index
/// contrastive pair (a, q):        coin = uniform(0) < 1/2                             (purpose pairPartner)
///     coin and a has a classmate (or no row of another class): q uniform over a's classmates, similar
///     otherwise:                                                  q uniform over other classes, dissimilar
///     (q drawn with draw 1)
/// ```
/// An anchor without a classmate or without a row of another class forms no triplet; a row alone in its
/// block forms no pair. The choice is treated as constant when differentiating (as in FaceNet).
enum PairMining {
    static func randomPositive(anchor: Int, label: Int, groups: ClassGroups, random: CounterRandom) -> Int {
        groups.classmate(random.index(0, below: groups.count(of: label) - 1), of: anchor, label: label)
    }

    static func triplets<T: BinaryFloatingPoint>(
        classes: [Int], groups: ClassGroups, embeddings: UnsafeBufferPointer<T>, dimension: Int,
        semiHardMargin: T?, context: RoundContext, blockID: Int
    ) -> [TripletIndices] {
        var triplets: [TripletIndices] = []
        triplets.reserveCapacity(classes.count)
        let rows = groups.rowCount
        for anchor in 0..<rows {
            let label = classes[anchor]
            let classSize = groups.count(of: label)
            guard classSize >= 2, classSize < rows else { continue }
            let positive = randomPositive(
                anchor: anchor, label: label, groups: groups,
                random: CounterRandom(
                    seed: context.seed, round: context.round, block: blockID, row: anchor,
                    purpose: .tripletPositive))
            let negative: Int
            if let margin = semiHardMargin {
                negative = semiHardNegative(
                    anchor: anchor, positive: positive, label: label, groups: groups, embeddings: embeddings,
                    dimension: dimension, margin: margin)
            } else {
                let random = CounterRandom(
                    seed: context.seed, round: context.round, block: blockID, row: anchor,
                    purpose: .tripletNegative)
                negative = groups.outsider(random.index(0, below: rows - classSize), of: label)
            }
            triplets.append(TripletIndices(anchor: anchor, positive: positive, negative: negative))
        }
        return triplets
    }

    /// `‖e(u) − e(v)‖²`
    static func squaredDistance<T: BinaryFloatingPoint>(
        _ u: Int, _ v: Int, embeddings: UnsafeBufferPointer<T>, dimension: Int
    ) -> T {
        var sum: T = 0
        for column in 0..<dimension {
            let difference = embeddings[u * dimension + column] - embeddings[v * dimension + column]
            sum += difference * difference
        }
        return sum
    }

    /// The semi-hard rule above.
    static func semiHardNegative<T: BinaryFloatingPoint>(
        anchor: Int, positive: Int, label: Int, groups: ClassGroups, embeddings: UnsafeBufferPointer<T>,
        dimension: Int, margin: T
    ) -> Int {
        let positiveDistance = squaredDistance(anchor, positive, embeddings: embeddings, dimension: dimension)
        var semiHard: (distance: T, row: Int)?
        var hardest: (distance: T, row: Int)?
        for k in 0..<(groups.rowCount - groups.count(of: label)) {
            let row = groups.outsider(k, of: label)
            let distance = squaredDistance(anchor, row, embeddings: embeddings, dimension: dimension)
            if hardest.map({ distance < $0.distance || (distance == $0.distance && row < $0.row) }) ?? true {
                hardest = (distance, row)
            }
            if distance > positiveDistance,
                semiHard.map({ distance < $0.distance || (distance == $0.distance && row < $0.row) }) ?? true
            {
                semiHard = (distance, row)
            }
        }
        if let semiHard, semiHard.distance < positiveDistance + margin { return semiHard.row }
        // The caller guarantees at least one row of another class.
        return hardest?.row ?? anchor
    }

    static func pairs(classes: [Int], groups: ClassGroups, context: RoundContext, blockID: Int) -> [PairIndices] {
        var pairs: [PairIndices] = []
        pairs.reserveCapacity(classes.count)
        let rows = groups.rowCount
        for row in 0..<rows {
            let label = classes[row]
            let classSize = groups.count(of: label)
            let hasClassmate = classSize >= 2
            let hasOutsider = classSize < rows
            guard hasClassmate || hasOutsider else { continue }
            let random = CounterRandom(
                seed: context.seed, round: context.round, block: blockID, row: row, purpose: .pairPartner)
            let wantsSimilar = random.uniform(0) < 0.5
            if hasClassmate && (wantsSimilar || !hasOutsider) {
                let partner = groups.classmate(random.index(1, below: classSize - 1), of: row, label: label)
                pairs.append(PairIndices(first: row, second: partner, similar: true))
            } else {
                let partner = groups.outsider(random.index(1, below: rows - classSize), of: label)
                pairs.append(PairIndices(first: row, second: partner, similar: false))
            }
        }
        return pairs
    }
}
