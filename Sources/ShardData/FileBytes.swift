#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The failure of a POSIX call on `path`, with the system's reason.
private func fileFailure(_ path: String) -> DataError {
    .fileUnreadable(path: path, reason: String(cString: strerror(errno)))
}

/// Opens `path` for reading and returns the descriptor and the file's size, refusing anything but a regular
/// file: a directory (`Is a directory`), a FIFO (which would block until a writer comes), a character device
/// such as `/dev/zero` (endless) or a socket. The open is non-blocking, so a FIFO without a writer is refused
/// at once rather than waited on.
func openRegularFile(_ path: String) throws(DataError) -> (descriptor: Int32, info: stat) {
    let descriptor = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
    guard descriptor >= 0 else { throw fileFailure(path) }
    var info = stat()
    guard fstat(descriptor, &info) == 0 else {
        let failure = fileFailure(path)
        close(descriptor)
        throw failure
    }
    let kind = info.st_mode & S_IFMT
    guard kind == S_IFREG else {
        close(descriptor)
        let reason: String
        switch kind {
        case S_IFDIR: reason = String(cString: strerror(EISDIR))
        case S_IFIFO: reason = "not a regular file (a named pipe); write the data to a file first"
        case S_IFCHR, S_IFBLK: reason = "not a regular file (a device)"
        default: reason = "not a regular file"
        }
        throw .fileUnreadable(path: path, reason: reason)
    }
    return (descriptor, info)
}

/// Whole input files, for readers outside this module (the same checks as the CSV reader's: a regular file,
/// failures with the system's reason).
public enum DataFile {
    /// The bytes of the regular file at `path`, decompressed when it is gzip (`Gzip`).
    public static func bytes(path: String) throws(DataError) -> [UInt8] {
        let bytes = try readFileBytes(path: path)
        return Gzip.isCompressed(bytes) ? try Gzip.decompress(bytes, source: path) : bytes
    }

    /// A regular file opened for reading, with the checks of every reader here (no FIFO, device or directory; the
    /// system's reason on failure); the caller closes the descriptor.
    public static func openRegular(path: String) throws(DataError) -> (descriptor: Int32, info: stat) {
        try openRegularFile(path)
    }

    /// Whether the open file `descriptor` and the file at `path` are still the version `opened` (see
    /// `ByteFile.checkUnchanged`): for a reader outside this module that must not mix two versions of a file.
    public static func isUnchanged(descriptor: Int32, path: String, since opened: stat) -> Bool {
        var now = stat(), named = stat()
        return fstat(descriptor, &now) == 0 && stat(path, &named) == 0 && FileVersion(now) == FileVersion(opened)
            && FileVersion(named) == FileVersion(opened)
    }

    /// Whether `bytes` start with the NumPy `.npy` magic string `\x93NUMPY`.
    public static func isNumpy(_ bytes: [UInt8]) -> Bool {
        bytes.starts(with: [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59])
    }
}

/// Reads a whole file into memory with POSIX calls, so failures carry the system's reason
/// (`No such file or directory`, `Permission denied`, `Is a directory`).
func readFileBytes(path: String) throws(DataError) -> [UInt8] {
    let file = try ByteFile(path: path)
    return try file.bytes(at: 0, count: file.size)
}

/// Random-access reads of a byte range, so pieces of a large input can be read (and dropped) one at a time.
protocol ByteSource: Sendable {
    /// Where the bytes come from, for messages.
    var name: String { get }
    var size: Int { get }
    /// Fills `buffer` from `offset` on; returns the number of bytes read (less only at the end of the source).
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws(DataError) -> Int
    /// Throws `.fileChanged` when the source is a file that changed since it was opened (see `ByteFile`).
    func checkUnchanged() throws(DataError)
}

extension ByteSource {
    /// Bytes in memory cannot change.
    func checkUnchanged() throws(DataError) {}

    /// Up to `count` bytes from `offset` (fewer at the end of the source).
    func bytes(at offset: Int, count: Int) throws(DataError) -> [UInt8] {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 16)
        defer { buffer.deallocate() }
        let read = try self.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count]), at: offset)
        return Array(UnsafeRawBufferPointer(rebasing: buffer[0..<read]))
    }
}

/// An open file read with `pread` (safe from several threads at once).
final class ByteFile: ByteSource {
    let name: String
    let size: Int
    private let descriptor: Int32
    /// The file as it was opened.
    private let opened: stat

    init(path: String) throws(DataError) {
        let (descriptor, info) = try openRegularFile(path)
        self.name = path
        self.size = Int(info.st_size)
        self.descriptor = descriptor
        self.opened = info
    }

    /// Throws `.fileChanged` when the open file's size or modification time, or the file the path names, is no
    /// longer what it was when it was opened: called once everything is read, so that a file written, truncated or
    /// replaced meanwhile is refused instead of read in part (and hashed as another version).
    func checkUnchanged() throws(DataError) {
        guard DataFile.isUnchanged(descriptor: descriptor, path: name, since: opened) else { throw .fileChanged(path: name) }
    }

    deinit { close(descriptor) }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws(DataError) -> Int {
        var done = 0
        while done < buffer.count {
            let count = pread(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
            if count < 0 {
                if errno == EINTR { continue }
                throw fileFailure(name)
            }
            if count == 0 { break }
            done += count
        }
        return done
    }
}

/// What tells two versions of a file apart: device, inode, size and modification time (to the nanosecond).
struct FileVersion: Equatable {
    let device: UInt64, inode: UInt64, size: Int64, seconds: Int, nanoseconds: Int

    init(_ info: stat) {
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        size = Int64(info.st_size)
        seconds = info.st_mtim.tv_sec
        nanoseconds = info.st_mtim.tv_nsec
    }
}

/// Bytes already in memory.
struct ByteArray: ByteSource {
    let name: String
    let bytes: [UInt8]
    var size: Int { bytes.count }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws(DataError) -> Int {
        let count = max(0, min(buffer.count, bytes.count - offset))
        guard count > 0 else { return 0 }
        bytes.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<offset + count])) }
        return count
    }
}
