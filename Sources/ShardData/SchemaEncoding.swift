/// A CSV table made into features by a `TableSchema`.
public struct EncodedTable: Sendable {
    /// The schema's features in its order; labels as class indices for string classes. With `--missing mean` or
    /// `median` at training, a missing numeric cell is NaN until `TableSchema.fittingFills` fills it.
    public var dataset: Dataset
    /// The id column's cells as written, one per row of `dataset` (when the table was read with it verbatim:
    /// `CSVReader.readTable(verbatimColumn:)`).
    public var ids: [String]?
    /// Columns of the file that the schema does not name (not read).
    public var extraColumns: [String]
    /// Categorical columns with cells whose value is not in the vocabulary (all-zero rows), and how many.
    /// Per categorical column with values the schema does not know: how many cells, and the first few values.
    public var unseenCategories: [(column: String, count: Int, examples: [String], moreValues: Bool)]
    /// Missing cells in the features and the label.
    public var missingCells: Int
    /// `--missing drop`: the rows (0-based, of `dataset`) with a missing cell in a feature or the label, in order.
    /// They stay in `dataset` (NaN in a numeric cell or the label, zeros for a category) so that row indices
    /// (`--rows`, `--test-rows`) keep naming the file's rows; `droppingIncompleteRows` leaves them out.
    public var incompleteRows: [Int]

    /// The table without its incomplete rows (rows and ids in file order).
    public func droppingIncompleteRows() throws(DataError) -> EncodedTable {
        guard !incompleteRows.isEmpty else { return self }
        var result = self
        result.dataset = try dataset.droppingRows(incompleteRows)
        if let ids {
            let dropped = Set(incompleteRows)
            result.ids = ids.indices.filter { !dropped.contains($0) }.map { ids[$0] }
        }
        result.incompleteRows = []
        return result
    }
}

extension Dataset {
    /// The dataset without the rows `dropped` (0-based, any order), the others in order; an error naming
    /// `--missing drop` when none is left.
    public func droppingRows(_ dropped: some Collection<Int>) throws(DataError) -> Dataset {
        let set = Set(dropped)
        let kept = (0..<rowCount).filter { !set.contains($0) }
        guard !kept.isEmpty else {
            throw .schema(
                path: sourcePath, line: nil, column: nil, columnName: nil,
                detail: "every row has a missing cell (--missing drop left none)")
        }
        return kept.count == rowCount ? self : try selectingRows(kept, in: features.arena)
    }
}

