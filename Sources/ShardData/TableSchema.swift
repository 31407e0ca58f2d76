/// What to do with a missing cell (`MissingValue`) of a feature or the label.
///
/// ```text
/// error    stop at the first one, naming file:line, column and name
/// drop     leave out every row with a missing cell in a feature or the label
/// mean     numeric features: the training rows' mean of the column; categorical: an all-zero one-hot row
/// median   as mean with the median (an even count: the mean of the two middle values)
/// ```
/// A missing label is an error unless `drop`.
public enum MissingPolicy: String, Sendable, Codable, CaseIterable {
    case error, drop, mean, median

    /// Whether missing numeric cells are filled with a value fitted on the training rows.
    public var imputes: Bool { self == .mean || self == .median }
}

/// What the user says about the columns of a CSV (`--ignore`, `--id-column`, `--categorical`, `--missing`).
public struct SchemaOptions: Sendable, Equatable {
    public var ignored: [String]
    public var idColumn: String?
    public var categorical: [String]
    public var missing: MissingPolicy

    public init(ignored: [String] = [], idColumn: String? = nil, categorical: [String] = [], missing: MissingPolicy = .error) {
        self.ignored = ignored
        self.idColumn = idColumn
        self.categorical = categorical
        self.missing = missing
    }

    /// Whether every column is read as it always was: numbers only, nothing ignored.
    public var isDefault: Bool { self == SchemaOptions() }
}

