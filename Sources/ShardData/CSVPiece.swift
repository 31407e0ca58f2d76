#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import Synchronization

/// The rows of one piece of a CSV body, parsed independently of every other piece.
///
/// ```text
/// piece k     nominal bytes [s_k, e_k),  s_k = bodyStart + k·pieceBytes,  e_k = min(s_k + pieceBytes, size)
/// its lines   the lines that start in [s_k, e_k)   (a line starts at bodyStart or after a '\n')
/// read        [s_k − 1, e_k), extended to the '\n' ending the line that straddles e_k
/// ```
///
/// So every line belongs to exactly one piece, and concatenating the pieces' rows in k order gives the file's
/// rows in order. A piece stops at its first bad line (`failure`); its rows before that line are kept.
struct CSVPiece: Sendable {
    /// Row-major features of the rows parsed (label column left out).
    private(set) var features: [Double] = []
    private(set) var labels: [Double] = []
    /// The first bad line, at row `rowCount` of the piece.
    private(set) var failure: Failure?
    /// The fields that are not numbers (when the layout accepts text): their value slots hold NaN.
    private(set) var text = TextCells()

    var rowCount: Int { labels.count }

    /// Why a line could not be read.
    enum Failure: Sendable {
        /// An empty line starting at byte `offset` of the file (ends the data if only line breaks follow).
        case emptyLine(offset: Int)
        case fieldCount(found: Int)
        /// The bytes of the first field (0-based `column`) that is not a finite number.
        case field(column: Int, bytes: [UInt8])
        case quote(CSVFields.QuoteFailure)
        case read(DataError)

        /// The error at 1-based file `line`.
        func error(path: String, line: Int, header: CSVHeader) -> DataError {
            let columns = header.names.count
            switch self {
            case .emptyLine: return .wrongFieldCount(path: path, line: line, expected: columns, found: 0)
            case .fieldCount(let found): return .wrongFieldCount(path: path, line: line, expected: columns, found: found)
            case .field(let column, let bytes):
                return bytes.withUnsafeBufferPointer {
                    CSVReader.fieldError($0, path: path, line: line, column: column, names: header.names)
                }
            case .quote(let failure):
                return .malformedQuote(
                    path: path, line: line, column: failure.column + 1,
                    columnName: failure.column < columns ? header.names[failure.column] : nil, reason: failure.reason)
            case .read(let error): return error
            }
        }
    }

    private static let newline = UInt8(ascii: "\n"), carriageReturn = UInt8(ascii: "\r")

    /// Reads and parses piece `index` of `source` (its bytes read into a buffer of `windows`); a piece whose read is
    /// cancelled fails with `.interrupted` before reading.
    static func parse(
        _ source: some ByteSource, index: Int, layout: CSVLayout, cancellation: ReadCancellation,
        windows: WindowPool
    ) -> CSVPiece {
        let nominalStart = layout.bodyStart + index * layout.pieceBytes
        let nominalEnd = min(nominalStart + layout.pieceBytes, source.size)
        let readStart = index == 0 ? layout.bodyStart : nominalStart - 1
        var window = Window(bytes: windows.take(byteCount: nominalEnd - readStart + Window.step))
        defer { windows.give(back: window.bytes) }
        var piece = CSVPiece()
        do {
            try cancellation.check(reading: source.name)
            window.count = try source.read(
                into: UnsafeMutableRawBufferPointer(rebasing: window.bytes[0..<nominalEnd - readStart]), at: readStart)
            var start = 0
            if index > 0 {
                // The line running into this piece belongs to the previous one.
                guard let newline = window.firstNewline(from: 0), newline + 1 < window.count else { return piece }
                start = newline + 1
            }
            try window.extendToLineEnd(source, at: readStart, fileSize: source.size)
            piece.parseLines(window.buffer, from: start, fileOffset: readStart, layout: layout)
        } catch {
            piece.failure = .read(error)
        }
        return piece
    }

