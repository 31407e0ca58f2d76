/// Why a coordinator or a worker stopped.
public enum ClusterError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A peer broke the protocol (bad frame, wrong order, wrong sizes, an invalid job spec).
    case protocolViolation(String)
    /// The job cannot go on: fewer than `--min-workers` live workers, the join timed out, a round could not be
    /// reduced. (A single lost worker is an event, `CoordinatorInstance.Event.workerLost`, not an error.)
    case jobFailed(String)
    /// The coordinator went silent, or can no longer be sent to.
    case coordinatorLost(String)
    /// The coordinator answered HELLO with REFUSE (another software identity, or the job is full).
    case refused(String)
    /// The security handshake with the coordinator was refused or keeps failing (the keys do not fit).
    case handshakeFailed(String)
    /// Socket-level failure (bind, connect, send).
    case transport(String)
    /// The worker could not build its model or compute a round on its blocks.
    case computeFailed(String)
    /// Settings that cannot work (no workers, a heartbeat not shorter than the worker timeout, …).
    case invalidConfiguration(String)
    case interrupted

    public var description: String {
        switch self {
        case .protocolViolation(let message): "protocol violation: \(message)"
        case .jobFailed(let message): message
        case .coordinatorLost(let message): message
        case .refused(let message): "refused by the coordinator: \(message)"
        case .handshakeFailed(let message): message
        case .transport(let message): "transport: \(message)"
        case .computeFailed(let message): "computation failed: \(message)"
        case .invalidConfiguration(let message): message
        case .interrupted: "interrupted"
        }
    }
}
