/// Whether a read should stop now: the readers ask between pieces of work (a wave of CSV pieces, a chunk of `.npy`
/// rows), so a Ctrl-C while a large file loads ends the read within one piece rather than after the whole file.
/// Asking is a call of `isRequested` (an atomic load in the command line), cheap beside a piece of parsing.
public struct ReadCancellation: Sendable {
    let isRequested: @Sendable () -> Bool

    public init(_ isRequested: @escaping @Sendable () -> Bool) { self.isRequested = isRequested }

    /// Never cancels.
    public static let never = ReadCancellation { false }

    /// Throws `.interrupted(path:)` when cancellation has been requested.
    public func check(reading path: String) throws(DataError) {
        if isRequested() { throw .interrupted(path: path) }
    }
}
