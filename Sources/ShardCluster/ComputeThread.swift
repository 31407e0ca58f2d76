import Foundation
import ShardEngine
import ShardModels
import ShardNumerics
import ShardProtocol
import Synchronization
import ZeroMQ

/// Runs a worker's block computations on a thread of their own, so that the socket thread keeps
/// answering heartbeats during a long round.
///
/// The two threads talk over an inproc PAIR socket pair (each socket used by one thread only): the socket
/// thread sends "go" and polls its end together with the DEALER; the compute thread answers "done".
/// Parameters, results and a setup failure cross through a mutex-protected mailbox. The compute thread
/// never blocks on a send: if the socket thread's end is gone there is nobody to tell, and it exits.
final class ComputeThread {
    private struct Letters: Sendable {
        var request: ComputeRequest?
        var outcome: (outcome: ComputeOutcome, round: UInt64)?
        var stop = false
        /// Why the compute thread could not set up its end of the pair (it has exited).
        var setupError: ZMQError?
    }

    /// Shared between the two threads; every access holds the lock.
    private final class Mailbox: Sendable {
        let letters = Mutex(Letters())

        func withLock<T: Sendable>(_ body: (inout sending Letters) -> sending T) -> T {
            letters.withLock(body)
        }
    }

    /// The socket thread's end; poll it to learn that a result is ready.
    let signal: Socket
    private let mailbox: Mailbox
    private let finished = DispatchSemaphore(value: 0)
    private var stopped = false

    /// How often an idle compute thread looks at the `stop` letter even without a "go".
    private static let idleCheckMilliseconds = 100

    /// Starts the thread, returning once its end of the pair is connected (or throwing the error that
    /// prevented it). The model of `spec` is built on the new thread afterwards, so the socket thread keeps
    /// heartbeating meanwhile; the first computation waits for it.
    init(context: Context, spec: JobSpec, threads: Int) throws(ZMQError) {
        let endpoint = "inproc://shardtrain-compute-\(UUID().uuidString)"
        signal = try context.socket(.pair)
        _ = try signal.bind(endpoint)
        let mailbox = Mailbox()
        self.mailbox = mailbox
        let finished = self.finished
        let connected = DispatchSemaphore(value: 0)
        let thread = Thread {
            defer { finished.signal() }
            let socket: Socket
            do throws(ZMQError) {
                socket = try context.socket(.pair)
                try socket.connect(endpoint)
                // A PAIR socket queues nothing until its peer is connected: say we are there.
                try socket.send([[2]], dontWait: true)
            } catch {
                mailbox.withLock { $0.setupError = error }
                connected.signal()
                return
            }
            connected.signal()
            let computer = RangeComputer(spec: spec, threads: threads)
            while true {
                let go: [[UInt8]]?
                do {
                    go = try socket.receive(.milliseconds(Self.idleCheckMilliseconds))
                } catch {
                    return
                }
                let (request, stop) = mailbox.withLock { box in
                    let taken = box.request
                    box.request = nil
                    return (taken, box.stop)
                }
                if stop { return }
                guard go != nil, let request else { continue }
                let outcome = computer.compute(request)
                mailbox.withLock { $0.outcome = (outcome, request.round) }
                guard (try? socket.send([[1]], dontWait: true)) != nil else { return }
            }
        }
        thread.name = "shardtrain-compute"
        thread.start()
        connected.wait()
        if let error = mailbox.withLock({ $0.setupError }) { throw error }
        // The compute thread queued its hello before signalling, so it is there to be read.
        guard try signal.receive(.milliseconds(5_000)) != nil else {
            throw .failed(operation: "waiting for the compute thread's hello", code: ETIMEDOUT)
        }
    }

    deinit { stop() }

    /// Hands a computation to the compute thread (one at a time: the worker instance queues the others).
    func start(_ request: ComputeRequest) throws(ZMQError) {
        mailbox.withLock { $0.request = request }
        try signal.send([[0]], dontWait: true)
    }

    /// The result and its round, after `signal` became readable.
    func takeOutcome() throws(ZMQError) -> (outcome: ComputeOutcome, round: UInt64)? {
        guard try signal.receive(.none) != nil else { return nil }
        return mailbox.withLock { box in
            let outcome = box.outcome
            box.outcome = nil
            return outcome
        }
    }

    /// Ends the compute thread and waits for it, without a time limit: a computation in progress runs to
    /// its end first (closing `signal` under it would leave nothing to receive its answer). An idle thread
    /// notices within `idleCheckMilliseconds` even if the wake-up below cannot be sent.
    func stop() {
        guard !stopped else { return }
        stopped = true
        mailbox.withLock { $0.stop = true }
        _ = try? signal.send([[0]], dontWait: true)
        finished.wait()
    }
}
