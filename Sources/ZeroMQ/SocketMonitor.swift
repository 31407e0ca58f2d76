import CZeroMQ

/// The connection events of one socket (`zmq_socket_monitor`), read from an inproc PAIR socket: what a caller
/// needs to tell "nobody is listening yet" from "the peer refused us during the CURVE handshake".
///
/// Each event is a two-part message: 6 bytes (event id, `uint16`; value, `uint32`; native endianness) and the
/// endpoint. Like `Socket`, a monitor belongs to one thread.
public final class SocketMonitor {
    /// What happened on a connection of the monitored socket.
    public enum Event: Sendable, Equatable {
        case connected(address: String)
        case disconnected(address: String)
        case handshakeSucceeded(address: String)
        /// The peer (or its ZAP handler) refused the security handshake; `status` is the ZAP status code (e.g. 400).
        case handshakeRefused(address: String, status: UInt32)
        /// The handshake broke off with a protocol error (`code`: a `ZMQ_PROTOCOL_ERROR_*` value, e.g. a
        /// cryptographic failure when the keys do not match).
        case handshakeProtocolError(address: String, code: UInt32)
        /// The handshake failed without a protocol error (`errno`: the system's error).
        case handshakeFailed(address: String, errno: UInt32)
        case other(id: UInt16, value: UInt32, address: String)
    }

    /// `handshakeProtocolError` codes: the keys do not fit (e.g. the client has the wrong server key) …
    public static let cryptographicError = UInt32(ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC)
    /// … or one side uses CURVE and the other does not.
    public static let mechanismMismatch = UInt32(ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)

    /// The PAIR socket the events arrive on (for `poll`).
    public let socket: Socket
    private let monitored: Socket

    /// Starts monitoring `monitored` for connections, disconnections and handshake outcomes.
    public init(_ monitored: Socket) throws(ZMQError) {
        let endpoint = "inproc://shardtrain-monitor-\(UInt(bitPattern: monitored.handle))"
        let events =
            ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED
            | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
        try zmqCall("zmq_socket_monitor(\(endpoint))") { zmq_socket_monitor(monitored.handle, endpoint, events) }
        self.monitored = monitored
        socket = try monitored.context.socket(.pair)
        try socket.connect(endpoint)
    }

    deinit {
        // Stops the monitor (a NULL endpoint), so libzmq's monitor pipe closes before either socket does.
        _ = zmq_socket_monitor(monitored.handle, nil, 0)
    }

    /// The next event, or nil when none arrives within `wait`.
    public func next(_ wait: Socket.Wait = .none) throws(ZMQError) -> Event? {
        guard let parts = try socket.receive(wait), parts.count == 2, parts[0].count == 6 else { return nil }
        let (id, value) = parts[0].withUnsafeBytes {
            ($0.loadUnaligned(fromByteOffset: 0, as: UInt16.self), $0.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
        }
        let address = String(decoding: parts[1], as: UTF8.self)
        switch Int32(id) {
        case ZMQ_EVENT_CONNECTED: return .connected(address: address)
        case ZMQ_EVENT_DISCONNECTED: return .disconnected(address: address)
        case ZMQ_EVENT_HANDSHAKE_SUCCEEDED: return .handshakeSucceeded(address: address)
        case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH: return .handshakeRefused(address: address, status: value)
        case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL: return .handshakeProtocolError(address: address, code: value)
        case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL: return .handshakeFailed(address: address, errno: value)
        default: return .other(id: id, value: value, address: address)
        }
    }
}
