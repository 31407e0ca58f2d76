import ArgumentParser
import Foundation
import ShardArtifacts

/// Output files must never be input files: a run that writes its summary over its training CSV destroys the
/// user's data. Two paths are the same file when they resolve (symbolic links followed, `.`/`..` removed) to the
/// same path, or when both exist with the same device and inode (hard links).
enum OutputPaths {
    /// Throws a `ValidationError` naming both flags when an output names the same file as an input or as another
    /// output. Absent (nil) paths are skipped.
    static func refuseClashes(outputs: [(flag: String, path: String?)], inputs: [(flag: String, path: String?)]) throws {
        let given = outputs.compactMap { entry in entry.path.map { (entry.flag, $0) } }
        let read = inputs.compactMap { entry in entry.path.map { (entry.flag, $0) } }
        for (index, (flag, path)) in given.enumerated() {
            for (inputFlag, inputPath) in read where sameFile(path, inputPath) {
                throw ValidationError("\(flag) \(path) names the same file as \(inputFlag) \(inputPath): it would be overwritten; write elsewhere")
            }
            for (otherFlag, otherPath) in given[(index + 1)...] where sameFile(path, otherPath) {
                throw ValidationError("\(flag) and \(otherFlag) name the same file \(path): one would overwrite the other")
            }
        }
    }

    /// Throws a `ValidationError` naming the flag, the path and the reason unless every given output can be written
    /// now (`AtomicFile.checkWritable`), so that a run never trains for hours to then fail at saving.
    /// Before any data is read: `--resume` must be a folder; the folder checkpoints go into (`--checkpoint`, else the
    /// `--resume` one) must be a folder this process can write, or one it can create — and a new run refuses a folder
    /// that already holds another run's checkpoints (keeping the newest two by round would delete the new run's).
    static func checkCheckpointFolders(checkpoint: String?, resume: String?) throws {
        var isDirectory: ObjCBool = false
        if let resume {
            guard FileManager.default.fileExists(atPath: resume, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ValidationError("--resume \(resume): no such folder (it is the --checkpoint folder of the run to continue)")
            }
        }
        guard let checkpoint else { return }
        if FileManager.default.fileExists(atPath: checkpoint, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw ValidationError("--checkpoint \(checkpoint): not a folder") }
            guard access(checkpoint, W_OK | X_OK) == 0 else {
                throw ValidationError("--checkpoint \(checkpoint): this process cannot write into it")
            }
            let continuing = resume.map { sameFile($0, checkpoint) } ?? false
            let existing = ((try? FileManager.default.contentsOfDirectory(atPath: checkpoint)) ?? [])
                .filter { $0.hasPrefix("checkpoint-") && $0.hasSuffix(".stc") }.sorted()
            if !continuing, let newest = existing.last {
                throw ValidationError(
                    "--checkpoint \(checkpoint) already holds checkpoints of a run (newest: \(newest)): continue it with "
                        + "--resume \(checkpoint), or give an empty folder for a new run")
            }
        } else {
            // Made now (the run will write into it anyway): whatever would stop it later stops it here.
            guard mkdir(checkpoint, 0o755) == 0 else {
                throw ValidationError("--checkpoint \(checkpoint): cannot create the folder: \(String(cString: strerror(errno)))")
            }
        }
    }

    /// A report is one HTML page: a path with another extension (`report.pdf`) would hold HTML under a wrong name.
    static func refuseOtherThanHTML(flag: String, path: String) throws {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return }
        let suffix = name[name.index(after: dot)...].lowercased()
        guard suffix != "html", suffix != "htm" else { return }
        throw ValidationError("\(flag) \(path): the report is an HTML page; name it .html (a browser prints it to PDF)")
    }

    static func refuseUnwritable(_ outputs: [(flag: String, path: String?)]) throws {
        for (flag, path) in outputs {
            guard let path else { continue }
            if flag == "--report" { try refuseOtherThanHTML(flag: flag, path: path) }
            do { try AtomicFile.checkWritable(path) } catch { throw ValidationError("\(flag) \(error)") }
        }
    }

    /// Where a run's result goes when its output files cannot be written at the end: the system's temporary folder
    /// (`TMPDIR`, else `/tmp`).
    static var rescueFolders: [String] { [FileManager.default.temporaryDirectory.path] }

    /// For a run that ends without saving: the output files that already exist, which are an earlier run's and were
    /// left as they were (nil when there are none).
    static func earlierRunNote(_ outputs: [(flag: String, path: String?)]) -> String? {
        let stamp = ISO8601DateFormatter()
        let existing = outputs.compactMap { entry -> String? in
            guard let path = entry.path,
                let attributes = try? FileManager.default.attributesOfItem(atPath: path),
                let modified = attributes[.modificationDate] as? Date
            else { return nil }
            return "\(path) (written \(stamp.string(from: modified)))"
        }
        guard !existing.isEmpty else { return nil }
        return "nothing was saved; these files are from an earlier run and were left as they were: "
            + existing.joined(separator: ", ")
    }

    /// Seconds to pause after each step of writing the outputs, from `SHARDTRAIN_TEST_OUTPUT_STEP_PAUSE`. Only for
    /// tests: the end-to-end tests kill the process inside every step of the commit with it.
    static var testPauseBetweenSteps: () -> Void {
        guard let text = ProcessInfo.processInfo.environment["SHARDTRAIN_TEST_OUTPUT_STEP_PAUSE"],
            let seconds = Double(text), seconds > 0
        else { return {} }
        return { usleep(useconds_t(seconds * 1e6)) }
    }

    static func sameFile(_ a: String, _ b: String) -> Bool {
        let resolved = { (path: String) in URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path }
        if resolved(a) == resolved(b) { return true }
        var first = stat(), second = stat()
        guard stat(a, &first) == 0, stat(b, &second) == 0 else { return false }
        return first.st_dev == second.st_dev && first.st_ino == second.st_ino
    }
}
