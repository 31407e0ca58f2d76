/// A plain-text table with right-aligned columns, used by the `renderTable` methods of the reports.
///
/// The first column (row names) is right-aligned to its widest entry like the other columns, so the
/// numbers line up whatever the row names are. Columns are separated by `spacing` spaces.
struct TextTable {
    var header: [String]
    var rows: [[String]] = []
    var spacing = 2

    /// An empty row renders as an empty line (a visual separator).
    mutating func append(_ row: [String]) { rows.append(row) }

    func render() -> String {
        let columnCount = max(header.count, rows.map(\.count).max() ?? 0)
        var widths = [Int](repeating: 0, count: columnCount)
        for row in [header] + rows {
            for (column, cell) in row.enumerated() { widths[column] = max(widths[column], cell.count) }
        }
        let gap = String(repeating: " ", count: spacing)
        func line(_ row: [String]) -> String {
            if row.isEmpty { return "" }
            var cells: [String] = []
            for column in 0..<columnCount {
                let cell = column < row.count ? row[column] : ""
                cells.append(String(repeating: " ", count: widths[column] - cell.count) + cell)
            }
            var text = cells.joined(separator: gap)
            while text.last == " " { text.removeLast() }
            return text
        }
        return ([header] + rows).map(line).joined(separator: "\n")
    }
}

/// Fixed-point decimal text for `value` with `digits` digits after the point, e.g. `0.6667`.
///
/// Written without Foundation's `String(format:)`: the value is rounded half away from zero at
/// `digits` places (`digits` is clamped to 0...12), which is exact for the magnitudes metrics take.
func fixedPoint(_ value: Double, digits: Int) -> String {
    guard value.isFinite else { return value.isNaN ? "nan" : (value < 0 ? "-inf" : "inf") }
    let places = min(max(digits, 0), 12)
    var scale = 1.0
    for _ in 0..<places { scale *= 10 }
    let scaled = (abs(value) * scale).rounded(.toNearestOrAwayFromZero)
    guard scaled < 9.0e15 else { return "\(value)" }
    let integer = UInt64(scaled)
    let unit = UInt64(scale)
    let whole = integer / unit
    let fraction = integer % unit
    var text = (value < 0 && integer != 0 ? "-" : "") + String(whole)
    if places > 0 {
        let digitsText = String(fraction)
        text += "." + String(repeating: "0", count: places - digitsText.count) + digitsText
    }
    return text
}
