/// `count` result vectors of `width` doubles each, in one 64-byte-aligned allocation.
///
///     stride        = width rounded up to a multiple of 8 doubles (64 bytes, one cache line)
///     slot(i)       = memory[i·stride ..< i·stride + width]
///
/// Every slot starts on its own cache line, so workers writing different slots never share a line.
/// The memory is zeroed at creation and freed when the buffer is released. Writes to one slot from
/// one thread at a time, with distinct slots on distinct threads, are safe; this is what makes the
/// class `Sendable`.
public final class BlockSumsBuffer: @unchecked Sendable {
    /// Bytes of alignment of every slot.
    public static let alignment = 64

    public let count: Int
    public let width: Int
    /// Doubles between the starts of consecutive slots.
    public let stride: Int
    private let base: UnsafeMutableRawPointer

    public init(count: Int, width: Int) throws(BlockSumsBufferError) {
        guard count >= 0, width >= 0 else { throw .negativeShape(count: count, width: width) }
        let doublesPerLine = Self.alignment / MemoryLayout<Double>.stride
        let (paddedWidth, widthOverflow) = width.addingReportingOverflow(doublesPerLine - 1)
        let stride = paddedWidth / doublesPerLine * doublesPerLine
        let (total, totalOverflow) = stride.multipliedReportingOverflow(by: max(count, 1))
        let (bytes, bytesOverflow) = max(total, doublesPerLine).multipliedReportingOverflow(
            by: MemoryLayout<Double>.stride)
        guard !widthOverflow, !totalOverflow, !bytesOverflow else {
            throw .tooLarge(count: count, width: width)
        }
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: Self.alignment)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        self.base = raw
        self.count = count
        self.width = width
        self.stride = stride
    }

    deinit {
        base.deallocate()
    }

    /// The `width` doubles of item `index`. Valid while the buffer is alive: keep the buffer
    /// referenced (e.g. `withExtendedLifetime`) for as long as the pointer is used.
    public func slot(_ index: Int) throws(BlockSumsBufferError) -> UnsafeMutableBufferPointer<Double> {
        guard index >= 0, index < count else { throw .indexOutOfRange(index: index, count: count) }
        return unsafeSlot(index)
    }

    /// A copy of item `index`'s values.
    public func values(of index: Int) throws(BlockSumsBufferError) -> [Double] {
        let slot = try slot(index)
        return withExtendedLifetime(self) { Array(slot) }
    }

    /// Runs `body` on the slot of every item with `ParallelBlocks.run`; each item's slot is written
    /// by its own call of `body` only, so the contents do not depend on `threads`.
    public func fill(
        threads: Int, _ body: @Sendable (_ index: Int, _ slot: UnsafeMutableBufferPointer<Double>) -> Void
    ) throws(ParallelBlocksError) {
        try withExtendedLifetime(self) { () throws(ParallelBlocksError) in
            try ParallelBlocks.run(count: count, threads: threads) { index in
                body(index, self.unsafeSlot(index))
            }
        }
    }

    private func unsafeSlot(_ index: Int) -> UnsafeMutableBufferPointer<Double> {
        // Bound to Double at every hand-out: the slot may have held a float32 network's Floats
        // (`FloatGradientSums` binds its gradient bytes to Float).
        let start = (base + index * stride * MemoryLayout<Double>.stride).bindMemory(to: Double.self, capacity: width)
        return UnsafeMutableBufferPointer(start: start, count: width)
    }
}

/// A buffer shape that is negative or does not fit in memory, or a slot index outside the buffer.
public enum BlockSumsBufferError: Error, Sendable, Equatable, CustomStringConvertible {
    case negativeShape(count: Int, width: Int)
    case tooLarge(count: Int, width: Int)
    case indexOutOfRange(index: Int, count: Int)

    public var description: String {
        switch self {
        case .negativeShape(let count, let width):
            "block sums buffer: count (\(count)) and width (\(width)) must not be negative"
        case .tooLarge(let count, let width):
            "block sums buffer: \(count) slots of \(width) doubles overflow the address space"
        case .indexOutOfRange(let index, let count):
            "block sums buffer: slot \(index) outside 0..<\(count)"
        }
    }
}
