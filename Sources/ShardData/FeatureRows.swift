import ShardNumerics

/// A dataset's row-major feature values, kept as consecutive chunks of whole rows.
///
/// ```text
/// values     x[r·columns + j], r = 0..<rowCount, j = 0..<columns       (a flat row-major collection)
/// chunk k    rows [k·chunkRows, Swift.min((k+1)·chunkRows, rowCount)), its rows·columns values (`FeatureChunk`)
/// element i  chunk i / (chunkRows·columns), offset i mod (chunkRows·columns)
/// ```
///
/// When `chunkRows` equals the block size, a float64 block is the chunk itself (shared, not copied), so the
/// dataset and its blocks hold the values once. With a `SharedArena` (`arena`), new chunks are pieces of its
/// shared-memory file, so that the blocks made of them are views that worker processes map where they lie. Re-chunking
/// releases each source chunk as soon as its rows are copied, so a change of layout holds one copy of the values plus
/// one chunk. The chunking and the storage are details: equality compares the values only.
public struct FeatureRows: Sendable, RandomAccessCollection {
    public let rowCount: Int
    public let columns: Int
    /// Rows per chunk (every chunk but the last is full).
    public private(set) var chunkRows: Int
    /// The chunks in row order.
    public private(set) var chunks: [FeatureChunk]
    /// Where chunks made from these rows go (re-chunking, selections): shared memory, or arrays when nil.
    public let arena: SharedArena?

    /// One chunk holding `values` (`rowCount · columns` of them).
    public init(values: [Double], columns: Int) {
        let width = Swift.max(1, columns)
        self.columns = columns
        self.rowCount = values.count / width
        self.chunkRows = Swift.max(1, rowCount)
        self.chunks = values.isEmpty ? [] : [.array(values)]
        self.arena = nil
    }

