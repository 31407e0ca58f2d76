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

extension ParallelBlocks {
    /// `[body(0), body(1), …, body(count − 1)]`, the calls spread over `threads` threads as in `run` (0 = every
    /// available core). Each call's result lands in its own slot, so the array does not depend on `threads`;
    /// when calls throw, the error of the lowest failing index is thrown.
    public static func map<T: Sendable, E: Error>(
        count: Int, threads: Int, _ body: @Sendable (_ index: Int) throws(E) -> T
    ) throws(E) -> [T] {
        let slots = ResultSlots<T, E>(count: max(0, count))
        do {
            try run(count: max(0, count), threads: ThreadCount.resolve(threads)) { index in
                slots.store(Result { () throws(E) -> T in try body(index) }, at: index)
            }
        } catch {
            preconditionFailure("ParallelBlocks.map: \(error)")  // count ≥ 0 and threads ≥ 1 by construction
        }
        return try slots.collect()
    }
}

/// One result slot per index; slot i is written by the call for index i only, then read after all calls end.
private final class ResultSlots<T: Sendable, E: Error>: @unchecked Sendable {
    private let storage: UnsafeMutableBufferPointer<Result<T, E>?>

    init(count: Int) {
        storage = .allocate(capacity: count)
        storage.initialize(repeating: nil)
    }

    deinit {
        storage.deinitialize()
        storage.deallocate()
    }

    func store(_ result: Result<T, E>, at index: Int) { storage[index] = result }

    func collect() throws(E) -> [T] {
        var values: [T] = []
        values.reserveCapacity(storage.count)
        for slot in storage {
            guard let slot else { preconditionFailure("ParallelBlocks.map: a slot was not filled") }
            values.append(try slot.get())
        }
        return values
    }
}
