/// Binary ranking metrics from real-valued scores: ROC curve, ROC-AUC, precision–recall curve and
/// average precision.
///
/// Conventions shared by every function here:
/// ```
/// labels[i] = true for a positive, scores[i] = higher means "more positive"
/// P = #positives, N = #negatives      (both must be ≥ 1, else MetricsError.singleClass)
/// thresholds = the distinct scores, descending: s_(1) > s_(2) > … > s_(m)
/// at threshold s_(j) every sample with score ≥ s_(j) is predicted positive, so tied scores always
/// enter together (a threshold never splits a group of equal scores):
///   TP_j = #{positives with score ≥ s_(j)},  FP_j = #{negatives with score ≥ s_(j)}
/// ```
/// Scores are grouped by exact equality of the `Double` values. A sample of one class only is
/// rejected for every metric here, also the PR ones where "no negatives" would give a trivial AP of 1:
/// a one-class evaluation set is almost always a data-split bug, so it surfaces as an error.
public enum Ranking {
    /// The ROC curve at every distinct score (sklearn's `roc_curve(…, drop_intermediate=False)`).
    public static func rocCurve(labels: [Bool], scores: [Double]) throws(MetricsError) -> ROCCurve {
        let groups = try ScoreGroups(labels: labels, scores: scores)
        var points = [ROCPoint(threshold: nil, falsePositiveRate: 0, truePositiveRate: 0)]
        var truePositives = 0, falsePositives = 0
        groups.forEachGroup { score, positives, negatives in
            truePositives += positives
            falsePositives += negatives
            points.append(ROCPoint(threshold: score,
                                   falsePositiveRate: Double(falsePositives) / Double(groups.negatives),
                                   truePositiveRate: Double(truePositives) / Double(groups.positives)))
        }
        return ROCCurve(points: points, area: groups.rocArea(), positives: groups.positives,
                        negatives: groups.negatives)
    }

    /// Area under the ROC curve.
    ///
    /// ```
    /// AUC = Σ_j (FPR_j − FPR_{j−1}) · (TPR_j + TPR_{j−1}) / 2              (trapezoid, (FPR_0, TPR_0) = (0, 0))
    ///     = (1/(P·N)) Σ_j n_j · (TP_{j−1} + p_j / 2)                        (p_j, n_j = positives, negatives at s_(j))
    ///     = (1/(P·N)) #{(i⁺, i⁻) : s_i⁺ > s_i⁻} + ½ #{(i⁺, i⁻) : s_i⁺ = s_i⁻}   (Mann–Whitney U / (P·N))
    /// ```
    /// The second line is what is computed: counts are exact integers, with one division at the end.
    public static func rocAUC(labels: [Bool], scores: [Double]) throws(MetricsError) -> Double {
        try ScoreGroups(labels: labels, scores: scores).rocArea()
    }

    /// The precision–recall curve at every distinct score, highest score first.
    ///
    /// ```
    /// precision_j = TP_j / (TP_j + FP_j)      (never 0/0: each threshold admits at least one sample)
    /// recall_j    = TP_j / P
    /// ```
    /// The same points as sklearn's `precision_recall_curve`, which lists them in the opposite order and
    /// appends the anchor (recall 0, precision 1) that is not a threshold.
    public static func precisionRecallCurve(labels: [Bool], scores: [Double]) throws(MetricsError)
        -> PrecisionRecallCurve
    {
        precisionRecallCurve(try ScoreGroups(labels: labels, scores: scores))
    }

    static func precisionRecallCurve(_ groups: ScoreGroups) -> PrecisionRecallCurve {
        var points: [PrecisionRecallPoint] = []
        groups.forEachPrecisionRecall { points.append($0) }
        return PrecisionRecallCurve(points: points, positives: groups.positives, negatives: groups.negatives)
    }

    /// Average precision, the step-wise area under the PR curve (`sklearn.metrics.average_precision_score`).
    ///
    /// ```
    /// AP = Σ_j (R_j − R_{j−1}) · P_j        over distinct thresholds, R_0 = 0
    /// ```
    /// Each recall increment is weighted by the precision at the threshold that achieved it (no
    /// interpolation). `PrecisionRecallCurve.trapezoidalArea` gives the trapezoid alternative.
    public static func averagePrecision(labels: [Bool], scores: [Double]) throws(MetricsError) -> Double {
        try precisionRecallCurve(labels: labels, scores: scores).averagePrecision
    }

