import Foundation
import ShardMetrics
import ShardNumerics
import Testing

extension ShardMetricsTests {
    // 20 samples (9 positives, 11 negatives) with tied scores inside and across classes.
    static let rankingLabels = [1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 1, 0, 1, 1, 0, 0, 0, 1, 0].map { $0 == 1 }
    static let rankingScores = [0.9, 0.8, 0.8, 0.7, 0.65, 0.6, 0.6, 0.6, 0.55, 0.5,
                                0.4, 0.4, 0.35, 0.3, 0.3, 0.2, 0.1, 0.1, 0.05, 0.05]

    @Test func rocMatchesSklearn() throws {
        let curve = try Ranking.rocCurve(labels: Self.rankingLabels, scores: Self.rankingScores)
        // sklearn.metrics.roc_auc_score(y, s)
        #expect(close(curve.area, 0.611111111111111))
        #expect(close(try Ranking.rocAUC(labels: Self.rankingLabels, scores: Self.rankingScores), 0.611111111111111))
        // sklearn.metrics.roc_curve(y, s, drop_intermediate=False): fpr, tpr, thresholds (the first, +inf, is our nil)
        let fpr = [0.0, 0.0, 0.09090909090909091, 0.09090909090909091, 0.18181818181818182, 0.36363636363636365,
                   0.36363636363636365, 0.45454545454545453, 0.5454545454545454, 0.6363636363636364,
                   0.6363636363636364, 0.7272727272727273, 0.9090909090909091, 1.0]
        let tpr = [0.0, 0.1111111111111111, 0.2222222222222222, 0.3333333333333333, 0.3333333333333333,
                   0.4444444444444444, 0.5555555555555556, 0.5555555555555556, 0.6666666666666666,
                   0.6666666666666666, 0.8888888888888888, 0.8888888888888888, 0.8888888888888888, 1.0]
        let thresholds = [0.9, 0.8, 0.7, 0.65, 0.6, 0.55, 0.5, 0.4, 0.35, 0.3, 0.2, 0.1, 0.05]
        #expect(close(curve.points.map(\.falsePositiveRate), fpr))
        #expect(close(curve.points.map(\.truePositiveRate), tpr))
        #expect(curve.points.first?.threshold == nil)
        #expect(curve.points.dropFirst().map(\.threshold) == thresholds)
        #expect(curve.positives == 9 && curve.negatives == 11)
    }

