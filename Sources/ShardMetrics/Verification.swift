/// A distance threshold for face-verification-style decisions: a pair is predicted "same identity"
/// when its distance is at most `threshold`.
///
/// Fitting on training pairs maximises accuracy over the candidate cut points:
/// ```
/// sort the training distances; let d_(1) < d_(2) < … < d_(m) be the distinct values
/// candidate c_0 accepts nothing, candidate c_k accepts every pair with distance ≤ d_(k)
/// accuracy(c) = ( #{same pairs accepted} + #{different pairs rejected} ) / N
/// chosen      = the first candidate, scanning c_0, c_1, …, c_m, whose accuracy is maximal
/// ```
/// so ties in accuracy go to the smallest threshold (fewest accepted pairs, hence fewest false
/// accepts), and equal distances are never split. The stored threshold is `d_(k)` itself — a later
/// pair at exactly that distance is accepted — and for c_0 it is `d_(1).nextDown`, the largest double
/// below every training distance, so it stays finite and JSON-encodable.
public struct VerificationThreshold: Sendable, Equatable, Codable {
    public let threshold: Double
    /// Accuracy of `threshold` on the pairs it was fitted on.
    public let trainingAccuracy: Double
    public let trainingPairCount: Int

    /// Fits the threshold on `trainingPairs` (non-empty, finite non-negative distances).
    public init(fitting trainingPairs: [VerificationPair]) throws(MetricsError) {
        try Validate.nonEmpty(trainingPairs.count, "trainingPairs")
        try Self.validate(trainingPairs, "trainingPairs")
        let sorted = trainingPairs.sorted { $0.distance < $1.distance }
        var correct = trainingPairs.reduce(0) { $0 + ($1.isSameLabel ? 0 : 1) }  // c_0: all rejected
        var bestCorrect = correct
        var bestThreshold = sorted[0].distance.nextDown
        var index = 0
        while index < sorted.count {
            let distance = sorted[index].distance
            while index < sorted.count, sorted[index].distance == distance {
                correct += sorted[index].isSameLabel ? 1 : -1
                index += 1
            }
            if correct > bestCorrect { (bestCorrect, bestThreshold) = (correct, distance) }
        }
        threshold = bestThreshold
        trainingAccuracy = Double(bestCorrect) / Double(trainingPairs.count)
        trainingPairCount = trainingPairs.count
    }

    /// `distance ≤ threshold`.
    public func predictsSame(distance: Double) -> Bool { distance <= threshold }

    /// Confusion counts and accuracy of this threshold on `pairs` (non-empty, finite non-negative distances).
    public func evaluate(_ pairs: [VerificationPair]) throws(MetricsError) -> VerificationOutcome {
        try Validate.nonEmpty(pairs.count, "pairs")
        try Self.validate(pairs, "pairs")
        var truePositives = 0, falsePositives = 0, trueNegatives = 0, falseNegatives = 0
        for pair in pairs {
            switch (pair.isSameLabel, predictsSame(distance: pair.distance)) {
            case (true, true): truePositives += 1
            case (false, true): falsePositives += 1
            case (false, false): trueNegatives += 1
            case (true, false): falseNegatives += 1
            }
        }
        return VerificationOutcome(threshold: threshold, truePositives: truePositives, falsePositives: falsePositives,
                                   trueNegatives: trueNegatives, falseNegatives: falseNegatives)
    }

    static func validate(_ pairs: [VerificationPair], _ argument: String) throws(MetricsError) {
        for (index, pair) in pairs.enumerated() {
            guard pair.distance.isFinite else { throw .nonFiniteValue(argument: "\(argument).distance", index: index) }
            guard pair.distance >= 0 else {
                throw .invalidArgument(argument: "\(argument)[\(index)].distance",
                                       reason: "distance \(pair.distance) is negative")
            }
        }
    }
}

