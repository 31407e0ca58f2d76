import ArgumentParser
import Foundation
import ShardLosses

/// `shardtrain loss NAME`: evaluates one loss on values from the command line or a file and prints
/// the value, the per-sample values and the gradient with respect to every prediction input.
public struct LossCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "loss",
        abstract: "Evaluate a loss: value, per-sample values and gradient w.r.t. every prediction input.",
        discussion: """
            Inputs and parameters use the names of Tests/Reference/README.md.
            On the command line, values are comma-separated, matrix rows are
            separated by ';' and CTC sequences (and their label lists) by '|'.
            A matrix input given without ';' is one row (p=0.5,0.5 is 1x2; a
            column is typed 0.5;0.5). Integer parameters (blank) must be
            integers: 1.7, 1e20 or nan are refused. CTC log-probability
            frames and kl_div rows must be normalised (within 1e-6*C in
            float64, 1e-4*C in float32).
            A JSON file holds {"params": {...}, "inputs": {...}}; a losses.json
            case works as is. A CSV file has one row per sample and a header
            naming the inputs; a name repeated over several columns forms a
            matrix row.

            Losses, parameters (defaults) and inputs; * = gets a gradient:
              mse, mae                     y_true, y_pred*
              huber (delta=1)              y_true, y_pred*
              pinball (tau=0.5)            y_true, y_pred*
              pinball_multi (taus)         y_true (N), y_pred* (N,Q)
              bce_prob (eps=1e-15)         y_true, y_pred* (probabilities)
              bce_logits                   y_true, logits*
              focal_prob (gamma=2, alpha=0.25, alpha_mode=alpha_t|all,
                          eps=1e-15)       y_true (0/1), y_pred*
              focal_logits (gamma, alpha, alpha_mode)
                                           y_true (0/1), logits*
              hinge, squared_hinge         y_true (-1/+1), scores*
              contrastive_distance (margin=1)
                                           y_true (1 = similar), distance*
              cce_prob (eps=1e-15)         labels (N) or y_true (N,C),
                                           y_pred* (N,C)
              cce_logits                   labels (N) or y_true (N,C),
                                           logits* (N,C)
              kl_div                       p (N,C), q* (N,C)
              gaussian_kl                  mean* (N,L), logvar* (N,L)
              contrastive_embeddings (margin=1)
                                           y_true (N), x1* (N,D), x2* (N,D)
              triplet_squared, triplet_euclidean (margin=1)
                                           anchor*, positive*, negative*
              ctc (blank=0, zero_infinity=false)
                                           log_probs* (T_n x C each), labels
              ctc_logits (blank, zero_infinity)
                                           logits* (T_n x C each), labels

            Examples:
              shardtrain loss huber --param delta=1 \\
                --input y_true=1,2,3,4 --input y_pred=1.1,2.2,2.8,6.0
              shardtrain loss cce_logits --input labels=0,2 \\
                --input "logits=1,2,3;0.5,0,-1" --json
              shardtrain loss ctc --input labels=1 --input \\
                "log_probs=-0.6931471805599453,-0.6931471805599453;-0.6931471805599453,-0.6931471805599453"
              shardtrain loss --examples
            """)

    @Argument(help: "Loss name (see the list above).")
    public var name: String?

    @Option(name: .customLong("input"), help: ArgumentHelp("An input as NAME=VALUES, e.g. y_pred=0.9,0.1.", valueName: "name=values"))
    public var inputs: [String] = []

    @Option(name: .customLong("param"), help: ArgumentHelp("A parameter as NAME=VALUE, e.g. delta=1.", valueName: "name=value"))
    public var params: [String] = []

    @Option(help: "A JSON or CSV file with the inputs (and, for JSON, the parameters).")
    public var file: String?

    @Option(help: "Reduction: mean, sum or none.")
    public var reduction = "mean"

    @Option(help: "Arithmetic precision: float64 or float32.")
    public var precision = "float64"

    @Flag(help: "Print machine-readable JSON instead of text.")
    public var json = false

    @Flag(help: "Rerun the tutorial's worked examples and print our value beside the value it claimed.")
    public var examples = false

    public init() {}

    public func validate() throws {
        guard examples || name != nil else { throw ValidationError("give a loss name, or --examples") }
        guard Reduction(rawValue: reduction) != nil else { throw ValidationError("--reduction must be mean, sum or none") }
        guard ["float64", "float32"].contains(precision) else { throw ValidationError("--precision must be float64 or float32") }
    }

    public func run() throws {
        if examples {
            try printExamples()
            return
        }
        guard let name else { return }
        var request = try LossRequest(loss: name, reduction: Reduction(rawValue: reduction) ?? .mean)
        if let file { try request.load(file: file) }
        for text in params { try request.setParameter(text) }
        for text in inputs { try request.setInput(text) }
        let evaluation: LossEvaluation
        do {
            evaluation = precision == "float32" ? try request.evaluate(Float.self) : try request.evaluate(Double.self)
        } catch let error as LossError {
            throw LossCommandError(error.description)
        }
        print(json ? evaluation.json(request: request) : evaluation.text(request: request))
    }

    private func printExamples() throws {
        var rows: [(TutorialExample, Double)] = []
        for example in TutorialExample.all { rows.append((example, try example.ourValue())) }
        if json {
            let items = rows.map { example, ours in
                JSONText.object([
                    ("example", JSONText.string(example.title)), ("loss", JSONText.string(example.loss)),
                    ("inputs", JSONText.string(example.inputs)), ("tutorial_claimed", JSONText.number(example.claimedValue)),
                    ("ours", JSONText.number(ours)),
                ])
            }
            print("[\n  " + items.joined(separator: ",\n  ") + "\n]")
            return
        }
        print("Tutorial worked examples rerun in float64 (mean reduction); derived in Tests/Reference/TUTORIAL_VALUES.md.")
        for (example, ours) in rows {
            print("")
            print("\(example.title)  [\(example.loss)]")
            print("  inputs:           \(example.inputs)")
            print("  tutorial claimed: \(String(format: "%.4f", example.claimedValue))")
            print("  ours:             \(ours)")
        }
    }
}

