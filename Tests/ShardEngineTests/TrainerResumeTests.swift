import Foundation
import ShardEngine
import ShardModels
import ShardNumerics
import ShardOptimizers
import Testing
import _TestSupport

/// Keeps every state the trainer hands over.
final class StateRecorder: TrainerStateSink {
    var saved: [(state: TrainerState, moment: StateMoment)] = []

    func save(_ state: TrainerState, moment: StateMoment) throws(EngineError) {
        saved.append((state, moment))
    }
}

@Suite("Trainer: checkpoints and resume")
struct TrainerResumeTests {
    /// A run to stop and resume: a model, its blocks and its options.
    struct Case: CustomStringConvertible, Sendable {
        let description: String
        let model: any Model
        let blocks: [Block]
        let options: TrainingOptions

        func trainer(threads: Int = 2) throws -> Trainer {
            Trainer(
                model: model,
                executor: try LocalExecutor(model: model, blocks: blocks, threads: threads, seed: 11, schedule: options.batch),
                options: options)
        }
    }

    static func cases() throws -> [Case] {
        var random = SplitMix64(seed: 7)
        // Labels that depend on the features (1 where 2·x₀ − x₁ + x₂/2 + noise > 0), so that L-BFGS needs some rounds.
        let linear = try (0..<8).map { id in
            let features = random.uniforms(150, -2...2)
            let labels = (0..<50).map { row in
                let score = 2 * features[3 * row] - features[3 * row + 1] + 0.5 * features[3 * row + 2]
                return score + random.uniform(-0.5...0.5) > 0 ? 1.0 : 0.0
            }
            return try Block(features: features, labels: labels, columns: 3, id: id)
        }
        // The same rows with labels in {−1, +1} for the SVM.
        let signed = try (0..<8).map { id in
            try Block(
                features: random.uniforms(150, -2...2), labels: random.binaryLabels(50).map { 2 * $0 - 1 }, columns: 3, id: id)
        }
        let unit = try random.blocks(rows: 256, columns: 6, blockRows: 32, features: 0...1)
        let schedule = try BatchSchedule(blockCount: unit.count, blocksPerStep: 2, seed: 5)
        var svm = TrainingOptions(optimizer: .lbfgs(memory: 5), maxRounds: 400, stopping: StoppingCriteria())
        svm.continuation = try Continuation(initial: 1, factor: 0.1, final: 1e-4)
        // Held-out evaluation every 7 rounds must not disturb the states.
        var logistic = TrainingOptions(optimizer: .lbfgs(memory: 4), maxRounds: 300, stopping: StoppingCriteria())
        logistic.checkpointEvery = 7
        return [
            Case(description: "L-BFGS logistic", model: LogisticRegression(featureCount: 3, l2: 1e-4), blocks: linear, options: logistic),
            Case(description: "SVM by continuation", model: LinearSVM(featureCount: 3, l2: 0.05), blocks: signed, options: svm),
            Case(
                description: "mini-batch Adam VAE",
                model: try VariationalAutoencoder(featureCount: 6, latentDimension: 2, hiddenUnits: 4, l2: 0.01),
                blocks: unit,
                options: TrainingOptions(
                    optimizer: .adam(schedule: .cosine(initialRate: 0.02, finalRate: 0, steps: 40), beta1: 0.9, beta2: 0.999, epsilon: 1e-8),
                    maxRounds: 41, stopping: StoppingCriteria(), batch: schedule)),
            Case(
                description: "mini-batch Nesterov SGD logistic",
                model: LogisticRegression(featureCount: 3, l2: 0.1), blocks: linear,
                options: TrainingOptions(
                    optimizer: .sgd(schedule: .constant(rate: 0.1), momentum: .nesterov(coefficient: 0.9)), maxRounds: 30,
                    stopping: StoppingCriteria(), batch: try BatchSchedule(blockCount: linear.count, blocksPerStep: 3, seed: 2))),
            Case(
                description: "gradient descent logistic", model: LogisticRegression(featureCount: 3, l2: 0.1), blocks: linear,
                options: TrainingOptions(optimizer: .gradientDescent(learningRate: 0.5), maxRounds: 25, stopping: StoppingCriteria())),
        ]
    }

