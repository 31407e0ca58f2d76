import ShardModels
import ShardNumerics
import Testing
import _TestSupport

/// The models' objective and gradient against `models.json` and finite differences.
@Suite("Models")
struct ModelTests {
    /// Model names this build implements; each has its reference test (this file, LinearModelTests,
    /// EmbeddingAndVAETests). A case of any other model fails `everyReferenceModelIsImplemented`.
    static let implemented: Set<String> = [
        "logistic", "linear_svm", "logistic_focal", "quantile_linear", "quantile_multi", "softmax_regression",
        "triplet_linear", "triplet_mlp", "vae_linear", "vae_mlp",
    ]

    static func cases() throws -> [JSONValue] {
        try #require(try ReferenceData.load("models.json")["cases"]?.array)
    }

    static func block(x: (values: [Double], rows: Int, columns: Int), y: [Double], precision: Precision) throws -> Block {
        let storage: BlockStorage =
            precision == .float64
            ? .float64(features: x.values, labels: y)
            : .float32(features: x.values.map(Float.init), labels: y.map(Float.init))
        return try Block(id: 0, rows: x.rows, columns: x.columns, storage: storage)
    }

    static func evaluate(_ model: any Model, _ block: Block, _ parameters: [Double]) throws -> Objective {
        var sums = [Double](repeating: 0, count: model.sumsWidth)
        try parameters.withUnsafeBufferPointer { parameterBuffer in
            try sums.withUnsafeMutableBufferPointer { try model.blockSums(block, parameters: parameterBuffer, context: RoundContext(seed: 0, round: 1), into: $0) }
        }
        return try model.objective(sums: sums, rowCount: block.rows, parameters: parameters)
    }

    @Test("logistic value, parts and gradient match models.json (float64 tolerance)")
    func logisticMatchesReference() throws {
        let cases = try Self.cases().filter { $0["model"]?.string == "logistic" }
        #expect(!cases.isEmpty)
        for testCase in cases {
            let id = testCase["id"]?.string ?? "?"
            let x = try #require(testCase["inputs"]?["x"]?.matrix, "\(id): x")
            let y = try #require(testCase["inputs"]?["y"]?.doubles, "\(id): y")
            let w = try #require(testCase["parameters"]?["w"]?.doubles, "\(id): w")
            let b = try #require(testCase["parameters"]?["b"]?.double, "\(id): b")
            let l2 = try #require(testCase["hyper"]?["l2"]?.double, "\(id): l2")
            let expected = try #require(testCase["expected"], "\(id): expected")
            let tolerance = try #require(Tolerance(testCase), "\(id): tolerance")
            let model = LogisticRegression(featureCount: x.columns, l2: l2)
            let objective = try Self.evaluate(model, try Self.block(x: x, y: y, precision: .float64), w + [b])
            for (name, actual) in [("value", objective.value), ("data_loss", objective.dataLoss), ("l2_term", objective.l2Term)] {
                let reference = try #require(expected[name]?.double, "\(id): \(name)")
                #expect(tolerance.matches(actual, reference), "\(id) \(name): \(actual) vs \(reference)")
            }
            let gradW = try #require(expected["grad"]?["w"]?.doubles)
            let gradB = try #require(expected["grad"]?["b"]?.double)
            #expect(tolerance.mismatches(objective.gradient, gradW + [gradB]).isEmpty, "\(id) gradient")

            // Float storage: the inputs rounded to Float, compared at the float32 tolerance.
            if testCase["flags"]?["float32_ok"]?.bool != false, let loose = Tolerance(testCase, precision: "float32") {
                let single = try Self.evaluate(model, try Self.block(x: x, y: y, precision: .float32), w + [b])
                let reference = try #require(expected["value"]?.double)
                #expect(loose.matches(single.value, reference), "\(id) float32 value \(single.value) vs \(reference)")
                #expect(loose.mismatches(single.gradient, gradW + [gradB]).isEmpty, "\(id) float32 gradient")
            }
        }
    }

    @Test("every model named in models.json is implemented (a reference folder with another model fails)")
    func everyReferenceModelIsImplemented() throws {
        for testCase in try Self.cases() {
            let name = try #require(testCase["model"]?.string, "a case without a model name")
            #expect(Self.implemented.contains(name), "unknown model \(name) in models.json")
        }
    }

    @Test("logistic gradient agrees with central finite differences", arguments: [0.0, 0.3])
    func logisticFiniteDifferences(l2: Double) throws {
        var state: UInt64 = 17
        func next() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(state >> 11) / Double(1 << 53) * 4 - 2
        }
        let rows = 40
        let columns = 6
        let x = (values: (0..<(rows * columns)).map { _ in next() }, rows: rows, columns: columns)
        let y = (0..<rows).map { _ in next() > 0 ? 1.0 : 0.0 }
        let block = try Self.block(x: x, y: y, precision: .float64)
        let model = LogisticRegression(featureCount: columns, l2: l2)
        let parameters = (0...columns).map { _ in next() }
        let analytic = try Self.evaluate(model, block, parameters).gradient
        let h = 1e-6
        for k in parameters.indices {
            var plus = parameters
            var minus = parameters
            plus[k] += h
            minus[k] -= h
            let numeric = (try Self.evaluate(model, block, plus).value - Self.evaluate(model, block, minus).value) / (2 * h)
            #expect(abs(numeric - analytic[k]) <= 1e-8 * max(1, abs(analytic[k])), "parameter \(k)")
        }
    }

    @Test("extreme logits stay finite and exact")
    func extremeLogits() throws {
        let block = try Self.block(x: ([1, -1], 2, 1), y: [0, 0], precision: .float64)
        let model = LogisticRegression(featureCount: 1, l2: 0)
        let objective = try Self.evaluate(model, block, [1000, 0])
        // Row 1: z = 1000, y = 0 → loss 1000, residual 1. Row 2: z = −1000 → loss e^−1000 ≈ 0.
        #expect(objective.value == 500)
        #expect(objective.gradient == [0.5, 0.5])
    }

    @Test("wrong shapes are typed errors, not traps")
    func shapeErrors() throws {
        let block = try Self.block(x: ([1, 2, 3, 4], 2, 2), y: [0, 1], precision: .float64)
        let model = LogisticRegression(featureCount: 3, l2: 0)
        #expect(throws: ModelError.self) { try Self.evaluate(model, block, [0, 0, 0, 0]) }
        #expect(throws: ModelError.self) {
            try ModelSpec(kind: .logistic, featureCount: 2, l2: -1).makeModel()
        }
        #expect(throws: ModelError.self) {
            try LogisticRegression(featureCount: 2, l2: 0).objective(sums: [0, 0], rowCount: 1, parameters: [0, 0, 0])
        }
    }
}
