/// Everything that can go wrong while loading, selecting, scaling or blocking training data.
///
/// Each case carries what its message needs; `description` is a complete sentence-like message that a
/// command-line tool can print after `error: ` on its own, for example
///
/// ```text
/// data/x.csv:13: column 4 ("mean_area"): "12.5a" is not a number
/// ```
///
/// Locations follow the `file:line:` convention. Lines are 1-based file lines (the header is line 1);
/// columns are 1-based CSV columns, shown with their header name.
public enum DataError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file could not be opened or read (`reason` is the system's explanation).
    case fileUnreadable(path: String, reason: String)
    /// The file's size, modification time or identity changed between the start and the end of the read (something
    /// wrote, truncated or replaced it): what was read may be a mix, and another reader of the path (the input's
    /// SHA-256) would see other bytes.
    case fileChanged(path: String)
    /// The file has no bytes (or only line breaks and spaces).
    case emptyFile(path: String)
    /// The file has a header line and nothing else.
    case noDataRows(path: String)
    /// A header field is empty.
    /// `column` of `columns` has no name in the header line.
    case emptyColumnName(path: String, column: Int, columns: Int = 0)
    /// Two header fields have the same name.
    case duplicateColumnName(path: String, name: String, firstColumn: Int, column: Int)
    /// A data line has a different number of fields than the header (`found == 0`: the line is empty).
    case wrongFieldCount(path: String, line: Int, expected: Int, found: Int)
    /// A field is not a decimal number.
    case notANumber(path: String, line: Int, column: Int, columnName: String, text: String)
    /// A field is NaN, an infinity, or a number too large for `Double`.
    case nonFiniteValue(path: String, line: Int, column: Int, columnName: String, text: String)
    /// A field in a number syntax the reader refuses (hexadecimal, NUL bytes); `reason` says which.
    case unsupportedNumber(path: String, line: Int, column: Int, columnName: String, text: String, reason: String)
    /// A field whose quotes are malformed (`columnName` nil in the header line); `reason` says how.
    case malformedQuote(path: String, line: Int, column: Int, columnName: String?, reason: String)
    /// The first line of a file read with a header has only numbers in it (`fields`): most likely a file without
    /// a header, whose first row would silently become the column names.
    case numericHeader(path: String, fields: [String])
    /// A gzip file that cannot be decompressed (`detail` says why: truncated, corrupt).
    case invalidGzip(path: String, detail: String)
    /// A libsvm/svmlight line that cannot be read, at 1-based byte `column` of `line`.
    case invalidLibSVM(path: String, line: Int, column: Int, detail: String)
    /// A `.npy` file that cannot be used (bad magic or header, unsupported element type or order, truncated,
    /// wrong shape); `detail` says which.
    case invalidNumpy(path: String, detail: String)
    /// The requested label column is not in the header.
    case missingLabelColumn(path: String, name: String, availableColumns: [String])
    /// The file has no column left for features once the label column is taken out.
    case noFeatureColumns(path: String, labelName: String)
    /// A dataset built in code has inconsistent array sizes.
    case invalidShape(source: String, detail: String)

    /// A token of a row-index file is not a non-negative integer.
    case invalidRowIndex(path: String, line: Int, token: String)
    /// A row index is negative.
    case negativeRowIndex(path: String, line: Int, value: Int)
    /// A JSON-style row-index list (`[1, 2]`) is not closed properly or has text after `]`.
    case malformedRowIndexList(path: String, line: Int, detail: String)
    /// A row-index file lists no indices.
    case emptyRowIndexFile(path: String)
    /// A selected row index is not a data row of the dataset.
    case rowIndexOutOfRange(source: String, index: Int, position: Int, rowCount: Int)
    /// A row index is selected twice.
    case duplicateRowIndex(source: String, index: Int, firstPosition: Int, position: Int)
    /// A selection of zero rows.
    case emptyRowSelection(source: String)

    /// A class label that is not an integer in 0…classCount−1.
    case invalidClassLabel(path: String, line: Int, column: Int, columnName: String, value: Double, classCount: Int?)
    /// Fewer than two classes among the labels.
    case tooFewClasses(path: String, classCount: Int)
    /// A train/test split that leaves one side empty or asks for an impossible fraction.
    case invalidSplit(detail: String)
    /// A row listed both for training and as held out.
    case overlappingTestRows(index: Int)
    /// A test set whose columns differ from the training set's.
    case columnsDiffer(path: String, expected: [String], found: [String])

    /// A label that is not one of -1, 0, +1.
    case invalidBinaryLabel(path: String, line: Int, column: Int, columnName: String, value: Double)
    /// A label that contradicts the encoding set by an earlier label (a 0 after a -1, or a -1 after a 0).
    case mixedBinaryLabels(
        path: String, line: Int, column: Int, columnName: String, value: Double,
        earlierLine: Int, earlierValue: Double)

    /// A finite value whose magnitude is too large for `Float`.
    case float32Overflow(path: String, line: Int, column: Int, columnName: String, value: Double)
    /// A block plan with fewer than one row per block.
    case invalidBlockRows(blockRows: Int)
    /// A block plan over fewer than one row.
    case invalidRowCount(rowCount: Int)
    /// A block id outside the plan.
    case blockOutOfRange(id: Int, blockCount: Int)
    /// A size read from a file or a job (rows × columns, classes, blocks) that overflows or exceeds the machine's
    /// memory, refused before anything is allocated: `detail` names the size and what it needs.
    case tooLarge(source: String, detail: String)

    /// A standardization applied to a dataset with a different number of features.
    case standardizationMismatch(source: String, expectedFeatures: Int, foundFeatures: Int)
    /// Standardization parameters that are not finite, not non-negative (std), or of unequal lengths.
    case invalidStandardization(detail: String)
    /// The read of `path` was stopped because cancellation was requested (`ReadCancellation`).
    case interrupted(path: String)
    /// A column's kind, a category, a class or a missing cell that does not fit the table's schema (`line` nil: the
    /// whole file, or the header when `column` is given); `detail` says what and how to fix it.
    case schema(path: String, line: Int?, column: Int?, columnName: String?, detail: String)

    public var description: String {
        switch self {
        case .schema(let path, let line, let column, let columnName, let detail):
            let place = line.map { ":\($0)" } ?? (column == nil ? "" : ":1")
            let cell = column.map { " column \($0)" + (columnName.map { " (\(quoted($0)))" } ?? "") + ":" } ?? ""
            return "\(path)\(place):\(cell) \(detail)"
        case .interrupted(let path):
            return "\(path): reading was interrupted"
        case .fileUnreadable(let path, let reason):
            return "\(path): cannot read the file: \(reason)"
        case .fileChanged(let path):
            return "\(path): the file changed while it was being read (its size, modification time or identity is not "
                + "what it was when the read began); read it again once nothing writes to it"
        case .emptyFile(let path):
            return "\(path): the file is empty (expected a header line and at least one data row)"
        case .noDataRows(let path):
            return "\(path): the file has a header line but no data rows"
        case .emptyColumnName(let path, let column, let columns):
            var text = "\(path):1: column \(column) has an empty name in the header"
            if column == 1 {
                text += "; pandas writes its row index that way (to_csv(index=False) leaves it out) and R its row names "
                    + "(write.csv(row.names = FALSE)); or name the column in the header and keep it out of the features "
                    + "with --id-column NAME"
            } else if column == columns {
                text += "; a delimiter at the end of every line (as some spreadsheets write) makes an empty last column: "
                    + "remove that delimiter from every line (for commas: sed 's/,$//' \(path) > fixed.csv)"
            }
            return text
        case .duplicateColumnName(let path, let name, let firstColumn, let column):
            return "\(path):1: column \(column) (\(quoted(name))) has the same name as column \(firstColumn)"
        case .wrongFieldCount(let path, let line, let expected, let found):
            if found == 0 {
                return "\(path):\(line): the line is empty (expected \(expected) fields, as in the header)"
            }
            return "\(path):\(line): expected \(expected) fields (as in the header), found \(found)"
        case .notANumber(let path, let line, let column, let columnName, let text):
            return "\(path):\(line): column \(column) (\(quoted(columnName))): \(quoted(text)) is not a number"
        case .nonFiniteValue(let path, let line, let column, let columnName, let text):
            if path.lowercased().hasSuffix(".npy") {
                return "\(path): row \(line), column \(column) (\(quoted(columnName))): \(quoted(text)) is not finite "
                    + "(a .npy holds numbers only: replace or drop the rows with NaN or infinities before saving, e.g. "
                    + "x[np.isfinite(x).all(axis=1)]; --missing applies to CSV cells)"
            }
            return "\(path):\(line): column \(column) (\(quoted(columnName))): \(quoted(text)) is not finite "
                + "(NaN, infinities and values beyond the Double range are not numbers; a missing cell is written empty, NA "
                + "or NaN: see --missing)"
        case .unsupportedNumber(let path, let line, let column, let columnName, let text, let reason):
            return "\(path):\(line): column \(column) (\(quoted(columnName))): \(quoted(text)) is not a number: \(reason)"
        case .invalidNumpy(let path, let detail), .invalidGzip(let path, let detail):
            return "\(path): \(detail)"
        case .malformedQuote(let path, let line, let column, let columnName, let reason):
            let name = columnName.map { " (\(quoted($0)))" } ?? ""
            return "\(path):\(line): column \(column)\(name): \(reason)"
        case .numericHeader(let path, let fields):
            let shown = fields.prefix(4).map(quoted).joined(separator: ", ") + (fields.count > 4 ? ", …" : "")
            let generated = CSVHeader.generatedNames(columns: fields.count)
            let names = generated.count > 3
                ? "\(generated[0]) … \(generated[generated.count - 2]) and label" : generated.joined(separator: ", ")
            return "\(path):1: the first line is all numbers (\(shown)): it looks like data, not a header of column "
                + "names; add a header line, or give --no-header to name the columns \(names)"
        case .invalidLibSVM(let path, let line, let column, let detail):
            return "\(path):\(line):\(column): \(detail)"
        case .missingLabelColumn(let path, let name, let availableColumns):
            return "\(path):1: no column named \(quoted(name)) for the label; the columns are "
                + availableColumns.map(quoted).joined(separator: ", ")
        case .noFeatureColumns(let path, let labelName):
            return "\(path):1: no feature columns: the only column is the label column \(quoted(labelName))"
        case .invalidShape(let source, let detail):
            return "\(source): invalid dataset shape: \(detail)"
        case .invalidRowIndex(let path, let line, let token):
            return "\(path):\(line): \(quoted(token)) is not a row index (expected a non-negative integer)"
        case .negativeRowIndex(let path, let line, let value):
            return "\(path):\(line): row index \(value) is negative (row indices count data rows from 0)"
        case .malformedRowIndexList(let path, let line, let detail):
            return "\(path):\(line): malformed row index list: \(detail)"
        case .emptyRowIndexFile(let path):
            return "\(path): the file lists no row indices"
        case .rowIndexOutOfRange(let source, let index, let position, let rowCount):
            return "row index \(index) (entry \(position + 1) of the selection) is out of range: "
                + "\(source) has \(rowCount) data rows (valid indices 0...\(rowCount - 1))"
        case .duplicateRowIndex(let source, let index, let firstPosition, let position):
            return "row index \(index) of \(source) is selected twice (entries \(firstPosition + 1) "
                + "and \(position + 1) of the selection)"
        case .emptyRowSelection(let source):
            return "the row selection for \(source) is empty"
        case .invalidClassLabel(let path, let line, let column, let columnName, let value, let classCount):
            let range = classCount.map { "0…\($0 - 1)" } ?? "0, 1, 2, …"
            return "\(path):\(line): column \(column) (\(quoted(columnName))): label \(formatted(value)) "
                + "is not a class index (expected an integer in \(range))"
        case .tooFewClasses(let path, let classCount):
            return "\(path): the labels name \(classCount) class(es); at least 2 are needed"
        case .invalidSplit(let detail):
            return "invalid train/test split: \(detail)"
        case .overlappingTestRows(let index):
            return "invalid train/test split: data row \(index) is both a training row (--rows) and a held-out row"
        case .columnsDiffer(let path, let expected, let found):
            let first = zip(expected, found).enumerated().first { $0.element.0 != $0.element.1 }
            let detail =
                first.map { "column \($0.offset + 1) is \(quoted($0.element.1)), expected \(quoted($0.element.0))" }
                ?? "\(found.count) columns, expected \(expected.count)"
            return "\(path): the columns differ from the training data: \(detail)"
        case .invalidBinaryLabel(let path, let line, let column, let columnName, let value):
            return "\(path):\(line): column \(column) (\(quoted(columnName))): label \(formatted(value)) "
                + "is not a binary label (expected all labels in {0, 1} or all in {-1, +1})"
        case .mixedBinaryLabels(
            let path, let line, let column, let columnName, let value, let earlierLine, let earlierValue):
            let set = earlierValue == 0 ? "{0, 1}" : "{-1, +1}"
            return "\(path):\(line): column \(column) (\(quoted(columnName))): label \(formatted(value)) "
                + "mixes label encodings: line \(earlierLine) has label \(formatted(earlierValue)), "
                + "so all labels must be in \(set)"
        case .float32Overflow(let path, let line, let column, let columnName, let value):
            return "\(path):\(line): column \(column) (\(quoted(columnName))): \(formatted(value)) is too "
                + "large for float32 (largest finite magnitude \(Float.greatestFiniteMagnitude)); use float64"
        case .invalidBlockRows(let blockRows):
            return "a block must hold at least 1 row, got \(blockRows)"
        case .invalidRowCount(let rowCount):
            return "a block plan needs at least 1 row, got \(rowCount)"
        case .blockOutOfRange(let id, let blockCount):
            return "block \(id) does not exist (the plan has blocks 0..<\(blockCount))"
        case .tooLarge(let source, let detail):
            return "\(source): \(detail)"
        case .standardizationMismatch(let source, let expectedFeatures, let foundFeatures):
            return "\(source): the standardization was fitted on \(expectedFeatures) features, "
                + "but the dataset has \(foundFeatures)"
        case .invalidStandardization(let detail):
            return "invalid standardization: \(detail)"
        }
    }
}

/// `"text"`, with the text as is (a CSV field after its own quotes are removed, so a `"` inside is shown as one).
func quoted(_ text: String) -> String { "\"\(text)\"" }

extension String {
    /// The text with each NUL byte written as `\0` (for messages).
    var replacingNULs: String { replacing("\u{0}", with: "\\0") }
}

/// Integral values without a fractional part (`-1`, not `-1.0`); others in Swift's shortest round-trip form.
func formatted(_ value: Double) -> String {
    if value.isFinite, value.rounded() == value, abs(value) < 1e15 {
        return String(Int(value))
    }
    return "\(value)"
}
