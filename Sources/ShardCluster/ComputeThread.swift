import Foundation
import ShardEngine
import ShardModels
import Synchronization
import ZeroMQ

/// Runs a worker's block computations on a thread of their own, so that the socket thread keeps
/// answering heartbeats during a long round.
///
/// The two threads talk over an inproc PAIR socket pair (each socket used by one thread only): the socket
/// thread sends "go" and polls its end together with the DEALER; the compute thread answers "done".
/// Parameters and results cross through a mutex-protected mailbox.
final class ComputeThread {
    enum Outcome: Sendable {
        case sums([NodeSums], seconds: Double)
        case failed(String)
    }

    private struct Letters: Sendable {
        var parameters: [Double]?
        var context = RoundContext(seed: 0, round: 0)
        var batchStep: Int?
        var outcome: Outcome?
        var stop = false
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

    /// Builds the computer for `shard` on the new thread and waits there for work.
    init(context: Context, shard: Shard, threads: Int) throws(ZMQError) {
        let endpoint = "inproc://shardtrain-compute-\(UUID().uuidString)"
        signal = try context.socket(.pair)
        _ = try signal.bind(endpoint)
        let mailbox = Mailbox()
        self.mailbox = mailbox
        let finished = self.finished
        let thread = Thread {
            defer { finished.signal() }
            guard let socket = try? context.socket(.pair), (try? socket.connect(endpoint)) != nil else { return }
            let computer: Result<BlockComputer?, ClusterError> = Result { () throws(ClusterError) in
                try shard.makeComputer(threads: threads)
            }
            // A PAIR socket queues nothing until its peer is connected: say we are there.
            guard (try? socket.send([[2]])) != nil else { return }
            while true {
                guard (try? socket.receive(.indefinitely)) != nil else { return }
                let (parameters, context, batchStep, stop) = mailbox.withLock { box in
                    let taken = box.parameters
                    box.parameters = nil
                    return (taken, box.context, box.batchStep, box.stop)
                }
                if stop { return }
                guard let parameters else { continue }
                let start = ContinuousClock.now
                let outcome: Outcome
                switch computer {
                case .failure(let error):
                    outcome = .failed("\(error)")
                case .success(nil):
                    outcome = .sums([], seconds: 0)
                case .success(let computer?):
                    do {
                        outcome = .sums(
                            try computer.compute(
                                parameters: parameters, context: context,
                                isActive: Self.activeBlocks(shard.spec.schedule, context, batchStep)),
                            seconds: (ContinuousClock.now - start).seconds)
                    } catch {
                        outcome = .failed("\(error)")
                    }
                }
                mailbox.withLock { $0.outcome = outcome }
                guard (try? socket.send([[1]])) != nil else { return }
            }
        }
        thread.name = "shardtrain-compute"
        thread.start()
        guard try signal.receive(.milliseconds(30_000)) != nil else {
            throw .failed(operation: "waiting for the compute thread to connect", code: ETIMEDOUT)
        }
    }

    deinit { stop() }

    /// The membership test of a round's blocks (every block when `batchStep` is nil). A step the job has
    /// no schedule for selects nothing, and the coordinator then reports the missing sums.
    private static func activeBlocks(_ schedule: BatchSchedule?, _ context: RoundContext, _ batchStep: Int?)
        -> (Int) -> Bool
    {
        let request = RoundRequest(round: context.round, smoothing: context.smoothing, batchStep: batchStep)
        let mask: [Bool]?
        do {
            mask = try activeMask(schedule, request)
        } catch {
            return { _ in false }
        }
        return { mask?[$0] ?? true }
    }

    /// Hands the parameters of a round to the compute thread.
    func start(_ parameters: [Double], context: RoundContext, batchStep: Int?) throws(ZMQError) {
        mailbox.withLock {
            $0.parameters = parameters
            $0.context = context
            $0.batchStep = batchStep
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

    /// Ends the compute thread (after the computation in progress, if any) and waits for it.
    func stop() {
        guard !stopped else { return }
        stopped = true
        mailbox.withLock { $0.stop = true }
        // dontWait: if the compute thread is already gone there is no peer to queue for.
        if (try? signal.send([[0]], dontWait: true)) != nil {
            _ = finished.wait(timeout: .now() + 10)
        }
    }
}
