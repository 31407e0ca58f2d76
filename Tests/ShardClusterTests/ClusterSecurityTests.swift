import Foundation
import Logging
import ShardCluster
import ShardData
import ShardEngine
import ShardModels
import ShardNumerics
import ShardProtocol
import ShardWire
import Testing
import ZeroMQ
import _TestSupport

/// Hostile peers against a real coordinator on loopback: without the right keys nobody joins or sees a block, and
/// nothing a peer sends crashes the coordinator or changes the result.
@Suite("Cluster security", .serialized)
struct ClusterSecurityTests {
    typealias Sockets = ClusterSocketTests

    static func local(_ model: any Model, _ blocks: [Block], rounds: Int) throws -> [[UInt64]] {
        let executor = try LocalExecutor(model: model, blocks: blocks, threads: 1)
        return try (1...rounds).map { round in
            try executor.evaluate(Self.parameters(round), request: RoundRequest(round: round)).sums.map(\.bitPattern)
        }
    }

    static func parameters(_ round: Int) -> [Double] { (0..<5).map { Double($0 + round) * 0.37 - 1 } }

    /// Frames a raw DEALER received within `milliseconds`.
    static func received(_ socket: Socket, milliseconds: Int) throws -> [Frame] {
        var frames: [Frame] = []
        while let parts = try socket.receive(.milliseconds(milliseconds)) {
            if let frame = try? WireCodec().decode(parts[0]) { frames.append(frame) }
        }
        return frames
    }

    @Test("with CURVE only listed keys join: an unlisted key, the wrong coordinator key or no key get no WELCOME and no block")
    func onlyListedKeysJoin() throws {
        let blocks = try Sockets.blocks(count: 7, rows: 33, columns: 4)
        let model = LogisticRegression(featureCount: 4, l2: 0.5)
        let coordinatorKeys = try CurveKeyPair.generate()
        let workerKeys = try CurveKeyPair.generate()
        let strangerKeys = try CurveKeyPair.generate()
        let coordinator = try ClusterExecutor(
            bind: "tcp://127.0.0.1:*", expectedWorkers: 1, model: model, blocks: blocks,
            timing: ClusterTiming(heartbeatInterval: 0.05, workerTimeout: 5, joinTimeout: 20),
            security: .curve(coordinatorKeys, allowed: [workerKeys.publicKey: "w1.public"]), logger: Sockets.logger)

        // Hostile clients first: each says HELLO as a worker would.
        let context = try Context()
        let hello = try WireCodec().encode(Frame(jobID: 0, message: .hello(pid: 1, cores: 1, hostname: "evil", software: WorkerShell.software)))
        var hostile: [Socket] = []
        for options in [
            strangerKeys.clientOptions(server: coordinatorKeys.publicKey),  // a key not in --allow
            workerKeys.clientOptions(server: strangerKeys.publicKey),  // the right key, but not this coordinator
            [],  // no key at all
        ] {
            let socket = try context.socket(.dealer, options: options)
            try socket.connect(coordinator.endpoint)
            try socket.send([hello], dontWait: true)
            hostile.append(socket)
        }
        let worker = Sockets.WorkerThread(
            options: .init(
                endpoint: coordinator.endpoint, threads: 1, joinTimeout: 20,
                security: .curve(workerKeys, server: coordinatorKeys.publicKey)))
        try coordinator.waitForWorkers()
        let expected = try Self.local(model, blocks, rounds: 3)
        for round in 1...3 {
            let remote = try coordinator.evaluate(Self.parameters(round), request: RoundRequest(round: round))
            #expect(remote.sums.map(\.bitPattern) == expected[round - 1])
        }
        try coordinator.shutdown(reason: "test finished")
        #expect(try #require(worker.result(timeout: 10)).get().rounds == 3)
        for (position, socket) in hostile.enumerated() {
            #expect(try Self.received(socket, milliseconds: 300).isEmpty, "hostile client \(position) received frames")
        }
    }

