import CShardSystem
import Foundation

/// Worker processes started on this machine by `shardtrain train --workers N`.
///
/// Each child runs `<this executable> worker --connect ENDPOINT --exit-with-parent …`. Children are always
/// reaped: `stop()` (also called from `deinit`) sends SIGTERM, waits, then SIGKILLs stragglers; and each
/// child asks the kernel for SIGTERM if this process dies first (`PR_SET_PDEATHSIG`), so a crash of the
/// coordinator leaves no orphans.
public final class LocalWorkers {
    private var processes: [Process] = []

    /// Starts `count` workers connecting to `endpoint`, each with `threads` threads.
    public init(count: Int, endpoint: String, threads: Int, extraArguments: [String] = []) throws(ClusterError) {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        for index in 0..<count {
            let process = Process()
            process.executableURL = executable
            process.arguments =
                ["worker", "--connect", endpoint, "--threads", String(threads), "--exit-with-parent", String(getpid())]
                + extraArguments
            process.standardInput = FileHandle.nullDevice
            // Each compute thread calls BLAS single-threaded; without this OpenBLAS starts (and spins) a thread
            // pool of its own at load time, competing with the blocks for the same cores.
            var environment = ProcessInfo.processInfo.environment
            environment["OPENBLAS_NUM_THREADS"] = "1"
            process.environment = environment
            do {
                try process.run()
            } catch {
                stop()
                throw .transport("cannot start local worker \(index) (\(executable.path)): \(error)")
            }
            processes.append(process)
        }
    }

    deinit { stop() }

    /// A description of the first local worker process that has exited, or nil while all run. Training
    /// checks this so a crashed child fails the job at once instead of after the join or worker timeout.
    public func firstExit() -> String? {
        for (index, process) in processes.enumerated() where !process.isRunning {
            return "local worker process \(index) (pid \(process.processIdentifier)) exited with status "
                + "\(process.terminationStatus)"
        }
        return nil
    }

    /// Waits up to `timeout` seconds for the workers to exit on their own (after DONE), then terminates
    /// the rest; returns when every child has been reaped.
    public func stop(waitingUpTo timeout: Double = 0) {
        let deadline = Date().addingTimeInterval(timeout)
        while processes.contains(where: \.isRunning), Date() < deadline { usleep(10_000) }
        for process in processes where process.isRunning { process.terminate() }
        let killDeadline = Date().addingTimeInterval(2)
        while processes.contains(where: \.isRunning), Date() < killDeadline { usleep(10_000) }
        for process in processes where process.isRunning { kill(process.processIdentifier, SIGKILL) }
        for process in processes { process.waitUntilExit() }
        processes.removeAll()
    }
}

/// Makes this process exit when the process `parent` dies (for workers started by `LocalWorkers`).
///
/// Returns false if `parent` is already gone (the caller should exit).
public func exitWithParent(_ parent: Int32) -> Bool {
    _ = shardtrain_set_parent_death_signal(SIGTERM)
    // The parent may have died before the call above took effect.
    return getppid() == parent
}
