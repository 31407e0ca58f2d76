import Foundation
import ShardMetrics
import ShardNumerics
import Testing

extension ShardMetricsTests {
    // Integer-grid embeddings, so many distances tie exactly (1, √2, √5, √10 …).
    static let trainingEmbeddings: [[Double]] = [[0, 0], [1, 0], [0, 1], [5, 5], [6, 5], [5, 6], [0, 5], [1, 5],
                                                 [3, 3], [2, 2], [4, 4], [6, 0]]
    static let trainingLabels = [0, 0, 0, 1, 1, 1, 2, 2, 1, 0, 1, 2]
    static let evaluationEmbeddings: [[Double]] = [[0, 0], [2, 1], [5, 4], [4, 6], [1, 6], [0, 4], [3, 2], [3, 4],
                                                   [6, 1], [1, 1]]
    static let evaluationLabels = [0, 0, 1, 1, 2, 2, 0, 1, 2, 0]

    @Test func recallAtOneMatchesIndependentComputation() throws {
        // numpy: D = scipy.spatial.distance.cdist(E, E); fill_diagonal(D, inf); nn = D.argmin(axis=1)
        // (argmin returns the first minimum, i.e. the same lowest-index tie rule); mean(labels[nn] == labels)
        let training = try EmbeddingMetrics.recallAtOne(embeddings: Self.trainingEmbeddings, labels: Self.trainingLabels)
        #expect(training.nearestIndices == [1, 0, 0, 4, 3, 3, 7, 6, 9, 8, 3, 8])
        #expect(training.recallAtOne == 0.75 && training.hits == 9 && training.count == 12)
        let evaluation = try EmbeddingMetrics.recallAtOne(embeddings: Self.evaluationEmbeddings,
                                                          labels: Self.evaluationLabels)
        // Row 3 ([4, 6]) is √5 from rows 2 and 7 and row 8 ([6, 1]) is √10 from rows 2 and 6: the lowest index wins.
        #expect(evaluation.nearestIndices == [9, 9, 7, 2, 5, 4, 1, 2, 2, 1])
        #expect(evaluation.recallAtOne == 0.9)
    }

    /// The nearest other row by the plain loop: squared distances with components added in order, the first
    /// candidate taken and a later one only when strictly nearer.
    static func nearestByLoop(_ embeddings: [[Double]]) -> [Int] {
        embeddings.indices.map { query in
            var best = -1, bestDistance = Double.infinity
            for candidate in embeddings.indices where candidate != query {
                var distance = 0.0
                for k in embeddings[query].indices {
                    let difference = embeddings[query][k] - embeddings[candidate][k]
                    distance += difference * difference
                }
                if best < 0 || distance < bestDistance { (best, bestDistance) = (candidate, distance) }
            }
            return best
        }
    }

    @Test("recall@1's neighbours are the plain loop's: ties, duplicate rows, row counts around the 4-row vectors",
          arguments: [2, 3, 5, 37, 130])
    func recallAtOneMatchesThePlainLoop(rows: Int) throws {
        var generator = SplitMix64(seed: UInt64(rows))
        // Values on a coarse grid (exact ties between distances) plus every fifth row a copy of an earlier one.
        var embeddings = (0..<rows).map { _ in (0..<7).map { _ in Double(generator.next() % 5) * 0.25 - 0.5 } }
        for row in stride(from: 5, to: rows, by: 5) { embeddings[row] = embeddings[Int(generator.next() % UInt64(row))] }
        let labels = (0..<rows).map { $0 % 3 }
        let recall = try EmbeddingMetrics.recallAtOne(embeddings: embeddings, labels: labels)
        let expected = Self.nearestByLoop(embeddings)
        #expect(recall.nearestIndices == expected)
        #expect(recall.hits == zip(expected, labels).enumerated().filter { labels[$0.element.0] == $0.element.1 }.count)
        // Random values too (no exact ties).
        let random = (0..<rows).map { _ in (0..<9).map { _ in Double(generator.next() >> 11) * 0x1p-53 } }
        #expect(try EmbeddingMetrics.recallAtOne(embeddings: random, labels: labels).nearestIndices == Self.nearestByLoop(random))
    }

