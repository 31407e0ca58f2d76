import ShardMetrics
import ShardNumerics
import Testing

extension ShardMetricsTests {
    /// Values with labels (1 = positive), as hand-computed below.
    static func rows(_ pairs: [(Double, Int)]) -> (labels: [Bool], values: [Double]) {
        (pairs.map { $0.1 == 1 }, pairs.map(\.0))
    }

    // Hand-computed, highest threshold first (P = 4 positives):
    //   v      0.9    0.8    0.7    0.6    0.5    0.4    0.3
    //   TP/PP  1/1    2/3    3/4    3/5    3/6    4/7    4/8
    //   recall .25    .5     .75    .75    .75    1      1
    //   F1     2/5    4/7    6/8    6/9    6/10   8/11   8/12
    static let tied = rows([(0.9, 1), (0.8, 1), (0.8, 0), (0.7, 1), (0.6, 0), (0.5, 0), (0.4, 1), (0.3, 0)])

    @Test(arguments: [
        // precision ≥ 0.6 holds at 0.9, 0.8, 0.7, 0.6; the largest recall (.75) at 0.7 and 0.6: the higher, 0.7.
        (ThresholdTarget.precision(0.6), 0.7, 3, 1, true),
        // precision ≥ 0.75 at 0.9 and 0.7 (exactly 3/4): recall .75 at 0.7.
        (.precision(0.75), 0.7, 3, 1, true),
        // Only 0.9 reaches precision 0.8.
        (.precision(0.8), 0.9, 1, 0, true),
        // recall ≥ 0.75 at 0.7 … 0.3: the largest precision, 3/4, at 0.7.
        (.recall(0.75), 0.7, 3, 1, true),
        // recall 1 at 0.4 (4/7) and 0.3 (4/8): 0.4.
        (.recall(1), 0.4, 4, 3, true),
        // F1 is largest (6/8) at 0.7.
        (.f1, 0.7, 3, 1, true),
    ])
    func thresholdHandComputed(target: ThresholdTarget, threshold: Double, truePositives: Int, falsePositives: Int, met: Bool)
        throws
    {
        let choice = try ThresholdSelection.choose(labels: Self.tied.labels, values: Self.tied.values, target: target)
        #expect(choice.threshold == threshold)
        #expect(choice.truePositives == truePositives && choice.falsePositives == falsePositives)
        #expect(choice.targetMet == met)
        #expect(choice.positives == 4 && choice.negatives == 4)
        #expect(choice.precision == Double(truePositives) / Double(truePositives + falsePositives))
        #expect(choice.recall == Double(truePositives) / 4)
        #expect(choice.f1 == Double(2 * truePositives) / Double(truePositives + falsePositives + 4))
    }

    @Test func thresholdTiedValuesEnterTogether() throws {
        // The two rows at 0.8 (one of each class) are never split: no threshold gives TP 2 with FP 0.
        let choice = try ThresholdSelection.choose(labels: Self.tied.labels, values: Self.tied.values, target: .precision(0.99))
        #expect(choice.threshold == 0.9 && choice.recall == 0.25)
    }

    @Test func thresholdUnreachablePrecisionTakesTheBestAvailable() throws {
        // v 0.9(−) 0.8(+) 0.7(+) 0.6(−) 0.5(+) 0.4(+) 0.3(−), P = 4:
        // precision 0/1, 1/2, 2/3, 2/4, 3/5, 4/6, 4/7. None reaches 0.9; the largest precision 2/3 holds at 0.7
        // (recall .5) and at 0.4 (recall 1): the larger recall, 0.4.
        let data = Self.rows([(0.9, 0), (0.8, 1), (0.7, 1), (0.6, 0), (0.5, 1), (0.4, 1), (0.3, 0)])
        let choice = try ThresholdSelection.choose(labels: data.labels, values: data.values, target: .precision(0.9))
        #expect(!choice.targetMet)
        #expect(choice.threshold == 0.4)
        #expect(choice.precision == 4.0 / 6 && choice.recall == 1)
    }