/// A nested list of numbers as read from the command line, JSON or CSV.
indirect enum NestedNumbers {
    case number(Double)
    case list([NestedNumbers])

    var flat: [Double] {
        switch self {
        case .number(let value): [value]
        case .list(let items): items.flatMap(\.flat)
        }
    }

    var items: [NestedNumbers] {
        switch self {
        case .number: [self]
        case .list(let items): items
        }
    }

    /// Parses "1,2;3,4|5,6": '|' separates sequences, ';' rows, ',' values.
    static func parse(_ text: String, name: String) throws -> NestedNumbers {
        func values(_ part: Substring) throws -> NestedNumbers {
            let fields = part.split(separator: ",", omittingEmptySubsequences: true)
            return .list(
                try fields.map { field in
                    let trimmed = field.trimmingCharacters(in: .whitespaces)
                    guard let value = Double(trimmed) ?? nonFinite(trimmed) else {
                        throw LossCommandError("input \(name): '\(trimmed)' is not a number")
                    }
                    return .number(value)
                })
        }
        func rows(_ part: Substring) throws -> NestedNumbers {
            part.contains(";") ? .list(try part.split(separator: ";", omittingEmptySubsequences: false).map(values)) : try values(part)
        }
        if text.contains("|") {
            return .list(try text.split(separator: "|", omittingEmptySubsequences: false).map { part in
                part.contains(";") || part.isEmpty ? try rows(part) : .list([try values(part)])
            })
        }
        return try rows(Substring(text))
    }

    static func nonFinite(_ text: String) -> Double? {
        switch text.lowercased() {
        case "inf", "infinity", "+inf": .infinity
        case "-inf", "-infinity": -.infinity
        case "nan": .nan
        default: nil
        }
    }

    /// From a `JSONSerialization` tree (numbers, arrays, "Infinity"/"-Infinity"/"NaN").
    static func fromJSON(_ object: Any, name: String) throws -> NestedNumbers {
        if let number = object as? NSNumber { return .number(number.doubleValue) }
        if let text = object as? String, let value = nonFinite(text) { return .number(value) }
        if let array = object as? [Any] { return .list(try array.map { try fromJSON($0, name: name) }) }
        throw LossCommandError("input \(name) must be a number or nested arrays of numbers")
    }
}

