import CShardSystem
import Dispatch
import Foundation
import ShardNumerics
import ShardProtocol
import ShardWire
import Synchronization

/// The coordinator's blocks in an anonymous shared-memory file (`memfd_create`), for workers on the same machine:
/// they are sent `SharedBlockLocation`s instead of the values (`Message.sharedBlocks`).
///
/// The file is either the `SharedArena` the data was read into, whose blocks are views of it already
/// (`init?(arena:blocks:)`: nothing is copied), or written here once (`init(blocks:threads:)`: block after block in
/// id order). Either way each block starts at a multiple of 64 bytes, its features then its labels (see
/// `SharedBlockLocation`). The file has no name in any file system: workers open it through
/// `/proc/<coordinator pid>/fd/<fd>` and compute on a read-only mapping of it, and the kernel frees it when the
/// last descriptor and mapping are gone — when this object is released and the workers have dropped their blocks,
/// or when the processes die, however they die. Nothing is ever left behind. Once written, the file is sealed
/// against writes and size changes, so a mapping never sees its values change nor its pages vanish.
final class SharedBlockRegion: Sendable {
    /// The path a worker opens (read-only) to read the region.
    let path: String
    let byteCount: UInt64
    /// Every block's location, by block id.
    let locations: [SharedBlockLocation]
    /// What keeps the file open: the descriptor of a region written here, or the arena the data was read into.
    private let file: File

    private enum File: Sendable {
        case written(descriptor: Int32)
        case arena(SharedArena)
    }

    /// The region of `arena`, sealed, of which every block of `blocks` (numbered 0, 1, … in order) is a view; nil
    /// when it is not sealed or a block is not such a view (then the blocks are written into a region of their own).
    init?(arena: SharedArena, blocks: [Block]) throws(ClusterError) {
        guard arena.isSealed else { return nil }
        var locations: [SharedBlockLocation] = []
        locations.reserveCapacity(blocks.count)
        for block in blocks {
            guard let offset = block.viewOffset(in: arena.memory), offset % 64 == 0 else { return nil }
            locations.append(try Self.location(of: block, at: UInt64(offset)))
        }
        self.file = .arena(arena)
        self.path = arena.path
        self.byteCount = UInt64(arena.byteCount)
        self.locations = locations
    }

    /// Writes `blocks` (numbered 0, 1, … in order) with up to `threads` threads. Throws `.transport` when the
    /// file cannot be created or written (e.g. no memory left for it).
    init(blocks: [Block], threads: Int) throws(ClusterError) {
        var offset: UInt64 = 0
        var locations: [SharedBlockLocation] = []
        locations.reserveCapacity(blocks.count)
        for block in blocks {
            let location = try Self.location(of: block, at: offset)
            locations.append(location)
            // The block's values are in memory already, so their byte count fits in 64 bits.
            offset = (location.byteRange!.upperBound + 63) / 64 * 64
        }
        let descriptor = shardtrain_memfd_create("shardtrain-blocks")
        guard descriptor >= 0 else { throw .transport("cannot create the shared block region: \(errnoText())") }
        self.file = .written(descriptor: descriptor)
        self.byteCount = offset
        self.locations = locations
        self.path = "/proc/\(getpid())/fd/\(descriptor)"
        // From here on a throw runs `deinit`, which closes the descriptor.
        guard ftruncate(descriptor, off_t(offset)) == 0 else {
            throw .transport("cannot size the shared block region to \(offset) bytes: \(errnoText())")
        }
        let failure = Mutex<String?>(nil)
        let workers = max(1, min(threads, blocks.count))
        let offsets = locations.map(\.offset)
        DispatchQueue.concurrentPerform(iterations: workers) { part in
            for index in stride(from: part, to: blocks.count, by: workers) {
                if let problem = Self.write(blocks[index], at: offsets[index], to: descriptor) {
                    failure.withLock { $0 = $0 ?? problem }
                    return
                }
            }
        }
        if let problem = failure.withLock({ $0 }) {
            throw .transport("cannot write the shared block region: \(problem)")
        }
        // Workers compute on mappings of it: nothing may change or shrink it from now on.
        guard shardtrain_memfd_seal(descriptor) == 0 else {
            throw .transport("cannot seal the shared block region: \(errnoText())")
        }
    }

    deinit {
        if case .written(let descriptor) = file { close(descriptor) }
    }

    /// Where `block` lies when its values start at byte `offset`.
    private static func location(of block: Block, at offset: UInt64) throws(ClusterError) -> SharedBlockLocation {
        guard let id = UInt32(exactly: block.id), let rows = UInt32(exactly: block.rows),
            let columns = UInt32(exactly: block.columns)
        else {
            throw .invalidConfiguration(
                "block \(block.id) (\(block.rows) rows × \(block.columns) columns) cannot be described to a worker: "
                    + "ids, rows and columns must fit in 32 bits")
        }
        return SharedBlockLocation(id: id, rows: rows, columns: columns, precision: block.precision, offset: offset)
    }

    /// The locations of blocks `range`.
    func locations(of range: Range<Int>) -> [SharedBlockLocation] { Array(locations[range]) }

    /// Writes one block's features and labels at `offset`; the reason on failure.
    private static func write(_ block: Block, at offset: UInt64, to descriptor: Int32) -> String? {
        block.withValues { values in
            switch values {
            case .float32(let features, let labels): write(features, labels, at: offset, to: descriptor)
            case .float64(let features, let labels): write(features, labels, at: offset, to: descriptor)
            }
        }
    }