/// Verification results at one threshold. "Positive" = predicted same identity.
///
/// ```
/// accuracy = (TP + TN) / (TP + FP + TN + FN)
/// TP = same pairs accepted, FP = different pairs accepted, TN = different rejected, FN = same rejected
/// ```
public struct VerificationOutcome: Sendable, Equatable, Codable {
    public let threshold: Double
    public let truePositives: Int
    public let falsePositives: Int
    public let trueNegatives: Int
    public let falseNegatives: Int
    public let accuracy: Double
    public let count: Int

    init(threshold: Double, truePositives: Int, falsePositives: Int, trueNegatives: Int, falseNegatives: Int) {
        self.threshold = threshold
        self.truePositives = truePositives
        self.falsePositives = falsePositives
        self.trueNegatives = trueNegatives
        self.falseNegatives = falseNegatives
        count = truePositives + falsePositives + trueNegatives + falseNegatives
        accuracy = Double(truePositives + trueNegatives) / Double(count)
    }

    /// Aligned text: the threshold, the four counts and the accuracy.
    public func renderTable(digits: Int = 4) -> String {
        var table = TextTable(header: ["", "accepted", "rejected"])
        table.append(["same", String(truePositives), String(falseNegatives)])
        table.append(["different", String(falsePositives), String(trueNegatives)])
        return "threshold \(threshold)\n" + table.render() + "\naccuracy " + fixedPoint(accuracy, digits: digits)
            + " (\(truePositives + trueNegatives) of \(count) pairs)"
    }
}

/// Open-set identification against a gallery of labelled embeddings.
///
/// ```
/// j* = argmin_j d(query, gallery_j)     (lowest index on ties)
/// identify(query) = .match(labels[j*], d*)   if d* = d(query, gallery_{j*}) ≤ threshold
///                 = .unknown(d*)             otherwise
/// ```
/// The rule matches `VerificationThreshold`: a fitted `threshold` can be passed straight in.
public struct Identifier: Sendable, Equatable, Codable {
    public let gallery: [[Double]]
    public let labels: [Int]
    public let threshold: Double

    /// A non-empty rectangular finite gallery, one label per row, and a finite threshold.
    public init(gallery: [[Double]], labels: [Int], threshold: Double) throws(MetricsError) {
        _ = try Validate.matrix(gallery, "gallery")
        try Validate.sameLength(labels.count, as: gallery.count, "labels")
        guard threshold.isFinite else { throw .nonFiniteValue(argument: "threshold", index: 0) }
        self.gallery = gallery
        self.labels = labels
        self.threshold = threshold
    }

    /// Decoding re-validates, so a decoded identifier satisfies the same invariants.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(gallery: container.decode([[Double]].self, forKey: .gallery),
                      labels: container.decode([Int].self, forKey: .labels),
                      threshold: container.decode(Double.self, forKey: .threshold))
    }

    /// The nearest gallery row's label, or `.unknown` when even the nearest is farther than `threshold`.
    public func identify(_ query: [Double]) throws(MetricsError) -> Identification {
        guard query.count == gallery[0].count else {
            throw .dimensionMismatch(argument: "query", row: 0, expected: gallery[0].count, actual: query.count)
        }
        try Validate.finite(query, "query")
        var best = 0, bestSquared = EmbeddingMetrics.squaredDistance(query, gallery[0])
        for index in 1..<gallery.count {
            let squared = EmbeddingMetrics.squaredDistance(query, gallery[index])
            if squared < bestSquared { (best, bestSquared) = (index, squared) }
        }
        let distance = bestSquared.squareRoot()
        return distance <= threshold ? .match(label: labels[best], distance: distance, galleryIndex: best)
                                     : .unknown(nearestDistance: distance)
    }
}

/// The answer of `Identifier.identify`.
public enum Identification: Sendable, Equatable, Codable {
    /// The nearest gallery row (`galleryIndex`) is within the threshold.
    case match(label: Int, distance: Double, galleryIndex: Int)
    /// No gallery row is within the threshold; `nearestDistance` is the closest one's distance.
    case unknown(nearestDistance: Double)
}
