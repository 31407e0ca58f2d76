import ArgumentParser
import Foundation

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

    static func sameFile(_ a: String, _ b: String) -> Bool {
        let resolved = { (path: String) in URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path }
        if resolved(a) == resolved(b) { return true }
        var first = stat(), second = stat()
        guard stat(a, &first) == 0, stat(b, &second) == 0 else { return false }
        return first.st_dev == second.st_dev && first.st_ino == second.st_ino
    }
}
