/// The cells of a CSV that are not numbers: text (categories, string labels, ids) and missing cells, recorded
/// compactly beside the numeric matrix (whose slots for these cells hold NaN).
///
/// ```text
/// strings[k]          a distinct text, interned in order of first appearance (k = code)
/// cells[i]            (row, column, code): 0-based row and CSV column; code −1 for a missing cell
/// order               cells by row, then column: file order
/// ```
///
/// A piece records its own cells with piece-local rows and codes; `append(_:rowOffset:)` merges pieces in piece
/// order, so the merged table is the same for any piece size or thread count.
public struct TextCells: Sendable, Equatable {
    public struct Cell: Sendable, Equatable {
        public var row: Int
        public var column: Int32
        /// Index into `strings`, or −1 for a missing cell.
        public var code: Int32

        public var isMissing: Bool { code < 0 }
    }

    public private(set) var strings: [String] = []
    public private(set) var cells: [Cell] = []
    private var codes: [String: Int32] = [:]
    /// The verbatim column (an id column), one text per row as written, not interned (ids are mostly distinct).
    public private(set) var verbatim: [String] = []

    public init() {}

    public var isEmpty: Bool { cells.isEmpty && verbatim.isEmpty }

    mutating func appendVerbatim(_ text: String) { verbatim.append(text) }

    /// Records `field` at (`row`, `column`) if it is a missing cell or UTF-8 text (`DecimalField`'s `notANumber`);
    /// false for a refused number syntax (non-finite, hexadecimal, NUL) or bytes that are not UTF-8, which the caller
    /// reports.
    mutating func appendField(_ field: UnsafeBufferPointer<UInt8>, row: Int, column: Int) -> Bool {
        if field.count <= 4, MissingValue.isMissing(Array(field)) {
            appendMissing(row: row, column: column)
            return true
        }
        guard DecimalField.parse(field) == .notANumber, UTF8Text.firstInvalidOffset(field) == nil else { return false }
        append(row: row, column: column, text: String(decoding: field, as: UTF8.self))
        return true
    }

    /// Forgets the cells from index `start` on (a line the fast path gave up on is recorded again by the slow one).
    mutating func removeCells(from start: Int) {
        if cells.count > start { cells.removeSubrange(start...) }
    }

    mutating func append(row: Int, column: Int, field: [UInt8]) {
        append(row: row, column: column, text: String(decoding: field, as: UTF8.self))
    }

    mutating func append(row: Int, column: Int, text: String) {
        cells.append(Cell(row: row, column: Int32(column), code: intern(text)))
    }

    mutating func appendMissing(row: Int, column: Int) {
        cells.append(Cell(row: row, column: Int32(column), code: -1))
    }

    private mutating func intern(_ text: String) -> Int32 {
        if let code = codes[text] { return code }
        let code = Int32(strings.count)
        strings.append(text)
        codes[text] = code
        return code
    }

    /// Appends the cells of the next piece, whose rows start at `rowOffset`.
    mutating func append(_ piece: TextCells, rowOffset: Int) {
        verbatim += piece.verbatim
        var remapped: [Int32] = []
        remapped.reserveCapacity(piece.strings.count)
        for text in piece.strings { remapped.append(intern(text)) }
        cells.reserveCapacity(cells.count + piece.cells.count)
        for cell in piece.cells {
            cells.append(Cell(row: cell.row + rowOffset, column: cell.column, code: cell.isMissing ? -1 : remapped[Int(cell.code)]))
        }
    }

    /// The text of a cell (nil for a missing one).
    public func text(of cell: Cell) -> String? { cell.isMissing ? nil : strings[Int(cell.code)] }
}

/// Which cells count as missing: an empty field, and the usual spellings of "no value", in any letter case:
/// `NA`, `N/A`, `NaN`, `null`, `None`, and `?`.
public enum MissingValue {
    public static let spellings = ["", "NA", "N/A", "NaN", "null", "None", "?"]
    private static let folded: Set<[UInt8]> = Set(spellings.map { Array($0.lowercased().utf8) })

    public static func isMissing(_ field: [UInt8]) -> Bool {
        field.count <= 4 && folded.contains(field.map { $0 >= 65 && $0 <= 90 ? $0 | 0x20 : $0 })
    }

    public static func isMissing(_ text: String) -> Bool { isMissing(Array(text.utf8)) }
}

/// The text a number has as a category: integers without a fraction (`1`, `-3`, `0`), others in Swift's shortest
/// round-trip form (`2.5`, `1e-07`); so "1", "1.0" and "+1" are the same category, at training and predict time.
public enum CanonicalNumber {
    public static func text(_ value: Double) -> String {
        if value.rounded() == value, abs(value) < 1e15 { return String(Int(value)) }
        return "\(value)"
    }
}