/// The columns of a training CSV by name and kind, as a model records them so that `predict` and `evaluate` read
/// any file with those columns, in any order, into the same features.
///
/// ```text
/// numeric       one feature, the value (a missing cell: `fill` when imputed)
/// categorical   one feature per value of `values` (sorted by UTF-8 bytes), named "column=value": 1 for the cell's
///               value, 0 for the others; a missing or unseen cell is an all-zero row
/// label         numbers, or classes `values` (string labels): the label is the class's index in `values`
/// ignored, id   no feature (an id column is passed through to predictions)
/// ```
/// Kinds are inferred from the whole file: a column whose non-missing cells are all text is categorical, one whose
/// cells are all numbers numeric (or categorical with `--categorical`); text and numbers in one column is refused
/// (most likely a typo in a numeric column) unless `--categorical` names it.
public struct TableSchema: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable {
        case numeric, categorical, label, ignored, id
    }

    public struct Column: Sendable, Equatable, Codable {
        public var name: String
        public var kind: Kind
        /// categorical: the vocabulary; label: the class names by label value (nil: numeric labels).
        public var values: [String]?
        /// numeric: the value of a missing cell (fitted on the training rows with --missing mean or median).
        public var fill: Double?

        public init(name: String, kind: Kind, values: [String]? = nil, fill: Double? = nil) {
            self.name = name
            self.kind = kind
            self.values = values
            self.fill = fill
        }

        var isFeature: Bool { kind == .numeric || kind == .categorical }
        /// The features this column makes.
        var featureNames: [String] {
            switch kind {
            case .numeric: [name]
            case .categorical: (values ?? []).map { "\(name)=\($0)" }
            case .label, .ignored, .id: []
            }
        }
    }

    /// In the training file's column order.
    public var columns: [Column]
    public var missing: MissingPolicy

    public init(columns: [Column], missing: MissingPolicy = .error) {
        self.columns = columns
        self.missing = missing
    }

    /// The schema of a model trained before schemas were recorded: numeric features, a numeric label.
    public init(numericFeatures names: [String], label: String) {
        self.init(columns: names.map { Column(name: $0, kind: .numeric) } + [Column(name: label, kind: .label)])
    }

    public var featureNames: [String] { columns.flatMap(\.featureNames) }
    public var label: Column? { columns.first { $0.kind == .label } }
    public var idColumn: String? { columns.first { $0.kind == .id }?.name }
    public var ignoredColumns: [String] { columns.filter { $0.kind == .ignored }.map(\.name) }
    /// The label's class names (string labels), by label value.
    public var classes: [String]? { label?.values }

    /// Sets the label's class names by label value (after a binary model chose its positive class).
    public mutating func setClasses(_ classes: [String]) {
        if let index = columns.firstIndex(where: { $0.kind == .label }) { columns[index].values = classes }
    }

    /// Whether the schema reads every column but the label as a number, in file order, with nothing else to do.
    var isPlainNumeric: Bool {
        columns.allSatisfy { $0.kind == .numeric || ($0.kind == .label && $0.values == nil) }
    }

    // MARK: Inference

    /// The schema of `table` under `options` (see the type's documentation); the names in `options` must be columns.
    public static func infer(_ table: CSVTable, options: SchemaOptions) throws(DataError) -> TableSchema {
        let names = table.columnNames
        let path = table.sourcePath
        func refuse(_ detail: String) -> DataError { .schema(path: path, line: nil, column: nil, columnName: nil, detail: detail) }
        let given = options.ignored.map { ("--ignore", $0) } + options.categorical.map { ("--categorical", $0) }
            + (options.idColumn.map { [("--id-column", $0)] } ?? [])
        for (flag, name) in given where !names.contains(name) {
            throw refuse("\(flag) \(name): no such column; the columns are " + names.map { "\"\($0)\"" }.joined(separator: ", "))
        }
        let label = table.labelName
        for (flag, name) in given where name == label && flag != "--categorical" {
            throw refuse("\(flag) \(name): that is the label column")
        }
        if let id = options.idColumn, options.ignored.contains(id) || options.categorical.contains(id) {
            throw refuse("--id-column \(id) is also given to --ignore or --categorical")
        }
        if let both = options.ignored.first(where: options.categorical.contains) {
            throw refuse("--ignore \(both) and --categorical \(both) contradict each other")
        }
        let counts = table.cellCounts()
        var columns: [Column] = []
        for (index, name) in names.enumerated() {
            let (text, missing, firstText) = counts[index]
            let numbers = table.rowCount - text - missing
            let forced = options.categorical.contains(name)
            if options.ignored.contains(name) {
                columns.append(Column(name: name, kind: .ignored))
            } else if name == options.idColumn {
                columns.append(Column(name: name, kind: .id))
            } else {
                if text > 0, numbers > 0, !forced, let firstText {
                    let shown = table.text.text(of: firstText) ?? ""
                    let trimmed = Self.trimmingBlanks(shown)
                    let others = text - 1
                    let detail: String
                    if shown.contains(","), Self.isNumberWithCommas(shown) {
                        detail = Self.commaNumbers(example: shown, column: name)
                    } else if Self.isSpacedNumber(shown) {
                        detail = "\"\(shown)\" is a number with spaces around it, which CSV keeps as part of the field: "
                            + "remove the spaces (\"\(trimmed)\")"
                    } else if table.lineNumbers[firstText.row] == 1, others == 0 {
                        // Data on line 1 means there is no header: text there alone is most likely a header.
                        detail = "\"\(shown)\" is not a number, but the column's other cells are: line 1 looks like a header "
                            + "line, so drop --no-header"
                    } else {
                        detail = "\"\(shown)\" is not a number, but \(numbers) other \(numbers == 1 ? "cell" : "cells") of the "
                            + "column \(numbers == 1 ? "is" : "are")"
                            + (others > 0 ? " (and \(others) other \(others == 1 ? "cell is" : "cells are") text)" : "")
                            + ": fix the cell, or give --categorical \(name) to read every value as a category"
                    }
                    throw .schema(
                        path: path, line: table.lineNumbers[firstText.row], column: index + 1, columnName: name,
                        detail: detail)
                }
                let categories = forced || text > 0 ? table.vocabulary(ofColumn: index) : nil
                // The line of the column's first text cell, and that text, for messages about the whole column.
                let firstCell = firstText.map { (line: table.lineNumbers[$0.row], text: table.text.text(of: $0) ?? "") }
                if !forced, numbers == 0, let categories, categories.contains(where: { $0.contains(",") }),
                    categories.allSatisfy(Self.isNumberWithCommas)
                {
                    // "-0,94" or "1,000": numbers in a spreadsheet's locale, not categories (one-hot would be silently wrong).
                    let example = firstCell?.text.contains(",") == true ? firstCell!.text : categories.first { $0.contains(",") }!
                    throw .schema(
                        path: path, line: firstCell?.line, column: index + 1, columnName: name,
                        detail: Self.commaNumbers(example: example, column: name))
                }
                if !forced, numbers == 0, let categories, let firstCell, categories.allSatisfy(Self.isSpacedNumber) {
                    // " 1.3797" in every row: the file separates its fields with ", " (pandas' skipinitialspace).
                    throw .schema(
                        path: path, line: firstCell.line, column: index + 1, columnName: name,
                        detail: "every value is a number with spaces around it (\"\(firstCell.text)\"), which CSV keeps as part "
                            + "of the field: the fields look separated by \", \" (a comma and a space); remove the spaces "
                            + "after the commas, e.g. sed 's/, /,/g' \(path) > fixed.csv")
                }
                if index == table.labelIndex {
                    columns.append(Column(name: name, kind: .label, values: categories))
                } else {
                    columns.append(Column(name: name, kind: categories == nil ? .numeric : .categorical, values: categories))
                }
            }
        }
        let schema = TableSchema(columns: columns, missing: options.missing)
        guard !schema.featureNames.isEmpty else { throw .noFeatureColumns(path: path, labelName: label) }
        return schema
    }

    /// What a column of numbers written with commas is told.
    static func commaNumbers(example: String, column: String) -> String {
        "the values look like numbers written with a comma (\"\(example)\": a decimal comma or a thousands separator); "
            + "write plain decimals (1000, -0.94: e.g. your spreadsheet's export settings); only if the values are codes "
            + "rather than quantities, give --categorical \(column) to read them as categories"
    }

    /// Whether `text` is a number with spaces or tabs around it (" 1.5", "2 ").
    static func isSpacedNumber(_ text: String) -> Bool {
        let trimmed = trimmingBlanks(text)
        return trimmed != text && Double(trimmed) != nil
    }

    /// `text` without the spaces and tabs around it.
    static func trimmingBlanks(_ text: String) -> String {
        let isBlank = { (character: Character) in character == " " || character == "\t" }
        return String(text.drop(while: isBlank).reversed().drop(while: isBlank).reversed())
    }

    /// Whether `text` reads as a number once its commas are taken as a decimal point (`-0,94`) or dropped as
    /// thousands separators (`1,000`), or is a plain number (a column may mix `7` and `7,5`).
    static func isNumberWithCommas(_ text: String) -> Bool {
        func isNumber(_ bytes: [UInt8]) -> Bool { bytes.withUnsafeBufferPointer { DecimalField.parse($0).isNumber } }
        let bytes = Array(text.utf8)
        let comma = UInt8(ascii: ",")
        return isNumber(bytes) || isNumber(bytes.map { $0 == comma ? UInt8(ascii: ".") : $0 })
            || isNumber(bytes.filter { $0 != comma })
    }

    /// `schema: 30 numeric, 1 categorical (color: 3 values), label "diagnosis": 2 classes (B, M), ignored: id`.
    public func summaryLine(missingCells: Int = 0, droppedRows: Int = 0) -> String {
        let numeric = columns.filter { $0.kind == .numeric }.count
        let categorical = columns.filter { $0.kind == .categorical }
        var parts = ["\(numeric) numeric"]
        if !categorical.isEmpty {
            let shown = categorical.prefix(4).map { "\($0.name): \($0.values?.count ?? 0) values" }
            parts.append(
                "\(categorical.count) categorical (" + shown.joined(separator: ", ") + (categorical.count > 4 ? ", …" : "") + ")")
        }
        if let label {
            if let classes = label.values {
                let shown = classes.prefix(6).joined(separator: ", ") + (classes.count > 6 ? ", …" : "")
                parts.append("label \"\(label.name)\": \(classes.count) classes (\(shown))")
            } else {
                parts.append("label \"\(label.name)\"")
            }
        }
        if let idColumn { parts.append("id: \(idColumn)") }
        let ignored = ignoredColumns
        if !ignored.isEmpty { parts.append("ignored: " + ignored.joined(separator: ", ")) }
        if missingCells > 0 {
            let categorical = columns.contains { $0.kind == .categorical }
            let filled = categorical
                ? "numbers filled with the \(missing.rawValue), categories as all-zero rows" : "filled with the \(missing.rawValue)"
            let what = droppedRows > 0 ? "\(droppedRows) \(droppedRows == 1 ? "row" : "rows") dropped" : missing == .error ? "" : filled
            parts.append("\(missingCells) missing \(missingCells == 1 ? "cell" : "cells")" + (what.isEmpty ? "" : " (\(what))"))
        }
        return "schema: " + parts.joined(separator: ", ")
    }
}
