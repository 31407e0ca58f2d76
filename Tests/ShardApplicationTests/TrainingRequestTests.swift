import ShardApplication
import ShardData
import ShardModels
import Testing

/// What a request may ask for, checked before any data is read.
@Suite struct TrainingRequestTests {
    func request(_ kind: ModelKind, _ edit: (inout ModelChoices, inout SolverChoices) -> Void = { _, _ in })
        -> TrainingRequest
    {
        var model = ModelChoices()
        model.kind = kind
        var solver = SolverChoices()
        edit(&model, &solver)
        return TrainingRequest(data: DataConfiguration(path: "unused.csv"), model: model, solver: solver)
    }

    func message(_ request: TrainingRequest) -> String? {
        do {
            try request.validate()
            return nil
        } catch {
            return error.description
        }
    }

    @Test func defaultsAreValidForEveryModelThatNeedsNothingMore() {
        for kind in ModelKind.allCases where kind != .quantile {
            #expect(message(request(kind)) == nil, "\(kind)")
        }
        #expect(message(request(.quantile)) == "--model quantile needs --tau (one or more)")
    }

    @Test func theOptimizerDefaultsToAdamForRandomLossesAndTheyShuffle() {
        #expect(request(.vae).optimizer == .adam)
        #expect(request(.triplet).optimizer == .adam)
        #expect(request(.linear).optimizer == .lbfgs)
        #expect(request(.triplet).data.shuffleTrainingRows)
        #expect(!request(.logistic).data.shuffleTrainingRows)
        #expect(request(.logistic) { _, solver in solver.optimizer = .sgd }.data.shuffleTrainingRows)
    }

    @Test func flagsThatDoNotApplyAreRefusedByName() {
        #expect(message(request(.svm) { model, _ in model.focalGamma = 2 }) == "--focal-gamma applies to --model logistic only")
        #expect(message(request(.logistic) { model, _ in model.regressionLoss = .huber }) == "--loss applies to --model linear only")
        #expect(message(request(.linear) { model, _ in model.delta = 2 }) == "--delta applies to --loss huber only")
        #expect(message(request(.linear) { model, _ in
            model.regressionLoss = .huber
            model.delta = 2
        }) == nil)
        #expect(message(request(.svm) { _, solver in solver.momentum = 0.5 }) == "--momentum applies to --optimizer sgd only")
        #expect(message(request(.vae) { _, solver in solver.optimizer = .lbfgs })?.hasPrefix("--model vae draws new triplets or noise") == true)
    }

    @Test func smoothingAppliesToTheNonSmoothLossesOnly() {
        #expect(message(request(.svm) { _, solver in solver.smoothingStart = 1 }) == nil)
        #expect(message(request(.linear) { model, solver in
            model.regressionLoss = .mae
            solver.smoothingStart = 1
        }) == nil)
        let smooth = message(request(.linear) { model, solver in
            model.regressionLoss = .huber
            solver.smoothingFinal = 1e-4
        })
        #expect(smooth == "--smoothing-final applies to the non-smooth losses only: --model svm, quantile, or linear with --loss mae")
    }

    @Test func classWeightsParseBalancedOrNonNegativeNumbers() {
        #expect(ClassWeightChoice(parsing: "balanced") == .balanced)
        #expect(ClassWeightChoice(parsing: "1, 2.5") == .explicit([1, 2.5]))
        #expect(ClassWeightChoice(parsing: "1,,2") == nil)
        #expect(ClassWeightChoice(parsing: "heavy") == nil)
        #expect(message(request(.logistic) { model, _ in model.classWeight = ClassWeightChoice(parsing: "1,-2") })
            == "--class-weight: every weight must be finite and ≥ 0, got -2.0")
        #expect(message(request(.softmax) { model, _ in model.classWeight = ClassWeightChoice(parsing: "nan,1") })
            == "--class-weight: every weight must be finite and ≥ 0, got nan")
        #expect(message(request(.logistic) { model, _ in model.classWeight = .explicit([0, 0]) })
            == "--class-weight: at least one weight must be positive")
    }
}

extension TrainingRequestTests {
    @Test func aTestFractionOutsideTheOpenUnitIntervalIsRefused() {
        for fraction in [0.0, 1, 1.5, -0.1, .nan] {
            var request = request(.logistic)
            request.data.testFraction = fraction
            #expect(message(request) == "--test-fraction must be in (0, 1), got \(fraction)")
        }
    }
}
