/// Throughput of a gradient pass (any model's block sums) against a read-only pass over the same bytes.
///
/// Data: a `rows × columns` matrix of values in [-1, 1) from SplitMix64(seed), stored in `precision`, with
/// a score per row
///
///     t_i = x_i · v + (u_i - 0.5),   v_j = (j even ? 1 : -1) / sqrt(columns),  u_i in [0, 1)
///
/// and labels by `labels`: `binary` y_i = [t_i > 0]; `signed` y_i = t_i > 0 ? +1 : -1; `real` y_i = t_i;
/// `classes(K)` y_i = the index of t_i among K equal-width bins of [-1.5, 1.5] (clamped to 0…K−1).
/// Rows are cut into blocks of `blockRows` rows (the last one shorter). For each thread count, after one
/// warm-up of each pass:
///
///     gradient time = best of `repetitions` runs of `pass` over all blocks
///                     (ParallelBlocks, one BlockSumsBuffer slot per block)
///     read time     = best of `repetitions` runs of ReadPass.checksum over all blocks (same runner)
///     bytes         = rows · (columns + 1) · precision.byteWidth        (features + labels)
///     rows/s        = rows / gradient time
///     gradient GB/s = bytes / gradient time / 1e9,  read GB/s = bytes / read time / 1e9
///     ratio         = gradient GB/s / read GB/s
///
/// The two passes alternate (gradient, read, gradient, …) so that both see the same machine load. The
/// per-block sums are reduced in block order (`totals`), so they are identical for every thread count.
public enum GradientBenchmark {
    /// How the labels of the synthetic rows are made (see the type's documentation).
    public enum Labels: Sendable, Equatable {
        case binary
        case signed
        case real
        case classes(Int)
    }

    /// Writes one block's sums (`sumsWidth` values) into the slot; must only depend on the block.
    public typealias BlockPass = @Sendable (_ block: Block, _ sums: UnsafeMutableBufferPointer<Double>) -> Void

    public struct Configuration: Sendable, Equatable {
        public var rows: Int
        public var columns: Int
        public var blockRows: Int
        public var precision: Precision
        public var labels: Labels
        public var threadCounts: [Int]
        public var repetitions: Int
        public var seed: UInt64

        public init(
            rows: Int = 1_000_000, columns: Int = 20, blockRows: Int = 4096, precision: Precision = .float32,
            labels: Labels = .binary, threadCounts: [Int] = [1, 2], repetitions: Int = 5, seed: UInt64 = 0x5EED
        ) {
            self.rows = rows
            self.columns = columns
            self.blockRows = blockRows
            self.precision = precision
            self.labels = labels
            self.threadCounts = threadCounts
            self.repetitions = repetitions
            self.seed = seed
        }

        /// Bytes of features and labels read by one pass.
        public var bytes: Int { rows * (columns + 1) * precision.byteWidth }
    }

    public struct Measurement: Sendable, Equatable {
        public let threads: Int
        public let gradientSeconds: Double
        public let readSeconds: Double
        public let rowsPerSecond: Double
        public let gradientGBPerSecond: Double
        public let readGBPerSecond: Double
        /// gradientGBPerSecond / readGBPerSecond.
        public let ratio: Double
        /// Σ over blocks (in block order) of the block sums, unnormalised.
        public let totals: [Double]
        /// Σ over blocks of ReadPass.checksum.
        public let readChecksum: Double
    }

    public struct Result: Sendable, Equatable {
        public let configuration: Configuration
        public let blockCount: Int
        /// Bytes of features and labels read by one pass.
        public let bytes: Int
        public let measurements: [Measurement]
    }

    /// The benchmark's blocks (see the type's documentation for the data).
    public static func makeBlocks(_ configuration: Configuration) throws(GradientBenchmarkError) -> [Block] {
        let rows = configuration.rows
        let columns = configuration.columns
        let blockRows = configuration.blockRows
        guard rows >= 1, columns >= 1, blockRows >= 1 else {
            throw .invalidConfiguration("rows (\(rows)), columns (\(columns)) and blockRows (\(blockRows)) must be >= 1")
        }
        if case .classes(let count) = configuration.labels, count < 2 {
            throw .invalidConfiguration("class labels need at least 2 classes, got \(count)")
        }
        var generator = SplitMix64(seed: configuration.seed)
        let direction = generatingDirection(columns: columns)
        var blocks: [Block] = []
        blocks.reserveCapacity((rows + blockRows - 1) / blockRows)
        var start = 0
        while start < rows {
            let count = min(blockRows, rows - start)
            var features = [Float](repeating: 0, count: count * columns)
            var labels = [Float](repeating: 0, count: count)
            for row in 0..<count {
                var score = 0.0
                for column in 0..<columns {
                    let value = Float(generator.nextUnit() * 2 - 1)
                    features[row * columns + column] = value
                    score += Double(value) * direction[column]
                }
                labels[row] = label(score: score + (generator.nextUnit() - 0.5), kind: configuration.labels)
            }
            let storage: BlockStorage =
                switch configuration.precision {
                case .float32: .float32(features: features, labels: labels)
                case .float64: .float64(features: features.map(Double.init), labels: labels.map(Double.init))
                }
            do {
                blocks.append(try Block(id: blocks.count, rows: count, columns: columns, storage: storage))
            } catch {
                throw .invalidConfiguration(error.message)
            }
            start += count
        }
        return blocks
    }

