import Foundation
import ShardModels
import Testing

/// The spec's flat JSON form (model files, job specs): every kind round-trips, and keys of another kind or
/// missing required keys are refused.
@Suite struct ModelSpecTests {
    static let specs: [ModelSpec] = [
        ModelSpec(featureCount: 3, l2: 0.5, .logistic(focal: FocalParameters(gamma: 2, alpha: 0.25), classWeights: [1, 3])),
        ModelSpec(featureCount: 3, l2: 0, .logistic()),
        ModelSpec(featureCount: 3, l2: 0.1, .svm),
        ModelSpec(featureCount: 3, l2: 0, .quantile(taus: [0.1, 0.9])),
        ModelSpec(featureCount: 3, l2: 0.01, .softmax(classCount: 4, classWeights: [1, 1, 2, 2])),
        ModelSpec(
            featureCount: 3, l2: 0,
            .triplet(TripletSettings(classCount: 5, embeddingDimension: 2, hiddenUnits: 8, margin: 0.5, pairObjective: .contrastive))),
        ModelSpec(featureCount: 3, l2: 0, .vae(latentDimension: 2, hiddenUnits: 16)),
        ModelSpec(featureCount: 3, l2: 0.01, .linear(RegressionSettings(loss: .huber, delta: 2))),
    ]

    @Test(arguments: specs)
    func roundTripsThroughJSON(_ spec: ModelSpec) throws {
        let data = try JSONEncoder().encode(spec)
        #expect(try JSONDecoder().decode(ModelSpec.self, from: data) == spec)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["kind"] as? String == spec.kind.rawValue)
    }

    @Test func theFlatFormReadsAsWrittenByHand() throws {
        let text = #"{"kind": "softmax", "featureCount": 64, "l2": 0.001, "classCount": 10}"#
        let spec = try JSONDecoder().decode(ModelSpec.self, from: Data(text.utf8))
        #expect(spec == ModelSpec(featureCount: 64, l2: 0.001, .softmax(classCount: 10)))
    }

    @Test func keysOfAnotherKindAndMissingSettingsAreRefused() {
        let foreign = #"{"kind": "svm", "featureCount": 2, "l2": 0, "taus": [0.5]}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(ModelSpec.self, from: Data(foreign.utf8)) }
        let missing = #"{"kind": "quantile", "featureCount": 2, "l2": 0}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(ModelSpec.self, from: Data(missing.utf8)) }
    }

    @Test func nonSmoothnessFollowsTheLoss() {
        #expect(ModelConfiguration.svm.isNonSmooth && ModelConfiguration.quantile(taus: [0.5]).isNonSmooth)
        #expect(ModelConfiguration.linear(RegressionSettings(loss: .mae)).isNonSmooth)
        #expect(!ModelConfiguration.linear(RegressionSettings(loss: .huber, delta: 1)).isNonSmooth)
        #expect(!ModelConfiguration.logistic().isNonSmooth)
    }
}
