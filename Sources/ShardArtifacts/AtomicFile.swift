import Foundation

/// Writing an output file so that readers never see it half-written.
///
/// The bytes go to a temporary file in the same directory, are flushed to disk, and the temporary file is
/// renamed over the destination (rename is atomic within one file system). On any failure the temporary
/// file is removed and the previous destination, if any, is left untouched.
public enum AtomicFile {
    public static func write(_ data: Data, to path: String) throws(ArtifactError) {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent()
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue
        else {
            throw .io(path: path, reason: "directory \(directory.path) does not exist")
        }
        let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        let created = FileManager.default.createFile(atPath: temporary.path, contents: nil)
        guard created, let handle = try? FileHandle(forWritingTo: temporary) else {
            throw .io(path: path, reason: "cannot create \(temporary.path): \(String(cString: strerror(errno)))")
        }
        do {
            try handle.write(contentsOf: data)
            try handle.synchronize()
            try handle.close()
        } catch {
            try? handle.close()
            try? FileManager.default.removeItem(at: temporary)
            throw .io(path: path, reason: "write failed: \(error.localizedDescription)")
        }
        guard rename(temporary.path, url.path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temporary)
            throw .io(path: path, reason: "rename failed: \(reason)")
        }
    }
}

/// An output file that could not be written or read back.
public enum ArtifactError: Error, Sendable, Equatable, CustomStringConvertible {
    case io(path: String, reason: String)
    case format(path: String, reason: String)

    public var description: String {
        switch self {
        case .io(let path, let reason): "\(path): \(reason)"
        case .format(let path, let reason): "\(path): not a valid file: \(reason)"
        }
    }
}
