#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A memory mapping of a file that blocks can point into (`Block(id:rows:columns:precision:in:at:)`), instead of
/// holding copies of its values: read-only (`mapping`), or writable until remapped read-only (`writableReservation`,
/// the mapping a `SharedArena` fills).
///
/// Every block made on it keeps it alive; it is unmapped when the last of them (and this reference) is gone.
/// The mapping is shared (`MAP_SHARED`): its pages are the file's own, so mapping a shared-memory file that another
/// process wrote costs neither a copy nor memory of this process beyond the page tables of the pages it reads.
public final class BlockMemory: Sendable {
    /// The first byte's address (0 for an empty mapping): an integer, so that the class is plainly `Sendable`.
    private let address: UInt
    public let byteCount: Int

    private var base: UnsafeRawPointer? { UnsafeRawPointer(bitPattern: address) }

    /// Huge pages of x86-64 and arm64 (4 KiB base pages): the unit of `collapseToHugePages`.
    static let hugePageBytes = 2 << 20

    /// Maps `byteCount` bytes of the open file `descriptor` read-only from its start (the descriptor may be
    /// closed afterwards: the mapping keeps the file). The mapping starts on a `hugePageBytes` boundary, so that file
    /// offsets and addresses agree modulo a huge page (which mapping the file's huge pages needs). Returns the reason
    /// on failure (`strerror` of `mmap`).
    public static func mapping(descriptor: Int32, byteCount: Int) -> Result<BlockMemory, BlockMemoryError> {
        map(descriptor: descriptor, byteCount: byteCount, protection: PROT_READ)
    }

    /// Maps `byteCount` bytes of the open file `descriptor` read-write and shared, from its start and on a
    /// `hugePageBytes` boundary, whatever the file's size now: the bytes past its end may be used once the file has
    /// grown over them (reading or writing them before is SIGBUS). Only `SharedArena` writes through it, and it calls
    /// `remapReadOnly` before anything reads it as blocks.
    static func writableReservation(descriptor: Int32, byteCount: Int) -> Result<BlockMemory, BlockMemoryError> {
        map(descriptor: descriptor, byteCount: byteCount, protection: PROT_READ | PROT_WRITE)
    }

