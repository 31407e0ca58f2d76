import Foundation
import Logging
import ShardProtocol
import Synchronization
import ZeroMQ

/// Streams progress to any number of subscribers over a ZeroMQ XPUB socket, from a thread of its own.
///
/// Each message has two frames: a topic and one JSON line. The trainer publishes the topics
///
///     round      after every round (objective, gradient norm, timings)
///     eval       held-out metrics, every `--eval-every` rounds
///     summary    once, at the end of the run
///
/// and the publisher adds
///
///     heartbeat  `{"event": "heartbeat", "round": r|null}` after a second without other messages, so that a
///                watcher can tell a long round from a run that is gone
///
/// A subscriber that arrives late is sent the latest round (and the summary, once there is one) as soon as it
/// subscribes, so it learns where the run is and how many rounds it missed; everyone else may receive these again
/// (watchers skip rounds they have seen). A slow subscriber loses messages beyond its queue (10 000) rather than
/// slowing training down. `finish(linger:)` waits up to `linger` seconds for a first subscriber if none came
/// during the run (a `train … &` followed by `watch` still sees the summary of a run that ended first).
public final class ProgressPublisher {
    public let endpoint: String
    private let state: State
    private let finished = DispatchSemaphore(value: 0)
    private var closed = false

    /// Shared with the publisher thread.
    private final class State: Sendable {
        struct Letters {
            var queued: [(String, [UInt8])] = []
            var closing = false
            var linger = 0.0
        }

        let letters = Mutex(Letters())
        /// Subscriptions seen so far (read after the thread ends).
        let subscriptions = Atomic<Int>(0)
    }

    /// Binds `bind`, e.g. `tcp://127.0.0.1:*` (loopback unless another address is asked for); with CURVE only
    /// allowed subscribers get the stream.
    public init(bind: String, security: ServerSecurity = .insecure, logger: Logger) throws(ClusterError) {
        let state = State()
        self.state = state
        let finished = self.finished
        let ready = DispatchSemaphore(value: 0)
        let outcome = Mutex<Result<String, ClusterError>?>(nil)
        let thread = Thread {
            defer { finished.signal() }
            let context: Context
            let socket: Socket
            let handler: ZAPHandler?
            let handshakes: ServerHandshakeLog?
            do throws(ZMQError) {
                context = try Context()
                let (securityOptions, zap) = try security.serverSetup(context: context, logger: logger, role: "progress")
                handler = zap
                socket = try context.socket(
                    .extendedPublisher, lingerMilliseconds: 2_000,
                    options: securityOptions + [.sendHighWaterMark(messages: 10_000), .extendedPublisherVerbose(true)])
                handshakes =
                    zap == nil ? nil : ServerHandshakeLog(monitor: try SocketMonitor(socket), role: "progress", logger: logger)
                let bound = try socket.bind(bind)
                outcome.withLock { $0 = .success(bound) }
            } catch {
                outcome.withLock { $0 = .failure(.transport("progress publisher: \(error)")) }
                ready.signal()
                return
            }
            ready.signal()
            withExtendedLifetime(handler) { Self.serve(socket, state: state, handshakes: handshakes) }
        }
        thread.name = "shardtrain-progress"
        thread.start()
        ready.wait()
        switch outcome.withLock({ $0 }) {
        case .success(let bound): endpoint = bound
        case .failure(let error): throw error
        case nil: throw .transport("progress publisher: the thread did not start")
        }
    }

    deinit { finish(linger: 0) }

    /// Queues one line; never blocks (the publisher thread sends it within ~50 ms).
    public func publish(topic: String, line: Data) {
        state.letters.withLock { $0.queued.append((topic, Array(line))) }
    }

    /// Sends what is queued, waits up to `linger` seconds for a first subscriber if there never was one (it then
    /// gets the latest round and the summary), lets libzmq flush for up to 2 s, and stops the thread.
    public func finish(linger: Double) {
        guard !closed else { return }
        closed = true
        state.letters.withLock {
            $0.closing = true
            $0.linger = linger
        }
        finished.wait()
    }

    /// How many subscriptions arrived (late subscribers included).
    public var subscriptions: Int { state.subscriptions.load(ordering: .relaxed) }

