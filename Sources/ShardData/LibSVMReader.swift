import ShardNumerics

/// The text formats a data file may be in (a `.npy` array is told by its extension and read by `NumpyReader`).
public enum DataFormat: String, Sendable, CaseIterable {
    /// Delimited text with a header (`CSVReader`).
    case csv
    /// libsvm / svmlight sparse text (`LibSVMReader`).
    case libsvm

    /// `.svm` and `.libsvm` (also followed by `.gz`) are libsvm; everything else is CSV.
    public static func inferred(path: String) -> DataFormat {
        var name = path.lowercased()
        if name.hasSuffix(".gz") { name.removeLast(3) }
        return name.hasSuffix(".svm") || name.hasSuffix(".libsvm") ? .libsvm : .csv
    }
}

/// Reads libsvm / svmlight text (the format of LIBSVM, liblinear, Spark's `libsvm` source, Vowpal Wabbit's
/// converters) into dense rows.
///
/// ```text
/// line       label index:value index:value …   [# comment]      tokens separated by spaces or tabs
/// label      a decimal (read as a CSV field is: correctly rounded, finite)
/// index      a positive integer, 1-based, strictly increasing along the line; a missing index is the value 0
/// value      a decimal, finite
/// width D    the largest index in the file (or the width asked for, e.g. the training data's), at most
///            `maximumWidth`: row r is dense, features[r·D + (index − 1)] = value
/// names      features f1 … fD (after their index), label "label"; in later messages a feature's column number
///            is its index and the label's is 1
/// skipped    empty lines and lines holding only a comment (rows keep their file line numbers)
/// refused    qid: tokens (ranking groups), indices out of order or repeated, non-numbers; with path:line:column
/// ```
///
/// The file is read whole (a gzip file decompressed, as for CSV) and parsed on one thread; the values are held
/// sparsely (12 bytes a value) until the dense rows are built.
public enum LibSVMReader {
    /// The widest data accepted: a libsvm file is stored densely (rows × width × 8 bytes), so a wider file would be
    /// mostly zeros; reduce its features first.
    public static let maximumWidth = 1 << 16

    /// Reads the file at `path` (gzip decompressed). `width` fixes the number of features (an index beyond it is an
    /// error); nil: the largest index in the file.
    public static func read(
        path: String, width: Int? = nil, cancellation: ReadCancellation = .never, memory: MachineMemory = .current()
    ) throws(DataError) -> Dataset {
        let file = try ByteFile(path: path)
        let bytes =
            try Gzip.isCompressed(file)
            ? try Gzip.decompress(file, cancellation: cancellation, memory: memory)
            : try file.bytes(at: 0, count: file.size)
        return try parse(bytes: bytes, source: path, width: width, cancellation: cancellation, memory: memory)
    }

    /// Parses libsvm text; `source` names it in messages.
    public static func parse(
        bytes: [UInt8], source: String, width: Int? = nil, cancellation: ReadCancellation = .never,
        memory: MachineMemory = .current()
    ) throws(DataError) -> Dataset {
        let limit = width ?? maximumWidth
        var sparse = SparseRows()
        try bytes.withUnsafeBufferPointer { (buffer) throws(DataError) in
            var lineStart = buffer.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
            var line = 1
            while lineStart < buffer.count {
                if line % 65_536 == 0 { try cancellation.check(reading: source) }
                var lineEnd = lineStart
                while lineEnd < buffer.count, buffer[lineEnd] != UInt8(ascii: "\n") { lineEnd += 1 }
                let next = lineEnd + 1
                if lineEnd > lineStart, buffer[lineEnd - 1] == UInt8(ascii: "\r") { lineEnd -= 1 }
                try sparse.parseLine(
                    UnsafeBufferPointer(rebasing: buffer[lineStart..<lineEnd]), line: line, limit: limit,
                    widthGiven: width != nil, source: source)
                lineStart = next
                line += 1
            }
        }
        guard !sparse.labels.isEmpty else { throw .noDataRows(path: source) }
        let featureCount = width ?? sparse.largestIndex
        guard featureCount >= 1 else { throw .noFeatureColumns(path: source, labelName: "label") }
        if let shortfall = memory.shortfall(needing: CheckedSize.product([sparse.labels.count, featureCount + 1, 8])) {
            throw .tooLarge(
                source: source,
                detail: "\(sparse.labels.count) rows × \(featureCount) features read densely as float64 \(shortfall)")
        }
        return sparse.denseDataset(source: source, featureCount: featureCount)
    }
}

/// The rows of a libsvm file as read: per row its label, line and (index, value) pairs.
private struct SparseRows {
    var labels: [Double] = []
    var lines: [Int] = []
    /// Row r's pairs are `indices[rowEnds[r − 1] ..< rowEnds[r]]` (0-based feature columns).
    var rowEnds: [Int] = []
    var indices: [Int32] = []
    var values: [Double] = []
    var largestIndex = 0

    private static let space = UInt8(ascii: " "), tab = UInt8(ascii: "\t"), colon = UInt8(ascii: ":")

