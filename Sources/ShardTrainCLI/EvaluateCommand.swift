import ArgumentParser
import Foundation
import ShardApplication
import ShardArtifacts

/// `shardtrain evaluate`: the metrics of a saved model on labelled rows.
public struct EvaluateCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Report the metrics of a saved model on the labelled rows of a CSV.",
        discussion: """
            logistic, svm, softmax: classification report and confusion matrix (binary: also ROC-AUC and PR-AUC, \
            positive class 1); quantile: pinball loss and coverage per level, crossing rate; linear: MSE, RMSE, \
            MAE and R²; triplet: recall@1 and verification accuracy at a threshold chosen on the same rows; vae: \
            mean negative ELBO, reconstruction and KL per row. Always: the training objective's data loss on these rows. \
            Binary models classify at --threshold, else at the threshold `train --threshold-for` recorded in the model, \
            else at 0.5 on the probability (logistic) or 0 on the score (svm); the report names the one used.
            Examples:
              shardtrain evaluate --model-file model.safetensors \\
                --data data/breast_cancer.csv --json
              shardtrain evaluate --model-file model.safetensors \\
                --data data/breast_cancer.csv --threshold 0.9
            """)

    @Option(help: "Model file written by `train --save`.")
    public var modelFile: String

    @Option(help: "CSV file with the model's feature columns and the label column.")
    public var data: String

    @Option(help: "Name of the label column (default: the one the model was trained with).")
    public var labelColumn: String?

    @OptionGroup public var delimiter: DelimiterArguments

    @Flag(help: "The CSV has no header line: its columns are taken by position, as the model's training file had them (the label column, when last, may be left out).")
    public var noHeader = false

    @Flag(help: "Refuse categories the model did not see in training (default: all-zero rows and a note).")
    public var strict = false

    @Flag(help: "Print one JSON object instead of text.")
    public var json = false

    @Option(parsing: .unconditional, help: "Binary models: predict label 1 when the probability (logistic) or score (svm) is ≥ this (default: the model's recorded threshold, else 0.5 or 0).")
    public var threshold: Double?

    @Option(help: "Seed of the VAE noise, the triplet mining and the verification pair sample.")
    public var seed: UInt64 = 0

    @Option(help: "Also write an HTML report with the model's quality charts to this file (see README, \"Reports\").")
    public var report: String?

    public init() {}

    public func validate() throws {
        if let threshold, !threshold.isFinite { throw ValidationError("--threshold must be a finite number, got \(threshold)") }
        guard let report else { return }
        try OutputPaths.refuseClashes(outputs: [("--report", report)], inputs: [("--model-file", modelFile), ("--data", data)])
        try OutputPaths.refuseUnwritable([("--report", report)])
    }

    public func run() throws {
        Interrupt.installExitingAtOnce()
        do {
            var loaded = try LoadedModel.load(path: modelFile)
            if let threshold { try loaded.setThreshold(usage: threshold) }
            let input = try loaded.readData(
                path: data, labelColumn: labelColumn, labels: loaded.kind == .vae ? .optional : .required,
                dialect: delimiter.dialect(hasHeader: !noHeader), strictCategories: strict)
            for note in input.notes { FileHandle.standardError.write(Data("note: \(note)\n".utf8)) }
            let report = try loaded.evaluate(input, seed: seed)
            if let path = self.report {
                let page = RunReport.evaluation(report, model: loaded, input: input, dataPath: data, seed: seed)
                try OutputSet(files: [OutputFile(path: path, contents: page)], record: nil)
                    .commit(rescueFolders: OutputPaths.rescueFolders)
                // On standard error: standard output is the report's text or JSON, which pipelines read.
                FileHandle.standardError.write(Data("wrote report \(path)\n".utf8))
            }
            if json {
                FileHandle.standardOutput.write(try report.jsonData() + Data("\n".utf8))
            } else {
                print(report.renderText(), terminator: "")
            }
        } catch {
            throw CommandFailure(error)
        }
    }
}
