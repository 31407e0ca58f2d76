import ShardNumerics

/// A dataset's row-major feature values, kept as consecutive chunks of whole rows.
///
/// ```text
/// values     x[r·columns + j], r = 0..<rowCount, j = 0..<columns       (a flat row-major collection)
/// chunk k    rows [k·chunkRows, Swift.min((k+1)·chunkRows, rowCount)), one [Double] of its rows·columns values
/// element i  chunk i / (chunkRows·columns), offset i mod (chunkRows·columns)
/// ```
///
/// When `chunkRows` equals the block size, a float64 block is the chunk's array itself (shared, not copied), so the
/// dataset and its blocks hold the values once. Re-chunking releases each source chunk as soon as its rows are
/// copied, so a change of layout holds one copy of the values plus one chunk. The chunking is a storage detail:
/// equality compares the values only.
public struct FeatureRows: Sendable, RandomAccessCollection {
    public let rowCount: Int
    public let columns: Int
    /// Rows per chunk (every chunk but the last is full).
    public private(set) var chunkRows: Int
    /// The chunks in row order.
    public private(set) var chunks: [[Double]]

    /// One chunk holding `values` (`rowCount · columns` of them).
    public init(values: [Double], columns: Int) {
        let width = Swift.max(1, columns)
        self.columns = columns
        self.rowCount = values.count / width
        self.chunkRows = Swift.max(1, rowCount)
        self.chunks = values.isEmpty ? [] : [values]
    }

    /// Chunks already cut (`chunks[k]` holds the rows of chunk k, all full but the last).
    init(chunks: [[Double]], rowCount: Int, columns: Int, chunkRows: Int) {
        self.chunks = chunks
        self.rowCount = rowCount
        self.columns = columns
        self.chunkRows = Swift.max(1, chunkRows)
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { rowCount * columns }
    private var chunkValues: Int { chunkRows * columns }

    public subscript(position: Int) -> Double {
        chunks[position / chunkValues][position % chunkValues]
    }

    /// The rows of chunk `k`.
    func rowRange(ofChunk k: Int) -> Range<Int> { k * chunkRows..<Swift.min((k + 1) * chunkRows, rowCount) }

    /// The values of `rows`, row-major: the chunk itself when `rows` is exactly one chunk, else a copy.
    public func values(ofRows rows: Range<Int>) -> [Double] {
        if rows.count > 0, rows.lowerBound % chunkRows == 0, rowRange(ofChunk: rows.lowerBound / chunkRows) == rows {
            return chunks[rows.lowerBound / chunkRows]
        }
        var result: [Double] = []
        result.reserveCapacity(rows.count * columns)
        appendValues(ofRows: rows, to: &result)
        return result
    }

    /// Appends the values of `rows` to `output`, chunk by chunk.
    func appendValues(ofRows rows: Range<Int>, to output: inout [Double]) {
        var row = rows.lowerBound
        while row < rows.upperBound {
            let k = row / chunkRows, first = row - k * chunkRows
            let last = Swift.min(rows.upperBound, (k + 1) * chunkRows) - k * chunkRows
            output += chunks[k][first * columns..<last * columns]
            row = k * chunkRows + last
        }
    }

    /// `body(values, firstRow)` for each chunk in row order, with write access; a chunk shared with a block
    /// or another dataset is copied first (copy on write), a uniquely held one is rewritten in place.
    mutating func updateChunks(_ body: (UnsafeMutableBufferPointer<Double>, Int) -> Void) {
        for k in chunks.indices {
            let firstRow = k * chunkRows
            chunks[k].withUnsafeMutableBufferPointer { body($0, firstRow) }
        }
    }

    /// `body(values, firstRow)` for each chunk in row order.
    func forEachChunk<E: Error>(_ body: (UnsafeBufferPointer<Double>, Int) throws(E) -> Void) throws(E) {
        for k in chunks.indices {
            try chunks[k].withUnsafeBufferPointer { (values) throws(E) in try body(values, k * chunkRows) }
        }
    }

    /// Re-cuts the values into chunks of `rows` rows. Each source chunk is released once its last row is copied,
    /// so when no block or other dataset shares the chunks, the copy holds the values plus one chunk at most.
    public mutating func rechunk(rows: Int) {
        let rows = Swift.max(1, rows)
        guard rows != chunkRows else { return }
        var source = chunks
        chunks = []
        let sourceRows = chunkRows
        var output: [[Double]] = []
        output.reserveCapacity((rowCount + rows - 1) / rows)
        var row = 0
        while row < rowCount {
            let end = Swift.min(row + rows, rowCount)
            var chunk: [Double] = []
            chunk.reserveCapacity((end - row) * columns)
            var next = row
            while next < end {
                let k = next / sourceRows, first = next - k * sourceRows
                let last = Swift.min(end, (k + 1) * sourceRows) - k * sourceRows
                chunk += source[k][first * columns..<last * columns]
                next = k * sourceRows + last
                if next == Swift.min((k + 1) * sourceRows, rowCount) { source[k] = [] }
            }
            output.append(chunk)
            row = end
        }
        chunks = output
        chunkRows = rows
    }
}

extension FeatureRows: Equatable {
    /// Equal values in the same shape, whatever the chunking.
    public static func == (lhs: FeatureRows, rhs: FeatureRows) -> Bool {
        lhs.rowCount == rhs.rowCount && lhs.columns == rhs.columns
            && (lhs.chunkRows == rhs.chunkRows ? lhs.chunks == rhs.chunks : lhs.elementsEqual(rhs))
    }
}

/// Builds `FeatureRows` from rows appended in order, `chunkRows` rows per chunk.
struct FeatureRowsBuilder {
    let columns: Int
    let chunkRows: Int
    private var chunks: [[Double]] = []
    private var current: [Double] = []
    private(set) var rowCount = 0

    init(columns: Int, chunkRows: Int) {
        self.columns = columns
        self.chunkRows = Swift.max(1, chunkRows)
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
                chunks.append(current)
                current = []
            }
        }
        rowCount += rows
    }

    /// Appends the rows of `parts` (each whole rows), in order: the first rows complete the open chunk, and the
    /// chunks after it are filled on `threads` threads (copying and first-touching the values is most of the work).
    /// The result does not depend on `threads`.
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
            chunks.append(current)
            current = []
        }
        let newChunks = (total - open + chunkRows - 1) / chunkRows
        let filled = ParallelBlocks.map(count: newChunks, threads: Swift.max(1, threads)) { index in
            let rows = open + index * chunkRows..<Swift.min(open + (index + 1) * chunkRows, total)
            return [Double](unsafeUninitializedCapacity: chunkRows * columns) { buffer, count in
                var output = buffer.baseAddress!
                forEachStretch(rows) { stretch in
                    output.initialize(from: stretch.baseAddress!, count: stretch.count)
                    output += stretch.count
                }
                count = rows.count * columns
            }
        }
        for chunk in filled {
            if chunk.count == chunkRows * columns { chunks.append(chunk) } else { current = chunk }
        }
        rowCount += total
    }

    consuming func finish() -> FeatureRows {
        if !current.isEmpty { chunks.append(current) }
        return FeatureRows(chunks: chunks, rowCount: rowCount, columns: columns, chunkRows: chunkRows)
    }
}
