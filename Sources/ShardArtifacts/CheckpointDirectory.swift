import Foundation

/// A folder of checkpoint files, `checkpoint-<round, 10 digits>.stc`, of which the newest two are kept.
///
/// A file is one header line and the payload:
///
/// ```text
/// shardtrain-checkpoint 1 bytes=<payload length> sha256=<hex SHA-256 of the payload>\n<payload>
/// ```
///
/// Each is written atomically (`AtomicFile`: temporary file, fsync, rename; then the folder is fsynced so the
/// rename survives a power cut). Reading checks the length and the digest, so a truncated or damaged file is
/// recognised; `newest()` then falls back to the previous file and says why.
public struct CheckpointDirectory: Sendable {
    public let path: String
    /// Files kept after each write.
    public static let kept = 2
    static let magic = "shardtrain-checkpoint 1"

    public init(path: String) {
        self.path = path
    }

    /// A checkpoint file that could be read back.
    public struct Loaded: Sendable {
        public let path: String
        public let round: Int
        public let payload: Data
        /// Newer files that were skipped, with the reason (empty when the newest file is good).
        public let skipped: [(path: String, reason: String)]
    }

    /// Writes `payload` as the checkpoint of `round` (replacing one of the same round), then removes all but the
    /// newest `kept` files. Creates the folder if needed. Returns the file's path.
    @discardableResult
    public func write(_ payload: Data, round: Int) throws(ArtifactError) -> String {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw .io(path: path, reason: "cannot create the checkpoint folder: \(error.localizedDescription)")
        }
        let file = filePath(round: round)
        let header = "\(Self.magic) bytes=\(payload.count) sha256=\(Digest.sha256Hex([UInt8](payload)))\n"
        try AtomicFile.write(Data(header.utf8) + payload, to: file)
        syncFolder()
        for (_, old) in try files().dropFirst(Self.kept) {
            try? FileManager.default.removeItem(atPath: old)
        }
        return file
    }

    /// The newest checkpoint whose length and digest check out; nil when the folder has no checkpoint files.
    /// Throws when there are files but none is intact.
    public func newest() throws(ArtifactError) -> Loaded? {
        var skipped: [(path: String, reason: String)] = []
        for (round, file) in try files() {
            do {
                let payload = try Self.read(file)
                return Loaded(path: file, round: round, payload: payload, skipped: skipped)
            } catch {
                skipped.append((file, error.description))
            }
        }
        guard skipped.isEmpty else {
            throw .format(
                path: path, reason: "no intact checkpoint: " + skipped.map { "\($0.path): \($0.reason)" }.joined(separator: "; "))
        }
        return nil
    }

    /// The payload of one checkpoint file, after checking its header, length and digest.
    public static func read(_ file: String) throws(ArtifactError) -> Data {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw .io(path: file, reason: "cannot read")
        }
        guard let newline = data.firstIndex(of: UInt8(ascii: "\n")),
            let header = String(data: data[data.startIndex..<newline], encoding: .utf8)
        else {
            throw .format(path: file, reason: "no checkpoint header line")
        }
        let fields = header.split(separator: " ")
        guard fields.count == 4, "\(fields[0]) \(fields[1])" == magic, fields[2].hasPrefix("bytes="),
            let length = Int(fields[2].dropFirst(6)), fields[3].hasPrefix("sha256=")
        else {
            throw .format(path: file, reason: "the header is not \"\(magic) bytes=N sha256=HEX\"")
        }
        let payload = data[(newline + 1)...]
        guard payload.count == length else {
            throw .format(path: file, reason: "truncated: \(payload.count) of \(length) payload bytes")
        }
        let digest = Digest.sha256Hex([UInt8](payload))
        guard digest == fields[3].dropFirst(7) else {
            throw .format(path: file, reason: "checksum mismatch (the payload's SHA-256 is \(digest))")
        }
        return Data(payload)
    }

    func filePath(round: Int) -> String {
        let digits = String(round)
        return URL(fileURLWithPath: path)
            .appendingPathComponent("checkpoint-\(String(repeating: "0", count: max(0, 10 - digits.count)))\(digits).stc").path
    }

    /// The checkpoint files of the folder with their rounds, newest first.
    func files() throws(ArtifactError) -> [(round: Int, path: String)] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: path)
        } catch {
            if !FileManager.default.fileExists(atPath: path) { return [] }
            throw .io(path: path, reason: "cannot list the checkpoint folder: \(error.localizedDescription)")
        }
        return names.compactMap { name -> (Int, String)? in
            guard name.hasPrefix("checkpoint-"), name.hasSuffix(".stc"),
                let round = Int(name.dropFirst("checkpoint-".count).dropLast(".stc".count))
            else { return nil }
            return (round, URL(fileURLWithPath: path).appendingPathComponent(name).path)
        }.sorted { $0.0 > $1.0 }
    }

    /// fsync of the folder, so that the rename of a new file is on disk too (best effort).
    private func syncFolder() {
        let descriptor = open(path, O_RDONLY | O_DIRECTORY)
        guard descriptor >= 0 else { return }
        _ = fsync(descriptor)
        close(descriptor)
    }
}
