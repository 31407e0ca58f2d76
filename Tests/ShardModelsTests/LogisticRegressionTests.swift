import ShardModels
import ShardNumerics
import Testing
import _TestSupport

/// Logistic regression's objective and gradient against `models.json`, finite differences and extreme logits.
@Suite("Logistic regression")
struct LogisticRegressionTests {
    @Test("logistic value, parts and gradient match models.json (float64 tolerance)")
    func logisticMatchesReference() throws {
        let cases = try #require(try ReferenceData.load("models.json")["cases"]?.array).filter {
            $0["model"]?.string == "logistic"
        }
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
            let objective = try model.objective(Block(features: x.values, labels: y, columns: x.columns), w + [b])
            for (name, actual) in [("value", objective.value), ("data_loss", objective.dataLoss), ("l2_term", objective.l2Term)] {
                let reference = try #require(expected[name]?.double, "\(id): \(name)")
                #expect(tolerance.matches(actual, reference), "\(id) \(name): \(actual) vs \(reference)")
            }
            let gradW = try #require(expected["grad"]?["w"]?.doubles)
            let gradB = try #require(expected["grad"]?["b"]?.double)
            #expect(tolerance.mismatches(objective.gradient, gradW + [gradB]).isEmpty, "\(id) gradient")

            // Float storage: the inputs rounded to Float, compared at the float32 tolerance.
            if testCase["flags"]?["float32_ok"]?.bool != false, let loose = Tolerance(testCase, precision: "float32") {
                let single = try model.objective(
                    Block(features: x.values, labels: y, columns: x.columns, precision: .float32), w + [b])
                let reference = try #require(expected["value"]?.double)
                #expect(loose.matches(single.value, reference), "\(id) float32 value \(single.value) vs \(reference)")
                #expect(loose.mismatches(single.gradient, gradW + [gradB]).isEmpty, "\(id) float32 gradient")
            }
        }
    }

    @Test("logistic gradient agrees with central finite differences", arguments: [0.0, 0.3])
    func logisticFiniteDifferences(l2: Double) throws {
        var random = SplitMix64(seed: 17)
        let rows = 40
        let columns = 6
        let block = try Block(
            features: random.uniforms(rows * columns, -2...2), labels: random.binaryLabels(rows), columns: columns)
        let model = LogisticRegression(featureCount: columns, l2: l2)
        let parameters = random.uniforms(columns + 1, -2...2)
        let analytic = try model.objective(block, parameters).gradient
        let h = 1e-6
        for k in parameters.indices {
            var plus = parameters
            var minus = parameters
            plus[k] += h
            minus[k] -= h
            let numeric = (try model.objective(block, plus).value - model.objective(block, minus).value) / (2 * h)
            #expect(abs(numeric - analytic[k]) <= 1e-8 * max(1, abs(analytic[k])), "parameter \(k)")
        }
    }

    @Test("extreme logits stay finite and exact")
    func extremeLogits() throws {
        let block = try Block(features: [1, -1], labels: [0, 0], columns: 1)
        let model = LogisticRegression(featureCount: 1, l2: 0)
        let objective = try model.objective(block, [1000, 0])
        // Row 1: z = 1000, y = 0 → loss 1000, residual 1. Row 2: z = −1000 → loss e^−1000 ≈ 0.
        #expect(objective.value == 500)
        #expect(objective.gradient == [0.5, 0.5])
    }

    @Test("wrong shapes are typed errors, not traps")
    func shapeErrors() throws {
        let block = try Block(features: [1, 2, 3, 4], labels: [0, 1], columns: 2)
        let model = LogisticRegression(featureCount: 3, l2: 0)
        #expect(throws: ModelError.self) { try model.objective(block, [0, 0, 0, 0]) }
        #expect(throws: ModelError.self) {
            try ModelSpec(featureCount: 2, l2: -1, .logistic()).makeModel()
        }
        #expect(throws: ModelError.self) {
            try LogisticRegression(featureCount: 2, l2: 0).objective(sums: [0, 0], rowCount: 1, parameters: [0, 0, 0])
        }
    }
}
