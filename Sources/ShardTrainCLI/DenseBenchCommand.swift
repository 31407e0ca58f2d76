import ArgumentParser
import Foundation
import ShardApplication
import ShardEngine
import ShardModels
import ShardNumerics
import ShardOptimizers
import Synchronization

/// `shardtrain bench dense`: training-step throughput of the dense networks beside the matrix-product ceiling
/// of the BLAS measured in the same run.
///
/// ```
/// VAE 784-256-32 (hidden ReLU layers), batch 128         samples/s
/// triplet tanh(x·W) 512 → 128, random triplets, batch 1024   triplets/s (one triplet per anchor row)
/// step        = blockSums of every block of the batch (ParallelBlocks, one BlockSumsBuffer slot each; float32:
///               the parameters rounded to Float once per step), then the blocks' sums added in block order on the
///               same threads: the blocks' part of the engine's step (whose optimizer pass now makes the last
///               addition itself: see trained)
/// ceiling     = the same gemm calls (shapes, transposes) on the same threads with nothing else: per block and
///               dense layer in → out on r rows, X·W (r, out, in), Xᵀ·∂Y (in, out, r) and, unless the layer
///               reads the data, ∂Y·Wᵀ (r, in, out)
/// FLOPs/sample = Σ 2·m·n·k over those calls ÷ batch;   GFLOP/s = FLOPs/sample · samples/s ÷ 1e9
/// fraction    = step samples/s ÷ ceiling samples/s      (the share of the BLAS roofline reached)
/// trained     = the whole mini-batch step of `train` (the engine's executor and round loop, Adam at 1e-3, its
///               update making the objective's gradient): the median of a run's round times
///               (`RoundReport.roundSeconds`, from the round's request to its update), the best of the runs. It
///               can outrun `step`: the engine keeps a float32 network's block gradients in Float and adds them
///               inside Adam's pass, where `step` widens, copies and adds them in passes of its own
/// ```
/// The batch is cut into `--blocks-per-batch` blocks for every thread count (as `--batch-blocks` does in
/// training), so 1 and 2 threads compute the same sums. float32 computes in Float (sgemm), float64 in Double
/// (dgemm). Each figure is the best of `--repetitions` runs of `--steps` steps after one warm-up run.
public struct DenseBenchCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "dense",
        abstract: "Benchmark the VAE and triplet networks: samples/s beside the sgemm/dgemm ceiling of the same shapes.",
        discussion: """
            Build with -c release. Example: shardtrain bench dense --threads 1,2 --json
            """)

    /// The networks this bench times.
    enum WorkloadName: String, ExpressibleByArgument, CaseIterable {
        case vae, triplet
    }

    @Option(parsing: .unconditional, help: "Comma-separated thread counts to measure.")
    var threads = CommaSeparated([1, 2])

    @Option(help: "Comma-separated compute precisions: float32, float64.")
    var precisions = CommaSeparated<Precision>([.float32, .float64])

    @Option(help: "Comma-separated workloads: vae, triplet.")
    var workloads = CommaSeparated(WorkloadName.allCases)

    @Option(help: "Blocks each batch is cut into (the same for every thread count).")
    public var blocksPerBatch = 2

    @Option(help: "Training steps per timed run.")
    public var steps = 10

    @Option(help: "Timed runs per measurement (the best is reported).")
    public var repetitions = 5

    @Flag(help: "Also print one JSON object as the last line.")
    public var json = false

    public init() {}

    public func validate() throws {
        try threads.require(atLeast: 1, "--threads")
        guard blocksPerBatch >= 1, steps >= 1, repetitions >= 1 else {
            throw ValidationError("--blocks-per-batch, --steps and --repetitions must be at least 1")
        }
    }

    public func run() throws {
        BLAS.pinToOneThread()
        let threadCounts = threads.values
        let precisionList = precisions.values
        let workloads = try self.workloads.values.map { name in
            name == .vae ? try DenseWorkload.vae() : try DenseWorkload.triplet()
        }
        print("dense networks on \(BLAS.identity), \(BLAS.threadsPerCall) BLAS thread per compute thread")
        print(
            "workload                  precision  threads  per second   model GFLOP/s  gemm GFLOP/s  of ceiling"
                + "  trained/s")
        var rows: [[String: Any]] = []
        for workload in workloads {
            for precision in precisionList {
                let blocks = try workload.blocks(precision: precision, count: blocksPerBatch)
                for threadCount in threadCounts {
                    let stepSeconds = try workload.stepSeconds(
                        blocks: blocks, threads: threadCount, steps: steps, repetitions: repetitions)
                    let ceilingSeconds = try workload.ceilingSeconds(
                        blocks: blocks, precision: precision, threads: threadCount, steps: steps,
                        repetitions: repetitions)
                    let trainedSeconds = try workload.trainedStepSeconds(
                        blocks: blocks, threads: threadCount, steps: steps, repetitions: repetitions)
                    let trainedPerSecond = Double(workload.batch) / trainedSeconds
                    let perSecond = Double(workload.batch * steps) / stepSeconds
                    let ceilingPerSecond = Double(workload.batch * steps) / ceilingSeconds
                    let flops = workload.flopsPerSample(blocks: blocks)
                    print(
                        workload.name.padding(toLength: 26, withPad: " ", startingAt: 0)
                            + precision.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)
                            + String(
                                format: "  %7d  %10.0f   %13.1f  %12.1f  %9.1f%%  %9.0f", threadCount, perSecond,
                                flops * perSecond / 1e9, flops * ceilingPerSecond / 1e9,
                                100 * perSecond / ceilingPerSecond, trainedPerSecond))
                    rows.append([
                        "workload": workload.name, "unit": workload.unit, "batch": workload.batch,
                        "blocks_per_batch": blocks.count, "precision": precision.rawValue, "threads": threadCount,
                        "per_second": perSecond, "flops_per_sample": flops,
                        "model_gigaflops_per_second": flops * perSecond / 1e9,
                        "gemm_gigaflops_per_second": flops * ceilingPerSecond / 1e9,
                        "ceiling_per_second": ceilingPerSecond, "fraction_of_ceiling": perSecond / ceilingPerSecond,
                        "trained_per_second": trainedPerSecond,
                    ])
                }
            }
        }
        for workload in workloads {
            print("\(workload.name): \(workload.unit)/s; \(workload.description)")
        }
        if json {
            let object: [String: Any] = [
                "benchmark": "dense", "blas": BLAS.identity, "blas_core": BLAS.coreName, "steps": steps,
                "repetitions": repetitions, "measurements": rows,
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }
    }
}

