import CShardSystem
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Values placed in one anonymous shared-memory file from the moment they are produced, so that worker processes on
/// this machine can map them where they lie instead of being sent, or written, a copy (a coordinator's data with
/// local workers: the readers fill the dataset's chunks here, and the blocks are views of them).
///
/// ```text
/// file        memfd_create; grows (ftruncate) as pieces are allocated, offsets handed out in increasing order
/// piece       [offset, offset + byteCount), offset a multiple of 64 (4096 for pieces of 64 KiB or more,
///             so that releasing one gives its pages back)
/// mapping     the file mapped once, read-write and shared, over a reservation of address space larger than the
///             file can grow: a piece's address never moves
/// ```
///
/// Pieces are filled with `write` (`pwrite`: on the 2-core machine measured, the kernel fills shared-memory pages in
/// about half the time that first-touching fresh memory through page faults takes) or in place through
/// `mutableBytes`, until `seal()`. A piece released before then gives its whole pages back (a hole punched in the
/// file). `seal()` remaps the reservation read-only at the same addresses and seals the file against writes and size
/// changes: pointers taken before stay valid, and no process that maps the file can see a value change or a page
/// vanish. Allocations fail (nil) once sealed or when the reservation is used up; callers then keep values in arrays.
public final class SharedArena: Sendable {
    /// The path another process opens (read-only) to map the file: `/proc/<pid>/fd/<descriptor>`.
    public let path: String
    /// The mapping: blocks read their values through views of it (`Block(id:rows:columns:precision:in:at:)`).
    public let memory: BlockMemory
    private let descriptor: Int32
    private let state = Mutex(State())

    private struct State {
        /// End of the last piece handed out.
        var end = 0
        /// The file's size (at least `end`).
        var fileBytes = 0
        /// The mapping is read-only: nothing more is written or handed out.
        var readOnly = false
        /// … and the file is sealed.
        var sealed = false
    }

