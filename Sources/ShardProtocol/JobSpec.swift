import Foundation
import ShardData
import ShardEngine
import ShardModels
import ShardNumerics

/// What a worker is told in WELCOME: the model to build, the plan its blocks belong to, the timing and the seed.
/// Which blocks it holds is not part of the job: HOLD says that, and changes when blocks move.
///
/// Sent as JSON inside the binary WELCOME frame (once per worker, not on the hot path).
public struct JobSpec: Sendable, Codable, Equatable {
    public var model: ModelSpec
    public var precision: Precision
    /// The whole run's blocks (the reduction tree is built over all of them).
    public var plan: BlockPlan
    /// The coordinator's heartbeat interval and worker timeout (the worker uses both towards the coordinator).
    public var timing: ClusterTiming
    /// The run's seed: with the round, block id and row it keys every random number a model draws.
    public var seed: UInt64
    /// The mini-batch schedule shared with the coordinator (nil: full-batch rounds only).
    public var schedule: BatchSchedule?

    public init(
        model: ModelSpec, precision: Precision, plan: BlockPlan, timing: ClusterTiming, seed: UInt64,
        schedule: BatchSchedule? = nil
    ) {
        self.seed = seed
        self.schedule = schedule
        self.model = model
        self.precision = precision
        self.plan = plan
        self.timing = timing
    }

    /// Blocks in the whole plan.
    public var totalBlocks: Int { plan.blockCount }

    /// Throws `.invalidConfiguration` naming the first field that no coordinator should send:
    ///
    ///     timing valid (`ClusterTiming.validate`)
    ///     schedule.blockCount == totalBlocks             (when there is a schedule)
    ///     the model's sizes fit this machine's memory    (`ModelSpec.validateSizes`, one thread, the plan's blocks)
    public func validate() throws(ClusterError) {
        if let problem { throw .invalidConfiguration("job spec: \(problem)") }
    }

    private var problem: String? {
        do { try timing.validate() } catch {
            if case .invalidConfiguration(let message) = error { return message }
            return error.description
        }
        if let schedule, schedule.blockCount != totalBlocks {
            return "the batch schedule covers \(schedule.blockCount) blocks, the plan has \(totalBlocks)"
        }
        do { try model.validateSizes(blockRows: plan.blockRows) } catch { return "model: \(error)" }
        return nil
    }

    /// JSON with sorted keys, after `validate` (so a worker never receives a spec it would reject). Also
    /// throws `.invalidConfiguration` for a value JSON cannot carry (a non-finite model parameter).
    public func encoded() throws(ClusterError) -> [UInt8] {
        try validate()
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        do {
            return [UInt8](try encoder.encode(self))
        } catch {
            throw .invalidConfiguration("job spec cannot be encoded: \(error)")
        }
    }

    /// The spec a WELCOME carries; throws `.protocolViolation` for bytes that are not a job spec, or for a
    /// spec `validate` rejects.
    public static func decode(_ bytes: [UInt8]) throws(ClusterError) -> JobSpec {
        let spec: JobSpec
        do {
            spec = try JSONDecoder().decode(JobSpec.self, from: Data(bytes))
        } catch {
            throw .protocolViolation("job spec is not valid: \(error)")
        }
        do {
            try spec.validate()
        } catch {
            throw .protocolViolation("job spec is not valid: \(spec.problem ?? "\(error)")")
        }
        return spec
    }
}
