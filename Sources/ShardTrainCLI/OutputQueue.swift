import Dispatch
import Foundation
import Synchronization

/// Standard output written by one background thread, so that a slow reader (a pipe nobody drains, a paused
/// terminal) never blocks the thread that runs the protocol: a coordinator blocked in `write(2)` would send no
/// heartbeats and its workers would give up on it. Writes are kept in order without bound and `drain()` waits
/// until everything written so far is out.
///
/// Writes made within `coalescing` seconds of each other go out in one `write(2)`, from one wake-up of the writer
/// thread: a mini-batch run reports a round every 2 ms, and waking a third thread on a 2-core machine that often
/// took time from the compute threads. Progress lines are small (≈ 200 bytes per round).
final class OutputQueue: Sendable {
    static let standardOutput = OutputQueue()

    private let queue = DispatchQueue(label: "shardtrain.stdout")
    private let coalescing: DispatchTimeInterval
    /// Bytes not yet written, and whether a flush is scheduled.
    private let pending = Mutex<(bytes: Data, scheduled: Bool)>((Data(), false))
    /// Where the bytes go (standard output; a test's collector).
    private let sink: @Sendable (Data) -> Void

    init(
        coalescing: DispatchTimeInterval = .milliseconds(20),
        sink: @escaping @Sendable (Data) -> Void = { FileHandle.standardOutput.write($0) }
    ) {
        self.coalescing = coalescing
        self.sink = sink
    }

    /// Queues `text` as it is (add the newline yourself).
    func write(_ text: String) { write(Data(text.utf8)) }

    func write(_ data: Data) {
        let schedule = pending.withLock { pending in
            pending.bytes.append(data)
            defer { pending.scheduled = true }
            return !pending.scheduled
        }
        if schedule { queue.asyncAfter(deadline: .now() + coalescing) { self.flush() } }
    }

    /// Returns once everything queued before this call has been written.
    func drain() { queue.sync { flush() } }

    /// Writes what is pending (on `queue`).
    private func flush() {
        let bytes = pending.withLock { pending in
            defer { pending = (Data(), false) }
            return pending.bytes
        }
        if !bytes.isEmpty { sink(bytes) }
    }
}
