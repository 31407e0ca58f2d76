import ShardNumerics

/// The split of `rowCount` rows into fixed-size blocks, the unit of work and of reduction.
///
/// ```text
/// blockCount = ⌈rowCount / blockRows⌉
/// block i    = rows [i·blockRows, min((i+1)·blockRows, rowCount))      i = 0..<blockCount
/// ```
///
/// Every block but the last holds exactly `blockRows` rows; the plan depends only on the data and
/// `blockRows`, never on how many workers compute it.
public struct BlockPlan: Sendable, Equatable, Codable {
    public let rowCount: Int
    public let blockRows: Int

    /// Most blocks a plan may have: block ids and counts travel as 32-bit numbers between processes.
    public static let maximumBlockCount = Int(UInt32.max)

    /// Requires `rowCount ≥ 1`, `blockRows ≥ 1` and at most `maximumBlockCount` blocks.
    public init(rowCount: Int, blockRows: Int) throws(DataError) {
        guard blockRows >= 1 else { throw .invalidBlockRows(blockRows: blockRows) }
        guard rowCount >= 1 else { throw .invalidRowCount(rowCount: rowCount) }
        let blockCount = (rowCount - 1) / blockRows + 1
        guard blockCount <= Self.maximumBlockCount else {
            throw .tooLarge(
                source: "block plan",
                detail: "\(rowCount) rows in blocks of \(blockRows) make \(blockCount) blocks, more than "
                    + "\(Self.maximumBlockCount) (block ids are 32-bit numbers between processes)")
        }
        self.rowCount = rowCount
        self.blockRows = blockRows
    }

    private enum CodingKeys: String, CodingKey {
        case rowCount, blockRows
    }

    /// Bytes every process of a job keeps per block of the plan, at least: a mini-batch order entry (`Int`) and a
    /// mask entry (`Bool`).
    public static let bookkeepingBytesPerBlock = 9

    /// Decodes and checks like `init(rowCount:blockRows:)`; a plan arrives from another process, so its
    /// `blockCount · bookkeepingBytesPerBlock` bytes are also checked against this machine's memory (`.tooLarge`).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(
            rowCount: container.decode(Int.self, forKey: .rowCount),
            blockRows: container.decode(Int.self, forKey: .blockRows))
        try checkBookkeeping(memory: .current())
    }

    /// Throws `.tooLarge` when the plan's per-block bookkeeping exceeds `memory`.
    public func checkBookkeeping(memory: MachineMemory) throws(DataError) {
        let bytes = CheckedSize.product([blockCount, Self.bookkeepingBytesPerBlock])
        if let shortfall = memory.shortfall(needing: bytes) {
            throw .tooLarge(
                source: "block plan",
                detail: "\(blockCount) blocks of \(blockRows) rows: their bookkeeping (\(Self.bookkeepingBytesPerBlock) "
                    + "bytes per block) \(shortfall)")
        }
    }

    public var blockCount: Int { (rowCount - 1) / blockRows + 1 }

    /// The rows of block `id`.
    public func rows(ofBlock id: Int) throws(DataError) -> Range<Int> {
        guard id >= 0, id < blockCount else { throw .blockOutOfRange(id: id, blockCount: blockCount) }
        return id * blockRows..<min((id + 1) * blockRows, rowCount)
    }

    /// The number of rows of block `id` (0 for an id outside the plan).
    public func rowCount(ofBlock id: Int) -> Int {
        guard id >= 0, id < blockCount else { return 0 }
        return min((id + 1) * blockRows, rowCount) - id * blockRows
    }

    /// The rows of the blocks `ids` (those inside the plan).
    public func rowCount(ofBlocks ids: Range<Int>) -> Int {
        let inside = ids.clamped(to: 0..<blockCount)
        guard !inside.isEmpty else { return 0 }
        return min(inside.upperBound * blockRows, rowCount) - inside.lowerBound * blockRows
    }

    /// The row ranges of all blocks, in block-id order.
    public var rowRanges: [Range<Int>] {
        (0..<blockCount).map { $0 * blockRows..<min(($0 + 1) * blockRows, rowCount) }
    }
}

