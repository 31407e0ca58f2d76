/// How `CSVReader.readTable` treats fields that are not numbers: recorded, and `verbatimColumn` always as written.
struct TextReading: Sendable {
    var verbatimColumn: String?
}

/// A CSV read with its text and missing cells (`CSVReader.readTable`), before a `TableSchema` makes features of it.
///
/// ```text
/// raw.features[r, j]   CSV column j (the label left out, file order) of row r, NaN where `text` has a cell
/// raw.labels[r]        the label column, NaN where `text` has a cell
/// text                 the cells that are not numbers: texts and missing cells (`MissingValue`), in file order
/// ```
public struct CSVTable: Sendable {
    let header: CSVHeader
    let raw: Dataset
    public let text: TextCells
    /// The column read as written (`TextCells.verbatim`), 0-based.
    let verbatimColumn: Int?

    public var columnNames: [String] { header.names }
    public var labelIndex: Int { header.labelIndex }
    public var labelName: String { header.names[header.labelIndex] }
    public var rowCount: Int { raw.rowCount }
    public var sourcePath: String { raw.sourcePath }
    public var lineNumbers: LineNumbers { raw.lineNumbers }

    /// The position of CSV column `column` (0-based, not the label) among the raw features.
    func rawFeature(ofColumn column: Int) -> Int { column < header.labelIndex ? column : column - 1 }

    /// The value of CSV column `column` (0-based) in row `row`: the label, or a raw feature (NaN for a text cell).
    func value(row: Int, column: Int) -> Double {
        column == header.labelIndex ? raw.labels[row] : raw.features[row * raw.featureCount + rawFeature(ofColumn: column)]
    }

    /// Per CSV column: its text cells (not missing), its missing cells, and the first text cell.
    func cellCounts() -> [(text: Int, missing: Int, firstText: TextCells.Cell?)] {
        var counts = [(text: Int, missing: Int, firstText: TextCells.Cell?)](
            repeating: (0, 0, nil), count: header.names.count)
        for cell in text.cells {
            let column = Int(cell.column)
            if cell.isMissing {
                counts[column].missing += 1
            } else {
                counts[column].text += 1
                if counts[column].firstText == nil { counts[column].firstText = cell }
            }
        }
        return counts
    }

    /// The distinct values of CSV column `column` as category texts (numbers in `CanonicalNumber` form), sorted by
    /// their UTF-8 bytes.
    func vocabulary(ofColumn column: Int) -> [String] {
        var values = Set<String>()
        for cell in text.cells where Int(cell.column) == column {
            if let text = text.text(of: cell) { values.insert(text) }
        }
        var numbers = Set<Double>()
        for row in 0..<rowCount {
            let value = value(row: row, column: column)
            if !value.isNaN { numbers.insert(value == 0 ? 0 : value) }
        }
        for number in numbers { values.insert(CanonicalNumber.text(number)) }
        return values.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }
}
