import Foundation
@testable import ShardApplication
import ShardArtifacts
import ShardData
import ShardLosses
import ShardMetrics
import ShardModels
import Testing

extension PredictionCell: Decodable {
    /// A JSON number or string.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Double.self) { self = .number(value) } else { self = .text(try container.decode(String.self)) }
    }
}

/// The `predict` table: its formats, the line column and the decision threshold of binary models.
@Suite struct PredictionTableTests {
    /// A table with awkward numbers and text cells (a comma, a quote, a line break, non-ASCII, a control character).
    static let table = PredictionTable(columns: ["line", "id", "score", "name \"q\""], rowCount: 4) { row in
        let texts = ["plain", "a,b", "say \"hi\"\nbye", "ünï\u{1}"]
        let numbers = [0.1 + 0.2, -0.0, Double.leastNonzeroMagnitude * 3, 123456789012.5]
        return [.number(Double(row + 2)), .text(texts[row]), .number(numbers[row]), .number(Double(row % 2))]
    }

    @Test("JSON lines parse back to the cells, in column order; the json document holds the same rows")
    func jsonLinesParseBack() throws {
        let text = Self.table.text(.jsonl, model: .logistic)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 5 && lines.last == "")
        for (row, line) in lines.dropLast().enumerated() {
            // JSONDecoder reads numbers correctly rounded (JSONSerialization on Linux reads 0.30000000000000004 as
            // 0.3000000000000001).
            let object = try JSONDecoder().decode([String: PredictionCell].self, from: Data(line.utf8))
            #expect(Set(object.keys) == Set(Self.table.columns))
            for (column, cell) in zip(Self.table.columns, Self.table.row(row)) {
                #expect(object[column] == cell, "row \(row) \(column)")
            }
            // Keys in column order.
            #expect(line.hasPrefix("{\"line\":\(row + 2),\"id\":"))
        }
        let document = try #require(
            try JSONSerialization.jsonObject(with: Data(Self.table.text(.json, model: .svm).utf8)) as? [String: Any])
        #expect(document["model"] as? String == "svm")
        #expect(document["columns"] as? [String] == Self.table.columns)
        #expect((document["rows"] as? [[Any]])?.count == 4)
    }

    @Test("CSV: numbers in shortest round-trip form, text quoted only where it must be")
    func csvText() {
        #expect(
            Self.table.text(.csv, model: .logistic)
                == [
                    #"line,id,score,"name ""q""""#, "2,plain,0.30000000000000004,0", #"3,"a,b",0,1"#, #"4,"say ""hi"""#,
                    #"bye",1.5e-323,0"#, "5,ünï\u{1},123456789012.5,1", "",
                ].joined(separator: "\n"))
    }

    @Test("streamed in small pieces, the bytes are the same as in one piece", arguments: PredictionFormat.allCases)
    func piecesConcatenate(format: PredictionFormat) {
        var pieces: [[UInt8]] = []
        Self.table.write(format, model: .logistic, pieceBytes: 7) { (piece: [UInt8]) in pieces.append(piece) }
        #expect(pieces.count > 3 && pieces.dropLast().allSatisfy { $0.count >= 7 })
        #expect(String(decoding: pieces.joined(), as: UTF8.self) == Self.table.text(format, model: .logistic))
    }

    @Test("the format follows the output name: .jsonl and .ndjson are JSON lines, .json one document, anything else CSV")
    func formatFromName() {
        #expect(PredictionFormat.inferred(fromPath: "out/p.jsonl") == .jsonl)
        #expect(PredictionFormat.inferred(fromPath: "P.NDJSON") == .jsonl)
        #expect(PredictionFormat.inferred(fromPath: "p.csv") == .csv)
        #expect(PredictionFormat.inferred(fromPath: "p.json") == .json)
        #expect(PredictionFormat.inferred(fromPath: "p.txt") == .csv)
        #expect(PredictionFormat.inferred(fromPath: nil) == .csv)
    }

    /// A one-feature logistic (w = 1, b = 0, so the score is the feature) or svm model, and rows with these features.
    static func binaryModel(_ kind: ModelKind, features: [Double], encoding: String)
        throws -> (LoadedModel, ModelInput)
    {
        let spec = ModelSpec(featureCount: 1, l2: 0, kind == .svm ? .svm : .logistic())
        let file = ModelFile(
            spec: spec, parameters: [1, 0], featureNames: ["x"], labelName: "label", labelEncoding: encoding,
            standardization: nil)
        let labels = features.map { $0 > 0.3 ? 1.0 : (encoding == "plusMinusOne" ? -1 : 0) }
        let dataset = try Dataset(sourcePath: "rows.csv", featureNames: ["x"], labelName: "label", features: features, labels: labels)
        return (LoadedModel(path: "model", file: file, model: try spec.makeModel()), ModelInput(dataset: dataset, hasLabels: true))
    }

    @Test("logistic: predicted_label is 1 exactly where the probability is ≥ the threshold")
    func logisticThresholdOnProbability() throws {
        let scores = (-40...40).map { Double($0) / 8 }
        var (model, input) = try Self.binaryModel(.logistic, features: scores, encoding: "zeroOne")
        #expect(model.appliedThreshold == AppliedThreshold(value: 0.5, appliesTo: .probability, source: .default))
        for threshold in [0.5, 0.9, 0.2, StableMath.sigmoid(1.25), 0, 1] {
            try model.setThreshold(threshold)
            let table = try model.predictions(input)
            #expect(table.columns == ["line", "score", "probability", "predicted_label"])
            for row in 0..<table.rowCount {
                let cells = table.row(row)
                #expect(cells[0] == .number(Double(row + 2)))
                #expect(cells[1] == .number(scores[row]))
                #expect(cells[2] == .number(StableMath.sigmoid(scores[row])))
                #expect(cells[3] == .number(StableMath.sigmoid(scores[row]) >= threshold ? 1 : 0), "\(threshold) row \(row)")
            }
        }
        // At the probability of a row the row itself is positive (≥), the one below it negative.
        try model.setThreshold(StableMath.sigmoid(1.25))
        let table = try model.predictions(input)
        let index = try #require(scores.firstIndex(of: 1.25))
        #expect(table.row(index)[3] == .number(1) && table.row(index - 1)[3] == .number(0))
        // The evaluation report uses the same labels and names the threshold.
        let report = try model.evaluate(input)
        #expect(report.threshold == AppliedThreshold(value: StableMath.sigmoid(1.25), appliesTo: .probability, source: .given))
        let predictedPositive = scores.filter { $0 >= 1.25 }.count
        #expect(report.classification?.confusionMatrix.predictedCounts[1] == predictedPositive)
        #expect(report.renderText().contains("predicted 1 when probability ≥ \(StableMath.sigmoid(1.25)) (given)"))
        #expect(throws: ApplicationError.self) { try model.setThreshold(1.5) }
        #expect(throws: ApplicationError.self) { try model.setThreshold(.nan) }
    }

    @Test("svm: the threshold is on the score and labels keep the file's −1/1 encoding; other kinds refuse one")
    func svmThresholdOnScore() throws {
        let scores = (-10...10).map { Double($0) / 4 }
        var (model, input) = try Self.binaryModel(.svm, features: scores, encoding: "plusMinusOne")
        #expect(model.appliedThreshold?.value == 0 && model.appliedThreshold?.appliesTo == .score)
        try model.setThreshold(-0.75)
        let table = try model.predictions(input)
        #expect(table.columns == ["line", "score", "predicted_label"])
        for row in 0..<table.rowCount { #expect(table.row(row)[2] == .number(scores[row] >= -0.75 ? 1 : -1)) }
        var softmax = model
        softmax.file.spec = ModelSpec(featureCount: 1, l2: 0, .softmax(classCount: 3))
        #expect(throws: ApplicationError.self) { try softmax.setThreshold(0.5) }
    }

    @Test("a recorded threshold is applied unless one is given; choosing one takes the values the threshold compares")
    func recordedThreshold() throws {
        // Scores −2 … 2 by 0.25; labels 1 above 0.3: a threshold at or just above the smallest positive score separates them.
        let scores = (-8...8).map { Double($0) / 4 }
        var (model, input) = try Self.binaryModel(.logistic, features: scores, encoding: "zeroOne")
        let chosen = try model.chooseThreshold(on: input, target: .precision(1))
        // Precision 1 with all positives: the smallest positive score 0.5, on the probability scale.
        #expect(chosen.value == StableMath.sigmoid(0.5))
        #expect(chosen.targetMet && chosen.precision == 1 && chosen.recall == 1 && chosen.heldOutRows == 17)
        #expect(chosen.target == "precision=1.0")
        model.file.decisionThreshold = chosen
        #expect(model.appliedThreshold == AppliedThreshold(value: chosen.value, appliesTo: .probability, source: .recorded, target: "precision=1.0"))
        #expect(try model.evaluate(input).classification?.accuracy == 1)
        try model.setThreshold(0.5)
        #expect(model.appliedThreshold?.source == .given)
        #expect(try model.evaluate(input).classification?.accuracy ?? 1 < 1)
    }
}
