import CZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One ZeroMQ socket, closed (`zmq_close`) when the last reference goes away.
///
/// A `final class` rather than a non-copyable struct: `poll` takes a heterogeneous array of sockets and
/// callers keep sockets in collections and dictionaries keyed by role, which non-copyable values make
/// awkward; ARC still closes the socket deterministically when its last reference is released.
///
/// libzmq sockets must not be used from two threads at once, so `Socket` is deliberately not `Sendable`:
/// create and use a socket on one thread (or one isolation domain).
///
/// The socket holds its `Context` strongly, so the context's `zmq_ctx_term` (which waits for all of its
/// sockets) runs only after this socket is closed, whatever order the references are dropped in. The linger
/// period set at creation bounds how long closing waits for unsent messages (default 0: drop them).
public final class Socket {
    public let type: SocketType
    /// The context this socket belongs to; kept alive for as long as the socket is.
    public let context: Context
    /// The `void *` returned by `zmq_socket`.
    let handle: UnsafeMutableRawPointer
    /// `zmq_msg_t`s reused by receives, one per part of the message being received (a `zmq_msg_t` must
    /// not move in memory while initialised, so each is allocated separately).
    private var messagePool: [UnsafeMutablePointer<zmq_msg_t>] = []
    /// Messages kept in the pool between receives; a message with more parts allocates the rest and frees
    /// them afterwards.
    private static let pooledMessageLimit = 8

    init(context: Context, type: SocketType, lingerMilliseconds: Int32) throws(ZMQError) {
        var created: UnsafeMutableRawPointer?
        try zmqCall("zmq_socket(\(type))") {
            created = zmq_socket(context.handle, type.rawValue)
            return created == nil ? -1 : 0
        }
        self.handle = created.unsafelyUnwrapped
        self.context = context
        self.type = type
        // Fully initialised: if this throws, `deinit` closes the socket.
        try set(.linger(milliseconds: lingerMilliseconds))
    }

    deinit {
        // zmq_close only fails for an invalid handle (ENOTSOCK), which `handle` never is.
        _ = try? zmqCall("zmq_close(\(type))") { zmq_close(handle) }
        for message in messagePool { message.deallocate() }
    }

    // MARK: - Endpoints

    /// Binds to `endpoint` and returns the endpoint actually bound (ZMQ_LAST_ENDPOINT), so that
    /// `tcp://127.0.0.1:*` reports the port the system chose, e.g. `tcp://127.0.0.1:41873`.
    /// A bracketed IPv6 host (`tcp://[::1]:5555`) turns on ZMQ_IPV6 first.
    @discardableResult
    public func bind(_ endpoint: String) throws(ZMQError) -> String {
        if Self.namesIPv6Host(endpoint) { try set(.ipv6(true)) }
        try zmqCall("zmq_bind(\(endpoint))") { zmq_bind(handle, endpoint) }
        return try lastEndpoint()
    }

    /// Starts connecting to `endpoint`. libzmq connects (and reconnects) in the background, so this succeeds
    /// before any peer is listening. A bracketed IPv6 host turns on ZMQ_IPV6 first.
    public func connect(_ endpoint: String) throws(ZMQError) {
        if Self.namesIPv6Host(endpoint) { try set(.ipv6(true)) }
        try zmqCall("zmq_connect(\(endpoint))") { zmq_connect(handle, endpoint) }
    }

    /// `tcp://[…]:PORT` (the form libzmq reads IPv6 addresses in).
    static func namesIPv6Host(_ endpoint: String) -> Bool { endpoint.hasPrefix("tcp://[") }

