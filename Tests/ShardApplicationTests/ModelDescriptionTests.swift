@testable import ShardApplication
import ShardModels
import Testing

/// The registry lists every kind once, and what it says is what the rest of the application does.
@Suite struct ModelDescriptionTests {
    @Test func everyKindIsRegisteredOnce() {
        let kinds = ModelRegistry.descriptions.map { $0.kind }
        #expect(kinds.count == ModelKind.allCases.count)
        #expect(Set(kinds) == Set(ModelKind.allCases))
        for kind in ModelKind.allCases { #expect(kind.modelDescription.kind == kind) }
    }

    @Test func everySettingIsReadBySomeKind() {
        for setting in ModelSetting.allCases {
            #expect(!ModelRegistry.kinds(reading: setting).isEmpty, "\(setting.rawValue) is read by no model")
        }
    }

    @Test func traitsOfTheKinds() {
        #expect(ModelKind.allCases.filter(\.lossDrawsRandomNumbers) == [.triplet, .vae])
        #expect(ModelKind.logistic.labelKind == .binary(.zeroOne) && ModelKind.svm.labelKind == .binary(.plusMinusOne))
        #expect(ModelKind.linear.labelKind == .real && ModelKind.vae.labelKind == .ignored)
        var choices = ModelChoices()
        choices.kind = .linear
        #expect(!choices.isNonSmooth)
        choices.regressionLoss = .mae
        #expect(choices.isNonSmooth)
    }

    @Test func rowOutputsAndTheArgmaxTieRule() {
        let outputs = RowOutputs(values: [0.5, -1, 2, 0], width: 2)
        #expect(outputs.rowCount == 2 && outputs.rows == [[0.5, -1], [2, 0]])
        // softmax: argmax with ties to the lower class, then the probabilities.
        let ties = RowOutputs(values: [1, 1, 3, 2], width: 2)
        #expect(ties.rows.indices.map { argmax(ties.row($0)) } == [0, 0])
    }
}
