import Testing
import ZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Every test runs over real libzmq sockets in its own context, on inproc and on tcp loopback with a
/// system-chosen port, so tests can run in parallel without colliding.
@Suite("ZeroMQ", .timeLimit(.minutes(1)))
struct ZeroMQSuite {
    /// Also IPv6 loopback where the machine has it (a bracketed host, for which bind and connect turn on ZMQ_IPV6).
    static let transports = ["inproc://shardtrain-test", "tcp://127.0.0.1:*"] + (hasIPv6Loopback ? ["tcp://[::1]:*"] : [])

    /// Whether `lo` carries ::1 (`/proc/net/if_inet6` lists it as 32 hex digits ending in 1).
    static var hasIPv6Loopback: Bool {
        guard let file = fopen("/proc/net/if_inet6", "r") else { return false }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if text.hasPrefix(String(repeating: "0", count: 31) + "1 ") { return true }
        }
        return false
    }

    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test("ROUTER/DEALER multipart round trip keeps routing ids apart", arguments: transports)
    func routerDealerRoundTrip(endpoint: String) throws {
        let context = try Context()
        let router = try context.socket(.router, options: [.routerMandatory(true)])
        let bound = try router.bind(endpoint)
        let first = try context.socket(.dealer, options: [.routingID(bytes("worker-1"))])
        let second = try context.socket(.dealer, options: [.routingID(bytes("worker-2"))])
        try first.connect(bound)
        try second.connect(bound)
        #expect(try first.routingID == bytes("worker-1"))

        let large = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try first.send([bytes("from 1"), [], large])
        try second.send([bytes("from 2")])

        var received: [[UInt8]: [[UInt8]]] = [:]
        for _ in 0..<2 {
            let message = try #require(try router.receive(.milliseconds(5_000)))
            let sender = try #require(message.first)
            received[sender] = Array(message.dropFirst())
        }
        #expect(received[bytes("worker-1")] == [bytes("from 1"), [], large])
        #expect(received[bytes("worker-2")] == [bytes("from 2")])

        try router.send([bytes("worker-2"), bytes("to 2"), bytes("tail")])
        try router.send([bytes("worker-1"), bytes("to 1")])
        #expect(try first.receive(.milliseconds(5_000)) == [bytes("to 1")])
        #expect(try second.receive(.milliseconds(5_000)) == [bytes("to 2"), bytes("tail")])

        // ZMQ_ROUTER_MANDATORY: an unknown routing id is an error, not a silent drop.
        #expect {
            try router.send([bytes("nobody"), bytes("lost")])
        } throws: { error in
            guard let error = error as? ZMQError, case .hostUnreachable = error else { return false }
            return error.operation.hasPrefix("zmq_send(ROUTER")
        }
    }

    @Test("messages with many parts, read in place or copied, arrive whole and in order", arguments: transports)
    func manyParts(endpoint: String) throws {
        let context = try Context()
        let receiver = try context.socket(.pair)
        let sender = try context.socket(.pair)
        try sender.connect(try receiver.bind(endpoint))
        let parts = (0..<40).map { index in [UInt8](repeating: UInt8(index), count: index * 37) }
        for _ in 0..<3 {
            try sender.send(parts)
            let summary = try receiver.receive(.milliseconds(5_000)) { buffers in
                buffers.map { ($0.count, $0.first) }
            }
            let expected = parts.map { ($0.count, $0.first) }
            #expect(summary?.map(\.0) == expected.map(\.0))
            #expect(summary?.map(\.1) == expected.map(\.1))
            try sender.send(parts)
            #expect(try receiver.receive(.milliseconds(5_000)) == parts)
        }
        #expect(try receiver.receive(.none) { $0.count } == nil)
    }

    @Test("PUB/SUB delivers only subscribed prefixes", arguments: transports)
    func publishSubscribe(endpoint: String) throws {
        let context = try Context()
        let publisher = try context.socket(.publisher)
        let bound = try publisher.bind(endpoint)
        let subscriber = try context.socket(.subscriber, options: [.subscribe(prefix: bytes("round"))])
        try subscriber.connect(bound)

        // A subscription reaches the publisher asynchronously: publish until the first message gets through.
        var joined = false
        for _ in 0..<200 where !joined {
            try publisher.send([bytes("round-probe")])
            joined = try subscriber.receive(.milliseconds(25)) != nil
        }
        #expect(joined)
        while try subscriber.receive(.none) != nil {}  // drain extra probes

        try publisher.send([bytes("other topic")])
        try publisher.send([bytes("round 7"), [1, 2, 3]])
        #expect(try subscriber.receive(.milliseconds(5_000)) == [bytes("round 7"), [1, 2, 3]])
        #expect(try subscriber.receive(.milliseconds(50)) == nil)
    }

    @Test("receive returns nil after its timeout, and at once with .none")
    func receiveTimeout() throws {
        let context = try Context()
        let socket = try context.socket(.pair)
        try socket.bind("inproc://quiet")
        let clock = ContinuousClock()
        let start = clock.now
        #expect(try socket.receive(.milliseconds(120)) == nil)
        let elapsed = clock.now - start
        #expect(elapsed >= .milliseconds(120))
        #expect(elapsed < .seconds(5))
        #expect(try socket.receive(.none) == nil)
        #expect(try socket.receive(.milliseconds(0)) == nil)
    }

    @Test("an oversized message never arrives; the receiver stays usable")
    func maxMessageSize() throws {
        let context = try Context()
        let receiver = try context.socket(.router, options: [.maxMessageSize(bytes: 1_000)])
        #expect(try receiver.maxMessageSizeBytes == 1_000)
        let bound = try receiver.bind("tcp://127.0.0.1:*")

        let offender = try context.socket(.dealer, options: [.routingID(bytes("offender"))])
        try offender.connect(bound)
        try offender.send([[UInt8](repeating: 7, count: 1_001)])
        #expect(try receiver.receive(.milliseconds(300)) == nil)

        let honest = try context.socket(.dealer, options: [.routingID(bytes("honest"))])
        try honest.connect(bound)
        let payload = [UInt8](repeating: 9, count: 1_000)
        try honest.send([payload])
        #expect(try receiver.receive(.milliseconds(5_000)) == [bytes("honest"), payload])
    }

    @Test("binding a busy endpoint throws an error naming zmq_bind and the endpoint")
    func bindBusyEndpoint() throws {
        let context = try Context()
        let owner = try context.socket(.router)
        let bound = try owner.bind("tcp://127.0.0.1:*")
        #expect(bound.hasPrefix("tcp://127.0.0.1:") && !bound.hasSuffix(":*"))
        let intruder = try context.socket(.router)
        do {
            try intruder.bind(bound)
            Issue.record("second bind of \(bound) succeeded")
        } catch {
            #expect(error == .failed(operation: "zmq_bind(\(bound))", code: EADDRINUSE))
            #expect(error.description.contains("zmq_bind(\(bound))"))
            #expect(error.description.contains(String(cString: strerror(EADDRINUSE))))
        }
    }

    @Test("poll reports exactly the sockets that have a message")
    func pollReadiness() throws {
        let context = try Context()
        var pairs: [(Socket, Socket)] = []
        for index in 0..<3 {
            let left = try context.socket(.pair)
            let right = try context.socket(.pair)
            try left.bind("inproc://poll-\(index)")
            try right.connect("inproc://poll-\(index)")
            pairs.append((left, right))
        }
        let receivers = pairs.map(\.0)
        #expect(try poll(receivers, timeoutMilliseconds: 0) == [])
        #expect(try poll(receivers, timeoutMilliseconds: 50) == [])

        try pairs[2].1.send([bytes("c")])
        try pairs[0].1.send([bytes("a")])
        var ready: [Int] = []
        for _ in 0..<100 where ready != [0, 2] {
            ready = try poll(receivers, timeoutMilliseconds: 50)
        }
        #expect(ready == [0, 2])
        #expect(try receivers[0].receive(.none) == [bytes("a")])
        #expect(try poll(receivers, timeoutMilliseconds: 0) == [2])
    }

    @Test("a socket outliving its released context keeps it alive, and closing both does not hang")
    func releaseOrder() throws {
        weak var weakContext: Context?
        var socket: Socket?
        do {
            let context = try Context()
            weakContext = context
            // Linger -1 would make the context wait forever for this undeliverable message; 0 drops it.
            socket = try context.socket(.dealer)
            try socket?.connect("tcp://127.0.0.1:9")  // discard port: nobody answers
            try socket?.send([bytes("never delivered")])
        }
        #expect(weakContext != nil)
        #expect(try socket?.lingerMilliseconds == 0)
        socket = nil
        #expect(weakContext == nil)

        // And the usual order: socket first, then context.
        var context: Context? = try Context()
        var other: Socket? = try context?.socket(.pair, lingerMilliseconds: 10)
        try other?.connect("tcp://127.0.0.1:9")
        try other?.send([bytes("x")], dontWait: true)
        other = nil
        context = nil
        #expect(other == nil && context == nil)
    }

    @Test("a socket whose creation fails is closed, so its context still terminates")
    func failedCreationReleasesSocket() throws {
        weak var weakContext: Context?
        do {
            let context = try Context()
            weakContext = context
            #expect(throws: ZMQError.failed(operation: "zmq_setsockopt(PAIR, ZMQ_LINGER=-2)", code: EINVAL)) {
                try context.socket(.pair, lingerMilliseconds: -2)
            }
        }
        // zmq_ctx_term returned: it would block forever on an unclosed socket.
        #expect(weakContext == nil)
    }

    @Test("shutdown makes blocking calls fail with .contextTerminated")
    func contextShutdown() throws {
        let context = try Context()
        let socket = try context.socket(.pair)
        try socket.bind("inproc://shutdown")
        try context.shutdown()
        #expect(throws: ZMQError.contextTerminated(operation: "zmq_msg_recv(PAIR, part 1)")) {
            try socket.receive()
        }
    }

    @Test("non-blocking send with no ready peer reports .wouldBlock; empty messages and bad options fail")
    func sendErrors() throws {
        let context = try Context()
        let dealer = try context.socket(.dealer, options: [.immediate(true), .sendHighWaterMark(messages: 1)])
        try dealer.connect("tcp://127.0.0.1:9")
        #expect {
            try dealer.send([bytes("x")], dontWait: true)
        } throws: { error in
            guard let error = error as? ZMQError, case .wouldBlock = error else { return false }
            return error.code == EAGAIN
        }
        #expect(throws: ZMQError.failed(operation: "zmq_send(DEALER, no parts)", code: EINVAL)) {
            try dealer.send([])
        }
        let tooLong = [UInt8](repeating: 1, count: 256)
        #expect {
            try dealer.set(.routingID(tooLong))
        } throws: { error in
            guard let error = error as? ZMQError else { return false }
            return error.code == EINVAL && error.operation.contains("ZMQ_ROUTING_ID=0x0101")
        }
        #expect(throws: ZMQError.self) { try dealer.connect("nonsense://endpoint") }
    }

    @Test("options read back as set")
    func optionsReadBack() throws {
        let context = try Context()
        let socket = try context.socket(.router, lingerMilliseconds: 25, options: [
            .maxMessageSize(bytes: 123_456), .receiveHighWaterMark(messages: 10), .sendHighWaterMark(messages: 10),
            .heartbeatInterval(milliseconds: 500), .heartbeatTimeToLive(milliseconds: 3_000),
            .heartbeatTimeout(milliseconds: 2_000), .immediate(true), .routerMandatory(true),
            .linger(milliseconds: 40),
        ])
        #expect(try socket.lingerMilliseconds == 40)
        #expect(try socket.maxMessageSizeBytes == 123_456)
        let subscriber = try context.socket(.subscriber)
        try subscriber.set(.subscribe(prefix: []))
        try subscriber.set(.unsubscribe(prefix: []))
    }
}
