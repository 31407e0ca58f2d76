import Foundation
import Logging
import ShardProtocol
import Synchronization
import ZeroMQ

/// How a coordinator (or progress publisher) lets peers in.
public enum ServerSecurity: Sendable {
    /// No encryption, no authentication (ZeroMQ's NULL mechanism): loopback only, or with `--insecure`.
    case insecure
    /// CURVE with this key pair; only clients whose public key is in `allowed` (key → a name for the logs) get in.
    case curve(CurveKeyPair, allowed: [[UInt8]: String])

    /// Refuses a bind other peers could reach without keys: anything but loopback, unless `insecure` says so.
    public static func check(bind endpoint: String, flag: String, security: ServerSecurity, insecure: Bool) throws(ClusterError) {
        guard case .insecure = security, !insecure, !isLoopback(endpoint) else { return }
        let progress = flag == "--progress-endpoint"
        throw .invalidConfiguration(
            "\(flag) \(endpoint) would let anyone who reaches it \(progress ? "watch the run" : "join") without keys; make "
                + "keys with `shardtrain keys generate keys/coordinator` (and one per \(progress ? "watcher" : "worker")), then "
                + "pass --secret-key keys/coordinator.secret --allow DIR (a folder of the \(progress ? "watchers'" : "workers'") "
                + ".public files), or add --insecure")
    }

    /// Whether only this machine can connect to `endpoint` (tcp on 127.x.x.x, localhost or ::1; ipc; inproc).
    public static func isLoopback(_ endpoint: String) -> Bool {
        if endpoint.hasPrefix("ipc://") || endpoint.hasPrefix("inproc://") { return true }
        guard endpoint.hasPrefix("tcp://") else { return false }
        let address = endpoint.dropFirst("tcp://".count)
        return address.hasPrefix("127.") || address.hasPrefix("localhost:") || address.hasPrefix("[::1]:")
    }

    /// The socket options of a server with this security, and (for CURVE) the ZAP handler that must live as long as
    /// its context; refusals are logged once per address and key.
    func serverSetup(context: Context, logger: Logger, role: String) throws(ZMQError) -> ([SocketOption], ZAPHandler?) {
        guard case .curve(let pair, let allowed) = self else { return ([], nil) }
        let seen = Mutex<Set<String>>([])
        let handler = try ZAPHandler(
            context: context, accepts: { allowed[$0] != nil },
            refused: { address, key in
                let fingerprint = key.flatMap(Z85.encode) ?? "no CURVE key"
                let first = seen.withLock { seen in
                    guard seen.count < 10_000 else { return false }
                    return seen.insert("\(address) \(fingerprint)").inserted
                }
                if first { logger.warning("\(role): refused a peer at \(address) with key \(fingerprint) (not in --allow)") }
            })
        return (pair.serverOptions, handler)
    }
}

/// How a worker (or a progress subscriber) proves who it is and checks the server.
public enum ClientSecurity: Sendable {
    case insecure
    /// CURVE with this key pair, to the server whose public key is `server`.
    case curve(CurveKeyPair, server: [UInt8])

    var options: [SocketOption] {
        guard case .curve(let pair, let server) = self else { return [] }
        return pair.clientOptions(server: server)
    }
}

/// Tells a refused or failing security handshake from a server that is simply not there yet, from the connection
/// events of a client socket (`SocketMonitor`).
final class HandshakeWatch {
    let monitor: SocketMonitor
    /// "the coordinator at tcp://…", as messages name the server.
    let server: String
    /// "worker" or "watcher", as messages name this side.
    let client: String
    /// Whether this side has CURVE keys (what a failing handshake most likely means depends on it).
    let usesKeys: Bool
    private var failures = 0
    /// Whether a TCP (or IPC) connection to the server was ever made: without one, nothing listens at the address.
    private(set) var everConnected = false

    /// Consecutive failed handshakes after which a client gives up: a wrong server key fails every one (the server
    /// cannot decrypt our HELLO and hangs up), and libzmq retries every 100 ms.
    static let attempts = 3

    init(monitor: SocketMonitor, server: String, client: String, security: ClientSecurity) {
        self.monitor = monitor
        self.server = server
        self.client = client
        if case .curve = security { usesKeys = true } else { usesKeys = false }
    }

    /// Reads the waiting events; throws `.handshakeFailed` when the server refused this client's key, when one side
    /// uses keys and the other does not, or after `attempts` failed handshakes in a row.
    func check() throws(ClusterError) {
        while true {
            let event: SocketMonitor.Event?
            do { event = try monitor.next() } catch { throw .transport("reading connection events: \(error)") }
            switch event {
            case nil: return
            case .handshakeSucceeded: failures = 0
            case .handshakeRefused(_, let status):
                throw .handshakeFailed(
                    "\(server) refused this \(client)'s CURVE key during the handshake (ZAP status \(status)): "
                        + "put this \(client)'s .public file into the --allow folder there")
            case .handshakeProtocolError(_, SocketMonitor.mechanismMismatch):
                throw .handshakeFailed(
                    "\(server) and this \(client) disagree on keys (one uses CURVE, the other does not): give the "
                        + "\(client) --secret-key and --coordinator-key exactly when the server has --secret-key")
            case .handshakeProtocolError, .handshakeFailed:
                failures += 1
                guard failures >= Self.attempts else { continue }
                throw .handshakeFailed(
                    usesKeys
                        ? "\(failures) CURVE handshakes with \(server) failed in a row: check that --coordinator-key is "
                            + "its .public key"
                        : "\(failures) handshakes with \(server) failed in a row: it probably requires keys (give this "
                            + "\(client) --secret-key and --coordinator-key)")
            case .connected:
                everConnected = true
            case .disconnected, .other: continue
            }
        }
    }
}

