import CZeroMQ

/// The ZeroMQ socket patterns this project uses.
public enum SocketType: Sendable, CaseIterable, CustomStringConvertible {
    /// Exactly one peer, bidirectional (ZMQ_PAIR).
    case pair
    /// Fans every message out to all matching subscribers; send only (ZMQ_PUB).
    case publisher
    /// Receives the publisher's messages whose first part starts with a subscribed prefix (ZMQ_SUB).
    case subscriber
    /// Load-balances outgoing messages over its peers, fair-queues incoming ones (ZMQ_DEALER).
    case dealer
    /// Prefixes each incoming message with the sender's routing id and routes outgoing messages by their
    /// first part (ZMQ_ROUTER).
    case router
    /// Strict request/reply, one request at a time (ZMQ_REP): the ZAP handler's socket.
    case rep
    /// A publisher that also receives its subscribers' (un)subscriptions as messages (ZMQ_XPUB): first byte 1 =
    /// subscribe, 0 = unsubscribe, then the prefix.
    case extendedPublisher

    var rawValue: Int32 {
        switch self {
        case .pair: ZMQ_PAIR
        case .publisher: ZMQ_PUB
        case .subscriber: ZMQ_SUB
        case .dealer: ZMQ_DEALER
        case .router: ZMQ_ROUTER
        case .rep: ZMQ_REP
        case .extendedPublisher: ZMQ_XPUB
        }
    }

    public var description: String {
        switch self {
        case .pair: "PAIR"
        case .publisher: "PUB"
        case .subscriber: "SUB"
        case .dealer: "DEALER"
        case .router: "ROUTER"
        case .rep: "REP"
        case .extendedPublisher: "XPUB"
        }
    }
}

/// A socket option and its value, applied with `Socket.set(_:)` or at creation (`Context.socket(_:options:)`).
///
/// Options that affect connections (routing id, heartbeats, limits, high-water marks, immediate) must be set
/// before `bind`/`connect` to apply to them.
public enum SocketOption: Sendable, Equatable, CustomStringConvertible {
    /// How long pending outgoing messages are kept after the socket is closed (ZMQ_LINGER); -1 = forever.
    case linger(milliseconds: Int32)
    /// The largest inbound message part accepted (ZMQ_MAXMSGSIZE); a peer that sends a larger one is
    /// disconnected and the part is discarded. -1 = no limit. Applies to tcp/ipc, not inproc.
    case maxMessageSize(bytes: Int64)
    /// The identity a ROUTER peer sees for this socket (ZMQ_ROUTING_ID): 1 to 255 bytes, first byte not 0.
    case routingID([UInt8])
    /// ROUTER only: sending to an unknown routing id fails with `.hostUnreachable` instead of silently
    /// dropping the message (ZMQ_ROUTER_MANDATORY).
    case routerMandatory(Bool)
    /// Outgoing messages queued per peer before sends block or drop (ZMQ_SNDHWM); 0 = no limit.
    case sendHighWaterMark(messages: Int32)
    /// Incoming messages queued per peer (ZMQ_RCVHWM); 0 = no limit.
    case receiveHighWaterMark(messages: Int32)
    /// Interval between ZMTP PING commands on each connection (ZMQ_HEARTBEAT_IVL); 0 = off.
    case heartbeatInterval(milliseconds: Int32)
    /// How long the remote peer should wait for traffic before closing (ZMQ_HEARTBEAT_TTL, rounded down
    /// to 100 ms by libzmq).
    case heartbeatTimeToLive(milliseconds: Int32)
    /// How long to wait for any traffic after a PING before closing the connection (ZMQ_HEARTBEAT_TIMEOUT).
    case heartbeatTimeout(milliseconds: Int32)
    /// Queue messages only to completed connections (ZMQ_IMMEDIATE).
    case immediate(Bool)
    /// SUB only: receive messages whose first part starts with `prefix` (empty = everything) (ZMQ_SUBSCRIBE).
    case subscribe(prefix: [UInt8])
    /// SUB only: remove one earlier `subscribe` of the same prefix (ZMQ_UNSUBSCRIBE).
    case unsubscribe(prefix: [UInt8])
    /// Act as the CURVE server (ZMQ_CURVE_SERVER): peers must complete a CURVE handshake with this socket's
    /// secret key; with a ZAP domain set, the ZAP handler decides which client keys are accepted.
    case curveServer(Bool)
    /// This socket's long-term CURVE public key, 32 bytes (ZMQ_CURVE_PUBLICKEY; clients).
    case curvePublicKey([UInt8])
    /// This socket's long-term CURVE secret key, 32 bytes (ZMQ_CURVE_SECRETKEY). Never printed.
    case curveSecretKey([UInt8])
    /// The server's CURVE public key a client connects to, 32 bytes (ZMQ_CURVE_SERVERKEY).
    case curveServerKey([UInt8])
    /// The ZAP domain: makes libzmq ask the context's ZAP handler (`ZAPHandler`) about every peer (ZMQ_ZAP_DOMAIN).
    case zapDomain(String)
    /// XPUB only: pass every subscription up, not only the first of each prefix (ZMQ_XPUB_VERBOSE).
    case extendedPublisherVerbose(Bool)
    /// Allow IPv6 addresses on tcp endpoints (ZMQ_IPV6); off, `tcp://[::1]:5555` cannot be bound or reached.
    case ipv6(Bool)