extension BlockPlan {
    /// Bytes of stored feature values a default block aims at.
    public static let targetBlockBytes = 256 << 10
    /// A default plan has at least this many blocks when the rows allow (so small sets still spread over workers)…
    public static let minimumDefaultBlockCount = 8
    /// … and at least this many rows per block.
    public static let minimumDefaultBlockRows = 16

    /// Rows per block when none is given, from the data alone (never from the worker count):
    ///
    /// ```text
    /// byWidth  = ⌊targetBlockBytes / (featureCount · bytesPerValue)⌋, rounded down to a multiple of 16
    /// bySpread = ⌈rowCount / minimumDefaultBlockCount⌉
    /// rows     = max(minimumDefaultBlockRows, min(byWidth, bySpread))
    /// ```
    ///
    /// 1M × 20 float64: 1632 rows (255 KiB); float32: 3264. breast_cancer (569 × 30): 72 rows, 8 blocks.
    public static func defaultBlockRows(rowCount: Int, featureCount: Int, bytesPerValue: Int) -> Int {
        let rowBytes = max(1, featureCount * bytesPerValue)
        let byWidth = targetBlockBytes / rowBytes / 16 * 16
        let bySpread = (rowCount + minimumDefaultBlockCount - 1) / minimumDefaultBlockCount
        return max(minimumDefaultBlockRows, min(byWidth, bySpread))
    }

    /// The default block rows of data too long for the spread rule to apply (`max(minimumDefaultBlockRows, byWidth)`
    /// above): the chunk size readers store rows in, so that the default blocks of large data share the chunks.
    public static func chunkRows(featureCount: Int, bytesPerValue: Int) -> Int {
        max(minimumDefaultBlockRows, targetBlockBytes / max(1, featureCount * bytesPerValue) / 16 * 16)
    }

    /// The rule of `defaultBlockRows`, in words (for `--help`).
    public static var defaultRuleDescription: String {
        "\(targetBlockBytes >> 10) KiB of stored feature values per block (⌊\(targetBlockBytes) / (features × 4 "
            + "bytes for float32, 8 for float64)⌋ rows, rounded down to a multiple of 16), but at most "
            + "⌈rows / \(minimumDefaultBlockCount)⌉ so that small sets still make \(minimumDefaultBlockCount) blocks, "
            + "and at least \(minimumDefaultBlockRows) rows."
    }
}

extension Dataset {
    /// Cuts the dataset into the blocks of `BlockPlan(rowCount: rowCount, blockRows: blockRows)`.
    ///
    /// With `.float32`, each value is rounded to the nearest `Float`; a value whose magnitude exceeds
    /// the float32 range is an error naming its file line and column (the first such value in row order).
    /// Blocks are cut on every core (copying and first-touching the memory is most of the cost); the result
    /// does not depend on the thread count. A float64 block whose rows are exactly one chunk of `features` shares
    /// that chunk's memory instead of copying it.
    public func makeBlocks(blockRows: Int, precision: Precision) throws(DataError) -> [Block] {
        let plan = try BlockPlan(rowCount: rowCount, blockRows: blockRows)
        return try makeBlocks(0..<plan.blockCount, of: plan, precision: precision)
    }

    /// `makeBlocks`, with the dataset and its blocks holding the values once. float64: `features` is re-cut into
    /// chunks of `blockRows` rows first, and every block shares its chunk; the re-cut releases each old chunk as it
    /// goes (see `FeatureRows.rechunk`) and the values do not change. float32: after the same re-cut, each chunk is
    /// replaced by the block made of its rows as soon as that block exists (a few blocks per core at a time), so the
    /// float64 values and the blocks are never held whole at once; the dataset then reads its features from the
    /// blocks, widened (`Double(Float(x))`: the values the float32 model sees; blocks made again from them are the
    /// same bits).
    public mutating func makeSharedBlocks(blockRows: Int, precision: Precision) throws(DataError) -> [Block] {
        guard blockRows >= 1 else { return try makeBlocks(blockRows: blockRows, precision: precision) }
        features.rechunk(rows: blockRows)
        guard precision == .float32 else { return try makeBlocks(blockRows: blockRows, precision: precision) }
        let plan = try BlockPlan(rowCount: rowCount, blockRows: blockRows)
        let wave = 4 * ThreadCount.resolve(0)
        var blocks: [Block] = []
        blocks.reserveCapacity(plan.blockCount)
        var start = 0
        while start < plan.blockCount {
            let end = Swift.min(start + wave, plan.blockCount)
            let made = try makeBlocks(start..<end, of: plan, precision: .float32)
            for (offset, block) in made.enumerated() { features.replaceChunk(start + offset, with: .float32Block(block)) }
            blocks += made
            start = end
        }
        return blocks
    }