    /// Chunks already cut (`chunks[k]` holds the rows of chunk k, all full but the last).
    init(chunks: [FeatureChunk], rowCount: Int, columns: Int, chunkRows: Int, arena: SharedArena?) {
        self.chunks = chunks
        self.rowCount = rowCount
        self.columns = columns
        self.chunkRows = Swift.max(1, chunkRows)
        self.arena = arena
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { rowCount * columns }
    private var chunkValues: Int { chunkRows * columns }

    public subscript(position: Int) -> Double {
        chunks[position / chunkValues][position % chunkValues]
    }

    /// The rows of chunk `k`.
    func rowRange(ofChunk k: Int) -> Range<Int> { k * chunkRows..<Swift.min((k + 1) * chunkRows, rowCount) }

    /// The chunk holding exactly `rows`, if one does.
    func chunk(holdingExactly rows: Range<Int>) -> FeatureChunk? {
        guard rows.count > 0, rows.lowerBound % chunkRows == 0, rowRange(ofChunk: rows.lowerBound / chunkRows) == rows
        else { return nil }
        return chunks[rows.lowerBound / chunkRows]
    }

    /// The values of `rows`, row-major: the chunk's own array when `rows` is exactly one chunk kept in an array,
    /// else a copy.
    public func values(ofRows rows: Range<Int>) -> [Double] {
        if case .array(let values) = chunk(holdingExactly: rows) { return values }
        return [Double](unsafeUninitializedCapacity: rows.count * columns) { buffer, count in
            copyValues(ofRows: rows, to: buffer.baseAddress!)
            count = rows.count * columns
        }
    }

    /// Copies the values of `rows` to `output` (room for `rows.count · columns` values), chunk by chunk.
    func copyValues(ofRows rows: Range<Int>, to output: UnsafeMutablePointer<Double>) {
        Self.copy(rows, of: chunks, chunkRows: chunkRows, columns: columns, to: output)
    }

    /// Copies the values of `rows` (rows of `chunks`, `chunkRows` rows each) to `output`, chunk by chunk;
    /// `finished(k)` is called once chunk k's last row is copied.
    private static func copy(
        _ rows: Range<Int>, of chunks: [FeatureChunk], chunkRows: Int, columns: Int, to output: UnsafeMutablePointer<Double>,
        finished: (Int) -> Void = { _ in }
    ) {
        var row = rows.lowerBound
        var output = output
        while row < rows.upperBound {
            let k = row / chunkRows, first = row - k * chunkRows
            let last = Swift.min(rows.upperBound, (k + 1) * chunkRows) - k * chunkRows
            chunks[k].withValues(at: first * columns..<last * columns) { values in
                if let start = values.baseAddress { output.update(from: start, count: values.count) }
            }
            output += (last - first) * columns
            row = k * chunkRows + last
            if last == chunks[k].count / Swift.max(1, columns) { finished(k) }
        }
    }

    /// `body(values, firstRow)` for each chunk in row order, with write access; a chunk shared with a block
    /// or another dataset is copied first (copy on write), a uniquely held one is rewritten in place.
    mutating func updateChunks(_ body: (UnsafeMutableBufferPointer<Double>, Int) -> Void) {
        for k in chunks.indices {
            let firstRow = k * chunkRows
            chunks[k].withMutableValues { body($0, firstRow) }
        }
    }

    /// Replaces chunk `k` by `chunk`, which must hold the same number of values (the old one is released when
    /// nothing else holds it).
    mutating func replaceChunk(_ k: Int, with chunk: FeatureChunk) {
        precondition(chunks[k].count == chunk.count, "a replacement chunk of another size")
        chunks[k] = chunk
    }

    /// `body(values, firstRow)` for each chunk in row order.
    func forEachChunk<E: Error>(_ body: (UnsafeBufferPointer<Double>, Int) throws(E) -> Void) throws(E) {
        for k in chunks.indices {
            try chunks[k].withValues { (values) throws(E) in try body(values, k * chunkRows) }
        }
    }

    /// Re-cuts the values into chunks of `rows` rows (in `arena` when there is one). Each source chunk is released
    /// once its last row is copied, so when no block or other dataset shares the chunks, the copy holds the values
    /// plus one chunk at most.
    public mutating func rechunk(rows: Int) {
        let rows = Swift.max(1, rows)
        guard rows != chunkRows else { return }
        var source = chunks
        chunks = []
        let sourceRows = chunkRows
        var output: [FeatureChunk] = []
        output.reserveCapacity((rowCount + rows - 1) / rows)
        var row = 0
        while row < rowCount {
            let end = Swift.min(row + rows, rowCount)
            output.append(
                FeatureChunk.filled(rows: end - row, columns: columns, in: arena) { destination in
                    Self.copy(row..<end, of: source, chunkRows: sourceRows, columns: columns, to: destination) {
                        source[$0] = .array([])
                    }
                })
            row = end
        }
        chunks = output
        chunkRows = rows
    }
}

/// One chunk's values: an array, or a piece of a `SharedArena` with room for the chunk's labels right after its
/// values, so that a float64 block of exactly the chunk's rows is the piece itself, laid out as a block view
/// (`Block(id:rows:columns:precision:in:at:)`: features, then labels), or the features of a float32 block of exactly
/// the chunk's rows, read widened to Double (a float32 run's dataset keeps its values once, in its blocks).
public enum FeatureChunk: Sendable, Equatable {
    case array([Double])
    case shared(SharedChunk)
    case float32Block(Block)

    public var count: Int {
        switch self {
        case .array(let values): values.count
        case .shared(let chunk): chunk.count
        case .float32Block(let block): block.rows * block.columns
        }
    }

    subscript(position: Int) -> Double {
        switch self {
        case .array(let values): values[position]
        case .shared(let chunk): chunk.values[position]
        case .float32Block(let block):
            // One value, without the copy `widened` makes.
            block.withValues { values in
                switch values {
                case .float32(let features, _): Double(features[position])
                case .float64(let features, _): features[position]
                }
            }
        }
    }

    /// The block's features at `positions` as Doubles (exact), a copy.
    private static func widened(_ block: Block, at positions: Range<Int>) -> [Double] {
        block.withValues { values in
            switch values {
            case .float32(let features, _): features[positions].map(Double.init)
            case .float64(let features, _): Array(features[positions])
            }
        }
    }

    /// Calls `body` with the values in place (a float32 block's: widened into a temporary array).
    public func withValues<R, E: Error>(_ body: (UnsafeBufferPointer<Double>) throws(E) -> R) throws(E) -> R {
        switch self {
        case .array(let values): return try values.withUnsafeBufferPointer { (values) throws(E) -> R in try body(values) }
        case .shared(let chunk): return try withExtendedLifetime(chunk) { () throws(E) -> R in try body(chunk.values) }
        case .float32Block: return try withValues(at: 0..<count, body)
        }
    }

