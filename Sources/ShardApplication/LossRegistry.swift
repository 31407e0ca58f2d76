import Foundation
import ShardArtifacts
import ShardData
import ShardLosses

// The loss registry: every loss of the library by name, its parameters and inputs read from text, JSON or
// CSV, evaluated in float64 or float32 with its gradient.

/// A nested list of numbers as read from the command line, JSON or CSV.
public indirect enum NestedNumbers {
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
                        throw LossRequestError("input \(name): '\(trimmed)' is not a number")
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
        throw LossRequestError("input \(name) must be a number or nested arrays of numbers")
    }
}

/// Every loss of the library by the name of Tests/Reference/README.md (the one list: requests, help and
/// benchmarks read it).
public enum LossName: String, CaseIterable, Sendable {
    case mse
    case mae
    case huber
    case pinball
    case pinballMulti = "pinball_multi"
    case bceProb = "bce_prob"
    case bceLogits = "bce_logits"
    case hinge
    case squaredHinge = "squared_hinge"
    case focalProb = "focal_prob"
    case focalLogits = "focal_logits"
    case contrastiveDistance = "contrastive_distance"
    case cceProb = "cce_prob"
    case cceLogits = "cce_logits"
    case klDiv = "kl_div"
    case gaussianKl = "gaussian_kl"
    case contrastiveEmbeddings = "contrastive_embeddings"
    case tripletSquared = "triplet_squared"
    case tripletEuclidean = "triplet_euclidean"
    case ctc
    case ctcLogits = "ctc_logits"
}

extension LossName {
    /// The `--param` names the loss reads (any other name is refused, so a typo is not silently ignored).
    public var parameterNames: [String] {
        switch self {
        case .mse, .mae, .bceLogits, .hinge, .squaredHinge, .cceLogits, .klDiv, .gaussianKl: []
        case .huber: ["delta"]
        case .pinball: ["tau"]
        case .pinballMulti: ["taus"]
        case .bceProb, .cceProb: ["eps"]
        case .focalProb: ["alpha", "alpha_mode", "eps", "gamma"]
        case .focalLogits: ["alpha", "alpha_mode", "gamma"]
        case .contrastiveDistance, .contrastiveEmbeddings, .tripletSquared, .tripletEuclidean: ["margin"]
        case .ctc, .ctcLogits: ["blank", "zero_infinity"]
        }
    }
}

/// A loss name, its parameters and named inputs, collected from the command line and files.
public struct LossRequest {
    public let loss: LossName
    public let reduction: Reduction
    var parameters: [String: String] = [:]
    var inputs: [String: NestedNumbers] = [:]
    /// Inputs read from a single CSV column: as a matrix, each value is a row (N x 1).
    var singleColumnInputs: Set<String> = []

    public init(loss: String, reduction: Reduction) throws {
        guard let name = LossName(rawValue: loss) else {
            throw LossRequestError(
                "unknown loss '\(loss)'; known: \(LossName.allCases.map(\.rawValue).sorted().joined(separator: ", "))")
        }
        self.loss = name
        self.reduction = reduction
    }

    public mutating func setParameter(_ text: String) throws {
        let (key, value) = try Self.split(text, what: "--param")
        parameters[key] = value
    }

    public mutating func setInput(_ text: String) throws {
        let (key, value) = try Self.split(text, what: "--input")
        inputs[key] = try NestedNumbers.parse(value, name: key)
        singleColumnInputs.remove(key)
    }

    static func split(_ text: String, what: String) throws -> (String, String) {
        guard let equals = text.firstIndex(of: "=") else { throw LossRequestError("\(what) '\(text)' is not NAME=VALUE") }
        return (String(text[..<equals]).trimmingCharacters(in: .whitespaces), String(text[text.index(after: equals)...]))
    }

