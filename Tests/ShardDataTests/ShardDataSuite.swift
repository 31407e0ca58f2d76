import Foundation
@testable import ShardData
import ShardNumerics
import Testing
import _TestSupport

private let root = ReferenceData.repositoryRoot
private func dataPath(_ name: String) -> String { root.appendingPathComponent("data/\(name)").path }

/// Runs `body`, expecting it to throw `DataError`, and returns the error (nil if it did not throw).
private func dataError<T>(_ body: () throws(DataError) -> T) -> DataError? {
    do {
        _ = try body()
        return nil
    } catch {
        return error
    }
}

/// A file in a fresh temporary folder, removed by the caller via the returned folder.
private func temporaryFile(named name: String, contents: String) throws -> (path: String, folder: URL) {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("shard-data-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let url = folder.appendingPathComponent(name)
    try contents.write(to: url, atomically: true, encoding: .utf8)
    return (url.path, folder)
}

@Suite("ShardData")
struct ShardDataSuite {
    // MARK: CSV loading

    @Test("an empty entry in a row-index list is an error, not a silently skipped row")
    func emptyRowIndexEntry() {
        for text in ["0,,1", ",0,1", "[0, , 1]"] {
            #expect(throws: DataError.self, "\(text)") { try RowIndices.parse(text: text, source: "r.txt") }
        }
        #expect((try? RowIndices.parse(text: "0, 1\n2,", source: "r.txt")) == [0, 1, 2])
    }

    /// Values near the float64 limit: the sums, the squares and x − mean would overflow without the exact
    /// power-of-two scaling; with it the column standardises like any other (z = ∓1 for two rows).
    @Test("a column near the float64 limit standardises; ordinary columns are not scaled")
    func standardizationOfHugeColumns() throws {
        let dataset = try CSVReader.parse(text: "a,b,label\n1.6e308,1,0\n-1.7e308,2,1\n", source: "big.csv")
        let fitted = try Standardization.fit(to: dataset)
        #expect(abs(fitted.means[0] - (-0.05e308)) <= 1e-15 * 0.05e308)
        #expect(abs(fitted.standardDeviations[0] - 1.65e308) <= 1e-15 * 1.65e308)
        #expect(fitted.means[1] == 1.5 && fitted.standardDeviations[1] == 0.5)
        let z = try fitted.apply(to: dataset)
        let values = Array(z.features)
        #expect(values.allSatisfy { $0.isFinite })
        #expect(abs(values[0] - 1) <= 1e-15 && abs(values[2] + 1) <= 1e-15, "\(values)")
        #expect(values[1] == -1 && values[3] == 1)
    }

    @Test("blank lines at the end of a file are ignored (editors leave them); in the middle they are errors")
    func trailingBlankLines() throws {
        let dataset = try CSVReader.parse(text: "a,b,label\n1,2,3\n\n\r\n", source: "t.csv")
        #expect(dataset.rowCount == 1)
        #expect(dataset.labels == [3])
    }

    @Test func loadsBreastCancerWithExactValues() throws {
        let path = dataPath("breast_cancer.csv")
        let dataset = try CSVReader.read(path: path)
        #expect(dataset.sourcePath == path)
        #expect(dataset.rowCount == 569)
        #expect(dataset.featureCount == 30)
        #expect(dataset.features.count == 569 * 30)
        #expect(dataset.featureNames.first == "mean_radius")
        #expect(dataset.featureNames[3] == "mean_area")
        #expect(dataset.featureNames.last == "worst_fractal_dimension")
        #expect(dataset.labelName == "label")
        #expect(dataset.labelColumnNumber == 31)
        #expect(dataset.featureColumnNumbers == Array(1...30))
        #expect(dataset.lineNumbers.first == 2)
        #expect(dataset.lineNumbers.last == 570)
        #expect(dataset.labels.filter { $0 == 1 }.count == 357)
        #expect(dataset.labels.filter { $0 == 0 }.count == 212)
        // Bit patterns written in hexadecimal (independent of decimal parsing) for "17.99", "0.1184",
        // "0.006399" and "0.07871" on the first data row.
        let expected: [(Int, String)] = [
            (0, "0x1.1fd70a3d70a3dp+4"), (4, "0x1.e4f765fd8adacp-4"), (14, "0x1.a35d67ba237cep-8"),
            (9, "0x1.42656abde3fbcp-4"),
        ]
        for (feature, hex) in expected {
            let exact = try #require(Double(hex))
            #expect(dataset.features[feature].bitPattern == exact.bitPattern, "feature \(feature)")
        }
    }

    @Test func loadsFraudSyntheticExactly() throws {
        let dataset = try CSVReader.read(path: dataPath("fraud_synthetic.csv"))
        #expect(dataset.rowCount == 20000)
        #expect(dataset.featureCount == 20)
        #expect(dataset.labels.filter { $0 == 1 }.count == 400)
        // "1.454849" and "-5.154390" (a trailing zero) on line 2; "-1.482134" starts the last line.
        #expect(dataset.features[0].bitPattern == Double("0x1.7470fbeb9e493p+0")!.bitPattern)
        #expect(dataset.features[5].bitPattern == Double("-0x1.49e1869835159p+2")!.bitPattern)
        #expect(dataset.features[19999 * 20] == -1.482134)
        #expect(dataset.lineNumbers.last == 20001)
    }

    @Test func acceptsCRLFMissingFinalNewlineAndByteOrderMark() throws {
        let variants = [
            "a,b,y\r\n1,2,0\r\n3.5,-4,1\r\n", "a,b,y\n1,2,0\n3.5,-4,1", "\u{FEFF}a,b,y\n1,2,0\n3.5,-4,1\n",
        ]
        for text in variants {
            let dataset = try CSVReader.parse(text: text, source: "t.csv")
            #expect(dataset.featureNames == ["a", "b"])
            #expect(dataset.labelName == "y")
            #expect(Array(dataset.features) == [1, 2, 3.5, -4])
            #expect(dataset.labels == [0, 1])
            #expect(dataset.lineNumbers == [2, 3])
        }
    }

    @Test func labelColumnCanBeNamed() throws {
        let dataset = try CSVReader.parse(text: "a,y,b,c\n1,0,2,3\n4,1,5,6\n", source: "t.csv", labelColumn: "y")
        #expect(dataset.featureNames == ["a", "b", "c"])
        #expect(Array(dataset.features) == [1, 2, 3, 4, 5, 6])
        #expect(dataset.labels == [0, 1])
        #expect(dataset.featureColumnNumbers == [1, 3, 4])
        #expect(dataset.labelColumnNumber == 2)

        let cancer = try CSVReader.read(path: dataPath("breast_cancer.csv"), labelColumn: "mean_area")
        #expect(cancer.featureNames.last == "label")
        #expect(cancer.labels[0] == 1001)
        #expect(cancer.features[3] == 0.1184)  // mean_smoothness moved up to feature 3
    }

    // MARK: CSV errors (exact messages)

    @Test func missingFileNamesPathAndReason() {
        let error = dataError { () throws(DataError) in try CSVReader.read(path: "/nonexistent/x.csv") }
        #expect(error == .fileUnreadable(path: "/nonexistent/x.csv", reason: "No such file or directory"))
        #expect(error?.description == "/nonexistent/x.csv: cannot read the file: No such file or directory")
    }

    @Test func directoryIsUnreadable() throws {
        let folder = FileManager.default.temporaryDirectory.path
        let error = dataError { () throws(DataError) in try CSVReader.read(path: folder) }
        #expect(error == .fileUnreadable(path: folder, reason: "Is a directory"))
    }

    @Test(arguments: [
        ("", "t.csv: the file is empty (expected a header line and at least one data row)"),
        ("\n\r\n", "t.csv: the file is empty (expected a header line and at least one data row)"),
        ("a,b,label\n", "t.csv: the file has a header line but no data rows"),
        ("a,b,label", "t.csv: the file has a header line but no data rows"),
        ("a,,label\n1,2,3\n", "t.csv:1: column 2 has an empty name in the header"),
        (
            ",a,label\n0,1,1\n1,2,0\n",
            "t.csv:1: column 1 has an empty name in the header; pandas writes its row index that way "
                + "(to_csv(index=False) leaves it out) and R its row names (write.csv(row.names = FALSE)); or name the "
                + "column in the header and keep it out of the features with --id-column NAME"
        ),
        (
            "a,b,label,\n1,2,1,\n",
            "t.csv:1: column 4 has an empty name in the header; a delimiter at the end of every line (as some "
                + "spreadsheets write) makes an empty last column: remove that delimiter from every line (for commas: "
                + "sed 's/,$//' t.csv > fixed.csv)"
        ),
        ("a,b,a,label\n1,2,3,4\n", "t.csv:1: column 3 (\"a\") has the same name as column 1"),
        ("a,b,label\n1,2,3\n1,2\n", "t.csv:3: expected 3 fields (as in the header), found 2"),
        ("a,b,label\n1,2,3\n1,2,3,4\n", "t.csv:3: expected 3 fields (as in the header), found 4"),
        ("a,b,label\n1,2,3\n\n4,5,6\n", "t.csv:3: the line is empty (expected 3 fields, as in the header)"),
        (
            "r,t,p,mean_area,y\n1,2,3,4,0\n1,2,3,12.5a,1\n",
            "t.csv:3: column 4 (\"mean_area\"): \"12.5a\" is not a number"
        ),
        ("a,b,label\n1, 2,3\n", "t.csv:2: column 2 (\"b\"): \" 2\" is not a number"),
        ("a,b,label\n1,,3\n", "t.csv:2: column 2 (\"b\"): \"\" is not a number"),
        (
            "a,b,label\n1,2,3\nnan,2,3\n",
            "t.csv:3: column 1 (\"a\"): \"nan\" is not finite "
                + "(NaN, infinities and values beyond the Double range are not numbers; a missing cell is written empty, NA or NaN: see --missing)"
        ),
        (
            "a,b,label\n1,-inf,3\n",
            "t.csv:2: column 2 (\"b\"): \"-inf\" is not finite "
                + "(NaN, infinities and values beyond the Double range are not numbers; a missing cell is written empty, NA or NaN: see --missing)"
        ),
        (
            "a,b,label\n1,2,1e400\n",
            "t.csv:2: column 3 (\"label\"): \"1e400\" is not finite "
                + "(NaN, infinities and values beyond the Double range are not numbers; a missing cell is written empty, NA or NaN: see --missing)"
        ),
        ("label\n1\n", "t.csv:1: no feature columns: the only column is the label column \"label\""),
    ])
    func csvErrorMessages(text: String, message: String) {
        let error = dataError { () throws(DataError) in try CSVReader.parse(text: text, source: "t.csv") }
        #expect(error?.description == message)
    }

    @Test func missingLabelColumnListsTheColumns() {
        let error = dataError { () throws(DataError) in
            try CSVReader.parse(text: "a,b,target\n1,2,3\n", source: "t.csv", labelColumn: "label")
        }
        #expect(error == .missingLabelColumn(path: "t.csv", name: "label", availableColumns: ["a", "b", "target"]))
        #expect(
            error?.description
                == "t.csv:1: no column named \"label\" for the label; the columns are \"a\", \"b\", \"target\"")
    }

    @Test func errorsFromFilesNameThePath() throws {
        let (path, folder) = try temporaryFile(named: "bad.csv", contents: "x,y\n1,0\n2,zz\n")
        defer { try? FileManager.default.removeItem(at: folder) }
        let error = dataError { () throws(DataError) in try CSVReader.read(path: path) }
        #expect(error?.description == "\(path):3: column 2 (\"y\"): \"zz\" is not a number")
    }

    // MARK: Row selection

    @Test func rowIndicesAcceptListsAndJSONArrays() throws {
        #expect(try RowIndices.parse(text: "3, 1,4\n1\t5\r\n9\n", source: "r") == [3, 1, 4, 1, 5, 9])
        #expect(try RowIndices.parse(text: "0\n2\n", source: "r") == [0, 2])
        #expect(try RowIndices.parse(text: " [2, 7,\n 1]\n", source: "r") == [2, 7, 1])
        #expect(try RowIndices.parse(text: "[5]", source: "r") == [5])
    }

    @Test(arguments: [
        ("1, 2\n3, x4\n", "r.txt:2: \"x4\" is not a row index (expected a non-negative integer)"),
        ("1.5", "r.txt:1: \"1.5\" is not a row index (expected a non-negative integer)"),
        ("1\n\n2\n-7\n", "r.txt:4: row index -7 is negative (row indices count data rows from 0)"),
        ("[1, 2\n", "r.txt:1: malformed row index list: the \"[\" on this line is never closed by \"]\""),
        ("[1, 2]\n3\n", "r.txt:2: malformed row index list: unexpected \"3\" after \"]\""),
        ("\n \n", "r.txt: the file lists no row indices"),
        ("[]", "r.txt: the file lists no row indices"),
    ])
    func rowIndexErrors(text: String, message: String) {
        let error = dataError { () throws(DataError) in try RowIndices.parse(text: text, source: "r.txt") }
        #expect(error?.description == message)
    }

    @Test func rowIndicesReadFromFile() throws {
        let (path, folder) = try temporaryFile(named: "rows.json", contents: "[4, 0, 2]\n")
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(try RowIndices.read(path: path) == [4, 0, 2])
        let missing = folder.appendingPathComponent("none.txt").path
        let error = dataError { () throws(DataError) in try RowIndices.read(path: missing) }
        #expect(error?.description == "\(missing): cannot read the file: No such file or directory")
    }

    @Test func selectingRowsKeepsOrderAndLineNumbers() throws {
        let dataset = try CSVReader.parse(text: "a,b,y\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n", source: "t.csv")
        let selected = try dataset.selectingRows([3, 0, 2])
        #expect(selected.rowCount == 3)
        #expect(Array(selected.features) == [7, 8, 1, 2, 5, 6])
        #expect(selected.labels == [1, 0, 0])
        #expect(selected.lineNumbers == [5, 2, 4])
        #expect(selected.featureNames == dataset.featureNames)
    }

    @Test func selectionErrors() throws {
        let dataset = try CSVReader.parse(text: "a,y\n1,0\n2,1\n3,0\n", source: "t.csv")
        let outOfRange = dataError { () throws(DataError) in try dataset.selectingRows([0, 3]) }
        #expect(
            outOfRange?.description
                == "row index 3 (entry 2 of the selection) is out of range: t.csv has 3 data rows "
                + "(valid indices 0...2)")
        let negative = dataError { () throws(DataError) in try dataset.selectingRows([-1]) }
        #expect(negative == .rowIndexOutOfRange(source: "t.csv", index: -1, position: 0, rowCount: 3))
        let duplicate = dataError { () throws(DataError) in try dataset.selectingRows([2, 0, 2]) }
        #expect(
            duplicate?.description
                == "row index 2 of t.csv is selected twice (entries 1 and 3 of the selection)")
        let empty = dataError { () throws(DataError) in try dataset.selectingRows([]) }
        #expect(empty?.description == "the row selection for t.csv is empty")
    }

    // MARK: Standardization

    @Test func breastCancerStandardizationMatchesReference() throws {
        let optima = try ReferenceData.load("optima.json")
        let trainRows = try #require(optima["splits"]?["breast_cancer"]?["train_rows"]?.ints)
        let problem = try #require(optima["problems"]?[0])
        #expect(problem["dataset"]?.string == "breast_cancer")
        let expectedMeans = try #require(problem["standardization"]?["mean"]?.doubles)
        let expectedStds = try #require(problem["standardization"]?["std"]?.doubles)

        let train = try CSVReader.read(path: dataPath("breast_cancer.csv")).selectingRows(trainRows)
        #expect(train.rowCount == 455)
        let standardization = try Standardization.fit(to: train)
        let tolerance = Tolerance(rtol: 1e-12, atol: 0)
        #expect(tolerance.mismatches(standardization.means, expectedMeans).isEmpty)
        #expect(tolerance.mismatches(standardization.standardDeviations, expectedStds).isEmpty)

        // The transformed training features have mean ≈ 0 and population std ≈ 1 per column.
        let scaled = try standardization.apply(to: train)
        let refit = try Standardization.fit(to: scaled)
        #expect(refit.means.allSatisfy { abs($0) < 1e-13 })
        #expect(refit.standardDeviations.allSatisfy { abs($0 - 1) < 1e-13 })
        #expect(scaled.labels == train.labels)
        #expect(scaled.lineNumbers == train.lineNumbers)
    }

    @Test func zeroStandardDeviationColumnIsDividedByOne() throws {
        let dataset = try Dataset(
            sourcePath: "m", featureNames: ["a", "b"], labelName: "y", features: [1, 5, 3, 5, 5, 5],
            labels: [0, 1, 0])
        let standardization = try Standardization.fit(to: dataset)
        #expect(standardization.means == [3, 5])
        #expect(standardization.standardDeviations[1] == 0)
        #expect(standardization.zeroStandardDeviationFeatures == [1])
        #expect(standardization.divisors[1] == 1)
        let expectedStd = (8.0 / 3.0).squareRoot()
        #expect(abs(standardization.standardDeviations[0] - expectedStd) <= 1e-15 * expectedStd)
        let scaled = try standardization.apply(to: dataset)
        #expect(scaled.features[1] == 0 && scaled.features[3] == 0 && scaled.features[5] == 0)
        #expect(scaled.features[0] == -2 / standardization.standardDeviations[0])
    }

    @Test func twoPassVarianceIsAccurateWithALargeOffset() throws {
        // Values 1e9 + {4, 7, 13, 16}: population variance 22.5 exactly; a one-pass formula loses it all.
        let values: [Double] = [4, 7, 13, 16].map { 1e9 + $0 }
        let dataset = try Dataset(
            sourcePath: "m", featureNames: ["x"], labelName: "y", features: values, labels: [0, 0, 1, 1])
        let standardization = try Standardization.fit(to: dataset)
        #expect(standardization.means == [1e9 + 10])
        #expect(abs(standardization.standardDeviations[0] - 22.5.squareRoot()) < 1e-12)
    }

    @Test func standardizationErrorsAndCoding() throws {
        let standardization = try Standardization(means: [1, 2], standardDeviations: [0.5, 0])
        let dataset = try Dataset(sourcePath: "m.csv", featureNames: ["x"], labelName: "y", features: [1], labels: [0])
        let mismatch = dataError { () throws(DataError) in try standardization.apply(to: dataset) }
        #expect(mismatch?.description == "m.csv: the standardization was fitted on 2 features, but the dataset has 1")
        let bad = dataError { () throws(DataError) in try Standardization(means: [0], standardDeviations: [-1]) }
        #expect(bad?.description == "invalid standardization: standard deviation of feature 1 is -1.0")
        let unequal = dataError { () throws(DataError) in try Standardization(means: [0], standardDeviations: []) }
        #expect(unequal?.description == "invalid standardization: 1 means but 0 standard deviations")

        let encoded = try JSONEncoder().encode(standardization)
        #expect(try JSONDecoder().decode(Standardization.self, from: encoded) == standardization)
        let invalidJSON = Data(#"{"means":[1],"standardDeviations":[-2]}"#.utf8)
        #expect(throws: DataError.self) { try JSONDecoder().decode(Standardization.self, from: invalidJSON) }
    }

    // MARK: Binary labels

    @Test func binaryLabelsMapBothWays() throws {
        let zeroOne = try CSVReader.parse(text: "a,y\n1,1\n2,0\n3,1\n", source: "t.csv")
        #expect(try BinaryLabelEncoding.detect(in: zeroOne) == .zeroOne)
        #expect(try zeroOne.encodingBinaryLabels(as: .zeroOne).labels == [1, 0, 1])
        let plusMinus = try zeroOne.encodingBinaryLabels(as: .plusMinusOne)
        #expect(plusMinus.labels == [1, -1, 1])
        #expect(try BinaryLabelEncoding.detect(in: plusMinus) == .plusMinusOne)
        #expect(try plusMinus.encodingBinaryLabels(as: .zeroOne).labels == [1, 0, 1])
        #expect(plusMinus.features == zeroOne.features)

        let allPositive = try CSVReader.parse(text: "a,y\n1,1\n2,1\n", source: "t.csv")
        #expect(try BinaryLabelEncoding.detect(in: allPositive) == nil)
        #expect(try allPositive.encodingBinaryLabels(as: .plusMinusOne).labels == [1, 1])

        let cancer = try CSVReader.read(path: dataPath("breast_cancer.csv"))
        let svm = try cancer.encodingBinaryLabels(as: .plusMinusOne)
        #expect(zip(svm.labels, cancer.labels).allSatisfy { $0 == 2 * $1 - 1 })
    }

    /// The 8-lane count agrees with a plain loop for every length around the lane width and every mix of
    /// valid, invalid and non-finite labels (NaN equals nothing).
    @Test func binaryLabelCountsMatchALoop() {
        var generator = SplitMix64(seed: 7)
        let values: [Double] = [0, 1, -1, 2, 0.5, -0.0, .nan, .infinity]
        for count in [0, 1, 7, 8, 9, 15, 16, 17, 1000] {
            for _ in 0..<20 {
                let labels = (0..<count).map { _ in values[Int(generator.next() % UInt64(values.count))] }
                let counted = countBinaryLabels(labels)
                #expect(counted.zeros == labels.filter { $0 == 0 }.count)
                #expect(counted.minusOnes == labels.filter { $0 == -1 }.count)
                #expect(counted.ones == labels.filter { $0 == 1 }.count)
            }
        }
    }

    @Test(arguments: [
        (
            "a,y\n1,1\n2,0\n3,2\n",
            "t.csv:4: column 2 (\"y\"): label 2 is not a binary label "
                + "(expected all labels in {0, 1} or all in {-1, +1})"
        ),
        (
            "a,y\n1,0.5\n",
            "t.csv:2: column 2 (\"y\"): label 0.5 is not a binary label "
                + "(expected all labels in {0, 1} or all in {-1, +1})"
        ),
        (
            "a,y\n1,1\n2,-1\n3,1\n4,0\n",
            "t.csv:5: column 2 (\"y\"): label 0 mixes label encodings: line 3 has label -1, "
                + "so all labels must be in {-1, +1}"
        ),
        (
            "a,y\n1,0\n2,-1\n",
            "t.csv:3: column 2 (\"y\"): label -1 mixes label encodings: line 2 has label 0, "
                + "so all labels must be in {0, 1}"
        ),
    ])
    func binaryLabelErrors(text: String, message: String) throws {
        let dataset = try CSVReader.parse(text: text, source: "t.csv")
        let error = dataError { () throws(DataError) in try dataset.encodingBinaryLabels(as: .zeroOne) }
        #expect(error?.description == message)
    }

    @Test func binaryLabelErrorsNameLinesAfterSelection() throws {
        let dataset = try CSVReader.parse(text: "y,a\n0,1\n1,2\n7,3\n", source: "t.csv", labelColumn: "y")
        let selected = try dataset.selectingRows([2, 0])
        let error = dataError { () throws(DataError) in try BinaryLabelEncoding.detect(in: selected) }
        #expect(error == .invalidBinaryLabel(path: "t.csv", line: 4, column: 1, columnName: "y", value: 7))
    }

    // MARK: Blocks

    @Test(arguments: [
        (10, 5, [0..<5, 5..<10]), (10, 3, [0..<3, 3..<6, 6..<9, 9..<10]), (4, 10, [0..<4]),
        (1, 1, [0..<1]), (3, 1, [0..<1, 1..<2, 2..<3]),
    ])
    func blockPlanRanges(rowCount: Int, blockRows: Int, expected: [Range<Int>]) throws {
        let plan = try BlockPlan(rowCount: rowCount, blockRows: blockRows)
        #expect(plan.blockCount == expected.count)
        #expect(plan.rowRanges == expected)
        for (id, range) in expected.enumerated() { #expect(try plan.rows(ofBlock: id) == range) }
        let beyond = dataError { () throws(DataError) in try plan.rows(ofBlock: expected.count) }
        #expect(beyond == .blockOutOfRange(id: expected.count, blockCount: expected.count))
    }

    @Test func blockPlanRejectsBadSizes() throws {
        let noRows = dataError { () throws(DataError) in try BlockPlan(rowCount: 0, blockRows: 4) }
        #expect(noRows?.description == "a block plan needs at least 1 row, got 0")
        let noBlockRows = dataError { () throws(DataError) in try BlockPlan(rowCount: 5, blockRows: 0) }
        #expect(noBlockRows?.description == "a block must hold at least 1 row, got 0")
        let invalidJSON = Data(#"{"rowCount":5,"blockRows":-1}"#.utf8)
        #expect(throws: DataError.self) { try JSONDecoder().decode(BlockPlan.self, from: invalidJSON) }
        // An empty dataset cannot reach the block plan: the reader rejects it first.
        let empty = dataError { () throws(DataError) in try CSVReader.parse(text: "a,y\n", source: "t.csv") }
        #expect(empty == .noDataRows(path: "t.csv"))
    }

    @Test func makeBlocksCutsRowsInOrder() throws {
        let dataset = try CSVReader.parse(text: "a,b,y\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n9,10,1\n", source: "t.csv")
        let blocks = try dataset.makeBlocks(blockRows: 2, precision: .float64)
        #expect(blocks.map(\.id) == [0, 1, 2])
        #expect(blocks.map(\.rows) == [2, 2, 1])
        #expect(blocks.allSatisfy { $0.columns == 2 })
        #expect(blocks[1].storage == .float64(features: [5, 6, 7, 8], labels: [0, 1]))
        #expect(blocks[2].storage == .float64(features: [9, 10], labels: [1]))

        let narrow = try dataset.makeBlocks(blockRows: 10, precision: .float32)
        #expect(narrow.count == 1)
        #expect(narrow[0].storage == .float32(features: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], labels: [0, 1, 0, 1, 1]))
    }

    @Test func float32BlocksRoundToNearestFloat() throws {
        let cancer = try CSVReader.read(path: dataPath("breast_cancer.csv"))
        let blocks = try cancer.makeBlocks(blockRows: 100, precision: .float32)
        #expect(blocks.count == 6)
        #expect(blocks.last?.rows == 69)
        guard case .float32(let features, _) = blocks[0].storage else {
            Issue.record("expected float32 storage")
            return
        }
        #expect(features[0] == Float(17.99))
    }

    @Test func float32OverflowNamesLineAndColumn() throws {
        let dataset = try CSVReader.parse(text: "a,b,y\n1,2,0\n3,-1e39,1\n", source: "t.csv")
        #expect(throws: Never.self) { try dataset.makeBlocks(blockRows: 1, precision: .float64) }
        let error = dataError { () throws(DataError) in try dataset.makeBlocks(blockRows: 1, precision: .float32) }
        #expect(
            error?.description
                == "t.csv:3: column 2 (\"b\"): -1e+39 is too large for float32 (largest finite magnitude "
                + "3.4028235e+38); use float64")
        let labelOverflow = try CSVReader.parse(text: "y,a\n1e300,1\n", source: "t.csv", labelColumn: "y")
        let labelError = dataError { () throws(DataError) in
            try labelOverflow.makeBlocks(blockRows: 1, precision: .float32)
        }
        #expect(labelError == .float32Overflow(path: "t.csv", line: 2, column: 1, columnName: "y", value: 1e300))
    }

    // MARK: Datasets built in code

    @Test func datasetInitialiserChecksShapeAndFiniteness() {
        let shape = dataError { () throws(DataError) in
            try Dataset(sourcePath: "m", featureNames: ["a", "b"], labelName: "y", features: [1, 2, 3], labels: [0, 1])
        }
        #expect(
            shape?.description == "m: invalid dataset shape: 3 feature values for 2 rows × 2 features (expected 4)")
        let nonFinite = dataError { () throws(DataError) in
            try Dataset(sourcePath: "m", featureNames: ["a"], labelName: "y", features: [1, .nan], labels: [0, 1])
        }
        #expect(nonFinite == .nonFiniteValue(path: "m", line: 3, column: 1, columnName: "a", text: "nan"))
        let noRows = dataError { () throws(DataError) in
            try Dataset(sourcePath: "m", featureNames: ["a"], labelName: "y", features: [], labels: [])
        }
        #expect(noRows == .noDataRows(path: "m"))
    }
}

