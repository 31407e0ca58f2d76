import Foundation
import ShardArtifacts
import ShardData
import ShardModels

/// A finished run read back from its summary file (or from a file holding only the summary's `settings` object):
/// what `train --config` starts from.
public struct RecordedRun: Sendable, Equatable {
    public var settings: RunSettings
    /// The SHA-256 recorded for each input file (none for a bare settings object).
    public var inputDigests: InputDigests
    /// The build that computed the recorded result, when recorded.
    public var build: String?

    public init(settings: RunSettings, inputDigests: InputDigests = InputDigests(sha256: [:]), build: String? = nil) {
        self.settings = settings
        self.inputDigests = inputDigests
        self.build = build
    }

    /// Reads a summary (`settings`, `input_sha256`, `build`) or a bare settings object; `path` names the file in errors.
    public init(json: Data, path: String) throws(ArtifactError) {
        let object: [String: Any]
        do {
            guard let top = try JSONSerialization.jsonObject(with: json) as? [String: Any] else {
                throw ArtifactError.format(path: path, reason: "expected a JSON object (a summary or its settings)")
            }
            object = top
        } catch let error as ArtifactError {
            throw error
        } catch {
            throw .format(path: path, reason: "not JSON: \(error.localizedDescription)")
        }
        let nested = object["settings"] is [String: Any]
        guard ((nested ? object["settings"] : object) as? [String: Any])?["model"] is [String: Any] else {
            throw .format(
                path: path,
                reason: "no settings: expected a summary written by --summary-json (with \"settings\") or its settings object")
        }
        // Decoded from the file's own text, so every number is read exactly as written.
        struct Summary: Decodable { var settings: RunSettings }
        settings =
            nested
            ? try DocumentDecoding.decode(Summary.self, from: json, path: path, field: Self.field, context: "settings").settings
            : try DocumentDecoding.decode(RunSettings.self, from: json, path: path, field: Self.field, context: "settings")
        var digests: [String: String] = [:]
        for (key, value) in object["input_sha256"] as? [String: Any] ?? [:] {
            guard let hex = value as? String else { throw .format(path: path, reason: "input_sha256.\(key) is not a string") }
            digests["--" + key.replacing("_", with: "-")] = hex
        }
        inputDigests = InputDigests(sha256: digests)
        build = object["build"] as? String
    }

