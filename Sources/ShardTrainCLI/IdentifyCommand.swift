import ArgumentParser
import Foundation
import ShardApplication
import ShardMetrics

/// `shardtrain identify`: open-set identification with a triplet embedding model.
public struct IdentifyCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "identify",
        abstract: "Identify query rows against a labelled gallery with a triplet embedding model.",
        discussion: """
            Every gallery row is embedded and registered under its label. Unless --threshold is given, the \
            distance threshold maximises verification accuracy over all pairs of gallery rows. Each query row \
            gets the identity of its nearest gallery row, or "unknown" when that row is farther than the \
            threshold. Example (README.md makes these files from data/digits.csv):
              shardtrain identify --model-file digits-embedding.safetensors \\
                --gallery known.csv --query unknown.csv
            """)

    @Option(help: "Triplet model file written by `train --save`.")
    public var modelFile: String

    @Option(help: "CSV of labelled rows to register (the label column holds the identities: class indices or names, as in training).")
    public var gallery: String

    @Option(help: "CSV of rows to identify (a label column is optional and ignored).")
    public var query: String

    @Option(help: "Euclidean distance threshold (default: fitted on the gallery pairs).")
    public var threshold: Double?

    @Option(help: "Name of the label column (default: the one the model was trained with).")
    public var labelColumn: String?

    public init() {}

    public func validate() throws {
        if let threshold, !(threshold.isFinite && threshold >= 0) {
            throw ValidationError("--threshold must be finite and non-negative, got \(threshold)")
        }
    }

    public func run() throws {
        Interrupt.installExitingAtOnce()
        do {
            let loaded = try LoadedModel.load(path: modelFile)
            try loaded.require([.triplet], command: "identify")
            let galleryRows = try loaded.readData(path: gallery, labelColumn: labelColumn, labels: .required)
            let queryRows = try loaded.readData(path: query, labelColumn: labelColumn, labels: .optional)
            let outcome = try loaded.identify(gallery: galleryRows, queries: queryRows, threshold: threshold)
            // The threshold is a note on standard error: standard output is the CSV alone.
            var note = "note: threshold \(outcome.threshold)"
            if let accuracy = outcome.fittedAccuracy {
                note += " (fitted on the gallery pairs, verification accuracy \(String(format: "%.4f", accuracy)))"
            } else {
                note += " (given)"
            }
            FileHandle.standardError.write(Data((note + "\n").utf8))
            // Identities by name where the training labels were text (as `predict` names classes).
            let names = loaded.classNames
            func identity(_ label: Int) -> String {
                guard let names, names.indices.contains(label) else { return String(label) }
                return PredictionTable.csvText(names[label])
            }
            var text = "line,identity,distance\n"
            for answer in outcome.answers {
                switch answer.result {
                case .match(let label, let distance, _): text += "\(answer.line),\(identity(label)),\(distance)\n"
                case .unknown(let distance): text += "\(answer.line),unknown,\(distance)\n"
                }
            }
            print(text, terminator: "")
        } catch {
            throw CommandFailure(error)
        }
    }
}
