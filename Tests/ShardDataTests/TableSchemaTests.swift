import ShardData
import Testing

/// Reads `text` as a table and infers its schema under `options`.
private func readSchema(
    _ text: String, _ options: SchemaOptions = SchemaOptions(), pieceBytes: Int = CSVReader.defaultPieceBytes,
    dialect: CSVDialect = CSVDialect()
) throws(DataError) -> (TableSchema, CSVTable) {
    let table = try CSVReader.parseTable(bytes: Array(text.utf8), source: "t.csv", dialect: dialect, pieceBytes: pieceBytes)
    return (try TableSchema.infer(table, options: options), table)
}

/// The encoded dataset of `text` under `options` (inferred schema, training use).
private func encoded(_ text: String, _ options: SchemaOptions = SchemaOptions(), dialect: CSVDialect = CSVDialect())
    throws(DataError) -> EncodedTable
{
    let (schema, table) = try readSchema(text, options, dialect: dialect)
    return try schema.encode(table)
}

private func rows(_ dataset: Dataset) -> [[Double]] {
    (0..<dataset.rowCount).map { row in (0..<dataset.featureCount).map { dataset.features[row * dataset.featureCount + $0] } }
}

private func message(_ body: () throws -> Void) -> String? {
    do {
        try body()
        return nil
    } catch {
        return (error as? DataError)?.description ?? "\(error)"
    }
}

@Suite("Table schema: kinds, one-hot, string labels, missing values")
struct TableSchemaTests {
    @Test("kinds are inferred from the whole file: text → categorical, numbers → numeric, text labels → sorted classes")
    func inference() throws {
        // The text arrives only in the last piece (pieces of 16 bytes): inference sees the whole file.
        let text = "size,color,label\n1,red,no\n2,blue,yes\n3,red,no\n4,green,maybe\n"
        let (schema, _) = try readSchema(text, pieceBytes: 16)
        #expect(schema.columns.map(\.kind) == [.numeric, .categorical, .label])
        #expect(schema.columns[1].values == ["blue", "green", "red"])
        #expect(schema.classes == ["maybe", "no", "yes"])
        #expect(schema.featureNames == ["size", "color=blue", "color=green", "color=red"])
        #expect(schema.summaryLine() == "schema: 1 numeric, 1 categorical (color: 3 values), label \"label\": 3 classes (maybe, no, yes)")
    }

    @Test("one-hot rows: 1 at the cell's category, features pointing at the CSV column; labels are class indices")
    func oneHot() throws {
        let result = try encoded("size,color,label\n1.5,red,no\n2,blue,yes\n-3,red,no\n")
        let dataset = result.dataset
        #expect(dataset.featureNames == ["size", "color=blue", "color=red"])
        #expect(rows(dataset) == [[1.5, 0, 1], [2, 1, 0], [-3, 0, 1]])
        #expect(dataset.labels == [0, 1, 0])
        #expect(dataset.featureColumnNumbers == [1, 2, 2])
        #expect(dataset.labelColumnNumber == 3)
    }

    @Test("a number in a categorical column is its canonical text: 1, 1.0, +1 and 1e0 are one category")
    func canonicalNumbers() throws {
        #expect(CanonicalNumber.text(1) == "1")
        #expect(CanonicalNumber.text(-0.0) == "0")
        #expect(CanonicalNumber.text(2.5) == "2.5")
        #expect(CanonicalNumber.text(1e-7) == "1e-07")
        #expect(CanonicalNumber.text(1e20) == "1e+20")
        let text = "grade,label\n1,0\n1.0,1\n+1,0\n1e0,1\n2,0\nA,1\n"
        let (schema, _) = try readSchema(text, SchemaOptions(categorical: ["grade"]))
        #expect(schema.columns[0].values == ["1", "2", "A"])
        let result = try encoded(text, SchemaOptions(categorical: ["grade"]))
        #expect(rows(result.dataset) == [[1, 0, 0], [1, 0, 0], [1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]])
    }

