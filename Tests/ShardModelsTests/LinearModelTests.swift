import ShardLosses
import ShardModels
import ShardNumerics
import Testing
import _TestSupport

/// The linear SVM, focal / class-weighted logistic, quantile and softmax regressions: golden values from
/// models.json, finite-difference gradients (exact and smoothed losses), smoothing bounds, invalid
/// hyper-parameters and labels, predictions.
@Suite("Linear models")
struct LinearModelTests {
    // MARK: - Helpers

    /// A JSON number or array of numbers (matrices flattened row-major) as a flat list.
    static func flat(_ value: JSONValue?) -> [Double]? {
        guard let value else { return nil }
        if let number = value.double { return [number] }
        if let vector = value.doubles { return vector }
        return value.matrix?.values
    }

    /// The model a models.json case describes, built through `ModelSpec.makeModel` (so the spec switch is
    /// tested too). A hyper-parameter key the test does not know fails the case.
    static func model(for testCase: JSONValue, featureCount: Int, outputCount: Int) throws -> any Model {
        let id = testCase["id"]?.string ?? "?"
        let name = try #require(testCase["model"]?.string, "\(id): model")
        let hyper = try #require(testCase["hyper"]?.object, "\(id): hyper")
        let l2 = try #require(hyper["l2"]?.double, "\(id): l2")
        var spec: ModelSpec
        var known: Set<String> = ["l2"]
        switch name {
        case "linear_svm":
            spec = ModelSpec(featureCount: featureCount, l2: l2, .svm)
        case "logistic_focal":
            known.formUnion(["gamma", "alpha"])
            let gamma = try #require(hyper["gamma"]?.double, "\(id): gamma")
            let alpha = try #require(hyper["alpha"]?.double, "\(id): alpha")
            spec = ModelSpec(featureCount: featureCount, l2: l2, .logistic(focal: FocalParameters(gamma: gamma, alpha: alpha)))
        case "quantile_linear":
            known.insert("tau")
            let tau = try #require(hyper["tau"]?.double, "\(id): tau")
            spec = ModelSpec(featureCount: featureCount, l2: l2, .quantile(taus: [tau]))
        case "quantile_multi":
            known.insert("taus")
            let taus = try #require(hyper["taus"]?.doubles, "\(id): taus")
            spec = ModelSpec(featureCount: featureCount, l2: l2, .quantile(taus: taus))
        case "softmax_regression":
            spec = ModelSpec(featureCount: featureCount, l2: l2, .softmax(classCount: outputCount))
        default:
            Issue.record("\(id): no linear model named \(name)")
            throw ModelError.invalidSpec(name)
        }
        #expect(Set(hyper.keys).isSubset(of: known), "\(id): unknown hyper-parameters \(hyper.keys.sorted())")
        return try spec.makeModel()
    }

    // MARK: - Reference cases

    static let referenceModels = [
        "linear_svm", "logistic_focal", "quantile_linear", "quantile_multi", "softmax_regression",
    ]