/// Logs a CURVE server's failed handshakes, each kind once, from its socket's connection events: the ZAP handler
/// reports only keys it refuses, not a client with the wrong server key or none at all. The peer's address is not
/// known at that point (libzmq names the bound endpoint), so the message says what to check on the client's side.
final class ServerHandshakeLog {
    let monitor: SocketMonitor
    /// "coordinator" or "progress", as the ZAP handler's messages name the server.
    private let role: String
    private let logger: Logger
    private var logged: Set<String> = []

    init(monitor: SocketMonitor, role: String, logger: Logger) {
        self.monitor = monitor
        self.role = role
        self.logger = logger
    }

    /// Reads the waiting events and logs each new kind of failure.
    func readEvents() {
        while let event = try? monitor.next() {
            let failure: String
            switch event {
            case .handshakeProtocolError(_, SocketMonitor.mechanismMismatch):
                failure = "\(role): a peer without CURVE keys tried to connect (keys are required: give it --secret-key "
                    + "and --coordinator-key)"
            case .handshakeProtocolError, .handshakeFailed:
                failure = "\(role): a peer's CURVE handshake failed (a --coordinator-key that is not this server's "
                    + ".public key, or a peer without keys)"
            default: continue
            }
            if logged.insert(failure).inserted { logger.warning("\(failure)") }
        }
    }
}

/// CURVE keys on disk: `NAME.public` and `NAME.secret`, each one line of Z85 text (40 characters for 32 bytes).
/// A secret key file is created with mode 0600 and refused when it can be read by others.
public enum KeyFiles {
    /// Writes a new key pair to `base.public` and `base.secret` (never over existing files); returns both paths.
    public static func generate(at base: String) throws(ClusterError) -> (public: String, secret: String) {
        let pair: CurveKeyPair
        do { pair = try CurveKeyPair.generate() } catch { throw .transport("\(error)") }
        let (publicPath, secretPath) = (base + ".public", base + ".secret")
        for path in [publicPath, secretPath] where FileManager.default.fileExists(atPath: path) {
            throw .invalidConfiguration("\(path) exists: a key is never overwritten; choose another name or remove it")
        }
        try write(Z85.encode(pair.secretKey)! + "\n", to: secretPath, mode: 0o600)
        try write(Z85.encode(pair.publicKey)! + "\n", to: publicPath, mode: 0o644)
        return (publicPath, secretPath)
    }

    private static func write(_ text: String, to path: String, mode: mode_t) throws(ClusterError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard descriptor >= 0 else {
            throw .invalidConfiguration("cannot create \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        let bytes = Array(text.utf8)
        guard bytes.withUnsafeBytes({ Foundation.write(descriptor, $0.baseAddress, $0.count) }) == bytes.count, fsync(descriptor) == 0
        else {
            throw .invalidConfiguration("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// The key pair of a `.secret` file (its public key derived from the secret one).
    public static func loadSecret(_ path: String) throws(ClusterError) -> CurveKeyPair {
        // Both halves are 40 Z85 characters: the name is what tells them apart.
        guard !path.hasSuffix(".public") else {
            throw .invalidConfiguration("\(path) is a public key: --secret-key takes the .secret file of the pair")
        }
        var status = stat()
        guard stat(path, &status) == 0 else {
            throw .invalidConfiguration("cannot read the secret key \(path): \(String(cString: strerror(errno)))")
        }
        guard status.st_mode & 0o077 == 0 else {
            throw .invalidConfiguration(
                "the secret key \(path) can be read by others (mode \(String(status.st_mode & 0o777, radix: 8))): run chmod 600 \(path)")
        }
        let key = try loadKey(path, kind: "secret")
        do { return try CurveKeyPair(secretKey: key) } catch { throw .invalidConfiguration("\(path): \(error)") }
    }

    /// The 32-byte key of a `.public` file.
    /// A `.public` file's key; a `.secret` file is refused (a server's secret key must never be handed to its clients).
    public static func loadPublic(_ path: String) throws(ClusterError) -> [UInt8] {
        guard !path.hasSuffix(".secret") else {
            throw .invalidConfiguration(
                "\(path) is a secret key: give the .public file of the pair (the server's secret key stays with the server)")
        }
        return try loadKey(path, kind: "public")
    }

    /// Every `*.public` key in `directory`, with its file name (for the logs).
    public static func loadAllowed(_ directory: String) throws(ClusterError) -> [[UInt8]: String] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: directory) } catch {
            throw .invalidConfiguration("--allow \(directory): cannot list the folder: \(error.localizedDescription)")
        }
        var keys: [[UInt8]: String] = [:]
        for name in names.sorted() where name.hasSuffix(".public") {
            keys[try loadPublic((directory as NSString).appendingPathComponent(name))] = name
        }
        guard !keys.isEmpty else {
            throw .invalidConfiguration("--allow \(directory) holds no .public key files: no worker could join")
        }
        return keys
    }

    private static func loadKey(_ path: String, kind: String) throws(ClusterError) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .invalidConfiguration("cannot read the \(kind) key \(path)")
        }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.utf8.count == 40, let key = Z85.decode(text) else {
            throw .invalidConfiguration(
                "\(path) is not a \(kind) key: expected one line of 40 Z85 characters (from `shardtrain keys generate`)")
        }
        return key
    }
}
