/// Reads numeric CSV files into a `Dataset`.
///
/// Format: a header line of column names, then one line per row; fields separated by `,`, no
/// quoting; lines end in `\n` or `\r\n`, and the last line may or may not end in a line break.
/// A UTF-8 byte-order mark before the header is skipped.
///
/// ```text
/// columns   c = 1...C (1-based, as in messages)
/// label     the column named `labelColumn`, or column C when nil
/// features  every other column, in file order  (featureCount = C − 1 ≥ 1)
/// values    decimals, correctly rounded (`DecimalField`: the value Swift's Double(field) gives, bit for bit);
///           NaN, ±inf and values beyond the finite range are rejected; hexadecimal and NUL bytes are refused;
///           magnitudes below the smallest subnormal read as ±0
/// ```
///
/// The reader is hand-written over the raw bytes: one pass to find lines, fields parsed in place.
public enum CSVReader {
    /// Reads the file at `path`. `labelColumn` names the label column (default: the last column).
    public static func read(path: String, labelColumn: String? = nil) throws(DataError) -> Dataset {
        let bytes = try readFileBytes(path: path)
        return try parse(bytes: bytes, source: path, labelColumn: labelColumn)
    }

    /// Parses CSV text; `source` names it in messages.
    public static func parse(text: String, source: String, labelColumn: String? = nil) throws(DataError)
        -> Dataset
    {
        try parse(bytes: Array(text.utf8), source: source, labelColumn: labelColumn)
    }

    /// Parses CSV bytes; `source` names them in messages.
    public static func parse(bytes: [UInt8], source: String, labelColumn: String? = nil) throws(DataError)
        -> Dataset
    {
        try bytes.withUnsafeBufferPointer { buffer throws(DataError) in
            try parse(buffer: buffer, source: source, labelColumn: labelColumn)
        }
    }

    private static let comma = UInt8(ascii: ","), newline = UInt8(ascii: "\n"), carriageReturn = UInt8(ascii: "\r")