    /// Why an arena cannot be made, a piece not written, or the file not sealed (`strerror` and what was tried).
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    /// Creates the file and reserves `reservedBytes` of address space for it (default: twice the physical memory,
    /// which no data this process holds can exceed; only page tables of pages used cost memory).
    public init(reservedBytes: Int? = nil) throws(Failure) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let physical = Int(sysconf(Int32(_SC_PHYS_PAGES))) * page
        let reserved = reservedBytes ?? min(1 << 46, max(1 << 30, 2 * physical))
        let descriptor = shardtrain_memfd_create("shardtrain-data")
        guard descriptor >= 0 else { throw Failure(message: "cannot create a shared-memory file: \(Self.errnoText())") }
        switch BlockMemory.writableReservation(descriptor: descriptor, byteCount: reserved) {
        case .success(let memory): self.memory = memory
        case .failure(let error):
            close(descriptor)
            throw Failure(message: "cannot reserve \(reserved >> 20) MiB of address space for shared memory: \(error)")
        }
        self.descriptor = descriptor
        self.path = "/proc/\(getpid())/fd/\(descriptor)"
    }

    deinit { close(descriptor) }

    /// The file's size: what a process mapping it must find.
    public var byteCount: Int { state.withLock { $0.fileBytes } }

    /// Whether `seal()` succeeded: the file can be mapped by other processes and will never change.
    public var isSealed: Bool { state.withLock { $0.sealed } }

    /// Whether pieces can still be handed out and written (`seal()` not called yet).
    public var isWritable: Bool { state.withLock { !$0.readOnly } }

    /// Hands out `byteCount` bytes (zeros until written) and returns their offset, growing the file; nil once sealed,
    /// when the reservation is used up or the file cannot grow (no memory for it).
    public func allocate(byteCount: Int) -> Int? {
        guard byteCount >= 0 else { return nil }
        let alignment = byteCount >= 1 << 16 ? 4096 : 64
        return state.withLock { (state) -> Int? in
            guard !state.readOnly else { return nil }
            let offset = (state.end + alignment - 1) / alignment * alignment
            let (end, overflow) = offset.addingReportingOverflow(byteCount)
            guard !overflow, end <= memory.byteCount else { return nil }
            if end > state.fileBytes {
                // Grow by a quarter at least (and 2 MiB steps), so that a reader adding chunk after chunk resizes
                // the file a few dozen times, not once per chunk.
                let huge = BlockMemory.hugePageBytes
                let wanted = max(end, state.fileBytes + state.fileBytes / 4)
                let grown = min(memory.byteCount, (wanted + huge - 1) / huge * huge)
                guard ftruncate(descriptor, off_t(grown)) == 0 else { return nil }
                state.fileBytes = grown
            }
            state.end = end
            return offset
        }
    }

    /// Copies `bytes` to `offset` of the file (a piece this caller was given and has not released).
    public func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(Failure) {
        if let problem = Self.writeAll(bytes, to: descriptor, at: offset) {
            throw Failure(message: "cannot write \(bytes.count) bytes of shared memory at \(offset): \(problem)")
        }
    }

    /// Writes all of `bytes` at `offset` of the open file `descriptor` (`pwrite`, retried after short writes and
    /// EINTR); the reason on failure.
    public static func writeAll(_ bytes: UnsafeRawBufferPointer, to descriptor: Int32, at offset: Int) -> String? {
        guard let start = bytes.baseAddress else { return nil }
        var done = 0
        while done < bytes.count {
            let written = pwrite(descriptor, start + done, bytes.count - done, off_t(offset + done))
            if written < 0, errno == EINTR { continue }
            guard written > 0 else { return written == 0 ? "no byte written at \(offset + done)" : errnoText() }
            done += written
        }
        return nil
    }

    /// Bytes `offset..<offset + count` for writing in place: only before `seal()`.
    public func mutableBytes(at offset: Int, count: Int) -> UnsafeMutableRawBufferPointer {
        precondition(isWritable, "a sealed shared arena cannot be written")
        return UnsafeMutableRawBufferPointer(start: memory.mutableAddress(at: offset), count: count)
    }

    /// Bytes `offset..<offset + count` for reading.
    public func bytes(at offset: Int, count: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: memory.mutableAddress(at: offset), count: count)
    }

    /// Maps the pages of bytes `offset..<offset + count` into this process at once (`BlockMemory.populate`): pieces
    /// written with `write` have none in this process's mapping yet.
    public func populate(offset: Int, count: Int) {
        memory.populate(offset..<offset + count)
    }

    /// Gives back the whole pages inside a piece no longer used (nothing once sealed: the file may not change then).
    public func release(offset: Int, byteCount: Int) {
        let page = 4096
        let first = (offset + page - 1) / page * page, end = (offset + byteCount) / page * page
        guard first < end else { return }
        state.withLock { state in
            guard !state.readOnly else { return }
            _ = shardtrain_punch_hole(descriptor, Int64(first), Int64(end - first))
        }
    }

    /// Remaps the reservation read-only (same addresses), trims the file to the pieces handed out and seals it
    /// against writes, growth and shrinking. Nothing is written or handed out afterwards, even when it throws.
    /// Idempotent.
    public func seal() throws(Failure) {
        try state.withLock { (state) throws(Failure) in
            guard !state.sealed else { return }
            state.readOnly = true
            // Through a descriptor opened read-only: a shared mapping of one opened for writing counts as writable
            // even without PROT_WRITE (it could be made writable), and sealing against writes refuses while one
            // exists.
            let readOnly = open(path, O_RDONLY | O_CLOEXEC)
            guard readOnly >= 0 else { throw Failure(message: "cannot reopen shared memory read-only: \(Self.errnoText())") }
            defer { close(readOnly) }
            if let error = memory.remapReadOnly(descriptor: readOnly) {
                throw Failure(message: "cannot remap shared memory read-only: \(error)")
            }
            let trimmed = max(state.end, 1)
            if trimmed < state.fileBytes, ftruncate(descriptor, off_t(trimmed)) == 0 { state.fileBytes = trimmed }
            guard shardtrain_memfd_seal(descriptor) == 0 else {
                throw Failure(message: "cannot seal the shared-memory file: \(Self.errnoText())")
            }
            state.sealed = true
        }
    }

    private static func errnoText() -> String { String(cString: strerror(errno)) }
}
