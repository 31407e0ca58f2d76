import Foundation
import ShardData
import ShardNumerics
import Testing
import _TestSupport

/// gzip input: detected by its magic bytes, decompressed with zlib, read as the plain file is.
extension ShardDataSuite {
    static func gzip(_ path: String, to output: String) throws { try gzipFile(path, to: output) }

    private static func bundled(_ name: String) -> String {
        ReferenceData.repositoryRoot.appendingPathComponent("data/\(name)").path
    }

    @Test("a gzip of each bundled CSV reads to the plain file's dataset, bit for bit, by its magic bytes")
    func gzipGivesThePlainValues() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        for name in ["iris.csv", "breast_cancer.csv", "digits.csv"] {
            let plain = try CSVReader.read(path: Self.bundled(name))
            // Named .gz, and named like a plain CSV: the bytes decide, not the name.
            for compressedName in [name + ".gz", "compressed-" + name] {
                let compressed = directory.path(compressedName)
                try Self.gzip(Self.bundled(name), to: compressed)
                for threads in [1, 2] {
                    let dataset = try CSVReader.read(path: compressed, threads: threads)
                    #expect(dataset.features.map(\.bitPattern) == plain.features.map(\.bitPattern), "\(compressedName)")
                    #expect(dataset.labels.map(\.bitPattern) == plain.labels.map(\.bitPattern))
                    #expect(dataset.featureNames == plain.featureNames && dataset.lineNumbers == plain.lineNumbers)
                }
            }
            #expect(try DataFile.bytes(path: directory.path(name + ".gz")) == Array(try Data(contentsOf: URL(fileURLWithPath: Self.bundled(name)))))
        }
        // A plain file named .gz is read as plain text.
        let misnamed = try directory.write("a,y\n1,0\n", to: "plain.csv.gz")
        #expect(try CSVReader.read(path: misnamed).labels == [0])
    }

    @Test("several gzip members read as one text; truncated or corrupt data and too little memory are refused")
    func gzipMembersAndDamage() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let first = try directory.write("a,y\n1,0\n", to: "first.csv"), second = try directory.write("2,1\n", to: "second.csv")
        try Self.gzip(first, to: directory.path("first.gz"))
        try Self.gzip(second, to: directory.path("second.gz"))
        let one = try Data(contentsOf: directory.url.appendingPathComponent("first.gz"))
        let two = try Data(contentsOf: directory.url.appendingPathComponent("second.gz"))
        let joined = directory.path("joined.csv.gz")
        try (one + two).write(to: URL(fileURLWithPath: joined))
        let dataset = try CSVReader.read(path: joined)
        #expect(dataset.features.map { $0 } == [1, 2] && dataset.labels == [0, 1])

        let truncated = directory.path("truncated.csv.gz")
        try one.prefix(one.count - 5).write(to: URL(fileURLWithPath: truncated))
        #expect(throws: DataError.invalidGzip(path: truncated, detail: "the gzip data is truncated (it ends inside a member)")) {
            try CSVReader.read(path: truncated)
        }
        var damaged = Array(one)
        damaged[damaged.count - 8] ^= 0xFF  // the CRC-32 of the member
        do {
            _ = try Gzip.decompress(damaged, source: "d.gz")
            Issue.record("corrupt gzip data was accepted")
        } catch {
            guard case .invalidGzip(let path, let detail) = error else { throw error }
            #expect(path == "d.gz" && detail.hasPrefix("the gzip data is corrupt near compressed byte"))
        }
        // 1 MB of zeros compresses to about 1 kB; 100 kB of memory cannot hold it.
        let zeros = directory.path("zeros.csv")
        try Data(count: 1_000_000).write(to: URL(fileURLWithPath: zeros))
        try Self.gzip(zeros, to: zeros + ".gz")
        let small = MachineMemory(availableBytes: 100_000, source: "test")
        #expect(throws: DataError.self) {
            try Gzip.decompress(Array(try Data(contentsOf: URL(fileURLWithPath: zeros + ".gz"))), source: "z.gz", memory: small)
        }
        let fits = try Gzip.decompress(
            Array(try Data(contentsOf: URL(fileURLWithPath: zeros + ".gz"))), source: "z.gz",
            memory: MachineMemory(availableBytes: 4_000_000, source: "test"))
        #expect(fits.count == 1_000_000 && fits.allSatisfy { $0 == 0 })
    }
}
