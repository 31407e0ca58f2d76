import ArgumentParser
import Foundation
import Logging
import ShardCluster
import ShardProtocol

/// The CURVE keys of a server (`coordinator`, and `train`'s progress publisher): `--secret-key`, `--allow`, or the
/// explicit `--insecure`.
public struct ServerKeyArguments: ParsableArguments {
    @Option(help: "This coordinator's CURVE secret key (a .secret file from `shardtrain keys generate`); needs --allow.")
    public var secretKey: String?

    @Option(help: "A folder of the .public keys of the workers (and progress subscribers) allowed to connect.")
    public var allow: String?

    @Flag(help: "Accept peers without keys on a non-loopback address (anyone who reaches it could join and read the data).")
    public var insecure = false

    public init() {}

    public func validate() throws {
        guard (secretKey == nil) == (allow == nil) else {
            throw ValidationError("--secret-key and --allow go together: the key proves who the coordinator is, the folder says who may join")
        }
        if insecure, secretKey != nil { throw ValidationError("--insecure and --secret-key contradict each other: choose one") }
    }

    /// CURVE with the given keys, or none.
    func security() throws -> ServerSecurity {
        guard let secretKey, let allow else { return .insecure }
        do {
            return .curve(try KeyFiles.loadSecret(secretKey), allowed: try KeyFiles.loadAllowed(allow))
        } catch {
            throw ValidationError(error.description)
        }
    }

    /// Refuses a non-loopback bind without keys (unless `--insecure`, which is logged loudly).
    func check(bind endpoint: String, flag: String, logger: Logger) throws {
        let security = try security()
        do {
            try ServerSecurity.check(bind: endpoint, flag: flag, security: security, insecure: insecure)
        } catch {
            throw ValidationError(error.description)
        }
        if case .insecure = security, insecure, !ServerSecurity.isLoopback(endpoint) {
            logger.warning(
                "--insecure: anyone who reaches \(endpoint) can join, receive the training data and change the result")
        }
    }
}

/// The CURVE keys of a client (`worker`, `watch`): its own secret key and the coordinator's public key.
public struct ClientKeyArguments: ParsableArguments {
    @Option(help: "This client's CURVE secret key (a .secret file from `shardtrain keys generate`); needs --coordinator-key.")
    public var secretKey: String?

    @Option(help: "The coordinator's CURVE public key (its .public file).")
    public var coordinatorKey: String?

    public init() {}

    public func validate() throws {
        guard (secretKey == nil) == (coordinatorKey == nil) else {
            throw ValidationError("--secret-key and --coordinator-key go together")
        }
    }

    func security() throws -> ClientSecurity {
        guard let secretKey, let coordinatorKey else { return .insecure }
        do {
            return .curve(try KeyFiles.loadSecret(secretKey), server: try KeyFiles.loadPublic(coordinatorKey))
        } catch {
            throw ValidationError(error.description)
        }
    }
}

/// `shardtrain keys generate DIR/NAME`: a CURVE key pair for a coordinator, a worker or a subscriber.
public struct KeysCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "Make CURVE keys for coordinators, workers and progress subscribers.",
        subcommands: [Generate.self])

    public init() {}

    public struct Generate: ParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "Write NAME.public and NAME.secret (Z85 text; the secret file readable by you only).",
            discussion: """
                A job with keys:
                  shardtrain keys generate keys/coordinator   # makes missing folders (700)
                  shardtrain keys generate keys/workers/w1        # one per worker
                  shardtrain coordinator --bind tcp://0.0.0.0:5555 \\
                    --secret-key keys/coordinator.secret \\
                    --allow keys/workers --workers 1 --data data/iris.csv --model softmax
                  shardtrain worker --connect tcp://HOST:5555 \\
                    --secret-key keys/workers/w1.secret \\
                    --coordinator-key keys/coordinator.public
                """)

        @Argument(help: "The path without extension, e.g. keys/worker1 (a missing folder is made, readable by you only).")
        public var path: String

        public init() {}

        public func run() throws {
            // A missing folder is made for the user only (mode 700), as `keys/workers/w1` in the example needs.
            let folder = (path as NSString).deletingLastPathComponent
            if !folder.isEmpty, !FileManager.default.fileExists(atPath: folder) {
                do {
                    try FileManager.default.createDirectory(
                        atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
                } catch {
                    throw CommandFailure("cannot make the folder \(folder): \(error.localizedDescription)")
                }
            }
            do {
                let (publicPath, secretPath) = try KeyFiles.generate(at: path)
                print("wrote \(publicPath) and \(secretPath) (mode 600)")
            } catch {
                throw CommandFailure(error)
            }
        }
    }
}
