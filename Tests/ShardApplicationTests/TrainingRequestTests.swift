import ShardApplication
import ShardData
import ShardModels
import ShardNumerics
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

/// `--classes`, `--hidden` and `--dimension` checked against the memory before the data is read.
@Suite struct TrainingRequestSizeTests {
    static let gigabyte = MachineMemory(availableBytes: 1_000_000_000, source: "test")

    func message(_ kind: ModelKind, _ edit: (inout ModelChoices) -> Void) -> String? {
        var model = ModelChoices()
        model.kind = kind
        edit(&model)
        let request = TrainingRequest(
            data: DataConfiguration(path: "unused.csv"), model: model, solver: SolverChoices(), threads: 1)
        do {
            try request.validateSizes(memory: Self.gigabyte)
            return nil
        } catch {
            return error.description
        }
    }

    @Test("the sizes that crashed a run are refused with the flag named, before any data is read")
    func sizesThatCrashed() {
        #expect(
            message(.vae) { $0.hidden = 4_611_686_018_427_387_904 }
                == "--hidden 4611686018427387904: too large even for one feature: vae with featureCount 1, "
                + "outputDimension 2, hiddenUnits 4611686018427387904: the parameter count exceeds 9223372036854775807")
        // P = 1·H + H + H·4 + 4 + 2·H + H + H·1 + 1 = 10·H + 5, A = 3·H + 2 + 18; bytes = 48P + 4A.
        #expect(
            message(.vae) { $0.hidden = 100_000_000 }
                == "--hidden 100000000: too large even for one feature: vae with featureCount 1, outputDimension 2, "
                + "hiddenUnits 100000000 has 1000000005 parameters; training them with 1 thread on blocks of 1 row needs "
                + "49.2 GB, this machine has 1.0 GB available (test)")
        #expect(
            message(.softmax) { $0.classes = 1 << 40 }
                == "--classes 1099511627776: too large even for one feature: softmax with featureCount 1, classCount "
                + "1099511627776 has 2199023255552 parameters; training them with 1 thread on blocks of 1 row needs "
                + "106 TB, this machine has 1.0 GB available (test)")
        #expect(
            message(.triplet) {
                $0.classes = 3
                $0.hidden = 1 << 40
                $0.dimension = 1 << 30
            }?.hasPrefix("--classes 3 --hidden 1099511627776 --dimension 1073741824: too large even for one feature") == true)
    }

    @Test("ordinary sizes pass, and --classes below 2 is refused")
    func ordinarySizes() {
        #expect(message(.vae) { $0.hidden = 512 } == nil)
        #expect(message(.softmax) { $0.classes = 1000 } == nil)
        #expect(message(.triplet) { $0.hidden = 64; $0.dimension = 8 } == nil)
        #expect(message(.softmax) { $0.classes = 1 } == "--classes must be at least 2, got 1")
        #expect(message(.softmax) { $0.classes = -3 } == "--classes must be at least 2, got -3")
    }

    @Test("validate() includes the size check")
    func validateChecksSizes() {
        var model = ModelChoices()
        model.kind = .softmax
        model.classes = 1 << 62
        let request = TrainingRequest(data: DataConfiguration(path: "unused.csv"), model: model, solver: SolverChoices())
        #expect(throws: SetupError.self) { try request.validate() }
    }
}
