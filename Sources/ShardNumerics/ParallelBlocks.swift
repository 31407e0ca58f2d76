import Dispatch
import Synchronization

/// Runs `count` independent items on a fixed number of threads.
///
///     threads == 1:  body(0), body(1), ..., body(count - 1) on the calling thread
///     threads == T:  min(T, count) workers (DispatchQueue.concurrentPerform); each worker takes the
///                    next unclaimed index from a shared atomic counter until all are taken
///
/// Every index is passed to `body` exactly once; `run` returns after all calls have finished. Which
/// worker runs an index, and in what order, is not specified: results are independent of the thread
/// count only if `body(i)` writes nothing but item i's own output (see `BlockSumsBuffer.fill`).
public enum ParallelBlocks {
    public static func run(count: Int, threads: Int, _ body: @Sendable (_ index: Int) -> Void)
        throws(ParallelBlocksError)
    {
        guard count >= 0 else { throw .negativeCount(count) }
        guard threads >= 1 else { throw .threadCount(threads) }
        let workers = min(threads, count)
        if workers <= 1 {
            for index in 0..<count { body(index) }
            return
        }
        let next = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while true {
                let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard index < count else { return }
                body(index)
            }
        }
    }
}

/// A negative item count or a thread count below 1.
public enum ParallelBlocksError: Error, Sendable, Equatable, CustomStringConvertible {
    case negativeCount(Int)
    case threadCount(Int)

    public var description: String {
        switch self {
        case .negativeCount(let count): "parallel blocks: item count \(count) is negative"
        case .threadCount(let threads): "parallel blocks: thread count \(threads) must be at least 1"
        }
    }
}
