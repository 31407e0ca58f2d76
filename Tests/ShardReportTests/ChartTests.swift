import Foundation
import Testing

@testable import ShardReport

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// Checks that a text is well-formed XML (FoundationXML's parser) and counts its elements by name.
final class XMLCheck: NSObject, XMLParserDelegate {
    var counts: [String: Int] = [:]
    var error: String?

    static func parse(_ text: String) -> XMLCheck {
        let check = XMLCheck()
        let parser = XMLParser(data: Data(text.utf8))
        parser.delegate = check
        if !parser.parse() { check.error = parser.parserError.map { "\($0)" } ?? "unknown error" }
        return check
    }

    func parser(
        _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
        attributes: [String: String] = [:]
    ) {
        counts[elementName, default: 0] += 1
    }
}

@Suite("Charts: pixels, gaps, thinning, escaping")
struct ChartTests {
    /// 760 × 380 without a legend: plot area x 80…740, y 44…320; data drawn 8 inside, x 88…732, y 312…52.
    @Test("Known points land on known pixels (linear axes)")
    func linearPixels() {
        let chart = LineChart(
            title: "t", x: Axis("x", domain: 0...10), y: Axis("y", domain: 0...100),
            series: [Series("s", [ChartPoint(0, 0), ChartPoint(5, 50), ChartPoint(10, 100)])])
        let svg = chart.render().svg
        #expect(svg.contains("d=\"M88 312L410 182L732 52\""))
    }

    @Test("Known points land on known pixels (log y axis)")
    func logPixels() {
        let chart = LineChart(
            title: "t", x: Axis("x", domain: 0...10), y: Axis("y", scale: .logarithmic, domain: 1...100),
            series: [Series("s", [ChartPoint(0, 1), ChartPoint(10, 10)])])
        #expect(chart.render().svg.contains("d=\"M88 312L732 182\""))
    }

    @Test("NaN, infinities and non-positive values on a log axis never reach the SVG: the line breaks, a note counts them")
    func nonFinitePoints() {
        let chart = LineChart(
            title: "t", x: Axis("round"), y: Axis("objective", scale: .logarithmic),
            series: [
                Series("objective", [
                    ChartPoint(1, 10), ChartPoint(2, .nan), ChartPoint(3, 1), ChartPoint(4, .infinity), ChartPoint(5, -1),
                    ChartPoint(6, 0.1), ChartPoint(7, 0.01),
                ])
            ])
        let rendered = chart.render()
        #expect(!rendered.svg.lowercased().contains("nan") && !rendered.svg.lowercased().contains("inf"))
        let path = try? #require(rendered.svg.components(separatedBy: "<path d=\"").dropFirst().first?.prefix { $0 != "\"" })
        #expect(path.map { $0.filter { $0 == "M" }.count } == 3)
        #expect(rendered.notes == ["objective: 3 of 7 points are not finite or not positive (log scale) and not shown."])
    }

    @Test("A single round is drawn as a point and the axes still have ticks")
    func singlePoint() {
        let rendered = LineChart(title: "t", x: Axis("round"), y: Axis("objective"), series: [Series("o", [ChartPoint(1, 0.5)])])
            .render()
        #expect(rendered.svg.contains("<circle"))
        #expect(XMLCheck.parse(rendered.svg).error == nil)
    }

    @Test("Thousands of rounds are thinned to at most maximumPoints, keeping the extremes, the same way every time")
    func thinning() {
        let points = (0..<10_000).map { ChartPoint(Double($0), sin(Double($0) / 50) + ($0 == 4321 ? 5 : 0)) }
        let thinned = Downsampling.envelope(points, maximum: 1200)
        #expect(thinned.count <= 1200 && thinned.count > 1000)
        #expect(thinned.first == points.first && thinned.last == points.last)
        #expect(thinned.contains(points[4321]))
        #expect(thinned.map(\.x) == thinned.map(\.x).sorted())
        #expect(Downsampling.envelope(points, maximum: 1200) == thinned)
        let rendered = LineChart(title: "t", x: Axis("x"), y: Axis("y"), series: [Series("s", points)]).render()
        #expect(rendered.notes.count == 1 && rendered.notes[0].contains("10000 points drawn as"))
        let scatter = Downsampling.stride(points, maximum: 1000)
        #expect(scatter.count == 1000 && scatter[1] == points[10])
    }

