@testable import ShardApplication
import ShardArtifacts
import ShardData
import ShardModels
import ShardNumerics
import Testing

@Suite("Evaluation: the data loss")
struct EvaluationDataLossTests {
    @Test("a VAE's data loss comes from its outputs (reconstruction and KL) with the bits of the model's pass", arguments: Precision.allCases)
    func vaeDataLossFromOutputs(precision: Precision) throws {
        let spec = ModelSpec(featureCount: 5, l2: 0.01, .vae(latentDimension: 2, hiddenUnits: 3))
        let model = try spec.makeModel()
        let file = ModelFile(
            spec: spec, parameters: model.initialParameters(), featureNames: (0..<5).map { "x\($0)" },
            labelName: "label", labelEncoding: "none", standardization: nil)
        var random = SplitMix64(seed: 11)
        // 300 rows: blocks of 128, 128 and 44.
        let dataset = try Dataset(
            sourcePath: "images.csv", featureNames: file.featureNames, labelName: "label",
            features: (0..<1_500).map { _ in random.nextUnit() }, labels: [Double](repeating: 0, count: 300))
        var loaded = LoadedModel(path: "model", file: file, model: model)
        loaded.precision = precision
        let input = ModelInput(dataset: dataset, hasLabels: false)
        for seed: UInt64 in [0, 9] {
            let report = try loaded.evaluate(input, seed: seed)
            let pass = try loaded.dataLoss(dataset, seed: seed)
            #expect(report.dataLoss.bitPattern == pass.bitPattern, "seed \(seed)")
            #expect(abs(report.dataLoss - (report.vae?.meanNegativeELBO ?? .nan)) <= 1e-12 * report.dataLoss)
        }
    }
}