    @Test func precisionRecallMatchesSklearn() throws {
        let curve = try Ranking.precisionRecallCurve(labels: Self.rankingLabels, scores: Self.rankingScores)
        // sklearn.metrics.average_precision_score(y, s)
        #expect(close(curve.averagePrecision, 0.6098765432098765))
        #expect(close(try Ranking.averagePrecision(labels: Self.rankingLabels, scores: Self.rankingScores),
                      0.6098765432098765))
        // sklearn.metrics.auc(recall, precision) on precision_recall_curve(y, s)
        #expect(close(curve.trapezoidalArea, 0.617948717948718))
        // sklearn.metrics.precision_recall_curve(y, s), reversed, without the (recall 0, precision 1) anchor
        let precision = [1.0, 0.6666666666666666, 0.75, 0.6, 0.5, 0.5555555555555556, 0.5, 0.5,
                         0.46153846153846156, 0.5333333333333333, 0.5, 0.4444444444444444, 0.45]
        let recall = [0.1111111111111111, 0.2222222222222222, 0.3333333333333333, 0.3333333333333333,
                      0.4444444444444444, 0.5555555555555556, 0.5555555555555556, 0.6666666666666666,
                      0.6666666666666666, 0.8888888888888888, 0.8888888888888888, 0.8888888888888888, 1.0]
        #expect(close(curve.points.map(\.precision), precision))
        #expect(close(curve.points.map(\.recall), recall))
        #expect(curve.points.map(\.threshold) == [0.9, 0.8, 0.7, 0.65, 0.6, 0.55, 0.5, 0.4, 0.35, 0.3, 0.2, 0.1, 0.05])
    }

    /// By hand: y = [1, 0, 1, 0], s = [0.8, 0.8, 0.4, 0.2].
    /// Positive–negative pairs: (0.8, 0.8) tie → ½, (0.8, 0.2) → 1, (0.4, 0.8) → 0, (0.4, 0.2) → 1;
    /// AUC = 2.5 / 4 = 0.625. PR points: (P ½, R ½) at 0.8, (⅔, 1) at 0.4, (½, 1) at 0.2;
    /// AP = ½·½ + ½·⅔ = 7/12.
    @Test func handCheckedRanking() throws {
        let labels = [true, false, true, false], scores = [0.8, 0.8, 0.4, 0.2]
        #expect(try Ranking.rocAUC(labels: labels, scores: scores) == 0.625)
        #expect(close(try Ranking.averagePrecision(labels: labels, scores: scores), 7.0 / 12.0))
        let roc = try Ranking.rocCurve(labels: labels, scores: scores)
        #expect(roc.points.map(\.falsePositiveRate) == [0, 0.5, 0.5, 1])
        #expect(roc.points.map(\.truePositiveRate) == [0, 0.5, 1, 1])
        // A perfect ranking has AUC 1 and AP 1; the reversed one AUC 0.
        #expect(try Ranking.rocAUC(labels: [false, true], scores: [0, 1]) == 1)
        #expect(try Ranking.averagePrecision(labels: [false, true], scores: [0, 1]) == 1)
        #expect(try Ranking.rocAUC(labels: [true, false], scores: [0, 1]) == 0)
        // All scores tied: the ROC is the diagonal, AUC ½; AP = precision = base rate.
        #expect(try Ranking.rocAUC(labels: [true, false, false], scores: [3, 3, 3]) == 0.5)
        #expect(close(try Ranking.averagePrecision(labels: [true, false, false], scores: [3, 3, 3]), 1.0 / 3.0))
    }

    /// Random labels with scores on a 0.1 grid (many ties) correlated with the label.
    static func randomRankingProblem(seed: UInt64, count: Int) -> (labels: [Bool], scores: [Double]) {
        var generator = SplitMix64(seed: seed)
        var labels: [Bool] = [], scores: [Double] = []
        for _ in 0..<count {
            let isPositive = generator.nextUnit() < 0.4
            labels.append(isPositive)
            scores.append(((generator.nextUnit() + (isPositive ? 0.3 : 0)) * 10).rounded() / 10)
        }
        return (labels, scores)
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func aucIsInvariantUnderMonotoneTransforms(seed: UInt64) throws {
        let (labels, scores) = Self.randomRankingProblem(seed: seed, count: 300)
        let auc = try Ranking.rocAUC(labels: labels, scores: scores)
        let ap = try Ranking.averagePrecision(labels: labels, scores: scores)
        #expect(auc > 0.5 && auc < 1)
        let transforms: [(Double) -> Double] = [{ exp($0) }, { $0 * $0 * $0 + 5 * $0 }, { atan(4 * $0 - 2) }, { 7 * $0 - 3 }]
        for transform in transforms {
            let transformed = scores.map(transform)
            #expect(try Ranking.rocAUC(labels: labels, scores: transformed) == auc)
            #expect(try Ranking.averagePrecision(labels: labels, scores: transformed) == ap)
        }
    }

    @Test(arguments: [4, 5, 6] as [UInt64])
    func aucOfNegatedScoresIsComplement(seed: UInt64) throws {
        let (labels, scores) = Self.randomRankingProblem(seed: seed, count: 257)
        let auc = try Ranking.rocAUC(labels: labels, scores: scores)
        let negated = try Ranking.rocAUC(labels: labels, scores: scores.map { -$0 })
        #expect(close(negated, 1 - auc, tolerance: 1e-15))
        // Swapping the classes instead of the scores gives the same complement.
        let swapped = try Ranking.rocAUC(labels: labels.map { !$0 }, scores: scores)
        #expect(close(swapped, 1 - auc, tolerance: 1e-15))
    }

    /// The grouped trapezoid equals the Mann–Whitney count over all positive–negative pairs.
    @Test func aucEqualsPairwiseCount() throws {
        let (labels, scores) = Self.randomRankingProblem(seed: 9, count: 150)
        var twiceWins = 0, pairs = 0
        for i in labels.indices where labels[i] {
            for j in labels.indices where !labels[j] {
                pairs += 1
                twiceWins += scores[i] > scores[j] ? 2 : (scores[i] == scores[j] ? 1 : 0)
            }
        }
        #expect(close(try Ranking.rocAUC(labels: labels, scores: scores), Double(twiceWins) / Double(2 * pairs)))
    }

    @Test func rankingRejectsInvalidInput() throws {
        #expect(metricsError { try Ranking.rocAUC(labels: [true, true], scores: [0.1, 0.2]) }
            == .singleClass(positives: 2, negatives: 0))
        #expect(metricsError { try Ranking.averagePrecision(labels: [false], scores: [0.1]) }
            == .singleClass(positives: 0, negatives: 1))
        #expect(metricsError { try Ranking.rocCurve(labels: [], scores: []) } == .emptyInput(argument: "labels"))
        #expect(metricsError { try Ranking.rocAUC(labels: [true, false], scores: [0.1]) }
            == .lengthMismatch(argument: "scores", expected: 2, actual: 1))
        #expect(metricsError { try Ranking.precisionRecallCurve(labels: [true, false], scores: [0.1, .nan]) }
            == .nonFiniteValue(argument: "scores", index: 1))
        #expect(metricsError { try Ranking.rocAUC(labels: [true, false], scores: [.infinity, 0]) }
            == .nonFiniteValue(argument: "scores", index: 0))
    }

    @Test func rankingReportAndTables() throws {
        let report = try Ranking.report(labels: Self.rankingLabels, scores: Self.rankingScores)
        // sklearn.metrics.roc_auc_score, average_precision_score, auc(recall, precision) (values as above)
        #expect(close(report.rocAUC, 0.611111111111111))
        #expect(close(report.averagePrecision, 0.6098765432098765))
        #expect(close(report.trapezoidalPRArea, 0.617948717948718))
        #expect(report.positives == 9 && report.negatives == 11)
        let expected = """
                    metric   value
                   ROC-AUC  0.6111
         average precision  0.6099
        PR-AUC (trapezoid)  0.6179
                 positives       9
                 negatives      11
        """
        #expect(report.renderTable() == expected, "\n\(report.renderTable())")
        let roc = try Ranking.rocCurve(labels: [true, false, true, false], scores: [0.8, 0.8, 0.4, 0.2])
        let rocText = """
        threshold    FPR    TPR
                -  0.000  0.000
              0.8  0.500  0.500
              0.4  0.500  1.000
              0.2  1.000  1.000
        """
        #expect(roc.renderTable(digits: 3) == rocText, "\n\(roc.renderTable(digits: 3))")
        let pr = try Ranking.precisionRecallCurve(labels: [true, false, true, false], scores: [0.8, 0.8, 0.4, 0.2])
        let prText = """
        threshold  precision  recall
              0.8       0.50    0.50
              0.4       0.67    1.00
              0.2       0.50    1.00
        """
        #expect(pr.renderTable(digits: 2) == prText, "\n\(pr.renderTable(digits: 2))")
    }

    @Test func curvesEncodeAsJSON() throws {
        let curve = try Ranking.rocCurve(labels: [true, false], scores: [0.7, 0.2])
        let data = try JSONEncoder().encode(curve)
        #expect(try JSONDecoder().decode(ROCCurve.self, from: data) == curve)
        let pr = try Ranking.precisionRecallCurve(labels: [true, false], scores: [0.7, 0.2])
        #expect(try JSONDecoder().decode(PrecisionRecallCurve.self, from: JSONEncoder().encode(pr)) == pr)
    }
}

