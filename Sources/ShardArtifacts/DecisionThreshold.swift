/// The decision threshold of a binary model chosen at training time (`train --threshold-for`), stored in the model
/// file (metadata `decision_threshold`, JSON) and in the summary, and applied by `predict` and `evaluate` unless
/// `--threshold` overrides it.
///
///     value        rows with value ≥ this are predicted positive: the probability for logistic, the score for svm
///     target       the rule it was chosen by: "precision=0.9", "recall=0.9" or "f1"
///     target_met   whether the held-out rows reach the target's constraint (else the best available was taken)
///     precision, recall, f1   achieved on the held-out rows at `value`
///     held_out_rows           how many rows it was chosen on
public struct DecisionThreshold: Codable, Sendable, Equatable {
    public var value: Double
    public var target: String
    public var targetMet: Bool
    public var precision: Double
    public var recall: Double
    public var f1: Double
    public var heldOutRows: Int

    public init(
        value: Double, target: String, targetMet: Bool, precision: Double, recall: Double, f1: Double, heldOutRows: Int
    ) {
        self.value = value
        self.target = target
        self.targetMet = targetMet
        self.precision = precision
        self.recall = recall
        self.f1 = f1
        self.heldOutRows = heldOutRows
    }

    private enum CodingKeys: String, CodingKey {
        case value, target, precision, recall, f1
        case targetMet = "target_met"
        case heldOutRows = "held_out_rows"
    }
}