    /// Parses the lines of `buffer[start...]`, stopping at the first bad one.
    private mutating func parseLines(
        _ buffer: UnsafeBufferPointer<UInt8>, from start: Int, fileOffset: Int, layout: CSVLayout
    ) {
        let columns = layout.columnCount, featureCount = columns - 1
        // A row takes at least 2·columns − 1 bytes (a digit per field, the delimiters), or columns − 1 when fields
        // may be empty (missing cells, with text accepted); its line break aside.
        let minimumRowBytes = layout.acceptsText ? max(1, columns - 1) : 2 * columns - 1
        let maximumRows = (buffer.count - start) / minimumRowBytes + 1
        var rows = 0
        var failure: Failure?
        features = [Double](unsafeUninitializedCapacity: maximumRows * featureCount) { featureBuffer, featureTotal in
            labels = [Double](unsafeUninitializedCapacity: maximumRows) { labelBuffer, labelTotal in
                (rows, failure) = Self.parseLines(
                    buffer, from: start, fileOffset: fileOffset, layout: layout, features: featureBuffer.baseAddress!,
                    labels: labelBuffer.baseAddress!, capacity: maximumRows, text: &text)
                labelTotal = rows
            }
            featureTotal = rows * featureCount
        }
        self.failure = failure
    }

    /// Lines the row parser could not read in a row before the piece stops asking it for a while (text-heavy data).
    private static let rowParserBackoff = 32

    /// The hot loop: returns the number of rows written (at most `capacity`) and the first bad line.
    ///
    /// Runs of lines holding only numbers are read by `DecimalField.parseNumberRows` (one C call for many lines);
    /// the line it stops at, and every line when a column is kept verbatim, is read here field by field. Both give
    /// the same values for a line of numbers, so where one hands over to the other never shows in the result.
    private static func parseLines(
        _ buffer: UnsafeBufferPointer<UInt8>, from start: Int, fileOffset: Int, layout: CSVLayout,
        features: UnsafeMutablePointer<Double>, labels: UnsafeMutablePointer<Double>, capacity: Int,
        text: inout TextCells
    ) -> (Int, Failure?) {
        let base = buffer.baseAddress!
        let end = base + buffer.count
        let columns = layout.columnCount, labelIndex = layout.labelIndex, lastColumn = columns - 1
        let delimiter = layout.delimiter, verbatimColumn = layout.verbatimColumn, acceptsText = layout.acceptsText
        var featureOut = features
        var rows = 0
        var line = base + start
        // The row at which the row parser is asked next (never, for a verbatim column or an unusual delimiter).
        var rowParserFrom = verbatimColumn < 0 && DecimalField.acceptsAsRowDelimiter(delimiter) ? 0 : Int.max
        while line < end {
            if rows >= rowParserFrom {
                let read = DecimalField.parseNumberRows(
                    from: &line, end: end, delimiter: delimiter, columns: columns, labelIndex: labelIndex,
                    features: featureOut, labels: labels + rows, maximumRows: capacity - rows)
                rows += read
                featureOut += read * (columns - 1)
                if read == 0 { rowParserFrom = rows + rowParserBackoff }
                if line == end { break }
            }
            let lineBreak = memchr(line, Int32(newline), end - line).map {
                UnsafePointer($0.assumingMemoryBound(to: UInt8.self))
            }
            var lineEnd = lineBreak ?? end
            if lineEnd > line, lineEnd[-1] == carriageReturn { lineEnd -= 1 }
            if lineEnd == line { return (rows, .emptyLine(offset: fileOffset + (line - base))) }
            var field = line
            var valid = true
            var verbatim: String?
            let cellsBefore = text.cells.count
            for column in 0..<columns {
                var value = Double.nan
                var stop: UnsafePointer<UInt8>?
                if column == verbatimColumn {
                    // Kept as written, up to the delimiter (a quoted field takes the slow path); NaN in its slot.
                    stop = textField(field, lineEnd: lineEnd, last: column == lastColumn, delimiter: delimiter)
                    if let end = stop {
                        let bytes = UnsafeBufferPointer(start: field, count: end - field)
                        if UTF8Text.firstInvalidOffset(bytes) == nil {
                            verbatim = String(decoding: bytes, as: UTF8.self)
                        } else {
                            stop = nil  // the slow path reports it
                        }
                    }
                } else {
                    stop = DecimalField.parsePrefix(field, lineEnd, &value)
                    if stop == nil, field < lineEnd, field.pointee == CSVFields.quote {
                        // A quoted number, "1.5": the same digits read the same way, then the closing quote.
                        stop = DecimalField.parsePrefix(field + 1, lineEnd, &value).flatMap {
                            $0 < lineEnd && $0.pointee == CSVFields.quote ? $0 + 1 : nil
                        }
                    }
                    let isNumber = stop.map { value.isFinite && (column == lastColumn ? $0 == lineEnd : $0 < lineEnd && $0.pointee == delimiter) } ?? false
                    if !isNumber {
                        // Text or a missing cell, unquoted, when the layout accepts text: recorded here (NaN in its
                        // slot); anything else (a quote, a refused number, a wrong field count) takes the slow path.
                        stop = acceptsText ? textField(field, lineEnd: lineEnd, last: column == lastColumn, delimiter: delimiter).flatMap {
                            text.appendField(UnsafeBufferPointer(start: field, count: $0 - field), row: rows, column: column) ? $0 : nil
                        } : nil
                        value = .nan
                    }
                }
                // `stop` is now the field's end: the line's end for the last column, else its delimiter.
                guard let stop else {
                    valid = false
                    break
                }
                if column != lastColumn { field = stop + 1 }
                if column == labelIndex {
                    labels[rows] = value
                } else {
                    featureOut.pointee = value
                    featureOut += 1
                }
            }
            if !valid {
                featureOut = features + rows * (columns - 1)
                text.removeCells(from: cellsBefore)
                if let failure = slowLine(UnsafeBufferPointer(start: line, count: lineEnd - line), layout: layout,
                    features: featureOut, label: labels + rows, row: rows, text: &text)
                {
                    return (rows, failure)
                }
                featureOut += columns - 1
            } else if let verbatim {
                text.appendVerbatim(verbatim)
            }
            rows += 1
            guard let lineBreak else { break }
            line = lineBreak + 1
        }
        return (rows, nil)
    }