/// A loss name, its parameters and named inputs, collected from the command line and files.
struct LossRequest {
    let loss: String
    let reduction: Reduction
    var parameters: [String: String] = [:]
    var inputs: [String: NestedNumbers] = [:]
    /// Inputs read from a single CSV column: as a matrix, each value is a row (N x 1).
    var singleColumnInputs: Set<String> = []

    init(loss: String, reduction: Reduction) throws {
        guard Self.knownLosses.contains(loss) else {
            throw LossCommandError("unknown loss '\(loss)'; known: \(Self.knownLosses.sorted().joined(separator: ", "))")
        }
        self.loss = loss
        self.reduction = reduction
    }

    static let knownLosses: Set<String> = [
        "mse", "mae", "huber", "pinball", "pinball_multi", "bce_prob", "bce_logits", "hinge", "squared_hinge",
        "focal_prob", "focal_logits", "contrastive_distance", "cce_prob", "cce_logits", "kl_div", "gaussian_kl",
        "contrastive_embeddings", "triplet_squared", "triplet_euclidean", "ctc", "ctc_logits",
    ]

    mutating func setParameter(_ text: String) throws {
        let (key, value) = try Self.split(text, what: "--param")
        parameters[key] = value
    }

    mutating func setInput(_ text: String) throws {
        let (key, value) = try Self.split(text, what: "--input")
        inputs[key] = try NestedNumbers.parse(value, name: key)
        singleColumnInputs.remove(key)
    }

    static func split(_ text: String, what: String) throws -> (String, String) {
        guard let equals = text.firstIndex(of: "=") else { throw LossCommandError("\(what) '\(text)' is not NAME=VALUE") }
        return (String(text[..<equals]).trimmingCharacters(in: .whitespaces), String(text[text.index(after: equals)...]))
    }

