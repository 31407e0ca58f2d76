import CZeroMQ
import Foundation
import Synchronization

/// Answers libzmq's ZAP requests (ZeroMQ RFC 27) for the sockets of one context that set the ZAP domain
/// `ZAPHandler.domain`: a CURVE client whose long-term public key `accepts` is let in; any other peer (another
/// mechanism, an unknown key) is refused during the handshake, so it never reaches the socket and sees no
/// message. Each refusal is reported to `refused` with the peer's address and key (nil for a non-CURVE peer).
///
/// The handler owns a REP socket bound to `inproc://zeromq.zap.01` on a thread of its own (libzmq waits for its
/// answer before finishing a handshake); `stop()` (also run by `deinit`) ends the thread.
public final class ZAPHandler: Sendable {
    public static let domain = "shardtrain"
    static let endpoint = "inproc://zeromq.zap.01"

    /// Set by `stop`, read by the handler thread.
    private final class Flags: Sendable {
        let stopping = Atomic<Bool>(false)
        let stopped = Atomic<Bool>(false)
    }

    private let flags = Flags()
    private let finished = DispatchSemaphore(value: 0)

    /// Binds the ZAP endpoint of `context` (before any server socket of the context accepts peers) and starts
    /// answering. Throws if the endpoint cannot be bound (e.g. another handler already serves this context).
    public init(
        context: Context, accepts: @escaping @Sendable ([UInt8]) -> Bool,
        refused: @escaping @Sendable (_ address: String, _ key: [UInt8]?) -> Void
    ) throws(ZMQError) {
        let ready = DispatchSemaphore(value: 0)
        let setup = Mutex<ZMQError?>(nil)
        let flags = self.flags
        let finished = self.finished
        let thread = Thread {
            defer { finished.signal() }
            let socket: Socket
            do throws(ZMQError) {
                socket = try context.socket(.rep)
                _ = try socket.bind(Self.endpoint)
            } catch {
                setup.withLock { $0 = error }
                ready.signal()
                return
            }
            ready.signal()
            while !flags.stopping.load(ordering: .relaxed) {
                let request: [[UInt8]]?
                do {
                    request = try socket.receive(.milliseconds(100))
                } catch {
                    return
                }
                guard let request else { continue }
                let reply = Self.answer(request, accepts: accepts, refused: refused)
                do { try socket.send(reply) } catch { return }
            }
        }
        thread.name = "shardtrain-zap"
        thread.start()
        ready.wait()
        if let error = setup.withLock({ $0 }) { throw error }
    }

    deinit { stop() }

    /// Ends the handler thread and waits for it (at most ~100 ms).
    public func stop() {
        guard !flags.stopped.exchange(true, ordering: .relaxed) else { return }
        flags.stopping.store(true, ordering: .relaxed)
        finished.wait()
    }

    /// The reply to one request: version, request id, status code, status text, user id (the key in Z85), metadata.
    ///
    ///     request: "1.0" | request id | domain | address | identity | mechanism | credentials…
    static func answer(
        _ request: [[UInt8]], accepts: ([UInt8]) -> Bool, refused: (String, [UInt8]?) -> Void
    ) -> [[UInt8]] {
        let version = Array("1.0".utf8)
        guard request.count >= 6, request[0] == version else {
            return [version, request.count > 1 ? request[1] : [], Array("500".utf8), Array("malformed ZAP request".utf8), [], []]
        }
        let address = String(decoding: request[3], as: UTF8.self)
        let mechanism = String(decoding: request[5], as: UTF8.self)
        func reply(_ code: String, _ text: String, user: String = "") -> [[UInt8]] {
            [version, request[1], Array(code.utf8), Array(text.utf8), Array(user.utf8), []]
        }
        guard mechanism == "CURVE", request.count == 7, request[6].count == 32 else {
            refused(address, nil)
            return reply("400", "this job requires CURVE with an allowed key")
        }
        let key = request[6]
        guard accepts(key) else {
            refused(address, key)
            return reply("400", "key not allowed")
        }
        return reply("200", "OK", user: Z85.encode(key) ?? "")
    }
}
