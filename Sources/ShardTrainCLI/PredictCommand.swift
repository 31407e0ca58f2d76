import ArgumentParser
import Foundation
import ShardApplication
import ShardArtifacts

extension PredictionFormat: ExpressibleByArgument {}

/// `shardtrain predict`: per-row predictions of a saved model on a CSV.
public struct PredictCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Apply a saved model to the rows of a CSV and write one line of predictions per row.",
        discussion: """
            The CSV's columns are found by name, in any order (others are ignored, with a note); a label \
            column may be there or not and is never read (its cells may be empty). The stored standardisation, \
            categories and missing-value fills are applied; a category the model did not see reads as all zeros \
            (--strict: an error). Labels written as text are predicted by name. The first column is --id-column when given (as it is in the file), then line, \
            the row's line in the input file (the header is line 1). Columns written per model kind:
              logistic  score, probability, predicted_label
              svm       score, predicted_label
              softmax   predicted_class, probability_0 …
              quantile  q<tau> per level
              triplet   embedding_0 …
              vae       reconstruction, kl, negative_elbo
              linear    prediction
            Binary models predict label 1 when the probability (logistic) or the score (svm) is ≥ the threshold: \
            --threshold, else the one `train --threshold-for` recorded in the model, else 0.5 (logistic) or 0 (svm).
            Examples:
              shardtrain predict --model-file model.safetensors \\
                --data data/breast_cancer.csv --output predictions.csv
              shardtrain predict --model-file model.safetensors \\
                --data data/breast_cancer.csv --threshold 0.9 \\
                --output predictions.jsonl
            """)

    @Option(help: "Model file written by `train --save`.")
    public var modelFile: String

    @Option(help: "CSV file with the model's feature columns (a label column, if any, is not read).")
    public var data: String

    @Option(help: "Name of the label column (default: the one the model was trained with): never read, so its cells may be empty or unknown targets.")
    public var labelColumn: String?

    @OptionGroup public var delimiter: DelimiterArguments

    @Flag(help: "The CSV has no header line: its columns are taken by position, as the model's training file had them (the label column, when last, may be left out).")
    public var noHeader = false

    @Option(help: "A column written first, as it is, beside each row's predictions (default: the model's id column, when the file has it).")
    public var idColumn: String?

    @Flag(help: "Refuse categories the model did not see in training (default: all-zero rows and a note).")
    public var strict = false

    @Option(help: "Write the predictions to this file (atomically, streamed) instead of standard output (\"-\": standard output).")
    public var output: String?

    @Option(help: "csv, jsonl (one JSON object per row) or json (one document); default: jsonl for a .jsonl or .ndjson --output, json for .json, else csv.")
    public var format: PredictionFormat?

    @Flag(help: ArgumentHelp("Deprecated: the same as --format json (use --format jsonl for one object per row).", visibility: .hidden))
    public var json = false

    @Option(parsing: .unconditional, help: "Binary models: predict label 1 when the probability (logistic) or score (svm) is ≥ this (default: the model's recorded threshold, else 0.5 or 0).")
    public var threshold: Double?

    @Option(help: "Seed of the VAE's latent noise.")
    public var seed: UInt64 = 0

    public init() {}

    public func validate() throws {
        if let threshold, !threshold.isFinite { throw ValidationError("--threshold must be a finite number, got \(threshold)") }
        if output == "/dev/stdout" { throw ValidationError("--output /dev/stdout: give --output - (or no --output) for standard output") }
        if json, let format, format != .json {
            throw ValidationError("--json (deprecated, the same as --format json) and --format \(format.rawValue) disagree: give --format only")
        }
        try OutputPaths.refuseClashes(
            outputs: [("--output", file)], inputs: [("--data", data), ("--model-file", modelFile)])
        try OutputPaths.refuseUnwritable([("--output", file)])
    }

    /// The file `--output` names (nil: standard output, also for `--output -`).
    var file: String? { output == "-" ? nil : output }

    /// The predictions of `--data`; a file with a header and no rows gets the columns only (an empty batch in a
    /// pipeline is an empty result, not an error).
    private func predictionTable(_ loaded: LoadedModel) throws(ApplicationError) -> PredictionTable {
        let input: ModelInput
        do {
            input = try loaded.readData(
                path: data, labelColumn: labelColumn, labels: .ignored, dialect: delimiter.dialect(hasHeader: !noHeader),
                idColumn: idColumn, strictCategories: strict)
        } catch {
            guard case .data(.noDataRows) = error else { throw error }
            FileHandle.standardError.write(Data("note: \(data) has no data rows: writing the columns only\n".utf8))
            return loaded.emptyPredictions(idColumn: idColumn ?? loaded.file.schema?.idColumn)
        }
        for note in input.notes { FileHandle.standardError.write(Data("note: \(note)\n".utf8)) }
        return try loaded.predictions(input, seed: seed)
    }

    /// --format, else --json, else by the name of --output.
    var resolvedFormat: PredictionFormat { format ?? (json ? .json : PredictionFormat.inferred(fromPath: file)) }

    public func run() throws {
        Interrupt.installExitingAtOnce()
        if json {
            FileHandle.standardError.write(Data("note: --json is deprecated: it is --format json; --format jsonl writes one object per row\n".utf8))
        }
        do {
            var loaded = try LoadedModel.load(path: modelFile)
            if let threshold { try loaded.setThreshold(usage: threshold) }
            let table = try predictionTable(loaded)
            if let file = self.file {
                let file = try AtomicFileWriter(destination: file)
                try table.write(resolvedFormat, model: loaded.kind) { (piece: [UInt8]) throws(ArtifactError) in try file.write(piece) }
                try file.commit()
            } else {
                table.write(resolvedFormat, model: loaded.kind) { (piece: [UInt8]) in FileHandle.standardOutput.write(Data(piece)) }
            }
        } catch {
            throw CommandFailure(error)
        }
    }
}

extension LoadedModel {
    /// `--threshold` of `evaluate` and `predict`: a value outside the model's scale (a probability above 1 for
    /// logistic) or a model without a threshold is a usage error (exit 64), found once the model is read.
    mutating func setThreshold(usage threshold: Double) throws(CommandFailure) {
        do {
            try setThreshold(threshold)
        } catch {
            throw CommandFailure(error.description, status: .usage)
        }
    }
}
