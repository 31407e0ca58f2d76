import Foundation
import ShardArtifacts

/// The `--summary-json` file and the closing `summary` event: every `RunSummary` key, plus `train_metrics` and
/// `test_metrics` (the `evaluate` report of the training and held-out rows) when computed, and `event` in the
/// progress stream. Encoded with `JSONEncoder` in one pass (a summary holds every parameter: 427k for the VAE
/// of the benchmarks, where a round trip through `JSONSerialization` took seconds).
public struct SummaryDocument: Encodable, Sendable {
    public var summary: RunSummary
    public var train: EvaluationReport?
    public var test: EvaluationReport?
    /// The settings the run used (nil for documents not made by a training run).
    public var settings: RunSettings?
    /// `"summary"` in the progress stream, absent in the file.
    public var event: String?

    public init(summary: RunSummary, train: EvaluationReport?, test: EvaluationReport?, event: String? = nil) {
        self.summary = summary
        self.train = train
        self.test = test
        self.event = event
    }

    private enum ExtraKeys: String, CodingKey {
        case trainMetrics = "train_metrics"
        case testMetrics = "test_metrics"
        case event
        case settings
    }

    public func encode(to encoder: any Encoder) throws {
        try summary.encode(to: encoder)
        var container = encoder.container(keyedBy: ExtraKeys.self)
        try container.encodeIfPresent(train, forKey: .trainMetrics)
        try container.encodeIfPresent(test, forKey: .testMetrics)
        try container.encodeIfPresent(event, forKey: .event)
        try container.encodeIfPresent(settings, forKey: .settings)
    }

    /// UTF-8 JSON with sorted keys: indented for the file, one line (no newline) for the stream. Report keys
    /// are snake_case (the summary's own keys are already); non-finite numbers are the strings "Infinity",
    /// "-Infinity" and "NaN".
    public func jsonData(pretty: Bool) throws -> Data {
        try JSONStyle.encoder(pretty: pretty, snakeCaseKeys: true).encode(self)
    }
}