    @Test func verificationThresholdMatchesIndependentComputation() throws {
        let training = try VerificationPairs.all(embeddings: Self.trainingEmbeddings, labels: Self.trainingLabels)
        #expect(training.count == 66)
        // scipy.spatial.distance.pdist gives the same distances in the same (i < j, row-major) order.
        #expect(training[0].distance == 1 && training[1].distance == 1 && close(training[2].distance, 50.0.squareRoot()))
        let fitted = try VerificationThreshold(fitting: training)
        // numpy brute force over candidates [nextafter(min, -inf)] + unique(distances): accuracy
        // mean((d <= c) == same), first argmax. The maximum 0.8939393939393939 (59/66) is reached at both
        // √5 and √8; the tie rule picks the smaller, √5 = 2.23606797749979.
        #expect(fitted.threshold == 5.0.squareRoot())
        #expect(fitted.trainingAccuracy == 59.0 / 66.0)
        #expect(fitted.trainingPairCount == 66)
        let evaluation = try VerificationPairs.all(embeddings: Self.evaluationEmbeddings, labels: Self.evaluationLabels)
        let outcome = try fitted.evaluate(evaluation)
        // numpy on the evaluation pairs at that threshold: accuracy 0.9111111111111111, TP 9, FP 1, TN 32, FN 3
        let counts: [Int] = [outcome.truePositives, outcome.falsePositives, outcome.trueNegatives, outcome.falseNegatives]
        #expect(counts == [9, 1, 32, 3])
        #expect(close(outcome.accuracy, 0.9111111111111111))
        #expect(outcome.count == 45)
        #expect(outcome.renderTable().hasSuffix("accuracy 0.9111 (41 of 45 pairs)"))
    }

    /// By hand. Distances 1 (same), 2 (different), 3 (same), 4 (different):
    /// accept none → 2/4, ≤ 1 → 3/4, ≤ 2 → 2/4, ≤ 3 → 3/4, ≤ 4 → 2/4; the tie between 1 and 3 goes to 1.
    /// Distances 1 (different), 2 (different), 3 (same): accepting nothing is best (2/3), stored as 1.nextDown.
    /// Tied distances are never split: 1 (same), 1 (different), 1 (different) → accept none (2/3).
    /// Distances 0 (different), 1 (same): accept none (1/2) ties with ≤ 1 (1/2) → 0.nextDown.
    @Test func handCheckedThresholdSelection() throws {
        func pairs(_ items: [(Double, Bool)]) -> [VerificationPair] {
            items.enumerated().map { VerificationPair(first: 0, second: $0.offset + 1, isSameLabel: $0.element.1,
                                                      distance: $0.element.0) }
        }
        let first = try VerificationThreshold(fitting: pairs([(3, true), (1, true), (4, false), (2, false)]))
        #expect(first.threshold == 1 && first.trainingAccuracy == 0.75)
        let rejectAll = try VerificationThreshold(fitting: pairs([(1, false), (2, false), (3, true)]))
        #expect(rejectAll.threshold == 1.0.nextDown && close(rejectAll.trainingAccuracy, 2.0 / 3.0))
        #expect(!rejectAll.predictsSame(distance: 1) && rejectAll.predictsSame(distance: 0.5))
        let tied = try VerificationThreshold(fitting: pairs([(1, true), (1, false), (1, false)]))
        #expect(tied.threshold < 1)
        let zero = try VerificationThreshold(fitting: pairs([(0, false), (1, true)]))
        // Accept none (1/2), ≤ 0 (0/2), ≤ 1 (1/2): accept none wins the tie; below 0 the threshold is
        // still finite.
        #expect(zero.threshold == 0.0.nextDown && zero.threshold.isFinite && zero.trainingAccuracy == 0.5)
        // A pair exactly at the threshold is accepted.
        #expect(first.predictsSame(distance: 1) && !first.predictsSame(distance: 1.0.nextUp))
    }

    @Test(arguments: [11, 12] as [UInt64])
    func wellSeparatedClustersHavePerfectRecall(seed: UInt64) throws {
        var generator = SplitMix64(seed: seed)
        var embeddings: [[Double]] = [], labels: [Int] = []
        for cluster in 0..<5 {
            let centre = (0..<8).map { dimension in dimension == cluster ? 100.0 : 0.0 }
            for _ in 0..<20 {
                embeddings.append(centre.map { $0 + generator.normal() })
                labels.append(cluster)
            }
        }
        let recall = try EmbeddingMetrics.recallAtOne(embeddings: embeddings, labels: labels)
        #expect(recall.recallAtOne == 1)
        // Verification on well-separated clusters is perfect too, and the fitted threshold carries over.
        let pairs = try VerificationPairs.all(embeddings: embeddings, labels: labels)
        let fitted = try VerificationThreshold(fitting: pairs)
        #expect(fitted.trainingAccuracy == 1)
        let sample = try VerificationPairs.sampled(embeddings: embeddings, labels: labels, count: 500, seed: seed)
        #expect(try fitted.evaluate(sample).accuracy == 1)
    }

