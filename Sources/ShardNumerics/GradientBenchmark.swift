/// Throughput of the logistic gradient pass against a read-only pass over the same bytes.
///
/// Data: a float32 matrix of `rows × columns` values in [-1, 1) from SplitMix64(seed), labels
///
///     y_i = 1 if x_i · v + (u_i - 0.5) > 0 else 0,   v_j = (j even ? 1 : -1) / sqrt(columns),  u_i in [0, 1)
///
/// cut into blocks of `blockRows` rows (the last one shorter). Parameters of the pass:
/// w_j = 0.5 · v_j, b = 0.1. For each thread count, after one warm-up of each pass:
///
///     gradient time = best of `repetitions` runs of LogisticKernel.sums over all blocks
///                     (ParallelBlocks, one BlockSumsBuffer slot per block)
///     read time     = best of `repetitions` runs of ReadPass.checksum over all blocks (same runner)
///     bytes         = rows · (columns + 1) · 4                       (features + labels)
///     rows/s        = rows / gradient time
///     gradient GB/s = bytes / gradient time / 1e9,  read GB/s = bytes / read time / 1e9
///     ratio         = gradient GB/s / read GB/s
///
/// The per-block sums are reduced in block order (`totals`), so they are identical for every thread
/// count.
public enum GradientBenchmark {
    public struct Configuration: Sendable, Equatable {
        public var rows: Int
        public var columns: Int
        public var blockRows: Int
        public var threadCounts: [Int]
        public var repetitions: Int
        public var seed: UInt64
        public var implementation: KernelImplementation

        public init(
            rows: Int = 1_000_000, columns: Int = 20, blockRows: Int = 4096, threadCounts: [Int] = [1, 2],
            repetitions: Int = 5, seed: UInt64 = 0x5EED, implementation: KernelImplementation = .fastest
        ) {
            self.rows = rows
            self.columns = columns
            self.blockRows = blockRows
            self.threadCounts = threadCounts
            self.repetitions = repetitions
            self.seed = seed
            self.implementation = implementation
        }
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
        /// Σ over blocks (in block order) of the block sums: [loss, grad_w..., grad_b], unnormalised.
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
    public static func makeBlocks(rows: Int, columns: Int, blockRows: Int, seed: UInt64)
        throws(GradientBenchmarkError) -> [Block]
    {
        guard rows >= 1, columns >= 1, blockRows >= 1 else {
            throw .invalidConfiguration("rows (\(rows)), columns (\(columns)) and blockRows (\(blockRows)) must be >= 1")
        }
        var generator = SplitMix64(seed: seed)
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
                labels[row] = score + (generator.nextUnit() - 0.5) > 0 ? 1 : 0
            }
            do {
                blocks.append(
                    try Block(
                        id: blocks.count, rows: count, columns: columns,
                        storage: .float32(features: features, labels: labels)))
            } catch {
                throw .invalidConfiguration(error.message)
            }
            start += count
        }
        return blocks
    }

    /// The parameters of the timed pass: w_j = 0.5 v_j, b = 0.1.
    public static func parameters(columns: Int) -> (weights: [Double], bias: Double) {
        (generatingDirection(columns: columns).map { 0.5 * $0 }, 0.1)
    }

    public static func run(_ configuration: Configuration) throws(GradientBenchmarkError) -> Result {
        guard configuration.repetitions >= 1 else {
            throw .invalidConfiguration("repetitions (\(configuration.repetitions)) must be >= 1")
        }
        guard !configuration.threadCounts.isEmpty, configuration.threadCounts.allSatisfy({ $0 >= 1 }) else {
            throw .invalidConfiguration("thread counts \(configuration.threadCounts) must be non-empty and >= 1")
        }
        let blocks = try makeBlocks(
            rows: configuration.rows, columns: configuration.columns, blockRows: configuration.blockRows,
            seed: configuration.seed)
        let (weights, bias) = parameters(columns: configuration.columns)
        let width = configuration.columns + 2
        let bytes = configuration.rows * (configuration.columns + 1) * MemoryLayout<Float>.stride
        let implementation = configuration.implementation

        var measurements: [Measurement] = []
        for threads in configuration.threadCounts {
            let gradientSums: BlockSumsBuffer
            let readSums: BlockSumsBuffer
            do {
                gradientSums = try BlockSumsBuffer(count: blocks.count, width: width)
                readSums = try BlockSumsBuffer(count: blocks.count, width: 1)
            } catch {
                throw .invalidConfiguration(error.description)
            }
            let gradientPass = { () throws(ParallelBlocksError) in
                try gradientSums.fill(threads: threads) { index, slot in
                    weights.withUnsafeBufferPointer { w in
                        // Shapes match by construction (width = columns + 2, weights.count = columns);
                        // a failure would still show up as NaN totals rather than as plausible numbers.
                        do {
                            try LogisticKernel.sums(
                                of: blocks[index], weights: w, bias: bias, into: slot, implementation: implementation)
                        } catch {
                            slot.update(repeating: .nan)
                        }
                    }
                }
            }
            let readPass = { () throws(ParallelBlocksError) in
                try readSums.fill(threads: threads) { index, slot in
                    slot[0] = ReadPass.checksum(of: blocks[index])
                }
            }
            let gradientSeconds: Double
            let readSeconds: Double
            do {
                gradientSeconds = try bestTime(of: configuration.repetitions, gradientPass)
                readSeconds = try bestTime(of: configuration.repetitions, readPass)
            } catch {
                throw .invalidConfiguration(error.description)
            }

            var totals = [Double](repeating: 0, count: width)
            var readChecksum = 0.0
            for index in blocks.indices {
                guard let values = try? gradientSums.values(of: index), let read = try? readSums.values(of: index)
                else { throw .invalidConfiguration("block \(index) has no result slot") }
                for column in 0..<width { totals[column] += values[column] }
                readChecksum += read[0]
            }
            let gradientRate = Double(bytes) / gradientSeconds / 1e9
            let readRate = Double(bytes) / readSeconds / 1e9
            measurements.append(
                Measurement(
                    threads: threads, gradientSeconds: gradientSeconds, readSeconds: readSeconds,
                    rowsPerSecond: Double(configuration.rows) / gradientSeconds,
                    gradientGBPerSecond: gradientRate, readGBPerSecond: readRate, ratio: gradientRate / readRate,
                    totals: totals, readChecksum: readChecksum))
        }
        return Result(configuration: configuration, blockCount: blocks.count, bytes: bytes, measurements: measurements)
    }

    /// Runs `pass` once to warm up, then `repetitions` times; the shortest wall time in seconds.
    private static func bestTime(of repetitions: Int, _ pass: () throws(ParallelBlocksError) -> Void)
        throws(ParallelBlocksError) -> Double
    {
        try BestTime.seconds(of: repetitions, pass)
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
