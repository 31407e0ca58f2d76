#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import Foundation
import Synchronization

/// Writing an output file so that readers never see it half-written.
///
/// The bytes go to a hidden temporary file in the same directory (`.NAME.tmp-PID-RANDOM`), are flushed to disk
/// (`fsync`), and the temporary file is renamed over the destination (rename is atomic within one file system);
/// then the directory is flushed so the rename survives a crash. On any failure the temporary file is removed and
/// the previous destination, if any, is left untouched. Temporaries of the same destination left by killed
/// processes are removed by the next write.
public enum AtomicFile {
    public static func write(_ data: Data, to path: String) throws(ArtifactError) {
        try StagedFile(data, for: path).putInPlace()
    }

    /// Throws unless a file can be written at `path` now: its directory exists and accepts new files (a hidden
    /// probe file is created and removed, which also catches read-only file systems and root-owned folders), and
    /// `path` is not a directory, a device, a pipe or a socket (renaming over `/dev/null` would replace the device).
    public static func checkWritable(_ given: String) throws(ArtifactError) {
        // "out/" names a folder whether it exists or not: a file cannot be renamed to it.
        guard !given.hasSuffix("/") else { throw .io(path: given, reason: "names a folder (it ends in /); name a file") }
        let path = try resolvedDestination(given)
        var info = stat()
        if stat(path, &info) == 0 {
            let kind = info.st_mode & S_IFMT
            guard kind != S_IFDIR else { throw .io(path: path, reason: "is a directory; name a file") }
            guard kind == S_IFREG else { throw .io(path: path, reason: "is not a regular file (a device, pipe or socket)") }
        }
        let directory = directoryPath(of: path)
        guard stat(directory, &info) == 0 else {
            throw .io(
                path: path,
                reason: errno == ENOENT
                    ? "the directory \(directory) does not exist"
                    : "cannot reach the directory \(directory): \(String(cString: strerror(errno)))")
        }
        guard info.st_mode & S_IFMT == S_IFDIR else { throw .io(path: path, reason: "\(directory) is not a directory") }
        let probe = hiddenSibling(of: path, tag: "probe")
        let descriptor = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw .io(path: path, reason: "cannot create files in \(directory): \(String(cString: strerror(errno)))")
        }
        close(descriptor)
        unlink(probe)
    }

    /// The file `path` names once symbolic links are followed: an output written through a link replaces the link's
    /// target and keeps the link (a rename over the link would replace the link itself with a file). A link into
    /// /proc or /dev (`/dev/stdout`, `/proc/self/fd/1`) names a stream or a device, which cannot be replaced whole:
    /// refused, naming the link.
    public static func resolvedDestination(_ path: String) throws(ArtifactError) -> String {
        var current = path
        for _ in 0..<40 {
            var info = stat()
            guard lstat(current, &info) == 0, info.st_mode & S_IFMT == S_IFLNK else { return current }
            if current.hasPrefix("/proc/") || current.hasPrefix("/dev/") {
                throw .io(
                    path: path,
                    reason: "is a link to a stream or device (\(current)), not a file that can be replaced whole; "
                        + "name a regular file")
            }
            var target = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let length = readlink(current, &target, target.count - 1)
            guard length >= 0 else { return current }
            let text = String(decoding: target[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            current = text.hasPrefix("/") ? text : directoryPath(of: current) + "/" + text
        }
        throw .io(path: path, reason: "too many levels of symbolic links")
    }

    /// The directory that holds `path` (`.` for a bare file name).
    static func directoryPath(of path: String) -> String {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        return directory.isEmpty ? "." : directory
    }

    /// `DIRECTORY/.NAME.TAG-PID-RANDOM`: a name beside `path` that no other process picks.
    static func hiddenSibling(of path: String, tag: String) -> String {
        let url = URL(fileURLWithPath: path)
        return url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(tag)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
    }

    /// Removes the temporaries and probes of `destination` (`.NAME.tmp-PID-RANDOM`, `.NAME.probe-PID-RANDOM`) whose
    /// process no longer exists: a process killed while writing leaves its temporary behind. A PID that is alive again (reused) keeps its file;
    /// on a folder shared between machines a PID names a process of this machine only, so a temporary of another
    /// machine's live writer may be removed, and that writer's rename then fails (and it rescues its result).
    static func removeAbandonedTemporaries(of destination: String) {
        let directory = directoryPath(of: destination)
        let base = ".\(URL(fileURLWithPath: destination).lastPathComponent)."
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for name in names {
            guard let prefix = ["tmp-", "probe-"].map({ base + $0 }).first(where: name.hasPrefix) else { continue }
            let rest = name.dropFirst(prefix.count)
            guard let dash = rest.firstIndex(of: "-"), let pid = pid_t(rest[..<dash]), pid > 0 else { continue }
            if kill(pid, 0) != 0, errno == ESRCH {
                unlink(URL(fileURLWithPath: directory).appendingPathComponent(name).path)
            }
        }
    }

    /// Flushes the directory entry changes (renames, removals) of `directory` to disk; file systems that cannot
    /// flush a directory are left as they are.
    static func synchronizeDirectory(_ directory: String) {
        let descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        _ = fsync(descriptor)
        close(descriptor)
    }
}

/// An output file written piece by piece (so a large one is never held in memory whole) and put in place the way
/// `AtomicFile.write` does: the pieces go to a hidden temporary file beside the destination, `commit` flushes it to
/// disk and renames it over the destination. A writer released without `commit`, or whose write failed, removes its
/// temporary file and leaves the destination as it was.
public final class AtomicFileWriter {
    public let destination: String
    let temporary: String
    /// The open temporary file; -1 once it is closed (staged, failed or abandoned).
    private var descriptor: Int32

    /// Creates the temporary file in the directory of `destination` (after removing the temporaries that killed
    /// writers left there).
    public init(destination given: String) throws(ArtifactError) {
        let destination = try AtomicFile.resolvedDestination(given)
        let directory = AtomicFile.directoryPath(of: destination)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw .io(path: destination, reason: "directory \(directory) does not exist")
        }
        AtomicFile.removeAbandonedTemporaries(of: destination)
        let temporary = AtomicFile.hiddenSibling(of: destination, tag: "tmp")
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
        guard descriptor >= 0 else {
            throw .io(path: destination, reason: "cannot create \(temporary): \(String(cString: strerror(errno)))")
        }
        self.destination = destination
        self.temporary = temporary
        self.descriptor = descriptor
        PendingTemporaries.add(temporary)
    }

    deinit { abandon() }

    /// Appends `bytes` (all of them, retrying short writes and EINTR).
    public func write(_ bytes: UnsafeRawBufferPointer) throws(ArtifactError) {
        guard descriptor >= 0 else { throw .io(path: destination, reason: "write after the file was closed") }
        var done = 0
        while done < bytes.count {
            let count = systemWrite(descriptor, bytes.baseAddress! + done, bytes.count - done)
            if count < 0 {
                if errno == EINTR { continue }
                let reason = "write failed: \(String(cString: strerror(errno)))"
                abandon()
                throw .io(path: destination, reason: reason)
            }
            done += count
        }
    }

    public func write(_ bytes: [UInt8]) throws(ArtifactError) {
        var failure: ArtifactError?
        bytes.withUnsafeBytes { buffer in
            do throws(ArtifactError) { try write(buffer) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Flushes and closes the temporary file: complete on disk, not yet in place.
    func stage() throws(ArtifactError) -> StagedFile {
        guard descriptor >= 0 else { throw .io(path: destination, reason: "the file was already closed") }
        var failure: String?
        if fsync(descriptor) != 0 { failure = "fsync failed: \(String(cString: strerror(errno)))" }
        if close(descriptor) != 0, failure == nil { failure = "close failed: \(String(cString: strerror(errno)))" }
        descriptor = -1
        if let failure {
            PendingTemporaries.discard(temporary)
            throw .io(path: destination, reason: failure)
        }
        return StagedFile(destination: destination, temporary: temporary)
    }

    /// Flushes the file and renames it over the destination.
    public func commit() throws(ArtifactError) { try stage().putInPlace() }

    /// Closes and removes the temporary file (nothing when it is already closed).
    private func abandon() {
        guard descriptor >= 0 else { return }
        close(descriptor)
        descriptor = -1
        PendingTemporaries.discard(temporary)
    }
}

/// The temporary files of the writes in progress in this process, so that a process ended at once (a second Ctrl-C,
/// or Ctrl-C in a command that writes without a round loop to check) removes them first: no half-written file is
/// left beside an output.
public enum PendingTemporaries {
    private static let paths = Mutex<Set<String>>([])

    static func add(_ path: String) { _ = paths.withLock { $0.insert(path) } }
    /// The temporary at `path` is in place (renamed): no longer pending.
    static func remove(_ path: String) { _ = paths.withLock { $0.remove(path) } }

    /// Deletes the temporary at `path` (a write that failed or was abandoned).
    static func discard(_ path: String) {
        unlink(path)
        remove(path)
    }

    /// Removes every temporary file of a write in progress (the destinations stay as they were); only those in
    /// `directory` when it is given.
    public static func removeAll(in directory: String? = nil) {
        for path in paths.withLock({ $0 }) where directory.map({ AtomicFile.directoryPath(of: path) == $0 }) ?? true {
            unlink(path)
        }
    }
}

/// write(2), named apart from `AtomicFileWriter.write`.
private func systemWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, bytes, count)
}

/// Bytes written and flushed to a hidden temporary file beside their destination, not yet in place.
struct StagedFile {
    let destination: String
    let temporary: String

    /// Writes `data` to a new temporary file in the directory of `destination` and flushes it to disk.
    init(_ data: Data, for destination: String) throws(ArtifactError) {
        let writer = try AtomicFileWriter(destination: destination)
        var failure: ArtifactError?
        data.withUnsafeBytes { bytes in
            do throws(ArtifactError) { try writer.write(bytes) } catch { failure = error }
        }
        if let failure { throw failure }
        self = try writer.stage()
    }

    init(destination: String, temporary: String) {
        self.destination = destination
        self.temporary = temporary
    }

    /// Renames the temporary file over the destination and flushes the directory; on failure the temporary file is
    /// removed and the destination is left as it was.
    func putInPlace() throws(ArtifactError) {
        guard rename(temporary, destination) == 0 else {
            let reason = String(cString: strerror(errno))
            discard()
            throw .io(path: destination, reason: "rename failed: \(reason)")
        }
        PendingTemporaries.remove(temporary)
        AtomicFile.synchronizeDirectory(AtomicFile.directoryPath(of: destination))
    }

    func discard() { PendingTemporaries.discard(temporary) }
}

/// An output file that could not be written or read back.
public enum ArtifactError: Error, Sendable, Equatable, CustomStringConvertible {
    case io(path: String, reason: String)
    case format(path: String, reason: String)
    /// Work on the file was stopped on request (an interrupted run's input digest).
    case cancelled(path: String)

    public var description: String {
        switch self {
        case .io(let path, let reason): "\(path): \(reason)"
        case .format(let path, let reason): "\(path): not a valid file: \(reason)"
        case .cancelled(let path): "\(path): cancelled"
        }
    }
}
