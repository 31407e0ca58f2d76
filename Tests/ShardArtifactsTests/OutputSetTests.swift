import Foundation
import ShardArtifacts
import Testing
import _TestSupport

/// The output files of a run change as one transaction: at no step does a summary sit beside a model of another run.
@Suite("Output sets")
struct OutputSetTests {
    /// What the destinations hold: the contents of each, nil when absent.
    static func state(_ paths: [String]) -> [String?] {
        paths.map { try? String(contentsOfFile: $0, encoding: .utf8) }
    }

    @Test("every intermediate state is the old set, files without their record, or the new set")
    func stepsNeverMixARecordWithAnotherRunsFile() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let model = directory.path("model"), report = directory.path("report"), summary = directory.path("summary")
        let paths = [model, report, summary]
        try OutputSet(files: [.init(path: model, contents: Data("model 1".utf8)), .init(path: report, contents: Data("report 1".utf8))],
            record: .init(path: summary, contents: Data("summary 1".utf8))
        ).commit(rescueFolders: [])
        #expect(Self.state(paths) == ["model 1", "report 1", "summary 1"])
        var states: [[String?]] = []
        try OutputSet(
            files: [.init(path: model, contents: Data("model 2".utf8)), .init(path: report, contents: Data("report 2".utf8))],
            record: .init(path: summary, contents: Data("summary 2".utf8))
        ).commit(rescueFolders: []) { states.append(Self.state(paths)) }
        #expect(
            states == [
                // Staging the three files changes nothing visible.
                ["model 1", "report 1", "summary 1"], ["model 1", "report 1", "summary 1"],
                ["model 1", "report 1", "summary 1"],
                // The record goes first, comes back last.
                ["model 1", "report 1", nil], ["model 2", "report 1", nil], ["model 2", "report 2", nil],
                ["model 2", "report 2", "summary 2"],
            ])
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.url.path).sorted() == ["model", "report", "summary"])
    }

    @Test("a staging failure changes no destination, removes its temporaries and rescues the whole set")
    func stagingFailureRescuesTheSet() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let model = directory.path("gone/model"), summary = directory.path("summary")
        try AtomicFile.write(Data("summary 1".utf8), to: summary)
        let rescue = directory.path("rescue")
        try FileManager.default.createDirectory(atPath: rescue, withIntermediateDirectories: false)
        let set = OutputSet(
            files: [.init(path: model, contents: Data("model 2".utf8))], record: .init(path: summary, contents: Data("summary 2".utf8)))
        let error = try #require(throws: OutputSetError.self) {
            try set.commit(rescueFolders: [directory.path("no-such-folder"), rescue])
        }
        #expect(error.placed.isEmpty && error.retracted == nil)
        #expect(Self.state([summary]) == ["summary 1"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.url.path).sorted() == ["rescue", "summary"])
        guard case .saved(let copies) = error.rescue else {
            Issue.record("not rescued: \(error)")
            return
        }
        #expect(copies.map(\.destination) == [model, summary])
        #expect(Self.state(copies.map(\.copy)) == ["model 2", "summary 2"])
        #expect(error.description.contains("no output file was replaced"))
        #expect(error.description.contains("\(copies[0].copy) (for \(model))"))
    }

    @Test("when no rescue folder takes the set the error says so, with each folder's reason")
    func rescueFailureIsReported() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let set = OutputSet(files: [], record: .init(path: directory.path("gone/summary"), contents: Data("s".utf8)))
        let error = try #require(throws: OutputSetError.self) {
            try set.commit(rescueFolders: [directory.path("missing-1"), directory.path("missing-2")])
        }
        guard case .failed(let failures) = error.rescue else {
            Issue.record("rescued unexpectedly: \(error)")
            return
        }
        #expect(failures.count == 2)
        #expect(error.description.contains("could not be saved elsewhere either"))
        #expect(error.description.contains("missing-2"))
    }

    @Test("a write removes the temporaries a killed writer left beside its destination, not those of live ones")
    func abandonedTemporariesAreRemoved() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let finished = Process()
        finished.executableURL = URL(fileURLWithPath: "/bin/true")
        try finished.run()
        finished.waitUntilExit()
        let abandoned = ".model.tmp-\(finished.processIdentifier)-7", live = ".model.tmp-\(getpid())-8"
        let otherFile = ".summary.tmp-\(finished.processIdentifier)-9", probe = ".model.probe-\(finished.processIdentifier)-5"
        for name in [abandoned, live, otherFile, probe] { try Data("x".utf8).write(to: directory.url.appendingPathComponent(name)) }
        try AtomicFile.write(Data("model".utf8), to: directory.path("model"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.url.path).sorted() == [live, otherFile, "model"])
    }

    @Test("checkWritable refuses directories, devices, missing folders, non-folders and folders that take no files")
    func writabilityChecks() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try AtomicFile.checkWritable(directory.path("new.json"))
        try AtomicFile.write(Data("x".utf8), to: directory.path("old.json"))
        try AtomicFile.checkWritable(directory.path("old.json"))
        let file = directory.path("old.json")
        // Root writes into folders without write permission; /proc takes no new files from anyone.
        let locked = directory.path("locked")
        try FileManager.default.createDirectory(atPath: locked, withIntermediateDirectories: false)
        chmod(locked, 0o555)
        defer { chmod(locked, 0o755) }
        let unwritable = geteuid() == 0 ? "/proc" : locked
        let cases: [(String, String)] = [
            (directory.url.path, "is a directory"),
            (directory.path("sub") + "/", "names a folder (it ends in /)"),
            (directory.path("old.json") + "/", "names a folder (it ends in /)"),
            ("/dev/null", "is not a regular file"),
            (directory.path("missing/x.json"), "the directory \(directory.path("missing")) does not exist"),
            (file + "/x.json", "\(file) is not a directory"),
            (unwritable + "/x.json", "cannot create files in \(unwritable)"),
        ]
        for (path, reason) in cases {
            let error = try #require(throws: ArtifactError.self, "\(path)") { try AtomicFile.checkWritable(path) }
            #expect(error.description.hasPrefix(path + ": ") && error.description.contains(reason), "\(error)")
        }
        // The probe leaves nothing behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.url.path).sorted() == ["locked", "old.json"])
    }
}
