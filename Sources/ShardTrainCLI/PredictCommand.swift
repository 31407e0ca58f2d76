import ArgumentParser
import Foundation
import ShardApplication
import ShardArtifacts

/// `shardtrain predict`: per-row predictions of a saved model on a CSV.
public struct PredictCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Apply a saved model to the rows of a CSV and write one line of predictions per row.",
        discussion: """
            The CSV's columns are found by name, in any order (others are ignored, with a note).
            A label column is optional. The stored standardisation, categories and missing-value fills
            are applied; a category the model did not see reads as all zeros (--strict: an error).
            Labels written as text are predicted by name; --id-column is written first, as it is. Columns written per model kind:
              logistic  score, probability, predicted_label      svm       score, predicted_label
              softmax   predicted_class, probability_0 …         quantile  q<tau> per level
              triplet   embedding_0 …                            vae       reconstruction, kl, negative_elbo
              linear    prediction
            Example:
              shardtrain predict --model-file model.safetensors --data data/breast_cancer.csv --output predictions.csv
            """)

    @Option(help: "Model file written by `train --save`.")
    public var modelFile: String

    @Option(help: "CSV file with the model's feature columns (and optionally the label column).")
    public var data: String

    @Option(help: "Name of the label column (default: the one the model was trained with).")
    public var labelColumn: String?

    @OptionGroup public var delimiter: DelimiterArguments

    @Option(help: "A column written first, as it is, beside each row's predictions (default: the model's id column, when the file has it).")
    public var idColumn: String?

    @Flag(help: "Refuse categories the model did not see in training (default: all-zero rows and a note).")
    public var strict = false

    @Option(help: "Write the predictions to this file (atomically) instead of standard output.")
    public var output: String?

    @Flag(help: "Write JSON ({\"columns\": […], \"rows\": […]}) instead of CSV.")
    public var json = false

    @Option(help: "Seed of the VAE's latent noise.")
    public var seed: UInt64 = 0

    public init() {}

    public func validate() throws {
        try OutputPaths.refuseClashes(
            outputs: [("--output", output)], inputs: [("--data", data), ("--model-file", modelFile)])
        try OutputPaths.refuseUnwritable([("--output", output)])
    }

    public func run() throws {
        do {
            let loaded = try LoadedModel.load(path: modelFile)
            let input = try loaded.readData(
                path: data, labelColumn: labelColumn, labels: .optional, dialect: delimiter.dialect, idColumn: idColumn,
                strictCategories: strict)
            for note in input.notes { FileHandle.standardError.write(Data("note: \(note)\n".utf8)) }
            let table = try loaded.predictions(input, seed: seed)
            let text = json ? table.json(model: loaded.kind) : table.csv()
            if let output {
                try AtomicFile.write(Data(text.utf8), to: output)
            } else {
                FileHandle.standardOutput.write(Data(text.utf8))
            }
        } catch {
            throw CommandFailure(error)
        }
    }
}
