import CShardSystem
import Foundation
import ShardProtocol

/// Worker processes started on this machine by `shardtrain train --workers N`.
///
/// Each child runs `<this executable> worker --connect - --exit-with-parent …` and is started before the
/// coordinator loads its data, so that it boots (loads the executable, computes its build identity) meanwhile;
/// it then waits for the coordinator's endpoint on its standard input (`awaitEndpoint`), sent by `connect(to:)`
/// once the coordinator has bound. Children are always reaped: `stop()` (also called from `deinit`) closes
/// their standard input (a child still waiting for the endpoint exits 0 on end of file), waits, sends SIGTERM,
/// then SIGKILLs stragglers; and each child asks the kernel for SIGTERM if this process dies first
/// (`PR_SET_PDEATHSIG`), so a crash of the coordinator leaves no orphans.
public final class LocalWorkers {
    private var processes: [Process] = []
    /// The write ends of the children's standard input, until the endpoint is sent.
    private var endpointPipes: [Pipe] = []
    /// Processes whose exit `newExits` has reported.
    private var reported: Set<Int> = []

    /// The `worker --connect` value that makes a worker read its endpoint from standard input.
    public static let endpointFromStandardInput = "-"

    /// Starts `count` workers, each with `threads` threads; they connect once `connect(to:)` is called.
    ///
    /// `placement(k)` gives worker k's command prefix and its own arguments: e.g. `["/usr/sbin/ip", "netns",
    /// "exec", NAME]` runs it in a network namespace (`ip netns exec` execs the worker, so it stays this process's
    /// child), and `--secret-key` its own key.
    public init(
        count: Int, threads: Int, extraArguments: [String] = [],
        placement: @escaping (_ index: Int) -> (prefix: [String], arguments: [String]) = { _ in ([], []) }
    ) throws(ClusterError) {
        executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        arguments =
            [
                "worker", "--connect", Self.endpointFromStandardInput, "--threads", String(threads),
                "--exit-with-parent", String(getpid()),
            ] + extraArguments
        self.placement = placement
        for index in 0..<count {
            do {
                let (process, pipe) = try launch(index)
                processes.append(process)
                endpointPipes.append(pipe)
            } catch {
                stop()
                throw .transport("cannot start local worker \(index) (\(executable.path)): \(error)")
            }
        }
    }

    private let executable: URL
    private let arguments: [String]
    private let placement: (Int) -> (prefix: [String], arguments: [String])
    /// The line `connect(to:)` sent, for replacements.
    private var endpoint: String?
    /// Replacements started by `restart`, in all.
    public private(set) var restarts = 0

    private func launch(_ index: Int) throws -> (Process, Pipe) {
        let process = Process()
        let (prefix, own) = placement(index)
        let command = prefix + [executable.path] + arguments + own
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        let pipe = Pipe()
        process.standardInput = pipe
        // Each compute thread calls BLAS single-threaded; without this OpenBLAS starts (and spins) a thread
        // pool of its own at load time, competing with the blocks for the same cores.
        var environment = ProcessInfo.processInfo.environment
        environment["OPENBLAS_NUM_THREADS"] = "1"
        environment["GLIBC_TUNABLES"] = Self.mallocTunables(after: environment["GLIBC_TUNABLES"])
        process.environment = environment
        try process.run()
        return (process, pipe)
    }

    /// Starts a replacement for an exited worker, told the endpoint at once (it joins the running job and is
    /// given blocks at the next round boundary). At most `limit` replacements in all, so a worker that dies on
    /// start cannot loop; returns the new pid, or nil past the limit or when starting fails.
    public func restart(limit: Int) -> Int32? {
        guard restarts < limit, let endpoint, let (process, pipe) = try? launch(processes.count) else { return nil }
        restarts += 1
        Self.tell(endpoint, through: pipe)
        processes.append(process)
        return process.processIdentifier
    }

    deinit { stop() }

    /// glibc malloc settings for the children, before any the user set (glibc applies them in order, so the
    /// user's win): arrays below 4 MiB (a default block
    /// holds 256 KiB) come from the heap, which malloc asks the kernel to back with 2 MiB pages (glibc ≥ 2.35;
    /// older ones ignore unknown tunables). Where a worker makes arrays of its blocks in one burst (blocks received
    /// in BLOCKS messages, or copied out of the shared region by a model that reads `Block.storage`), faulting in
    /// 4 KiB pages costs more than copying the values.
    public static func mallocTunables(after existing: String?) -> String {
        let ours = "glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=4194304"
        guard let existing, !existing.isEmpty else { return ours }
        return ours + ":" + existing
    }

