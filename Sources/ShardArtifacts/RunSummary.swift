import Foundation

/// The `--summary-json` file of a training run. Keys are snake_case; all floating-point values are
/// written with enough digits to read back the exact float64.
public struct RunSummary: Sendable, Codable, Equatable {
    public var model: String
    public var workers: Int
    public var rounds: Int
    public var objective: Double
    public var dataLoss: Double
    public var l2Term: Double
    public var gradientNorm: Double
    public var converged: Bool
    public var stopReason: String
    public var trainAccuracy: Double?
    /// Seconds from the start of the executor (local workers started, blocks shipped) to the final parameters.
    public var wallSeconds: Double
    /// Seconds spent reading and preparing the data before training (nil when not measured).
    public var loadSeconds: Double?
    /// Seconds spent on the closing training and held-out metrics (nil when not measured).
    public var metricsSeconds: Double?
    /// SHA-256 of the little-endian float64 bytes of the flat parameter vector `[w…, b]`.
    public var parametersSHA256: String
    public var parameters: [Double]
    public var optimizer: String
    public var precision: String
    public var l2: Double
    public var rows: Int
    public var features: Int
    public var blockRows: Int
    public var blocks: Int
    public var dataFile: String

    public init(
        model: String, workers: Int, rounds: Int, objective: Double, dataLoss: Double, l2Term: Double,
        gradientNorm: Double, converged: Bool, stopReason: String, trainAccuracy: Double?, wallSeconds: Double,
        parametersSHA256: String, parameters: [Double], optimizer: String, precision: String, l2: Double,
        rows: Int, features: Int, blockRows: Int, blocks: Int, dataFile: String
    ) {
        self.model = model
        self.workers = workers
        self.rounds = rounds
        self.objective = objective
        self.dataLoss = dataLoss
        self.l2Term = l2Term
        self.gradientNorm = gradientNorm
        self.converged = converged
        self.stopReason = stopReason
        self.trainAccuracy = trainAccuracy
        self.wallSeconds = wallSeconds
        self.parametersSHA256 = parametersSHA256
        self.parameters = parameters
        self.optimizer = optimizer
        self.precision = precision
        self.l2 = l2
        self.rows = rows
        self.features = features
        self.blockRows = blockRows
        self.blocks = blocks
        self.dataFile = dataFile
    }

    enum CodingKeys: String, CodingKey {
        case model, workers, rounds, objective, converged, parameters, optimizer, precision, l2, rows, features, blocks
        case dataLoss = "data_loss"
        case l2Term = "l2_term"
        case gradientNorm = "gradient_norm"
        case stopReason = "stop_reason"
        case trainAccuracy = "train_accuracy"
        case wallSeconds = "wall_seconds"
        case loadSeconds = "load_seconds"
        case metricsSeconds = "metrics_seconds"
        case parametersSHA256 = "parameters_sha256"
        case blockRows = "block_rows"
        case dataFile = "data_file"
    }

    /// Pretty-printed JSON with sorted keys.
    public func jsonData() throws(ArtifactError) -> Data {
        let encoder = JSONStyle.encoder(pretty: true)
        do {
            return try encoder.encode(self)
        } catch {
            throw .format(path: "summary", reason: "cannot encode: \(error)")
        }
    }

    /// Writes the summary atomically to `path`.
    public func write(to path: String) throws(ArtifactError) {
        try AtomicFile.write(try jsonData(), to: path)
    }
}