    /// The publisher thread: sends queued lines, greets new subscribers with the latest state, heartbeats.
    private static func serve(_ socket: Socket, state: State, handshakes: ServerHandshakeLog?) {
        var latestRound: (Int?, [UInt8])?
        var summary: [UInt8]?
        var lastSent = ContinuousClock.now
        var closingSince: ContinuousClock.Instant?
        func send(_ topic: String, _ line: [UInt8]) {
            try? socket.send([Array(topic.utf8), line], dontWait: true)
            lastSent = .now
        }
        while true {
            let readable = (try? poll([socket] + (handshakes.map { [$0.monitor.socket] } ?? []), timeoutMilliseconds: 50)) ?? []
            handshakes?.readEvents()
            var greet = false
            if readable.contains(0) {
                while let message = try? socket.receive(.none) {
                    if message.first?.first == 1 {
                        state.subscriptions.add(1, ordering: .relaxed)
                        greet = true
                    }
                }
            }
            let (queued, closing, linger) = state.letters.withLock { letters in
                let taken = letters.queued
                letters.queued.removeAll()
                return (taken, letters.closing, letters.linger)
            }
            for (topic, line) in queued {
                send(topic, line)
                if topic == "round" { latestRound = (Self.round(of: line), line) }
                if topic == "summary" { summary = line }
            }
            if greet {
                if let (_, line) = latestRound { send("round", line) }
                if let summary { send("summary", summary) }
            }
            if ContinuousClock.now - lastSent > .seconds(1) {
                let round = latestRound?.0.map { "\($0)" } ?? "null"
                send("heartbeat", Array("{\"event\":\"heartbeat\",\"round\":\(round)}".utf8))
            }
            guard closing else { continue }
            let since = closingSince ?? .now
            closingSince = since
            let waited = (ContinuousClock.now - since) / .seconds(1)
            // Done once someone has subscribed (and was greeted), or the linger is over.
            if state.subscriptions.load(ordering: .relaxed) > 0 && queued.isEmpty && !greet || waited >= linger { return }
        }
    }

    /// The `round` field of a round line.
    private static func round(of line: [UInt8]) -> Int? {
        ((try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any])?["round"] as? Int
    }
}

/// Receives what a `ProgressPublisher` sends.
public final class ProgressSubscriber {
    private let context: Context
    private let socket: Socket
    /// A refused or failing CURVE handshake ends `next` with `.handshakeFailed` instead of looking like silence.
    private let handshakes: HandshakeWatch

    public init(connect endpoint: String, security: ClientSecurity = .insecure) throws(ClusterError) {
        do {
            context = try Context()
            socket = try context.socket(.subscriber, options: security.options + [.subscribe(prefix: [])])
            handshakes = HandshakeWatch(
                monitor: try SocketMonitor(socket), server: "the progress stream at \(endpoint)", client: "watcher", security: security)
            try socket.connect(endpoint)
        } catch {
            throw .transport("progress subscriber: \(error)")
        }
    }

    /// The next (topic, line), or nil if nothing arrived within `timeout` seconds (nil = wait forever).
    public func next(timeout: Double?) throws(ClusterError) -> (topic: String, line: Data)? {
        let deadline = timeout.map { ContinuousClock.now + .milliseconds(Int($0 * 1000)) }
        var parts: [[UInt8]]?
        do {
            while parts == nil {
                let left = deadline.map { max(0, Int(($0 - ContinuousClock.now) / .milliseconds(1))) } ?? -1
                let readable = try poll([socket, handshakes.monitor.socket], timeoutMilliseconds: left)
                if readable.contains(1) { try handshakes.check() }
                if readable.contains(0) { parts = try socket.receive(.none) }
                if readable.isEmpty, left >= 0 { return nil }
            }
        } catch let error as ClusterError {
            throw error
        } catch {
            throw .transport("progress subscriber: \(error)")
        }
        guard let parts else { return nil }
        guard parts.count == 2, let topic = String(validating: parts[0], as: UTF8.self) else {
            throw .protocolViolation("progress message of \(parts.count) frames")
        }
        return (topic, Data(parts[1]))
    }
}
