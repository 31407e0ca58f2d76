import Foundation
import ShardArtifacts
import ShardData
import ShardLosses
import ShardMetrics
import ShardModels

/// What a binary model's decision threshold is compared with.
///
///     probability   logistic: p = sigmoid(s), default threshold 0.5
///     score         svm: the decision value s = x·w + b, default threshold 0
///
/// A row is predicted positive when its value is ≥ the threshold (the rule of `Ranking` and `ThresholdSelection`).
public enum ThresholdScale: String, Codable, Sendable {
    case probability
    case score

    public var defaultThreshold: Double { self == .probability ? 0.5 : 0 }

    /// The values the threshold is compared with, from the model's scores.
    func values(ofScores scores: [Double]) -> [Double] {
        self == .probability ? scores.map(StableMath.sigmoid) : scores
    }

    func value(ofScore score: Double) -> Double { self == .probability ? StableMath.sigmoid(score) : score }

    /// Throws unless `threshold` can be compared with values of this scale: finite, and in [0, 1] for a probability.
    public func validate(_ threshold: Double) throws(ApplicationError) {
        guard threshold.isFinite else { throw .invalidArgument("--threshold must be a finite number, got \(threshold)") }
        if self == .probability, !(0...1).contains(threshold) {
            throw .invalidArgument("--threshold of a logistic model is a probability in [0, 1], got \(threshold)")
        }
    }
}

/// The threshold a binary model's predicted labels use, and where it came from.
public struct AppliedThreshold: Sendable, Equatable, Codable {
    public enum Source: String, Codable, Sendable {
        /// `--threshold` on the command line.
        case given
        /// Chosen at training time (`--threshold-for`) and stored in the model file.
        case recorded
        /// The scale's default (0.5 on the probability, 0 on the score).
        case `default`
    }

    public var value: Double
    public var appliesTo: ThresholdScale
    public var source: Source
    /// The recorded threshold's target (`precision=0.9`), when it is the recorded one.
    public var target: String?

    /// "predicted 1 when probability ≥ 0.5 (default)".
    public var sentence: String { sentence(positive: "1") }

    /// "predicted yes when probability ≥ 0.5 (default)": the positive class by the name the file gave it.
    public func sentence(positive: String) -> String {
        let origin =
            switch source {
            case .given: "given"
            case .recorded: "recorded in the model, chosen for \(target ?? "?") on held-out rows"
            case .default: "default"
            }
        return "predicted \(positive) when \(appliesTo.rawValue) ≥ \(PredictionTable.number(value)) (\(origin))"
    }
}

extension LoadedModel {
    /// The scale of this model's decision threshold; nil for the kinds that have none (all but logistic and svm).
    public var thresholdScale: ThresholdScale? {
        switch kind {
        case .logistic: .probability
        case .svm: .score
        case .softmax, .quantile, .triplet, .vae, .linear: nil
        }
    }

    /// `givenThreshold`, else the one recorded in the model file, else the scale's default; nil for the kinds
    /// without a threshold.
    public var appliedThreshold: AppliedThreshold? {
        guard let scale = thresholdScale else { return nil }
        if let givenThreshold { return AppliedThreshold(value: givenThreshold, appliesTo: scale, source: .given) }
        if let recorded = file.decisionThreshold {
            return AppliedThreshold(value: recorded.value, appliesTo: scale, source: .recorded, target: recorded.target)
        }
        return AppliedThreshold(value: scale.defaultThreshold, appliesTo: scale, source: .default)
    }

    /// Sets `givenThreshold` after checking that this model has a threshold and that `threshold` fits its scale.
    public mutating func setThreshold(_ threshold: Double) throws(ApplicationError) {
        guard let scale = thresholdScale else {
            throw .invalidArgument(
                "--threshold applies to the binary models (logistic: on the probability, svm: on the score); this "
                    + "model is \(kind.rawValue)")
        }
        try scale.validate(threshold)
        givenThreshold = threshold
    }

    /// The rule that turns a score into a predicted label under `appliedThreshold`.
    var binaryDecision: BinaryDecision {
        let threshold = appliedThreshold
        return BinaryDecision(
            scale: threshold?.appliesTo ?? .score, threshold: threshold?.value ?? 0,
            negativeLabel: outputLabelEncoding.negativeLabel)
    }

    /// Chooses the decision threshold for `target` on labelled rows (`ThresholdSelection.choose` on the
    /// probabilities of a logistic model, the scores of an svm). The values are the model's outputs, which are the
    /// same bits for any worker count, so the threshold is too.
    public func chooseThreshold(on input: ModelInput, target: ThresholdTarget) throws(ApplicationError)
        -> DecisionThreshold
    {
        guard let scale = thresholdScale else {
            throw .unsupportedKind(command: "--threshold-for", kind: kind, supported: [.logistic, .svm])
        }
        let labelled = try trainingLabels(input)
        let (scores, width) = try rawOutputs(input)
        try checkFinite(scores, width: width, input: input)
        let choice: ThresholdChoice
        do {
            choice = try ThresholdSelection.choose(
                labels: labelled.labels.map { $0 == 1 }, values: scale.values(ofScores: scores), target: target)
        } catch {
            throw .metrics(error)
        }
        return DecisionThreshold(
            value: choice.threshold, target: target.description, targetMet: choice.targetMet,
            precision: choice.precision, recall: choice.recall, f1: choice.f1, heldOutRows: input.rowCount)
    }
}

/// Predicted label 1 when the value of the score on `scale` is ≥ `threshold`, else `negativeLabel` (0 or −1).
struct BinaryDecision: Sendable {
    let scale: ThresholdScale
    let threshold: Double
    let negativeLabel: Double

    func label(ofScore score: Double) -> Double { scale.value(ofScore: score) >= threshold ? 1 : negativeLabel }
}

extension DecisionThreshold {
    /// One line for the run's report: the threshold, what it achieved on the held-out rows, and whether the
    /// target was reached.
    public var sentence: String {
        let achieved =
            "precision \(fixed(precision)), recall \(fixed(recall)), F1 \(fixed(f1)) on \(heldOutRows) held-out rows"
        return "decision threshold \(PredictionTable.number(value)) chosen for \(target): \(achieved)"
            + (targetMet ? "" : " — the target is not reached on these rows; this is the best available")
    }

    private func fixed(_ value: Double) -> String { String(format: "%.4f", value) }
}
