import Foundation
import ShardData
import ShardNumerics
import Testing
import _TestSupport

/// Features kept in chunks of whole rows: the values never depend on the chunking, and float64 blocks cut on the
/// chunk boundaries share the chunks' memory instead of copying it.
extension ShardDataSuite {
    /// A dataset of `rows × columns` distinct values (value = row·1000 + column + 0.5), labels alternating 0/1.
    private static func numbered(rows: Int, columns: Int) throws -> Dataset {
        try Dataset(
            sourcePath: "numbered", featureNames: (0..<columns).map { "f\($0)" }, labelName: "y",
            features: (0..<rows * columns).map { (index: Int) -> Double in
                Double(index / columns * 1000 + index % columns) + 0.5
            },
            labels: (0..<rows).map { Double($0 % 2) })
    }

    /// The address of an array's first value (equal addresses: the same memory, not a copy).
    private static func address<T>(_ values: [T]) -> UnsafeRawPointer? {
        values.withUnsafeBytes { $0.baseAddress }
    }

    private static func address(_ chunk: FeatureChunk) -> UnsafeRawPointer? {
        chunk.withValues { $0.baseAddress.map(UnsafeRawPointer.init) }
    }

    private static func float64Values(_ block: Block) -> (features: [Double], labels: [Double])? {
        guard case .float64(let features, let labels) = block.storage else { return nil }
        return (features, labels)
    }

    @Test("re-chunking keeps every value in row order, for any old and new chunk size")
    func rechunkKeepsValues() throws {
        var random = SplitMix64(seed: 11)
        for trial in 0..<40 {
            let rows = 1 + Int(random.next() % 90), columns = 1 + Int(random.next() % 5)
            let dataset = try Self.numbered(rows: rows, columns: columns)
            let flat = Array(dataset.features)
            var features = dataset.features
            for _ in 0..<3 {
                let chunkRows = 1 + Int(random.next() % UInt64(rows + 3))
                features.rechunk(rows: chunkRows)
                #expect(features.chunkRows == chunkRows, "trial \(trial)")
                #expect(features.chunks.count == (rows + chunkRows - 1) / chunkRows, "trial \(trial)")
                #expect(features.chunks.dropLast().allSatisfy { $0.count == chunkRows * columns }, "trial \(trial)")
                #expect(Array(features) == flat, "trial \(trial)")
                #expect(features == dataset.features, "trial \(trial): equality ignores the chunking")
            }
        }
    }

    @Test("shared blocks see the same rows as copied blocks, and float64 ones share the dataset's memory")
    func sharedBlocksSeeTheSameRows() throws {
        let original = try Self.numbered(rows: 103, columns: 3)
        for blockRows in [1, 7, 16, 103, 500] {
            for precision in Precision.allCases {
                let copied = try original.makeBlocks(blockRows: blockRows, precision: precision)
                var dataset = original
                let shared = try dataset.makeSharedBlocks(blockRows: blockRows, precision: precision)
                #expect(shared == copied, "blocks of \(blockRows), \(precision)")
                #expect(dataset.features == original.features)
                guard precision == .float64 else { continue }
                #expect(dataset.features.chunkRows == blockRows)
                for (block, chunk) in zip(shared, dataset.features.chunks) {
                    let blockFeatures = try #require(Self.float64Values(block)).features
                    #expect(Self.address(blockFeatures) == Self.address(chunk), "block \(block.id)")
                }
            }
        }
    }

