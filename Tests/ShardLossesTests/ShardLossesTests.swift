import ShardLosses
import Testing
import _TestSupport

/// The ShardLosses suite: golden values, finite differences, extremes, argument checks, tutorial.
@Suite struct ShardLossesTests {
    // MARK: - Reference cases

    @Test func referenceFileIsComplete() throws {
        let document = try ReferenceData.load("losses.json")
        #expect(document["format"]?.string == "loss-golden-v1")
        let cases = try #require(document["cases"]?.array)
        #expect(!cases.isEmpty)
        if let declared = document["n_cases"]?.int { #expect(declared == cases.count) }
    }

    /// Every case of losses.json at its float64 tolerance, and at its float32 tolerance in `Float`
    /// when `flags.float32_ok`. Unknown loss names and unreadable cases fail with the case id.
    @Test(arguments: try LossCase.all())
    func referenceCase(_ lossCase: LossCase) throws {
        let json = lossCase.json
        guard let loss = json["loss"]?.string else {
            Issue.record("\(lossCase.id): no `loss` field")
            return
        }
        let float64 = try #require(Tolerance(json, precision: "float64"), "\(lossCase.id): no float64 tolerance")
        let float32OK = json["flags"]?["float32_ok"]?.bool ?? false
        if loss == "ctc" {
            try checkCTC(lossCase, runner: CaseRunner<Double>(json: json, id: lossCase.id), tolerance: float64)
            if float32OK {
                let float32 = try #require(Tolerance(json, precision: "float32"))
                try checkCTC(lossCase, runner: CaseRunner<Float>(json: json, id: "\(lossCase.id) [Float]"), tolerance: float32)
            }
            return
        }
        try check(lossCase, CaseRunner<Double>(json: json, id: lossCase.id).run(loss: loss), tolerance: float64, label: "Double")
        if float32OK {
            let float32 = try #require(Tolerance(json, precision: "float32"))
            try check(lossCase, CaseRunner<Float>(json: json, id: lossCase.id).run(loss: loss), tolerance: float32, label: "Float")
        }
    }

    private func check(_ lossCase: LossCase, _ actual: Evaluation, tolerance: Tolerance, label: String) throws {
        let expected = try #require(lossCase.json["expected"], "\(lossCase.id): no expected block")
        let reduction = lossCase.json["reduction"]?.string ?? "mean"
        let expectedPerSample = try #require(flatNumbers(expected["per_sample"]), "\(lossCase.id): no per_sample")
        if reduction == "none", let expectedValues = flatNumbers(expected["value"]), expectedValues.count != 1 {
            expectMatch(actual.perSample, expectedValues, tolerance, "\(lossCase.id) [\(label)] value")
        } else {
            let expectedValue = try #require(expected["value"]?.double, "\(lossCase.id): no value")
            expectMatch([actual.value], [expectedValue], tolerance, "\(lossCase.id) [\(label)] value")
        }
        expectMatch(actual.perSample, expectedPerSample, tolerance, "\(lossCase.id) [\(label)] per_sample")
        let gradients = try #require(expected["grad"]?.object, "\(lossCase.id): no grad")
        #expect(!gradients.isEmpty, "\(lossCase.id): empty grad block")
        for (name, values) in gradients {
            let expectedGradient = try #require(flatNumbers(values), "\(lossCase.id): grad.\(name) is not numeric")
            guard let ours = actual.gradients[name] else {
                Issue.record("\(lossCase.id): we compute no gradient for input \(name)")
                continue
            }
            expectMatch(ours, expectedGradient, tolerance, "\(lossCase.id) [\(label)] grad.\(name)")
        }
    }

    private func checkCTC<T: LossScalar>(_ lossCase: LossCase, runner: CaseRunner<T>, tolerance: Tolerance) throws {
        let id = runner.id
        let json = lossCase.json
        let expected = try #require(json["expected"], "\(id): no expected block")
        let (sequences, labels) = try runner.ctcInputs()
        let blank = json["params"]?["blank"]?.int ?? 0
        let reduction = try runner.reduction()
        let plain = try CTCLoss(blank: blank)
        let onLogProbabilities = try plain.evaluate(logProbabilities: sequences, labels: labels, reduction: reduction)
        let onLogits = try plain.evaluate(logits: sequences, labels: labels, reduction: reduction)

        for result in [onLogProbabilities, onLogits] {
            expectMatch([Double(result.value)], [try #require(expected["value"]?.double)], tolerance, "\(id) value")
            expectMatch(
                result.perSample.map(Double.init), try #require(flatNumbers(expected["per_sample"])), tolerance, "\(id) per_sample")
            if let perLength = expected["value_mean_over_target_length"]?.double {
                expectMatch([Double(result.valueMeanOverTargetLength)], [perLength], tolerance, "\(id) value_mean_over_target_length")
            }
        }
        compareCTCGradient(onLogProbabilities.gradient, expected["grad"]?["log_probs"], expected["grad"], tolerance, "\(id) grad")
        compareCTCGradient(
            onLogits.gradient, expected["grad_logits"]?["log_probs"], expected["grad_logits"], tolerance, "\(id) grad_logits")

        if let zeroInfinity = expected["zero_infinity"], !zeroInfinity.isNull {
            let zeroed = try CTCLoss(blank: blank, zeroInfinity: true)
                .evaluate(logProbabilities: sequences, labels: labels, reduction: reduction)
            expectMatch([Double(zeroed.value)], [try #require(zeroInfinity["value"]?.double)], tolerance, "\(id) zero_infinity value")
            if let perLength = zeroInfinity["value_mean_over_target_length"]?.double {
                expectMatch(
                    [Double(zeroed.valueMeanOverTargetLength)], [perLength], tolerance,
                    "\(id) zero_infinity value_mean_over_target_length")
            }
            compareCTCGradient(
                zeroed.gradient, zeroInfinity["grad"]?["log_probs"], zeroInfinity["grad"], tolerance, "\(id) zero_infinity grad")
        }
    }

    /// `expected == nil or null` means the reference has no gradient (infinite value): ours must be nil.
    private func compareCTCGradient<T: LossScalar>(
        _ actual: [Matrix<T>]?, _ expected: JSONValue?, _ block: JSONValue?, _ tolerance: Tolerance, _ label: String
    ) {
        guard let block, !block.isNull else {
            #expect(actual == nil, "\(label): the reference has no gradient (infinite loss) but we returned one")
            return
        }
        guard let expectedValues = flatNumbers(expected) else {
            Issue.record("\(label): not numeric")
            return
        }
        guard let actual else {
            Issue.record("\(label): we returned no gradient")
            return
        }
        expectMatch(actual.flatMap(\.values).map(Double.init), expectedValues, tolerance, label)
    }
}

/// Records one issue listing the first disagreeing elements.
func expectMatch<T: BinaryFloatingPoint>(_ actual: [T], _ expected: [Double], _ tolerance: Tolerance, _ label: String) {
    let actualDoubles = actual.map { Double($0) }
    let bad = tolerance.mismatches(actualDoubles, expected)
    guard !bad.isEmpty else { return }
    let shown = bad.prefix(4).map { index in
        index < actualDoubles.count && index < expected.count
            ? "[\(index)] ours \(actualDoubles[index]) expected \(expected[index])" : "[\(index)] length \(actualDoubles.count) vs \(expected.count)"
    }
    Issue.record("\(label): \(bad.count) mismatch(es) at \(tolerance): \(shown.joined(separator: "; "))")
}
