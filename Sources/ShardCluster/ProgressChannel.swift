import Foundation
import Logging
import ShardProtocol
import ZeroMQ

/// Streams progress to any number of subscribers over a ZeroMQ PUB socket.
///
/// Each message has two frames: a topic and one JSON line. The trainer publishes the topics
///
///     round    after every round (objective, gradient norm, timings)
///     eval     held-out metrics, every `--eval-every` rounds
///     summary  once, at the end of the run
///
/// (the publisher itself accepts any topic). Subscribers that join
/// late miss earlier rounds (PUB/SUB keeps no history); a slow subscriber loses messages beyond its queue
/// (high-water mark 10 000) rather than slowing training down.
public final class ProgressPublisher {
    public let endpoint: String
    private let context: Context
    private let socket: Socket
    private let zapHandler: ZAPHandler?

    /// Binds `bind`, e.g. `tcp://127.0.0.1:*` (loopback unless another address is asked for); with CURVE only
    /// allowed subscribers get the stream.
    public init(bind: String, security: ServerSecurity = .insecure, logger: Logger) throws(ClusterError) {
        do {
            context = try Context()
            let (securityOptions, handler) = try security.serverSetup(context: context, logger: logger, role: "progress")
            zapHandler = handler
            socket = try context.socket(.publisher, options: securityOptions + [.sendHighWaterMark(messages: 10_000)])
            endpoint = try socket.bind(bind)
        } catch {
            throw .transport("progress publisher: \(error)")
        }
    }

    /// Publishes one line; never blocks (a full queue drops the message for that subscriber).
    public func publish(topic: String, line: Data) {
        try? socket.send([Array(topic.utf8), Array(line)], dontWait: true)
    }
}

/// Receives what a `ProgressPublisher` sends.
public final class ProgressSubscriber {
    private let context: Context
    private let socket: Socket

    public init(connect endpoint: String, security: ClientSecurity = .insecure) throws(ClusterError) {
        do {
            context = try Context()
            socket = try context.socket(.subscriber, options: security.options + [.subscribe(prefix: [])])
            try socket.connect(endpoint)
        } catch {
            throw .transport("progress subscriber: \(error)")
        }
    }

    /// The next (topic, line), or nil if nothing arrived within `timeout` seconds (nil = wait forever).
    public func next(timeout: Double?) throws(ClusterError) -> (topic: String, line: Data)? {
        let parts: [[UInt8]]?
        do {
            parts = try socket.receive(timeout.map { .milliseconds(Int($0 * 1000)) } ?? .indefinitely)
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