    /// A decoding path as the file spells it: `settings.max_rounds`, `settings.model.class_count`.
    private static func field(_ path: [any CodingKey]) -> String {
        guard !path.isEmpty else { return "the settings object" }
        return path.map { key in
            key.intValue.map(String.init) ?? key.stringValue.replacing(#/[A-Z]/#) { "_" + $0.output.lowercased() }
        }.joined(separator: ".")
    }

    /// The command-line form of the settings: flags that give a run these settings (defaults resolved, so each
    /// value is stated), in a fixed order.
    public var arguments: [RecordedArgument] {
        let s = settings
        var list: [RecordedArgument] = []
        func add(_ flag: String, _ value: (any CustomStringConvertible)?, replacedBy: Set<String> = []) {
            guard let value else { return }
            list.append(RecordedArgument(flag: flag, tokens: [flag, value.description], replacedBy: replacedBy))
        }
        func toggle(_ flag: String, _ on: Bool?, replacedBy: Set<String> = []) {
            guard let on else { return }
            list.append(
                RecordedArgument(flag: flag, tokens: [on ? flag : "--no-" + flag.dropFirst(2)], replacedBy: replacedBy))
        }
        // Data and its selection.
        add("--data", s.dataFile)
        add("--labels", s.labelsFile, replacedBy: ["--data"])
        if !NumpyReader.isNumpyPath(s.dataFile) {
            list.append(
                RecordedArgument(
                    flag: "--label-column", tokens: ["--label-column", s.labelColumn], replacedBy: [],
                    droppedForNumpyData: true))
        }
        add("--format", s.dataFormat, replacedBy: ["--data"])
        add("--delimiter", s.delimiter, replacedBy: ["--data"])
        if s.noHeader == true { list.append(RecordedArgument(flag: "--no-header", tokens: ["--no-header"], replacedBy: ["--data"])) }
        add("--rows", s.rowsFile)
        for (flag, names) in [("--ignore", s.ignore), ("--categorical", s.categorical)] {
            guard let names, !names.isEmpty else { continue }
            list.append(RecordedArgument(flag: flag, tokens: names.flatMap { [flag, $0] }, replacedBy: []))
        }
        add("--id-column", s.idColumn)
        add("--missing", s.missing)
        add("--positive-class", s.positiveClass, replacedBy: ["--model"])
        let heldOut: Set<String> = ["--test-rows", "--test-fraction", "--test-data"]
        add("--test-rows", s.testRowsFile, replacedBy: heldOut)
        add("--test-fraction", s.testFraction, replacedBy: heldOut)
        add("--test-data", s.testDataFile, replacedBy: heldOut)
        add("--seed", s.seed)
        toggle("--standardize", s.standardize)
        add("--precision", s.precision)
        add("--block-rows", s.blockRows)
        // The model: its kind's settings give way to another --model.
        add("--model", s.model.kind.rawValue)
        add("--l2", s.model.l2)
        let model: Set<String> = ["--model"]
        let classWeights = { (weights: [Double]?) in weights.map { $0.map(\.description).joined(separator: ",") } }
        switch s.model.configuration {
        case .logistic(let focal, let weights):
            add("--focal-gamma", focal?.gamma, replacedBy: model)
            add("--focal-alpha", focal?.alpha, replacedBy: model)
            add("--class-weight", classWeights(weights), replacedBy: model)
        case .svm:
            break
        case .quantile(let taus):
            list.append(
                RecordedArgument(flag: "--tau", tokens: taus.flatMap { ["--tau", $0.description] }, replacedBy: model))
        case .softmax(let classCount, let weights):
            add("--classes", classCount, replacedBy: model)
            add("--class-weight", classWeights(weights), replacedBy: model)
        case .triplet(let triplet):
            add("--classes", triplet.classCount, replacedBy: model)
            add("--dimension", triplet.embeddingDimension, replacedBy: model)
            add("--hidden", triplet.hiddenUnits, replacedBy: model)
            add("--margin", triplet.margin, replacedBy: model)
            add("--pairs", triplet.pairObjective.rawValue, replacedBy: model)
        case .vae(let latentDimension, let hiddenUnits):
            add("--dimension", latentDimension, replacedBy: model)
            add("--hidden", hiddenUnits, replacedBy: model)
        case .linear(let regression):
            add("--loss", regression.loss.rawValue, replacedBy: model)
            add("--delta", regression.delta, replacedBy: model.union(["--loss"]))
        }
        add("--threshold-for", s.thresholdFor, replacedBy: model)
        // The solver: another --model or --optimizer takes its own defaults.
        let solver: Set<String> = ["--model", "--optimizer"]
        add("--optimizer", s.optimizer, replacedBy: model)
        add("--learning-rate", s.learningRate, replacedBy: solver)
        add("--lbfgs-memory", s.lbfgsMemory, replacedBy: solver)
        add("--momentum", s.momentum, replacedBy: solver)
        toggle("--nesterov", s.nesterov, replacedBy: solver)
        add("--weight-decay", s.weightDecay, replacedBy: solver)
        add("--schedule", s.schedule, replacedBy: solver)
        add("--warmup", s.warmup, replacedBy: solver)
        add("--batch-blocks", s.batchBlocks, replacedBy: solver)
        add("--smoothing-start", s.smoothingStart, replacedBy: solver.union(["--loss"]))
        add("--smoothing-final", s.smoothingFinal, replacedBy: solver.union(["--loss"]))
        add("--max-rounds", s.maxRounds)
        add("--gradient-tolerance", s.gradientTolerance)
        add("--objective-tolerance", s.objectiveTolerance)
        return list
    }

    /// The recorded arguments that still apply beside `commandLine` (the user's own arguments, which win): an
    /// argument is dropped when the command line gives its flag (or its `--no-` form) or a flag it depends on.
    public func arguments(besides commandLine: [String]) -> [String] {
        let given = Set(commandLine.compactMap(RecordedArgument.flagName))
        let numpyData = commandLine.firstIndex(of: "--data").flatMap { index in
            index + 1 < commandLine.count ? NumpyReader.isNumpyPath(commandLine[index + 1]) : nil
        } ?? commandLine.lazy.compactMap { $0.hasPrefix("--data=") ? NumpyReader.isNumpyPath(String($0.dropFirst(7))) : nil }.first
        return arguments.filter { argument in
            !given.contains(argument.flag) && !given.contains("--no-" + argument.flag.dropFirst(2))
                && given.isDisjoint(with: argument.replacedBy) && !(argument.droppedForNumpyData && numpyData == true)
        }.flatMap(\.tokens)
    }
}

/// One setting of a recorded run as command-line tokens (`["--l2", "0.01"]`, `["--tau", "0.1", "--tau", "0.9"]`).
public struct RecordedArgument: Sendable, Equatable {
    public var flag: String
    public var tokens: [String]
    /// Flags whose presence on the command line makes this setting not apply (the settings of another model).
    public var replacedBy: Set<String>
    /// A CSV's `--label-column`, which a `.npy` `--data` on the command line refuses.
    public var droppedForNumpyData = false

    /// `--name` of a `--name` or `--name=value` token; nil for a value.
    static func flagName(_ token: String) -> String? {
        guard token.hasPrefix("--"), token.count > 2 else { return nil }
        return String(token.prefix { $0 != "=" })
    }
}