    public var description: String {
        switch self {
        case .linger(let value): "ZMQ_LINGER=\(value)"
        case .maxMessageSize(let value): "ZMQ_MAXMSGSIZE=\(value)"
        case .routingID(let value): "ZMQ_ROUTING_ID=\(hex(value))"
        case .routerMandatory(let value): "ZMQ_ROUTER_MANDATORY=\(value ? 1 : 0)"
        case .sendHighWaterMark(let value): "ZMQ_SNDHWM=\(value)"
        case .receiveHighWaterMark(let value): "ZMQ_RCVHWM=\(value)"
        case .heartbeatInterval(let value): "ZMQ_HEARTBEAT_IVL=\(value)"
        case .heartbeatTimeToLive(let value): "ZMQ_HEARTBEAT_TTL=\(value)"
        case .heartbeatTimeout(let value): "ZMQ_HEARTBEAT_TIMEOUT=\(value)"
        case .immediate(let value): "ZMQ_IMMEDIATE=\(value ? 1 : 0)"
        case .subscribe(let value): "ZMQ_SUBSCRIBE=\(hex(value))"
        case .unsubscribe(let value): "ZMQ_UNSUBSCRIBE=\(hex(value))"
        case .curveServer(let value): "ZMQ_CURVE_SERVER=\(value ? 1 : 0)"
        case .curvePublicKey(let value): "ZMQ_CURVE_PUBLICKEY=\(Z85.encode(value) ?? hex(value))"
        case .curveSecretKey(let value): "ZMQ_CURVE_SECRETKEY=<\(value.count) bytes>"
        case .curveServerKey(let value): "ZMQ_CURVE_SERVERKEY=\(Z85.encode(value) ?? hex(value))"
        case .zapDomain(let value): "ZMQ_ZAP_DOMAIN=\(value)"
        case .extendedPublisherVerbose(let value): "ZMQ_XPUB_VERBOSE=\(value ? 1 : 0)"
        case .ipv6(let value): "ZMQ_IPV6=\(value ? 1 : 0)"
        }
    }

    /// The option's value as libzmq expects it: the option name and the bytes of an `int`, `int64_t` or
    /// byte-string value.
    var encoded: (name: Int32, value: [UInt8]) {
        switch self {
        case .linger(let value): (ZMQ_LINGER, bytes(of: value))
        case .maxMessageSize(let value): (ZMQ_MAXMSGSIZE, bytes(of: value))
        case .routingID(let value): (ZMQ_ROUTING_ID, value)
        case .routerMandatory(let value): (ZMQ_ROUTER_MANDATORY, bytes(of: Int32(value ? 1 : 0)))
        case .sendHighWaterMark(let value): (ZMQ_SNDHWM, bytes(of: value))
        case .receiveHighWaterMark(let value): (ZMQ_RCVHWM, bytes(of: value))
        case .heartbeatInterval(let value): (ZMQ_HEARTBEAT_IVL, bytes(of: value))
        case .heartbeatTimeToLive(let value): (ZMQ_HEARTBEAT_TTL, bytes(of: value))
        case .heartbeatTimeout(let value): (ZMQ_HEARTBEAT_TIMEOUT, bytes(of: value))
        case .immediate(let value): (ZMQ_IMMEDIATE, bytes(of: Int32(value ? 1 : 0)))
        case .subscribe(let value): (ZMQ_SUBSCRIBE, value)
        case .unsubscribe(let value): (ZMQ_UNSUBSCRIBE, value)
        case .curveServer(let value): (ZMQ_CURVE_SERVER, bytes(of: Int32(value ? 1 : 0)))
        case .curvePublicKey(let value): (ZMQ_CURVE_PUBLICKEY, value)
        case .curveSecretKey(let value): (ZMQ_CURVE_SECRETKEY, value)
        case .curveServerKey(let value): (ZMQ_CURVE_SERVERKEY, value)
        case .zapDomain(let value): (ZMQ_ZAP_DOMAIN, Array(value.utf8))
        case .extendedPublisherVerbose(let value): (ZMQ_XPUB_VERBOSE, bytes(of: Int32(value ? 1 : 0)))
        case .ipv6(let value): (ZMQ_IPV6, bytes(of: Int32(value ? 1 : 0)))
        }
    }
}

/// The native-endian bytes of an integer, as `zmq_setsockopt` reads an `int` or `int64_t`.
private func bytes<T: FixedWidthInteger>(of value: T) -> [UInt8] {
    withUnsafeBytes(of: value) { Array($0) }
}

private func hex(_ bytes: [UInt8]) -> String {
    bytes.isEmpty ? "\"\"" : "0x" + bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
}