extension TableSchema {
    /// The features of `table` as this schema makes them: columns found by name, in any order (the label too, when
    /// `table`'s label column is the schema's). `applying`: the schema is a trained model's — categories it does
    /// not know give all-zero rows (an error when `strictCategories`), missing cells take the recorded fill values,
    /// and a missing cell without one is an error (rows are never dropped, so predictions match the file's rows).
    public func encode(_ table: CSVTable, applying: Bool = false, strictCategories: Bool = false) throws(DataError)
        -> EncodedTable
    {
        let path = table.sourcePath
        let names = table.columnNames
        var position: [String: Int] = [:]
        for (index, name) in names.enumerated() { position[name] = index }
        let schemaLabel = label.flatMap { $0.name == table.labelName ? $0 : nil }
        func cellError(_ row: Int, _ column: Int, _ detail: String) -> DataError {
            .schema(path: path, line: table.lineNumbers[row], column: column + 1, columnName: names[column], detail: detail)
        }

        // Where each feature column is in the file, and where its features start.
        var sources: [(column: Column, csv: Int, offset: Int)] = []
        var sourceOfColumn = [Int](repeating: -1, count: names.count)
        var featureCount = 0
        for column in columns where column.isFeature {
            guard let csv = position[column.name], csv != table.labelIndex else {
                // The file's own columns: not a label column added in place of a missing one (no schema label).
                let own = names.indices.filter { $0 != table.labelIndex || schemaLabel != nil }.map { names[$0] }
                let sameButCase = own.first { $0.lowercased() == column.name.lowercased() }
                throw .schema(
                    path: path, line: nil, column: nil, columnName: nil,
                    detail: "no column named \"\(column.name)\" (a \(column.kind.rawValue) feature of the model)"
                        + (sameButCase.map { " — names are case-sensitive: the file has \"\($0)\"" } ?? "")
                        + "; the file's columns are " + own.map { "\"\($0)\"" }.joined(separator: ", "))
            }
            sourceOfColumn[csv] = sources.count
            sources.append((column, csv, featureCount))
            featureCount += column.featureNames.count
        }
        let known = Set(columns.map(\.name))
        let extra = names.enumerated().filter { $0.offset != table.labelIndex && !known.contains($0.element) }.map(\.element)
        let idIndex = idColumn.flatMap { position[$0] }
        let rowCount = table.rowCount

        // Numbers in categorical columns and class labels are looked up by their canonical text.
        var codes = [[Int32]](repeating: [], count: sources.count)
        var vocabularies = [[String: Int32]](repeating: [:], count: sources.count)
        var unseen = [Int](repeating: 0, count: sources.count)
        var firstUnseen = [Int](repeating: Int.max, count: sources.count)
        var unseenExamples = [[String]](repeating: [], count: sources.count)
        var moreUnseen = [Bool](repeating: false, count: sources.count)
        func noteUnseen(_ source: Int, row: Int, value: String) {
            unseen[source] += 1
            firstUnseen[source] = min(firstUnseen[source], row)
            guard !unseenExamples[source].contains(value) else { return }
            if unseenExamples[source].count < 3 { unseenExamples[source].append(value) } else { moreUnseen[source] = true }
        }
        for (index, source) in sources.enumerated() where source.column.kind == .categorical {
            for (code, value) in (source.column.values ?? []).enumerated() { vocabularies[index][value] = Int32(code) }
            codes[index] = [Int32](repeating: -1, count: rowCount)
            for row in 0..<rowCount {
                let value = table.value(row: row, column: source.csv)
                guard !value.isNaN else { continue }
                let text = CanonicalNumber.text(value)
                if let code = vocabularies[index][text] {
                    codes[index][row] = code
                } else {
                    noteUnseen(index, row: row, value: text)
                }
            }
        }
        var labels = table.raw.labels
        var classIndex: [String: Double] = [:]
        if let classes = schemaLabel?.values {
            for (index, name) in classes.enumerated() { classIndex[name] = Double(index) }
            for row in 0..<rowCount where !labels[row].isNaN {
                let text = CanonicalNumber.text(labels[row])
                guard let index = classIndex[text] else {
                    throw cellError(row, table.labelIndex, Self.unknownClass(text, classes: classes))
                }
                labels[row] = index
            }
        }

        // The text and missing cells, in file order: the first problem found is the first in the file.
        let ids = idIndex != nil && idIndex == table.verbatimColumn ? table.text.verbatim : nil
        var missingRows: [Bool] = []
        var missingCells = 0
        for cell in table.text.cells {
            let column = Int(cell.column), row = cell.row
            if column == idIndex { continue }
            let isLabel = column == table.labelIndex && schemaLabel != nil
            let source = sourceOfColumn[column]
            guard isLabel || source >= 0 else { continue }
            guard let text = table.text.text(of: cell) else {
                missingCells += 1
                if isLabel, missing != .drop || applying {
                    throw cellError(
                        row, column,
                        "the label is missing" + (applying ? "" : " (--missing drop leaves rows without a label out)"))
                }
                if missing == .error || (applying && missing == .drop) {
                    throw cellError(row, column, Self.missingDetail(applying: applying))
                }
                if missing == .drop {
                    if missingRows.isEmpty { missingRows = [Bool](repeating: false, count: rowCount) }
                    missingRows[row] = true
                }
                continue
            }
            if isLabel {
                guard let classes = schemaLabel?.values else {
                    throw cellError(row, column, "\"\(text)\" is not a number (the label of the model is numeric)")
                }
                guard let index = classIndex[text] else { throw cellError(row, column, Self.unknownClass(text, classes: classes)) }
                labels[row] = index
            } else if sources[source].column.kind == .categorical {
                if let code = vocabularies[source][text] { codes[source][row] = code } else { noteUnseen(source, row: row, value: text) }
            } else {
                throw cellError(row, column, "\"\(text)\" is not a number" + (applying ? " (a numeric column of the model)" : ""))
            }
        }
        if strictCategories, let index = unseen.firstIndex(where: { $0 > 0 }) {
            throw cellError(
                firstUnseen[index], sources[index].csv,
                "\(unseen[index] == 1 ? "1 cell holds" : "\(unseen[index]) cells hold") a category the model did not see in training (the first on this line); "
                    + "without --strict they read as all-zero rows")
        }

        let plainOrder = sources.map(\.csv) == (0..<names.count).filter { $0 != table.labelIndex }
        let dataset: Dataset
        if isPlainNumeric, table.text.isEmpty, plainOrder, schemaLabel?.values == nil {
            dataset = table.raw
        } else {
            dataset = Self.features(of: table, sources: sources, codes: codes, featureCount: featureCount, labels: labels)
        }
        let unseenCounts = unseen.enumerated().filter { $0.element > 0 }.map {
            (
                column: sources[$0.offset].column.name, count: $0.element, examples: unseenExamples[$0.offset],
                moreValues: moreUnseen[$0.offset]
            )
        }
        return EncodedTable(
            dataset: dataset, ids: ids, extraColumns: extra, unseenCategories: unseenCounts, missingCells: missingCells,
            incompleteRows: missingRows.isEmpty ? [] : (0..<rowCount).filter { missingRows[$0] })
    }

