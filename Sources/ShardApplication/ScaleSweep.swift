import Foundation
import ShardArtifacts

/// A scaling sweep as `scale` writes it (`--json`, `--summary-json`; format "shardtrain-scale/1", keys in README.md,
/// "The scale document"), read back for its report. Times are seconds, the median over a run's rounds; values that
/// were not measured are nil.
public struct ScaleSweep: Decodable, Sendable, Equatable {
    public static let format = "shardtrain-scale/1"

    /// Where the workers ran.
    public struct Network: Decodable, Sendable, Equatable {
        /// "unix-socket" (local workers) or "emulated-hosts".
        public var kind: String
        public var hosts: Int?
        public var linkBitsPerSecond: Double?
        public var tbfBurstBytes: Int?
        public var subnet: String?
        public var curve: Bool
    }

    /// One worker count: the median round and its parts, and what the cost model said of it.
    public struct Run: Decodable, Sendable, Equatable {
        public var workers: Int
        /// "fit", "predict" (predicted before it was measured) or "in-process" (0 workers, not fitted).
        public var role: String
        public var rounds: Int
        public var roundSeconds: Double
        /// The slowest worker's compute; `waitSeconds` (slowest − mean worker) is a part of it.
        public var computeSeconds: Double
        public var waitSeconds: Double
        /// Round − compute: messages, reduction, optimizer step.
        public var communicationSeconds: Double
        public var rowsPerSecond: Double
        public var parametersSha256: String
        /// Against the measured 1-worker round (nil without one, and for 0 workers).
        public var speedup: Double?
        public var efficiency: Double?
        public var cores: Double
        public var frameBytes: Int
        public var linkBytes: Int
        public var rateLimitedBytes: Int
        public var transferSeconds: Double
        public var modelRoundSeconds: Double?
        public var modelComputeSeconds: Double?
        public var modelCommunicationSeconds: Double?
        /// 100 (model − measured) / measured.
        public var modelErrorPercent: Double?
    }

    /// The fitted coefficients (see `ScalingModel`).
    public struct Model: Decodable, Sendable, Equatable {
        public var computeLatencySeconds: Double
        public var communicationLatencySeconds: Double
        public var latencySeconds: Double
        public var workCoreSeconds: Double
        public var perWorkerSeconds: Double
    }

    public struct PredictionError: Decodable, Sendable, Equatable {
        public var meanAbsolute: Double
        public var maxAbsolute: Double
    }

    /// The model's rounds for larger clusters.
    public struct ClusterPrediction: Decodable, Sendable, Equatable {
        public struct Assumptions: Decodable, Sendable, Equatable {
            public var coresPerHost: Int
            /// nil: links without a limit (`--bandwidth inf`).
            public var linkBitsPerSecond: Double?
            public var curve: Bool
            public var topology: String
        }

        public struct Point: Decodable, Sendable, Equatable {
            public var workers: Int
            public var roundSeconds: Double
            public var computeSeconds: Double
            public var communicationSeconds: Double
            /// The link's part of `communicationSeconds`.
            public var transferSeconds: Double
            public var frameBytes: Int
            public var linkBytes: Int
            public var rateLimitedBytes: Int
            public var rowsPerSecond: Double
            public var speedup: Double?
            public var efficiency: Double?
        }

        public var assumptions: Assumptions
        public var points: [Point]
        /// Counts with more workers than blocks.
        public var skippedWorkers: [Int]
    }

    public var format: String
    public var rows: Int
    public var blocks: Int
    public var parameters: Int
    public var sumsWidth: Int
    public var rounds: Int
    public var coresPerWorker: Int
    public var machineCores: Int
    public var network: Network
    public var identicalParameters: Bool
    public var fitWorkers: [Int]
    public var predictWorkers: [Int]
    public var runs: [Run]
    public var model: Model
    public var predictionErrorPercent: PredictionError?
    public var clusterPrediction: ClusterPrediction
    /// The run's settings, as in a training summary (absent in documents written before they were added).
    public var settings: RunSettings?

    /// Reads a scale document; `path` names it in errors, which name the field (`runs[2].round_seconds is missing`).
    public init(json: Data, path: String) throws(ArtifactError) {
        struct Format: Decodable {
            var format: String?
            var parametersSha256: String?
            var wallSeconds: Double?
        }
        let read: Format
        do {
            let decoder = JSONDecoder()
            decoder.keyDecodingStrategy = .convertFromSnakeCase
            read = try decoder.decode(Format.self, from: json)
        } catch {
            throw .format(path: path, reason: "not a JSON object (a document of scale --json or --summary-json)")
        }
        let format = read.format
        if format == nil, read.parametersSha256 != nil, read.wallSeconds != nil {
            throw .format(
                path: path,
                reason: "a training run's summary, not a scaling sweep: report --scale reads what scale --summary-json "
                    + "writes; a training run draws its own report with train --report FILE.html")
        }
        guard format == Self.format else {
            throw .format(
                path: path,
                reason: "format is \(format.map { "\"\($0)\"" } ?? "missing"), expected \"\(Self.format)\" (a document of scale --json or --summary-json)")
        }
        self = try DocumentDecoding.decode(Self.self, from: json, path: path, field: Self.field, context: "the scale document")
    }

    /// A decoding path as the document spells it: `runs[2].round_seconds`.
    static func field(_ path: [any CodingKey]) -> String {
        guard !path.isEmpty else { return "the document" }
        var text = ""
        for key in path {
            if let index = key.intValue {
                text += "[\(index)]"
            } else {
                text += (text.isEmpty ? "" : ".") + key.stringValue.replacing(#/[A-Z]/#) { "_" + $0.output.lowercased() }
            }
        }
        return text
    }
}

extension PreparedRun {
    /// The settings this run uses (defaults resolved), as a training summary's `settings` object holds them.
    public var settings: RunSettings { RunSettings(self) }
}
