import ShardEngine
import ShardModels
import ShardNumerics
import ShardOptimizers
import Testing

@Suite("Trainer")
struct TrainerTests {
    static let model = LogisticRegression(featureCount: 3, l2: 0.1)

    static func executor(schedule: BatchSchedule? = nil) throws -> LocalExecutor {
        let blocks = try BlockComputerTests.blocks(rows: 400, columns: 3, blockRows: 50, precision: .float64)
        return try LocalExecutor(model: model, blocks: blocks, threads: 2, seed: 3, schedule: schedule)
    }

    @Test("full-batch L-BFGS: the reported objective belongs to the reported parameters")
    func reportedObjectiveMatchesParameters() throws {
        let executor = try Self.executor()
        let result = try Trainer(
            model: Self.model, executor: executor,
            options: TrainingOptions(optimizer: .lbfgs(memory: 10), maxRounds: 200, stopping: StoppingCriteria())
        ).run()
        #expect(result.converged)
        let again = try executor.evaluate(result.parameters, request: RoundRequest(round: 1))
        let objective = try Self.model.objective(sums: again.sums, rowCount: again.rowCount, parameters: result.parameters)
        #expect(objective.value.bitPattern == result.objective.value.bitPattern)
        #expect(result.objective.gradientNorm < 1e-6)
    }

    @Test("mini-batch SGD: every update counts — the result is θ after the last step, not the point before it")
    func stochasticResultIsTheLastIterate() throws {
        let schedule = try BatchSchedule(blockCount: 8, blocksPerStep: 2, seed: 5)
        let executor = try Self.executor(schedule: schedule)
        func run(rounds: Int) throws -> TrainingResult {
            try Trainer(
                model: Self.model, executor: executor,
                options: TrainingOptions(
                    optimizer: .sgd(schedule: .constant(rate: 0.5), momentum: .plain), maxRounds: rounds,
                    stopping: StoppingCriteria(), batch: schedule)
            ).run()
        }
        // One round is only the final full-batch evaluation: no step.
        #expect(try run(rounds: 1).parameters == Self.model.initialParameters())
        // Two rounds: one step on mini-batch 0, θ₁ = θ₀ − η ∇F_batch0(θ₀).
        let initial = Self.model.initialParameters()
        let batch = try executor.evaluate(initial, request: RoundRequest(round: 1, batchStep: 0))
        let gradient = try Self.model.objective(sums: batch.sums, rowCount: batch.rowCount, parameters: initial).gradient
        let expected = zip(initial, gradient).map { $0 - 0.5 * $1 }
        #expect(try run(rounds: 2).parameters == expected)
        #expect(try run(rounds: 3).parameters != expected)
    }

    @Test("a diverging mini-batch run reports why it stopped")
    func divergenceIsReported() throws {
        let schedule = try BatchSchedule(blockCount: 8, blocksPerStep: 1, seed: 5)
        let result = try Trainer(
            model: Self.model, executor: try Self.executor(schedule: schedule),
            options: TrainingOptions(
                optimizer: .sgd(schedule: .constant(rate: 1e300), momentum: .plain), maxRounds: 20,
                stopping: StoppingCriteria(), batch: schedule)
        ).run()
        #expect(!result.converged)
        #expect(result.stopReason.contains("not finite"), "\(result.stopReason)")
    }

    @Test("batch schedules: every epoch visits every block once, in a seeded order")
    func batchScheduleCoversEpochs() throws {
        let schedule = try BatchSchedule(blockCount: 10, blocksPerStep: 3, seed: 9)
        #expect(schedule.stepsPerEpoch == 4)
        for epoch in 0..<3 {
            var counts = [Int](repeating: 0, count: 10)
            for step in (epoch * 4)..<((epoch + 1) * 4) {
                for (block, active) in schedule.activeMask(step: step).enumerated() where active { counts[block] += 1 }
            }
            #expect(counts == [Int](repeating: 1, count: 10), "epoch \(epoch)")
        }
        #expect(schedule.order(epoch: 0) != schedule.order(epoch: 1))
        #expect(schedule.order(epoch: 0) == (try BatchSchedule(blockCount: 10, blocksPerStep: 3, seed: 9)).order(epoch: 0))
        #expect(throws: EngineError.self) { try BatchSchedule(blockCount: 10, blocksPerStep: 0, seed: 1) }
        #expect(throws: EngineError.self) { try BatchSchedule(blockCount: 10, blocksPerStep: 11, seed: 1) }
    }