    /// The end of the unquoted field at `field` (its delimiter, or the line's end for the last column); nil for a
    /// quoted field or a missing delimiter (the slow path reads and judges those).
    @inline(__always)
    private static func textField(
        _ field: UnsafePointer<UInt8>, lineEnd: UnsafePointer<UInt8>, last: Bool, delimiter: UInt8
    ) -> UnsafePointer<UInt8>? {
        guard field == lineEnd || field.pointee != CSVFields.quote else { return nil }
        if last { return memchr(field, Int32(delimiter), lineEnd - field) == nil ? lineEnd : nil }
        return memchr(field, Int32(delimiter), lineEnd - field).map { UnsafePointer($0.assumingMemoryBound(to: UInt8.self)) }
    }

    /// A line the fast path could not read (a quoted field, text, or an error), checked in the reader's order: the
    /// quotes, the field count, then each field left to right. Writes the row and returns nil if it is valid after all.
    /// When the layout accepts text, a missing cell (`MissingValue`) or a field that is not a number (not a refused
    /// number syntax either) is recorded in `text` at `row` with NaN in its slot; the `verbatimColumn` is kept as
    /// written (`TextCells.verbatim`), NaN in its slot.
    private static func slowLine(
        _ line: UnsafeBufferPointer<UInt8>, layout: CSVLayout, features: UnsafeMutablePointer<Double>,
        label: UnsafeMutablePointer<Double>, row: Int, text: inout TextCells
    ) -> Failure? {
        let fields: [[UInt8]]
        switch CSVFields.split(line, delimiter: layout.delimiter) {
        case .success(let split): fields = split
        case .failure(let failure): return .quote(failure)
        }
        guard fields.count == layout.columnCount else { return .fieldCount(found: fields.count) }
        var featureOut = features
        for (column, field) in fields.enumerated() {
            var value = Double.nan
            let outcome = field.withUnsafeBufferPointer { DecimalField.parse($0) }
            if layout.acceptsText, column == layout.verbatimColumn || outcome == .notANumber,
                UTF8Text.firstInvalidOffset(field) != nil
            {
                return .field(column: column, bytes: field)
            } else if layout.acceptsText, column == layout.verbatimColumn {
                text.appendVerbatim(String(decoding: field, as: UTF8.self))
            } else if case .number(let number) = outcome {
                value = number
            } else if layout.acceptsText, MissingValue.isMissing(field) {
                text.appendMissing(row: row, column: column)
            } else if layout.acceptsText, outcome == .notANumber {
                text.append(row: row, column: column, field: field)
            } else {
                return .field(column: column, bytes: field)
            }
            if column == layout.labelIndex {
                label.pointee = value
            } else {
                featureOut.pointee = value
                featureOut += 1
            }
        }
        return nil
    }
}