    private static func map(descriptor: Int32, byteCount: Int, protection: Int32) -> Result<BlockMemory, BlockMemoryError> {
        guard byteCount > 0 else { return .success(BlockMemory(base: nil, byteCount: 0)) }
        func failure() -> Result<BlockMemory, BlockMemoryError> {
            .failure(BlockMemoryError(message: String(cString: strerror(errno))))
        }
        // Reserve a huge page more than needed, put the file at the first boundary inside, give back the rest.
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let mappedBytes = (byteCount + page - 1) / page * page
        let reservedBytes = mappedBytes + hugePageBytes
        guard let reserved = mmap(nil, reservedBytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
            reserved != MAP_FAILED
        else { return failure() }
        let start = (Int(bitPattern: reserved) + hugePageBytes - 1) / hugePageBytes * hugePageBytes
        let slackBefore = start - Int(bitPattern: reserved)
        guard let mapped = mmap(reserved + slackBefore, byteCount, protection, MAP_SHARED | MAP_FIXED, descriptor, 0),
            mapped != MAP_FAILED
        else {
            let result = failure()
            munmap(reserved, reservedBytes)
            return result
        }
        if slackBefore > 0 { munmap(reserved, slackBefore) }
        let slackAfter = reservedBytes - slackBefore - mappedBytes
        if slackAfter > 0 { munmap(mapped + mappedBytes, slackAfter) }
        return .success(BlockMemory(base: UnsafeRawPointer(mapped), byteCount: byteCount))
    }

    /// Replaces a `writableReservation` by a read-only mapping of the same file at the same addresses (`MAP_FIXED`):
    /// pointers into it stay valid, and the file then has no writable mapping left, as sealing it against writes
    /// requires. Returns the reason on failure (the mapping is then unchanged).
    func remapReadOnly(descriptor: Int32) -> BlockMemoryError? {
        guard let base, byteCount > 0 else { return nil }
        let mapped = mmap(UnsafeMutableRawPointer(mutating: base), byteCount, PROT_READ, MAP_SHARED | MAP_FIXED, descriptor, 0)
        guard mapped != MAP_FAILED else { return BlockMemoryError(message: String(cString: strerror(errno))) }
        return nil
    }

    /// Maps the whole pages covering `bytes` into this process's page tables in one call (`MADV_POPULATE_READ`,
    /// Linux ≥ 5.14), instead of one page fault per 4 KiB page on first read (on the 2-core machine measured,
    /// 15–25 ms instead of 25–37 ms per 160 MiB). Nothing happens where the kernel cannot. Reading a hole of a
    /// shared-memory file gives it a page: only for bytes that hold values.
    public func populate(_ bytes: Range<Int>) {
        let page = 4096
        let first = max(0, bytes.lowerBound) / page * page, end = (min(byteCount, bytes.upperBound) + page - 1) / page * page
        guard let base, first < end else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base + first), end - first, Self.madvisePopulateRead)
    }

    /// `MADV_POPULATE_READ` (Linux uapi asm-generic/mman-common.h), newer than the C library headers Swift imports.
    private static let madvisePopulateRead: Int32 = 22

    /// The address of byte `offset` for writing: only for a `writableReservation` not yet remapped read-only.
    func mutableAddress(at offset: Int) -> UnsafeMutableRawPointer {
        precondition(offset >= 0 && offset <= byteCount, "offset \(offset) outside a mapping of \(byteCount) bytes")
        return UnsafeMutableRawPointer(mutating: base!) + offset
    }

    /// The byte offset of `pointer` in the mapping, or nil when it does not point into it.
    func offset(of pointer: UnsafeRawPointer) -> Int? {
        guard let base, pointer >= base, pointer < base + byteCount else { return nil }
        return pointer - base
    }

    /// Whether the mapping starts on a huge-page boundary (as `mapping` places it).
    public var startsOnHugePage: Bool { address % UInt(Self.hugePageBytes) == 0 }

    /// Asks the kernel to move the whole huge pages inside `bytes` of the file into huge pages (`MADV_COLLAPSE`,
    /// Linux ≥ 6.1, whatever the shmem huge-page setting): a pass over them then misses the TLB 512 times less often
    /// (measured on this project's 2-core machine: an 80 MB read pass 6–9 ms from 4 KiB pages, 3–4 ms from 2 MiB
    /// pages). The values do not change, and every process mapping the file gains. It copies the pages once (about
    /// 50–80 ms per 80 MB there). Returns false when the kernel cannot (an older kernel, no free huge page, a range
    /// shorter than a huge page): nothing changes then.
    public func collapseToHugePages(_ bytes: Range<Int>) -> Bool {
        let huge = Self.hugePageBytes
        let first = (max(0, bytes.lowerBound) + huge - 1) / huge * huge
        let end = min(byteCount, bytes.upperBound) / huge * huge
        guard let base, first < end else { return false }
        return madvise(UnsafeMutableRawPointer(mutating: base + first), end - first, Self.madviseCollapse) == 0
    }

    /// `MADV_COLLAPSE` (Linux uapi asm-generic/mman-common.h), newer than the C library headers Swift imports.
    private static let madviseCollapse: Int32 = 25

    private init(base: UnsafeRawPointer?, byteCount: Int) {
        self.address = UInt(bitPattern: base)
        self.byteCount = byteCount
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), byteCount) }
    }

    /// `count` values of `T` from byte `offset`, or nil when they do not lie inside the mapping or `offset` is not a
    /// multiple of `T`'s alignment.
    func values<T>(_: T.Type, count: Int, at offset: Int) -> UnsafeBufferPointer<T>? {
        let (bytes, overflow) = count.multipliedReportingOverflow(by: MemoryLayout<T>.stride)
        let (end, overflow2) = offset.addingReportingOverflow(bytes)
        guard count >= 0, offset >= 0, !overflow, !overflow2, end <= byteCount,
            offset % MemoryLayout<T>.alignment == 0
        else { return nil }
        guard count > 0, let base else { return UnsafeBufferPointer(start: nil, count: 0) }
        return UnsafeBufferPointer(start: (base + offset).assumingMemoryBound(to: T.self), count: count)
    }

    /// Drops this process's page-table entries for the whole pages covering `bytes` (`MADV_DONTNEED`): the values
    /// stay in the file and are faulted in again if read. Called after copying a block out of the mapping, so the
    /// copy does not count twice in this process's resident memory.
    func releaseResidentPages(of bytes: UnsafeRawBufferPointer) {
        guard let start = bytes.baseAddress, bytes.count > 0 else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let first = Int(bitPattern: start) / page * page
        let last = (Int(bitPattern: start) + bytes.count + page - 1) / page * page
        _ = madvise(UnsafeMutableRawPointer(bitPattern: first), last - first, MADV_DONTNEED)
    }
}

/// Why a file could not be mapped.
public struct BlockMemoryError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