    /// The endpoint of the last `bind` or `connect` (ZMQ_LAST_ENDPOINT).
    public func lastEndpoint() throws(ZMQError) -> String {
        var buffer = [CChar](repeating: 0, count: 1024)
        var size = buffer.count
        try zmqCall("zmq_getsockopt(ZMQ_LAST_ENDPOINT)") {
            buffer.withUnsafeMutableBytes { zmq_getsockopt(handle, ZMQ_LAST_ENDPOINT, $0.baseAddress, &size) }
        }
        // libzmq wrote a NUL-terminated string of `size` bytes (terminator included).
        let length = buffer.firstIndex(of: 0) ?? min(size, buffer.count)
        return String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    // MARK: - Options

    /// Applies one option (see `SocketOption` for which must precede `bind`/`connect`).
    public func set(_ option: SocketOption) throws(ZMQError) {
        let (name, value) = option.encoded
        try zmqCall("zmq_setsockopt(\(type), \(option))") {
            value.withUnsafeBytes { zmq_setsockopt(handle, name, $0.baseAddress, $0.count) }
        }
    }

    /// The current linger period in milliseconds (ZMQ_LINGER; -1 = wait forever).
    public var lingerMilliseconds: Int32 {
        get throws(ZMQError) { try integerOption(ZMQ_LINGER, named: "ZMQ_LINGER", as: Int32.self) }
    }

    /// The current inbound part size limit in bytes (ZMQ_MAXMSGSIZE; -1 = none).
    public var maxMessageSizeBytes: Int64 {
        get throws(ZMQError) { try integerOption(ZMQ_MAXMSGSIZE, named: "ZMQ_MAXMSGSIZE", as: Int64.self) }
    }

    /// The routing id this socket presents to a ROUTER peer (ZMQ_ROUTING_ID; empty if none was set).
    public var routingID: [UInt8] {
        get throws(ZMQError) {
            var buffer = [UInt8](repeating: 0, count: 255)
            var size = buffer.count
            try zmqCall("zmq_getsockopt(ZMQ_ROUTING_ID)") {
                buffer.withUnsafeMutableBytes { zmq_getsockopt(handle, ZMQ_ROUTING_ID, $0.baseAddress, &size) }
            }
            return Array(buffer.prefix(size))
        }
    }

    private func integerOption<T: FixedWidthInteger>(
        _ name: Int32, named label: String, as: T.Type
    ) throws(ZMQError) -> T {
        var value = T.zero
        var size = MemoryLayout<T>.size
        try zmqCall("zmq_getsockopt(\(label))") { zmq_getsockopt(handle, name, &value, &size) }
        return value
    }

    // MARK: - Messages

    /// Sends one message of `parts.count` parts (at least one). ZeroMQ delivers a multipart message
    /// atomically: the peer receives all parts or none.
    ///
    /// With `dontWait`, a send that would block (high-water mark reached, or no peer for a socket type that
    /// waits for one) throws `.wouldBlock` instead; libzmq checks this on the first part, so nothing has
    /// been queued when it does. A ROUTER with `routerMandatory(true)` throws `.hostUnreachable` when the
    /// first part names no connected peer. Each part is copied once, into a libzmq message.
    public func send(_ parts: [[UInt8]], dontWait: Bool = false) throws(ZMQError) {
        guard !parts.isEmpty else {
            throw ZMQError(operation: "zmq_send(\(type), no parts)", code: EINVAL)
        }
        let waitFlag = dontWait ? ZMQ_DONTWAIT : 0
        for (index, part) in parts.enumerated() {
            let flags = waitFlag | (index < parts.count - 1 ? ZMQ_SNDMORE : 0)
            try zmqCall("zmq_send(\(type), part \(index + 1) of \(parts.count), \(part.count) bytes)",
                        interrupts: .retry) {
                part.withUnsafeBytes { bytes in
                    // An empty array may have no storage; libzmq still needs a valid pointer for 0 bytes.
                    withUnsafeBytes(of: UInt8(0)) { placeholder in
                        zmq_send(handle, bytes.baseAddress ?? placeholder.baseAddress, bytes.count, flags)
                    }
                }
            }
        }
    }

    /// How long `receive` waits for a message.
    public enum Wait: Sendable, Equatable {
        /// Block until a message arrives (or the context is terminated).
        case indefinitely
        /// Return at once.
        case none
        /// Wait at most this many milliseconds (values ≤ 0 behave like `.none`).
        case milliseconds(Int)
    }

    /// Receives one whole multipart message, or `nil` when none arrived within `wait`. Each part is copied
    /// once, from libzmq's message into its array.
    public func receive(_ wait: Wait = .indefinitely) throws(ZMQError) -> [[UInt8]]? {
        try receive(wait) { parts in parts.map { Array($0) } }
    }

    /// Receives one whole multipart message and hands `body` its parts in place, without copying them out
    /// of libzmq (e.g. to decode a large frame directly). The buffers are valid only during `body`.
    /// Returns `body`'s result, or `nil` when no message arrived within `wait`.
    public func receive<Result>(
        _ wait: Wait = .indefinitely, _ body: ([UnsafeRawBufferPointer]) -> Result
    ) throws(ZMQError) -> Result? {
        switch wait {
        case .indefinitely:
            return try receiveParts(firstPartFlags: 0, body)
        case .none:
            return try receiveParts(firstPartFlags: ZMQ_DONTWAIT, body)
        case .milliseconds(let timeout):
            let clock = ContinuousClock()
            let deadline = clock.now.advanced(by: .milliseconds(max(0, timeout)))
            while true {
                let remaining = clock.now.duration(to: deadline)
                let ready = try poll([self], timeoutMilliseconds: max(0, remaining.wholeMilliseconds))
                if !ready.isEmpty, let result = try receiveParts(firstPartFlags: ZMQ_DONTWAIT, body) {
                    return result
                }
                if clock.now >= deadline { return nil }
            }
        }
    }

    /// Receives all parts of one message into the message pool and passes them to `body`. The first part
    /// is received with `firstPartFlags`; once it has arrived, libzmq guarantees the remaining parts are
    /// already queued, so they are received blocking. Returns nil when the first part would block.
    private func receiveParts<Result>(
        firstPartFlags: Int32, _ body: ([UnsafeRawBufferPointer]) -> Result
    ) throws(ZMQError) -> Result? {
        var initialised = 0
        defer {
            for message in messagePool[..<initialised] {
                _ = try? zmqCall("zmq_msg_close()") { zmq_msg_close(message) }
            }
            while messagePool.count > Self.pooledMessageLimit { messagePool.removeLast().deallocate() }
        }
        var more = true
        while more {
            if initialised == messagePool.count { messagePool.append(.allocate(capacity: 1)) }
            let message = messagePool[initialised]
            try zmqCall("zmq_msg_init()") { zmq_msg_init(message) }
            initialised += 1
            do {
                try zmqCall("zmq_msg_recv(\(type), part \(initialised))", interrupts: .retry) {
                    zmq_msg_recv(message, handle, initialised == 1 ? firstPartFlags : 0)
                }
            } catch .wouldBlock where initialised == 1 {
                return nil
            }
            more = zmq_msg_more(message) != 0
        }
        let parts = messagePool[..<initialised].map {
            UnsafeRawBufferPointer(start: zmq_msg_data($0), count: zmq_msg_size($0))
        }
        return body(parts)
    }
}

@available(*, unavailable, message: "libzmq sockets are not thread-safe; use each socket on one thread")
extension Socket: Sendable {}

/// Waits until at least one of `sockets` has a message to receive, or `timeoutMilliseconds` pass
/// (negative = wait indefinitely, 0 = check and return), and returns the indices of the readable sockets
/// in ascending order (empty on timeout).
///
/// A poll interrupted by a signal is resumed with the time that remains.
public func poll(_ sockets: [Socket], timeoutMilliseconds: Int) throws(ZMQError) -> [Int] {
    var items = sockets.map { zmq_pollitem_t(socket: $0.handle, fd: -1, events: Int16(ZMQ_POLLIN), revents: 0) }
    let clock = ContinuousClock()
    let start = clock.now
    try zmqCall("zmq_poll(\(sockets.count) sockets, \(timeoutMilliseconds) ms)", interrupts: .retry) {
        let remaining =
            timeoutMilliseconds < 0 ? -1 : max(0, timeoutMilliseconds - (clock.now - start).wholeMilliseconds)
        return items.withUnsafeMutableBufferPointer { zmq_poll($0.baseAddress, Int32($0.count), remaining) }
    }
    return items.indices.filter { items[$0].revents & Int16(ZMQ_POLLIN) != 0 }
}

extension Duration {
    /// The duration in whole milliseconds, rounded towards zero.
    var wholeMilliseconds: Int {
        let (seconds, attoseconds) = components
        return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
    }
}
