#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import ShardNumerics

/// Reads numeric CSV files into a `Dataset`.
///
/// Format: a header line of column names (or none, with `CSVDialect.hasHeader` false), then one line per row;
/// fields separated by `,`, tab or `;` (sniffed from the first line, or given: `CSVDialect`), optionally in RFC 4180
/// double quotes that end on their line; lines end in `\n` or `\r\n`, and the last line may or may not end in a line
/// break. A UTF-8 byte-order mark before the header is skipped. A gzip file (by its magic bytes `1f 8b`) is
/// decompressed into memory first (`Gzip`), and its lines are numbered as in the decompressed text.
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
/// The body is read in pieces of `defaultPieceBytes` (`CSVPiece`), a wave of `threads × piecesPerThread` pieces at a
/// time, parsed on `threads` threads and appended in file order to chunks of `BlockPlan.chunkRows` rows (the
/// default block size of wide data, so that blocks share the chunks); so at most one wave of file bytes and of
/// parsed pieces is in memory besides the values. Rows keep file order, and the first error in file order is the one reported,
/// whichever thread found it: waves run in order and a piece stops at its first bad line. Within a piece, runs of
/// lines holding only numbers are read by one C call each (`DecimalField.parseNumberRows`), the other lines field by
/// field (`CSVPiece`); both read a number to the same bits.
public enum CSVReader {
    /// Bytes per piece (a piece owns the lines that start inside it).
    public static let defaultPieceBytes = 2 << 20
    static let piecesPerThread = 4

    /// Reads the file at `path` on `threads` threads (nil: one per core). `labelColumn` names the label
    /// column (default: the last column). `cancellation` is asked before each piece: once it says yes, the pieces
    /// not yet started are skipped and the read ends with `.interrupted` within one piece's parse per thread. The
    /// feature chunks go into `arena` when given (see `FeatureRows`).
    public static func read(
        path: String, labelColumn: String? = nil, dialect: CSVDialect = CSVDialect(), threads: Int? = nil,
        cancellation: ReadCancellation = .never, arena: SharedArena? = nil
    ) throws(DataError) -> Dataset {
        let file = try ByteFile(path: path)
        let threads = threads ?? ThreadCount.availableCores
        if try Gzip.isCompressed(file) {
            let text = try Gzip.decompress(file, cancellation: cancellation)
            try file.checkUnchanged()
            return try read(
                ByteArray(name: path, bytes: text), labelColumn: labelColumn, dialect: dialect, threads: threads,
                cancellation: cancellation, arena: arena)
        }
        return try read(
            file, labelColumn: labelColumn, dialect: dialect, threads: threads, cancellation: cancellation, arena: arena)
    }

    /// Parses CSV text; `source` names it in messages.
    public static func parse(
        text: String, source: String, labelColumn: String? = nil, dialect: CSVDialect = CSVDialect()
    ) throws(DataError) -> Dataset {
        try parse(bytes: Array(text.utf8), source: source, labelColumn: labelColumn, dialect: dialect)
    }

    /// Parses CSV bytes; `source` names them in messages. `threads` and `pieceBytes` change how the work is
    /// split, never the result; `memory` is what the estimated dataset is checked against.
    public static func parse(
        bytes: [UInt8], source: String, labelColumn: String? = nil, dialect: CSVDialect = CSVDialect(),
        threads: Int = 1, pieceBytes: Int = defaultPieceBytes, cancellation: ReadCancellation = .never,
        memory: MachineMemory = .current()
    ) throws(DataError) -> Dataset {
        try read(
            ByteArray(name: source, bytes: bytes), labelColumn: labelColumn, dialect: dialect, threads: threads,
            pieceBytes: pieceBytes, cancellation: cancellation, memory: memory)
    }