    mutating func load(file path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw LossCommandError("cannot read \(path)") }
        if path.lowercased().hasSuffix(".csv") {
            try loadCSV(String(decoding: data, as: UTF8.self), path: path)
            return
        }
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw LossCommandError("\(path) is not a JSON object with \"inputs\" (and optional \"params\")")
        }
        let inputObject = (root["inputs"] as? [String: Any]) ?? root
        for (key, value) in inputObject where key != "params" {
            inputs[key] = try NestedNumbers.fromJSON(value, name: key)
            singleColumnInputs.remove(key)
        }
        for (key, value) in (root["params"] as? [String: Any]) ?? [:] {
            if let list = value as? [Any] {
                parameters[key] = list.map { "\($0)" }.joined(separator: ",")
            } else {
                parameters[key] = "\(value)"
            }
        }
    }

    /// One row per sample; a header name repeated over several columns forms a matrix row.
    mutating func loadCSV(_ text: String, path: String) throws {
        let lines = text.split(whereSeparator: \.isNewline).filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        guard let header = lines.first else { throw LossCommandError("\(path) is empty") }
        let names = header.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        var order: [String] = []
        for name in names where !order.contains(name) { order.append(name) }
        var columns: [String: [[Double]]] = [:]
        for (lineNumber, line) in lines.dropFirst().enumerated() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count == names.count else {
                throw LossCommandError("\(path) line \(lineNumber + 2): \(fields.count) fields, header has \(names.count)")
            }
            var row: [String: [Double]] = [:]
            for (name, field) in zip(names, fields) {
                guard let value = Double(field) ?? NestedNumbers.nonFinite(field) else {
                    throw LossCommandError("\(path) line \(lineNumber + 2): '\(field)' is not a number")
                }
                row[name, default: []].append(value)
            }
            for (name, values) in row { columns[name, default: []].append(values) }
        }
        for name in order {
            let rows = columns[name] ?? []
            let isVector = names.filter { $0 == name }.count == 1
            inputs[name] = .list(rows.map { isVector ? .number($0[0]) : .list($0.map(NestedNumbers.number)) })
            if isVector { singleColumnInputs.insert(name) } else { singleColumnInputs.remove(name) }
        }
    }

    // MARK: Reading parameters and inputs

    func parameter(_ key: String, default fallback: Double? = nil) throws -> Double {
        guard let text = parameters[key] else {
            guard let fallback else { throw LossCommandError("\(loss) needs --param \(key)=VALUE") }
            return fallback
        }
        guard let value = Double(text) else { throw LossCommandError("parameter \(key) = '\(text)' is not a number") }
        return value
    }

    func input(_ key: String) throws -> NestedNumbers {
        guard let value = inputs[key] else {
            throw LossCommandError("\(loss) needs --input \(key)=... (given: \(inputs.keys.sorted().joined(separator: ", ")))")
        }
        return value
    }

    func vector<T: LossScalar>(_ key: String, as: T.Type) throws -> [T] { try input(key).flat.map { T($0) } }

    func matrix<T: LossScalar>(_ key: String, as: T.Type) throws -> Matrix<T> {
        try Self.matrix(try input(key), name: key, valuePerRow: singleColumnInputs.contains(key))
    }

    /// A matrix from a list of rows. A flat list of numbers ("0.5,0.5" or JSON [0.5, 0.5]) is ONE
    /// row (1 x n), unless `valuePerRow` (a single CSV column), where each value is a row (n x 1).
    static func matrix<T: LossScalar>(_ nested: NestedNumbers, name: String, valuePerRow: Bool = false) throws -> Matrix<T> {
        let items = nested.items
        let isFlat = !items.isEmpty && items.allSatisfy { if case .number = $0 { true } else { false } }
        let rows = isFlat && !valuePerRow ? [nested.flat.map { T($0) }] : items.map { $0.flat.map { T($0) } }
        do {
            return try Matrix(rows)
        } catch {
            throw LossCommandError("input \(name): \(error.description)")
        }
    }

    func integers(_ values: [Double], name: String) throws -> [Int] {
        try values.map { value in
            guard let integer = Int(exactly: value) else { throw LossCommandError("\(name): \(value) is not an integer") }
            return integer
        }
    }

    /// An integer parameter: the text must be a number that is exactly an `Int` (not 1.7, 1e20, nan or inf).
    func integerParameter(_ key: String, default fallback: Int) throws -> Int {
        guard let text = parameters[key] else { return fallback }
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let value = Double(trimmed), let integer = Int(exactly: value) else {
            throw LossCommandError("parameter \(key) = '\(text)' is not an integer")
        }
        return integer
    }

    var focalWeighting: FocalWeighting {
        get throws {
            let alpha = try parameter("alpha", default: 0.25)
            switch parameters["alpha_mode"] ?? "alpha_t" {
            case "alpha_t": return .byClass(alpha: alpha)
            case "all": return .everySample(alpha: alpha)
            case let other: throw LossCommandError("alpha_mode must be alpha_t or all, got \(other)")
            }
        }
    }

    func categoricalTargets<T: LossScalar>(_ type: T.Type) throws -> CategoricalTargets<T> {
        if let labels = inputs["labels"] { return .labels(try integers(labels.flat, name: "labels")) }
        return .distributions(try matrix("y_true", as: T.self))
    }

    // MARK: Evaluation

    func evaluate<T: LossScalar>(_ type: T.Type) throws -> LossEvaluation {
        func elementwise(_ loss: some ElementwiseLoss, prediction: String) throws -> LossEvaluation {
            let shape = try input(prediction)
            let result = try loss.evaluate(
                target: try vector("y_true", as: T.self), prediction: try vector(prediction, as: T.self), reduction: reduction)
            let columns = Self.columns(of: shape)
            return LossEvaluation(
                value: Double(result.value), perSample: result.perSample.map(Double.init), perSampleColumns: columns,
                gradients: [(prediction, result.gradient.map(Double.init), columns)])
        }
        func single(_ result: LossResult<T>, _ name: String, columns: Int?) -> LossEvaluation {
            LossEvaluation(
                value: Double(result.value), perSample: result.perSample.map(Double.init), perSampleColumns: nil,
                gradients: [(name, result.gradient.map(Double.init), columns)])
        }
        switch loss {
        case "mse": return try elementwise(MeanSquaredError(), prediction: "y_pred")
        case "mae": return try elementwise(MeanAbsoluteError(), prediction: "y_pred")
        case "huber": return try elementwise(try HuberLoss(delta: try parameter("delta", default: 1)), prediction: "y_pred")
        case "pinball": return try elementwise(try PinballLoss(tau: try parameter("tau", default: 0.5)), prediction: "y_pred")
        case "bce_prob":
            return try elementwise(try BinaryCrossEntropy(epsilon: try parameter("eps", default: 1e-15)), prediction: "y_pred")
        case "bce_logits": return try elementwise(BinaryCrossEntropyWithLogits(), prediction: "logits")
        case "hinge": return try elementwise(HingeLoss(), prediction: "scores")
        case "squared_hinge": return try elementwise(SquaredHingeLoss(), prediction: "scores")
        case "focal_prob":
            let focal = try FocalLoss(
                gamma: try parameter("gamma", default: 2), weighting: try focalWeighting, epsilon: try parameter("eps", default: 1e-15))
            return try elementwise(focal, prediction: "y_pred")
        case "focal_logits":
            let focal = try FocalLossWithLogits(gamma: try parameter("gamma", default: 2), weighting: try focalWeighting)
            return try elementwise(focal, prediction: "logits")
        case "contrastive_distance":
            return try elementwise(try ContrastiveDistanceLoss(margin: try parameter("margin", default: 1)), prediction: "distance")
        case "pinball_multi":
            guard let text = parameters["taus"] else { throw LossCommandError("pinball_multi needs --param taus=0.1,0.5,0.9") }
            let taus = try text.split(separator: ",").map { field in
                guard let tau = Double(field.trimmingCharacters(in: .whitespaces)) else { throw LossCommandError("taus: '\(field)' is not a number") }
                return tau
            }
            let prediction: Matrix<T> = try matrix("y_pred", as: T.self)
            let result = try MultiQuantileLoss(taus: taus).evaluate(
                target: try vector("y_true", as: T.self), prediction: prediction, reduction: reduction)
            var evaluation = single(result, "y_pred", columns: prediction.columns)
            evaluation.perSampleColumns = prediction.columns
            return evaluation
        case "cce_prob":
            let probabilities: Matrix<T> = try matrix("y_pred", as: T.self)
            let result = try CategoricalCrossEntropy(epsilon: try parameter("eps", default: 1e-15)).evaluate(
                targets: try categoricalTargets(T.self), probabilities: probabilities, reduction: reduction)
            return single(result, "y_pred", columns: probabilities.columns)
        case "cce_logits":
            let logits: Matrix<T> = try matrix("logits", as: T.self)
            let result = try CategoricalCrossEntropyWithLogits().evaluate(
                targets: try categoricalTargets(T.self), logits: logits, reduction: reduction)
            return single(result, "logits", columns: logits.columns)
        case "kl_div":
            let q: Matrix<T> = try matrix("q", as: T.self)
            let result = try KLDivergence().evaluate(target: try matrix("p", as: T.self), prediction: q, reduction: reduction)
            return single(result, "q", columns: q.columns)
        case "gaussian_kl":
            let mean: Matrix<T> = try matrix("mean", as: T.self)
            let result = try GaussianKL().evaluate(mean: mean, logVariance: try matrix("logvar", as: T.self), reduction: reduction)
            return LossEvaluation(
                value: Double(result.value), perSample: result.perSample.map(Double.init), perSampleColumns: nil,
                gradients: [
                    ("mean", result.gradientMean.map(Double.init), mean.columns),
                    ("logvar", result.gradientLogVariance.map(Double.init), mean.columns),
                ])
        case "contrastive_embeddings":
            let first: Matrix<T> = try matrix("x1", as: T.self)
            let result = try ContrastiveEmbeddingLoss(margin: try parameter("margin", default: 1)).evaluate(
                similarity: try vector("y_true", as: T.self), first: first, second: try matrix("x2", as: T.self),
                reduction: reduction)
            return LossEvaluation(
                value: Double(result.value), perSample: result.perSample.map(Double.init), perSampleColumns: nil,
                gradients: [
                    ("x1", result.gradientFirst.map(Double.init), first.columns),
                    ("x2", result.gradientSecond.map(Double.init), first.columns),
                ])
        case "triplet_squared", "triplet_euclidean":
            let anchor: Matrix<T> = try matrix("anchor", as: T.self)
            let triplet = try TripletLoss(
                margin: try parameter("margin", default: 1), distance: loss == "triplet_squared" ? .squaredEuclidean : .euclidean)
            let result = try triplet.evaluate(
                anchor: anchor, positive: try matrix("positive", as: T.self), negative: try matrix("negative", as: T.self),
                reduction: reduction)
            return LossEvaluation(
                value: Double(result.value), perSample: result.perSample.map(Double.init), perSampleColumns: nil,
                gradients: [
                    ("anchor", result.gradientAnchor.map(Double.init), anchor.columns),
                    ("positive", result.gradientPositive.map(Double.init), anchor.columns),
                    ("negative", result.gradientNegative.map(Double.init), anchor.columns),
                ])
        case "ctc", "ctc_logits":
            return try evaluateCTC(T.self)
        default:
            throw LossCommandError("unknown loss '\(loss)'")
        }
    }

    private func evaluateCTC<T: LossScalar>(_ type: T.Type) throws -> LossEvaluation {
        let inputName = loss == "ctc" ? "log_probs" : "logits"
        let sequenceInput = try input(inputName)
        // A single sequence may be given as a plain matrix.
        let looksLikeOneMatrix = sequenceInput.items.allSatisfy { item in item.items.allSatisfy { if case .number = $0 { true } else { false } } }
        let sequenceList = looksLikeOneMatrix ? [sequenceInput] : sequenceInput.items
        let sequences: [Matrix<T>] = try sequenceList.map { try Self.matrix($0, name: inputName) }
        let labelInput = try input("labels")
        let labelItems = looksLikeOneMatrix ? [labelInput] : labelInput.items
        let labels = try labelItems.map { try integers($0.flat, name: "labels") }
        let zeroInfinity: Bool
        switch parameters["zero_infinity"]?.lowercased() ?? "false" {
        case "true", "1", "yes": zeroInfinity = true
        case "false", "0", "no": zeroInfinity = false
        case let other: throw LossCommandError("zero_infinity must be true or false, got \(other)")
        }
        let ctc = try CTCLoss(blank: try integerParameter("blank", default: 0), zeroInfinity: zeroInfinity)
        let result =
            loss == "ctc"
            ? try ctc.evaluate(logProbabilities: sequences, labels: labels, reduction: reduction)
            : try ctc.evaluate(logits: sequences, labels: labels, reduction: reduction)
        let classes = sequences.first?.columns ?? 0
        let gradients: [(String, [Double], Int?)] =
            result.gradient.map { list in
                list.enumerated().map { ("\(inputName)[\($0)]", $1.values.map(Double.init), classes) }
            } ?? []
        return LossEvaluation(
            value: Double(result.value), perSample: result.perSample.map(Double.init), perSampleColumns: nil,
            gradients: gradients, extras: [("value_mean_over_target_length", Double(result.valueMeanOverTargetLength))],
            gradientNote: result.gradient == nil ? "none: the loss is infinite (use --param zero_infinity=true)" : nil)
    }

    /// The row length of a 2-D input, nil for a flat list.
    static func columns(of nested: NestedNumbers) -> Int? {
        guard case .list(let rows) = nested, let first = rows.first, case .list(let columns) = first else { return nil }
        return columns.count
    }
}

