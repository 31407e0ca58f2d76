#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import Foundation

/// One output file: where it goes and its bytes.
public struct OutputFile: Sendable {
    public var path: String
    public var contents: Data

    public init(path: String, contents: Data) {
        self.path = path
        self.contents = contents
    }
}

/// The output files of one run, put in place as one transaction.
///
/// POSIX renames one name at a time, so two files can never change at the same instant. The set therefore has a
/// record: the file that vouches for the others (a run's summary, which carries the model's `parameters_sha256`).
///
/// ```text
/// 1. stage    every file goes to a hidden temporary beside its destination, flushed (fsync); nothing visible changes
/// 2. retract  the previous record is removed (directory flushed)
/// 3. place    the other files are renamed over their destinations in order, then the record (each directory flushed)
/// ```
///
/// At every instant — a `kill -9` or a power cut included — the destinations hold the previous set, or files
/// without a record, or the complete new set: a record beside a file of another run never exists. A failure while
/// staging (disk full, directory gone) leaves every destination as it was. On any failure the complete new set is
/// written to a rescue folder instead, and the error says where.
public struct OutputSet: Sendable {
    public var files: [OutputFile]
    public var record: OutputFile?

    public init(files: [OutputFile], record: OutputFile?) {
        self.files = files
        self.record = record
    }

    /// Commits the set (steps above). `betweenSteps` runs after each staged file, after the retraction and after each
    /// rename (end-to-end tests slow the commit down with it to kill the process inside every step).
    ///
    /// On failure: the temporaries not yet placed are removed, and the complete new set is written to a new folder
    /// `shardtrain-unsaved-DATE-PID` in the first of `rescueFolders` that takes it.
    public func commit(rescueFolders: [String], betweenSteps: () -> Void = {}) throws(OutputSetError) {
        let ordered = files + (record.map { [$0] } ?? [])
        var staged: [StagedFile] = []
        var placedCount = 0
        var retracted: String?
        do throws(ArtifactError) {
            for file in ordered {
                staged.append(try StagedFile(file.contents, for: file.path))
                betweenSteps()
            }
            if let record {
                // The file the record's path names (through a link: its target; the link stays).
                let previous = try AtomicFile.resolvedDestination(record.path)
                if unlink(previous) == 0 {
                    retracted = record.path
                } else if errno != ENOENT {
                    throw .io(path: record.path, reason: "cannot remove the previous file: \(String(cString: strerror(errno)))")
                }
                AtomicFile.synchronizeDirectory(AtomicFile.directoryPath(of: previous))
                betweenSteps()
            }
            for file in staged {
                try file.putInPlace()
                placedCount += 1
                betweenSteps()
            }
        } catch {
            for file in staged[placedCount...] { file.discard() }
            throw OutputSetError(
                failure: error, placed: ordered.prefix(placedCount).map(\.path), retracted: retracted,
                rescue: Self.rescue(ordered, in: rescueFolders))
        }
    }

    /// Writes `files` by their base names into a new folder in the first of `folders` that takes them all.
    static func rescue(_ files: [OutputFile], in folders: [String]) -> OutputSetError.Rescue {
        var failures: [ArtifactError] = []
        let stamp = DateFormatter()
        stamp.dateFormat = "yyyyMMdd-HHmmss"
        stamp.timeZone = TimeZone(identifier: "UTC")
        let name = "shardtrain-unsaved-\(stamp.string(from: Date()))-\(getpid())"
        for parent in folders {
            let folder = URL(fileURLWithPath: parent).appendingPathComponent(name).path
            guard mkdir(folder, 0o755) == 0 || errno == EEXIST else {
                failures.append(.io(path: folder, reason: "cannot create the folder: \(String(cString: strerror(errno)))"))
                continue
            }
            var copies: [(destination: String, copy: String)] = []
            do throws(ArtifactError) {
                for (index, file) in files.enumerated() {
                    var base = URL(fileURLWithPath: file.path).lastPathComponent
                    if copies.contains(where: { URL(fileURLWithPath: $0.copy).lastPathComponent == base }) {
                        base = "\(index)-\(base)"
                    }
                    let copy = URL(fileURLWithPath: folder).appendingPathComponent(base).path
                    try AtomicFile.write(file.contents, to: copy)
                    copies.append((file.path, copy))
                }
                return .saved(copies)
            } catch {
                failures.append(error)
            }
        }
        return .failed(failures)
    }
}

/// Why an output set was not (completely) put in place, what already was, and where the new files went instead.
public struct OutputSetError: Error, Sendable, CustomStringConvertible {
    public enum Rescue: Sendable {
        /// Each destination with the path of its copy.
        case saved([(destination: String, copy: String)])
        /// Every rescue folder refused, for these reasons.
        case failed([ArtifactError])
        /// Nothing to rescue: the files could not even be encoded.
        case notAttempted
    }

    public let failure: ArtifactError
    /// The destinations that already hold their new contents.
    public let placed: [String]
    /// The record whose previous version was removed (it vouched for files that were about to change).
    public let retracted: String?
    public let rescue: Rescue

    public init(failure: ArtifactError, placed: [String], retracted: String? = nil, rescue: Rescue) {
        self.failure = failure
        self.placed = placed
        self.retracted = retracted
        self.rescue = rescue
    }

    public var description: String {
        var text = "the outputs could not be written: \(failure)"
        text += placed.isEmpty ? "; no output file was replaced" : "; already replaced: \(placed.joined(separator: ", "))"
        if let retracted, !placed.contains(retracted) { text += "; the earlier \(retracted) was removed" }
        switch rescue {
        case .saved(let copies):
            text += "; the complete result was saved instead as "
                + copies.map { "\($0.copy) (for \($0.destination))" }.joined(separator: ", ")
        case .failed(let failures):
            text += "; it could not be saved elsewhere either"
                + (failures.isEmpty ? "" : " (\(failures.map(\.description).joined(separator: "; ")))")
        case .notAttempted:
            break
        }
        return text
    }
}