/// One benchmarked network: its model, batch, data and the dense layers whose products set its ceiling.
struct DenseWorkload {
    /// A dense layer `input → output`; `readsData` layers need no ∂X.
    struct Layer {
        var input: Int
        var output: Int
        var readsData: Bool
    }

    let name: String
    let unit: String
    let description: String
    let batch: Int
    let model: any Model
    let layers: [Layer]
    /// The features of row `row` (`columns` values) and its label, from a seeded generator.
    let columns: Int
    let row: (inout SplitMix64) -> (features: [Double], label: Double)

    static func vae() throws -> DenseWorkload {
        let (d, h, l) = (784, 256, 32)
        return DenseWorkload(
            name: "vae 784-256-32 b128", unit: "samples", description: "inputs uniform in [0, 1], Glorot start",
            batch: 128, model: try VariationalAutoencoder(featureCount: d, latentDimension: l, hiddenUnits: h, l2: 0),
            layers: [
                Layer(input: d, output: h, readsData: true), Layer(input: h, output: 2 * l, readsData: false),
                Layer(input: l, output: h, readsData: false), Layer(input: h, output: d, readsData: false),
            ], columns: d, row: { random in ((0..<d).map { _ in random.nextUnit() }, 0) })
    }

    static func triplet() throws -> DenseWorkload {
        let (d, e, classes) = (512, 128, 10)
        return DenseWorkload(
            name: "triplet 512->128 b1024", unit: "triplets",
            description: "tanh(x·W), random triplets inside each block, 10 classes, inputs uniform in [-1, 1]",
            batch: 1024,
            model: try TripletEmbedding(
                featureCount: d, embeddingDimension: e, hiddenUnits: nil, margin: 1, l2: 0, classCount: classes,
                pairObjective: .tripletRandom),
            layers: [Layer(input: d, output: e, readsData: true)], columns: d,
            row: { random in
                ((0..<d).map { _ in 2 * random.nextUnit() - 1 }, Double(random.next() % UInt64(classes)))
            })
    }

