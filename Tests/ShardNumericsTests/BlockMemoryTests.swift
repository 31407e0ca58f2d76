import Foundation
import ShardNumerics
import Testing

/// Blocks that are views into a read-only mapping (`BlockMemory`) beside blocks that own their arrays.
@Suite("Block views into a mapping")
struct BlockMemoryTests {
    /// A temporary file holding `bytes`, mapped read-only (the file is removed and its descriptor closed at once:
    /// the mapping alone keeps the bytes, as a worker's mapping of a coordinator's region does).
    static func mapping(of bytes: [UInt8]) throws -> BlockMemory {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("shardtrain-blockmemory-\(UUID().uuidString)")
        try Data(bytes).write(to: url)
        let descriptor = open(url.path, O_RDONLY)
        try FileManager.default.removeItem(at: url)
        #expect(descriptor >= 0)
        defer { close(descriptor) }
        return try BlockMemory.mapping(descriptor: descriptor, byteCount: bytes.count).get()
    }

    static func bytes<T: BinaryFloatingPoint>(_ values: [T]) -> [UInt8] {
        values.withUnsafeBytes { Array($0) }
    }

    /// Random blocks in both precisions, and a region holding them at 64-byte aligned offsets (the layout of a
    /// coordinator's shared block region): features then labels, block after block.
    static func blocksAndRegion(precision: Precision, seed: UInt64) throws -> (blocks: [Block], bytes: [UInt8], offsets: [Int]) {
        var random = SplitMix64(seed: seed)
        var blocks: [Block] = []
        var bytes: [UInt8] = []
        var offsets: [Int] = []
        for id in 0..<5 {
            let rows = random.int(0...40), columns = 7
            let features = (0..<rows * columns).map { _ in random.nextUniform(-3, 3) }
            let labels = (0..<rows).map { _ in Double(random.next() & 1) }
            let storage: BlockStorage =
                precision == .float64
                ? .float64(features: features, labels: labels)
                : .float32(features: features.map(Float.init), labels: labels.map(Float.init))
            blocks.append(try Block(id: id, rows: rows, columns: columns, storage: storage))
            offsets.append(bytes.count)
            switch storage {
            case .float32(let f, let l): bytes += Self.bytes(f) + Self.bytes(l)
            case .float64(let f, let l): bytes += Self.bytes(f) + Self.bytes(l)
            }
            bytes += [UInt8](repeating: 0xEE, count: (64 - bytes.count % 64) % 64)
        }
        return (blocks, bytes, offsets)
    }

    static func views(of blocks: [Block], in memory: BlockMemory, at offsets: [Int]) throws -> [Block] {
        try zip(blocks, offsets).map { block, offset in
            try Block(id: block.id, rows: block.rows, columns: block.columns, precision: block.precision, in: memory, at: offset)
        }
    }

    @Test("a view holds the same values as the owned block: equal, the same arrays, the same kernel bits", arguments: Precision.allCases)
    func viewsMatchOwnedBlocks(precision: Precision) throws {
        let (owned, bytes, offsets) = try Self.blocksAndRegion(precision: precision, seed: 41)
        let memory = try Self.mapping(of: bytes)
        let views = try Self.views(of: owned, in: memory, at: offsets)
        var random = SplitMix64(seed: 7)
        let weights = (0..<7).map { _ in random.nextUniform(-1, 1) }
        for (view, block) in zip(views, owned) {
            #expect(view.isView && !block.isView)
            #expect(view == block && block == view)
            #expect(ReadPass.checksum(of: view).bitPattern == ReadPass.checksum(of: block).bitPattern)
            for implementation in [KernelImplementation.fastest, .portable] {
                let viewSums = try LogisticKernel.sums(of: view, weights: weights, bias: 0.5, implementation: implementation)
                let ownedSums = try LogisticKernel.sums(of: block, weights: weights, bias: 0.5, implementation: implementation)
                #expect(viewSums.map(\.bitPattern) == ownedSums.map(\.bitPattern), "block \(block.id), \(implementation)")
            }
            // The arrays copied out of the view, twice: the same values (the second from the kept copy).
            #expect(view.storage == block.storage)
            #expect(view.storage == block.storage)
        }
        // A view of other bytes is another block.
        let shifted = try Block(id: 1, rows: owned[1].rows, columns: 7, precision: precision, in: memory, at: offsets[0])
        #expect(owned[1].rows == 0 || shifted != owned[1])
    }

    @Test("views keep the mapping alive after every other reference is gone; it is unmapped with the last view")
    func viewsKeepTheMappingAlive() throws {
        let (owned, bytes, offsets) = try Self.blocksAndRegion(precision: .float64, seed: 9)
        weak var weakMemory: BlockMemory?
        var views: [Block]
        do {
            let memory = try Self.mapping(of: bytes)
            weakMemory = memory
            views = try Self.views(of: owned, in: memory, at: offsets)
        }
        #expect(weakMemory != nil)
        #expect(views == owned)
        let last = views.removeLast()
        views.removeAll()
        #expect(weakMemory != nil, "one view is left")
        #expect(last == owned.last!)
        _ = consume last
        #expect(weakMemory == nil, "the mapping outlived its last view")
    }

