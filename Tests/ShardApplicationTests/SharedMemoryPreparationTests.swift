import Foundation
@testable import ShardApplication
import ShardData
import ShardModels
import ShardNumerics
import Testing
import _TestSupport

/// Data prepared for local worker processes (`prepare(…, sharedMemory: true)`): read into a sealed shared-memory
/// file, every block a view of it, and the same blocks, dataset and test rows as the preparation in arrays.
@Suite struct SharedMemoryPreparationTests {
    /// Both preparations of `configuration`, after checking that the shared one's blocks are views of its arena.
    static func bothWays(_ configuration: DataConfiguration, kind: ModelKind = .logistic) throws
        -> (arrays: PreparedData, shared: PreparedData)
    {
        let arrays = try TrainingJob.prepare(configuration, for: kind)
        let shared = try TrainingJob.prepare(configuration, for: kind, sharedMemory: true)
        #expect(arrays.arena == nil)
        let arena = try #require(shared.arena, "the arena could not be sealed")
        #expect(arena.isSealed)
        var previous = -1
        for block in shared.blocks {
            let offset = try #require(block.viewOffset(in: arena.memory), "block \(block.id) is not a view of the arena")
            #expect(offset % 64 == 0)
            // In block order in the file, so that each worker's run of blocks lies together.
            #expect(offset > previous, "block \(block.id)")
            previous = offset
        }
        return (arrays, shared)
    }

    static func expectSame(_ arrays: PreparedData, _ shared: PreparedData, _ comment: Comment) {
        #expect(shared.blocks == arrays.blocks, comment)
        #expect(shared.blockRows == arrays.blockRows, comment)
        #expect(shared.dataset.features == arrays.dataset.features, comment)
        #expect(shared.dataset.labels == arrays.dataset.labels, comment)
        #expect(shared.test?.features == arrays.test?.features, comment)
        #expect(shared.standardization == arrays.standardization, comment)
    }

    @Test("a bundled CSV in any precision, block size, selection, shuffle and standardisation: the same blocks as in arrays")
    func bundledCSV() throws {
        let path = ReferenceData.repositoryRoot.appendingPathComponent("data/breast_cancer.csv").path
        for precision in Precision.allCases {
            for blockRows in [nil, 16, 1000] as [Int?] {
                for (shuffle, standardize, testFraction) in [(false, false, nil), (true, true, 0.25), (true, false, nil)] as [(Bool, Bool, Double?)] {
                    let configuration = DataConfiguration(
                        path: path, testFraction: testFraction, seed: 7, shuffleTrainingRows: shuffle, standardize: standardize,
                        precision: precision, blockRows: blockRows)
                    let (arrays, shared) = try Self.bothWays(configuration)
                    Self.expectSame(arrays, shared, "\(precision), \(blockRows.map(String.init) ?? "default") rows, shuffle \(shuffle), standardize \(standardize)")
                }
            }
        }
    }

    @Test("text labels, a categorical column and missing cells filled (the schema's re-encoded rows) go to shared memory too")
    func schemaEncodedCSV() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        var random = SplitMix64(seed: 9)
        var lines = ["x,colour,y,label"]
        for row in 0..<300 {
            let x = row % 17 == 0 ? "" : String(random.nextUniform(-5, 5))
            lines.append("\(x),\(["red", "green", "blue"][row % 3]),\(random.nextUniform(0, 1)),\(row % 4 == 0 ? "fraud" : "ok")")
        }
        let path = try folder.write(lines.joined(separator: "\n") + "\n", to: "mixed.csv")
        var configuration = DataConfiguration(path: path, blockRows: 32)
        configuration.schema = SchemaOptions(missing: .mean)
        let (arrays, shared) = try Self.bothWays(configuration)
        Self.expectSame(arrays, shared, "schema-encoded CSV")
        #expect(shared.dataset.featureCount == 5)
    }

    @Test("a .npy with its labels file: the default blocks are the chunks read, their labels written after them")
    func numpyInput() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let rows = 3000, columns = 40
        var random = SplitMix64(seed: 4)
        let values = (0..<rows * columns).map { _ in random.nextUniform(-2, 2) }
        let labels = (0..<rows).map { _ in Double(random.next() & 1) }
        let x = folder.url.appendingPathComponent("x.npy").path, y = folder.url.appendingPathComponent("y.npy").path
        try NumpyFixture.write(values, shape: [rows, columns], to: x)
        try NumpyFixture.write(labels, shape: [rows], to: y)
        for precision in Precision.allCases {
            let configuration = DataConfiguration(path: x, labelsPath: y, precision: precision)
            let (arrays, shared) = try Self.bothWays(configuration)
            Self.expectSame(arrays, shared, ".npy, \(precision)")
            #expect(shared.blocks.count > 2)
            if precision == .float32 {
                // The float64 values are let go: the dataset reads its features from the blocks, in both ways.
                for prepared in [arrays, shared] {
                    let views = prepared.dataset.features.chunks.compactMap { chunk -> Block? in
                        if case .float32Block(let block) = chunk { return block }
                        return nil
                    }
                    #expect(views == prepared.blocks)
                }
                #expect(Array(shared.dataset.features) == values.map { Double(Float($0)) })
            }
            guard precision == .float64, let arena = shared.arena else { continue }
            // Float64 blocks of whole chunks are the chunks themselves: the values were never copied again.
            for (block, chunk) in zip(shared.blocks, shared.dataset.features.chunks) {
                guard case .shared(let piece) = chunk else {
                    Issue.record("chunk of block \(block.id) is not in shared memory")
                    continue
                }
                #expect(block.viewOffset(in: arena.memory) == piece.offset)
            }
        }
    }
}
