import Foundation
@testable import ShardApplication
import ShardData
import ShardModels
import Testing
import _TestSupport

/// The schema in a run's data preparation: drop after the row selection, fills fitted on the training rows only,
/// string labels for binary and class models.
@Suite struct SchemaPreparationTests {
    /// Twelve rows: x = 1…12, y = 10·x, label no/yes alternating; row 2 misses x, row 5 misses y.
    static let csv = (1...12).map { row in
        let x = row == 3 ? "" : "\(row)"
        let y = row == 6 ? "NA" : "\(10 * row)"
        return "\(x),\(y),\(row % 2 == 0 ? "yes" : "no")"
    }

    static func prepare(
        _ kind: ModelKind = .logistic, missing: MissingPolicy, rows: [Int]? = nil, testFraction: Double? = nil,
        positiveClass: String? = nil, in folder: TemporaryDirectory
    ) throws -> PreparedData {
        let data = try folder.write((["x,y,label"] + Self.csv).joined(separator: "\n") + "\n", to: "d.csv")
        var configuration = DataConfiguration(path: data, testFraction: testFraction, seed: 1, blockRows: 4)
        configuration.schema = SchemaOptions(missing: missing)
        configuration.positiveClass = positiveClass
        if let rows { configuration.rowsPath = try folder.write(rows.map(String.init).joined(separator: ","), to: "rows.txt") }
        return try TrainingJob.prepare(configuration, for: kind)
    }

