import Dispatch
import Foundation
import ShardArtifacts
import Synchronization

/// Ctrl-C and SIGTERM handling: the first signal sets a flag that the round loops check (so children are
/// reaped and no output file is half-written); a second one exits at once.
enum Interrupt {
    private static let flag = Atomic<Int>(0)
    private nonisolated(unsafe) static var sources: [DispatchSourceSignal] = []

    /// Run before the second signal's immediate exit: clean-ups that must not be skipped (network namespaces).
    private static let forcedExitHooks = Mutex<[@Sendable () -> Void]>([])

    static var requested: Bool { flag.load(ordering: .relaxed) > 0 }

    /// Adds `hook` to what runs before a second Ctrl-C or SIGTERM ends the process.
    static func beforeForcedExit(_ hook: @escaping @Sendable () -> Void) { forcedExitHooks.withLock { $0.append(hook) } }

    /// Installs the handlers (idempotent enough for a CLI: called once per command). `first` runs for every
    /// signal (with its number) before it is counted, so even the one that exits at once runs it.
    static func install(first: (@Sendable (Int32) -> Void)? = nil) {
        onSignals { signalNumber in
            first?(signalNumber)
            if flag.add(1, ordering: .relaxed).newValue > 1 { exitAtOnce() }
        }
    }

    /// Installs handlers for a command with no round loop to check the flag (predict, evaluate, report, …): the
    /// first Ctrl-C or SIGTERM ends it at once, as a second one ends `train`.
    static func installExitingAtOnce() {
        onSignals { _ in exitAtOnce() }
    }

    /// Runs `handler` (off the signal handler, on a dispatch queue) for every SIGINT and SIGTERM.
    private static func onSignals(_ handler: @escaping @Sendable (Int32) -> Void) {
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { handler(signalNumber) }
            source.resume()
            sources.append(source)
        }
    }

    /// Runs the forced-exit hooks, removes the temporary files of writes in progress (the outputs stay as they
    /// were), says so and exits with 130.
    private static func exitAtOnce() {
        for hook in forcedExitHooks.withLock({ $0 }) { hook() }
        PendingTemporaries.removeAll()
        let message = Array("error: interrupted (outputs not yet written are left as they were)\n".utf8)
        _ = message.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
        _exit(130)
    }
}
