import Foundation
import Logging
import ShardCluster
import ShardEngine
import ShardModels
import ShardNumerics
import ShardProtocol
import ShardWire
import Testing

/// Blocks shipped to workers on the same machine through one shared-memory region (`Message.sharedBlocks`).
@Suite("Shared-memory block transport", .serialized)
struct SharedBlockTransportTests {
    typealias Sockets = ClusterSocketTests

    /// This process's descriptors that name a coordinator's block region (a memfd shows as a link to
    /// "/memfd:shardtrain-blocks (deleted)").
    static func openBlockRegions() -> Int {
        let links = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return links.filter {
            ((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\($0)")) ?? "")
                .contains("memfd:shardtrain-blocks")
        }.count
    }

    /// This process's mappings of a coordinator's block region (lines of /proc/self/maps naming the memfd).
    static func mappedBlockRegions() -> Int {
        // Read to the end: a /proc file reports size 0, and a sized read would stop short of a long map.
        let maps = FileHandle(forReadingAtPath: "/proc/self/maps").flatMap { try? $0.readToEnd() } ?? Data()
        return String(decoding: maps, as: UTF8.self).split(separator: "\n").filter { $0.contains("memfd:shardtrain-blocks") }.count
    }

    /// This process's mappings of the file at `path` (lines of /proc/self/maps naming its inode): an arena's
    /// file, told apart from others of the same name that tests running meanwhile may create.
    static func mappings(ofFileAt path: String) -> Int {
        var status = stat()
        guard stat(path, &status) == 0 else { return 0 }
        let maps = FileHandle(forReadingAtPath: "/proc/self/maps").flatMap { try? $0.readToEnd() } ?? Data()
        return String(decoding: maps, as: UTF8.self).split(separator: "\n").filter { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            return fields.count > 5 && fields[4] == "\(status.st_ino)" && line.contains("memfd:")
        }.count
    }

    /// Whether this process's block region (or the file at `path`) refuses a write and a change of size, even through
    /// a descriptor opened for writing.
    static func regionIsSealed(path: String? = nil) throws -> Bool {
        let links = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")
        let region = try path ?? "/proc/self/fd/" + #require(links.first {
            ((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\($0)")) ?? "").contains("memfd:shardtrain-blocks")
        })
        let writable = open(region, O_RDWR)
        try #require(writable >= 0)
        defer { close(writable) }
        var byte: UInt8 = 1
        let written = pwrite(writable, &byte, 1, 0)
        let writeError = errno
        let truncated = ftruncate(writable, 0)
        let truncateError = errno
        return written == -1 && writeError == EPERM && truncated == -1 && truncateError == EPERM
    }

    static func float32Blocks(count: Int, rows: Int, columns: Int) throws -> [Block] {
        try Sockets.blocks(count: count, rows: rows, columns: columns).map { block in
            guard case .float64(let features, let labels) = block.storage else { return block }
            return try Block(
                id: block.id, rows: block.rows, columns: block.columns,
                storage: .float32(features: features.map(Float.init), labels: labels.map(Float.init)))
        }
    }

    /// `blocks` copied into a sealed `SharedArena` at 64-byte aligned pieces (features, then labels), as views of it:
    /// the blocks of data read into shared memory.
    static func arenaBlocks(_ blocks: [Block]) throws -> (SharedArena, [Block]) {
        let arena = try SharedArena(reservedBytes: 16 << 20)
        var offsets: [Int] = []
        for block in blocks {
            let offset = try #require(arena.allocate(byteCount: block.rows * (block.columns + 1) * block.precision.byteWidth))
            block.withValues { values in
                switch values {
                case .float32(let features, let labels):
                    try? arena.write(UnsafeRawBufferPointer(features), at: offset)
                    try? arena.write(UnsafeRawBufferPointer(labels), at: offset + features.count * 4)
                case .float64(let features, let labels):
                    try? arena.write(UnsafeRawBufferPointer(features), at: offset)
                    try? arena.write(UnsafeRawBufferPointer(labels), at: offset + features.count * 8)
                }
            }
            offsets.append(offset)
        }
        try arena.seal()
        let views = try zip(blocks, offsets).map { block, offset in
            try Block(id: block.id, rows: block.rows, columns: block.columns, precision: block.precision, in: arena.memory, at: offset)
        }
        #expect(views == blocks)
        return (arena, views)
    }

    @Test(
        "rounds on blocks shipped through shared memory (written for the workers, or the arena the data was read into) have the same bits as BLOCKS messages and the local executor; the workers compute on mappings of the region, which is freed when the job ends",
        arguments: Precision.allCases)
    func sameBitsAndRegionFreed(precision: Precision) throws {
        // Blocks of odd sizes (7 blocks, the last short) so offsets are not all multiples of a page.
        let full = precision == .float64
            ? try Sockets.blocks(count: 7, rows: 33, columns: 5) : try Self.float32Blocks(count: 7, rows: 33, columns: 5)
        let blocks = full.dropLast() + [try Block(id: 6, rows: 1, columns: 5, storage: full[6].storage.prefix(rows: 1, columns: 5))]
        let model = LogisticRegression(featureCount: 5, l2: 0.5)
        let timing = ClusterTiming(heartbeatInterval: 0.05, workerTimeout: 5, joinTimeout: 20)
        var evaluations: [[UInt64]] = []
        for name in ["written region", "arena", "messages"] {
            let (arena, arenaBlocks) = name == "arena" ? try Self.arenaBlocks(Array(blocks)) : (nil, [])
            let regionsBefore = Self.openBlockRegions()
            let mappingsBefore = arena.map { Self.mappings(ofFileAt: $0.path) } ?? Self.mappedBlockRegions()
            let transport: BlockTransport = name == "messages" ? .messages : .sharedMemory(threads: 2, arena: arena)
            let coordinator = try ClusterExecutor(
                bind: "tcp://127.0.0.1:*", expectedWorkers: 2, model: model, blocks: arena == nil ? Array(blocks) : arenaBlocks,
                timing: timing, blockTransport: transport, logger: Sockets.logger)
            let workers = [WorkerThreadHandle(coordinator.endpoint), WorkerThreadHandle(coordinator.endpoint)]
            try coordinator.waitForWorkers()
            if case .sharedMemory = transport {
                // Each worker maps the region once and closes its descriptor; the coordinator keeps the region: a
                // file written for them, or the arena itself (no new file, nothing written).
                let mappings = arena.map { Self.mappings(ofFileAt: $0.path) } ?? Self.mappedBlockRegions()
                #expect(mappings == mappingsBefore + 2, "\(name)")
                #expect(Self.openBlockRegions() == regionsBefore + (arena == nil ? 1 : 0), "\(name)")
                #expect(try Self.regionIsSealed(path: arena?.path), "\(name): the region the workers map can still be changed")
            }
            var bits: [UInt64] = []
            for round in 1...3 {
                let parameters = (0..<6).map { Double($0 + round) * 0.37 - 1 }
                bits += try coordinator.evaluate(parameters, request: RoundRequest(round: round)).sums.map(\.bitPattern)
            }
            try coordinator.shutdown(reason: "test finished")
            for worker in workers { #expect(try #require(worker.thread.result(timeout: 10)).get().rounds == 3) }
            evaluations.append(bits)
            // Closed by the coordinator's shutdown, unmapped with the workers' last blocks.
            #expect(Self.openBlockRegions() == regionsBefore, "\(name): the block region is still open")
            let mappingsAfter = arena.map { Self.mappings(ofFileAt: $0.path) } ?? Self.mappedBlockRegions()
            #expect(mappingsAfter == mappingsBefore, "\(name): the block region is still mapped")
        }
        let local = try LocalExecutor(model: model, blocks: Array(blocks), threads: 1)
        var expected: [UInt64] = []
        for round in 1...3 {
            let parameters = (0..<6).map { Double($0 + round) * 0.37 - 1 }
            expected += try local.evaluate(parameters, request: RoundRequest(round: round)).sums.map(\.bitPattern)
        }
        #expect(evaluations[0] == expected, "shared memory written for the workers")
        #expect(evaluations[1] == expected, "shared memory the data was read into")
        #expect(evaluations[2] == expected, "BLOCKS messages")
    }

    /// A worker on its own thread, connected to `endpoint`.
    struct WorkerThreadHandle {
        let thread: ClusterSocketTests.WorkerThread
        init(_ endpoint: String) { thread = .init(endpoint: endpoint) }
    }

    /// WELCOME for one block of 2 rows × 2 columns, then `sharedBlocks` for it at `region` of `regionBytes`.
    static func offerRegion(_ region: String, regionBytes: UInt64) throws -> (Sockets.FakeCoordinator, Sockets.WorkerThread) {
        var coordinator = try Sockets.FakeCoordinator()
        let worker = Sockets.WorkerThread(endpoint: coordinator.endpoint)
        _ = try coordinator.awaitHello()
        try coordinator.welcome(Sockets.spec(blocks: 1, rowsPerBlock: 2))
        try coordinator.send(.hold(ranges: [0..<1]))
        try coordinator.send(
            .sharedBlocks(
                region: region, regionBytes: regionBytes,
                blocks: [SharedBlockLocation(id: 0, rows: 2, columns: 2, precision: .float64, offset: 0)]))
        return (coordinator, worker)
    }

    @Test("a worker offered a region that is missing, of another size or cannot be mapped fails, naming the region, and tells the coordinator why")
    func badRegionDescriptor() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("shardtrain-region-\(UUID().uuidString)")
        // 2 rows × (2 features + 1 label) doubles = 48 bytes; the file holds 40.
        try Data(count: 40).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let missing = file.path + "-missing"
        // A directory opens read-only and has a size, but cannot be mapped. A few entries make it larger than the
        // block (on tmpfs a directory's size grows with its entries; elsewhere it is a block or more).
        let folder = file.path + "-folder"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for name in ["a", "b", "c", "d"] { try Data().write(to: URL(fileURLWithPath: folder + "/" + name)) }
        let folderBytes = try #require(try FileManager.default.attributesOfItem(atPath: folder)[.size] as? UInt64)
        try #require(folderBytes >= 48)
        let cases = [
            (file.path, UInt64(48), "the shared block region \(file.path) holds 40 bytes, the coordinator announced 48"),
            (missing, UInt64(48), "cannot open the shared block region \(missing): No such file or directory"),
            (folder, folderBytes, "cannot map the \(folderBytes) bytes of the shared block region \(folder): No such device"),
        ]
        for (region, bytes, expected) in cases {
            let (coordinator, worker) = try Self.offerRegion(region, regionBytes: bytes)
            let reported = try #require(try Sockets.reportedFailure(coordinator))
            #expect(reported == "protocol violation: \(expected)")
            guard case .failure(.protocolViolation(expected)) = try #require(worker.result(timeout: 10)) else {
                Issue.record("expected the worker to fail with \(expected)")
                continue
            }
        }
    }

    @Test("local workers' malloc settings come before any the user gave, so the user's win")
    func mallocTunablesKeepTheUsers() {
        let ours = "glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=4194304"
        #expect(LocalWorkers.mallocTunables(after: nil) == ours)
        #expect(LocalWorkers.mallocTunables(after: "") == ours)
        #expect(LocalWorkers.mallocTunables(after: "glibc.malloc.arena_max=2") == ours + ":glibc.malloc.arena_max=2")
    }

    @Test("a region of the announced size is mapped into blocks bit for bit")
    func regionFileIsRead() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("shardtrain-region-\(UUID().uuidString)")
        // Features [1.5, -2, 3, 0.25], labels [1, 0], as little-endian doubles.
        let values: [Double] = [1.5, -2, 3, 0.25, 1, 0]
        try Data(values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let (coordinator, worker) = try Self.offerRegion(file.path, regionBytes: 48)
        var ready: Message?
        while let frame = try coordinator.next() {
            if case .ready = frame.message { ready = frame.message; break }
        }
        #expect(ready == .ready(blockCount: 1, rowCount: 2))
        // Round 1 at w = (1, 1), b = 0: the sums are those of the block's rows, as the local executor computes.
        try coordinator.send(.params([1, 1, 0], ranges: [0..<1]), round: 1)
        var sums: [NodeSums] = []
        while let frame = try coordinator.next() {
            if case .partials(_, let nodes) = frame.message { sums = nodes; break }
        }
        let block = try Block(id: 0, rows: 2, columns: 2, storage: .float64(features: [1.5, -2, 3, 0.25], labels: [1, 0]))
        let local = try LocalExecutor(model: LogisticRegression(featureCount: 2, l2: 0), blocks: [block], threads: 1)
        let expected = try local.evaluate([1, 1, 0], request: RoundRequest(round: 1))
        #expect(sums.first?.values.map(\.bitPattern) == expected.sums.map(\.bitPattern))
        try coordinator.send(.done(reason: "test finished"))
        #expect(try #require(worker.result(timeout: 10)).get().doneReason == "test finished")
    }
}

extension SharedBlockTransportTests {
    @Test("a worker holding a block it received in BLOCKS, then given another to map after a reassignment, computes the local executor's bits for both")
    func mappedBlocksAfterReassignment() throws {
        let blocks = try Sockets.blocks(count: 2, rows: 3, columns: 2)
        // The region holds block 1 only, at byte 64 (a reassignment maps the lost worker's blocks where they lie).
        var bytes = [UInt8](repeating: 0xAB, count: 64)
        guard case .float64(let features, let labels) = blocks[1].storage else { throw ClusterError.jobFailed("float64 blocks") }
        bytes += (features + labels).flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("shardtrain-region-\(UUID().uuidString)")
        try Data(bytes).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }

