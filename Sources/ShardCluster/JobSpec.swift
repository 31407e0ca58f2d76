import Foundation
import ShardEngine
import ShardModels
import ShardNumerics

/// What a worker is told in WELCOME: the model to build and which blocks it will hold.
///
/// Sent as JSON inside the binary WELCOME frame (once per worker, not on the hot path).
public struct JobSpec: Sendable, Codable, Equatable {
    public var model: ModelSpec
    public var precision: Precision
    /// Blocks in the whole plan (the reduction tree is built over all of them).
    public var totalBlocks: Int
    /// The worker's shard: blocks `firstBlock ..< firstBlock + blockCount`.
    public var firstBlock: Int
    public var blockCount: Int
    public var rowCount: Int
    /// Seconds between heartbeats, and seconds of silence after which a peer is declared dead.
    public var heartbeatInterval: Double
    public var deadAfter: Double
    /// The run's seed: with the round, block id and row it keys every random number a model draws.
    public var seed: UInt64
    /// The mini-batch schedule shared with the coordinator (nil: full-batch rounds only).
    public var schedule: BatchSchedule?

    public init(
        model: ModelSpec, precision: Precision, totalBlocks: Int, firstBlock: Int, blockCount: Int, rowCount: Int,
        heartbeatInterval: Double, deadAfter: Double, seed: UInt64, schedule: BatchSchedule? = nil
    ) {
        self.seed = seed
        self.schedule = schedule
        self.model = model
        self.precision = precision
        self.totalBlocks = totalBlocks
        self.firstBlock = firstBlock
        self.blockCount = blockCount
        self.rowCount = rowCount
        self.heartbeatInterval = heartbeatInterval
        self.deadAfter = deadAfter
    }

    public var blockRange: Range<Int> { firstBlock..<(firstBlock + blockCount) }

    public func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        // Encoding plain structs of numbers and strings cannot fail.
        return [UInt8](try! encoder.encode(self))
    }

    public static func decode(_ bytes: [UInt8]) throws(ClusterError) -> JobSpec {
        do {
            return try JSONDecoder().decode(JobSpec.self, from: Data(bytes))
        } catch {
            throw .protocolViolation("job spec is not valid: \(error)")
        }
    }
}

/// Why a coordinator or a worker stopped.
public enum ClusterError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A peer broke the protocol (bad frame, wrong order, wrong sizes).
    case protocolViolation(String)
    /// A worker died, went silent or reported a failure.
    case workerLost(String)
    /// The coordinator went silent or refused us.
    case coordinatorLost(String)
    case refused(String)
    /// Socket-level failure (bind, connect, send).
    case transport(String)
    case timeout(String)
    case interrupted

    public var description: String {
        switch self {
        case .protocolViolation(let message): "protocol violation: \(message)"
        case .workerLost(let message): message
        case .coordinatorLost(let message): message
        case .refused(let message): "refused by the coordinator: \(message)"
        case .transport(let message): "transport: \(message)"
        case .timeout(let message): "timeout: \(message)"
        case .interrupted: "interrupted"
        }
    }
}
