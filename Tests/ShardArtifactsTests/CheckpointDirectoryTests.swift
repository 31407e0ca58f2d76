import Foundation
import ShardArtifacts
import Testing
import _TestSupport

@Suite("Checkpoint folder")
struct CheckpointDirectoryTests {
    static func payload(_ round: Int) -> Data { Data("{\"round\":\(round),\"pad\":\"\(String(repeating: "x", count: 200))\"}".utf8) }

    static func checkpointFiles(_ folder: TemporaryDirectory) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder.url.path).sorted()
    }

    @Test("each write keeps the newest two checkpoints (by round) and leaves no temporary file")
    func lastTwoKept() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let directory = CheckpointDirectory(path: folder.path("run"))
        for round in [5, 10, 15, 20] { try directory.write(Self.payload(round), round: round) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
            == ["checkpoint-0000000015.stc", "checkpoint-0000000020.stc"])
        // The same round again replaces its file.
        try directory.write(Self.payload(20) + Data(" ".utf8), round: 20)
        let newest = try #require(try directory.newest())
        #expect(newest.round == 20 && newest.payload == Self.payload(20) + Data(" ".utf8) && newest.skipped.isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).count == 2)
    }

    @Test("a truncated or altered newest checkpoint falls back to the previous one, saying why", arguments: ["truncated", "altered", "no header"])
    func damagedNewestFallsBack(damage: String) throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let directory = CheckpointDirectory(path: folder.url.path)
        try directory.write(Self.payload(7), round: 7)
        let newestPath = try directory.write(Self.payload(14), round: 14)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: newestPath))
        switch damage {
        case "truncated": bytes = bytes.prefix(bytes.count - 20)
        case "altered": bytes[bytes.count - 5] ^= 0x01
        default: bytes = Self.payload(14)
        }
        try bytes.write(to: URL(fileURLWithPath: newestPath))
        let loaded = try #require(try directory.newest())
        #expect(loaded.round == 7 && loaded.payload == Self.payload(7))
        let reason = try #require(loaded.skipped.first)
        #expect(reason.path == newestPath)
        let expected = ["truncated": "truncated: ", "altered": "checksum mismatch", "no header": "header"][damage]!
        #expect(reason.reason.contains(expected), "\(reason.reason)")
    }

    @Test("a folder with only damaged checkpoints is an error; an empty or missing one has none")
    func nothingIntact() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let directory = CheckpointDirectory(path: folder.url.path)
        #expect(try directory.newest() == nil)
        #expect(try CheckpointDirectory(path: folder.path("missing")).newest() == nil)
        let path = try directory.write(Self.payload(3), round: 3)
        try Data("shardtrain-checkpoint 1 bytes=3 sha256=00\nabc".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: ArtifactError.self) { try directory.newest() }
    }

    @Test("a file truncated or appended to while it is hashed is an error, not the digest of a mix of versions")
    func fileDigestOfAChangingFile() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let bytes = (0..<(9 << 20)).map { UInt8($0 % 251) }
        let path = folder.path("data.bin")
        for change in ["truncate", "append"] {
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            var asked = 0
            #expect(throws: ArtifactError.self, "\(change)") {
                try Digest.sha256Hex(fileAt: path) {
                    asked += 1
                    if asked == 2 {
                        if change == "truncate" {
                            _ = truncate(path, 1000)
                        } else if let handle = FileHandle(forWritingAtPath: path) {
                            handle.seekToEndOfFile()
                            handle.write(Data("more".utf8))
                            try? handle.close()
                        }
                    }
                    return false
                }
            }
        }
    }

    @Test("the streaming file digest equals the digest of the bytes, across 4 MiB pieces")
    func fileDigest() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        // A byte pattern with period 251 (prime, so no piece boundary lines up with it).
        let bytes = (0..<(9 << 20) + 13).map { UInt8($0 % 251) }
        let path = folder.path("data.bin")
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(try Digest.sha256Hex(fileAt: path) == Digest.sha256Hex(bytes))
        // FIPS 180-2 "abc" from a file.
        #expect(try Digest.sha256Hex(fileAt: folder.write("abc", to: "abc.txt"))
            == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(throws: ArtifactError.self) { try Digest.sha256Hex(fileAt: folder.path("absent")) }
        // Cancelled after the first of its three pieces: it stops there.
        var asked = 0
        #expect(throws: ArtifactError.cancelled(path: path)) {
            try Digest.sha256Hex(fileAt: path) {
                asked += 1
                return asked > 1
            }
        }
        #expect(asked == 2)
    }
}
