#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A read-only memory mapping of a file that blocks can point into (`Block(id:rows:columns:precision:in:at:)`),
/// instead of holding copies of its values.
///
/// Every block made on it keeps it alive; it is unmapped when the last of them (and this reference) is gone.
/// The mapping is shared (`MAP_SHARED`): its pages are the file's own, so mapping a shared-memory file that another
/// process wrote costs neither a copy nor memory of this process beyond the page tables of the pages it reads.
public final class BlockMemory: Sendable {
    /// The first byte's address (0 for an empty mapping): an integer, so that the class is plainly `Sendable`.
    private let address: UInt
    public let byteCount: Int

    private var base: UnsafeRawPointer? { UnsafeRawPointer(bitPattern: address) }

    /// Maps `byteCount` bytes of the open file `descriptor` read-only from its start (the descriptor may be
    /// closed afterwards: the mapping keeps the file). Returns the reason on failure (`strerror` of `mmap`).
    public static func mapping(descriptor: Int32, byteCount: Int) -> Result<BlockMemory, BlockMemoryError> {
        guard byteCount > 0 else { return .success(BlockMemory(base: nil, byteCount: 0)) }
        guard let mapped = mmap(nil, byteCount, PROT_READ, MAP_SHARED, descriptor, 0), mapped != MAP_FAILED else {
            return .failure(BlockMemoryError(message: String(cString: strerror(errno))))
        }
        return .success(BlockMemory(base: UnsafeRawPointer(mapped), byteCount: byteCount))
    }

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
