import ArgumentParser
import Foundation
import ShardModels
import ShardNumerics
import ShardOptimizers

/// `shardtrain bench step`: the coordinator's work in one mini-batch step of the dense networks, outside the
/// blocks' own computation, beside one read pass over the parameters measured in the same run.
///
/// ```
/// read       Σ θ_k² over the P parameters (VectorPasses.sumOfSquares): P doubles read once      = 1 pass
/// tree       the round's last tree addition into the new sums array: 2(P+1) read, P+1 written
/// objective  Model.objective from the sums, Σθ² given (as Adam's pass gives it): gradient, L2 term, |g|
/// adam       one Adam update with its companions (Σθ² over the regularised tensors, Float θ):
///            g, m, v, θ read; m, v, θ and Float θ written; bound by its two divisions and square root
/// adam late  the same from step 356 on, where 1 − β1^t has rounded to 1 and its division is skipped
/// fused      tree, objective and adam in one pass (the round loop's path): Adam's pass reads the two sums
///            vectors and makes the gradient in register (compare with tree + objective + adam)
/// passes     = seconds ÷ read seconds
/// ```
/// Every pass runs on every core (the engine's `VectorPasses` chunks); each figure is the best of
/// `--repetitions` runs after one warm-up run.
public struct StepBenchCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "step",
        abstract: "Benchmark the optimizer's and reduction's share of a mini-batch step against a read pass.",
        discussion: """
            Build with -c release. Example: shardtrain bench step --json
            """)

    @Option(help: "Timed runs per measurement (the best is reported).")
    public var repetitions = 20

    @Flag(help: "Also print one JSON object as the last line.")
    public var json = false

    public init() {}

    public func validate() throws {
        guard repetitions >= 1 else { throw ValidationError("--repetitions must be at least 1") }
    }

    public func run() throws {
        let workloads: [(name: String, model: any Model)] = [
            ("vae 784-256-32", try VariationalAutoencoder(featureCount: 784, latentDimension: 32, hiddenUnits: 256, l2: 1e-4)),
            (
                "triplet 512 → 128",
                try TripletEmbedding(
                    featureCount: 512, embeddingDimension: 128, hiddenUnits: nil, margin: 1, l2: 1e-4, classCount: 10,
                    pairObjective: .tripletRandom)
            ),
        ]
        print("coordinator work of one mini-batch step on every core, against one read pass of the parameters")
        print(
            "workload             parameters   read ms   tree ms (passes)   objective ms (passes)   adam ms (passes)"
                + "   adam late ms (passes)   tree + objective + adam in one pass ms (passes)")
        var rows: [[String: Any]] = []
        for (name, model) in workloads {
            let row = try measure(model)
            let read = row["read_seconds"] ?? .nan
            func cell(_ key: String, width: Int) -> String {
                let seconds = row[key] ?? .nan
                return String(format: "%7.3f (%4.1f)", 1000 * seconds, seconds / read)
                    .padding(toLength: width, withPad: " ", startingAt: 0)
            }
            print(
                name.padding(toLength: 21, withPad: " ", startingAt: 0)
                    + String(format: "%10d  %8.3f   ", model.parameterCount, 1000 * read)
                    + cell("tree_seconds", width: 19) + cell("objective_seconds", width: 24)
                    + cell("adam_seconds", width: 19) + cell("adam_late_seconds", width: 24)
                    + cell("objective_adam_fused_seconds", width: 16))
            var entry: [String: Any] = ["workload": name, "parameters": model.parameterCount]
            for (key, value) in row { entry[key] = value }
            rows.append(entry)
        }
        if json {
            let object: [String: Any] = ["benchmark": "step", "repetitions": repetitions, "measurements": rows]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }
    }

    /// Seconds of each part for `model` (random sums, the model's initial parameters).
    private func measure(_ model: any Model) throws -> [String: Double] {
        let parameters = model.initialParameters()
        var random = SplitMix64(seed: 7)
        let left = (0..<model.sumsWidth).map { _ in random.nextUniform(-1, 1) }
        let right = (0..<model.sumsWidth).map { _ in random.nextUniform(-1, 1) }
        let ranges = model.regularizedRanges
        let squares = parameters.withUnsafeBufferPointer { VectorPasses.sumOfSquares($0, over: ranges, threads: 0) }
        var checksum = 0.0
        let read = BestTime.seconds(of: repetitions) {
            checksum += parameters.withUnsafeBufferPointer { VectorPasses.sumOfSquares($0, threads: 0) }
        }
        var sums: [Double] = []
        let tree = BestTime.seconds(of: repetitions) {
            sums = left.withUnsafeBufferPointer { a in
                right.withUnsafeBufferPointer { b in VectorPasses.array(summing: a, b, threads: 0) }
            }
        }
        var gradient: [Double] = []
        let objective = try BestTime.seconds(of: repetitions) { () throws(ModelError) in
            let result = try model.objective(
                sums: sums, rowCount: 128, parameters: parameters, regularizedSquares: squares)
            checksum += result.gradientNorm
            gradient = result.gradient
        }
        var adam = AnyOptimizer.adam(try Adam(initialPoint: parameters, schedule: .constant(rate: 1e-6)))
        try adam.requestCompanions(CompanionRequest(squaredRanges: ranges, rounded: true))
        let update = try BestTime.seconds(of: repetitions) { () throws(OptimizerError) in
            try adam.observe(value: 1, gradient: gradient)
        }
        // The objective's gradient made inside Adam's pass from the two unadded sums vectors (the round loop's path in
        // one process), from step 2 on as above.
        let slots = try BlockSumsBuffer(count: 2, width: model.sumsWidth)
        _ = try slots.slot(0).update(fromContentsOf: left)
        _ = try slots.slot(1).update(fromContentsOf: right)
        let unadded = ReducedSums.slots(try SlotSums(buffer: slots, left: 0, right: 1))
        var fusedAdam = AnyOptimizer.adam(try Adam(initialPoint: parameters, schedule: .constant(rate: 1e-6)))
        try fusedAdam.requestCompanions(CompanionRequest(squaredRanges: ranges, rounded: true))
        try fusedAdam.observe(value: 1, gradient: gradient)
        let fused = try BestTime.seconds(of: repetitions) { () throws in
            let pending = try model.pendingObjective(
                sums: unadded, rowCount: 128, parameters: parameters, regularizedSquares: squares)
            let (written, _) = try fusedAdam.observe(value: pending.value, objective: pending.gradient)
            checksum += written[0]
        }
        while adam.iterationCount < 356 { try adam.observe(value: 1, gradient: gradient) }
        let late = try BestTime.seconds(of: repetitions) { () throws(OptimizerError) in
            try adam.observe(value: 1, gradient: gradient)
        }
        checksum += adam.pendingCompanions?.squares ?? 0
        guard checksum.isFinite else { throw ValidationError("bench step: a non-finite checksum (\(checksum))") }
        return [
            "read_seconds": read, "tree_seconds": tree, "objective_seconds": objective, "adam_seconds": update,
            "adam_late_seconds": late, "objective_adam_fused_seconds": fused,
        ]
    }
}