    private static func parse(buffer: UnsafeBufferPointer<UInt8>, source: String, labelColumn: String?)
        throws(DataError) -> Dataset
    {
        var start = 0
        if buffer.count >= 3, buffer[0] == 0xEF, buffer[1] == 0xBB, buffer[2] == 0xBF { start = 3 }
        let isBlank = buffer[start...].allSatisfy {
            $0 == newline || $0 == carriageReturn || $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t")
        }
        guard !isBlank else { throw .emptyFile(path: source) }

        var lines = LineCursor(buffer: buffer, position: start)
        guard let headerRange = lines.next() else { throw .emptyFile(path: source) }
        let names = fields(of: headerRange, in: buffer).map {
            String(decoding: UnsafeBufferPointer(rebasing: buffer[$0]), as: UTF8.self)
        }
        var columnOfName: [String: Int] = [:]
        for (index, name) in names.enumerated() {
            guard !name.isEmpty else { throw .emptyColumnName(path: source, column: index + 1) }
            if let earlier = columnOfName[name] {
                throw .duplicateColumnName(path: source, name: name, firstColumn: earlier + 1, column: index + 1)
            }
            columnOfName[name] = index
        }
        let labelIndex: Int
        if let labelColumn {
            guard let index = columnOfName[labelColumn] else {
                throw .missingLabelColumn(path: source, name: labelColumn, availableColumns: names)
            }
            labelIndex = index
        } else {
            labelIndex = names.count - 1
        }
        let columnCount = names.count
        guard columnCount >= 2 else { throw .noFeatureColumns(path: source, labelName: names[labelIndex]) }
        let featureCount = columnCount - 1
        // featureSlot[c]: position of column c among the features, or −1 for the label column.
        let featureSlot = (0..<columnCount).map { $0 == labelIndex ? -1 : ($0 < labelIndex ? $0 : $0 - 1) }

        var features: [Double] = []
        var labels: [Double] = []
        var lineNumbers: [Int] = []
        let estimatedRows = buffer.count / max(1, headerRange.count)
        features.reserveCapacity(estimatedRows * featureCount)
        labels.reserveCapacity(estimatedRows)
        lineNumbers.reserveCapacity(estimatedRows)

        var lineNumber = 1
        while let lineRange = lines.next() {
            lineNumber += 1
            // Blank lines at the very end (editors often leave one) end the data; elsewhere they are errors.
            if lineRange.isEmpty,
                buffer[lineRange.upperBound...].allSatisfy({ $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") })
            {
                break
            }
            var fieldCount = lineRange.isEmpty ? 0 : 1
            for index in lineRange where buffer[index] == comma { fieldCount += 1 }
            guard fieldCount == columnCount else {
                throw .wrongFieldCount(path: source, line: lineNumber, expected: columnCount, found: fieldCount)
            }
            var fieldStart = lineRange.lowerBound
            for column in 0..<columnCount {
                var fieldEnd = fieldStart
                while fieldEnd < lineRange.upperBound, buffer[fieldEnd] != comma { fieldEnd += 1 }
                let field = UnsafeBufferPointer(rebasing: buffer[fieldStart..<fieldEnd])
                guard case .number(let value) = DecimalField.parse(field) else {
                    throw fieldError(field, path: source, line: lineNumber, column: column, names: names)
                }
                if featureSlot[column] < 0 { labels.append(value) } else { features.append(value) }
                fieldStart = fieldEnd + 1
            }
            lineNumbers.append(lineNumber)
        }
        guard !labels.isEmpty else { throw .noDataRows(path: source) }
        // The label column sits between features, so values were appended in file order already.
        return Dataset(
            unchecked: source, featureNames: names.enumerated().filter { $0.offset != labelIndex }.map(\.element),
            labelName: names[labelIndex], features: features, labels: labels, lineNumbers: lineNumbers,
            featureColumnNumbers: (0..<columnCount).filter { $0 != labelIndex }.map { $0 + 1 },
            labelColumnNumber: labelIndex + 1)
    }

    /// The error for a field that is not a finite number (`column` 0-based).
    static func fieldError(
        _ field: UnsafeBufferPointer<UInt8>, path: String, line: Int, column: Int, names: [String]
    ) -> DataError {
        let text = String(decoding: field, as: UTF8.self)
        let name = names[column]
        switch DecimalField.parse(field) {
        case .nonFinite:
            return .nonFiniteValue(path: path, line: line, column: column + 1, columnName: name, text: text)
        case .hexadecimal:
            return .unsupportedNumber(
                path: path, line: line, column: column + 1, columnName: name, text: text,
                reason: "hexadecimal numbers are not accepted; write decimals")
        case .nulByte:
            return .unsupportedNumber(
                path: path, line: line, column: column + 1, columnName: name,
                text: text.replacingNULs, reason: "the field holds a NUL byte (is this a binary or UTF-16 file?)")
        case .notANumber, .number:
            return .notANumber(path: path, line: line, column: column + 1, columnName: name, text: text)
        }
    }

    /// The byte ranges of the comma-separated fields of one line.
    private static func fields(of line: Range<Int>, in buffer: UnsafeBufferPointer<UInt8>) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var fieldStart = line.lowerBound
        for index in line where buffer[index] == comma {
            ranges.append(fieldStart..<index)
            fieldStart = index + 1
        }
        ranges.append(fieldStart..<line.upperBound)
        return ranges
    }

    /// Walks a buffer line by line, yielding each line without its `\n` or `\r\n`. A final line break
    /// does not start another (empty) line.
    private struct LineCursor {
        let buffer: UnsafeBufferPointer<UInt8>
        var position: Int

        mutating func next() -> Range<Int>? {
            guard position < buffer.count else { return nil }
            var end = position
            while end < buffer.count, buffer[end] != CSVReader.newline { end += 1 }
            let lineStart = position
            position = end + 1
            var contentEnd = end
            if contentEnd > lineStart, buffer[contentEnd - 1] == CSVReader.carriageReturn { contentEnd -= 1 }
            return lineStart..<contentEnd
        }
    }
}
