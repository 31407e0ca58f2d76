/// A confusion matrix as a grid of coloured cells: rows are true classes, columns predicted ones, each cell shows its
/// count and is shaded by its share of the row (the recall of the diagonal cell), white = 0 to dark blue = 1.
///
/// More than `maximumClasses` classes are cut to the `maximumClasses` with the most rows (ties: lower index first),
/// shown in index order; `notes` says how many rows the cut leaves out.
public struct ConfusionHeatmap: Sendable, Equatable {
    public var title: String
    public var classNames: [String]
    /// `counts[true][predicted]`, square.
    public var counts: [[Int]]
    public var maximumClasses = 20

    public init(title: String, classNames: [String], counts: [[Int]]) {
        self.title = title
        self.classNames = classNames
        self.counts = counts
    }

    /// The classes drawn, in index order.
    public var shownClasses: [Int] {
        let supports = counts.map { $0.reduce(0, +) }
        guard counts.count > maximumClasses else { return Array(counts.indices) }
        let largest = counts.indices.sorted { supports[$0] != supports[$1] ? supports[$0] > supports[$1] : $0 < $1 }
        return largest.prefix(maximumClasses).sorted()
    }

    public func render() -> RenderedChart {
        let shown = shownClasses
        var notes: [String] = []
        if shown.count < counts.count {
            let rowsLeft = counts.indices.filter { !shown.contains($0) }.reduce(0) { $0 + counts[$1].reduce(0, +) }
            notes.append(
                "\(counts.count) classes: the \(shown.count) with the most rows are shown; \(rowsLeft) rows of the other "
                    + "classes and the cells of predictions into them are left out (the summary JSON has the whole matrix).")
        }
        let cell = shown.count <= 4 ? 64.0 : shown.count <= 10 ? 44 : 30
        let nameWidth = min(140, 18 + 8 * Double(shown.map { name($0).count }.max() ?? 1))
        let left = 40 + nameWidth
        let top = 84.0
        let size = cell * Double(shown.count)
        let width = max(left + size + 30, 470)
        let height = top + size + 44
        let frame = ChartFrame(width: width, height: height, legend: .none)
        let c = Markup.coordinate
        var svg = frame.open(title: title, titleX: 20)
        svg += frame.text("predicted class", x: left + size / 2, y: 50)
        svg += frame.text("true class", x: 16, y: top + size / 2, rotate: true)
        let fontSize = cell >= 44 ? 13.0 : 10
        for (column, classIndex) in shown.enumerated() {
            svg += frame.text(name(classIndex), x: left + cell * (Double(column) + 0.5), y: top - 10, size: 12)
        }
        for (row, trueClass) in shown.enumerated() {
            let support = counts[trueClass].reduce(0, +)
            let y = top + cell * Double(row)
            svg += frame.text(name(trueClass), x: left - 8, y: y + cell / 2 + 4, anchor: "end", size: 12)
            for (column, predicted) in shown.enumerated() {
                let count = counts[trueClass][predicted]
                let share = support == 0 ? 0 : Double(count) / Double(support)
                let x = left + cell * Double(column)
                svg += "<rect x=\"\(c(x))\" y=\"\(c(y))\" width=\"\(c(cell))\" height=\"\(c(cell))\" fill=\"\(Palette.sequential(share))\" "
                    + "stroke=\"\(row == column ? "#222222" : "#cccccc")\" stroke-width=\"\(row == column ? "1.5" : "0.5")\"/>"
                svg += frame.text(
                    String(count), x: x + cell / 2, y: y + cell / 2 + fontSize / 3, size: fontSize,
                    colour: share > 0.55 ? "#ffffff" : "#222222")
            }
        }
        svg += frame.text(
            "shade: share of the true class's rows (white 0 … dark blue 1)", x: 20, y: top + size + 30,
            anchor: "start", size: 12, colour: "#444444")
        svg += ChartFrame.close
        return RenderedChart(svg: svg, notes: notes, width: frame.width)
    }

    private func name(_ classIndex: Int) -> String {
        classIndex < classNames.count ? classNames[classIndex] : String(classIndex)
    }
}