    /// The label of a row with score `t` (see the type's documentation). Real labels are rounded to Float
    /// so that both precisions hold the same values.
    private static func label(score t: Double, kind: Labels) -> Float {
        switch kind {
        case .binary: return t > 0 ? 1 : 0
        case .signed: return t > 0 ? 1 : -1
        case .real: return Float(t)
        case .classes(let count):
            let bin = Int(((t + 1.5) / 3 * Double(count)).rounded(.down))
            return Float(min(max(bin, 0), count - 1))
        }
    }

    /// The parameters of the logistic pass: w_j = 0.5 v_j, b = 0.1.
    public static func parameters(columns: Int) -> (weights: [Double], bias: Double) {
        (generatingDirection(columns: columns).map { 0.5 * $0 }, 0.1)
    }

    /// Times `pass` (writing `sumsWidth` values per block) against the read pass on the configuration's blocks.
    public static func run(_ configuration: Configuration, sumsWidth: Int, pass: @escaping BlockPass)
        throws(GradientBenchmarkError) -> Result
    {
        let blocks = try makeBlocks(configuration)
        return try run(configuration, blocks: blocks, sumsWidth: sumsWidth, pass: pass)
    }

    /// The same on blocks already made with `makeBlocks(configuration)`.
    public static func run(
        _ configuration: Configuration, blocks: [Block], sumsWidth: Int, pass: @escaping BlockPass
    ) throws(GradientBenchmarkError) -> Result {
        guard configuration.repetitions >= 1 else {
            throw .invalidConfiguration("repetitions (\(configuration.repetitions)) must be >= 1")
        }
        guard !configuration.threadCounts.isEmpty, configuration.threadCounts.allSatisfy({ $0 >= 1 }) else {
            throw .invalidConfiguration("thread counts \(configuration.threadCounts) must be non-empty and >= 1")
        }
        guard sumsWidth >= 1 else { throw .invalidConfiguration("sums width (\(sumsWidth)) must be >= 1") }
        let bytes = configuration.bytes

        var measurements: [Measurement] = []
        for threads in configuration.threadCounts {
            let gradientSums: BlockSumsBuffer
            let readSums: BlockSumsBuffer
            do {
                gradientSums = try BlockSumsBuffer(count: blocks.count, width: sumsWidth)
                readSums = try BlockSumsBuffer(count: blocks.count, width: 1)
            } catch {
                throw .invalidConfiguration(error.description)
            }
            let gradientPass = { () throws(ParallelBlocksError) in
                try gradientSums.fill(threads: threads) { index, slot in pass(blocks[index], slot) }
            }
            let readPass = { () throws(ParallelBlocksError) in
                try readSums.fill(threads: threads) { index, slot in
                    slot[0] = ReadPass.checksum(of: blocks[index])
                }
            }
            let times: (gradient: Double, read: Double)
            do {
                times = try bestTimes(of: configuration.repetitions, gradientPass, readPass)
            } catch {
                throw .invalidConfiguration(error.description)
            }

            var totals = [Double](repeating: 0, count: sumsWidth)
            var readChecksum = 0.0
            for index in blocks.indices {
                guard let values = try? gradientSums.values(of: index), let read = try? readSums.values(of: index)
                else { throw .invalidConfiguration("block \(index) has no result slot") }
                for column in 0..<sumsWidth { totals[column] += values[column] }
                readChecksum += read[0]
            }
            let gradientRate = Double(bytes) / times.gradient / 1e9
            let readRate = Double(bytes) / times.read / 1e9
            measurements.append(
                Measurement(
                    threads: threads, gradientSeconds: times.gradient, readSeconds: times.read,
                    rowsPerSecond: Double(configuration.rows) / times.gradient,
                    gradientGBPerSecond: gradientRate, readGBPerSecond: readRate, ratio: gradientRate / readRate,
                    totals: totals, readChecksum: readChecksum))
        }
        return Result(configuration: configuration, blockCount: blocks.count, bytes: bytes, measurements: measurements)
    }

    /// Runs each pass once to warm up, then both alternately `repetitions` times; the shortest wall time
    /// of each in seconds.
    private static func bestTimes(
        of repetitions: Int, _ first: () throws(ParallelBlocksError) -> Void,
        _ second: () throws(ParallelBlocksError) -> Void
    ) throws(ParallelBlocksError) -> (gradient: Double, read: Double) {
        try first()
        try second()
        var best = (gradient: Double.infinity, read: Double.infinity)
        for _ in 0..<repetitions {
            best.gradient = min(best.gradient, try BestTime.once(first))
            best.read = min(best.read, try BestTime.once(second))
        }
        return best
    }


    /// v_j = (j even ? 1 : -1) / sqrt(columns).
    private static func generatingDirection(columns: Int) -> [Double] {
        let scale = 1 / Double(columns).squareRoot()
        return (0..<columns).map { $0 % 2 == 0 ? scale : -scale }
    }
}

/// A benchmark configuration that cannot be run.
public enum GradientBenchmarkError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidConfiguration(String)

    public var description: String {
        switch self {
        case .invalidConfiguration(let message): "gradient benchmark: \(message)"
        }
    }
}