extension ShardMetricsTests {
    /// `Ranking.report` walks the groups without building the curves; its numbers must be the curves' bit for bit.
    @Test(arguments: [21, 22, 23] as [UInt64])
    func reportEqualsTheCurvesBitForBit(seed: UInt64) throws {
        var (labels, scores) = Self.randomRankingProblem(seed: seed, count: 2000)
        var generator = SplitMix64(seed: seed)
        // Half the scores off the grid: long runs of distinct scores between the tied groups.
        for index in scores.indices where generator.nextUnit() < 0.5 { scores[index] += generator.nextUnit() * 1e-3 }
        let report = try Ranking.report(labels: labels, scores: scores)
        let curve = try Ranking.precisionRecallCurve(labels: labels, scores: scores)
        #expect(report.averagePrecision.bitPattern == curve.averagePrecision.bitPattern)
        #expect(report.trapezoidalPRArea.bitPattern == curve.trapezoidalArea.bitPattern)
        #expect(report.rocAUC.bitPattern == (try Ranking.rocCurve(labels: labels, scores: scores)).area.bitPattern)
        #expect(report.positives == labels.filter { $0 }.count && report.negatives == labels.filter { !$0 }.count)
        // One curve point per distinct score.
        #expect(curve.points.count == Set(scores).count)
    }
}
