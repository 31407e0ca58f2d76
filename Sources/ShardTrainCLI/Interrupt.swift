import Dispatch
import Foundation
import Synchronization

/// Ctrl-C and SIGTERM handling: the first signal sets a flag that the round loops check (so children are
/// reaped and no output file is half-written); a second one exits at once.
enum Interrupt {
    private static let flag = Atomic<Int>(0)
    private nonisolated(unsafe) static var sources: [DispatchSourceSignal] = []

    static var requested: Bool { flag.load(ordering: .relaxed) > 0 }

    /// Installs the handlers (idempotent enough for a CLI: called once per command). `first` runs for every
    /// signal (with its number) before it is counted, so even the one that exits at once runs it.
    static func install(first: (@Sendable (Int32) -> Void)? = nil) {
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                first?(signalNumber)
                if flag.add(1, ordering: .relaxed).newValue > 1 { _exit(130) }
            }
            source.resume()
            sources.append(source)
        }
    }
}