    @Test(
        "value, parts and gradient match every models.json case (float64 and float32 storage)",
        arguments: referenceModels)
    func matchesReference(modelName: String) throws {
        let cases = try #require(try ReferenceData.load("models.json")["cases"]?.array).filter {
            $0["model"]?.string == modelName
        }
        #expect(!cases.isEmpty, "models.json has no \(modelName) case")
        for testCase in cases {
            let id = testCase["id"]?.string ?? "?"
            let x = try #require(testCase["inputs"]?["x"]?.matrix, "\(id): x")
            let labels = try #require(
                testCase["inputs"]?["y"]?.doubles ?? testCase["inputs"]?["labels"]?.doubles, "\(id): y / labels")
            let parameterFields = try #require(testCase["parameters"]?.object, "\(id): parameters")
            let weightName = parameterFields["W"] != nil ? "W" : "w"
            #expect(
                Set(parameterFields.keys) == [weightName, "b"], "\(id): parameters \(parameterFields.keys.sorted())")
            let weights = try #require(Self.flat(parameterFields[weightName]), "\(id): \(weightName)")
            let bias = try #require(Self.flat(parameterFields["b"]), "\(id): b")
            let parameters = weights + bias
            let model = try Self.model(for: testCase, featureCount: x.columns, outputCount: bias.count)
            #expect(model.layout.tensors.map(\.name) == [weightName, "b"], "\(id): layout names")
            #expect(model.layout.count == parameters.count, "\(id): parameter count")

            let expected = try #require(testCase["expected"], "\(id): expected")
            let gradient = (Self.flat(expected["grad"]?[weightName]) ?? []) + (Self.flat(expected["grad"]?["b"]) ?? [])
            #expect(gradient.count == parameters.count, "\(id): expected gradient size")
            let tolerance = try #require(Tolerance(testCase), "\(id): tolerance")
            let objective = try model.objective(Block(features: x.values, labels: labels, columns: x.columns), parameters)
            for (name, actual) in [
                ("value", objective.value), ("data_loss", objective.dataLoss), ("l2_term", objective.l2Term),
            ] {
                let reference = try #require(expected[name]?.double, "\(id): \(name)")
                #expect(tolerance.matches(actual, reference), "\(id) \(name): \(actual) vs \(reference)")
            }
            #expect(
                tolerance.mismatches(objective.gradient, gradient).isEmpty,
                "\(id) gradient \(objective.gradient) vs \(gradient)")

            // Float storage: inputs rounded to Float, compared at the float32 tolerance. The SVM kink case
            // uses small integers and dyadic weights, exact in Float, so its margins stay exactly 1.
            if testCase["flags"]?["float32_ok"]?.bool != false {
                let loose = try #require(Tolerance(testCase, precision: "float32"), "\(id): float32 tolerance")
                let single = try model.objective(
                    Block(features: x.values, labels: labels, columns: x.columns, precision: .float32), parameters)
                let reference = try #require(expected["value"]?.double)
                #expect(loose.matches(single.value, reference), "\(id) float32 value \(single.value) vs \(reference)")
                #expect(loose.mismatches(single.gradient, gradient).isEmpty, "\(id) float32 gradient")
            }
        }
    }

    // MARK: - Finite differences

    /// A model, the label generator for its rows and the smoothing at which to check it.
    struct GradientCase: CustomTestStringConvertible, Sendable {
        let name: String
        let spec: ModelSpec
        let smoothing: Double
        var testDescription: String { "\(name), μ = \(smoothing)" }

        func label(_ random: inout SplitMix64, row: Int) -> Double {
            switch spec.kind {
            case .svm: random.nextUniform(-2, 2) > 0 ? 1 : -1
            case .logistic: random.nextUniform(-2, 2) > 0 ? 1 : 0
            case .softmax:
                if case .softmax(let classCount, _) = spec.configuration { Double(row % classCount) } else { 0 }
            default: random.nextUniform(-3, 3)
            }
        }
    }

    static let columns = 5

    static let gradientCases: [GradientCase] = [
        GradientCase(name: "svm", spec: ModelSpec(featureCount: columns, l2: 0.1, .svm), smoothing: 0),
        GradientCase(name: "svm", spec: ModelSpec(featureCount: columns, l2: 0.1, .svm), smoothing: 0.5),
        GradientCase(name: "svm", spec: ModelSpec(featureCount: columns, l2: 0, .svm), smoothing: 0.01),
        GradientCase(
            name: "focal γ=2 α=0.25",
            spec: ModelSpec(featureCount: columns, l2: 0.1, .logistic(focal: FocalParameters(gamma: 2, alpha: 0.25))),
            smoothing: 0),
        GradientCase(
            name: "focal γ=1.5 α=0.6, weights [0.3, 2]",
            spec: ModelSpec(featureCount: columns, l2: 0.05, .logistic(focal: FocalParameters(gamma: 1.5, alpha: 0.6), classWeights: [0.3, 2])),
            smoothing: 0),
        GradientCase(
            name: "weighted BCE [2, 0.5]",
            spec: ModelSpec(featureCount: columns, l2: 0.1, .logistic(classWeights: [2, 0.5])), smoothing: 0),
        GradientCase(
            name: "quantile τ=0.3", spec: ModelSpec(featureCount: columns, l2: 0.1, .quantile(taus: [0.3])),
            smoothing: 0),
        GradientCase(
            name: "quantile τ=0.3", spec: ModelSpec(featureCount: columns, l2: 0.1, .quantile(taus: [0.3])),
            smoothing: 0.4),
        GradientCase(
            name: "quantile τ=(0.1,0.5,0.9)",
            spec: ModelSpec(featureCount: columns, l2: 0.02, .quantile(taus: [0.1, 0.5, 0.9])), smoothing: 0),
        GradientCase(
            name: "quantile τ=(0.1,0.5,0.9)",
            spec: ModelSpec(featureCount: columns, l2: 0.02, .quantile(taus: [0.1, 0.5, 0.9])), smoothing: 1),
        GradientCase(
            name: "softmax K=4", spec: ModelSpec(featureCount: columns, l2: 0.1, .softmax(classCount: 4)),
            smoothing: 0),
        GradientCase(
            name: "softmax K=3 weighted",
            spec: ModelSpec(featureCount: columns, l2: 0, .softmax(classCount: 3, classWeights: [1, 0.2, 3])),
            smoothing: 0),
    ]

    /// The distance of a row's prediction from the nearest point where the loss's second derivative jumps:
    /// the kink of the exact loss (μ = 0) or the two junctions of the Huberised one; ∞ for smooth losses.
    static func kinkDistance(_ spec: ModelSpec, smoothing mu: Double, label: Double, predictions: ArraySlice<Double>)
        -> Double
    {
        switch spec.kind {
        case .svm:
            let margin = label * predictions[predictions.startIndex]
            return min(abs(1 - margin), abs(1 - mu - margin))
        case .quantile:
            guard case .quantile(let taus) = spec.configuration else { return .infinity }
            return zip(taus, predictions).map { tau, prediction in
                let error = label - prediction
                return min(abs(error - tau * mu), abs(error + (1 - tau) * mu))
            }.min() ?? .infinity
        default:
            return .infinity
        }
    }

    @Test("the gradient agrees with central finite differences away from kinks", arguments: gradientCases)
    func finiteDifferences(testCase: GradientCase) throws {
        // A seed whose rows all lie more than 1e-3 from every kink in every case (at least 0.034; the
        // `#require` below checks it).
        var random = SplitMix64(seed: 2035)
        let rows = 48
        let model = try testCase.spec.makeModel()
        let values = (0..<(rows * Self.columns)).map { _ in random.nextUniform(-2, 2) }
        let labels = (0..<rows).map { testCase.label(&random, row: $0) }
        let block = try Block(features: values, labels: labels, columns: Self.columns)
        let parameters = (0..<model.parameterCount).map { _ in random.nextUniform(-1, 1) }
        let h = 1e-6

        // Away from kinks (and from the junctions of the smoothed losses): each is much farther from every
        // prediction than the step h can move it.
        let outputs = model.parameterCount / (Self.columns + 1)
        let predictions = try Self.predictions(model, block, parameters)
        for row in 0..<rows {
            let slice = predictions[(row * outputs)..<((row + 1) * outputs)]
            let distance = Self.kinkDistance(
                testCase.spec, smoothing: testCase.smoothing, label: labels[row], predictions: slice)
            try #require(distance > 1e-3, "row \(row) is \(distance) from a kink")
        }

        let analytic = try model.objective(block, parameters, smoothing: testCase.smoothing).gradient
        for k in parameters.indices {
            var plus = parameters
            var minus = parameters
            plus[k] += h
            minus[k] -= h
            let up = try model.objective(block, plus, smoothing: testCase.smoothing).value
            let down = try model.objective(block, minus, smoothing: testCase.smoothing).value
            let numeric = (up - down) / (2 * h)
            #expect(
                abs(numeric - analytic[k]) <= 1e-7 * max(1, abs(analytic[k])),
                "parameter \(k): \(numeric) vs \(analytic[k])")
        }
    }

    static func predictions(_ model: any Model, _ block: Block, _ parameters: [Double]) throws -> [Double] {
        switch model {
        case let svm as LinearSVM: try svm.predict(block, parameters: parameters)
        case let logistic as LogisticRegression: try logistic.predict(block, parameters: parameters)
        case let quantile as QuantileRegression: try quantile.predict(block, parameters: parameters)
        case let softmax as SoftmaxRegression: try softmax.predict(block, parameters: parameters)
        default: throw ModelError.invalidSpec("no predict for \(type(of: model))")
        }
    }

    @Test(
        "smoothed objectives bracket the exact one: F_μ ≤ F ≤ F_μ + c μ (SVM c = 1/2, quantile c = max_q c_τq)",
        arguments: [0.01, 0.3, 2.0])
    func smoothedObjectiveBounds(mu: Double) throws {
        var random = SplitMix64(seed: 5)
        let rows = 30
        let values = (0..<(rows * Self.columns)).map { _ in random.nextUniform(-2, 2) }
        let signs = (0..<rows).map { _ in random.nextUniform(-2, 2) > 0 ? 1.0 : -1.0 }
        let targets = (0..<rows).map { _ in random.nextUniform(-2, 2) }
        let taus = [0.1, 0.5, 0.8]
        let svm = LinearSVM(featureCount: Self.columns, l2: 0.1)
        let quantile = try QuantileRegression(featureCount: Self.columns, l2: 0.1, taus: taus)
        let constant = taus.map { max($0, 1 - $0) * max($0, 1 - $0) / 2 }.max()!
        for (model, labels, gap) in [(svm as any Model, signs, mu / 2), (quantile, targets, constant * mu)] {
            let block = try Block(features: values, labels: labels, columns: Self.columns)
            for _ in 0..<20 {
                let parameters = (0..<model.parameterCount).map { _ in random.nextUniform(-1, 1) }
                let exact = try model.objective(block, parameters).value
                let smoothed = try model.objective(block, parameters, smoothing: mu).value
                #expect(smoothed <= exact + 1e-14)
                #expect(exact <= smoothed + gap + 1e-14)
            }
        }
    }

    // MARK: - Invalid input

    static let invalidSpecs: [ModelSpec] = [
        ModelSpec(featureCount: 3, l2: 0, .quantile(taus: [0])),
        ModelSpec(featureCount: 3, l2: 0, .quantile(taus: [1])),
        ModelSpec(featureCount: 3, l2: 0, .quantile(taus: [0.5, 1.5])),
        ModelSpec(featureCount: 3, l2: 0, .quantile(taus: [-0.1])),
        ModelSpec(featureCount: 3, l2: 0, .quantile(taus: [.nan])),
        ModelSpec(featureCount: 3, l2: 0, .quantile(taus: [])),
        ModelSpec(featureCount: 3, l2: 0, .softmax(classCount: 1)),
        ModelSpec(featureCount: 3, l2: 0, .softmax(classCount: 0)),
        ModelSpec(featureCount: 3, l2: 0, .softmax(classCount: 3, classWeights: [1, -1, 1])),
        ModelSpec(featureCount: 3, l2: 0, .softmax(classCount: 3, classWeights: [1, 1])),
        ModelSpec(featureCount: 3, l2: 0, .softmax(classCount: 3, classWeights: [0, 0, 0])),
        ModelSpec(featureCount: 3, l2: 0, .softmax(classCount: 3, classWeights: [1, .infinity, 1])),
        ModelSpec(featureCount: 3, l2: 0, .logistic(classWeights: [1, -0.5])),
        ModelSpec(featureCount: 3, l2: 0, .logistic(classWeights: [1, 1, 1])),
        ModelSpec(featureCount: 3, l2: 0, .logistic(classWeights: [.nan, 1])),
        ModelSpec(featureCount: 3, l2: 0, .logistic(focal: FocalParameters(gamma: 2, alpha: -0.1))),
        ModelSpec(featureCount: 3, l2: 0, .logistic(focal: FocalParameters(gamma: 2, alpha: 1.1))),
        ModelSpec(featureCount: 3, l2: 0, .logistic(focal: FocalParameters(gamma: -1, alpha: 0.25))),
        ModelSpec(featureCount: 3, l2: 0, .logistic(focal: FocalParameters(gamma: .nan, alpha: 0.25))),
        ModelSpec(featureCount: 3, l2: -0.1, .svm),
        ModelSpec(featureCount: 0, l2: 0, .svm),
    ]

    @Test("invalid hyper-parameters are ModelError.invalidSpec", arguments: invalidSpecs)
    func invalidHyperParameters(spec: ModelSpec) {
        let error = #expect(throws: ModelError.self) { _ = try spec.makeModel() }
        guard case .invalidSpec(let message) = error else {
            Issue.record("expected invalidSpec, got \(String(describing: error))")
            return
        }
        #expect(!message.isEmpty)
    }

    @Test("valid edge hyper-parameters build: α ∈ {0, 1}, γ = 0, a zero class weight")
    func validEdgeHyperParameters() throws {
        for spec in [
            ModelSpec(featureCount: 2, l2: 0, .logistic(focal: FocalParameters(gamma: 0, alpha: 0))),
            ModelSpec(featureCount: 2, l2: 0, .logistic(focal: FocalParameters(gamma: 3, alpha: 1))),
            ModelSpec(featureCount: 2, l2: 0, .logistic(classWeights: [0, 1])),
            ModelSpec(featureCount: 2, l2: 0, .softmax(classCount: 2, classWeights: [0, 1])),
            ModelSpec(featureCount: 2, l2: 0, .quantile(taus: [1e-9, 1 - 1e-9])),
        ] {
            let model = try spec.makeModel()
            #expect(model.spec == spec)
        }
    }

    @Test("a negative or non-finite smoothing is a typed error")
    func invalidSmoothing() throws {
        let block = try Block(features: [1, 2], labels: [1], columns: 2)
        for model in [
            LinearSVM(featureCount: 2, l2: 0) as any Model, try QuantileRegression(featureCount: 2, l2: 0, taus: [0.5]),
        ] {
            for mu in [-0.1, .nan, .infinity] {
                #expect(throws: ModelError.self) { try model.sums(block, [0, 0, 0], smoothing: mu) }
            }
        }
    }

    /// A model and labels it must reject, with the bad row.
    struct BadLabelCase: CustomTestStringConvertible, Sendable {
        let name: String
        let spec: ModelSpec
        let labels: [Double]
        let badRow: Int
        var testDescription: String { "\(name): \(labels)" }
    }

    static let badLabelCases: [BadLabelCase] = [
        BadLabelCase(
            name: "svm 0/1 label", spec: ModelSpec(featureCount: 2, l2: 0, .svm), labels: [1, -1, 0], badRow: 2),
        BadLabelCase(
            name: "svm 2", spec: ModelSpec(featureCount: 2, l2: 0, .svm), labels: [2, -1, 1], badRow: 0),
        BadLabelCase(
            name: "svm NaN", spec: ModelSpec(featureCount: 2, l2: 0, .svm), labels: [1, .nan, 1], badRow: 1),
        BadLabelCase(
            name: "softmax fraction", spec: ModelSpec(featureCount: 2, l2: 0, .softmax(classCount: 3)),
            labels: [0, 1.5, 2], badRow: 1),
        BadLabelCase(
            name: "softmax out of range", spec: ModelSpec(featureCount: 2, l2: 0, .softmax(classCount: 3)),
            labels: [0, 1, 3], badRow: 2),
        BadLabelCase(
            name: "softmax negative", spec: ModelSpec(featureCount: 2, l2: 0, .softmax(classCount: 3)),
            labels: [-1, 1, 2], badRow: 0),
        BadLabelCase(
            name: "focal soft label",
            spec: ModelSpec(featureCount: 2, l2: 0, .logistic(focal: FocalParameters(gamma: 2, alpha: 0.25))),
            labels: [1, 0, 0.5], badRow: 2),
        BadLabelCase(
            name: "weighted logistic ±1 label",
            spec: ModelSpec(featureCount: 2, l2: 0, .logistic(classWeights: [1, 2])),
            labels: [1, -1, 0], badRow: 1),
        BadLabelCase(
            name: "quantile infinite target",
            spec: ModelSpec(featureCount: 2, l2: 0, .quantile(taus: [0.5, 0.9])),
            labels: [1, 2, .infinity], badRow: 2),
    ]

    @Test("a bad label is a ModelError naming the block and the row", arguments: badLabelCases)
    func badLabels(testCase: BadLabelCase) throws {
        let model = try testCase.spec.makeModel()
        let parameters = [Double](repeating: 0.1, count: model.parameterCount)
        for precision in Precision.allCases {
            let typed = try Block(
                features: [1, 2, 3, 4, 5, 6], labels: testCase.labels, columns: 2, id: 7, precision: precision)
            do {
                _ = try model.sums(typed, parameters)
                Issue.record("\(testCase.name) (\(precision)): no error")
            } catch let error as ModelError {
                #expect(error.description.contains("block 7, row \(testCase.badRow)"), "\(error)")
            }
        }
    }

    @Test("wrong shapes are typed errors, not traps")
    func shapeErrors() throws {
        let block = try Block(features: [1, 2, 3, 4], labels: [1, -1], columns: 2)
        let models: [any Model] = [
            LinearSVM(featureCount: 3, l2: 0), try QuantileRegression(featureCount: 3, l2: 0, taus: [0.5, 0.7]),
            try SoftmaxRegression(featureCount: 3, l2: 0, classCount: 3),
        ]
        for model in models {
            #expect(throws: ModelError.self) {
                try model.sums(block, [Double](repeating: 0, count: model.parameterCount))
            }
        }
        let svm = LinearSVM(featureCount: 2, l2: 0)
        #expect(throws: ModelError.self) { try svm.sums(block, [0, 0]) }
        #expect(throws: ModelError.self) { try svm.predict(block, parameters: [0, 0, 0, 0]) }
        #expect(throws: ModelError.self) {
            var short = [0.0, 0]
            try [0.0, 0, 0].withUnsafeBufferPointer { parameters in
                try short.withUnsafeMutableBufferPointer {
                    try svm.blockSums(block, parameters: parameters, context: RoundContext(seed: 0, round: 1), into: $0)
                }
            }
        }
    }

    // MARK: - Predictions, determinism

    @Test("predict returns the row-major raw outputs: scores, logits, quantiles")
    func predictions() throws {
        // x = [[1, 0], [0, 1], [−1, −1]]
        let x: [Double] = [1, 0, 0, 1, -1, -1]
        let svm = LinearSVM(featureCount: 2, l2: 0)
        let svmBlock = try Block(features: x, labels: [1, 1, 1], columns: 2)
        // w = (2, −1), b = 0: scores 2, −1, −1.
        #expect(try svm.predict(svmBlock, parameters: [2, -1, 0]) == [2, -1, -1])

        let softmax = try SoftmaxRegression(featureCount: 2, l2: 0, classCount: 3)
        // W = [[1, 0, 0], [0, 1, 0]], b = [0, 0, 0.5]: logits rows [1, 0, .5], [0, 1, .5], [−1, −1, .5].
        let softmaxParameters: [Double] = [1, 0, 0, 0, 1, 0, 0, 0, 0.5]
        let softmaxBlock = try Block(features: x, labels: [0, 2, 2], columns: 2)
        #expect(
            try softmax.predict(softmaxBlock, parameters: softmaxParameters) == [1, 0, 0.5, 0, 1, 0.5, -1, -1, 0.5])

        let quantile = try QuantileRegression(featureCount: 2, l2: 0, taus: [0.2, 0.8])
        // W = [[1, 2], [1, 2]], b = [0, 1]: predictions [1, 3], [1, 3], [−2, −3]; targets 1, 2, −2.5.
        let quantileParameters: [Double] = [1, 2, 1, 2, 0, 1]
        let quantileBlock = try Block(features: x, labels: [1, 2, -2.5], columns: 2)
        #expect(try quantile.predict(quantileBlock, parameters: quantileParameters) == [1, 3, 1, 3, -2, -3])

        let logistic = try LogisticRegression(
            featureCount: 2, l2: 0, focal: FocalParameters(gamma: 2, alpha: 0.25), classWeights: nil)
        let logisticBlock = try Block(features: x, labels: [1, 0, 0], columns: 2)
        #expect(try logistic.predict(logisticBlock, parameters: [2, -1, 0.5]) == [2.5, -0.5, -0.5])
    }

    @Test("class weights [1, 1] reproduce the plain BCE kernel; weights scale each class's rows")
    func classWeightsAgainstKernel() throws {
        var random = SplitMix64(seed: 31)
        let rows = 40
        let values = (0..<(rows * Self.columns)).map { _ in random.nextUniform(-2, 2) }
        let labels = (0..<rows).map { _ in random.nextUniform(-2, 2) > 0 ? 1.0 : 0.0 }
        let parameters = (0...Self.columns).map { _ in random.nextUniform(-1, 1) }
        for precision in Precision.allCases {
            // The plain model runs the logistic kernel, the weighted one the fused linear kernel (or the
            // Swift path without AVX2); with float32 storage the kernels work in Float lanes.
            let tolerance = precision == .float64 ? 1e-12 : 1e-5
            let block = try Block(features: values, labels: labels, columns: Self.columns, precision: precision)
            let plain = try LogisticRegression(featureCount: Self.columns, l2: 0).sums(block, parameters)
            let unit = try LogisticRegression(featureCount: Self.columns, l2: 0, focal: nil, classWeights: [1, 1])
                .sums(block, parameters)
            #expect(zip(plain, unit).allSatisfy { abs($0 - $1) <= tolerance * max(1, abs($0)) }, "\(precision)")
            // Weight 3 on the positives = plain sums of negatives + 3 × plain sums of positives.
            let positives = labels.map { $0 == 1 }
            func part(_ keep: Bool) throws -> [Double] {
                let kept = (0..<rows).filter { positives[$0] == keep }
                let subset = try Block(
                    features: kept.flatMap { values[($0 * Self.columns)..<(($0 + 1) * Self.columns)] },
                    labels: kept.map { labels[$0] }, columns: Self.columns, precision: precision)
                return try LogisticRegression(featureCount: Self.columns, l2: 0).sums(subset, parameters)
            }
            let weighted = try LogisticRegression(featureCount: Self.columns, l2: 0, focal: nil, classWeights: [1, 3])
                .sums(block, parameters)
            let expected = zip(try part(false), try part(true)).map { $0 + 3 * $1 }
            #expect(zip(weighted, expected).allSatisfy { abs($0 - $1) <= tolerance * max(1, abs($1)) }, "\(precision)")
        }
    }

    @Test("focal loss with γ = 0 and α = 1/2 is half the BCE")
    func focalReducesToBCE() throws {
        var random = SplitMix64(seed: 77)
        let rows = 20
        let values = (0..<(rows * Self.columns)).map { _ in random.nextUniform(-2, 2) }
        let labels = (0..<rows).map { _ in random.nextUniform(-2, 2) > 0 ? 1.0 : 0.0 }
        let parameters = (0...Self.columns).map { _ in random.nextUniform(-1, 1) }
        let block = try Block(features: values, labels: labels, columns: Self.columns)
        let bce = try LogisticRegression(featureCount: Self.columns, l2: 0).sums(block, parameters)
        let focal = try LogisticRegression(
            featureCount: Self.columns, l2: 0, focal: FocalParameters(gamma: 0, alpha: 0.5), classWeights: nil
        ).sums(block, parameters)
        #expect(zip(bce, focal).allSatisfy { abs($0 / 2 - $1) <= 1e-12 * max(1, abs($0)) })
    }

    @Test("block sums are bit-identical on repeated calls and the same for every RoundContext seed and round")
    func determinism() throws {
        var random = SplitMix64(seed: 3)
        let rows = 64
        let values = (0..<(rows * Self.columns)).map { _ in random.nextUniform(-2, 2) }
        let labels = (0..<rows).map { Double($0 % 3) }
        let model = try SoftmaxRegression(featureCount: Self.columns, l2: 0.1, classCount: 3)
        let parameters = (0..<model.parameterCount).map { _ in random.nextUniform(-2, 2) }
        for precision in Precision.allCases {
            let block = try Block(features: values, labels: labels, columns: Self.columns, precision: precision)
            let first = try model.sums(block, parameters)
            var other = [Double](repeating: 0, count: model.sumsWidth)
            try parameters.withUnsafeBufferPointer { parameterBuffer in
                try other.withUnsafeMutableBufferPointer {
                    try model.blockSums(
                        block, parameters: parameterBuffer, context: RoundContext(seed: 99, round: 17), into: $0)
                }
            }
            #expect(first.map(\.bitPattern) == other.map(\.bitPattern))
            #expect(first.allSatisfy { $0.isFinite })
        }
    }
}