    /// The batch cut into `count` blocks of equal size (the last one takes the remainder).
    func blocks(precision: Precision, count: Int) throws -> [Block] {
        var random = SplitMix64(seed: 0xDE45E)
        let blockRows = (batch + count - 1) / count
        return try stride(from: 0, to: batch, by: blockRows).enumerated().map { id, start in
            let rows = min(blockRows, batch - start)
            var features: [Double] = []
            var labels: [Double] = []
            for _ in 0..<rows {
                let (values, label) = row(&random)
                features += values
                labels.append(label)
            }
            let storage: BlockStorage =
                precision == .float64
                ? .float64(features: features, labels: labels)
                : .float32(features: features.map(Float.init), labels: labels.map(Float.init))
            return try Block(id: id, rows: rows, columns: columns, storage: storage)
        }
    }

    /// Σ 2·m·n·k over the ceiling's products ÷ batch.
    func flopsPerSample(blocks: [Block]) -> Double {
        let total = blocks.reduce(0) { sum, block in
            sum + products(rows: block.rows).reduce(0) { $0 + 2 * $1.m * $1.n * $1.k }
        }
        return Double(total) / Double(batch)
    }

    /// The gemm calls of one block: forward, ∂W and (unless the layer reads the data) ∂X per layer.
    func products(rows: Int) -> [(m: Int, n: Int, k: Int, transposeA: Bool, transposeB: Bool)] {
        layers.flatMap { layer in
            var calls = [
                (rows, layer.output, layer.input, false, false), (layer.input, layer.output, rows, true, false),
            ]
            if !layer.readsData { calls.append((rows, layer.input, layer.output, false, true)) }
            return calls
        }
    }

