import ArgumentParser
import Dispatch
import Foundation
import Logging
import ShardApplication
import ShardArtifacts
import Synchronization

/// `--config FILE` of `train` and `coordinator`: run again with the settings a summary recorded.
public struct ConfigArguments: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "A summary written by --summary-json (or its settings object): train with its settings.",
            discussion: "Every recorded setting is a default: a flag given on the command line wins (another --model or "
                + "--optimizer also drops the recorded settings of the model or solver). The recorded data files are "
                + "used unless --data is given; an input whose SHA-256 differs from the recorded one is warned about."))
    public var config: String?

    @Flag(help: "With --config: stop (exit 1) instead of warning when an input file's SHA-256 differs from the recorded one.")
    public var verifyData = false

    public init() {}

    public func validate() throws {
        if verifyData, config == nil { throw ValidationError("--verify-data needs --config FILE") }
    }
}

enum ConfigFile {
    /// The recorded run in the summary or settings file at `path`.
    static func read(_ path: String) throws(ArtifactError) -> RecordedRun {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw .io(path: path, reason: "is a folder; give the summary file written by --summary-json")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .io(path: path, reason: "cannot read: \(String(cString: strerror(errno)))")
        }
        return try RecordedRun(json: data, path: path)
    }

    /// `shardtrain …` arguments (without the program name) with a `train` or `coordinator` `--config FILE`
    /// expanded: the recorded settings the command line does not override, placed before the user's own arguments
    /// (which stay, `--config` included, so the command can compare the data's digests). Others pass unchanged.
    static func expand(_ arguments: [String]) throws -> [String] {
        guard let command = arguments.first, ["train", "coordinator"].contains(command) else { return arguments }
        let own = Array(arguments.dropFirst())
        guard !own.contains("--help"), !own.contains("-h"), let path = configPath(in: own) else { return arguments }
        let recorded: RecordedRun
        do { recorded = try read(path) } catch { throw ValidationError("--config \(error)") }
        return [command] + recorded.arguments(besides: own) + own
    }

    /// The value of the last `--config PATH` or `--config=PATH`.
    static func configPath(in arguments: [String]) -> String? {
        var path: String?
        for (index, token) in arguments.enumerated() {
            if token == "--config", index + 1 < arguments.count { path = arguments[index + 1] }
            if token.hasPrefix("--config=") { path = String(token.dropFirst("--config=".count)) }
        }
        return path
    }

    /// Compares the recorded input digests with this run's: a differing file is logged as a warning, or (with
    /// `--verify-data`) stops the run (exit 1), as does `--verify-data` with a record without digests. Files the
    /// record does not cover are not compared.
    static func compare(
        recorded: RecordedRun, path: String, current: InputDigests, files: [(flag: String, path: String?)],
        verify: Bool, logger: Logger
    ) throws {
        if verify, recorded.inputDigests.sha256.isEmpty {
            throw CommandFailure("--verify-data: \(path) records no input_sha256 (a settings object alone) to compare the data with")
        }
        var differences: [String] = []
        for (flag, file) in files {
            guard let file, let saved = recorded.inputDigests.sha256[flag], let now = current.sha256[flag], saved != now
            else { continue }
            differences.append("\(flag) \(file) has SHA-256 \(now.prefix(16))…, the run recorded in \(path) read \(saved.prefix(16))…")
        }
        guard !differences.isEmpty else { return }
        let message = "DATA DIFFERS FROM THE RECORDED RUN: " + differences.joined(separator: "; ")
        if verify { throw CommandFailure("\(message) (--verify-data)") }
        logger.warning("\(message); the result will not be the recorded one (add --verify-data to stop instead)")
    }
}

/// A value computed on another thread while this one goes on (hashing input files while the data loads).
final class BackgroundValue<Value: Sendable, Failure: Error>: Sendable {
    private let result = Mutex<Result<Value, Failure>?>(nil)
    private let done = DispatchGroup()

    init(_ work: @escaping @Sendable () throws(Failure) -> Value) {
        done.enter()
        BackgroundWork.run {
            let outcome: Result<Value, Failure>
            do throws(Failure) { outcome = .success(try work()) } catch { outcome = .failure(error) }
            self.result.withLock { $0 = outcome }
            self.done.leave()
        }
    }

    /// Waits for the value (or its error).
    func value() throws(Failure) -> Value {
        done.wait()
        return try result.withLock { $0! }.get()
    }
}

/// Work on other threads that must end before the process does: OpenSSL (input digests, the build identity)
/// traps if `exit` tears it down under a thread that is still hashing. `main` waits for it (`finish`).
enum BackgroundWork {
    private static let group = DispatchGroup()

    static func run(_ work: @escaping @Sendable () -> Void) {
        group.enter()
        DispatchQueue.global().async {
            work()
            group.leave()
        }
    }

    /// Waits for the work in flight, at most 10 s (a digest of a large file on a slow disk).
    static func finish() { _ = group.wait(timeout: .now() + 10) }
}