    /// Reads one line (without its line break); a line that is empty or only a comment adds no row.
    mutating func parseLine(
        _ text: UnsafeBufferPointer<UInt8>, line: Int, limit: Int, widthGiven: Bool, source: String
    ) throws(DataError) {
        let end = text.firstIndex(of: UInt8(ascii: "#")) ?? text.count
        func failure(at position: Int, _ detail: String) -> DataError {
            .invalidLibSVM(path: source, line: line, column: position + 1, detail: detail)
        }
        var position = 0
        /// The next token's range, or nil at the end of the line's content.
        func nextToken() -> Range<Int>? {
            while position < end, text[position] == Self.space || text[position] == Self.tab { position += 1 }
            guard position < end else { return nil }
            let start = position
            while position < end, text[position] != Self.space, text[position] != Self.tab { position += 1 }
            return start..<position
        }
        guard let labelToken = nextToken() else { return }
        let labelBytes = UnsafeBufferPointer(rebasing: text[labelToken])
        guard case .number(let label) = DecimalField.parse(labelBytes) else {
            let shown = String(decoding: labelBytes, as: UTF8.self)
            throw failure(at: labelToken.lowerBound, "the label \(quoted(shown)) is not a finite number")
        }
        var previous = 0
        while let token = nextToken() {
            let pair = UnsafeBufferPointer(rebasing: text[token])
            var shown: String { String(decoding: pair, as: UTF8.self) }
            guard let colon = pair.firstIndex(of: Self.colon) else {
                throw failure(at: token.lowerBound, "\(quoted(shown)) is not an index:value pair")
            }
            let indexText = UnsafeBufferPointer(rebasing: pair[..<colon])
            guard let index = Self.positiveInteger(indexText) else {
                if indexText.elementsEqual("qid".utf8) {
                    throw failure(at: token.lowerBound, "qid: (ranking groups) is not supported")
                }
                throw failure(at: token.lowerBound, "in \(quoted(shown)) the index is not a positive integer (indices are 1-based)")
            }
            guard index > previous else {
                throw failure(
                    at: token.lowerBound,
                    "index \(index) after index \(previous): indices must increase along a line")
            }
            guard index <= limit else {
                let reason =
                    widthGiven
                    ? "the data has \(limit) features" : "at most \(LibSVMReader.maximumWidth) features are read, "
                        + "because libsvm rows are stored densely (rows × features × 8 bytes); reduce the features first"
                throw failure(at: token.lowerBound, "feature index \(index) is too large: \(reason)")
            }
            let valueBytes = UnsafeBufferPointer(rebasing: pair[(colon + 1)...])
            guard case .number(let value) = DecimalField.parse(valueBytes) else {
                let valueText = String(decoding: valueBytes, as: UTF8.self)
                throw failure(
                    at: token.lowerBound + colon + 1, "the value \(quoted(valueText)) of index \(index) is not a finite number")
            }
            indices.append(Int32(index - 1))
            values.append(value)
            previous = index
        }
        largestIndex = max(largestIndex, previous)
        labels.append(label)
        lines.append(line)
        rowEnds.append(indices.count)
    }

    /// The value of a run of decimal digits when it is ≥ 1 (saturating at `Int.max`: any index that large is
    /// beyond every width), else nil.
    private static func positiveInteger(_ digits: UnsafeBufferPointer<UInt8>) -> Int? {
        guard !digits.isEmpty, digits.allSatisfy(isDigit) else { return nil }
        var value = 0
        for digit in digits {
            let (times10, overflow) = value.multipliedReportingOverflow(by: 10)
            if overflow { return Int.max }
            value = times10.addingReportingOverflow(Int(digit - UInt8(ascii: "0"))).overflow ? Int.max : times10 + Int(digit - UInt8(ascii: "0"))
        }
        return value >= 1 ? value : nil
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    /// The rows as dense features (zeros where an index is missing), chunked as the CSV reader chunks them.
    func denseDataset(source: String, featureCount: Int) -> Dataset {
        var features = FeatureRowsBuilder(
            columns: featureCount, chunkRows: BlockPlan.chunkRows(featureCount: featureCount, bytesPerValue: 8))
        var row = [Double](repeating: 0, count: featureCount)
        var start = 0
        for end in rowEnds {
            for entry in start..<end { row[Int(indices[entry])] = values[entry] }
            row.withUnsafeBufferPointer { features.append($0) }
            for entry in start..<end { row[Int(indices[entry])] = 0 }
            start = end
        }
        let consecutive = lines.last! - lines.first! + 1 == lines.count
        return Dataset(
            unchecked: source, featureNames: (1...featureCount).map { "f\($0)" }, labelName: "label",
            features: features.finish(), labels: labels,
            lineNumbers: consecutive ? LineNumbers(first: lines.first!, count: lines.count) : LineNumbers(lines),
            featureColumnNumbers: Array(1...featureCount), labelColumnNumber: 1)
    }
}