    @Test("--categorical forces a numeric column to one-hot; --ignore and --id-column make no features")
    func options() throws {
        let text = "id,zip,x,label\nA7,10115,0.5,1\nB2,80331,1.5,0\n"
        let result = try encoded(text, SchemaOptions(ignored: ["x"], idColumn: "id", categorical: ["zip"]))
        #expect(result.dataset.featureNames == ["zip=10115", "zip=80331"])
        let (schema, _) = try readSchema(text, SchemaOptions(ignored: ["x"], idColumn: "id", categorical: ["zip"]))
        #expect(schema.idColumn == "id")
        #expect(schema.ignoredColumns == ["x"])
        #expect(
            schema.summaryLine()
                == "schema: 0 numeric, 1 categorical (zip: 2 values), label \"label\", id: id, ignored: x")
        #expect(
            message { _ = try encoded(text, SchemaOptions(ignored: ["nope"])) }
                == "t.csv: --ignore nope: no such column; the columns are \"id\", \"zip\", \"x\", \"label\"")
        #expect(message { _ = try encoded(text, SchemaOptions(ignored: ["label"])) } == "t.csv: --ignore label: that is the label column")
    }

    @Test("text among numbers is refused at its cell (a typo, most likely), unless --categorical names the column")
    func mixedColumn() throws {
        let text = "a,b,label\n1,2,0\n3,4x,1\n5,6,0\n"
        #expect(
            message { _ = try encoded(text) }
                == "t.csv:3: column 2 (\"b\"): \"4x\" is not a number, but 2 other cells of the column are: "
                + "fix the cell, or give --categorical b to read every value as a category")
        #expect(
            message { _ = try encoded("a,b,label\n1,2,0\n3,4x,1\n5,y,0\n") }
                == "t.csv:3: column 2 (\"b\"): \"4x\" is not a number, but 1 other cell of the column is (and 1 other cell "
                + "is text): fix the cell, or give --categorical b to read every value as a category")
        // Without a header, text on line 1 alone is a header line after all.
        let headerless = CSVDialect(hasHeader: false)
        #expect(
            message { _ = try encoded("x,y,label\n1,2,0\n3,4,1\n", dialect: headerless) }
                == "t.csv:1: column 1 (\"f0\"): \"x\" is not a number, but the column's other cells are: line 1 looks like "
                + "a header line, so drop --no-header")
        // Numbers in a spreadsheet's locale are refused, not one-hot encoded (unless --categorical says so).
        #expect(
            message { _ = try encoded("a;b;label\n\"-0,94\";1;0\n\"2,5\";2;1\n") }
                == "t.csv:2: column 1 (\"a\"): the values look like numbers written with a comma (\"-0,94\": a decimal comma "
                + "or a thousands separator); write plain decimals (1000, -0.94: e.g. your spreadsheet's export settings); "
                + "only if the values are codes rather than quantities, give --categorical a to read them as categories")
        // Among plain numbers (7), at the first such cell.
        #expect(message { _ = try encoded("a;b;label\n7;1;0\n\"-0,94\";1;0\n\"2,5\";2;1\n") }?.hasPrefix("t.csv:3: column 1 (\"a\"): the values look like numbers written with a comma (\"-0,94\"") == true)
        #expect(message { _ = try encoded("a,b,label\n\"1,000\",1,0\n\"2,500\",2,1\n") }?.contains("look like numbers written with a comma (\"1,000\"") == true)
        #expect(try encoded("a;b;label\n\"-0,94\";1;0\n\"2,5\";2;1\n", SchemaOptions(categorical: ["a"])).dataset.featureNames.count == 3)
        // "1, 2": a space after the comma is part of the field.
        #expect(
            message { _ = try encoded("a,b,label\n1, 2,0\n3,4,1\n") }
                == "t.csv:2: column 2 (\"b\"): \" 2\" is a number with spaces around it, which CSV keeps as part of the "
                + "field: remove the spaces (\"2\")")
        #expect(try encoded(text, SchemaOptions(categorical: ["b"])).dataset.featureNames == ["a", "b=2", "b=4x", "b=6"])
        // ", " between every field: whole columns of spaced numbers are refused at their first cell (they were
        // one-hot encoded, a category per value), with the separator named.
        #expect(
            message { _ = try encoded("a, b, label\n1.5, 2.5, 0\n3.5, -4, 1\n") }
                == "t.csv:2: column 2 (\" b\"): every value is a number with spaces around it (\" 2.5\"), which CSV keeps "
                + "as part of the field: the fields look separated by \", \" (a comma and a space); remove the spaces "
                + "after the commas, e.g. sed 's/, /,/g' t.csv > fixed.csv")
    }

    @Test("missing spellings: empty, NA, N/A, NaN, null, None, ? in any case; numbers, 'nan1' and '-' are not missing")
    func missingTokens() {
        for text in ["", "NA", "na", "N/A", "n/a", "NaN", "nan", "NAN", "null", "NULL", "None", "none", "?"] {
            #expect(MissingValue.isMissing(text), "\(text)")
        }
        for text in ["0", "nan1", "-", "NA ", "nulls", "??"] { #expect(!MissingValue.isMissing(text), "\(text)") }
    }

    @Test("--missing error (default) names file:line:column and the column, and suggests the flag")
    func missingError() {
        #expect(
            message { _ = try encoded("a,b,label\n1,2,0\n3,NA,1\n") }
                == "t.csv:3: column 2 (\"b\"): missing value (empty or NA, N/A, NaN, null, None, ?): give --missing drop, "
                + "mean or median to train on rows with missing cells")
        #expect(
            message { _ = try encoded("a,b,label\n1,2,0\n3,4,\n", SchemaOptions(missing: .mean)) }
                == "t.csv:3: column 3 (\"label\"): the label is missing (--missing drop leaves rows without a label out)")
    }

    @Test("--missing drop marks exactly the rows with a missing feature or label; dropping keeps file order and lines")
    func drop() throws {
        let text = "a,color,label\n1,red,0\n,blue,1\n3,,0\n4,red,\n5,blue,1\n"
        for pieceBytes in [8, 13, 1 << 20] {
            let table = try CSVReader.parseTable(bytes: Array(text.utf8), source: "t.csv", pieceBytes: pieceBytes)
            let schema = try TableSchema.infer(table, options: SchemaOptions(missing: .drop))
            let result = try schema.encode(table)
            #expect(result.incompleteRows == [1, 2, 3])
            #expect(result.missingCells == 3)
            // Rows stay (row indices name the file's rows) until dropped.
            #expect(result.dataset.rowCount == 5)
            let dropped = try result.droppingIncompleteRows().dataset
            #expect(rows(dropped) == [[1, 0, 1], [5, 1, 0]])
            #expect(Array(dropped.lineNumbers) == [2, 6])
            #expect(dropped.labels == [0, 1])
        }
        #expect(
            message { _ = try encoded("a,label\n,1\n", SchemaOptions(missing: .drop)).droppingIncompleteRows() }
                == "t.csv: every row has a missing cell (--missing drop left none)")
    }

    @Test("mean and median are fitted on the rows given (the training rows) and fill NaN; categorical: all-zero")
    func imputation() throws {
        let text = "a,b,color,label\n1,10,red,0\n,20,,1\n4,,blue,0\n5,40,red,1\n"
        let (schema, table) = try readSchema(text, SchemaOptions(missing: .median))
        let result = try schema.encode(table)
        #expect(result.dataset.features[4].isNaN)
        // Fitted on rows 0, 1, 2 only (as after a split): a = {1, 4} → median (1 + 4) / 2; b = {10, 20}.
        let training = try result.dataset.selectingRows([0, 1, 2])
        let fitted = try schema.fittingFills(to: training)
        #expect(fitted.columns.map(\.fill) == [2.5, 15, nil, nil])
        let filled = fitted.fillingMissing(in: result.dataset)
        #expect(rows(filled) == [[1, 10, 0, 1], [2.5, 20, 0, 0], [4, 15, 1, 0], [5, 40, 0, 1]])
        let (meanSchema, _) = try readSchema(text, SchemaOptions(missing: .mean))
        #expect(try meanSchema.fittingFills(to: result.dataset).columns.map(\.fill) == [10.0 / 3, 70.0 / 3, nil, nil])
        // Odd count: the middle value.
        #expect(try schema.fittingFills(to: result.dataset).columns[0].fill == 4)
    }

    @Test("applying a schema: columns by name in any order, extra columns named, unseen categories counted or refused")
    func applying() throws {
        let (schema, _) = try readSchema("x,color,label\n1,red,no\n2,blue,yes\n")
        let other = try CSVReader.parseTable(
            bytes: Array("note,label,color,x\nhi,yes,blue,2\nho,no,green,1\n".utf8), source: "o.csv", labelColumn: "label")
        let result = try schema.encode(other, applying: true)
        #expect(rows(result.dataset) == [[2, 1, 0], [1, 0, 0]])
        #expect(result.dataset.labels == [1, 0])
        #expect(result.extraColumns == ["note"])
        #expect(result.unseenCategories.map(\.column) == ["color"])
        #expect(
            message { _ = try schema.encode(other, applying: true, strictCategories: true) }
                == "o.csv:3: column 3 (\"color\"): 1 cell holds a category the model did not see in training (the first "
                + "on this line); without --strict they read as all-zero rows")
        let missingColumn = try CSVReader.parseTable(bytes: Array("color,label\nred,no\n".utf8), source: "m.csv")
        #expect(
            message { _ = try schema.encode(missingColumn, applying: true) }
                == "m.csv: no column named \"x\" (a numeric feature of the model); the file's columns are \"color\", \"label\"")
        let unknownClass = try CSVReader.parseTable(bytes: Array("x,color,label\n1,red,perhaps\n".utf8), source: "c.csv")
        #expect(
            message { _ = try schema.encode(unknownClass, applying: true) }
                == "c.csv:2: column 3 (\"label\"): \"perhaps\" is not one of the label's classes (\"no\", \"yes\")")
    }

    @Test("an all-numeric file is the reader's own dataset, bit for bit, and the strict reader still refuses text")
    func numericFastPath() throws {
        let text = "a,b,label\n0.1,2e-3,1\n-7,.5,0\n"
        let plain = try CSVReader.parse(text: text, source: "t.csv")
        let result = try encoded(text)
        #expect(result.dataset == plain)
        #expect(message { _ = try CSVReader.parse(text: "a,b,label\n1,x,0\n", source: "t.csv") } == "t.csv:2: column 2 (\"b\"): \"x\" is not a number")
    }

    @Test("text read in the fast path (unquoted) is recorded as the slow path (quoted) records it, for any piece size")
    func fastAndSlowTextAgree() throws {
        let rows = [
            ["1.5", "red", "S", "yes"], ["2", "blue", "M", "no"], ["", "green", "NA", "yes"], ["nan", "red", "", "no"],
            ["-3e2", "N/A", "L", "yes"], ["4", "blue", "S", "no"],
        ]
        let header = "x,color,size,label\n"
        let plain = header + rows.map { $0.joined(separator: ",") }.joined(separator: "\n") + "\n"
        let quoted = header + rows.map { $0.map { "\"\($0)\"" }.joined(separator: ",") }.joined(separator: "\n") + "\n"
        func filled(_ text: String, pieceBytes: Int) throws -> (TextCells, Dataset) {
            let table = try CSVReader.parseTable(bytes: Array(text.utf8), source: "t.csv", pieceBytes: pieceBytes)
            let schema = try TableSchema.infer(table, options: SchemaOptions(missing: .median))
            let encoded = try schema.encode(table)
            let fitted = try schema.fittingFills(to: encoded.dataset)
            return (table.text, fitted.fillingMissing(in: encoded.dataset))
        }
        let (cells, dataset) = try filled(quoted, pieceBytes: 1 << 20)
        #expect(cells.cells.count == 2 + 6 + 6 + 6 && cells.strings.count == 8)
        #expect(dataset.featureNames == ["x", "color=blue", "color=green", "color=red", "size=L", "size=M", "size=S"])
        for pieceBytes in [5, 17, 1 << 20] {
            let (fastCells, fastDataset) = try filled(plain, pieceBytes: pieceBytes)
            #expect(fastCells == cells, "\(pieceBytes)")
            #expect(fastDataset == dataset, "\(pieceBytes)")
        }
    }

    @Test("rows of empty fields (shorter than rows of digits) fit the piece's row estimate (was a buffer overflow)")
    func emptyFieldRows() throws {
        for pieceBytes in [7, 64, 1 << 20] {
            let text = "a,b,label\n" + String(repeating: ",,\n", count: 300)
            let table = try CSVReader.parseTable(bytes: Array(text.utf8), source: "t.csv", pieceBytes: pieceBytes)
            #expect(table.rowCount == 300 && table.text.cells.count == 900 && table.text.cells.allSatisfy(\.isMissing))
            let twoColumns = try CSVReader.parseTable(
                bytes: Array(("a,b\n" + String(repeating: ",\n", count: 200) + ",").utf8), source: "t.csv",
                pieceBytes: pieceBytes)
            #expect(twoColumns.rowCount == 201)
        }
    }

    @Test("an id column is kept as written (leading zeros, quotes removed), numbers or not")
    func verbatimIds() throws {
        let text = "id,x,label\n007,1,0\n\"A,1\",2,1\n,3,0\n"
        let table = try CSVReader.parseTable(bytes: Array(text.utf8), source: "t.csv", verbatimColumn: "id")
        let schema = try TableSchema.infer(table, options: SchemaOptions(idColumn: "id"))
        let result = try schema.encode(table)
        #expect(result.ids == ["007", "A,1", ""])
        #expect(rows(result.dataset) == [[1], [2], [3]])
    }
}
