import Foundation
import ShardEngine
import ShardModels
import ShardNumerics
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
    enum Outcome: Sendable {
        case sums([NodeSums], seconds: Double)
        case failed(String)
    }

    private struct Letters: Sendable {
        var parameters: [Double]?
        var context = RoundContext(seed: 0, round: 0)
        var outcome: Outcome?
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
    /// prevented it). The computer for `shard` is built on the new thread afterwards, so the socket thread
    /// keeps heartbeating meanwhile; the first round waits for it.
    init(context: Context, shard: Shard, threads: Int) throws(ZMQError) {
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
            let computer: Result<BlockComputer?, ClusterError> = Result { () throws(ClusterError) in
                try shard.makeComputer(threads: threads)
            }
            while true {
                let go: [[UInt8]]?
                do {
                    go = try socket.receive(.milliseconds(Self.idleCheckMilliseconds))
                } catch {
                    return
                }
                let (parameters, context, stop) = mailbox.withLock { box in
                    let taken = box.parameters
                    box.parameters = nil
                    return (taken, box.context, box.stop)
                }
                if stop { return }
                guard go != nil, let parameters else { continue }
                let outcome = Self.compute(computer, shard: shard, parameters: parameters, context: context)
                mailbox.withLock { $0.outcome = outcome }
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

    /// One round on the compute thread. A batch step the job has no schedule for is a failure of the
    /// round (never an empty selection, which would look like sums of nothing).
    private static func compute(
        _ computer: Result<BlockComputer?, ClusterError>, shard: Shard, parameters: [Double], context: RoundContext
    ) -> Outcome {
        let start = ContinuousClock.now
        let mask: [Bool]?
        do {
            mask = try activeMask(shard.spec.schedule, context.request)
        } catch {
            return .failed("\(error)")
        }
        switch computer {
        case .failure(let error):
            return .failed("\(error)")
        case .success(nil):
            return .sums([], seconds: 0)
        case .success(let computer?):
            do {
                let sums = try computer.compute(parameters: parameters, context: context, isActive: { mask?[$0] ?? true })
                return .sums(sums, seconds: (ContinuousClock.now - start).seconds)
            } catch {
                return .failed("\(error)")
            }
        }
    }

    /// Hands the parameters of a round to the compute thread.
    func start(_ parameters: [Double], context: RoundContext) throws(ZMQError) {
        mailbox.withLock {
            $0.parameters = parameters
            $0.context = context
        }
        try signal.send([[0]], dontWait: true)
    }

    /// The result, after `signal` became readable.
    func takeOutcome() throws(ZMQError) -> Outcome? {
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