    @Test("float32 shared blocks hold the dataset's values: its chunks become the blocks, read as Double(Float(x))")
    func float32BlocksReplaceTheFeatures() throws {
        var random = SplitMix64(seed: 32)
        let (rows, columns) = (103, 3)
        // Values that float32 rounds (tenths, and some beyond float's 24 bits).
        let values = (0..<rows * columns).map { _ in (random.nextUniform(-50, 50) * 10).rounded() / 10 + 1e-9 }
        let original = try Dataset(
            sourcePath: "tenths", featureNames: ["a", "b", "c"], labelName: "y", features: values,
            labels: (0..<rows).map { Double($0 % 3) })
        for blockRows in [1, 7, 16, 103, 500] {
            let copied = try original.makeBlocks(blockRows: blockRows, precision: .float32)
            var dataset = original
            let shared = try dataset.makeSharedBlocks(blockRows: blockRows, precision: .float32)
            #expect(shared == copied, "blocks of \(blockRows)")
            #expect(dataset.features.chunks.count == shared.count)
            for (block, chunk) in zip(shared, dataset.features.chunks) {
                guard case .float32Block(let held) = chunk else {
                    Issue.record("chunk \(block.id) of \(blockRows)-row blocks is not its block")
                    continue
                }
                #expect(held == block)
            }
            #expect(Array(dataset.features) == values.map { Double(Float($0)) })
            #expect(dataset.features != original.features, "float32 rounds these values")
            // Blocks made again from the narrowed values are the same bits; so are selections of its rows.
            #expect(try dataset.makeBlocks(blockRows: blockRows, precision: .float32) == copied)
            let picked = try dataset.selectingRows([5, 0, 102])
            #expect(Array(picked.features) == [5, 0, 102].flatMap { row in
                (0..<columns).map { Double(Float(values[row * columns + $0])) }
            })
        }
    }

    @Test("selection, shuffling and standardisation give the values of the flat computation")
    func chunkedTransformationsMatchFlatOnes() throws {
        var dataset = try Self.numbered(rows: 50, columns: 4)
        let flat = Array(dataset.features)
        _ = try dataset.makeSharedBlocks(blockRows: 7, precision: .float64)
        let indices = [49, 3, 7, 8, 0, 21, 14]
        let selected = try dataset.selectingRows(indices)
        #expect(Array(selected.features) == indices.flatMap { flat[$0 * 4..<($0 + 1) * 4] })
        #expect(selected.features.chunkRows == 7)
        let oneChunk = try Self.numbered(rows: 50, columns: 4)
        let scaled = try Standardization.fit(to: dataset).apply(to: dataset)
        let scaledFlat = try Standardization.fit(to: oneChunk).apply(to: oneChunk)
        #expect(Array(scaled.features).map(\.bitPattern) == Array(scaledFlat.features).map(\.bitPattern))
    }

    @Test("rows in shared memory hold the same values, are re-cut there, and keep value semantics when rewritten")
    func sharedMemoryChunks() throws {
        let arena = try SharedArena(reservedBytes: 64 << 20)
        let dataset = try Self.numbered(rows: 50, columns: 4)
        let inArena = try dataset.selectingRows(Array(0..<50), in: arena)
        func allShared(_ rows: FeatureRows) -> Bool { rows.chunks.allSatisfy { if case .shared = $0 { true } else { false } } }
        #expect(allShared(inArena.features))
        #expect(inArena.features == dataset.features)
        var recut = inArena.features
        recut.rechunk(rows: 7)
        #expect(allShared(recut) && recut.chunks.count == 8)
        #expect(recut == dataset.features)
        // Standardising rewrites chunks in place only where nothing else holds them: `kept` still reads the original.
        let kept = inArena
        let scaled = try Standardization.fit(to: inArena).apply(to: inArena)
        #expect(kept.features == dataset.features)
        let expected = try Standardization.fit(to: dataset).apply(to: dataset)
        #expect(Array(scaled.features).map(\.bitPattern) == Array(expected.features).map(\.bitPattern))
        // Once sealed, nothing is written in place any more: a rewrite makes arrays.
        try arena.seal()
        var sealed = try dataset.selectingRows(Array(0..<50), in: arena)
        #expect(!allShared(sealed.features), "a sealed arena hands out no pieces")
        sealed = try Standardization.fit(to: kept).apply(to: kept)
        #expect(Array(sealed.features).map(\.bitPattern) == Array(expected.features).map(\.bitPattern))
        #expect(kept.features == dataset.features)
    }

    @Test("a large CSV is read into chunks of the default block size, which its default blocks share")
    func csvChunksAreTheDefaultBlocks() throws {
        let columns = 40, rows = 7000
        let chunkRows = BlockPlan.chunkRows(featureCount: columns, bytesPerValue: 8)
        #expect(chunkRows == 816)
        var text = (0...columns).map { "c\($0)" }.joined(separator: ",") + "\n"
        for row in 0..<rows {
            text += (0...columns).map { String(row * 100 + $0) }.joined(separator: ",") + "\n"
        }
        var dataset = try CSVReader.parse(bytes: Array(text.utf8), source: "t.csv", threads: 2, pieceBytes: 4096)
        #expect(dataset.features.chunkRows == chunkRows)
        #expect(dataset.features[6999 * columns + 39] == Double(6999 * 100 + 39))
        let blockRows = BlockPlan.defaultBlockRows(rowCount: rows, featureCount: columns, bytesPerValue: 8)
        #expect(blockRows == chunkRows)
        let chunksBefore = dataset.features.chunks.map { Self.address($0) }
        let blocks = try dataset.makeSharedBlocks(blockRows: blockRows, precision: .float64)
        #expect(blocks.map { Self.address(Self.float64Values($0)!.features) } == chunksBefore)
    }

    @Test("a wave of pieces spanning several chunks is assembled the same on any thread count and piece size")
    func csvWavesAcrossChunks() throws {
        let columns = 300, rows = 1500  // chunks of 96 rows; pieces of 16 KiB hold about 12 rows
        var random = SplitMix64(seed: 5)
        var text = (0...columns).map { "c\($0)" }.joined(separator: ",") + "\n"
        for _ in 0..<rows {
            text += (0...columns).map { _ in String(random.next() % 1000) }.joined(separator: ",") + "\n"
        }
        let bytes = Array(text.utf8)
        let whole = try CSVReader.parse(bytes: bytes, source: "w.csv", threads: 1, pieceBytes: bytes.count)
        #expect(whole.features.chunkRows == 96 && whole.features.chunks.count == 16)
        for (threads, pieceBytes) in [(2, 16 << 10), (3, 5_000), (1, 100_000)] {
            let split = try CSVReader.parse(bytes: bytes, source: "w.csv", threads: threads, pieceBytes: pieceBytes)
            #expect(split.features.chunks == whole.features.chunks, "\(threads) threads, pieces of \(pieceBytes)")
            #expect(split.labels == whole.labels)
        }
    }

    @Test("a .npy is read in chunks on every core, leaves its file unchanged, and names the first bad row")
    func numpyChunks() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("npy-chunks-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let rows = 5000, width = 65  // 64 features: chunks of 512 rows
        let values = (0..<rows * width).map { Double($0) * 0.25 - 7 }
        let path = folder.appendingPathComponent("x.npy").path
        try NumpyFixture.write(values, shape: [rows, width], to: path)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let dataset = try NumpyReader.read(path: path)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        #expect(dataset.features.chunkRows == 512)
        let features: [Double] = (0..<rows).flatMap { (row: Int) -> ArraySlice<Double> in
            values[row * width..<row * width + 64]
        }
        let labels: [Double] = (0..<rows).map { (row: Int) -> Double in values[row * width + 64] }
        #expect(Array(dataset.features) == features)
        #expect(dataset.labels == labels)

        // Two bad values in different chunks: the first in row order is reported, whichever thread finds it.
        var bad = values
        bad[4321 * width + 3] = .infinity
        bad[1234 * width + 10] = .nan
        let badPath = folder.appendingPathComponent("bad.npy").path
        try NumpyFixture.write(bad, shape: [rows, width], to: badPath)
        let firstBad = DataError.nonFiniteValue(path: badPath, line: 1235, column: 11, columnName: "f10", text: "nan")
        #expect(throws: firstBad) { try NumpyReader.read(path: badPath) }
    }
}