    @Test("A name from a user's file cannot open a tag in a chart, a legend or a table")
    func escapingInCharts() {
        let hostile = "<script>alert(1)</script>"
        var chart = LineChart(
            title: hostile, x: Axis(hostile), y: Axis("y"),
            series: [Series(hostile, [ChartPoint(0, 1), ChartPoint(1, 2)]), Series("b", [ChartPoint(0, 2)])])
        chart.markers = [Marker(x: 0.5, label: hostile)]
        let report = Report(
            title: hostile, facts: [hostile],
            sections: [
                ReportSection(
                    title: hostile, anchor: "a",
                    items: [
                        .lineChart(chart), .table(ReportTable(columns: [hostile], rows: [[hostile]])), .paragraph(hostile),
                        .heatmap(ConfusionHeatmap(title: hostile, classNames: [hostile, "b"], counts: [[1, 0], [0, 1]])),
                    ])
            ])
        let html = report.html()
        #expect(!html.contains("<script"))
        #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(XMLCheck.parse(html).error == nil)
    }

    @Test("Stacked bars: heights proportional to the values, stacked from zero")
    func stackedBars() {
        // 760 × 340, legend on the right: value axis 0…4 over y 280 (0) … 44 (4), 59 per unit.
        let chart = StackedBarChart(
            title: "t", categoryLabel: "worker", categories: ["w0"], value: Axis("seconds"),
            layers: [BarLayer("compute", [1]), BarLayer("wait", [3])])
        let svg = chart.render().svg
        #expect(svg.contains("y=\"221\" width=\"80\" height=\"59\""))
        #expect(svg.contains("y=\"44\" width=\"80\" height=\"177\""))
        let bad = StackedBarChart(
            title: "t", categoryLabel: "c", categories: ["a", "b"], value: Axis("v"), layers: [BarLayer("l", [.nan, -1])])
        #expect(bad.render().notes == ["l: 2 values are missing, negative or not finite and are shown as 0."])
    }

    @Test("A confusion matrix of many classes keeps the largest ones and says what it left out")
    func heatmapCap() {
        let classes = 30
        let counts = (0..<classes).map { row in (0..<classes).map { $0 == row ? row + 1 : 0 } }
        let heatmap = ConfusionHeatmap(title: "t", classNames: [], counts: counts)
        #expect(heatmap.shownClasses == Array(10..<30))
        let rendered = heatmap.render()
        #expect(rendered.notes.count == 1 && rendered.notes[0].contains("\((1...10).reduce(0, +)) rows of the other classes"))
        #expect(XMLCheck.parse(rendered.svg).counts["rect"] == 1 + 20 * 20)
    }

    @Test("Pictures: 1 is black, 0 is left white, a NaN is red and counted")
    func images() {
        let grid = ImageGrid(title: "t", side: 2, groups: [[[1, 0, 0.5, .nan]]], columns: 1)
        let rendered = grid.render()
        #expect(rendered.svg.contains("fill=\"rgb(0,0,0)\""))
        #expect(rendered.svg.contains("fill=\"rgb(128,128,128)\""))
        #expect(rendered.svg.contains("fill=\"#ff0000\""))
        #expect(rendered.notes == ["1 values are not finite (drawn red)."])
        // Background, picture frame, three drawn values (0 stays white paper).
        #expect(XMLCheck.parse(rendered.svg).counts["rect"] == 5)
    }

    @Test("Legend names wrap at spaces onto two lines and are cut with an ellipsis")
    func legendWrapping() {
        #expect(ChartFrame.wrap("short", width: 24, lines: 2) == ["short"])
        #expect(ChartFrame.wrap("waiting and communication time", width: 24, lines: 2) == ["waiting and", "communication time"])
        #expect(ChartFrame.wrap(String(repeating: "x", count: 60), width: 24, lines: 2)
            == [String(repeating: "x", count: 24), String(repeating: "x", count: 23) + "…"])
    }

    @Test("A whole report is one well-formed XHTML document with one svg per chart and no script")
    func wholeReport() {
        let chart = LineChart(title: "c", x: Axis("x"), y: Axis("y"), series: [Series("s", [ChartPoint(0, 1), ChartPoint(1, 3)])])
        let report = Report(
            title: "r", facts: ["f"],
            sections: [
                ReportSection(title: "One", anchor: "one", items: [.lineChart(chart), .lineChart(chart)]),
                ReportSection(
                    title: "Two", anchor: "Two two!",
                    items: [.barChart(StackedBarChart(title: "b", categoryLabel: "c", categories: ["a"], value: Axis("v"), layers: []))]),
            ])
        let html = report.html()
        let check = XMLCheck.parse(html)
        #expect(check.error == nil)
        #expect(check.counts["section"] == 2)
        #expect(check.counts["script"] == nil)
        #expect(html.contains("<section id=\"one\">") && html.contains("<section id=\"two-two\">"))
        // Each chart is an svg, and each line chart clips its data in one nested svg.
        #expect(check.counts["svg"] == 2 * 2 + 1)
        // Nothing is fetched: no src attribute, and every link points inside the page.
        #expect(!html.contains("src="))
        #expect(html.components(separatedBy: "href=\"").dropFirst().allSatisfy { $0.hasPrefix("#") })
    }
}
