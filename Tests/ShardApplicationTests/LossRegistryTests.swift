import ShardApplication
import ShardLosses
import Testing
import _TestSupport

/// The loss registry knows every loss of the reference cases, and evaluates requests by name.
@Suite struct LossRegistryTests {
    @Test func everyReferenceLossHasAName() throws {
        let cases = try #require(try ReferenceData.load("losses.json")["cases"]?.array)
        let referenced = Set(cases.compactMap { $0["loss"]?.string })
        #expect(!referenced.isEmpty)
        let known = Set(LossName.allCases.map(\.rawValue))
        #expect(referenced.subtracting(known).isEmpty, "\(referenced.subtracting(known))")
    }

    @Test func everyReferenceParameterIsOneTheLossTakesAndOthersAreRefused() throws {
        let cases = try #require(try ReferenceData.load("losses.json")["cases"]?.array)
        for referenceCase in cases {
            let name = try #require(LossName(rawValue: referenceCase["loss"]?.string ?? ""))
            let keys = referenceCase["params"]?.object?.keys.map { $0 } ?? []
            #expect(Set(keys).isSubset(of: name.parameterNames), "\(name): \(keys)")
        }
        var typo = try LossRequest(loss: "huber", reduction: .mean)
        try typo.setParameter("detla=2")
        try typo.setInput("y_true=0,0")
        try typo.setInput("y_pred=0.5,3")
        #expect(throws: (any Error).self) { try typo.evaluate(Double.self) }
        do {
            _ = try typo.evaluate(Double.self)
        } catch {
            #expect("\(error)" == "huber has no parameter 'detla'; its parameters: delta")
        }
        var none = try LossRequest(loss: "mse", reduction: .mean)
        try none.setParameter("delta=1")
        #expect(throws: (any Error).self) { try none.evaluate(Double.self) }
    }

    @Test func unknownNamesAreRefusedWithTheList() {
        do {
            _ = try LossRequest(loss: "msee", reduction: .mean)
            Issue.record("accepted an unknown loss")
        } catch {
            #expect("\(error)".hasPrefix("unknown loss 'msee'; known: bce_logits, bce_prob"))
        }
    }

    @Test func aRequestEvaluatesItsLoss() throws {
        var request = try LossRequest(loss: "huber", reduction: .mean)
        try request.setParameter("delta=1")
        try request.setInput("y_true=0,0")
        try request.setInput("y_pred=0.5,3")
        let evaluation = try request.evaluate(Double.self)
        // ½·0.5² = 0.125 and 1·(3 − ½) = 2.5: mean 1.3125; d/dŷ = clamp(ŷ − y, −1, 1) / 2 per sample.
        #expect(evaluation.value == 1.3125)
        #expect(evaluation.gradients.first?.values == [0.25, 0.5])
    }
}