    private static func unknownClass(_ text: String, classes: [String]) -> String {
        "\"\(text)\" is not one of the label's classes ("
            + classes.prefix(8).map { "\"\($0)\"" }.joined(separator: ", ") + (classes.count > 8 ? ", …" : "") + ")"
    }

    private static func missingDetail(applying: Bool) -> String {
        let spellings = MissingValue.spellings.dropFirst().joined(separator: ", ")
        return applying
            ? "missing value (empty or \(spellings)), and the model has no value to fill it with (train with --missing mean or median)"
            : "missing value (empty or \(spellings)): give --missing drop, mean or median to train on rows with missing cells"
    }

    /// The feature rows: numeric columns copied (a missing cell: the column's fill, else NaN), categorical ones
    /// one-hot from `codes` (−1: all zero).
    private static func features(
        of table: CSVTable, sources: [(column: Column, csv: Int, offset: Int)], codes: [[Int32]], featureCount: Int,
        labels: [Double]
    ) -> Dataset {
        var builder = FeatureRowsBuilder(
            columns: featureCount, chunkRows: BlockPlan.chunkRows(featureCount: featureCount, bytesPerValue: 8),
            arena: table.raw.features.arena)
        var values = [Double](repeating: 0, count: featureCount)
        for row in 0..<table.rowCount {
            for (index, source) in sources.enumerated() {
                if source.column.kind == .numeric {
                    let value = table.value(row: row, column: source.csv)
                    values[source.offset] = value.isNaN ? source.column.fill ?? .nan : value
                } else {
                    let width = source.column.values?.count ?? 0
                    for feature in source.offset..<source.offset + width { values[feature] = 0 }
                    let code = codes[index][row]
                    if code >= 0 { values[source.offset + Int(code)] = 1 }
                }
            }
            values.withUnsafeBufferPointer { builder.append($0) }
        }
        let raw = table.raw
        return Dataset(
            unchecked: raw.sourcePath, featureNames: sources.flatMap(\.column.featureNames),
            labelName: table.labelName, features: builder.finish(), labels: labels, lineNumbers: raw.lineNumbers,
            featureColumnNumbers: sources.flatMap { source in
                Array(repeating: source.csv + 1, count: source.column.featureNames.count)
            },
            labelColumnNumber: table.labelIndex + 1)
    }
}

extension EncodedTable {
    /// "3 cells of column "color" hold a category <what> (" red", "Red", …)": one line per column with unseen values.
    public func unseenCategoryNotes(path: String, what: String) -> [String] {
        unseenCategories.map { entry in
            let examples = entry.examples.map { "\"\($0)\"" }.joined(separator: ", ") + (entry.moreValues ? ", …" : "")
            return "\(path): \(entry.count == 1 ? "1 cell" : "\(entry.count) cells") of column \"\(entry.column)\" "
                + "\(entry.count == 1 ? "holds" : "hold") a category \(what) (\(examples))"
        }
    }
}