    @Test func sampledPairsAreReproducibleDistinctAndUniform() throws {
        let embeddings = (0..<30).map { [Double($0), Double($0 % 7)] }
        let labels = (0..<30).map { $0 % 3 }
        let all = try VerificationPairs.all(embeddings: embeddings, labels: labels)
        #expect(all.count == 435)
        let sample = try VerificationPairs.sampled(embeddings: embeddings, labels: labels, count: 100, seed: 7)
        #expect(sample.count == 100)
        #expect(try VerificationPairs.sampled(embeddings: embeddings, labels: labels, count: 100, seed: 7) == sample)
        #expect(try VerificationPairs.sampled(embeddings: embeddings, labels: labels, count: 100, seed: 8) != sample)
        // Sorted, distinct, and each one equal to the pair of the full list with the same rows.
        let keys = sample.map { [$0.first, $0.second] }
        #expect(keys == keys.sorted { $0.lexicographicallyPrecedes($1) })
        #expect(Set(keys).count == 100)
        for pair in sample {
            #expect(pair.first < pair.second)
            #expect(all.contains(pair))
        }
        // Asking for at least every pair returns every pair.
        #expect(try VerificationPairs.sampled(embeddings: embeddings, labels: labels, count: 435, seed: 1) == all)
        // Uniform without replacement: over many seeds each pair is drawn ≈ 100/435 of the time.
        var hits = [Int](repeating: 0, count: 435)
        let position = Dictionary(uniqueKeysWithValues: all.enumerated().map { ("\($0.element.first),\($0.element.second)", $0.offset) })
        let rounds = 400
        for seed in 0..<UInt64(rounds) {
            for pair in try VerificationPairs.sampled(embeddings: embeddings, labels: labels, count: 100, seed: seed) {
                hits[position["\(pair.first),\(pair.second)"]!] += 1
            }
        }
        // Expected 400·100/435 ≈ 92 per pair, standard deviation ≈ 8.4; allow 5 of them.
        let expected = Double(rounds * 100) / 435
        #expect(hits.allSatisfy { abs(Double($0) - expected) < 5 * (expected * (1 - 100.0 / 435)).squareRoot() })
    }

    @Test func identifierMatchesWithinThresholdOnly() throws {
        let identifier = try Identifier(gallery: [[0, 0], [4, 0], [0, 4], [4, 0]], labels: [7, 8, 9, 10], threshold: 1.5)
        #expect(try identifier.identify([0.6, 0.8]) == .match(label: 7, distance: 1, galleryIndex: 0))
        #expect(try identifier.identify([2, 2]) == .unknown(nearestDistance: 8.0.squareRoot()))
        // Rows 1 and 3 are the same point: the lowest index wins.
        #expect(try identifier.identify([4, 1.5]) == .match(label: 8, distance: 1.5, galleryIndex: 1))
        #expect(metricsError { try identifier.identify([1]) } == .dimensionMismatch(argument: "query", row: 0, expected: 2, actual: 1))
        #expect(metricsError { try identifier.identify([1, .nan]) } == .nonFiniteValue(argument: "query", index: 1))
        let decoded = try JSONDecoder().decode(Identifier.self, from: JSONEncoder().encode(identifier))
        #expect(decoded == identifier)
        let result = try identifier.identify([0.6, 0.8])
        #expect(try JSONDecoder().decode(Identification.self, from: JSONEncoder().encode(result)) == result)
        let ragged = Data(#"{"gallery":[[0,0],[1]],"labels":[1,2],"threshold":1}"#.utf8)
        #expect(throws: (any Error).self) { try JSONDecoder().decode(Identifier.self, from: ragged) }
    }

    @Test func embeddingMetricsRejectInvalidInput() {
        #expect(metricsError { try EmbeddingMetrics.recallAtOne(embeddings: [[1, 2]], labels: [0]) }
            == .tooFewElements(argument: "embeddings", required: 2, actual: 1))
        #expect(metricsError { try EmbeddingMetrics.recallAtOne(embeddings: [], labels: []) } == .emptyInput(argument: "embeddings"))
        #expect(metricsError { try EmbeddingMetrics.recallAtOne(embeddings: [[1, 2], [3]], labels: [0, 1]) }
            == .dimensionMismatch(argument: "embeddings", row: 1, expected: 2, actual: 1))
        #expect(metricsError { try EmbeddingMetrics.recallAtOne(embeddings: [[1, 2], [3, 4]], labels: [0]) }
            == .lengthMismatch(argument: "labels", expected: 2, actual: 1))
        #expect(metricsError { try VerificationPairs.all(embeddings: [[1, 2], [3, .infinity]], labels: [0, 1]) }
            == .nonFiniteValue(argument: "embeddings[1]", index: 1))
        #expect(metricsError { try VerificationPairs.sampled(embeddings: [[1], [2]], labels: [0, 1], count: 0, seed: 0) }
            == .invalidArgument(argument: "count", reason: "0 pairs requested; need ≥ 1"))
        #expect(metricsError { try VerificationThreshold(fitting: []) } == .emptyInput(argument: "trainingPairs"))
        let negative = [VerificationPair(first: 0, second: 1, isSameLabel: true, distance: -1)]
        #expect(metricsError { try VerificationThreshold(fitting: negative) }
            == .invalidArgument(argument: "trainingPairs[0].distance", reason: "distance -1.0 is negative"))
        let infinite = [VerificationPair(first: 0, second: 1, isSameLabel: true, distance: .infinity)]
        #expect(metricsError { try VerificationThreshold(fitting: infinite) }
            == .nonFiniteValue(argument: "trainingPairs.distance", index: 0))
        #expect(metricsError { try Identifier(gallery: [[0]], labels: [1], threshold: .nan) }
            == .nonFiniteValue(argument: "threshold", index: 0))
    }
}
