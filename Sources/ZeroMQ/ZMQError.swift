import CZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed libzmq call: which operation (with its argument, e.g. `zmq_bind(tcp://127.0.0.1:5555)`), the
/// `errno` it left and libzmq's text for it.
///
/// The conditions callers routinely act on are separate cases so that they can be matched without
/// comparing error numbers:
///
///     EAGAIN        → .wouldBlock         (non-blocking call found nothing to do, or a timeout expired)
///     ETERM         → .contextTerminated  (the context is shutting down: stop using the socket)
///     EHOSTUNREACH  → .hostUnreachable    (ROUTER with ZMQ_ROUTER_MANDATORY: no peer has that routing id)
///     anything else → .failed
public enum ZMQError: Error, Sendable, Equatable, CustomStringConvertible {
    case wouldBlock(operation: String)
    case contextTerminated(operation: String)
    case hostUnreachable(operation: String)
    case failed(operation: String, code: Int32)

    /// Classifies the `errno` value left by a failed call of `operation`.
    init(operation: String, code: Int32) {
        switch code {
        case EAGAIN: self = .wouldBlock(operation: operation)
        case ETERM: self = .contextTerminated(operation: operation)
        case EHOSTUNREACH: self = .hostUnreachable(operation: operation)
        default: self = .failed(operation: operation, code: code)
        }
    }

    /// The C call and its argument, e.g. `zmq_connect(tcp://10.0.0.2:7000)`.
    public var operation: String {
        switch self {
        case .wouldBlock(let operation), .contextTerminated(let operation), .hostUnreachable(let operation),
            .failed(let operation, _):
            operation
        }
    }

    /// The `errno` value the call left.
    public var code: Int32 {
        switch self {
        case .wouldBlock: EAGAIN
        case .contextTerminated: ETERM
        case .hostUnreachable: EHOSTUNREACH
        case .failed(_, let code): code
        }
    }

    /// libzmq's text for `code` (`zmq_strerror`), which also covers the ZeroMQ-specific numbers such as ETERM.
    public var message: String { String(cString: zmq_strerror(code)) }

    public var description: String { "\(operation): \(message) (errno \(code))" }
}

/// Whether a call interrupted by a signal (EINTR) may simply be made again.
///
/// Retrying is safe when an interrupted call had no effect: libzmq reports EINTR from `zmq_send`,
/// `zmq_msg_recv`, `zmq_poll` and `zmq_ctx_term` before anything was queued, consumed or released.
enum InterruptPolicy {
    case retry
    case fail
}

/// The single funnel through which every libzmq call of this module goes.
///
/// `call` performs the C call and returns its result code; a negative code means failure, in which case
/// `zmq_errno()` is read immediately (before any other libzmq call can overwrite it). EINTR is retried when
/// `interrupts` is `.retry`; every other failure becomes a `ZMQError` naming `operation`. Calls that return a
/// pointer report failure by returning -1 from `call` when the pointer is NULL.
///
/// `operation` is an autoclosure so the description string is only built when a call fails.
@discardableResult
func zmqCall(
    _ operation: @autoclosure () -> String, interrupts: InterruptPolicy = .fail, _ call: () -> Int32
) throws(ZMQError) -> Int32 {
    while true {
        let result = call()
        if result >= 0 { return result }
        let code = zmq_errno()
        if code == EINTR, interrupts == .retry { continue }
        throw ZMQError(operation: operation(), code: code)
    }
}
