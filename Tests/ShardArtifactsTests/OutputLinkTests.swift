import Foundation
import ShardArtifacts
import Testing
import _TestSupport

/// Outputs named through symbolic links, and the temporary files of writes in progress.
@Suite("Outputs through links and interrupted writes")
struct OutputLinkTests {
    static func isLink(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFLNK
    }

    @Test("an output named through a link (existing target, dangling, chained, relative) replaces the target and keeps the link")
    func writesThroughLinks() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try FileManager.default.createDirectory(atPath: folder.path("target"), withIntermediateDirectories: false)
        try Data("old".utf8).write(to: URL(fileURLWithPath: folder.path("target/real.json")))
        try FileManager.default.createSymbolicLink(atPath: folder.path("link.json"), withDestinationPath: "target/real.json")
        try FileManager.default.createSymbolicLink(atPath: folder.path("chain.json"), withDestinationPath: folder.path("link.json"))
        try FileManager.default.createSymbolicLink(atPath: folder.path("dangling.csv"), withDestinationPath: "target/new.csv")
        try AtomicFile.checkWritable(folder.path("link.json"))
        try AtomicFile.write(Data("through the link".utf8), to: folder.path("link.json"))
        #expect(Self.isLink(folder.path("link.json")))
        #expect(try String(contentsOfFile: folder.path("target/real.json"), encoding: .utf8) == "through the link")
        try AtomicFile.write(Data("through the chain".utf8), to: folder.path("chain.json"))
        #expect(Self.isLink(folder.path("chain.json")) && Self.isLink(folder.path("link.json")))
        #expect(try String(contentsOfFile: folder.path("target/real.json"), encoding: .utf8) == "through the chain")
        try AtomicFile.write(Data("new".utf8), to: folder.path("dangling.csv"))
        #expect(Self.isLink(folder.path("dangling.csv")))
        #expect(try String(contentsOfFile: folder.path("target/new.csv"), encoding: .utf8) == "new")
        // The transaction's record (a run's summary) is retracted through the link too: the link stays.
        try OutputSet(files: [], record: .init(path: folder.path("link.json"), contents: Data("record".utf8)))
            .commit(rescueFolders: [])
        #expect(Self.isLink(folder.path("link.json")))
        #expect(try String(contentsOfFile: folder.path("target/real.json"), encoding: .utf8) == "record")
    }

    @Test("a link to standard output or another stream (/dev/stdout, /proc/self/fd/N) is refused, naming the link")
    func streamLinksAreRefused() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try FileManager.default.createSymbolicLink(atPath: folder.path("out.json"), withDestinationPath: "/proc/self/fd/1")
        for path in ["/dev/stdout", folder.path("out.json")] {
            #expect(throws: ArtifactError.self, "\(path)") { try AtomicFile.checkWritable(path) }
            #expect(throws: ArtifactError.self, "\(path)") { try AtomicFile.write(Data("x".utf8), to: path) }
        }
        #expect(Self.isLink("/dev/stdout"))
    }

    @Test("the temporary file of a write in progress is removed by PendingTemporaries.removeAll (here: of this folder only, as other tests write meanwhile), the destination kept")
    func pendingTemporariesAreRemoved() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let destination = folder.path("out.csv")
        try Data("old".utf8).write(to: URL(fileURLWithPath: destination))
        let writer = try AtomicFileWriter(destination: destination)
        try writer.write(Array("half of it".utf8))
        func temporaries() throws -> [String] {
            try FileManager.default.contentsOfDirectory(atPath: folder.url.path).filter { $0.hasPrefix(".out.csv.tmp-") }
        }
        #expect(try temporaries().count == 1)
        PendingTemporaries.removeAll(in: folder.url.path)
        #expect(try temporaries().isEmpty)
        #expect(try String(contentsOfFile: destination, encoding: .utf8) == "old")
        // A committed write is no longer pending: removeAll leaves it alone.
        let second = try AtomicFileWriter(destination: destination)
        try second.write(Array("new".utf8))
        try second.commit()
        PendingTemporaries.removeAll(in: folder.url.path)
        #expect(try String(contentsOfFile: destination, encoding: .utf8) == "new")
    }
}