    /// ROC-AUC, average precision and the trapezoidal PR area from one sort of the scores.
    public static func report(labels: [Bool], scores: [Double]) throws(MetricsError) -> RankingReport {
        // The areas are summed point by point as the curve is walked (the same sums, in the same order, as
        // `PrecisionRecallCurve`'s), so a million scores need no curve in memory.
        let groups = try ScoreGroups(labels: labels, scores: scores)
        var areas = PrecisionRecallAreas()
        groups.forEachPrecisionRecall { areas.add($0) }
        return RankingReport(rocAUC: groups.rocArea(), averagePrecision: areas.stepwise,
                             trapezoidalPRArea: areas.trapezoidal, positives: groups.positives,
                             negatives: groups.negatives)
    }
}

/// The scalar ranking metrics of one scored sample (see `Ranking`).
public struct RankingReport: Sendable, Equatable, Codable {
    /// Area under the ROC curve, ties counted ½.
    public let rocAUC: Double
    /// Step-wise PR-AUC, Σ (R_j − R_{j−1}) P_j.
    public let averagePrecision: Double
    /// Trapezoidal PR-AUC with the (0, 1) anchor (reported for comparison only).
    public let trapezoidalPRArea: Double
    public let positives: Int
    public let negatives: Int

    /// One aligned `name  value` line per metric.
    public func renderTable(digits: Int = 4) -> String {
        var table = TextTable(header: ["metric", "value"])
        table.append(["ROC-AUC", fixedPoint(rocAUC, digits: digits)])
        table.append(["average precision", fixedPoint(averagePrecision, digits: digits)])
        table.append(["PR-AUC (trapezoid)", fixedPoint(trapezoidalPRArea, digits: digits)])
        table.append(["positives", String(positives)])
        table.append(["negatives", String(negatives)])
        return table.render()
    }
}

/// One point of a ROC curve.
public struct ROCPoint: Sendable, Equatable, Codable {
    /// Samples with score ≥ `threshold` are predicted positive; `nil` for the origin (0, 0), where
    /// nothing is (sklearn writes +∞ there, which JSON cannot hold).
    public let threshold: Double?
    public let falsePositiveRate: Double
    public let truePositiveRate: Double
}

/// A ROC curve: the origin followed by one point per distinct score, descending; ends at (1, 1).
public struct ROCCurve: Sendable, Equatable, Codable {
    public let points: [ROCPoint]
    /// ROC-AUC (see `Ranking.rocAUC`).
    public let area: Double
    public let positives: Int
    public let negatives: Int

    /// Aligned text, one line per point: threshold (`-` for the origin), FPR, TPR.
    public func renderTable(digits: Int = 4) -> String {
        var table = TextTable(header: ["threshold", "FPR", "TPR"])
        for point in points {
            table.append([point.threshold.map { "\($0)" } ?? "-", fixedPoint(point.falsePositiveRate, digits: digits),
                          fixedPoint(point.truePositiveRate, digits: digits)])
        }
        return table.render()
    }
}

/// One point of a precision–recall curve.
public struct PrecisionRecallPoint: Sendable, Equatable, Codable {
    /// Samples with score ≥ `threshold` are predicted positive.
    public let threshold: Double
    public let precision: Double
    public let recall: Double
}

/// A precision–recall curve: one point per distinct score, descending, so recall is non-decreasing
/// and the last point has recall 1.
public struct PrecisionRecallCurve: Sendable, Equatable, Codable {
    public let points: [PrecisionRecallPoint]
    public let positives: Int
    public let negatives: Int

    /// Aligned text, one line per point: threshold, precision, recall.
    public func renderTable(digits: Int = 4) -> String {
        var table = TextTable(header: ["threshold", "precision", "recall"])
        for point in points {
            table.append(["\(point.threshold)", fixedPoint(point.precision, digits: digits),
                          fixedPoint(point.recall, digits: digits)])
        }
        return table.render()
    }

    /// The step-wise area `AP = Σ_j (R_j − R_{j−1}) · P_j`, R_0 = 0 (see `Ranking.averagePrecision`).
    public var averagePrecision: Double { areas.stepwise }

