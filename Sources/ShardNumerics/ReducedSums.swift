/// Reduced block sums `[Σ loss, Σ ∂loss/∂θ_0, …]`: an array, or the reduction tree's value held in a sums buffer —
/// one slot, or the two slots whose sum it is, that last addition left to the pass that reads the sums
/// (`left[k] + right[k]`: the same bits as adding them into an array first).
public enum ReducedSums: Sendable {
    case array([Double])
    case slots(SlotSums)

    /// Entries (the loss sum and one per parameter).
    public var count: Int {
        switch self {
        case .array(let values): values.count
        case .slots(let slots): slots.left.count
        }
    }

    /// Entry `index`.
    public func value(at index: Int) -> Double {
        withBuffers { left, right in right.map { left[index] + $0[index] } ?? left[index] }
    }

    /// The sums as an array (the last addition made on up to `threads` threads when it is pending).
    public func array(threads: Int) -> [Double] {
        switch self {
        case .array(let values): return values
        case .slots:
            return withBuffers { left, right in
                guard let right else { return VectorPasses.array(copying: left, threads: threads) }
                return VectorPasses.array(summing: left, right, threads: threads)
            }
        }
    }

    /// `body(left, right)`: the sums are `left[k]`, or `left[k] + right[k]` when `right` is not nil (valid inside
    /// `body` only).
    public func withBuffers<R>(_ body: (UnsafeBufferPointer<Double>, UnsafeBufferPointer<Double>?) -> R) -> R {
        switch self {
        case .array(let values):
            return values.withUnsafeBufferPointer { body($0, nil) }
        case .slots(let slots):
            return withExtendedLifetime(slots) {
                body(UnsafeBufferPointer(slots.left), slots.right.map { UnsafeBufferPointer($0) })
            }
        }
    }
}

/// Slots of a `BlockSumsBuffer` that hold reduced sums (`right` nil: `left` alone). The buffer stays alive, and
/// unchanged, while this object is referenced: its owner makes a new buffer rather than overwrite one that is still
/// referenced here (`BlockComputer`), so the values never change once handed out.
public final class SlotSums: @unchecked Sendable {
    public let buffer: BlockSumsBuffer
    let left: UnsafeMutableBufferPointer<Double>
    let right: UnsafeMutableBufferPointer<Double>?

    /// Slot `left`, plus slot `right` when given.
    public init(buffer: BlockSumsBuffer, left: Int, right: Int?) throws(BlockSumsBufferError) {
        self.buffer = buffer
        self.left = try buffer.slot(left)
        self.right = try right.map { (index) throws(BlockSumsBufferError) in try buffer.slot(index) }
    }
}