    /// Calls `body` with the values at `positions` (of this chunk): in place, or a float32 block's widened into a
    /// temporary array of those positions only (a row at a time costs a row, not the block).
    func withValues<R, E: Error>(
        at positions: Range<Int>, _ body: (UnsafeBufferPointer<Double>) throws(E) -> R
    ) throws(E) -> R {
        guard case .float32Block(let block) = self else {
            return try withValues { (values) throws(E) -> R in try body(UnsafeBufferPointer(rebasing: values[positions])) }
        }
        return try Self.widened(block, at: positions).withUnsafeBufferPointer { (values) throws(E) -> R in try body(values) }
    }

    /// Calls `body` with write access: in place for an array held once or a piece held once in an arena not sealed
    /// yet, else on a copy that replaces the chunk (an array; a float32 block's values widened).
    mutating func withMutableValues(_ body: (UnsafeMutableBufferPointer<Double>) -> Void) {
        switch self {
        case .float32Block(let block):
            var values = Self.widened(block, at: 0..<count)
            values.withUnsafeMutableBufferPointer { body($0) }
            self = .array(values)
        case .array(var values):
            self = .array([])
            values.withUnsafeMutableBufferPointer { body($0) }
            self = .array(values)
        case .shared(var chunk):
            self = .array([])
            if isKnownUniquelyReferenced(&chunk), chunk.arena.isWritable {
                body(chunk.mutableValues)
                self = .shared(chunk)
            } else {
                var copy = Array(chunk.values)
                copy.withUnsafeMutableBufferPointer { body($0) }
                self = .array(copy)
            }
        }
    }

    /// A chunk of `rows · columns` values written by `fill` (which must initialise all of them), stored as `stored`
    /// stores them.
    static func filled(
        rows: Int, columns: Int, in arena: SharedArena?, _ fill: (UnsafeMutablePointer<Double>) -> Void
    ) -> FeatureChunk {
        let count = rows * columns
        let values = [Double](unsafeUninitializedCapacity: count) { buffer, initialized in
            if count > 0 { fill(buffer.baseAddress!) }
            initialized = count
        }
        return stored(values, rows: rows, in: arena)
    }

    /// `values` (whole rows, `rows` of them) as a chunk: copied into a piece of `arena` with room for `rows` labels,
    /// or kept as they are without an arena, or when the arena has no room or the copy fails (the values are the same
    /// either way; only worker processes then receive a copy instead of mapping them).
    static func stored(_ values: [Double], rows: Int, in arena: SharedArena?) -> FeatureChunk {
        guard let arena, !values.isEmpty, let piece = SharedChunk(arena: arena, values: values.count, labels: rows) else {
            return .array(values)
        }
        return piece.store(values) ? .shared(piece) : .array(values)
    }

    public static func == (lhs: FeatureChunk, rhs: FeatureChunk) -> Bool {
        if case .array(let left) = lhs, case .array(let right) = rhs { return left == right }
        return lhs.withValues { left in rhs.withValues { right in left.elementsEqual(right) } }
    }
}

/// A piece of a `SharedArena` holding a chunk's values, with room for its labels after them; the piece's pages go
/// back to the arena when the last reference is gone (before the arena is sealed).
public final class SharedChunk: Sendable {
    public let arena: SharedArena
    /// Byte offset of the values in the arena's file.
    public let offset: Int
    /// Number of values.
    public let count: Int
    /// Room for labels after the values, in values.
    public let labelCapacity: Int

    /// A piece for `values` values and `labels` labels, or nil when the arena has no room left (or is sealed).
    init?(arena: SharedArena, values: Int, labels: Int) {
        guard let offset = arena.allocate(byteCount: (values + labels) * MemoryLayout<Double>.stride) else { return nil }
        self.arena = arena
        self.offset = offset
        self.count = values
        self.labelCapacity = labels
    }

    deinit { arena.release(offset: offset, byteCount: (count + labelCapacity) * MemoryLayout<Double>.stride) }

    /// Writes `values` (`count` of them) into the piece (`pwrite`: faster than first-touching the shared pages through
    /// the mapping); false when the kernel refuses (no memory left for the file).
    func store(_ values: [Double]) -> Bool {
        guard values.count == count else { return false }
        return values.withUnsafeBytes { (try? arena.write($0, at: offset)) != nil }
    }

    var values: UnsafeBufferPointer<Double> {
        arena.bytes(at: offset, count: count * 8).assumingMemoryBound(to: Double.self)
    }

