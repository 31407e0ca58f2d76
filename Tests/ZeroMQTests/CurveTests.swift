import Synchronization
import Testing
import ZeroMQ

/// CURVE encryption and ZAP authentication over real sockets on tcp loopback.
@Suite("ZeroMQ CURVE and ZAP", .timeLimit(.minutes(1)))
struct CurveTests {
    @Test("Z85 follows RFC 32's test vector and refuses text that is not Z85")
    func z85() throws {
        let bytes: [UInt8] = [0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B]
        #expect(Z85.encode(bytes) == "HelloWorld")
        #expect(Z85.decode("HelloWorld") == bytes)
        #expect(Z85.decode("Hello") != nil)
        #expect(Z85.decode("Hell") == nil)
        #expect(Z85.decode("Hello World") == nil)
        #expect(Z85.encode([1, 2, 3]) == nil)
    }

    @Test("a key pair's public key is derived again from its secret key; two pairs differ")
    func keyPairs() throws {
        let pair = try CurveKeyPair.generate()
        #expect(pair.publicKey.count == 32 && pair.secretKey.count == 32)
        #expect(try CurveKeyPair(secretKey: pair.secretKey) == pair)
        #expect(try CurveKeyPair.generate() != pair)
        #expect(throws: ZMQError.self) { try CurveKeyPair(secretKey: [1, 2, 3]) }
        // Options never print a secret key.
        #expect(!SocketOption.curveSecretKey(pair.secretKey).description.contains(Z85.encode(pair.secretKey)!))
    }

    /// Refusals the handler reported: (address, Z85 key or "none").
    final class Refusals: Sendable {
        let entries = Mutex<[(String, String)]>([])
        func add(_ address: String, _ key: [UInt8]?) {
            entries.withLock { $0.append((address, key.flatMap(Z85.encode) ?? "none")) }
        }
        var all: [(String, String)] { entries.withLock { $0 } }
    }

    @Test("only clients with an allowed key reach a CURVE server; the others are refused during the handshake")
    func allowList() throws {
        let context = try Context()
        let server = try CurveKeyPair.generate()
        let allowed = try CurveKeyPair.generate()
        let stranger = try CurveKeyPair.generate()
        let refusals = Refusals()
        let allowedKey = allowed.publicKey
        let handler = try ZAPHandler(context: context, accepts: { $0 == allowedKey }, refused: refusals.add)
        defer { handler.stop() }
        let router = try context.socket(.router, options: server.serverOptions)
        let endpoint = try router.bind("tcp://127.0.0.1:*")

        let good = try context.socket(.dealer, options: allowed.clientOptions(server: server.publicKey))
        try good.connect(endpoint)
        let unlisted = try context.socket(.dealer, options: stranger.clientOptions(server: server.publicKey))
        try unlisted.connect(endpoint)
        // Right keys, wrong server key: the handshake itself fails.
        let wrongServer = try context.socket(.dealer, options: allowed.clientOptions(server: stranger.publicKey))
        try wrongServer.connect(endpoint)
        let plain = try context.socket(.dealer)
        try plain.connect(endpoint)
        for (socket, text) in [(unlisted, "unlisted"), (wrongServer, "wrong server"), (plain, "plain"), (good, "good")] {
            try socket.send([Array(text.utf8)], dontWait: true)
        }
        var received: [String] = []
        while let message = try router.receive(.milliseconds(1500)) {
            received.append(String(decoding: message[1], as: UTF8.self))
        }
        #expect(received == ["good"])
        // The unlisted key is refused by the handler; the plain peer (another mechanism) and the one with the wrong
        // server key fail the handshake before any ZAP request.
        #expect(refusals.all.map(\.1) == [Z85.encode(stranger.publicKey)!])
        #expect(refusals.all.allSatisfy { $0.0 == "127.0.0.1" })
    }

    @Test("a socket monitor tells a refused key, a wrong server key, a missing key and a good handshake apart, on both sides")
    func handshakeEvents() throws {
        let context = try Context()
        let server = try CurveKeyPair.generate()
        let allowed = try CurveKeyPair.generate()
        let stranger = try CurveKeyPair.generate()
        let allowedKey = allowed.publicKey
        let handler = try ZAPHandler(context: context, accepts: { $0 == allowedKey }, refused: { _, _ in })
        defer { handler.stop() }
        let router = try context.socket(.router, options: server.serverOptions)
        let serverEvents = try SocketMonitor(router)
        let endpoint = try router.bind("tcp://127.0.0.1:*")
        /// The handshake outcomes a monitor reports within half a second (connects and disconnects left out).
        func outcomes(_ monitor: SocketMonitor) throws -> [SocketMonitor.Event] {
            var events: [SocketMonitor.Event] = []
            while let event = try monitor.next(.milliseconds(500)) {
                switch event {
                case .connected, .disconnected: continue
                default: events.append(event)
                }
                if events.count == 2 { break }
            }
            return events
        }
        let cases: [(options: [SocketOption], client: (SocketMonitor.Event) -> Bool, server: (SocketMonitor.Event) -> Bool)] = [
            (stranger.clientOptions(server: server.publicKey),
             { $0 == .handshakeRefused(address: endpoint, status: 400) }, { $0 == .handshakeRefused(address: endpoint, status: 400) }),
            (allowed.clientOptions(server: stranger.publicKey),
             { if case .handshakeFailed = $0 { true } else { false } },
             { $0 == .handshakeProtocolError(address: endpoint, code: SocketMonitor.cryptographicError) }),
            ([], { $0 == .handshakeProtocolError(address: endpoint, code: SocketMonitor.mechanismMismatch) },
             { $0 == .handshakeProtocolError(address: endpoint, code: SocketMonitor.mechanismMismatch) }),
            (allowed.clientOptions(server: server.publicKey),
             { $0 == .handshakeSucceeded(address: endpoint) }, { $0 == .handshakeSucceeded(address: endpoint) }),
        ]
        for (index, testCase) in cases.enumerated() {
            let client = try context.socket(.dealer, options: testCase.options)
            let clientEvents = try SocketMonitor(client)
            try client.connect(endpoint)
            let seen = try outcomes(clientEvents)
            #expect(seen.first.map(testCase.client) == true, "case \(index), client saw \(seen)")
            let serverSeen = try outcomes(serverEvents)
            #expect(serverSeen.first.map(testCase.server) == true, "case \(index), server saw \(serverSeen)")
        }
    }

}