    private static func write<T>(
        _ features: UnsafeBufferPointer<T>, _ labels: UnsafeBufferPointer<T>, at offset: UInt64, to descriptor: Int32
    ) -> String? {
        let labelsOffset = offset + UInt64(features.count * MemoryLayout<T>.stride)
        return SharedArena.writeAll(UnsafeRawBufferPointer(features), to: descriptor, at: Int(offset))
            ?? SharedArena.writeAll(UnsafeRawBufferPointer(labels), to: descriptor, at: Int(labelsOffset))
    }
}

/// A `SharedBlockRegion` being written on a thread of its own, so that the coordinator meets its workers (HELLO,
/// WELCOME, HOLD) meanwhile; `region()` waits for it. Blocks that are views of a sealed arena need no writing.
final class PendingSharedBlockRegion: Sendable {
    private let outcome = Mutex<(region: Result<SharedBlockRegion, ClusterError>, seconds: Double?)?>(nil)
    private let written = DispatchSemaphore(value: 0)

    /// The region of `arena` when the blocks are its views (see `SharedBlockRegion.init?(arena:blocks:)`), else
    /// starts writing `blocks` with up to `threads` threads.
    init(blocks: [Block], threads: Int, arena: SharedArena? = nil) {
        do throws(ClusterError) {
            if let arena, let region = try SharedBlockRegion(arena: arena, blocks: blocks) {
                outcome.withLock { $0 = (.success(region), nil) }
                written.signal()
                return
            }
        } catch {
            outcome.withLock { $0 = (.failure(error), nil) }
            written.signal()
            return
        }
        Thread.detachNewThread { [self] in
            let start = ContinuousClock.now
            let region = Result { () throws(ClusterError) in try SharedBlockRegion(blocks: blocks, threads: threads) }
            let elapsed = (ContinuousClock.now - start).components
            let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) * 1e-18
            outcome.withLock { $0 = (region, seconds) }
            written.signal()
        }
    }

    /// The region and the seconds writing it took (nil: it was the arena, nothing written), waiting for it first, or
    /// why it could not be written.
    func region() throws(ClusterError) -> (region: SharedBlockRegion, seconds: Double?) {
        if outcome.withLock({ $0 == nil }) {
            written.wait()
            written.signal()
        }
        let (region, seconds) = outcome.withLock { $0! }
        return (try region.get(), seconds)
    }
}

/// Maps a coordinator's shared block region (the worker's side of `Message.sharedBlocks`): the blocks are views into
/// the read-only mapping (`BlockMemory`), computed on where the coordinator wrote them, never copied.
enum SharedBlockReader {
    /// Opens `region` read-only, checks that it holds exactly `regionBytes` bytes, maps it and returns a view of each
    /// located block (the mapping lives as long as any of them). Throws `.protocolViolation` naming the region and
    /// what was wrong: it cannot be opened, has another size, cannot be mapped, or a block does not fit its shape.
    static func map(region: String, regionBytes: UInt64, locations: [SharedBlockLocation]) throws(ClusterError)
        -> (blocks: [Block], shard: MappedShard)
    {
        let descriptor = open(region, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw .protocolViolation("cannot open the shared block region \(region): \(errnoText())")
        }
        // The mapping keeps the file; the descriptor is not needed past it.
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw .protocolViolation("cannot inspect the shared block region \(region): \(errnoText())")
        }
        guard status.st_size >= 0, UInt64(status.st_size) == regionBytes, let byteCount = Int(exactly: regionBytes) else {
            throw .protocolViolation(
                "the shared block region \(region) holds \(status.st_size) bytes, the coordinator announced \(regionBytes)")
        }
        let memory: BlockMemory
        switch BlockMemory.mapping(descriptor: descriptor, byteCount: byteCount) {
        case .success(let mapped): memory = mapped
        case .failure(let error):
            throw .protocolViolation("cannot map the \(regionBytes) bytes of the shared block region \(region): \(error)")
        }
        // The codec checked that every location lies within `regionBytes`; the block checks it again.
        let blocks = try locations.map { (location) throws(ClusterError) -> Block in
            do throws(BlockShapeError) {
                return try Block(
                    id: Int(location.id), rows: Int(location.rows), columns: Int(location.columns),
                    precision: location.precision, in: memory, at: Int(clamping: location.offset))
            } catch {
                throw .protocolViolation("the shared block region \(region): \(error.message)")
            }
        }
        // Every page of the blocks is read in the first round: map them now, in one call per block.
        for location in locations {
            if let bytes = location.byteRange { memory.populate(Int(clamping: bytes.lowerBound)..<Int(clamping: bytes.upperBound)) }
        }
        let first = locations.map { Int(clamping: $0.offset) }.min() ?? 0
        let end = locations.compactMap { $0.byteRange.map { Int(clamping: $0.upperBound) } }.max() ?? first
        return (blocks, MappedShard(memory: memory, bytes: first..<max(first, end)))
    }
}

/// The bytes of a mapped region that a worker's blocks lie in.
struct MappedShard: Sendable {
    let memory: BlockMemory
    let bytes: Range<Int>

    /// Rounds computed from 4 KiB pages after which a worker moves its shard into huge pages
    /// (`BlockMemory.collapseToHugePages`): the copy costs about what 15 rounds gain from it (measured: 50–80 ms per
    /// 80 MB against 3–5 ms saved per pass over them), so a short run never pays for it and a long one pays at most
    /// twice the better choice's cost.
    static let roundsBeforeHugePages = 16
}

func errnoText() -> String { String(cString: strerror(errno)) }
