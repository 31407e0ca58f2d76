/// Counts of (true class, predicted class) pairs for a `classCount`-class problem.
///
/// ```
/// counts[t][p] = #{ i : trueLabels[i] == t  and  predictedLabels[i] == p },   t, p ∈ 0..<K
/// rows = true classes, columns = predicted classes (the sklearn.metrics.confusion_matrix layout)
/// support(k)   = Σ_p counts[k][p]    (row sum: samples whose true class is k)
/// predicted(k) = Σ_t counts[t][k]    (column sum: samples predicted as k)
/// ```
public struct ConfusionMatrix: Sendable, Equatable, Codable {
    /// K, the number of classes; labels are `0..<classCount`.
    public let classCount: Int
    /// K×K counts, `counts[trueClass][predictedClass]`.
    public let counts: [[Int]]

    /// Tallies the pairs `(trueLabels[i], predictedLabels[i])`.
    ///
    /// Throws for an empty input, different lengths, `classCount < 1` or a label outside `0..<classCount`.
    public init(trueLabels: [Int], predictedLabels: [Int], classCount: Int) throws(MetricsError) {
        guard classCount >= 1 else { throw .invalidClassCount(classCount) }
        try Validate.nonEmpty(trueLabels.count, "trueLabels")
        try Validate.sameLength(predictedLabels.count, as: trueLabels.count, "predictedLabels")
        try Validate.labels(trueLabels, classCount: classCount, "trueLabels")
        try Validate.labels(predictedLabels, classCount: classCount, "predictedLabels")
        var counts = [[Int]](repeating: [Int](repeating: 0, count: classCount), count: classCount)
        for (trueLabel, predictedLabel) in zip(trueLabels, predictedLabels) {
            counts[trueLabel][predictedLabel] += 1
        }
        self.classCount = classCount
        self.counts = counts
    }

    /// Wraps existing counts: a non-empty square matrix of non-negative entries with a total N in
    /// 1...Int.max/4 (so that every sum the report forms, up to 2·TP + FP + FN ≤ 2N, fits in an Int).
    public init(counts: [[Int]]) throws(MetricsError) {
        guard !counts.isEmpty else { throw .invalidClassCount(0) }
        for (row, values) in counts.enumerated() {
            if values.count != counts.count {
                throw .dimensionMismatch(argument: "counts", row: row, expected: counts.count, actual: values.count)
            }
            if let column = values.firstIndex(where: { $0 < 0 }) {
                throw .invalidArgument(argument: "counts[\(row)][\(column)]", reason: "counts must be non-negative")
            }
        }
        var total = 0
        for value in counts.joined() {
            let (sum, overflow) = total.addingReportingOverflow(value)
            guard !overflow, sum <= Int.max / 4 else {
                throw .invalidArgument(argument: "counts", reason: "the total count exceeds Int.max/4")
            }
            total = sum
        }
        guard total > 0 else { throw .emptyInput(argument: "counts") }
        self.classCount = counts.count
        self.counts = counts
    }

    /// Decoding re-validates the counts, so a decoded matrix satisfies the same invariants as a computed one.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let counts = try container.decode([[Int]].self, forKey: .counts)
        try self.init(counts: counts)
        let declared = try container.decode(Int.self, forKey: .classCount)
        guard declared == classCount else {
            throw DecodingError.dataCorruptedError(
                forKey: .classCount, in: container,
                debugDescription: "classCount \(declared) does not match the \(classCount)×\(classCount) counts")
        }
    }

    /// N, the number of samples counted.
    public var total: Int { counts.joined().reduce(0, +) }

    /// Σ_k counts[k][k], the correctly classified samples.
    public var correct: Int { (0..<classCount).reduce(0) { $0 + counts[$1][$1] } }

    /// Row sums, `supports[k]` = samples whose true class is k.
    public var supports: [Int] { counts.map { $0.reduce(0, +) } }

    /// Column sums, `predictedCounts[k]` = samples predicted as k.
    public var predictedCounts: [Int] { (0..<classCount).map { k in counts.reduce(0) { $0 + $1[k] } } }

    /// The matrix as aligned text: one row per true class, one column per predicted class.
    ///
    /// `classNames` (one per class, else the indices are used) label rows and columns; the corner reads
    /// `true\pred`.
    public func renderTable(classNames: [String]? = nil) -> String {
        let names = resolvedClassNames(classNames, classCount: classCount)
        var table = TextTable(header: ["true\\pred"] + names)
        for trueClass in 0..<classCount {
            table.append([names[trueClass]] + counts[trueClass].map(String.init))
        }
        return table.render()
    }
}