extension ShardDataSuite {
    @Test("the default block size comes from the row width, and the bundled sets still make 8 blocks", arguments: [
        (569, 30), (150, 4), (442, 10), (1797, 64), (20_000, 20),
    ])
    func defaultBlockRowsSpreadSmallSets(rows: Int, features: Int) throws {
        for bytes in [4, 8] {
            let blockRows = BlockPlan.defaultBlockRows(rowCount: rows, featureCount: features, bytesPerValue: bytes)
            let plan = try BlockPlan(rowCount: rows, blockRows: blockRows)
            #expect(plan.blockCount >= 8, "\(rows) × \(features): \(blockRows) rows per block")
            #expect(blockRows >= 16)
            #expect(blockRows * features * bytes <= BlockPlan.targetBlockBytes)
        }
    }

    @Test func defaultBlockRowsFollowTheByteTarget() {
        // 262144 / 160 = 1638.4 → 1632 (a multiple of 16); 262144 / 80 = 3276.8 → 3264.
        #expect(BlockPlan.defaultBlockRows(rowCount: 1_000_000, featureCount: 20, bytesPerValue: 8) == 1632)
        #expect(BlockPlan.defaultBlockRows(rowCount: 1_000_000, featureCount: 20, bytesPerValue: 4) == 3264)
        // Very wide rows: never fewer than 16 rows; very few rows: at least 16 rows (fewer blocks).
        #expect(BlockPlan.defaultBlockRows(rowCount: 1_000_000, featureCount: 100_000, bytesPerValue: 8) == 16)
        #expect(BlockPlan.defaultBlockRows(rowCount: 40, featureCount: 3, bytesPerValue: 8) == 16)
        // Breast cancer: ⌈569 / 8⌉ = 72.
        #expect(BlockPlan.defaultBlockRows(rowCount: 569, featureCount: 30, bytesPerValue: 8) == 72)
    }
}
