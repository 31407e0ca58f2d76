import CZeroMQ

/// A libzmq context: the I/O threads and the inproc namespace that sockets share.
///
/// `zmq_ctx_term` (run in `deinit`) blocks until every socket of the context is closed, so a context
/// released while a socket is still open would hang forever. Each `Socket` therefore holds a strong
/// reference to its context: the context is terminated only after its last socket has been closed.
///
/// Contexts are thread-safe in libzmq, hence `Sendable`; sockets are not (see `Socket`).
public final class Context: @unchecked Sendable {
    /// The `void *` returned by `zmq_ctx_new`. Immutable after `init`, so sharing it across threads is safe.
    let handle: UnsafeMutableRawPointer

    public init() throws(ZMQError) {
        var created: UnsafeMutableRawPointer?
        try zmqCall("zmq_ctx_new()") {
            created = zmq_ctx_new()
            return created == nil ? -1 : 0
        }
        // zmqCall returned, so `created` is non-nil.
        handle = created.unsafelyUnwrapped
    }

    /// Creates a socket of `type`. Its linger period is set first (default 0 ms: pending outgoing messages
    /// are dropped when the socket is closed), then `options` in order.
    public func socket(
        _ type: SocketType, lingerMilliseconds: Int32 = 0, options: [SocketOption] = []
    ) throws(ZMQError) -> Socket {
        let socket = try Socket(context: self, type: type, lingerMilliseconds: lingerMilliseconds)
        for option in options {
            try socket.set(option)
        }
        return socket
    }

    /// Makes every blocking call on this context's sockets (in any thread) fail with `.contextTerminated`,
    /// and every later call too. The sockets still have to be released before the context terminates.
    public func shutdown() throws(ZMQError) {
        try zmqCall("zmq_ctx_shutdown()") { zmq_ctx_shutdown(handle) }
    }

    deinit {
        // All sockets are closed here (each holds the context), so this returns once linger periods end.
        // EINTR is documented as retryable; the only other failure (EFAULT) cannot occur for a live handle.
        _ = try? zmqCall("zmq_ctx_term()", interrupts: .retry) { zmq_ctx_term(handle) }
    }
}
