/// The timing settings of a job, one value shared by the command line, the coordinator, the job spec a worker
/// receives and the worker: `--heartbeat-interval`, `--worker-timeout`, `--join-timeout`.
public struct ClusterTiming: Sendable, Codable, Equatable {
    /// Seconds between heartbeats sent to an otherwise silent peer.
    public var heartbeatInterval: Double
    /// Seconds without any frame after which a peer is declared dead (a worker by the coordinator, the
    /// coordinator by a worker).
    public var workerTimeout: Double
    /// Seconds the coordinator waits for all workers to join and receive their blocks (and a worker for WELCOME).
    public var joinTimeout: Double

    public init(heartbeatInterval: Double = 0.25, workerTimeout: Double = 3, joinTimeout: Double = 120) {
        self.heartbeatInterval = heartbeatInterval
        self.workerTimeout = workerTimeout
        self.joinTimeout = joinTimeout
    }

    /// The longest timeout accepted: one day.
    public static let longest = 86_400.0

    /// Throws `.invalidConfiguration` unless `0 < heartbeatInterval < workerTimeout ≤ 86400` and
    /// `0 < joinTimeout ≤ 86400` (the loops derive their poll timeouts from these, never below 1 ms). Messages use
    /// the flags' names.
    public func validate() throws(ClusterError) {
        for (name, value) in [
            ("--heartbeat-interval", heartbeatInterval), ("--worker-timeout", workerTimeout), ("--join-timeout", joinTimeout),
        ] where !(value.isFinite && value > 0 && value <= Self.longest) {
            throw .invalidConfiguration("\(name) is \(value): it must be a number of seconds in (0, 86400]")
        }
        guard heartbeatInterval < workerTimeout else {
            throw .invalidConfiguration(
                "--heartbeat-interval (\(heartbeatInterval) s) must be shorter than --worker-timeout (\(workerTimeout) s)")
        }
    }
}