    /// Reads the file at `path` as a table whose cells may be text or missing (see `CSVTable`); `verbatimColumn`
    /// names a column kept as written (an id column); the feature chunks go into `arena` when given (see
    /// `FeatureRows`). Otherwise as `read(path:…)`.
    public static func readTable(
        path: String, labelColumn: String? = nil, dialect: CSVDialect = CSVDialect(), verbatimColumn: String? = nil,
        threads: Int? = nil, cancellation: ReadCancellation = .never, arena: SharedArena? = nil
    ) throws(DataError) -> CSVTable {
        let file = try ByteFile(path: path)
        let threads = threads ?? ThreadCount.availableCores
        let text = TextReading(verbatimColumn: verbatimColumn)
        if try Gzip.isCompressed(file) {
            let bytes = try Gzip.decompress(file, cancellation: cancellation)
            try file.checkUnchanged()
            return try readTable(
                ByteArray(name: path, bytes: bytes), labelColumn: labelColumn, dialect: dialect, threads: threads,
                cancellation: cancellation, text: text, arena: arena)
        }
        return try readTable(
            file, labelColumn: labelColumn, dialect: dialect, threads: threads, cancellation: cancellation, text: text,
            arena: arena)
    }

    /// `readTable(path:…)` of CSV bytes; `source` names them in messages.
    public static func parseTable(
        bytes: [UInt8], source: String, labelColumn: String? = nil, dialect: CSVDialect = CSVDialect(),
        verbatimColumn: String? = nil, threads: Int = 1, pieceBytes: Int = defaultPieceBytes
    ) throws(DataError) -> CSVTable {
        try readTable(
            ByteArray(name: source, bytes: bytes), labelColumn: labelColumn, dialect: dialect, threads: threads,
            pieceBytes: pieceBytes, cancellation: .never, text: TextReading(verbatimColumn: verbatimColumn))
    }

    /// The column names of CSV text as the reader would name them (its header line, or generated without one), and
    /// the delimiter it would use.
    public static func columns(bytes: [UInt8], source: String, dialect: CSVDialect = CSVDialect()) throws(DataError)
        -> (names: [String], delimiter: UInt8)
    {
        let header = try CSVHeader(
            ByteArray(name: source, bytes: bytes), labelColumn: nil, dialect: dialect, pieceBytes: defaultPieceBytes,
            requireFeatures: false)
        return (header.names, header.delimiter)
    }

    /// After the first wave, the rows of the whole file are estimated from its bytes per row; a dataset of that
    /// many rows × columns Doubles beyond `memory` stops the read there (`.tooLarge`).
    static func read(
        _ source: some ByteSource, labelColumn: String?, dialect: CSVDialect, threads: Int,
        pieceBytes: Int = defaultPieceBytes, cancellation: ReadCancellation, memory: MachineMemory = .current(),
        arena: SharedArena? = nil
    ) throws(DataError) -> Dataset {
        try readTable(
            source, labelColumn: labelColumn, dialect: dialect, threads: threads, pieceBytes: pieceBytes,
            cancellation: cancellation, memory: memory, text: nil, arena: arena
        ).raw
    }

