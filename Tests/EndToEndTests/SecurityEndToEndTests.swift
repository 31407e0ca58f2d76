import Foundation
import Testing
import _TestSupport

/// Keys, refusals and safe defaults as a user meets them: real `shardtrain` processes on loopback.
@Suite("End to end: keys and authentication", .serialized)
struct SecurityEndToEndTests {
    static let iris = ReferenceData.repositoryRoot.appendingPathComponent("data/iris.csv").path

    static func run(_ arguments: [String], in directory: TemporaryDirectory, timeout: Double = 60) throws -> ChildProcess {
        let child = try ChildProcess(arguments, directory: directory.url)
        _ = child.wait(timeout: timeout)
        return child
    }

    @Test("keys generate writes a public and a 0600 secret key, never over existing files")
    func generateKeys() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let first = try Self.run(["keys", "generate", directory.path("w1")], in: directory)
        #expect(first.wait(timeout: 1) == 0, "\(first.stderr)")
        let secret = try FileManager.default.attributesOfItem(atPath: directory.path("w1.secret"))
        #expect((secret[.posixPermissions] as? Int) == 0o600)
        let publicKey = try String(contentsOfFile: directory.path("w1.public"), encoding: .utf8)
        #expect(publicKey.trimmingCharacters(in: .newlines).count == 40)
        let again = try Self.run(["keys", "generate", directory.path("w1")], in: directory)
        #expect(again.wait(timeout: 1) == 1)
        #expect(again.stderr.contains("exists: a key is never overwritten"), "\(again.stderr)")
    }

    @Test("a coordinator bound beyond loopback without keys refuses to start and says how to make keys")
    func nonLoopbackNeedsKeys() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let coordinator = try Self.run(
            ["coordinator", "--bind", "tcp://0.0.0.0:0", "--workers", "1", "--data", Self.iris, "--model", "softmax"], in: directory)
        #expect(coordinator.wait(timeout: 1) == 64)
        #expect(coordinator.stderr.contains("shardtrain keys generate"), "\(coordinator.stderr)")
        #expect(coordinator.stderr.contains("--insecure"))
        // The usage shown is the coordinator's, not the root command's (the check runs after parsing).
        #expect(coordinator.stderr.contains("Usage: shardtrain coordinator [<options>]"), "\(coordinator.stderr)")
        #expect(coordinator.stderr.contains("See 'shardtrain coordinator --help'"), "\(coordinator.stderr)")
        // The same for a progress stream on every interface.
        let train = try Self.run(
            ["train", "--data", Self.iris, "--model", "softmax", "--progress-endpoint", "tcp://0.0.0.0:0"], in: directory)
        #expect(train.wait(timeout: 1) == 64)
        #expect(train.stderr.contains("--progress-endpoint tcp://0.0.0.0:0 would let anyone"), "\(train.stderr)")
    }

    @Test("a secret key others can read is refused, naming the file and the fix")
    func readableSecretRefused() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        _ = try Self.run(["keys", "generate", directory.path("c")], in: directory)
        chmod(directory.path("c.secret"), 0o644)
        try FileManager.default.createDirectory(atPath: directory.path("allow"), withIntermediateDirectories: false)
        _ = try Self.run(["keys", "generate", directory.path("allow/w")], in: directory)
        let coordinator = try Self.run(
            [
                "coordinator", "--workers", "1", "--data", Self.iris, "--model", "softmax", "--secret-key",
                directory.path("c.secret"), "--allow", directory.path("allow"),
            ], in: directory)
        #expect(coordinator.wait(timeout: 1) == 64)
        #expect(coordinator.stderr.contains("can be read by others (mode 644): run chmod 600"), "\(coordinator.stderr)")
    }

    @Test("a worker with keys the coordinator does not list, the wrong coordinator key or no keys fails at once, saying which; the listed one trains; the refusal is logged once")
    func unlistedWorkerIsRefused() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try FileManager.default.createDirectory(atPath: directory.path("allow"), withIntermediateDirectories: false)
        for name in ["coordinator", "allow/good", "stranger"] {
            #expect(try Self.run(["keys", "generate", directory.path(name)], in: directory).wait(timeout: 1) == 0)
        }
        let coordinator = try ChildProcess(
            [
                "coordinator", "--bind", "tcp://127.0.0.1:*", "--workers", "1", "--data", Self.iris, "--model", "softmax",
                "--secret-key", directory.path("coordinator.secret"), "--allow", directory.path("allow"), "--log-format", "json",
            ], directory: directory.url)
        let endpoint = coordinator.loggedWord(after: "waiting on ", timeout: 60)
        let bound = try #require(endpoint, "\(coordinator.stderr)")
        let started = Date()
        let stranger = try ChildProcess(
            [
                "worker", "--connect", bound, "--secret-key", directory.path("stranger.secret"),
                "--coordinator-key", directory.path("coordinator.public"),
            ], directory: directory.url)
        let refused = coordinator.waitForOutput(timeout: 30) { _, stderr in stderr.contains("refused a peer at 127.0.0.1") }
        #expect(refused, "\(coordinator.stderr)")
        // The refused worker knows at once (not after its 120 s join timeout), and so do workers whose keys cannot
        // fit: the wrong coordinator key, or none at all.
        #expect(stranger.wait(timeout: 10) == 1, "the stranger must give up")
        #expect(
            stranger.stderr.contains("refused this worker's CURVE key during the handshake (ZAP status 400)"), "\(stranger.stderr)")
        let wrongKey = try ChildProcess(
            [
                "worker", "--connect", bound, "--secret-key", directory.path("allow/good.secret"),
                "--coordinator-key", directory.path("stranger.public"),
            ], directory: directory.url)
        #expect(wrongKey.wait(timeout: 10) == 1)
        #expect(wrongKey.stderr.contains("check that --coordinator-key is its .public key"), "\(wrongKey.stderr)")
        let keyless = try ChildProcess(["worker", "--connect", bound], directory: directory.url)
        #expect(keyless.wait(timeout: 10) == 1)
        // Keys on one side only: libzmq reports a mechanism mismatch, or (depending on who reads the greeting first)
        // only broken handshakes; either way the worker is told to bring keys.
        #expect(keyless.stderr.contains("--secret-key and --coordinator-key"), "\(keyless.stderr)")
        #expect(Date().timeIntervalSince(started) < 20)
        let failures = coordinator.waitForOutput(timeout: 10) { _, stderr in stderr.contains("a peer's CURVE handshake failed") }
        #expect(failures, "\(coordinator.stderr)")
        let good = try ChildProcess(
            [
                "worker", "--connect", bound, "--secret-key", directory.path("allow/good.secret"), "--coordinator-key",
                directory.path("coordinator.public"),
            ], directory: directory.url)
        #expect(coordinator.wait(timeout: 60) == 0, "\(coordinator.stderr)")
        #expect(good.wait(timeout: 10) == 0, "\(good.stderr)")
        #expect(coordinator.stderr.components(separatedBy: "refused a peer").count - 1 == 1, "logged once: \(coordinator.stderr)")
        #expect(coordinator.stdout.contains("\"workers\":1"))
    }

    @Test("a keyed progress stream reaches a watcher with a listed key and nobody else")
    func keyedProgressStream() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try FileManager.default.createDirectory(atPath: directory.path("allow"), withIntermediateDirectories: false)
        for name in ["run", "allow/watcher", "stranger"] {
            #expect(try Self.run(["keys", "generate", directory.path(name)], in: directory).wait(timeout: 1) == 0)
        }
        let train = try ChildProcess(
            [
                "train", "--data", ReferenceData.repositoryRoot.appendingPathComponent("data/fraud_synthetic.csv").path,
                "--optimizer", "gd", "--learning-rate", "1e-5", "--max-rounds", "800", "--gradient-tolerance", "0",
                "--objective-tolerance", "0", "--progress-endpoint", "tcp://127.0.0.1:*", "--secret-key",
                directory.path("run.secret"), "--allow", directory.path("allow"),
            ], directory: directory.url)
        let endpoint = train.loggedWord(after: "publishing progress on ", timeout: 60)
        let bound = try #require(endpoint, "\(train.stderr)")
        func watch(_ key: String) throws -> ChildProcess {
            try ChildProcess(
                [
                    "watch", "--connect", bound, "--log-format", "json", "--timeout", "5", "--secret-key", directory.path(key),
                    "--coordinator-key", directory.path("run.public"),
                ], directory: directory.url)
        }
        let listed = try watch("allow/watcher.secret")
        let stranger = try watch("stranger.secret")
        let keyless = try ChildProcess(["watch", "--connect", bound, "--timeout", "5"], directory: directory.url)
        #expect(train.wait(timeout: 120) == 0, "\(train.stderr)")
        #expect(listed.wait(timeout: 30) == 0, "\(listed.stderr)")
        #expect(listed.stdout.contains("\"event\":\"summary\""))
        #expect(stranger.wait(timeout: 30) == 1)
        #expect(stranger.stdout.isEmpty, "the stranger received: \(stranger.stdout.prefix(300))")
        #expect(
            stranger.stderr.contains("refused this watcher's CURVE key during the handshake (ZAP status 400)"),
            "told why, not only silence: \(stranger.stderr)")
        #expect(train.stderr.contains("progress: refused a peer at 127.0.0.1"), "\(train.stderr)")
        // A watcher without keys is told to bring them, and the run's log shows the failed handshake.
        #expect(keyless.wait(timeout: 30) == 1)
        #expect(keyless.stderr.contains("--secret-key and --coordinator-key"), "\(keyless.stderr)")
        #expect(
            train.stderr.contains("progress: a peer without CURVE keys tried to connect")
                || train.stderr.contains("progress: a peer's CURVE handshake failed"), "\(train.stderr)")
    }
}