    public mutating func load(file path: String) throws {
        let data: Data
        do {
            data = Data(try DataFile.bytes(path: path))
        } catch {
            throw LossRequestError("\(error)")
        }
        if path.lowercased().hasSuffix(".csv") {
            try loadCSV(String(decoding: data, as: UTF8.self), path: path)
            return
        }
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw LossRequestError("\(path) is not a JSON object with \"inputs\" (and optional \"params\")")
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
        guard let header = lines.first else { throw LossRequestError("\(path) is empty") }
        let names = header.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        var order: [String] = []
        for name in names where !order.contains(name) { order.append(name) }
        var columns: [String: [[Double]]] = [:]
        for (lineNumber, line) in lines.dropFirst().enumerated() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count == names.count else {
                throw LossRequestError("\(path) line \(lineNumber + 2): \(fields.count) fields, header has \(names.count)")
            }
            var row: [String: [Double]] = [:]
            for (name, field) in zip(names, fields) {
                guard let value = Double(field) ?? NestedNumbers.nonFinite(field) else {
                    throw LossRequestError("\(path) line \(lineNumber + 2): '\(field)' is not a number")
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
            guard let fallback else { throw LossRequestError("\(loss) needs --param \(key)=VALUE") }
            return fallback
        }
        guard let value = Double(text) else { throw LossRequestError("parameter \(key) = '\(text)' is not a number") }
        return value
    }

    func input(_ key: String) throws -> NestedNumbers {
        guard let value = inputs[key] else {
            throw LossRequestError("\(loss) needs --input \(key)=... (given: \(inputs.keys.sorted().joined(separator: ", ")))")
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
            throw LossRequestError("input \(name): \(error.description)")
        }
    }

    func integers(_ values: [Double], name: String) throws -> [Int] {
        try values.map { value in
            guard let integer = Int(exactly: value) else { throw LossRequestError("\(name): \(value) is not an integer") }
            return integer
        }
    }

    /// An integer parameter: the text must be a number that is exactly an `Int` (not 1.7, 1e20, nan or inf).
    func integerParameter(_ key: String, default fallback: Int) throws -> Int {
        guard let text = parameters[key] else { return fallback }
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let value = Double(trimmed), let integer = Int(exactly: value) else {
            throw LossRequestError("parameter \(key) = '\(text)' is not an integer")
        }
        return integer
    }

    var focalWeighting: FocalWeighting {
        get throws {
            let alpha = try parameter("alpha", default: 0.25)
            switch parameters["alpha_mode"] ?? "alpha_t" {
            case "alpha_t": return .byClass(alpha: alpha)
            case "all": return .everySample(alpha: alpha)
            case let other: throw LossRequestError("alpha_mode must be alpha_t or all, got \(other)")
            }
        }
    }

    func categoricalTargets<T: LossScalar>(_ type: T.Type) throws -> CategoricalTargets<T> {
        if let labels = inputs["labels"] { return .labels(try integers(labels.flat, name: "labels")) }
        return .distributions(try matrix("y_true", as: T.self))
    }

    // MARK: Evaluation

    public func evaluate<T: LossScalar>(_ type: T.Type) throws -> LossEvaluation {
        if let unknown = parameters.keys.sorted().first(where: { !loss.parameterNames.contains($0) }) {
            let known = loss.parameterNames
            throw LossRequestError(
                "\(loss.rawValue) has no parameter '\(unknown)'; "
                    + (known.isEmpty ? "it takes none" : "its parameters: \(known.joined(separator: ", "))"))
        }
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
        case .mse: return try elementwise(MeanSquaredError(), prediction: "y_pred")
        case .mae: return try elementwise(MeanAbsoluteError(), prediction: "y_pred")
        case .huber: return try elementwise(try HuberLoss(delta: try parameter("delta", default: 1)), prediction: "y_pred")
        case .pinball: return try elementwise(try PinballLoss(tau: try parameter("tau", default: 0.5)), prediction: "y_pred")
        case .bceProb:
            return try elementwise(try BinaryCrossEntropy(epsilon: try parameter("eps", default: 1e-15)), prediction: "y_pred")
        case .bceLogits: return try elementwise(BinaryCrossEntropyWithLogits(), prediction: "logits")
        case .hinge: return try elementwise(HingeLoss(), prediction: "scores")
        case .squaredHinge: return try elementwise(SquaredHingeLoss(), prediction: "scores")
        case .focalProb:
            let focal = try FocalLoss(
                gamma: try parameter("gamma", default: 2), weighting: try focalWeighting, epsilon: try parameter("eps", default: 1e-15))
            return try elementwise(focal, prediction: "y_pred")
        case .focalLogits:
            let focal = try FocalLossWithLogits(gamma: try parameter("gamma", default: 2), weighting: try focalWeighting)
            return try elementwise(focal, prediction: "logits")
        case .contrastiveDistance:
            return try elementwise(try ContrastiveDistanceLoss(margin: try parameter("margin", default: 1)), prediction: "distance")
        case .pinballMulti:
            guard let text = parameters["taus"] else { throw LossRequestError("pinball_multi needs --param taus=0.1,0.5,0.9") }
            let taus = try text.split(separator: ",").map { field in
                guard let tau = Double(field.trimmingCharacters(in: .whitespaces)) else { throw LossRequestError("taus: '\(field)' is not a number") }
                return tau
            }
            let prediction: Matrix<T> = try matrix("y_pred", as: T.self)
            let result = try MultiQuantileLoss(taus: taus).evaluate(
                target: try vector("y_true", as: T.self), prediction: prediction, reduction: reduction)
            var evaluation = single(result, "y_pred", columns: prediction.columns)
            evaluation.perSampleColumns = prediction.columns
            return evaluation
        case .cceProb:
            let probabilities: Matrix<T> = try matrix("y_pred", as: T.self)
            let result = try CategoricalCrossEntropy(epsilon: try parameter("eps", default: 1e-15)).evaluate(
                targets: try categoricalTargets(T.self), probabilities: probabilities, reduction: reduction)
            return single(result, "y_pred", columns: probabilities.columns)
        case .cceLogits:
            let logits: Matrix<T> = try matrix("logits", as: T.self)
            let result = try CategoricalCrossEntropyWithLogits().evaluate(
                targets: try categoricalTargets(T.self), logits: logits, reduction: reduction)
            return single(result, "logits", columns: logits.columns)
        case .klDiv:
            let q: Matrix<T> = try matrix("q", as: T.self)
            let result = try KLDivergence().evaluate(target: try matrix("p", as: T.self), prediction: q, reduction: reduction)
            return single(result, "q", columns: q.columns)
        case .gaussianKl:
            let mean: Matrix<T> = try matrix("mean", as: T.self)
            let result = try GaussianKL().evaluate(mean: mean, logVariance: try matrix("logvar", as: T.self), reduction: reduction)
            return LossEvaluation(
                value: Double(result.value), perSample: result.perSample.map(Double.init), perSampleColumns: nil,
                gradients: [
                    ("mean", result.gradientMean.map(Double.init), mean.columns),
                    ("logvar", result.gradientLogVariance.map(Double.init), mean.columns),
                ])
        case .contrastiveEmbeddings:
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
        case .tripletSquared, .tripletEuclidean:
            let anchor: Matrix<T> = try matrix("anchor", as: T.self)
            let triplet = try TripletLoss(
                margin: try parameter("margin", default: 1), distance: loss == .tripletSquared ? .squaredEuclidean : .euclidean)
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
        case .ctc, .ctcLogits:
            return try evaluateCTC(T.self)
        }
    }