/// Names for the rows of a rendered table: `classNames` when it has one entry per class, else "0", "1", ….
func resolvedClassNames(_ classNames: [String]?, classCount: Int) -> [String] {
    if let classNames, classNames.count == classCount { return classNames }
    return (0..<classCount).map(String.init)
}

/// Precision, recall, F1 and support of one class, one-vs-rest.
///
/// ```
/// TP = counts[k][k]   FP = predicted(k) − TP   FN = support(k) − TP
/// precision = TP / (TP + FP)        recall = TP / (TP + FN)
/// F1        = 2·TP / (2·TP + FP + FN)      (= 2PR/(P+R) whenever P + R > 0)
/// ```
/// Zero-division convention (sklearn's `zero_division=0`): a ratio whose denominator is 0 is reported
/// as 0 and its `…IsUndefined` flag is set. Precision is 0/0 when nothing was predicted as k, recall
/// when k never occurs, F1 only when both happen (TP = FP = FN = 0).
public struct ClassMetrics: Sendable, Equatable, Codable {
    public let classIndex: Int
    public let precision: Double
    public let recall: Double
    public let f1: Double
    /// Number of samples whose true class is this one.
    public let support: Int
    public let precisionIsUndefined: Bool
    public let recallIsUndefined: Bool
    public let f1IsUndefined: Bool

    /// Computes the metrics of class `classIndex` from its (non-negative) confusion-matrix counts.
    init(classIndex: Int, truePositives: Int, falsePositives: Int, falseNegatives: Int) {
        self.classIndex = classIndex
        self.support = truePositives + falseNegatives
        (precision, precisionIsUndefined) = ratio(truePositives, truePositives + falsePositives)
        (recall, recallIsUndefined) = ratio(truePositives, truePositives + falseNegatives)
        (f1, f1IsUndefined) = ratio(2 * truePositives, 2 * truePositives + falsePositives + falseNegatives)
    }
}

/// `numerator / denominator`, or `(0, true)` for a zero denominator.
func ratio(_ numerator: Int, _ denominator: Int) -> (value: Double, isUndefined: Bool) {
    denominator == 0 ? (0, true) : (Double(numerator) / Double(denominator), false)
}

/// An average of the per-class metrics.
///
/// ```
/// macro:    m̄ = (1/K) Σ_k m_k                   (every class counts once, also classes with support 0)
/// weighted: m̄ = Σ_k support_k · m_k / Σ_k support_k
/// ```
/// Per-class values that were 0/0 enter as 0 (their reported value); the `…IncludesUndefined` flags
/// say whether any averaged value did (for the weighted average only classes with support > 0 count,
/// since the others have weight 0). Averaged F1 is the average of per-class F1, not the F1 of the
/// averaged precision and recall.
public struct AveragedMetrics: Sendable, Equatable, Codable {
    public let precision: Double
    public let recall: Double
    public let f1: Double
    /// Σ_k support_k = N.
    public let support: Int
    public let precisionIncludesUndefined: Bool
    public let recallIncludesUndefined: Bool
    public let f1IncludesUndefined: Bool

    /// Σ_k w_k · m_k / Σ_k w_k over `classes` for each of precision, recall and F1.
    init(_ classes: [ClassMetrics], weight: (ClassMetrics) -> Double) {
        var precision = 0.0, recall = 0.0, f1 = 0.0, weightSum = 0.0
        var precisionUndefined = false, recallUndefined = false, f1Undefined = false
        for metrics in classes {
            let w = weight(metrics)
            weightSum += w
            precision += w * metrics.precision
            recall += w * metrics.recall
            f1 += w * metrics.f1
            if w > 0 {
                precisionUndefined = precisionUndefined || metrics.precisionIsUndefined
                recallUndefined = recallUndefined || metrics.recallIsUndefined
                f1Undefined = f1Undefined || metrics.f1IsUndefined
            }
        }
        self.precision = precision / weightSum
        self.recall = recall / weightSum
        self.f1 = f1 / weightSum
        self.support = classes.reduce(0) { $0 + $1.support }
        self.precisionIncludesUndefined = precisionUndefined
        self.recallIncludesUndefined = recallUndefined
        self.f1IncludesUndefined = f1Undefined
    }
}