    /// Blocks `ids` of `plan`, on every core (a copy of the dataset that lives only for this call).
    private func makeBlocks(_ ids: Range<Int>, of plan: BlockPlan, precision: Precision) throws(DataError) -> [Block] {
        let dataset = self
        return try ParallelBlocks.map(count: ids.count, threads: 0) { (index) throws(DataError) -> Block in
            try dataset.makeBlock(ids.lowerBound + index, of: plan, precision: precision)
        }
    }

    /// `makeSharedBlocks` with every block a view of `arena`, which is sealed afterwards, so that worker processes on
    /// this machine map the blocks where they lie (`SharedBlockRegion`). A float64 block of exactly one chunk kept in
    /// `arena` is that chunk's piece, with the block's labels written after its values: nothing is copied. Any other
    /// block (float32, or rows kept in an array) is cut as `makeBlock` cuts it and written into a piece of its own; a
    /// block that finds no room stays an array. The values, and so every result, are those of `makeBlocks`. When the
    /// arena cannot be sealed (`isSealed` false), the views are still readable in this process, and workers must be
    /// sent a copy.
    ///
    /// float32: the dataset then reads its features from the blocks, as after `makeSharedBlocks`, and its float64
    /// chunks are let go before the arena is sealed, so their pieces go back to the file (only the blocks stay in
    /// shared memory). If this throws, the dataset may be left without its features.
    public mutating func makeBlocks(blockRows: Int, precision: Precision, in arena: SharedArena) throws(DataError) -> [Block] {
        if precision == .float64, blockRows >= 1 { features.rechunk(rows: blockRows) }
        let plan = try BlockPlan(rowCount: rowCount, blockRows: blockRows)
        let placed = try place(plan, precision: precision, in: arena)
        if precision == .float32 {
            // The last holder of the float64 pieces: they are given back while the file still takes them.
            features = FeatureRows(values: [], columns: featureCount)
        }
        try? arena.seal()
        let bytesPerRow = (featureCount + 1) * precision.byteWidth
        try? ParallelBlocks.run(count: placed.count, threads: ThreadCount.resolve(0)) { id in
            if case .view(let offset) = placed[id] { arena.populate(offset: offset, count: plan.rowCount(ofBlock: id) * bytesPerRow) }
        }
        let blocks = try placed.enumerated().map { (id, placed) throws(DataError) -> Block in
            switch placed {
            case .owned(let block): return block
            case .view(let offset):
                do throws(BlockShapeError) {
                    return try Block(
                        id: id, rows: plan.rowCount(ofBlock: id), columns: featureCount, precision: precision,
                        in: arena.memory, at: offset)
                } catch {
                    throw .invalidShape(source: sourcePath, detail: error.message)
                }
            }
        }
        if precision == .float32 {
            // As in `makeSharedBlocks`: the dataset reads its features from the float32 blocks, widened, so that
            // every later reader sees the same values with or without worker processes.
            features = FeatureRows(
                chunks: blocks.map { .float32Block($0) }, rowCount: rowCount, columns: featureCount,
                chunkRows: plan.blockRows, arena: nil)
        }
        return blocks
    }

