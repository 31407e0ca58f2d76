import Foundation
import ShardData
import Testing

@Suite("Inputs that are not regular files")
struct NonRegularFileTests {
    @Test("a device is refused at once, not read for ever (/dev/zero) or as empty (/dev/null)", arguments: ["/dev/zero", "/dev/null"])
    func device(path: String) {
        #expect(throws: DataError.fileUnreadable(path: path, reason: "not a regular file (a device)")) {
            _ = try CSVReader.read(path: path)
        }
        #expect(throws: DataError.fileUnreadable(path: path, reason: "not a regular file (a device)")) {
            _ = try NumpyReader.read(path: path)
        }
    }

    @Test("a named pipe without a writer is refused at once instead of blocking the open")
    func namedPipe() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("shardtrain-fifo-\(UUID().uuidString)").path
        #expect(mkfifo(path, 0o600) == 0)
        defer { unlink(path) }
        let start = ContinuousClock.now
        #expect(
            throws: DataError.fileUnreadable(
                path: path, reason: "not a regular file (a named pipe); write the data to a file first")
        ) {
            _ = try CSVReader.read(path: path)
        }
        #expect(ContinuousClock.now - start < .seconds(5))
    }
}