    var mutableValues: UnsafeMutableBufferPointer<Double> {
        arena.mutableBytes(at: offset, count: count * 8).assumingMemoryBound(to: Double.self)
    }
}

extension FeatureRows: Equatable {
    /// Equal values in the same shape, whatever the chunking.
    public static func == (lhs: FeatureRows, rhs: FeatureRows) -> Bool {
        lhs.rowCount == rhs.rowCount && lhs.columns == rhs.columns
            && (lhs.chunkRows == rhs.chunkRows ? lhs.chunks == rhs.chunks : lhs.elementsEqual(rhs))
    }
}

/// Builds `FeatureRows` from rows appended in order, `chunkRows` rows per chunk; each full chunk goes into `arena`
/// when there is one (see `FeatureChunk.stored`).
struct FeatureRowsBuilder {
    let columns: Int
    let chunkRows: Int
    let arena: SharedArena?
    private var chunks: [FeatureChunk] = []
    private var current: [Double] = []
    private(set) var rowCount = 0

    init(columns: Int, chunkRows: Int, arena: SharedArena? = nil) {
        self.columns = columns
        self.chunkRows = Swift.max(1, chunkRows)
        self.arena = arena
    }

    /// Appends whole rows (`values.count` a multiple of `columns`).
    mutating func append(_ values: UnsafeBufferPointer<Double>) {
        let rows = values.count / columns
        var row = 0
        while row < rows {
            if current.capacity == 0 { current.reserveCapacity(chunkRows * columns) }
            let take = Swift.min(rows - row, chunkRows - current.count / columns)
            current += UnsafeBufferPointer(rebasing: values[row * columns..<(row + take) * columns])
            row += take
            if current.count == chunkRows * columns {
                chunks.append(.stored(current, rows: chunkRows, in: arena))
                current = []
            }
        }
        rowCount += rows
    }

    /// Appends the rows of `parts` (each whole rows), in order: the first rows complete the open chunk, and the
    /// chunks after it are filled on `threads` threads (copying and first-touching the values is most of the work).
    /// The result does not depend on `threads`; the arena's pieces are handed out in row order.
    mutating func append(_ parts: [[Double]], threads: Int) {
        let columns = self.columns, chunkRows = self.chunkRows
        var partStarts = [0]
        for part in parts { partStarts.append(partStarts[partStarts.count - 1] + part.count / columns) }
        let starts = partStarts
        let total = starts[starts.count - 1]
        /// `body` on each part's stretch of the wave's rows `rows`, in order.
        @Sendable func forEachStretch(_ rows: Range<Int>, _ body: (UnsafeBufferPointer<Double>) -> Void) {
            var part = starts.lastIndex { $0 <= rows.lowerBound }!
            var row = rows.lowerBound
            while row < rows.upperBound {
                while starts[part + 1] <= row { part += 1 }
                let end = Swift.min(rows.upperBound, starts[part + 1])
                let first = (row - starts[part]) * columns, last = (end - starts[part]) * columns
                parts[part].withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[first..<last])) }
                row = end
            }
        }
        let open = current.isEmpty ? 0 : Swift.min(total, chunkRows - current.count / columns)
        forEachStretch(0..<open) { current += $0 }
        if current.count == chunkRows * columns {
            chunks.append(.stored(current, rows: chunkRows, in: arena))
            current = []
        }
        let newChunks = (total - open + chunkRows - 1) / chunkRows
        let fullChunks = (total - open) / chunkRows
        let pieces = arena.map { arena in
            (0..<fullChunks).map { _ in SharedChunk(arena: arena, values: chunkRows * columns, labels: chunkRows) }
        }
        let filled = ParallelBlocks.map(count: newChunks, threads: Swift.max(1, threads)) { index -> FeatureChunk in
            let rows = open + index * chunkRows..<Swift.min(open + (index + 1) * chunkRows, total)
            let values = [Double](unsafeUninitializedCapacity: chunkRows * columns) { buffer, count in
                var output = buffer.baseAddress!
                forEachStretch(rows) { stretch in
                    output.initialize(from: stretch.baseAddress!, count: stretch.count)
                    output += stretch.count
                }
                count = rows.count * columns
            }
            if index < fullChunks, let piece = pieces?[index], piece.store(values) { return .shared(piece) }
            return .array(values)
        }
        for chunk in filled {
            if chunk.count == chunkRows * columns {
                chunks.append(chunk)
            } else if case .array(let values) = chunk {
                current = values
            }
        }
        rowCount += total
    }

    consuming func finish() -> FeatureRows {
        if !current.isEmpty { chunks.append(.stored(current, rows: current.count / columns, in: arena)) }
        return FeatureRows(chunks: chunks, rowCount: rowCount, columns: columns, chunkRows: chunkRows, arena: arena)
    }
}
