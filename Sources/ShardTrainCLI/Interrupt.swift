import Dispatch
import Foundation
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
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                first?(signalNumber)
                if flag.add(1, ordering: .relaxed).newValue > 1 {
                    for hook in forcedExitHooks.withLock({ $0 }) { hook() }
                    _exit(130)
                }
            }
            source.resume()
            sources.append(source)
        }
    }
}