/// What the command prints.
struct LossEvaluation {
    var value: Double
    var perSample: [Double]
    var perSampleColumns: Int?
    var gradients: [(name: String, values: [Double], columns: Int?)]
    var extras: [(String, Double)] = []
    var gradientNote: String?

    func text(request: LossRequest) -> String {
        let parameterText = request.parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
        var lines = ["loss: \(request.loss)\(parameterText.isEmpty ? "" : " (\(parameterText))")   reduction: \(request.reduction.rawValue)"]
        lines.append("value: \(Self.format(value))")
        for (name, extra) in extras { lines.append("\(name): \(Self.format(extra))") }
        lines.append("per-sample (\(perSample.count)):")
        lines += Self.block(perSample, columns: perSampleColumns)
        if let gradientNote { lines.append("gradient: \(gradientNote)") }
        for gradient in gradients {
            lines.append("gradient d value / d \(gradient.name):")
            lines += Self.block(gradient.values, columns: gradient.columns)
        }
        return lines.joined(separator: "\n")
    }

    func json(request: LossRequest) -> String {
        var fields: [(String, String)] = [
            ("loss", JSONText.string(request.loss)), ("reduction", JSONText.string(request.reduction.rawValue)),
            ("params", JSONText.object(request.parameters.sorted { $0.key < $1.key }.map { ($0.key, JSONText.string($0.value)) })),
            ("value", JSONText.number(value)),
        ]
        for (name, extra) in extras { fields.append((name, JSONText.number(extra))) }
        fields.append(("per_sample", JSONText.array(perSample, columns: perSampleColumns)))
        fields.append((
            "grad",
            gradientNote != nil ? "null" : JSONText.object(gradients.map { ($0.name, JSONText.array($0.values, columns: $0.columns)) })
        ))
        return JSONText.object(fields)
    }