/// Buffers for the pieces' bytes, kept between pieces: the pieces of a read take and give back a few (one per thread
/// at a time) instead of each allocating 2 MiB that the system must map and zero-fill anew.
final class WindowPool: Sendable {
    /// A buffer held by the pool or by one piece at a time, never both: passing it between threads is safe.
    private struct Buffer: @unchecked Sendable {
        let bytes: UnsafeMutableRawBufferPointer
    }

    private let free = Mutex<[Buffer]>([])

    init() {}

    deinit { free.withLock { buffers in buffers.forEach { $0.bytes.deallocate() } } }

    /// A buffer of at least `byteCount` bytes (a kept one if one is large enough).
    func take(byteCount: Int) -> UnsafeMutableRawBufferPointer {
        let kept = free.withLock { buffers in
            buffers.firstIndex { $0.bytes.count >= byteCount }.map { buffers.remove(at: $0) }
        }
        return kept?.bytes ?? .allocate(byteCount: max(byteCount, 1), alignment: 16)
    }

    func give(back bytes: UnsafeMutableRawBufferPointer) {
        let buffer = Buffer(bytes: bytes)
        free.withLock { $0.append(buffer) }
    }
}

/// A piece's bytes, in a buffer of a `WindowPool`.
private struct Window {
    /// Bytes read at a time past the nominal end of a piece (a buffer has this much room beyond it).
    static let step = 1 << 16

    private(set) var bytes: UnsafeMutableRawBufferPointer
    var count = 0

    init(bytes: UnsafeMutableRawBufferPointer) { self.bytes = bytes }

    var buffer: UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), count: count)
    }

    func firstNewline(from offset: Int) -> Int? {
        guard offset < count else { return nil }
        let found = memchr(bytes.baseAddress! + offset, Int32(UInt8(ascii: "\n")), count - offset)
        return found.map { $0 - UnsafeMutableRawPointer(bytes.baseAddress!) }
    }

    /// Reads on past the nominal end until the line that straddles it ends (or the source does).
    mutating func extendToLineEnd(_ source: some ByteSource, at readStart: Int, fileSize: Int) throws(DataError) {
        while count > 0, buffer[count - 1] != UInt8(ascii: "\n"), readStart + count < fileSize {
            let step = Self.step
            if count + step > bytes.count {
                let larger = UnsafeMutableRawBufferPointer.allocate(byteCount: 2 * bytes.count + step, alignment: 16)
                larger.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[0..<count]))
                bytes.deallocate()
                bytes = larger
            }
            let scanFrom = count
            let read = try source.read(
                into: UnsafeMutableRawBufferPointer(rebasing: bytes[count..<count + step]), at: readStart + count)
            count += read
            if read == 0 { return }
            if let newline = firstNewline(from: scanFrom) {
                count = newline + 1
                return
            }
        }
    }
}