    /// A state as a checkpoint file carries it: JSON, non-finite numbers as strings.
    static func roundTrip(_ state: TrainerState) throws -> TrainerState {
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "+inf", negativeInfinity: "-inf", nan: "nan")
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "+inf", negativeInfinity: "-inf", nan: "nan")
        return try decoder.decode(TrainerState.self, from: encoder.encode(state))
    }

    static func expectSameBits(_ resumed: TrainingResult, _ full: TrainingResult, _ comment: Comment) {
        let sameParameters = resumed.parameters.map(\.bitPattern) == full.parameters.map(\.bitPattern)
        #expect(sameParameters, comment)
        #expect(resumed.objective.value.bitPattern == full.objective.value.bitPattern, comment)
        #expect(resumed.rounds == full.rounds, comment)
        #expect(resumed.stopReason == full.stopReason, comment)
        #expect(resumed.converged == full.converged, comment)
    }

    @Test("a run resumed from the state after any round ends with the same bits, with other thread counts too",
          arguments: try cases())
    func resumedRunsHaveTheSameBits(_ run: Case) throws {
        let plain = try run.trainer().run()
        let recorder = StateRecorder()
        let full = try run.trainer().run(saving: StateSaving(sink: recorder, every: 1))
        Self.expectSameBits(full, plain, "saving states does not change the run")
        let periodic = recorder.saved.filter { $0.moment == .periodic }
        #expect(periodic.map(\.state.round) == Array(1...periodic.count), "one state per round")
        #expect(recorder.saved.last?.moment == .finished)
        #expect(full.rounds > 10, "the run is long enough to stop in the middle")
        // A spread of rounds (every round of a short run), the finished state, and a state before round 1.
        let stride = max(1, periodic.count / 12)
        var states = Swift.stride(from: 0, to: periodic.count, by: stride).map { periodic[$0].state }
        states.append(try #require(recorder.saved.last).state)
        for (index, state) in states.enumerated() {
            let resumed = try run.trainer(threads: 1 + index % 3).run(resumingFrom: Self.roundTrip(state))
            Self.expectSameBits(resumed, full, "\(run) resumed after round \(state.round)")
        }
    }

    @Test("an interrupt saves the state after the last completed round, and resuming from it finishes the run",
          arguments: try cases())
    func interruptedRunsResume(_ run: Case) throws {
        let full = try run.trainer().run()
        let stopAfter = full.rounds / 2
        let recorder = StateRecorder()
        var asked = 0
        #expect(throws: EngineError.interrupted) {
            try run.trainer().run(
                shouldStop: {
                    asked += 1
                    return asked > stopAfter
                }, saving: StateSaving(sink: recorder, every: 1_000))
        }
        let interrupted = try #require(recorder.saved.last)
        #expect(interrupted.moment == .interrupted)
        #expect(interrupted.state.round == stopAfter)
        let resumed = try run.trainer(threads: 3).run(resumingFrom: Self.roundTrip(interrupted.state))
        Self.expectSameBits(resumed, full, "\(run) interrupted after round \(stopAfter)")
    }

    @Test("a state of another optimizer, size or solver is refused with what differs")
    func mismatchingStatesAreRefused() throws {
        let cases = try Self.cases()
        let recorder = StateRecorder()
        _ = try cases[0].trainer().run(saving: StateSaving(sink: recorder, every: 5))
        let logisticState = try #require(recorder.saved.first).state
        func refusal(_ run: Case, _ state: TrainerState) throws -> String {
            do {
                _ = try run.trainer().run(resumingFrom: state)
            } catch {
                guard case .checkpoint(let message)? = error as? EngineError else { throw error }
                return message
            }
            Issue.record("the state was accepted")
            return ""
        }
        // SVM: same optimizer kind and size, but a continuation run.
        #expect(try refusal(cases[1], logisticState).contains("continuation"))
        // Gradient descent: another optimizer.
        #expect(try refusal(cases[4], logisticState).contains("optimizer differs: the state is of lbfgs, this run uses gd"))
        // Another number of parameters.
        var random = SplitMix64(seed: 1)
        let wider = Case(
            description: "wider", model: LogisticRegression(featureCount: 4, l2: 0.1),
            blocks: try random.blocks(rows: 100, columns: 4, blockRows: 50, features: -1...1),
            options: cases[0].options)
        #expect(try refusal(wider, logisticState).contains("the state has 4 parameters, the model 5"))
        var late = logisticState
        late.round = 10_000
        #expect(try refusal(cases[0], late).contains("the run is saved after round 10000, beyond --max-rounds 300: give a larger --max-rounds"))
    }
}