    @Test("a peer that takes the routing id the ROUTER would generate next, and 10^4 random frames, leave the coordinator running with the same bits")
    func hostileFramesAndRoutingIDs() throws {
        let blocks = try Sockets.blocks(count: 7, rows: 33, columns: 4)
        let model = LogisticRegression(featureCount: 4, l2: 0.5)
        let coordinator = try ClusterExecutor(
            bind: "tcp://127.0.0.1:*", expectedWorkers: 2, model: model, blocks: blocks,
            timing: ClusterTiming(heartbeatInterval: 0.05, workerTimeout: 5, joinTimeout: 20), logger: Sockets.logger)
        let context = try Context()
        // libzmq's ROUTER numbers peers without an id of their own 0x00 + a counter starting at 0x6b8b4567.
        let squatter = try context.socket(.dealer, options: [.routingID([0x00, 0x6B, 0x8B, 0x45, 0x67])])
        try squatter.connect(coordinator.endpoint)
        try squatter.send([[1, 2, 3]], dontWait: true)
        let workers = [Sockets.WorkerThread(endpoint: coordinator.endpoint), Sockets.WorkerThread(endpoint: coordinator.endpoint)]
        try coordinator.waitForWorkers()
        let flooder = try context.socket(.dealer)
        try flooder.connect(coordinator.endpoint)
        var random = SplitMix64(seed: 77)
        let valid = try WireCodec().encode(Frame(jobID: 0, round: 1, message: .heartbeat))
        let expected = try Self.local(model, blocks, rounds: 3)
        for round in 1...3 {
            for _ in 0..<3_400 {
                var bytes = valid + (0..<Int(random.next() % 40)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
                for _ in 0..<Int(random.next() % 4) {
                    bytes[Int(random.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: random.next())
                }
                try? flooder.send([bytes], dontWait: true)
            }
            let remote = try coordinator.evaluate(Self.parameters(round), request: RoundRequest(round: round))
            #expect(remote.sums.map(\.bitPattern) == expected[round - 1])
        }
        #expect(coordinator.counters.refusedFrames > 0)
        try coordinator.shutdown(reason: "test finished")
        for worker in workers { #expect(try #require(worker.result(timeout: 10)).get().rounds == 3) }
        // The flooder was refused once, not once per frame.
        let replies = try Self.received(flooder, milliseconds: 300)
        #expect(replies.count <= 1)
    }
}

/// Key files as people get them wrong.
@Suite("Key files")
struct KeyFileTests {
    @Test("a .public file given as the secret key, or a .secret one as a public key, is refused naming it; a readable secret names chmod 600; a garbled key names the file")
    func keyFileMistakes() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("shardtrain-keys-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (publicPath, secretPath) = try KeyFiles.generate(at: folder + "/w")
        #expect(throws: ClusterError.invalidConfiguration("\(publicPath) is a public key: --secret-key takes the .secret file of the pair")) {
            try KeyFiles.loadSecret(publicPath)
        }
        let pair = try KeyFiles.loadSecret(secretPath)
        #expect(try KeyFiles.loadPublic(publicPath) == pair.publicKey)
        // The mirror mistake: a secret key where a public one belongs (e.g. --coordinator-key).
        #expect(throws: ClusterError.invalidConfiguration(
            "\(secretPath) is a secret key: give the .public file of the pair (the server's secret key stays with the server)")) {
            try KeyFiles.loadPublic(secretPath)
        }
        chmod(secretPath, 0o640)
        #expect(throws: ClusterError.invalidConfiguration("the secret key \(secretPath) can be read by others (mode 640): run chmod 600 \(secretPath)")) {
            try KeyFiles.loadSecret(secretPath)
        }
        try "not a key\n".write(toFile: folder + "/bad.public", atomically: true, encoding: .utf8)
        #expect(throws: ClusterError.self) { try KeyFiles.loadPublic(folder + "/bad.public") }
        #expect(throws: ClusterError.invalidConfiguration("\(folder + "/w.public") exists: a key is never overwritten; choose another name or remove it")) {
            try KeyFiles.generate(at: folder + "/w")
        }
    }
}
