import Dispatch
import Foundation

/// Standard output written by one background thread, so that a slow reader (a pipe nobody drains, a paused
/// terminal) never blocks the thread that runs the protocol: a coordinator blocked in `write(2)` would send no
/// heartbeats and its workers would give up on it. Writes are queued in order without bound and `drain()`
/// waits until everything queued so far is written. Progress lines are small (≈ 200 bytes per round).
final class OutputQueue: Sendable {
    static let standardOutput = OutputQueue()

    private let queue = DispatchQueue(label: "shardtrain.stdout")

    /// Queues `text` as it is (add the newline yourself).
    func write(_ text: String) { write(Data(text.utf8)) }

    func write(_ data: Data) {
        queue.async { FileHandle.standardOutput.write(data) }
    }

    /// Returns once everything queued before this call has been written.
    func drain() { queue.sync {} }
}
