import ShardNumerics

/// Retrieval metrics for embeddings: rows `embeddings[i]` ∈ ℝ^d with identity labels `labels[i]`.
///
/// ```
/// distance  d(a, b) = √( Σ_k (a_k − b_k)² )          (Euclidean, summed in component order)
/// recall@1  = (1/n) #{i : labels[nn(i)] == labels[i]}
///           nn(i) = argmin_{j ≠ i} d(e_i, e_j)        (leave-one-out: the query row is never its own neighbour)
/// ```
/// Ties: among rows at exactly the same (squared) distance the lowest index wins, so results do not
/// depend on anything but the input order.
public enum EmbeddingMetrics {
    /// Leave-one-out nearest-neighbour recall@1 over all rows (O(n²·d)). Needs at least two rows.
    public static func recallAtOne(embeddings: [[Double]], labels: [Int]) throws(MetricsError) -> NearestNeighbourRecall {
        _ = try Validate.matrix(embeddings, "embeddings")
        try Validate.sameLength(labels.count, as: embeddings.count, "labels")
        guard embeddings.count >= 2 else {
            throw .tooFewElements(argument: "embeddings", required: 2, actual: embeddings.count)
        }
        // Queries in chunks on every core; each query's answer depends on nothing but the rows. The squared
        // distances are those of `squaredDistance` (components in order), four candidates per vector.
        let count = embeddings.count
        let search = NearestRowSearch(rows: embeddings.flatMap { $0 }, count: count, width: embeddings[0].count)
        // 256 queries per chunk: each pass over the candidates serves them all (the kernel's query tile).
        let chunk = 256
        let chunks = ParallelBlocks.map(count: (count + chunk - 1) / chunk, threads: 0) { (chunkIndex) -> [Int] in
            search.nearest(chunkIndex * chunk..<min(count, (chunkIndex + 1) * chunk))
        }
        let nearest = chunks.flatMap { $0 }
        var hits = 0
        for (query, best) in nearest.enumerated() where labels[best] == labels[query] { hits += 1 }
        return NearestNeighbourRecall(recallAtOne: Double(hits) / Double(embeddings.count), hits: hits,
                                      count: embeddings.count, nearestIndices: nearest)
    }

    /// `d(a, b)` for equal-length rows (callers validate the lengths).
    static func distance(_ a: [Double], _ b: [Double]) -> Double { squaredDistance(a, b).squareRoot() }

    static func squaredDistance(_ a: [Double], _ b: [Double]) -> Double {
        var sum = 0.0
        for index in a.indices {
            let difference = a[index] - b[index]
            sum += difference * difference
        }
        return sum
    }
}

/// The result of `EmbeddingMetrics.recallAtOne`.
public struct NearestNeighbourRecall: Sendable, Equatable, Codable {
    /// `hits / count`.
    public let recallAtOne: Double
    /// Rows whose nearest other row has the same label.
    public let hits: Int
    public let count: Int
    /// `nearestIndices[i]` = nn(i), the nearest other row (lowest index on ties).
    public let nearestIndices: [Int]
}

/// Two rows of an embedding set, whether their labels agree, and their distance.
public struct VerificationPair: Sendable, Equatable, Codable {
    public let first: Int
    public let second: Int
    /// True when `labels[first] == labels[second]` (a "genuine" pair), false for an "impostor" pair.
    public let isSameLabel: Bool
    /// Non-negative distance between the two embeddings (Euclidean when built by `VerificationPairs`).
    public let distance: Double

    public init(first: Int, second: Int, isSameLabel: Bool, distance: Double) {
        self.first = first
        self.second = second
        self.isSameLabel = isSameLabel
        self.distance = distance
    }
}

/// Builders of verification pairs from labelled embeddings. Pairs are unordered, `first < second`,
/// and listed in lexicographic order of `(first, second)`.
public enum VerificationPairs {
    /// Every pair i < j: n(n−1)/2 pairs. Needs at least two rows.
    public static func all(embeddings: [[Double]], labels: [Int]) throws(MetricsError) -> [VerificationPair] {
        try validate(embeddings, labels)
        var pairs: [VerificationPair] = []
        pairs.reserveCapacity(embeddings.count * (embeddings.count - 1) / 2)
        for first in embeddings.indices {
            for second in (first + 1)..<embeddings.count {
                pairs.append(pair(first, second, embeddings, labels))
            }
        }
        return pairs
    }

    /// `count` distinct pairs drawn uniformly without replacement from the n(n−1)/2 pairs, reproducibly
    /// from `seed`; all pairs when `count` ≥ n(n−1)/2.
    ///
    /// ```
    /// pair index p ∈ 0..<M, M = n(n−1)/2, row-major over the upper triangle:
    ///   p = start(i) + (j − i − 1),  start(i) = i·(2n − i − 1)/2
    /// Floyd's algorithm picks `count` distinct p with a SplitMix64 stream seeded by `seed`
    /// (unbiased bounded integers by rejection), and the chosen pairs are returned sorted.
    /// ```
    public static func sampled(embeddings: [[Double]], labels: [Int], count: Int, seed: UInt64)
        throws(MetricsError) -> [VerificationPair]
    {
        try validate(embeddings, labels)
        guard count >= 1 else { throw .invalidArgument(argument: "count", reason: "\(count) pairs requested; need ≥ 1") }
        let rows = embeddings.count
        let pairCount = rows * (rows - 1) / 2
        if count >= pairCount { return try all(embeddings: embeddings, labels: labels) }
        var generator = SplitMix64(seed: seed)
        var chosen = Set<Int>()
        for upper in (pairCount - count)..<pairCount {
            let candidate = Int(generator.next(below: UInt64(upper + 1)))
            chosen.insert(chosen.contains(candidate) ? upper : candidate)
        }
        var pairs: [VerificationPair] = []
        pairs.reserveCapacity(count)
        var first = 0, rowStart = 0  // rowStart = start(first)
        for index in chosen.sorted() {
            while index >= rowStart + (rows - 1 - first) {
                rowStart += rows - 1 - first
                first += 1
            }
            pairs.append(pair(first, first + 1 + index - rowStart, embeddings, labels))
        }
        return pairs
    }

    static func validate(_ embeddings: [[Double]], _ labels: [Int]) throws(MetricsError) {
        _ = try Validate.matrix(embeddings, "embeddings")
        try Validate.sameLength(labels.count, as: embeddings.count, "labels")
        guard embeddings.count >= 2 else {
            throw .tooFewElements(argument: "embeddings", required: 2, actual: embeddings.count)
        }
    }

    static func pair(_ first: Int, _ second: Int, _ embeddings: [[Double]], _ labels: [Int]) -> VerificationPair {
        VerificationPair(first: first, second: second, isSameLabel: labels[first] == labels[second],
                         distance: EmbeddingMetrics.distance(embeddings[first], embeddings[second]))
    }
}

extension SplitMix64 {
    /// Uniform in `0..<bound` (bound ≥ 1): draws are rejected from the top 2⁶⁴ mod bound values so
    /// that every residue is equally likely.
    mutating func next(below bound: UInt64) -> UInt64 {
        let excess = (UInt64.max % bound &+ 1) % bound  // 2⁶⁴ mod bound
        while true {
            let draw = next()
            if excess == 0 || draw < 0 &- excess { return draw % bound }
        }
    }
}
