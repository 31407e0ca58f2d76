/// The header line of a CSV file (or the names given to a file without one): column names, the label column, the
/// delimiter, and where the data rows begin.
struct CSVHeader {
    let names: [String]
    /// 0-based column of the label.
    let labelIndex: Int
    /// Byte offset of the first data line (after the header's line break; the first line without a header).
    let bodyStart: Int
    /// 1-based file line of the first data row: 2 after a header, 1 without.
    let firstDataLine: Int
    let delimiter: UInt8
    let pieceBytes: Int

    var layout: CSVLayout {
        CSVLayout(
            columnCount: names.count, labelIndex: labelIndex, bodyStart: bodyStart, pieceBytes: pieceBytes,
            delimiter: delimiter)
    }

    /// Reads the first line of `source`, skipping a UTF-8 byte-order mark, sniffs the delimiter (unless the dialect
    /// gives one) and checks the names.
    /// `requireFeatures`: a label and at least one other column (false: only the names are wanted).
    init(
        _ source: some ByteSource, labelColumn: String?, dialect: CSVDialect, pieceBytes: Int, requireFeatures: Bool = true
    ) throws(DataError) {
        let path = source.name
        let (line, start, next) = try Self.firstLine(of: source)
        let blankBytes: Set<UInt8> = [UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: " "), UInt8(ascii: "\t")]
        if line.allSatisfy(blankBytes.contains),
            try CSVReader.allBytes(of: source, from: start, blankBytes.contains)
        {
            throw .emptyFile(path: path)
        }
        var content = line[...]
        if content.last == UInt8(ascii: "\r") { content = content.dropLast() }
        // A UTF-16 file (Excel's "Unicode text") starts with its byte-order mark; every other byte is then NUL.
        // The first line starts at byte 0 unless a UTF-8 byte-order mark was skipped (then it is not UTF-16).
        if start == 0, let encoding = Self.utf16Encoding(of: Array(line.prefix(2))) {
            throw .schema(
                path: path, line: 1, column: nil, columnName: nil,
                detail: "the file is UTF-16 (\(encoding) byte-order mark), not UTF-8 text; convert it first: "
                    + "iconv -f UTF-16 -t UTF-8 \(path) > \(UTF8Text.convertedName(path))")
        }
        let delimiter = dialect.delimiter(for: content)
        let fields: [[UInt8]]
        switch CSVFields.split(content, delimiter: delimiter) {
        case .success(let split): fields = split
        case .failure(let failure):
            throw .malformedQuote(path: path, line: 1, column: failure.column + 1, columnName: nil, reason: failure.reason)
        }
        let names: [String]
        if dialect.hasHeader {
            if let column = fields.firstIndex(where: { UTF8Text.firstInvalidOffset($0) != nil }) {
                throw .schema(path: path, line: 1, column: column + 1, columnName: nil, detail: UTF8Text.detail(fields[column], path: path))
            }
            names = fields.map { String(decoding: $0, as: UTF8.self) }
            if fields.allSatisfy({ $0.withUnsafeBufferPointer { DecimalField.parse($0) }.isNumber }) {
                throw .numericHeader(path: path, fields: names)
            }
        } else if let given = dialect.columnNames {
            guard given.count == fields.count else {
                throw .wrongFieldCount(path: path, line: 1, expected: given.count, found: fields.count)
            }
            names = given
        } else {
            names = Self.generatedNames(columns: fields.count)
        }
        var columnOfName: [String: Int] = [:]
        for (index, name) in names.enumerated() {
            guard !name.isEmpty else { throw .emptyColumnName(path: path, column: index + 1, columns: names.count) }
            if let earlier = columnOfName[name] {
                throw .duplicateColumnName(path: path, name: name, firstColumn: earlier + 1, column: index + 1)
            }
            columnOfName[name] = index
        }
        if let labelColumn {
            guard let index = columnOfName[labelColumn] else {
                throw .missingLabelColumn(path: path, name: labelColumn, availableColumns: names)
            }
            labelIndex = index
        } else {
            labelIndex = names.count - 1
        }
        guard names.count >= 2 || !requireFeatures else { throw .noFeatureColumns(path: path, labelName: names[labelIndex]) }
        self.names = names
        self.bodyStart = dialect.hasHeader ? next : start
        self.firstDataLine = dialect.hasHeader ? 2 : 1
        self.delimiter = delimiter
        self.pieceBytes = pieceBytes
    }

    /// The names of a file without a header: `f0 … f(columns−2)` and `label` for the last column.
    static func generatedNames(columns: Int) -> [String] {
        (0..<max(0, columns - 1)).map { "f\($0)" } + ["label"]
    }

    /// The first line's bytes without its `\n`, the offset it starts at (after a byte-order mark) and the offset
    /// of the next line.
    private static func firstLine(of source: some ByteSource) throws(DataError) -> ([UInt8], Int, Int) {
        var bytes: [UInt8] = []
        var position = 0
        var start = 0
        while true {
            let chunk = try source.bytes(at: position, count: 1 << 16)
            if position == 0, chunk.starts(with: [0xEF, 0xBB, 0xBF]) { start = 3 }
            let scanFrom = position == 0 ? start : 0
            if let newline = chunk[scanFrom...].firstIndex(of: UInt8(ascii: "\n")) {
                bytes += chunk[scanFrom..<newline]
                return (bytes, start, position + newline + 1)
            }
            bytes += chunk[scanFrom...]
            position += chunk.count
            if chunk.isEmpty { return (bytes, start, position) }
        }
    }

    /// The dataset of the rows read: features row-major without the label column, rows on consecutive lines from
    /// `firstDataLine`.
    func dataset(source: String, features: FeatureRows, labels: [Double]) throws(DataError) -> Dataset {
        guard !labels.isEmpty else { throw .noDataRows(path: source) }
        return Dataset(
            unchecked: source, featureNames: names.enumerated().filter { $0.offset != labelIndex }.map(\.element),
            labelName: names[labelIndex], features: features, labels: labels,
            lineNumbers: LineNumbers(first: firstDataLine, count: labels.count),
            featureColumnNumbers: (0..<names.count).filter { $0 != labelIndex }.map { $0 + 1 },
            labelColumnNumber: labelIndex + 1)
    }
}

/// What a piece needs to know about the columns.
struct CSVLayout: Sendable {
    let columnCount: Int
    let labelIndex: Int
    let bodyStart: Int
    let pieceBytes: Int
    let delimiter: UInt8
    /// Whether fields that are not numbers are recorded (`TextCells`) rather than refused.
    var acceptsText = false
    /// A column recorded as text even when it reads as a number (an id column, passed through as written); -1: none.
    var verbatimColumn = -1
}

extension CSVHeader {
    /// "little-endian" or "big-endian" when `bytes` begin with a UTF-16 byte-order mark (FF FE or FE FF).
    static func utf16Encoding(of bytes: [UInt8]) -> String? {
        guard bytes.count >= 2 else { return nil }
        switch (bytes[0], bytes[1]) {
        case (0xFF, 0xFE): return "little-endian"
        case (0xFE, 0xFF): return "big-endian"
        default: return nil
        }
    }
}