/// The classification report: per-class precision/recall/F1/support, macro and weighted averages and
/// accuracy, computed from a confusion matrix (same numbers as `sklearn.metrics.classification_report`
/// with `labels = range(K)` and `zero_division = 0`).
///
/// ```
/// accuracy = Σ_k counts[k][k] / N
/// ```
public struct ClassificationReport: Sendable, Equatable, Codable {
    public let confusionMatrix: ConfusionMatrix
    /// One entry per class, in class order.
    public let classes: [ClassMetrics]
    public let macroAverage: AveragedMetrics
    public let weightedAverage: AveragedMetrics
    public let accuracy: Double
    /// Optional display names, one per class (used by `renderTable`).
    public let classNames: [String]?

    /// Builds the report for predictions of a `classCount`-class problem.
    public init(trueLabels: [Int], predictedLabels: [Int], classCount: Int,
                classNames: [String]? = nil) throws(MetricsError) {
        let matrix = try ConfusionMatrix(trueLabels: trueLabels, predictedLabels: predictedLabels,
                                         classCount: classCount)
        try self.init(confusionMatrix: matrix, classNames: classNames)
    }

    /// Builds the report from a confusion matrix. `classNames`, when given, must have one entry per class.
    public init(confusionMatrix matrix: ConfusionMatrix, classNames: [String]? = nil) throws(MetricsError) {
        if let classNames {
            try Validate.sameLength(classNames.count, as: matrix.classCount, "classNames")
        }
        let supports = matrix.supports, predictedCounts = matrix.predictedCounts
        let classes = (0..<matrix.classCount).map { k in
            let truePositives = matrix.counts[k][k]
            return ClassMetrics(classIndex: k, truePositives: truePositives,
                                falsePositives: predictedCounts[k] - truePositives,
                                falseNegatives: supports[k] - truePositives)
        }
        self.confusionMatrix = matrix
        self.classes = classes
        // Weights are positive for every class (macro) and positive support sums (N > 0): no 0/0 here.
        self.macroAverage = AveragedMetrics(classes) { _ in 1 }
        self.weightedAverage = AveragedMetrics(classes) { Double($0.support) }
        self.accuracy = Double(matrix.correct) / Double(matrix.total)
        self.classNames = classNames
    }

    /// The report as aligned text in the familiar layout:
    ///
    /// ```
    ///               precision  recall  f1-score  support
    ///
    ///            0     0.6667  1.0000    0.8000        2
    ///            …
    ///     accuracy                       0.6000        5
    ///    macro avg     …
    /// weighted avg     …
    /// ```
    /// A value that was 0/0 (reported as 0) is marked with `*`, and a footnote explains the mark.
    public func renderTable(digits: Int = 4) -> String {
        let names = resolvedClassNames(classNames, classCount: confusionMatrix.classCount)
        func cell(_ value: Double, undefined: Bool) -> String {
            fixedPoint(value, digits: digits) + (undefined ? "*" : " ")
        }
        var table = TextTable(header: ["", "precision ", "recall ", "f1-score ", "support"])
        table.append([])
        for metrics in classes {
            table.append([names[metrics.classIndex],
                          cell(metrics.precision, undefined: metrics.precisionIsUndefined),
                          cell(metrics.recall, undefined: metrics.recallIsUndefined),
                          cell(metrics.f1, undefined: metrics.f1IsUndefined),
                          String(metrics.support)])
        }
        table.append([])
        table.append(["accuracy", "", "", cell(accuracy, undefined: false), String(confusionMatrix.total)])
        for (name, averaged) in [("macro avg", macroAverage), ("weighted avg", weightedAverage)] {
            table.append([name,
                          cell(averaged.precision, undefined: averaged.precisionIncludesUndefined),
                          cell(averaged.recall, undefined: averaged.recallIncludesUndefined),
                          cell(averaged.f1, undefined: averaged.f1IncludesUndefined),
                          String(averaged.support)])
        }
        var text = table.render()
        let flagged = classes.contains { $0.precisionIsUndefined || $0.recallIsUndefined || $0.f1IsUndefined }
        if flagged {
            text += "\n\n* 0/0 (no predictions or no support for a class), reported as 0"
        }
        return text
    }
}