    static func format(_ value: Double) -> String { "\(value)" }

    static func block(_ values: [Double], columns: Int?) -> [String] {
        guard let columns, columns > 0 else { return ["  " + values.map(format).joined(separator: " ")] }
        return stride(from: 0, to: values.count, by: columns).map { start in
            "  " + values[start..<min(start + columns, values.count)].map(format).joined(separator: " ")
        }
    }
}

/// Minimal JSON writing with the reference files' spelling of non-finite numbers.
enum JSONText {
    static func number(_ value: Double) -> String {
        if value.isNaN { return "\"NaN\"" }
        if value.isInfinite { return value > 0 ? "\"Infinity\"" : "\"-Infinity\"" }
        return "\(value)"
    }

    static func string(_ text: String) -> String {
        var escaped = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            case _ where scalar.value < 0x20: escaped += String(format: "\\u%04x", scalar.value)
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return "\"\(escaped)\""
    }

    static func object(_ fields: [(String, String)]) -> String {
        "{" + fields.map { "\(string($0.0)): \($0.1)" }.joined(separator: ", ") + "}"
    }

    /// A flat list, or a list of rows when `columns` is given.
    static func array(_ values: [Double], columns: Int?) -> String {
        guard let columns, columns > 0 else { return "[" + values.map(number).joined(separator: ", ") + "]" }
        let rows = stride(from: 0, to: values.count, by: columns).map { start in
            "[" + values[start..<min(start + columns, values.count)].map(number).joined(separator: ", ") + "]"
        }
        return "[" + rows.joined(separator: ", ") + "]"
    }
}

/// A failure while reading or evaluating the request (printed as "Error: <message>", no usage text).
struct LossCommandError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