    /// The trapezoid alternative, `sklearn.metrics.auc(recall, precision)` on `precision_recall_curve`:
    ///
    /// ```
    /// A = Σ_j (R_j − R_{j−1}) · (P_j + P_{j−1}) / 2      with the anchor (R_0, P_0) = (0, 1)
    /// ```
    /// Linear interpolation between PR points is optimistic (precision does not vary linearly with
    /// recall), which is why `averagePrecision` is the reported PR-AUC.
    public var trapezoidalArea: Double { areas.trapezoidal }

    private var areas: PrecisionRecallAreas {
        var areas = PrecisionRecallAreas()
        for point in points { areas.add(point) }
        return areas
    }
}

/// Both PR areas of a curve, summed over its points in order (see `PrecisionRecallCurve`), (R_0, P_0) = (0, 1):
///
/// ```
/// stepwise    += (R_j − R_{j−1}) · P_j
/// trapezoidal += (R_j − R_{j−1}) · (P_j + P_{j−1}) / 2
/// ```
struct PrecisionRecallAreas {
    private(set) var stepwise = 0.0
    private(set) var trapezoidal = 0.0
    private var previousRecall = 0.0, previousPrecision = 1.0

    mutating func add(_ point: PrecisionRecallPoint) {
        stepwise += (point.recall - previousRecall) * point.precision
        trapezoidal += (point.recall - previousRecall) * (point.precision + previousPrecision) / 2
        previousRecall = point.recall
        previousPrecision = point.precision
    }
}

/// Samples grouped by equal score, highest score first, with the class counts of each group: the scores and
/// labels sorted once, the groups walked on demand (no array of groups, so n distinct scores cost the sort only).
struct ScoreGroups {
    private let sortedScores: [Double]
    private let sortedLabels: [Bool]
    let positives: Int
    let negatives: Int

    init(labels: [Bool], scores: [Double]) throws(MetricsError) {
        try Validate.nonEmpty(labels.count, "labels")
        try Validate.sameLength(scores.count, as: labels.count, "scores")
        try Validate.finite(scores, "scores")
        let positives = labels.reduce(0) { $0 + ($1 ? 1 : 0) }
        let negatives = labels.count - positives
        guard positives > 0, negatives > 0 else { throw .singleClass(positives: positives, negatives: negatives) }
        // Scores by descending value; equal scores merge into one group, so the order among them cannot
        // change any result (−0 and +0 sort next to each other and compare equal, so they merge too).
        (sortedScores, sortedLabels) = DescendingRadixSort.sort(scores: scores, labels: labels)
        self.positives = positives
        self.negatives = negatives
    }

    /// `body(score, positives, negatives)` for each group of equal scores, highest score first.
    func forEachGroup(_ body: (Double, Int, Int) -> Void) {
        var start = 0
        while start < sortedScores.count {
            let score = sortedScores[start]
            var end = start, groupPositives = 0
            while end < sortedScores.count, sortedScores[end] == score {
                groupPositives += sortedLabels[end] ? 1 : 0
                end += 1
            }
            body(score, groupPositives, end - start - groupPositives)
            start = end
        }
    }

    /// The precision–recall point of each group, highest score first (see `Ranking.precisionRecallCurve`).
    func forEachPrecisionRecall(_ body: (PrecisionRecallPoint) -> Void) {
        var truePositives = 0, predictedPositives = 0
        forEachGroup { score, groupPositives, groupNegatives in
            truePositives += groupPositives
            predictedPositives += groupPositives + groupNegatives
            body(PrecisionRecallPoint(threshold: score,
                                      precision: Double(truePositives) / Double(predictedPositives),
                                      recall: Double(truePositives) / Double(positives)))
        }
    }

    /// `(1/(P·N)) Σ_j n_j · (TP_{j−1} + p_j/2)`, accumulated as twice the count to stay in integers.
    /// The count is at most 2·P·N ≤ n²/2, which fits in Int64 for any n < 4·10⁹ samples.
    func rocArea() -> Double {
        var twiceConcordant = 0  // 2·#{s⁺ > s⁻} + #{s⁺ = s⁻}
        var positivesAbove = 0
        forEachGroup { _, groupPositives, groupNegatives in
            twiceConcordant += groupNegatives * (2 * positivesAbove + groupPositives)
            positivesAbove += groupPositives
        }
        return Double(twiceConcordant) / (2 * Double(positives) * Double(negatives))
    }
}