    /// Writes the blocks of `plan` into `arena` (see `makeBlocks(blockRows:precision:in:)`), on every core, with a
    /// copy of the dataset that lives only for this call.
    private func place(_ plan: BlockPlan, precision: Precision, in arena: SharedArena) throws(DataError) -> [Placed] {
        let dataset = self
        let bytesPerRow = (featureCount + 1) * precision.byteWidth
        // The chunk each block is, if it is one; pieces for the others are handed out in block order (so that a
        // worker's blocks lie together in the file), then filled on every core.
        var chunkPieces: [SharedChunk?] = []
        var ownPieces: [Int?] = []
        for id in 0..<plan.blockCount {
            let rows = try plan.rows(ofBlock: id)
            if precision == .float64, case .shared(let piece) = features.chunk(holdingExactly: rows), piece.arena === arena,
                piece.labelCapacity >= rows.count
            {
                chunkPieces.append(piece)
                ownPieces.append(nil)
            } else {
                chunkPieces.append(nil)
                ownPieces.append(arena.allocate(byteCount: rows.count * bytesPerRow))
            }
        }
        let (chunks, pieces) = (chunkPieces, ownPieces)
        return try ParallelBlocks.map(count: plan.blockCount, threads: 0) { (id) throws(DataError) -> Placed in
            let rows = try plan.rows(ofBlock: id)
            if let piece = chunks[id] {
                let labelsOffset = piece.offset + piece.count * MemoryLayout<Double>.stride
                if dataset.labels[rows].withUnsafeBytes({ (try? arena.write($0, at: labelsOffset)) != nil }) {
                    return .view(offset: piece.offset)
                }
            }
            let block = try dataset.makeBlock(id, of: plan, precision: precision)
            guard let offset = pieces[id], Self.write(block, in: arena, at: offset) else { return .owned(block) }
            return .view(offset: offset)
        }
    }

    /// Where `makeBlocks(blockRows:precision:in:)` put a block.
    private enum Placed: Sendable {
        case view(offset: Int)
        case owned(Block)
    }

    /// Writes `block`'s features, then its labels, at `offset` of `arena` (a piece of their size); false when the
    /// write fails.
    private static func write(_ block: Block, in arena: SharedArena, at offset: Int) -> Bool {
        block.withValues { (values) -> Bool in
            func write<T>(_ features: UnsafeBufferPointer<T>, _ labels: UnsafeBufferPointer<T>) -> Bool {
                (try? arena.write(UnsafeRawBufferPointer(features), at: offset)) != nil
                    && (try? arena.write(UnsafeRawBufferPointer(labels), at: offset + features.count * MemoryLayout<T>.stride)) != nil
            }
            switch values {
            case .float32(let features, let labels): return write(features, labels)
            case .float64(let features, let labels): return write(features, labels)
            }
        }
    }

    /// Block `id` of `plan` (which must have been made for this dataset's row count).
    public func makeBlock(_ id: Int, of plan: BlockPlan, precision: Precision) throws(DataError) -> Block {
        guard plan.rowCount == rowCount else {
            throw .invalidShape(
                source: sourcePath, detail: "block plan for \(plan.rowCount) rows, dataset has \(rowCount)")
        }
        let rows = try plan.rows(ofBlock: id)
        let featureSlice = features.values(ofRows: rows)
        let labelSlice = Array(labels[rows])
        let storage: BlockStorage
        switch precision {
        case .float64:
            storage = .float64(features: featureSlice, labels: labelSlice)
        case .float32:
            var narrowFeatures: [Float] = []
            narrowFeatures.reserveCapacity(featureSlice.count)
            for (offset, value) in featureSlice.enumerated() {
                let narrow = Float(value)
                if narrow.isInfinite {
                    let row = rows.lowerBound + offset / featureCount, feature = offset % featureCount
                    throw .float32Overflow(
                        path: sourcePath, line: lineNumbers[row], column: featureColumnNumbers[feature],
                        columnName: featureNames[feature], value: value)
                }
                narrowFeatures.append(narrow)
            }
            var narrowLabels: [Float] = []
            narrowLabels.reserveCapacity(labelSlice.count)
            for (offset, value) in labelSlice.enumerated() {
                let narrow = Float(value)
                if narrow.isInfinite {
                    throw .float32Overflow(
                        path: sourcePath, line: lineNumbers[rows.lowerBound + offset], column: labelColumnNumber,
                        columnName: labelName, value: value)
                }
                narrowLabels.append(narrow)
            }
            storage = .float32(features: narrowFeatures, labels: narrowLabels)
        }
        do {
            return try Block(id: id, rows: rows.count, columns: featureCount, storage: storage)
        } catch {
            throw .invalidShape(source: sourcePath, detail: error.message)
        }
    }
}