    /// Best time of `steps` training steps: every block's `blockSums`, then the block sums added in order.
    func stepSeconds(blocks: [Block], threads: Int, steps: Int, repetitions: Int) throws -> Double {
        let model = self.model
        let parameters = model.initialParameters()
        let buffer = try BlockSumsBuffer(count: blocks.count, width: model.sumsWidth)
        let failure = Mutex<ModelError?>(nil)
        var total = [Double](repeating: 0, count: model.sumsWidth)
        var round = 0
        let roundsOnce = model.roundsParametersForFloat32Blocks && blocks.contains { $0.precision == .float32 }
        let rounded = RoundedParameters(count: roundsOnce ? parameters.count : 0)
        let seconds = try BestTime.seconds(of: repetitions) {
            for _ in 0..<steps {
                round += 1
                let context = RoundContext(seed: 7, round: round)
                // As the engine does: the parameters rounded to Float once per step for the float32 blocks.
                if roundsOnce { parameters.withUnsafeBufferPointer { DenseKernels.round($0, into: rounded.buffer) } }
                try parameters.withUnsafeBufferPointer { theta in
                    let theta = SendableBuffer(buffer: theta)
                    try buffer.fill(threads: threads) { index, slot in
                        do throws(ModelError) {
                            if roundsOnce {
                                try model.blockSums(
                                    blocks[index], parameters: theta.buffer, rounded: UnsafeBufferPointer(rounded.buffer),
                                    context: context, into: slot)
                            } else {
                                try model.blockSums(blocks[index], parameters: theta.buffer, context: context, into: slot)
                            }
                        } catch {
                            failure.withLock { $0 = error }
                        }
                    }
                }
                // In block order, each addition on the step's threads (`VectorPasses`, as the engine adds).
                try total.withUnsafeMutableBufferPointer { total in
                    _ = total.update(fromContentsOf: try buffer.slot(0))
                    for index in 1..<blocks.count {
                        VectorPasses.add(UnsafeBufferPointer(try buffer.slot(index)), into: total, threads: threads)
                    }
                }
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
        guard total[0].isFinite else { throw ValidationError("\(name): the loss sum is \(total[0])") }
        return seconds
    }

    /// Seconds of one mini-batch step of the engine's round loop (`Trainer` on a `LocalExecutor`, every block in
    /// each step, Adam): the median of a run's round times, the best of `repetitions` runs of `steps` steps.
    func trainedStepSeconds(blocks: [Block], threads: Int, steps: Int, repetitions: Int) throws -> Double {
        let schedule = try BatchSchedule(blockCount: blocks.count, blocksPerStep: blocks.count, seed: 7)
        let executor = try LocalExecutor(model: model, blocks: blocks, threads: threads, seed: 7, schedule: schedule)
        let options = TrainingOptions(
            optimizer: .adam(schedule: .constant(rate: 1e-3), beta1: 0.9, beta2: 0.999, epsilon: 1e-8),
            maxRounds: steps + 1, stopping: StoppingCriteria(), batch: schedule)
        var best = Double.infinity
        // One untimed warm-up run, then `repetitions` timed ones.
        for run in 0...repetitions {
            let times = StepTimes()
            _ = try Trainer(model: model, executor: executor, options: options).run(observer: times)
            if run > 0, let median = times.median { best = min(best, median) }
        }
        return best
    }

    /// Best time of `steps` rounds of the ceiling's gemm calls on random operands in `precision`.
    func ceilingSeconds(blocks: [Block], precision: Precision, threads: Int, steps: Int, repetitions: Int) throws
        -> Double
    {
        switch precision {
        case .float32: try ceilingSeconds(Float.self, blocks: blocks, threads: threads, steps: steps, repetitions: repetitions)
        case .float64: try ceilingSeconds(Double.self, blocks: blocks, threads: threads, steps: steps, repetitions: repetitions)
        }
    }

    private func ceilingSeconds<T: BLASScalar>(
        _ type: T.Type, blocks: [Block], threads: Int, steps: Int, repetitions: Int
    ) throws -> Double {
        let operands = blocks.map { block in products(rows: block.rows).map { GemmOperands<T>($0) } }
        defer { operands.joined().forEach { $0.deallocate() } }
        let failure = Mutex<BLASError?>(nil)
        let seconds = try BestTime.seconds(of: repetitions) {
            for _ in 0..<steps {
                try ParallelBlocks.run(count: operands.count, threads: threads) { index in
                    for call in operands[index] {
                        do throws(BLASError) { try call.multiply() } catch { failure.withLock { $0 = error } }
                    }
                }
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
        return seconds
    }
}

/// A read-only parameter buffer handed to the block runner's threads (nobody writes it while they run).
private struct SendableBuffer: @unchecked Sendable {
    let buffer: UnsafeBufferPointer<Double>
}

/// The parameters rounded to Float, written between steps and read by the block runner's threads during one.
private final class RoundedParameters: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<Float>

    init(count: Int) { buffer = .allocate(capacity: count) }

    deinit { buffer.deallocate() }
}

/// One gemm call's operands, allocated once (values in [-1, 1)); each is used by one thread at a time.
private final class GemmOperands<T: BLASScalar>: @unchecked Sendable {
    let shape: (m: Int, n: Int, k: Int, transposeA: Bool, transposeB: Bool)
    let a: UnsafeMutableBufferPointer<T>
    let b: UnsafeMutableBufferPointer<T>
    let c: UnsafeMutableBufferPointer<T>

    init(_ shape: (m: Int, n: Int, k: Int, transposeA: Bool, transposeB: Bool)) {
        self.shape = shape
        var random = SplitMix64(seed: UInt64(shape.m * 1_000_003 + shape.n * 1_009 + shape.k))
        func filled(_ count: Int) -> UnsafeMutableBufferPointer<T> {
            let buffer = UnsafeMutableBufferPointer<T>.allocate(capacity: count)
            for index in buffer.indices { buffer[index] = T(2 * random.nextUnit() - 1) }
            return buffer
        }
        a = filled(shape.m * shape.k)
        b = filled(shape.k * shape.n)
        c = filled(shape.m * shape.n)
    }

    func multiply() throws(BLASError) {
        try BLAS.gemm(
            m: shape.m, n: shape.n, k: shape.k, UnsafeBufferPointer(a), transposeA: shape.transposeA,
            UnsafeBufferPointer(b), transposeB: shape.transposeB, into: c)
    }

    func deallocate() {
        a.deallocate()
        b.deallocate()
        c.deallocate()
    }
}

/// The round times of a run's mini-batch steps (the closing full-batch round left out).
private final class StepTimes: TrainingObserver {
    private var seconds: [Double] = []

    func roundFinished(_ report: RoundReport) {
        if report.batchStep != nil { seconds.append(report.roundSeconds) }
    }

    var median: Double? {
        guard !seconds.isEmpty else { return nil }
        let sorted = seconds.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }
}