    @Test func thresholdF1TiesGoToTheHigherThreshold() throws {
        // v 0.9(+) 0.8(−) 0.7(−) 0.6(+) 0.5(−), P = 2: F1 = 2/3, 2/4, 2/5, 4/6, 4/7: 2/3 at 0.9 and at 0.6.
        let data = Self.rows([(0.6, 1), (0.9, 1), (0.5, 0), (0.8, 0), (0.7, 0)])
        let choice = try ThresholdSelection.choose(labels: data.labels, values: data.values, target: .f1)
        #expect(choice.threshold == 0.9 && choice.truePositives == 1 && choice.falsePositives == 0)
    }

    @Test func thresholdNeedsBothClasses() {
        #expect(throws: MetricsError.singleClass(positives: 2, negatives: 0)) {
            try ThresholdSelection.choose(labels: [true, true], values: [0.1, 0.2], target: .f1)
        }
    }

    @Test(arguments: [
        ("precision=0.9", ThresholdTarget.precision(0.9)), ("recall=1", .recall(1)), ("f1", .f1), ("recall=0.25", .recall(0.25)),
    ])
    func thresholdTargetParses(text: String, target: ThresholdTarget) {
        #expect(ThresholdTarget(parsing: text) == target)
        #expect(ThresholdTarget(parsing: target.description) == target)
    }

    @Test(arguments: ["precision=0", "precision=1.5", "recall=-0.1", "accuracy=0.9", "precision", "f1=0.5", "precision=nan", ""])
    func thresholdTargetRefuses(text: String) {
        #expect(ThresholdTarget(parsing: text) == nil)
    }

    /// The rule of `ThresholdSelection` by brute force: every distinct value, counts recomputed, the best by the
    /// target's keys compared as Doubles (exact for these small counts).
    static func bruteForce(labels: [Bool], values: [Double], target: ThresholdTarget) -> Double {
        let positives = labels.filter { $0 }.count
        var best: (keys: [Double], threshold: Double)?
        for threshold in Set(values).sorted(by: >) {
            let chosen = values.indices.filter { values[$0] >= threshold }
            let tp = chosen.filter { labels[$0] }.count
            let precision = Double(tp) / Double(chosen.count), recall = Double(tp) / Double(positives)
            let keys: [Double]
            switch target {
            case .precision(let level):
                keys = precision >= level ? [1, recall, precision] : [0, precision, recall]
            case .recall(let level):
                keys = recall >= level ? [1, precision, recall] : [0, recall, precision]
            case .f1:
                keys = [Double(2 * tp) / Double(chosen.count + positives)]
            }
            if best.map({ keys.lexicographicallyPrecedes($0.keys) == false && keys != $0.keys }) ?? true {
                best = (keys, threshold)
            }
        }
        return best!.threshold
    }

    @Test(arguments: 0..<40)
    func thresholdMatchesBruteForceAndIgnoresOrder(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        let count = 5 + Int(random.next() % 40)
        // Few distinct values, so ties within and across classes are common.
        var pairs = (0..<count).map { _ in (Double(random.next() % 12) / 11, random.next() % 3 == 0) }
        if !pairs.contains(where: { $0.1 }) { pairs[0].1 = true }
        if !pairs.contains(where: { !$0.1 }) { pairs[1].1 = false }
        let targets: [ThresholdTarget] = [.precision(0.5), .precision(0.8), .precision(1), .recall(0.5), .recall(0.9), .f1]
        for target in targets {
            let choice = try ThresholdSelection.choose(labels: pairs.map(\.1), values: pairs.map(\.0), target: target)
            #expect(choice.threshold == Self.bruteForce(labels: pairs.map(\.1), values: pairs.map(\.0), target: target), "\(target)")
            let shuffled = pairs.shuffled(using: &random)
            let again = try ThresholdSelection.choose(labels: shuffled.map(\.1), values: shuffled.map(\.0), target: target)
            #expect(again == choice)
        }
    }
}
