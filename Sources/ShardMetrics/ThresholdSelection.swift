/// What a decision threshold of a binary classifier is chosen for: `precision=P`, `recall=R` or `f1`.
public enum ThresholdTarget: Sendable, Equatable, CustomStringConvertible {
    /// The largest recall among thresholds with precision ≥ P.
    case precision(Double)
    /// The largest precision among thresholds with recall ≥ R.
    case recall(Double)
    /// The largest F1.
    case f1

    /// `precision=P`, `recall=R` (P, R in (0, 1]) or `f1`; nil for any other text.
    public init?(parsing text: String) {
        if text == "f1" {
            self = .f1
            return
        }
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, let level = Double(parts[1]), level > 0, level <= 1 else { return nil }
        switch parts[0] {
        case "precision": self = .precision(level)
        case "recall": self = .recall(level)
        default: return nil
        }
    }

    /// The spelling `init(parsing:)` reads.
    public var description: String {
        switch self {
        case .precision(let level): "precision=\(level)"
        case .recall(let level): "recall=\(level)"
        case .f1: "f1"
        }
    }
}

/// A threshold chosen on scored, labelled rows, and what it achieves on them.
public struct ThresholdChoice: Sendable, Equatable {
    /// Rows with value ≥ `threshold` are predicted positive; one of the values given.
    public let threshold: Double
    public let precision: Double
    public let recall: Double
    public let f1: Double
    public let truePositives: Int
    public let falsePositives: Int
    public let positives: Int
    public let negatives: Int
    /// Whether the target's constraint holds (always for `f1`); when it does not, the threshold is the best
    /// available (see `ThresholdSelection.choose`).
    public let targetMet: Bool
}

/// Choosing a decision threshold from the precision–recall trade-off of labelled rows.
///
/// Candidates are the distinct values v_1 > v_2 > … > v_m (as in `Ranking`); at candidate v_j a row is predicted
/// positive when its value is ≥ v_j, so tied values are never split:
/// ```
/// TP_j = #{positives with v ≥ v_j}    FP_j = #{negatives with v ≥ v_j}    P = #positives
/// precision_j = TP_j / (TP_j + FP_j)   recall_j = TP_j / P   F1_j = 2·TP_j / (TP_j + FP_j + P)
/// ```
/// The rule per target (comparisons of ratios are exact, by cross-multiplying the integer counts; the
/// constraint `precision_j ≥ P` or `recall_j ≥ R` is tested in Double):
/// ```
/// precision=P   among candidates with precision_j ≥ P: the largest recall, ties → the larger precision
///               (the same TP with fewer FP, i.e. the higher threshold).
///               None reaches P: the largest precision, ties → the larger recall; targetMet = false.
/// recall=R      among candidates with recall_j ≥ R: the largest precision, ties → the larger recall.
///               (The lowest candidate has recall 1, so R ≤ 1 is always reached.)
/// f1            the largest F1, ties → the higher threshold.
/// ```
/// Two candidates never have the same (TP, FP), so each rule picks exactly one. The result depends only on the
/// multiset of (value, label) pairs, not on their order.
public enum ThresholdSelection {
    public static func choose(labels: [Bool], values: [Double], target: ThresholdTarget) throws(MetricsError)
        -> ThresholdChoice
    {
        let groups = try ScoreGroups(labels: labels, scores: values)
        let positives = groups.positives
        var best: Candidate?
        var truePositives = 0, predicted = 0
        groups.forEachGroup { value, groupPositives, groupNegatives in
            truePositives += groupPositives
            predicted += groupPositives + groupNegatives
            let candidate = Candidate(
                threshold: value, truePositives: truePositives, predicted: predicted, positives: positives,
                target: target)
            // Candidates come highest threshold first: a later one replaces the best only when strictly better.
            if best.map({ candidate.isBetter(than: $0) }) ?? true { best = candidate }
        }
        // ScoreGroups holds at least one row, so there is at least one candidate.
        let chosen = best!
        return ThresholdChoice(
            threshold: chosen.threshold, precision: chosen.precision, recall: chosen.recall,
            f1: Double(2 * chosen.truePositives) / Double(chosen.predicted + positives),
            truePositives: chosen.truePositives, falsePositives: chosen.predicted - chosen.truePositives,
            positives: positives, negatives: groups.negatives, targetMet: chosen.meetsTarget)
    }

    /// One candidate threshold with its counts, ordered by the rule of `target`.
    private struct Candidate {
        let threshold: Double
        let truePositives: Int
        /// TP + FP.
        let predicted: Int
        let positives: Int
        let target: ThresholdTarget

        var precision: Double { Double(truePositives) / Double(predicted) }
        var recall: Double { Double(truePositives) / Double(positives) }

        var meetsTarget: Bool {
            switch target {
            case .precision(let level): precision >= level
            case .recall(let level): recall >= level
            case .f1: true
            }
        }

        /// a/b compared with c/d for positive denominators, exactly: the sign of a·d − c·b (counts ≤ rows, so the
        /// products fit in Int for fewer than 3·10⁹ rows).
        private static func compare(_ a: Int, _ b: Int, _ c: Int, _ d: Int) -> Int {
            let left = a * d, right = c * b
            return left == right ? 0 : (left < right ? -1 : 1)
        }

        /// Precision, then recall, compared with `other`'s (recall has the same denominator P).
        private func comparePrecision(_ other: Candidate) -> Int {
            Self.compare(truePositives, predicted, other.truePositives, other.predicted)
        }
        private func compareRecall(_ other: Candidate) -> Int {
            truePositives == other.truePositives ? 0 : (truePositives < other.truePositives ? -1 : 1)
        }

        func isBetter(than other: Candidate) -> Bool {
            if meetsTarget != other.meetsTarget { return meetsTarget }
            let order: [Int]
            switch target {
            case .precision:
                order = meetsTarget ? [compareRecall(other), comparePrecision(other)] : [comparePrecision(other), compareRecall(other)]
            case .recall:
                order = [comparePrecision(other), compareRecall(other)]
            case .f1:
                // F1 = 2·TP / (TP + FP + P).
                order = [Self.compare(truePositives, predicted + positives, other.truePositives, other.predicted + other.positives)]
            }
            return order.first { $0 != 0 } == 1
        }
    }
}