    @Test("continuation stages run from the first smoothing down to the last")
    func continuationStages() throws {
        let continuation = try Continuation(initial: 1, factor: 0.1, final: 1e-3)
        #expect(continuation.stages.count == 4)
        #expect(continuation.stages.last == 1e-3)
        #expect(throws: EngineError.self) { try Continuation(initial: 1, factor: 2, final: 0.1) }
        #expect(throws: EngineError.self) { try Continuation(initial: 1, factor: 0.1, final: 0) }
    }

    /// Collects every round's report.
    final class Reports: TrainingObserver {
        var all: [RoundReport] = []
        func roundFinished(_ report: RoundReport) { all.append(report) }
    }

    @Test("mini-batch Adam with the update pass's companions (Σθ², Float θ) gives the bits of the plain ask/tell loop", arguments: [Precision.float32, .float64])
    func adamCompanionsKeepTheBits(precision: Precision) throws {
        // 24,000 parameters in two regularised tensors and a bias: several chunks, ranges off the chunk grid.
        let model = try TripletEmbedding(
            featureCount: 40, embeddingDimension: 16, hiddenUnits: 420, margin: 1, l2: 0.05, classCount: 2,
            pairObjective: .tripletRandom)
        let blocks = try BlockComputerTests.blocks(rows: 320, columns: 40, blockRows: 40, precision: precision)
        let schedule = try BatchSchedule(blockCount: blocks.count, blocksPerStep: 2, seed: 6)
        let executor = try LocalExecutor(model: model, blocks: blocks, threads: 2, seed: 3, schedule: schedule)
        #expect(executor.usesRoundedParameters == (precision == .float32))
        let adam = OptimizerChoice.adam(schedule: .constant(rate: 0.01), beta1: 0.9, beta2: 0.999, epsilon: 1e-8)
        let reports = Reports()
        let result = try Trainer(
            model: model, executor: executor,
            options: TrainingOptions(optimizer: adam, maxRounds: 7, stopping: StoppingCriteria(), batch: schedule)
        ).run(observer: reports)
        // The same six steps and closing evaluation by hand, with nothing made ahead.
        var optimizer = try Adam(initialPoint: model.initialParameters(), schedule: .constant(rate: 0.01))
        for step in 0..<6 {
            let point = try #require(optimizer.pendingPoint)
            let sums = try executor.evaluate(point, request: RoundRequest(round: step + 1, batchStep: step))
            let objective = try model.objective(sums: sums.sums, rowCount: sums.rowCount, parameters: point)
            #expect(reports.all[step].objective.bitPattern == objective.value.bitPattern, "step \(step)")
            // ‖g‖² as Adam's pass sums it: its pieces (those of the L2 ranges it sums θ² over), each in LaneSums
            // order, added in index order.
            let squares = VectorPasses.pieces(count: model.parameterCount, over: model.regularizedRanges).map { piece in
                objective.gradient.withUnsafeBufferPointer {
                    LaneSums.sumOfSquares(UnsafeBufferPointer(rebasing: $0[piece.range]))
                }
            }.reduce(0, +)
            #expect(reports.all[step].gradientNorm.bitPattern == squares.squareRoot().bitPattern, "step \(step)")
            #expect(abs(reports.all[step].gradientNorm - objective.gradientNorm) <= 1e-14 * objective.gradientNorm)
            try optimizer.observe(value: objective.value, gradient: objective.gradient)
        }
        let final = try #require(optimizer.pendingPoint)
        #expect(result.parameters.map(\.bitPattern) == final.map(\.bitPattern))
        let sums = try executor.evaluate(final, request: RoundRequest(round: 7))
        let objective = try model.objective(sums: sums.sums, rowCount: sums.rowCount, parameters: final)
        #expect(result.objective.value.bitPattern == objective.value.bitPattern)
        #expect(result.objective.l2Term.bitPattern == objective.l2Term.bitPattern)
    }
}
