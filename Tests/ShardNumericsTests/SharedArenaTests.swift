import Foundation
import ShardNumerics
import Testing

/// A shared-memory file values are read into: pieces handed out in order, written, sealed, mapped by another
/// "process" (a second mapping through its /proc path), and never changed once sealed.
@Suite("Shared arena")
struct SharedArenaTests {
    static func bytes(_ values: [Double]) -> [UInt8] { values.withUnsafeBytes { Array($0) } }

    @Test("pieces are aligned, in increasing order, hold what was written, and read the same through another mapping")
    func piecesWrittenAndMappedElsewhere() throws {
        let arena = try SharedArena(reservedBytes: 64 << 20)
        var random = SplitMix64(seed: 3)
        var written: [(offset: Int, values: [Double])] = []
        var previousEnd = 0
        for _ in 0..<40 {
            let count = random.int(0...20_000)
            let values = (0..<count).map { _ in random.nextUniform(-1e6, 1e6) }
            let offset = try #require(arena.allocate(byteCount: count * 8))
            #expect(offset >= previousEnd)
            #expect(offset % (count * 8 >= 1 << 16 ? 4096 : 64) == 0)
            previousEnd = offset + count * 8
            try values.withUnsafeBytes { try arena.write($0, at: offset) }
            written.append((offset, values))
        }
        #expect(arena.byteCount >= previousEnd)
        // In place, before sealing: through the arena's own mapping.
        let first = written[1]
        arena.mutableBytes(at: first.offset, count: 8).storeBytes(of: 42.5, as: Double.self)
        written[1].values[0] = 42.5
        try arena.seal()
        #expect(arena.isSealed && !arena.isWritable)
        #expect(arena.byteCount == previousEnd)
        #expect(arena.allocate(byteCount: 8) == nil, "nothing is handed out once sealed")
        // Another process opens the file by its path, read-only, as a worker does.
        let descriptor = open(arena.path, O_RDONLY)
        #expect(descriptor >= 0)
        defer { close(descriptor) }
        let other = try BlockMemory.mapping(descriptor: descriptor, byteCount: arena.byteCount).get()
        for (offset, values) in written where !values.isEmpty {
            let own = Array(arena.bytes(at: offset, count: values.count * 8))
            #expect(own == Self.bytes(values))
            let view = try Block(id: 0, rows: 1, columns: values.count - 1, precision: .float64, in: other, at: offset)
            guard case .float64(let features, let labels) = view.storage else { Issue.record("not float64"); continue }
            #expect(features + labels == values)
        }
    }

    @Test("once sealed, the file refuses writes, growth and shrinking, and a writable mapping")
    func sealedFileCannotChange() throws {
        let arena = try SharedArena(reservedBytes: 16 << 20)
        let offset = try #require(arena.allocate(byteCount: 4096))
        try [Double](repeating: 7, count: 512).withUnsafeBytes { try arena.write($0, at: offset) }
        try arena.seal()
        let descriptor = open(arena.path, O_RDWR)
        #expect(descriptor >= 0)
        defer { close(descriptor) }
        var value = 1.0
        #expect(pwrite(descriptor, &value, 8, 0) == -1 && errno == EPERM)
        #expect(ftruncate(descriptor, off_t(arena.byteCount + 4096)) == -1)
        #expect(ftruncate(descriptor, 0) == -1)
        #expect(mmap(nil, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor, 0) == MAP_FAILED)
        #expect(throws: SharedArena.Failure.self) {
            try [1.0].withUnsafeBytes { try arena.write($0, at: offset) }
        }
        #expect(arena.bytes(at: offset, count: 8).load(as: Double.self) == 7)
    }

    @Test("a released piece gives its whole pages back and reads as zeros; the arena stops at its reservation")
    func releaseAndExhaustion() throws {
        let arena = try SharedArena(reservedBytes: 4 << 20)
        let offset = try #require(arena.allocate(byteCount: 1 << 20))
        try [Double](repeating: 3, count: (1 << 20) / 8).withUnsafeBytes { try arena.write($0, at: offset) }
        arena.release(offset: offset, byteCount: 1 << 20)
        #expect(arena.bytes(at: offset, count: 1 << 20).allSatisfy { $0 == 0 })
        #expect(arena.allocate(byteCount: 2 << 20) != nil)
        #expect(arena.allocate(byteCount: 2 << 20) == nil, "past the 4 MiB reservation")
    }
}
