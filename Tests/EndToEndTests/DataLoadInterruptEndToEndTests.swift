import Foundation
import Testing
import _TestSupport

/// Signals are honoured while the data loads: the readers ask between pieces, not after the whole file.
@Suite("End to end: interrupting the data load", .serialized)
struct DataLoadInterruptEndToEndTests {
    /// The processes whose parent is `pid` (from `/proc/*/stat`: field 4 is the parent).
    static func children(of pid: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> Int32? in
            guard let child = Int32(entry),
                let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return nil }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && Int32(fields[1]) == pid ? child : nil
        }
    }

    /// Whether `pid` has `path` open.
    static func hasOpen(_ pid: Int32, _ path: String) -> Bool {
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
        return descriptors.contains { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)")) == path }
    }

    @Test("SIGTERM while a 60 MB CSV is read stops the read at once: exit 130, no round, the local workers gone")
    func sigtermWhileReadingStopsAtOnce() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        // 4 million rows: about 2 s of reading in a debug build, read in 2 MiB pieces.
        let data = try directory.write("a,b,c,d,label\n" + String(repeating: "1.5,2,3.25,4,0\n", count: 4_000_000), to: "big.csv")
        let train = try ChildProcess(["train", "--data", data, "--workers", "2", "--log-format", "json"], directory: directory.url)
        let reading = train.waitForOutput(timeout: 30) { _, _ in Self.hasOpen(train.pid, data) }
        try #require(reading, "the data file was never opened: \(train.stderr)")
        let workers = Self.children(of: train.pid)
        kill(train.pid, SIGTERM)
        let signalled = Date()
        let status = train.wait(timeout: 30)
        let seconds = Date().timeIntervalSince(signalled)
        #expect(status == 130, "\(train.stderr)")
        #expect(seconds < 1, "exited \(seconds) s after SIGTERM")
        #expect(train.stderr.contains("interrupted while reading the data"), "\(train.stderr)")
        #expect(train.stdout.isEmpty)
        #expect(workers.count == 2, "local workers: \(workers)")
        let deadline = Date().addingTimeInterval(2)
        while workers.contains(where: processIsAlive), Date() < deadline { usleep(10_000) }
        for pid in workers { #expect(!processIsAlive(pid), "worker \(pid) still running") }
    }
}