    @Test func dropLeavesTheIncompleteRowsOfTheSelectionOutAndRowIndicesNameTheFileRows() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let all = try Self.prepare(missing: .drop, in: folder)
        #expect(Array(all.dataset.lineNumbers) == [2, 3, 5, 6, 8, 9, 10, 11, 12, 13])
        // Rows 7, 2, 5, 0 of the file (lines 9, 4, 7, 2): rows 2 and 5 miss a cell.
        let selected = try Self.prepare(missing: .drop, rows: [7, 2, 5, 0], in: folder)
        #expect(Array(selected.dataset.lineNumbers) == [9, 2])
        #expect(selected.notes.first?.contains("2 missing cells (2 rows dropped)") == true)
    }

    @Test func meanAndMedianAreFittedOnTheTrainingRowsAndRecorded() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let prepared = try Self.prepare(missing: .mean, testFraction: 0.25, in: folder)
        let training = prepared.dataset
        // The training rows' present values of x (the file's rows, from the line numbers; x = line − 1).
        let present = Array(training.lineNumbers).map { $0 - 1 }.filter { $0 != 3 }.map(Double.init)
        let fill = try #require(prepared.schema?.columns[0].fill)
        #expect(fill == present.reduce(0, +) / Double(present.count))
        #expect(training.features.allSatisfy { !$0.isNaN } && prepared.test?.features.allSatisfy { !$0.isNaN } == true)
    }

    @Test func stringLabelsAreSortedClassesAndThePositiveClassIsLabelOne() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let plain = try Self.prepare(missing: .drop, in: folder)
        #expect(plain.classNames == ["no", "yes"] && plain.dataset.labels.first == 0)
        let swapped = try Self.prepare(missing: .drop, positiveClass: "no", in: folder)
        #expect(swapped.classNames == ["yes", "no"] && swapped.dataset.labels.first == 1)
        #expect(swapped.schema?.classes == ["yes", "no"])
        let svm = try Self.prepare(.svm, missing: .drop, in: folder)
        #expect(svm.classNames == ["no", "yes"] && svm.dataset.labels.first == -1 && svm.labelEncoding == .zeroOne)
        let softmax = try Self.prepare(.softmax, missing: .drop, in: folder)
        #expect(softmax.classCount == 2 && softmax.classNames == ["no", "yes"])
        #expect(throws: DataError.self) { try Self.prepare(.linear, missing: .drop, in: folder) }
        #expect(throws: DataError.self) { try Self.prepare(missing: .drop, positiveClass: "maybe", in: folder) }
    }

    @Test func heldOutDataIsReadWithTheTrainingSchemaAndItsUnseenCategoriesAreNoted() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let train = try folder.write("size,color,label\n1,red,no\n2,blue,yes\n3,red,no\n4,blue,yes\n", to: "train.csv")
        let test = try folder.write("color,label,size\ngreen,yes,5\nred,no,\n", to: "test.csv")
        var configuration = DataConfiguration(path: train, testDataPath: test, blockRows: 2)
        configuration.schema = SchemaOptions(missing: .median)
        let prepared = try TrainingJob.prepare(configuration, for: .logistic)
        let held = try #require(prepared.test)
        #expect(held.featureNames == ["size", "color=blue", "color=red"])
        // green is unseen (all zero); the missing size takes the training rows' median, (2 + 3) / 2.
        #expect(Array(held.features) == [5, 0, 0, 2.5, 0, 1])
        #expect(held.labels == [1, 0])
        #expect(prepared.notes.contains { $0.contains("1 cell of column \"color\" holds a category not seen in training (\"green\"): all-zero rows") })
    }

    @Test func predictionsWriteTheIdsFirstAndTheClassesByName() {
        let rows: [[Double]] = [[1.5, 1], [-2, 0]]
        let ids = ["a,1", "b\"2"]
        let table = PredictionTable(columns: ["score", "predicted_label"], rowCount: 2) { row in rows[row].map(PredictionCell.number) }
            .namingClasses(["no", "yes"])
            .prepending("id") { row in .text(ids[row]) }
        #expect(table.text(.csv, model: .logistic) == "id,score,predicted_label\n\"a,1\",1.5,yes\n\"b\"\"2\",-2,no\n")
        #expect(
            table.text(.json, model: .logistic)
                == "{\"model\":\"logistic\",\"columns\":[\"id\",\"score\",\"predicted_label\"],\"rows\":[\n"
                + "  [\"a,1\",1.5,\"yes\"],\n  [\"b\\\"2\",-2,\"no\"]\n]}\n")
        // An svm's negative label −1 is the first class too.
        let svm = PredictionTable(columns: ["score", "predicted_label"], rowCount: 1) { _ in [.number(-0.5), .number(-1)] }
            .namingClasses(["benign", "malignant"])
        #expect(svm.row(0) == [.number(-0.5), .text("benign")])
    }

    @Test func aHeaderWithNumbersAmongItsNamesIsPointedOutAsPossiblyData() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let data = try folder.write("cust0,52.88,71.7,yes\ncust1,40,50,no\ncust2,41,52,yes\n", to: "d.csv")
        let prepared = try TrainingJob.prepare(DataConfiguration(path: data), for: .logistic)
        #expect(
            prepared.notes.first?.hasSuffix(
                "; column names that are numbers (52.88, 71.7): if line 1 is data, the file has no header: add --no-header")
                == true, "\(prepared.notes)")
    }

    @Test func categoriesDifferingOnlyInSpacesArePointedOut() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let data = try folder.write("x,c,label\n1,red,0\n2, red,1\n3,blue,0\n4,blue,1\n", to: "d.csv")
        let prepared = try TrainingJob.prepare(DataConfiguration(path: data), for: .logistic)
        #expect(
            prepared.notes.first?.hasSuffix(
                "; column \"c\" has values that differ only in spaces around them (\" red\", \"red\"): they are different "
                    + "categories unless the file is fixed") == true, "\(prepared.notes)")
    }

    @Test func labelsAndCategoriesDifferingOnlyInCaseArePointedOut() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let data = try folder.write("x,c,label\n1,Red,TRUE\n2,red,true\n3,blue,true\n4,blue,TRUE\n", to: "d.csv")
        let prepared = try TrainingJob.prepare(DataConfiguration(path: data), for: .logistic)
        let note = try #require(prepared.notes.first)
        #expect(note.contains("; column \"c\" has values that differ only in letter case (\"Red\", \"red\"): they are "
            + "different categories unless the file is fixed"), "\(note)")
        #expect(note.contains("; column \"label\" has values that differ only in letter case (\"TRUE\", \"true\"): they "
            + "are different classes unless the file is fixed"), "\(note)")
    }

    @Test func aNumericColumnCountingUpByOneIsPointedOutAsAPossibleId() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let rows = (0..<25).map { "\(100_000 + $0),\($0 % 7),\($0 % 2)" }
        let data = try folder.write((["customer,x,label"] + rows).joined(separator: "\n") + "\n", to: "d.csv")
        let prepared = try TrainingJob.prepare(DataConfiguration(path: data), for: .logistic)
        #expect(
            prepared.notes.first?.hasSuffix("; column \"customer\" counts up by 1 from row to row: an id? (--id-column or --ignore)")
                == true, "\(prepared.notes)")
        // x repeats: no hint for it.
        #expect(prepared.notes.first?.contains("\"x\" counts") == false)
    }

    @Test func aTextColumnWithADifferentValueInEveryRowIsPointedOutAsAPossibleId() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let rows = (0..<25).map { "user\($0),\($0 % 7),\($0 % 2)" }
        let data = try folder.write((["name,x,label"] + rows).joined(separator: "\n") + "\n", to: "d.csv")
        let prepared = try TrainingJob.prepare(DataConfiguration(path: data), for: .logistic)
        #expect(
            prepared.notes.first
                == "schema: 1 numeric, 1 categorical (name: 25 values), label \"label\"; column \"name\" has a different "
                + "value in every row: an id? (--id-column or --ignore)")
    }
}
