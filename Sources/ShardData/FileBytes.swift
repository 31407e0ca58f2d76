#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads a whole file into memory with POSIX calls, so failures carry the system's reason
/// (`No such file or directory`, `Permission denied`, `Is a directory`).
func readFileBytes(path: String) throws(DataError) -> [UInt8] {
    func failure() -> DataError {
        .fileUnreadable(path: path, reason: String(cString: strerror(errno)))
    }
    let descriptor = open(path, O_RDONLY)
    guard descriptor >= 0 else { throw failure() }
    defer { close(descriptor) }
    var info = stat()
    guard fstat(descriptor, &info) == 0 else { throw failure() }
    var bytes: [UInt8] = []
    bytes.reserveCapacity(Int(info.st_size) + 1)
    let chunkSize = 1 << 20
    var chunk = [UInt8](repeating: 0, count: chunkSize)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, chunkSize) }
        if count < 0 {
            if errno == EINTR { continue }
            throw failure()
        }
        if count == 0 { break }
        bytes += chunk[0..<count]
    }
    return bytes
}
