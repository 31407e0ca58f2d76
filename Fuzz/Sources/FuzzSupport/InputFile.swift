#if canImport(Glibc)
    import Glibc
#endif

/// Hands the `size` bytes at `data` to `read` as a file, for readers that take a path. The file lives in the
/// folder `$SHARDTRAIN_FUZZ_DIR` (scripts/fuzz.sh makes one in /dev/shm: memory, no disk writes per input, and
/// removes it) or /tmp, and is named after the process, so parallel fuzzers never share it. Returns 0, the
/// value libFuzzer expects from `LLVMFuzzerTestOneInput`.
public func throughFile(
    _ data: UnsafePointer<UInt8>, _ size: Int, suffix: String, _ read: (_ path: String) -> Void
) -> CInt {
    let folder = getenv("SHARDTRAIN_FUZZ_DIR").map { String(cString: $0) } ?? "/tmp"
    let path = "\(folder)/shardtrain-fuzz-\(getpid())\(suffix)"
    let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    precondition(descriptor >= 0, "cannot create \(path)")
    var written = 0
    while written < size {
        let count = write(descriptor, data + written, size - written)
        precondition(count > 0, "cannot write \(path)")
        written += count
    }
    close(descriptor)
    read(path)
    return 0
}