    /// The rows of `source` with text cells recorded when `text` is given (else every field must be a number).
    static func readTable(
        _ source: some ByteSource, labelColumn: String?, dialect: CSVDialect, threads: Int,
        pieceBytes: Int = defaultPieceBytes, cancellation: ReadCancellation, memory: MachineMemory = .current(),
        text: TextReading?, arena: SharedArena? = nil
    ) throws(DataError) -> CSVTable {
        let pieceBytes = max(1, pieceBytes)
        let header = try CSVHeader(source, labelColumn: labelColumn, dialect: dialect, pieceBytes: pieceBytes)
        var textLayout = header.layout
        if let text {
            textLayout.acceptsText = true
            textLayout.verbatimColumn = text.verbatimColumn.flatMap(header.names.firstIndex(of:)) ?? -1
        }
        let layout = textLayout
        let columns = header.names.count
        let pieceCount = (source.size - header.bodyStart + pieceBytes - 1) / pieceBytes
        let wave = max(1, threads) * piecesPerThread
        var features = FeatureRowsBuilder(
            columns: columns - 1, chunkRows: BlockPlan.chunkRows(featureCount: columns - 1, bytesPerValue: 8), arena: arena)
        var labels: [Double] = []
        var cells = TextCells()
        var firstPiece = 0
        let windows = WindowPool()
        while firstPiece < pieceCount {
            let pieces = min(wave, pieceCount - firstPiece)
            let start = firstPiece
            let parsed = ParallelBlocks.map(count: pieces, threads: max(1, threads)) { index in
                CSVPiece.parse(source, index: start + index, layout: layout, cancellation: cancellation, windows: windows)
            }
            if labels.isEmpty {
                // Reserve for the whole file from the first wave's bytes per row (a quarter more for safety;
                // reserved but untouched capacity costs address space, not memory).
                let rows = parsed.reduce(0) { $0 + $1.rowCount }
                let bytes = min(source.size - header.bodyStart, pieces * pieceBytes)
                let fileRows = rows == 0 ? 0 : (source.size - header.bodyStart) / max(1, bytes / rows)
                if let shortfall = memory.shortfall(needing: CheckedSize.product([fileRows, columns, 8])) {
                    throw .tooLarge(
                        source: source.name,
                        detail: "about \(fileRows) rows × \(columns) columns (estimated from the first \(rows) rows) "
                            + "read as float64 \(shortfall)")
                }
                labels.reserveCapacity(fileRows * 5 / 4 + rows)
            }
            // The pieces up to the first one with a bad line (whose rows before that line count) join the table.
            let failing = parsed.firstIndex { $0.failure != nil }
            let joining = parsed[...(failing ?? parsed.count - 1)]
            features.append(joining.map(\.features), threads: threads)
            for piece in joining {
                if !piece.text.isEmpty { cells.append(piece.text, rowOffset: labels.count) }
                labels += piece.labels
            }
            if let failing, let failure = parsed[failing].failure {
                let line = labels.count + header.firstDataLine
                // A file changed while it was read fails as such, not as the bad line the change made.
                try source.checkUnchanged()
                if case .emptyLine(let offset) = failure, try isBlank(source, from: offset) {
                    // Blank lines at the very end (editors often leave one) end the data.
                    return CSVTable(
                        header: header,
                        raw: try header.dataset(source: source.name, features: features.finish(), labels: labels),
                        text: cells, verbatimColumn: layout.verbatimColumn < 0 ? nil : layout.verbatimColumn)
                }
                throw failure.error(path: source.name, line: line, header: header)
            }
            firstPiece += pieces
        }
        try source.checkUnchanged()
        return CSVTable(
            header: header, raw: try header.dataset(source: source.name, features: features.finish(), labels: labels),
            text: cells, verbatimColumn: layout.verbatimColumn < 0 ? nil : layout.verbatimColumn)
    }

    /// Whether every byte from `offset` to the end of `source` is `\n` or `\r`.
    static func isBlank(_ source: some ByteSource, from offset: Int) throws(DataError) -> Bool {
        try allBytes(of: source, from: offset) { $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") }
    }

    /// Whether every byte from `offset` on satisfies `test` (read in chunks of 64 KiB).
    static func allBytes(of source: some ByteSource, from offset: Int, _ test: (UInt8) -> Bool) throws(DataError)
        -> Bool
    {
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
        defer { chunk.deallocate() }
        var position = offset
        while true {
            let count = try source.read(into: chunk, at: position)
            if count == 0 { return true }
            if !UnsafeRawBufferPointer(rebasing: chunk[0..<count]).allSatisfy(test) { return false }
            position += count
        }
    }

    /// The error for a field that is not a finite number, or text that is not UTF-8 (`column` 0-based).
    static func fieldError(
        _ field: UnsafeBufferPointer<UInt8>, path: String, line: Int, column: Int, names: [String]
    ) -> DataError {
        let name = names[column]
        if UTF8Text.firstInvalidOffset(field) != nil, DecimalField.parse(field) != .nulByte {
            return .schema(path: path, line: line, column: column + 1, columnName: name, detail: UTF8Text.detail(field, path: path))
        }
        let text = String(decoding: field, as: UTF8.self)
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
}
