/// The header line of a CSV file: column names, the label column, and where the data rows begin.
struct CSVHeader {
    let names: [String]
    /// 0-based column of the label.
    let labelIndex: Int
    /// Byte offset of the first data line (after the header's line break).
    let bodyStart: Int
    let pieceBytes: Int

    var layout: CSVLayout {
        CSVLayout(columnCount: names.count, labelIndex: labelIndex, bodyStart: bodyStart, pieceBytes: pieceBytes)
    }

    /// Reads the header of `source`, skipping a UTF-8 byte-order mark, and checks the names.
    init(_ source: some ByteSource, labelColumn: String?, pieceBytes: Int) throws(DataError) {
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
        let names = content.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false).map {
            String(decoding: $0, as: UTF8.self)
        }
        var columnOfName: [String: Int] = [:]
        for (index, name) in names.enumerated() {
            guard !name.isEmpty else { throw .emptyColumnName(path: path, column: index + 1) }
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
        guard names.count >= 2 else { throw .noFeatureColumns(path: path, labelName: names[labelIndex]) }
        self.names = names
        self.bodyStart = next
        self.pieceBytes = pieceBytes
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

    /// The dataset of the rows read: features row-major without the label column, rows on lines 2, 3, ….
    func dataset(source: String, features: FeatureRows, labels: [Double]) throws(DataError) -> Dataset {
        guard !labels.isEmpty else { throw .noDataRows(path: source) }
        return Dataset(
            unchecked: source, featureNames: names.enumerated().filter { $0.offset != labelIndex }.map(\.element),
            labelName: names[labelIndex], features: features, labels: labels,
            lineNumbers: LineNumbers(first: 2, count: labels.count),
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
}
