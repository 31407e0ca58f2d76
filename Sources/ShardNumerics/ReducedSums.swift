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
        withEntries { $0.value(at: index) }
    }

    /// The sums as an array (the last addition, and any widening from Float, made on up to `threads` threads).
    public func array(threads: Int) -> [Double] {
        switch self {
        case .array(let values): return values
        case .slots(let slots):
            return withEntries { entries in
                if !slots.floatGradients {
                    let left = UnsafeBufferPointer(start: entries.left, count: count)
                    guard let right = entries.right else { return VectorPasses.array(copying: left, threads: threads) }
                    return VectorPasses.array(
                        summing: left, UnsafeBufferPointer(start: right, count: count), threads: threads)
                }
                let (left, right) = (SharedPointer(entries.leftGradient), SharedPointer(entries.rightGradient))
                return [Double](unsafeUninitializedCapacity: count) { buffer, initialized in
                    buffer[0] = entries.value(at: 0)
                    let to = SharedMutablePointer(buffer.baseAddress.map { $0 + 1 })
                    VectorPasses.forEachChunk(count: count - 1, threads: threads) { range in
                        guard let to = to.pointer, let left = left.pointer else { return }
                        if let right = right.pointer {
                            for j in range { to[j] = Double(left[j]) + Double(right[j]) }
                        } else {
                            for j in range { to[j] = Double(left[j]) }
                        }
                    }
                    initialized = count
                }
            }
        }
    }

    /// `body(entries)`, valid inside `body` only.
    public func withEntries<R>(_ body: (SumsEntries) -> R) -> R {
        switch self {
        case .array(let values):
            return values.withUnsafeBufferPointer { values in
                guard let base = values.baseAddress else {
                    // An empty vector: no entry is ever read.
                    return withUnsafePointer(to: 0.0) { body(SumsEntries(left: $0, right: nil)) }
                }
                return body(SumsEntries(left: base, right: nil))
            }
        case .slots(let slots):
            return withExtendedLifetime(slots) {
                guard let left = slots.left.baseAddress else {
                    return withUnsafePointer(to: 0.0) { body(SumsEntries(left: $0, right: nil)) }
                }
                let right = slots.right?.baseAddress.map { UnsafePointer($0) }
                guard slots.floatGradients else { return body(SumsEntries(left: left, right: right)) }
                return body(
                    SumsEntries(
                        left: left, right: right,
                        leftGradient: FloatGradientSums.gradient(inSlotAt: left, count: slots.left.count - 1),
                        rightGradient: right.map { FloatGradientSums.gradient(inSlotAt: $0, count: slots.left.count - 1) }))
            }
        }
    }
}

/// Where reduced sums lie: entry k is `left[k]`, or `left[k] + right[k]` when `right` is not nil. When the
/// gradients are Float (`leftGradient` not nil, see `FloatGradientSums`), entry 0 is read from `left`/`right` and
/// entry 1 + j is `Double(leftGradient[j])` (+ `Double(rightGradient[j])`).
public struct SumsEntries {
    public let left: UnsafePointer<Double>
    public let right: UnsafePointer<Double>?
    public let leftGradient: UnsafePointer<Float>?
    public let rightGradient: UnsafePointer<Float>?

    init(
        left: UnsafePointer<Double>, right: UnsafePointer<Double>?, leftGradient: UnsafePointer<Float>? = nil,
        rightGradient: UnsafePointer<Float>? = nil
    ) {
        self.left = left
        self.right = right
        self.leftGradient = leftGradient
        self.rightGradient = rightGradient
    }

    /// Entry `index` (widening is exact, so the bits are those of a slot of Doubles).
    public func value(at index: Int) -> Double {
        guard index > 0, let leftGradient else { return right.map { left[index] + $0[index] } ?? left[index] }
        let a = Double(leftGradient[index - 1])
        return rightGradient.map { a + Double($0[index - 1]) } ?? a
    }
}

/// Slots of a `BlockSumsBuffer` that hold reduced sums (`right` nil: `left` alone), as Doubles or with Float
/// gradients (`floatGradients`, both slots). The buffer stays alive, and unchanged, while this object is referenced:
/// its owner makes a new buffer rather than overwrite one that is still referenced here (`BlockComputer`), so the
/// values never change once handed out.
public final class SlotSums: @unchecked Sendable {
    public let buffer: BlockSumsBuffer
    let left: UnsafeMutableBufferPointer<Double>
    let right: UnsafeMutableBufferPointer<Double>?
    /// Whether both slots hold `FloatGradientSums` rather than Doubles.
    public let floatGradients: Bool

    /// Slot `left`, plus slot `right` when given.
    public init(buffer: BlockSumsBuffer, left: Int, right: Int?, floatGradients: Bool = false)
        throws(BlockSumsBufferError)
    {
        self.buffer = buffer
        self.left = try buffer.slot(left)
        self.right = try right.map { (index) throws(BlockSumsBufferError) in try buffer.slot(index) }
        self.floatGradients = floatGradients
    }
}

/// A block's sums with the gradient kept in Float, as a float32 network computes it, written into a sums slot of
/// `n + 1` Doubles without widening it:
///
/// ```
/// slot[0]                       Σ_i loss_i                 (Double)
/// bytes 8 ..< 8 + 4n of slot    Σ_i ∂loss_i/∂θ_k as Float, k = 0..<n
/// ```
/// Widening every entry to Double (exact) gives the slot a model writes with `blockSums`; readers widen as they
/// read (`SumsEntries`, Adam's pass), sparing a pass that writes twice the bytes.
public struct FloatGradientSums {
    public let loss: UnsafeMutablePointer<Double>
    public let gradient: UnsafeMutableBufferPointer<Float>

    /// The layout inside `slot` (at least one entry); the gradient's bytes are bound to Float (`BlockSumsBuffer`
    /// binds a slot to Double again when it hands it out).
    public init(slot: UnsafeMutableBufferPointer<Double>) {
        precondition(!slot.isEmpty, "FloatGradientSums: a slot needs room for the loss")
        loss = slot.baseAddress!
        gradient = UnsafeMutableBufferPointer(
            start: UnsafeMutableRawPointer(loss + 1).bindMemory(to: Float.self, capacity: slot.count - 1),
            count: slot.count - 1)
    }

    /// The `count` gradient entries of the slot whose loss is at `slot`, bound to Float for reading.
    static func gradient(inSlotAt slot: UnsafePointer<Double>, count: Int) -> UnsafePointer<Float> {
        UnsafeRawPointer(slot + 1).bindMemory(to: Float.self, capacity: count)
    }
}