        var coordinator = try Sockets.FakeCoordinator()
        let worker = Sockets.WorkerThread(endpoint: coordinator.endpoint)
        _ = try coordinator.awaitHello()
        try coordinator.welcome(Sockets.spec(blocks: 2, rowsPerBlock: 3))
        try coordinator.send(.hold(ranges: [0..<1]))
        try coordinator.send(.blocks([blocks[0]]))
        #expect(try Self.nextReady(coordinator) == .ready(blockCount: 1, rowCount: 3))
        // Block 1's worker was lost: this one now holds both, and maps block 1 from the region.
        try coordinator.send(.hold(ranges: [0..<2]))
        try coordinator.send(
            .sharedBlocks(
                region: file.path, regionBytes: UInt64(bytes.count),
                blocks: [SharedBlockLocation(id: 1, rows: 3, columns: 2, precision: .float64, offset: 64)]))
        #expect(try Self.nextReady(coordinator) == .ready(blockCount: 2, rowCount: 6))
        // The file can go: the worker's mapping keeps the values.
        try FileManager.default.removeItem(at: file)
        let local = try LocalExecutor(model: LogisticRegression(featureCount: 2, l2: 0), blocks: blocks, threads: 1)
        for round in 1...2 {
            let parameters = [0.5 * Double(round), -0.75, 0.125]
            try coordinator.send(.params(parameters, ranges: [0..<2]), round: UInt64(round))
            var sums: [NodeSums] = []
            while let frame = try coordinator.next() {
                if case .partials(_, let nodes) = frame.message { sums = nodes; break }
            }
            let expected = try local.evaluate(parameters, request: RoundRequest(round: round))
            #expect(sums.count == 1 && sums.first?.values.map(\.bitPattern) == expected.sums.map(\.bitPattern), "round \(round)")
        }
        try coordinator.send(.done(reason: "test finished"))
        #expect(try #require(worker.result(timeout: 10)).get().rounds == 2)
        coordinator = try Sockets.FakeCoordinator()
    }

    /// The worker's next READY, skipping heartbeats.
    static func nextReady(_ coordinator: Sockets.FakeCoordinator) throws -> Message? {
        while let frame = try coordinator.next() {
            if case .ready = frame.message { return frame.message }
        }
        return nil
    }
}

extension BlockStorage {
    /// The first `rows` rows.
    fileprivate func prefix(rows: Int, columns: Int) -> BlockStorage {
        switch self {
        case .float32(let features, let labels): .float32(features: Array(features.prefix(rows * columns)), labels: Array(labels.prefix(rows)))
        case .float64(let features, let labels): .float64(features: Array(features.prefix(rows * columns)), labels: Array(labels.prefix(rows)))
        }
    }
}
