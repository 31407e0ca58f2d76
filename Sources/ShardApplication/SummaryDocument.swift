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
    /// What the cluster survived (nil in single-process mode).
    public var faults: FaultCounts?
    /// The executable that computed the result (version, protocol, kernels, BLAS, build digest, libc).
    public var build: String?
    /// The release of the executable (`shardtrain --version`).
    public var version: String?
    /// SHA-256 of each input file, by its flag without dashes (`data`, `labels`, `rows`, `test_rows`, `test_data`).
    public var inputSHA256: [String: String]?
    /// Where the run wrote its files: `model`, `summary`, `history` (those asked for).
    public var outputs: [String: String]?
    /// The threshold `--threshold-for` chose on the held-out rows (also in the model file).
    public var decisionThreshold: DecisionThreshold?

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
        case faults
        case build, version
        case inputSHA256 = "input_sha256"
        case outputs
        case decisionThreshold = "decision_threshold"
    }

    public func encode(to encoder: any Encoder) throws {
        try summary.encode(to: encoder)
        var container = encoder.container(keyedBy: ExtraKeys.self)
        try container.encodeIfPresent(train, forKey: .trainMetrics)
        try container.encodeIfPresent(test, forKey: .testMetrics)
        try container.encodeIfPresent(event, forKey: .event)
        try container.encodeIfPresent(settings, forKey: .settings)
        try container.encodeIfPresent(faults, forKey: .faults)
        try container.encodeIfPresent(build, forKey: .build)
        try container.encodeIfPresent(version, forKey: .version)
        try container.encodeIfPresent(inputSHA256, forKey: .inputSHA256)
        try container.encodeIfPresent(outputs, forKey: .outputs)
        try container.encodeIfPresent(decisionThreshold, forKey: .decisionThreshold)
    }

    /// UTF-8 JSON with sorted keys: indented for the file, one line (no newline) for the stream. Report keys
    /// are snake_case (the summary's own keys are already); non-finite numbers are the strings "Infinity",
    /// "-Infinity" and "NaN".
    public func jsonData(pretty: Bool) throws -> Data {
        try JSONStyle.encoder(pretty: pretty, snakeCaseKeys: true).encode(self)
    }
}

/// The `faults` object of a cluster run's summary: workers lost and joined, block ranges reassigned, backups for
/// stragglers, answers dropped as duplicates (a backup and the straggler both answered) or as stale.
public struct FaultCounts: Encodable, Sendable, Equatable {
    public var workersLost: Int
    public var workersJoined: Int
    public var reassignments: Int
    public var backups: Int
    public var duplicateAnswers: Int
    public var disagreements: Int
    /// Answers that looked impossible (non-finite, a negative loss) and were recomputed by another worker.
    public var verifications: Int
    public var staleFrames: Int
    /// Frames from peers that are not workers of the job (garbage, other versions, refused HELLOs).
    public var refusedFrames: Int

    public init(
        workersLost: Int, workersJoined: Int, reassignments: Int, backups: Int, duplicateAnswers: Int,
        disagreements: Int, verifications: Int, staleFrames: Int, refusedFrames: Int
    ) {
        self.refusedFrames = refusedFrames
        self.verifications = verifications
        self.workersLost = workersLost
        self.workersJoined = workersJoined
        self.reassignments = reassignments
        self.backups = backups
        self.duplicateAnswers = duplicateAnswers
        self.disagreements = disagreements
        self.staleFrames = staleFrames
    }

    private enum CodingKeys: String, CodingKey {
        case workersLost = "workers_lost"
        case workersJoined = "workers_joined"
        case reassignments, backups
        case duplicateAnswers = "duplicate_answers"
        case disagreements, verifications
        case staleFrames = "stale_frames"
        case refusedFrames = "refused_frames"
    }
}