    private func evaluateCTC<T: LossScalar>(_ type: T.Type) throws -> LossEvaluation {
        let inputName = loss == .ctc ? "log_probs" : "logits"
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
        case let other: throw LossRequestError("zero_infinity must be true or false, got \(other)")
        }
        let ctc = try CTCLoss(blank: try integerParameter("blank", default: 0), zeroInfinity: zeroInfinity)
        let result =
            loss == .ctc
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
public struct LossEvaluation {
    public var value: Double
    var perSample: [Double]
    var perSampleColumns: Int?
    public var gradients: [(name: String, values: [Double], columns: Int?)]
    var extras: [(String, Double)] = []
    var gradientNote: String?

    public func text(request: LossRequest) -> String {
        let parameterText = request.parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
        var lines = ["loss: \(request.loss.rawValue)\(parameterText.isEmpty ? "" : " (\(parameterText))")   reduction: \(request.reduction.rawValue)"]
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

    public func json(request: LossRequest) -> String {
        var fields: [(String, String)] = [
            ("loss", JSONText.string(request.loss.rawValue)), ("reduction", JSONText.string(request.reduction.rawValue)),
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
public enum JSONText {
    public static func number(_ value: Double) -> String { JSONStyle.number(value) }

    public static func string(_ text: String) -> String {
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

    public static func object(_ fields: [(String, String)]) -> String {
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
public struct LossRequestError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
