import Foundation
import ShardMetrics
import Testing

extension ShardMetricsTests {
    // 18 samples, K = 5: class 3 is predicted but never true (recall 0/0), class 4 never occurs
    // (precision, recall and F1 all 0/0).
    static let trueLabels = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 0, 1, 2, 0, 1, 2, 2, 0]
    static let predictedLabels = [0, 0, 1, 0, 1, 1, 3, 0, 2, 1, 0, 1, 3, 3, 1, 2, 0, 0]

    @Test func confusionMatrixMatchesSklearn() throws {
        let matrix = try ConfusionMatrix(trueLabels: Self.trueLabels, predictedLabels: Self.predictedLabels, classCount: 5)
        // sklearn.metrics.confusion_matrix(y, p, labels=range(5))
        #expect(matrix.counts == [[5, 1, 0, 1, 0], [0, 4, 0, 1, 0], [2, 1, 2, 1, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]])
        #expect(matrix.total == 18)
        #expect(matrix.correct == 11)
        #expect(matrix.supports == [7, 5, 6, 0, 0])
        #expect(matrix.predictedCounts == [7, 6, 2, 3, 0])
    }

    @Test func classificationReportMatchesSklearn() throws {
        let report = try ClassificationReport(trueLabels: Self.trueLabels, predictedLabels: Self.predictedLabels,
                                              classCount: 5)
        // sklearn.metrics.precision_recall_fscore_support(y, p, labels=range(5), average=None, zero_division=0)
        let precision = [0.7142857142857143, 0.6666666666666666, 1.0, 0.0, 0.0]
        let recall = [0.7142857142857143, 0.8, 0.3333333333333333, 0.0, 0.0]
        let f1 = [0.7142857142857143, 0.7272727272727273, 0.5, 0.0, 0.0]
        #expect(close(report.classes.map(\.precision), precision))
        #expect(close(report.classes.map(\.recall), recall))
        #expect(close(report.classes.map(\.f1), f1))
        #expect(report.classes.map(\.support) == [7, 5, 6, 0, 0])
        // … average="macro"
        #expect(close(report.macroAverage.precision, 0.47619047619047616))
        #expect(close(report.macroAverage.recall, 0.3695238095238095))
        #expect(close(report.macroAverage.f1, 0.3883116883116883))
        // … average="weighted"
        #expect(close(report.weightedAverage.precision, 0.7962962962962963))
        #expect(close(report.weightedAverage.recall, 0.6111111111111112))
        #expect(close(report.weightedAverage.f1, 0.6464646464646465))
        #expect(report.weightedAverage.support == 18)
        // sklearn.metrics.accuracy_score(y, p)
        #expect(close(report.accuracy, 0.6111111111111112))
    }

    @Test func zeroDivisionIsReportedAsZeroAndFlagged() throws {
        let report = try ClassificationReport(trueLabels: Self.trueLabels, predictedLabels: Self.predictedLabels,
                                              classCount: 5)
        let flags = report.classes.map { [$0.precisionIsUndefined, $0.recallIsUndefined, $0.f1IsUndefined] }
        // Class 3: TP = 0, FP = 2, FN = 0 → precision 0/2 = 0 (defined), recall 0/0, F1 = 0/2 (defined).
        // Class 4: TP = FP = FN = 0 → all three 0/0.
        #expect(flags == [[false, false, false], [false, false, false], [false, false, false],
                          [false, true, false], [true, true, true]])
        #expect(report.macroAverage.precisionIncludesUndefined)
        #expect(report.macroAverage.recallIncludesUndefined)
        // Classes 3 and 4 have support 0 and so weight 0 in the weighted average.
        #expect(!report.weightedAverage.precisionIncludesUndefined)
        #expect(!report.weightedAverage.recallIncludesUndefined)
    }

    /// By hand: y = [0, 0, 1, 1, 1], ŷ = [0, 1, 1, 1, 0].
    /// Class 0: TP 1, FP 1, FN 1 → P = R = F1 = 1/2. Class 1: TP 2, FP 1, FN 1 → P = R = F1 = 2/3.
    /// Macro = (1/2 + 2/3)/2 = 7/12; weighted = (2·1/2 + 3·2/3)/5 = 3/5; accuracy = 3/5.
    @Test func handCheckedBinaryReport() throws {
        let report = try ClassificationReport(trueLabels: [0, 0, 1, 1, 1], predictedLabels: [0, 1, 1, 1, 0],
                                              classCount: 2)
        #expect(report.classes[0].precision == 0.5 && report.classes[0].recall == 0.5 && report.classes[0].f1 == 0.5)
        #expect(close(report.classes[1].f1, 2.0 / 3.0))
        #expect(close(report.macroAverage.f1, 7.0 / 12.0))
        #expect(close(report.weightedAverage.precision, 0.6))
        #expect(report.accuracy == 0.6)
    }

    @Test func reportRendersAlignedTable() throws {
        let report = try ClassificationReport(trueLabels: Self.trueLabels, predictedLabels: Self.predictedLabels,
                                              classCount: 5, classNames: ["cat", "dog", "bird", "fish", "frog"])
        let text = report.renderTable()
        let expected = """
                      precision   recall   f1-score   support

                 cat     0.7143   0.7143     0.7143         7
                 dog     0.6667   0.8000     0.7273         5
                bird     1.0000   0.3333     0.5000         6
                fish     0.0000   0.0000*    0.0000         0
                frog     0.0000*  0.0000*    0.0000*        0

            accuracy                         0.6111        18
           macro avg     0.4762*  0.3695*    0.3883*       18
        weighted avg     0.7963   0.6111     0.6465        18

        * 0/0 (no predictions or no support for a class), reported as 0
        """
        #expect(text == expected, "\n\(text)")
        let matrixText = report.confusionMatrix.renderTable(classNames: ["cat", "dog", "bird", "fish", "frog"])
        let expectedMatrix = """
        true\\pred  cat  dog  bird  fish  frog
              cat    5    1     0     1     0
              dog    0    4     0     1     0
             bird    2    1     2     1     0
             fish    0    0     0     0     0
             frog    0    0     0     0     0
        """
        #expect(matrixText == expectedMatrix, "\n\(matrixText)")
    }

    @Test func reportRoundTripsThroughJSON() throws {
        let report = try ClassificationReport(trueLabels: Self.trueLabels, predictedLabels: Self.predictedLabels,
                                              classCount: 5)
        let data = try JSONEncoder().encode(report)
        let decoded = try JSONDecoder().decode(ClassificationReport.self, from: data)
        #expect(decoded == report)
        let json = try #require(String(data: data, encoding: .utf8))
        #expect(json.contains("\"macroAverage\""))
    }

    @Test func decodingRejectsInconsistentMatrix() {
        let bad = Data(#"{"classCount":2,"counts":[[1,2],[3]]}"#.utf8)
        #expect(throws: (any Error).self) { try JSONDecoder().decode(ConfusionMatrix.self, from: bad) }
        let mismatched = Data(#"{"classCount":3,"counts":[[1,2],[3,4]]}"#.utf8)
        #expect(throws: (any Error).self) { try JSONDecoder().decode(ConfusionMatrix.self, from: mismatched) }
    }

    @Test func classificationRejectsInvalidInput() {
        #expect(metricsError { try ConfusionMatrix(trueLabels: [], predictedLabels: [], classCount: 2) }
            == .emptyInput(argument: "trueLabels"))
        #expect(metricsError { try ConfusionMatrix(trueLabels: [0, 1], predictedLabels: [0], classCount: 2) }
            == .lengthMismatch(argument: "predictedLabels", expected: 2, actual: 1))
        #expect(metricsError { try ConfusionMatrix(trueLabels: [0, 1], predictedLabels: [0, 2], classCount: 2) }
            == .labelOutOfRange(argument: "predictedLabels", index: 1, label: 2, classCount: 2))
        #expect(metricsError { try ConfusionMatrix(trueLabels: [-1], predictedLabels: [0], classCount: 2) }
            == .labelOutOfRange(argument: "trueLabels", index: 0, label: -1, classCount: 2))
        #expect(metricsError { try ConfusionMatrix(trueLabels: [0], predictedLabels: [0], classCount: 0) }
            == .invalidClassCount(0))
        #expect(metricsError { try ConfusionMatrix(counts: [[0, 0], [0, 0]]) } == .emptyInput(argument: "counts"))
        #expect(metricsError { try ConfusionMatrix(counts: [[1, -1], [0, 0]]) }
            == .invalidArgument(argument: "counts[0][1]", reason: "counts must be non-negative"))
        #expect(metricsError { try ConfusionMatrix(counts: [[Int.max, 1], [1, 0]]) }
            == .invalidArgument(argument: "counts", reason: "the total count exceeds Int.max/4"))
        #expect(metricsError {
            try ClassificationReport(trueLabels: [0], predictedLabels: [0], classCount: 2, classNames: ["a"])
        } == .lengthMismatch(argument: "classNames", expected: 2, actual: 1))
    }
}
