/// A table of text cells (settings, metrics); numeric columns are right-aligned.
public struct ReportTable: Sendable, Equatable {
    public var columns: [String]
    public var rows: [[String]]
    /// Indices of the columns aligned right.
    public var numericColumns: Set<Int>

    public init(columns: [String], rows: [[String]], numericColumns: Set<Int> = []) {
        self.columns = columns
        self.rows = rows
        self.numericColumns = numericColumns
    }

    func html() -> String {
        var html = "<table><thead><tr>"
        for (index, column) in columns.enumerated() {
            html += "<th\(numericColumns.contains(index) ? " class=\"num\"" : "")>\(Markup.escape(column))</th>"
        }
        html += "</tr></thead><tbody>"
        for row in rows {
            html += "<tr>"
            for (index, cell) in row.enumerated() {
                html += "<td\(numericColumns.contains(index) ? " class=\"num\"" : "")>\(Markup.escape(cell))</td>"
            }
            html += "</tr>"
        }
        return html + "</tbody></table>"
    }
}

/// One thing a section shows.
public enum ReportItem: Sendable, Equatable {
    case lineChart(LineChart)
    case barChart(StackedBarChart)
    case heatmap(ConfusionHeatmap)
    case images(ImageGrid)
    case table(ReportTable)
    /// A paragraph of text.
    case paragraph(String)

    func html() -> String {
        let chart: RenderedChart
        switch self {
        case .lineChart(let value): chart = value.render()
        case .barChart(let value): chart = value.render()
        case .heatmap(let value): chart = value.render()
        case .images(let value): chart = value.render()
        case .table(let table): return table.html()
        case .paragraph(let text): return "<p>\(Markup.escape(text))</p>"
        }
        // Charts up to 480 wide sit two in a row.
        return (chart.width <= 480 ? "<figure class=\"narrow\">" : "<figure>") + chart.svg
            + chart.notes.map { "<figcaption>\(Markup.escape($0))</figcaption>" }.joined() + "</figure>"
    }
}

/// A titled part of the report.
public struct ReportSection: Sendable, Equatable {
    public var title: String
    /// The `id` of the section's element, for the table of contents and for tests: lower case, spaces as `-`, other
    /// characters than letters a–z, digits and `-` dropped.
    public var anchor: String
    public var items: [ReportItem]

    public init(title: String, anchor: String, items: [ReportItem]) {
        self.title = title
        self.anchor = String(
            anchor.lowercased().replacing(" ", with: "-").unicodeScalars
                .filter { ("0"..."9").contains($0) || ("a"..."z").contains($0) || $0 == "-" })
        self.items = items
    }
}

/// A whole report: one self-contained HTML page (inline CSS and SVG, no script, nothing fetched) that is also
/// well-formed XML, readable on screen and on paper.
public struct Report: Sendable, Equatable {
    public var title: String
    /// Lines under the title (what was run, when it ended).
    public var facts: [String]
    public var sections: [ReportSection]

    public init(title: String, facts: [String], sections: [ReportSection]) {
        self.title = title
        self.facts = facts
        self.sections = sections
    }

    static let style = """
        body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; font-size: 15px; line-height: 1.45;
          color: #222; background: #fff; margin: 24px auto; max-width: 1000px; padding: 0 16px; }
        h1 { font-size: 26px; margin: 0 0 6px; }
        h2 { font-size: 20px; margin: 34px 0 10px; border-bottom: 1px solid #ccc; padding-bottom: 4px; }
        p.fact { margin: 2px 0; color: #444; }
        nav ol { columns: 2; margin: 12px 0; }
        figure { margin: 14px 0 20px; page-break-inside: avoid; break-inside: avoid; }
        figure svg { max-width: 100%; height: auto; display: block; }
        figure.narrow { display: inline-block; vertical-align: top; margin-right: 16px; max-width: 480px; }
        figcaption { font-size: 13px; color: #555; margin-top: 4px; }
        table { border-collapse: collapse; margin: 10px 0 18px; font-size: 14px; page-break-inside: avoid; }
        th, td { border: 1px solid #ccc; padding: 3px 10px; text-align: left; vertical-align: top; }
        th { background: #f2f2f2; }
        td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
        @media print { body { margin: 0; max-width: none; } h2 { page-break-after: avoid; break-after: avoid; } }
        """

    public func html() -> String {
        var html = "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\"><head><meta charset=\"utf-8\"/>"
            + "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>"
            + "<title>\(Markup.escape(title))</title><style>\n\(Self.style)\n</style></head><body>\n"
        html += "<header><h1>\(Markup.escape(title))</h1>"
        html += facts.map { "<p class=\"fact\">\(Markup.escape($0))</p>" }.joined() + "</header>\n"
        html += "<nav><ol>"
        html += sections.map { "<li><a href=\"#\($0.anchor)\">\(Markup.escape($0.title))</a></li>" }.joined()
        html += "</ol></nav>\n"
        for section in sections {
            html += "<section id=\"\(section.anchor)\"><h2>\(Markup.escape(section.title))</h2>\n"
            html += section.items.map { $0.html() }.joined(separator: "\n")
            html += "</section>\n"
        }
        return html + "</body></html>\n"
    }
}