    public var count: Int { processes.count }

    /// Tells every child the coordinator's endpoint (one line on its standard input, then end of file). A child
    /// that has already exited is reported by `newExits`, not here.
    public func connect(to endpoint: String) {
        self.endpoint = endpoint + "\n"
        for pipe in endpointPipes { Self.tell(self.endpoint!, through: pipe) }
        endpointPipes.removeAll()
    }

    /// Writes `line` to a child's standard input and closes it. A child that died meanwhile no longer reads its
    /// pipe (EPIPE): it is reported as lost like any exit, by `newExits`, instead of the SIGPIPE of the write
    /// ending the coordinator.
    private static func tell(_ line: String, through pipe: Pipe) {
        let bytes = Array(line.utf8)
        _ = shardtrain_write_without_sigpipe(pipe.fileHandleForWriting.fileDescriptor, bytes, bytes.count)
        try? pipe.fileHandleForWriting.close()
    }

    /// The endpoint `connect(to:)` sends, read by a worker from its standard input; nil at end of file (the
    /// coordinator stopped before training: nothing to do).
    public static func awaitEndpoint() -> String? {
        readLine(strippingNewline: true).flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The local worker processes that exited since the last call, by pid, with how they ended. The coordinator
    /// asks on every loop pass, so a crashed child is a lost worker at once instead of after the worker timeout.
    public func newExits() -> [(pid: UInt32, description: String)] {
        var exits: [(pid: UInt32, description: String)] = []
        for (index, process) in processes.enumerated() where !process.isRunning && !reported.contains(index) {
            reported.insert(index)
            let how =
                process.terminationReason == .uncaughtSignal
                ? "was killed by signal \(process.terminationStatus)"
                : "exited with status \(process.terminationStatus)"
            exits.append((UInt32(process.processIdentifier), "its process \(how)"))
        }
        return exits
    }

    /// Waits up to `timeout` seconds for the workers to exit on their own (after DONE), then terminates
    /// the rest; returns when every child has been reaped.
    public func stop(waitingUpTo timeout: Double = 0) {
        // Children still waiting for the endpoint read end of file and exit by themselves.
        for pipe in endpointPipes { try? pipe.fileHandleForWriting.close() }
        let waitsForEndpoint = !endpointPipes.isEmpty
        endpointPipes.removeAll()
        let deadline = Date().addingTimeInterval(waitsForEndpoint ? max(timeout, 1) : timeout)
        while processes.contains(where: \.isRunning), Date() < deadline { usleep(1_000) }
        for process in processes where process.isRunning { process.terminate() }
        let killDeadline = Date().addingTimeInterval(2)
        while processes.contains(where: \.isRunning), Date() < killDeadline { usleep(10_000) }
        for process in processes where process.isRunning { kill(process.processIdentifier, SIGKILL) }
        for process in processes { process.waitUntilExit() }
        processes.removeAll()
    }
}

/// After the coordinator that started this worker died without cleaning up (`kill -9`), removes its Unix socket
/// and the private folder holding it: an endpoint `ipc://DIR/coordinator` whose DIR is a `shardtrain-XXXXXX`
/// folder. Call it when the parent-death signal arrives: a dying multi-threaded parent is still this process's
/// parent until its last thread is gone, so this waits up to `patience` seconds for that; nothing happens while the
/// parent lives. Several workers may race; the folder goes only once it is empty.
public func removeSocketFolderOfDeadParent(endpoint: String, parent: Int32, patience: Double = 1) {
    guard endpoint.hasPrefix("ipc://") else { return }
    let socket = String(endpoint.dropFirst("ipc://".count))
    guard socket.hasSuffix("/coordinator") else { return }
    let folder = String(socket.dropLast("/coordinator".count))
    guard folder.split(separator: "/").last?.hasPrefix("shardtrain-") == true else { return }
    let deadline = Date().addingTimeInterval(patience)
    while getppid() == parent, Date() < deadline { usleep(5_000) }
    guard getppid() != parent else { return }
    unlink(socket)
    rmdir(folder)
}

/// Makes this process exit when the process `parent` dies (for workers started by `LocalWorkers`).
///
/// Returns false if `parent` is already gone (the caller should exit).
public func exitWithParent(_ parent: Int32) -> Bool {
    _ = shardtrain_set_parent_death_signal(SIGTERM)
    // The parent may have died before the call above took effect.
    return getppid() == parent
}
