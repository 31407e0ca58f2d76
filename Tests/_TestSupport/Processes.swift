import Foundation

/// Runs the built `shardtrain` executable as a real child process (end-to-end tests).
public enum ShardTrainBinary {
    /// `SHARDTRAIN_BINARY`, or `shardtrain` next to the test bundle in the build folder.
    public static var path: String {
        if let override = ProcessInfo.processInfo.environment["SHARDTRAIN_BINARY"], !override.isEmpty {
            return override
        }
        let testExecutable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var directory = testExecutable.deletingLastPathComponent()
        // The bundle may be a directory (`X.xctest/...`) on some toolchains.
        while directory.path != "/" {
            let candidate = directory.appendingPathComponent("shardtrain")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate.path }
            directory = directory.deletingLastPathComponent()
        }
        return ReferenceData.repositoryRoot.appendingPathComponent(".build/debug/shardtrain").path
    }
}

/// A child process whose standard output and error go to files (no pipe can fill up and block it).
public final class ChildProcess: @unchecked Sendable {
    public let process = Process()
    public let stdoutURL: URL
    public let stderrURL: URL

    /// `environment` is added to this process's environment.
    public init(
        _ arguments: [String], executable: String = ShardTrainBinary.path, directory: URL,
        environment: [String: String] = [:]
    ) throws {
        stdoutURL = directory.appendingPathComponent("stdout-\(UUID().uuidString).txt")
        stderrURL = directory.appendingPathComponent("stderr-\(UUID().uuidString).txt")
        try Data().write(to: stdoutURL)
        try Data().write(to: stderrURL)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
        process.standardError = try FileHandle(forWritingTo: stderrURL)
        try process.run()
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    public var pid: Int32 { process.processIdentifier }
    public var stdout: String { (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "" }
    public var stderr: String { (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "" }

    /// Waits for exit; kills the process and returns nil if it is still running after `timeout` seconds.
    public func wait(timeout: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning, Date() < deadline { usleep(5_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        return process.terminationStatus
    }

    /// Polls until `condition` holds for the output so far (true) or `timeout` passes (false).
    public func waitForOutput(timeout: Double, _ condition: (_ stdout: String, _ stderr: String) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition(stdout, stderr) { return true }
            if !process.isRunning { return condition(stdout, stderr) }
            usleep(10_000)
        }
        return false
    }
}

/// A fresh temporary directory, removed by `remove()`.
public struct TemporaryDirectory: Sendable {
    public let url: URL

    public init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("shardtrain-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    public func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    public func write(_ text: String, to name: String) throws -> String {
        let path = path(name)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    public func remove() { try? FileManager.default.removeItem(at: url) }
}

/// Whether a process with this pid still exists (and is not a zombie).
public func processIsAlive(_ pid: Int32) -> Bool {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
    // Field 3 is the state; "Z" is a zombie, "X" dead.
    guard let close = status.lastIndex(of: ")") else { return false }
    let state = status[status.index(close, offsetBy: 2)]
    return state != "Z" && state != "X"
}

/// Writes `gzip -c path` (Debian's gzip, an essential package) to `output`; throws unless gzip exits 0.
public func gzipFile(_ path: String, to output: String) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/gzip")
    process.arguments = ["-c", path]
    try Data().write(to: URL(fileURLWithPath: output))
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
    defer { try? handle.close() }
    process.standardOutput = handle
    try process.run()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "gzip exited \(process.terminationStatus)"])
    }
}

extension ChildProcess {
    /// The first word after `marker` in the process's standard error (e.g. the endpoint it logged once bound), waiting
    /// up to `timeout` seconds; nil if it never appeared.
    public func loggedWord(after marker: String, timeout: Double = 60) -> String? {
        var word: String?
        _ = waitForOutput(timeout: timeout) { _, stderr in
            guard let range = stderr.range(of: marker) else { return false }
            word = String(stderr[range.upperBound...].prefix { !$0.isWhitespace })
            return true
        }
        return word
    }
}
