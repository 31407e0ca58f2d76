import Foundation
import ShardData
import Synchronization
import Testing
import _TestSupport

/// A data file written, truncated or replaced while it is read is refused as such: never a crash (a mapped file
/// that shrinks is SIGBUS), never a dataset of part of the file.
extension ShardDataSuite {
    /// A cancellation hook that runs `change` once, the first time the reader asks (before its first chunk or
    /// piece), and never cancels.
    private static func changing(_ change: @escaping @Sendable () -> Void) -> ReadCancellation {
        let done = Mutex(false)
        return ReadCancellation {
            if done.withLock({ let first = !$0; $0 = true; return first }) { change() }
            return false
        }
    }

    @Test("a .npy truncated, rewritten or replaced while it is read fails with 'the file changed', and reads whole otherwise")
    func numpyChangedWhileRead() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let rows = 6000, width = 41
        let values = (0..<rows * width).map { Double($0 % 977) * 0.5 }
        let path = folder.path("x.npy")
        for change in ["truncate", "rewrite", "replace", "none"] {
            try NumpyFixture.write(values, shape: [rows, width], to: path)
            let hook = Self.changing {
                switch change {
                case "truncate": _ = truncate(path, 5000)
                case "rewrite":
                    // The same size, other bytes, a later modification time.
                    usleep(20_000)
                    try? NumpyFixture.write(values.map { $0 + 1 }, shape: [rows, width], to: path)
                case "replace":
                    let other = path + ".new"
                    try? NumpyFixture.write(values, shape: [rows, width], to: other)
                    _ = rename(other, path)
                default: break
                }
            }
            if change == "none" {
                let dataset = try NumpyReader.read(path: path, cancellation: hook)
                #expect(dataset.rowCount == rows)
            } else {
                #expect(throws: DataError.fileChanged(path: path), "\(change)") {
                    try NumpyReader.read(path: path, cancellation: hook)
                }
            }
        }
    }

    @Test("a CSV truncated or appended to while it is read fails with 'the file changed'")
    func csvChangedWhileRead() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        // Larger than one wave of pieces on one thread (4 × 2 MiB), so that pieces are read after the change.
        var text = (0..<11).map { "c\($0)" }.joined(separator: ",") + "\n"
        for row in 0..<300_000 { text += (0..<11).map { String((row * 7 + $0) % 1000) }.joined(separator: ",") + "\n" }
        let path = try folder.write(text, to: "big.csv")
        let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        try #require(size > 8 << 20)
        for change in ["truncate", "append"] {
            try text.write(toFile: path, atomically: false, encoding: .utf8)
            let hook = Self.changing {
                if change == "truncate" {
                    _ = truncate(path, off_t(size / 2))
                } else if let handle = FileHandle(forWritingAtPath: path) {
                    handle.seekToEndOfFile()
                    handle.write(Data("1,2,3,4,5,6,7,8,9,10,1\n".utf8))
                    try? handle.close()
                }
            }
            #expect(throws: DataError.fileChanged(path: path), "\(change)") {
                try CSVReader.read(path: path, threads: 1, cancellation: hook)
            }
        }
    }
}