    @Test("a view outside the mapping, misaligned, or of a size beyond Int is refused, naming the block")
    func viewsAreBoundsChecked() throws {
        // 2 rows × 3 columns + 2 labels = 8 doubles = 64 bytes.
        let memory = try Self.mapping(of: Self.bytes((0..<8).map(Double.init)))
        let fits = try Block(id: 3, rows: 2, columns: 3, precision: .float64, in: memory, at: 0)
        #expect(fits.withValues { values in
            guard case .float64(let features, let labels) = values else { return false }
            return Array(features) == [0, 1, 2, 3, 4, 5] && Array(labels) == [6, 7]
        })
        let refused: [(rows: Int, columns: Int, precision: Precision, offset: Int)] = [
            (2, 3, .float64, 8),  // the last label would be byte 64..<72
            (2, 3, .float64, 4),  // not a multiple of 8
            (2, 3, .float32, 2),  // not a multiple of 4
            (2, 3, .float64, -8),
            (2, 3, .float64, Int.max - 8),  // the end overflows
            (Int.max / 2, 3, .float64, 0),  // rows × columns overflows
            (20, 3, .float32, 0),  // 80 floats in 64 bytes
        ]
        for (rows, columns, precision, offset) in refused {
            #expect(throws: BlockShapeError.self, "\(rows)×\(columns) \(precision) at \(offset)") {
                try Block(id: 3, rows: rows, columns: columns, precision: precision, in: memory, at: offset)
            }
        }
        let error = #expect(throws: BlockShapeError.self) {
            try Block(id: 3, rows: 2, columns: 3, precision: .float64, in: memory, at: 8)
        }
        #expect(error?.message.hasPrefix("block 3: 2×3 float64 values at byte 8 do not lie within the 64 bytes") == true)
        // As float32 the same shape takes 8 floats = 32 bytes: it fits at byte 32, the last one.
        #expect((try? Block(id: 0, rows: 2, columns: 3, precision: .float32, in: memory, at: 32)) != nil)
    }

    @Test("a mapping starts on a huge page; moving it into huge pages keeps every view's values and kernel bits")
    func hugePagesKeepValues() throws {
        // 3 MiB and a little of float64 blocks in a shared-memory file where there is one (the kernel moves shmem
        // into huge pages), else in the temporary folder (where it may refuse: the values must hold either way).
        var random = SplitMix64(seed: 77)
        let columns = 16, rowsPerBlock = 2048
        var owned: [Block] = []
        var bytes: [UInt8] = []
        for id in 0..<12 {
            let features = (0..<rowsPerBlock * columns).map { _ in random.nextUniform(-2, 2) }
            let labels = (0..<rowsPerBlock).map { _ in Double(random.next() & 1) }
            owned.append(try Block(id: id, rows: rowsPerBlock, columns: columns, storage: .float64(features: features, labels: labels)))
            bytes += Self.bytes(features) + Self.bytes(labels)
        }
        let folder = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let url = URL(fileURLWithPath: folder).appendingPathComponent("shardtrain-blockmemory-\(UUID().uuidString)")
        try Data(bytes).write(to: url)
        let descriptor = open(url.path, O_RDONLY)
        try FileManager.default.removeItem(at: url)
        try #require(descriptor >= 0)
        let memory = try BlockMemory.mapping(descriptor: descriptor, byteCount: bytes.count).get()
        close(descriptor)
        #expect(memory.startsOnHugePage)
        let blockBytes = rowsPerBlock * (columns + 1) * 8
        let views = try Self.views(of: owned, in: memory, at: owned.indices.map { $0 * blockBytes })
        let weights = (0..<columns).map { _ in random.nextUniform(-1, 1) }
        let before = try views.map { try LogisticKernel.sums(of: $0, weights: weights, bias: 0.1).map(\.bitPattern) }
        _ = memory.collapseToHugePages(0..<memory.byteCount)
        #expect(views == owned)
        let after = try views.map { try LogisticKernel.sums(of: $0, weights: weights, bias: 0.1).map(\.bitPattern) }
        #expect(after == before)
        // Ranges without a whole huge page inside are refused, not rounded out.
        #expect(!memory.collapseToHugePages(100..<(2 << 20)))
        #expect(!memory.collapseToHugePages(0..<0))
    }

    @Test("owned blocks and views mixed in one list sum to the same bits as owned blocks alone", arguments: Precision.allCases)
    func mixedBlocks(precision: Precision) throws {
        let (owned, bytes, offsets) = try Self.blocksAndRegion(precision: precision, seed: 1234)
        let memory = try Self.mapping(of: bytes)
        let views = try Self.views(of: owned, in: memory, at: offsets)
        let mixed = owned.indices.map { $0 % 2 == 0 ? views[$0] : owned[$0] }
        var random = SplitMix64(seed: 3)
        let weights = (0..<7).map { _ in random.nextUniform(-1, 1) }
        func total(_ blocks: [Block]) throws -> [UInt64] {
            var sums = [Double](repeating: 0, count: 9)
            for block in blocks {
                for (k, value) in try LogisticKernel.sums(of: block, weights: weights, bias: -0.25).enumerated() { sums[k] += value }
            }
            return sums.map(\.bitPattern)
        }
        #expect(mixed.map(\.isView) == [true, false, true, false, true])
        #expect(try total(mixed) == total(owned))
        #expect(mixed == owned)
    }
}
