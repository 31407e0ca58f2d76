/// What a legend entry shows beside its name.
enum LegendSwatch {
    case line(colour: String, dash: String)
    case point(shape: Int, colour: String)
    case area(colour: String, opacity: Double)
}

/// Where a chart's legend goes.
enum LegendPlacement: Equatable {
    case none
    /// A column right of the plot area.
    case right
    /// One row per entry under the axis label (narrow charts); the chart grows by 20 per entry.
    case below(entries: Int)
}

/// The layout every chart shares: a title on top, the plot area, tick labels and axis labels left and below, and a
/// legend on the right or below. All sizes in SVG user units (CSS pixels at 100 %).
///
///     left = 80, top = 44, bottom = height − 60, right = width − 20 − (legend on the right ? 210 : 0)
///     (a legend below adds 20 per entry to the height, under the plot)
///
/// Data are drawn `inset` (8 for line charts) inside the plot area's frame, so a curve along an edge (a true positive
/// rate of 1) stays visible.
struct ChartFrame {
    static let leftMargin = 80.0
    static let topMargin = 44.0
    static let bottomMargin = 60.0
    static let rightMargin = 20.0
    static let legendWidth = 210.0

    let width: Double
    let height: Double
    let left: Double
    let top: Double
    let right: Double
    let bottom: Double
    let placement: LegendPlacement
    let inset: Double

    init(width: Double, height: Double, legend placement: LegendPlacement, inset: Double = 8) {
        self.width = width
        self.inset = inset
        self.placement = placement
        if case .below(let entries) = placement {
            self.height = height + 20 * Double(entries) + 4
        } else {
            self.height = height
        }
        left = Self.leftMargin
        top = Self.topMargin
        right = width - Self.rightMargin - (placement == .right ? Self.legendWidth : 0)
        bottom = height - Self.bottomMargin
    }

    /// The span data are drawn in, horizontally and vertically (bottom first: values grow upwards).
    var dataLeft: Double { left + inset }
    var dataRight: Double { right - inset }
    var dataBottom: Double { bottom - inset }
    var dataTop: Double { top + inset }

    /// The opening tag, a white background and the title.
    func open(title: String, titleX: Double? = nil) -> String {
        let (w, h) = (Markup.coordinate(width), Markup.coordinate(height))
        return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(w)\" height=\"\(h)\" viewBox=\"0 0 \(w) \(h)\" "
            + "role=\"img\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"13\">"
            + "<title>\(Markup.escape(title))</title>"
            + "<rect width=\"\(w)\" height=\"\(h)\" fill=\"#ffffff\"/>"
            + text(title, x: titleX ?? left, y: 24, anchor: "start", size: Self.titleSize(title, room: width - (titleX ?? left) - 8), weight: "bold")
    }

    static let close = "</svg>"

    /// 15, or smaller (at least 10) so that `title` fits `room` units at about 0.62 em per bold character.
    static func titleSize(_ title: String, room: Double) -> Double {
        min(15, max(10, (room / (0.62 * Double(max(title.count, 1)))).rounded(.down)))
    }

    /// A `<text>` element (content escaped).
    func text(
        _ content: String, x: Double, y: Double, anchor: String = "middle", size: Double = 13, weight: String? = nil,
        colour: String = "#222222", rotate: Bool = false
    ) -> String {
        let (cx, cy) = (Markup.coordinate(x), Markup.coordinate(y))
        var attributes = "x=\"\(cx)\" y=\"\(cy)\" text-anchor=\"\(anchor)\" font-size=\"\(Markup.coordinate(size))\" fill=\"\(colour)\""
        if let weight { attributes += " font-weight=\"\(weight)\"" }
        if rotate { attributes += " transform=\"rotate(-90 \(cx) \(cy))\"" }
        return "<text \(attributes)>\(Markup.escape(content))</text>"
    }

    /// A `<line>` element; `extra` holds further attributes (a dash pattern).
    static func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, stroke: String, width: Double = 1, extra: String = "")
        -> String
    {
        let c = Markup.coordinate
        return "<line x1=\"\(c(x1))\" y1=\"\(c(y1))\" x2=\"\(c(x2))\" y2=\"\(c(y2))\" stroke=\"\(stroke)\" "
            + "stroke-width=\"\(c(width))\"\(extra.isEmpty ? "" : " " + extra)/>"
    }

    /// Grid lines, tick marks and tick labels of the horizontal axis (`x`) and of the vertical axis (`y`), the axis
    /// labels, and the plot area's frame. Labelled ticks have darker grid lines and longer marks.
    func axes(x: AxisLayout, xLabel: String, y: AxisLayout, yLabel: String) -> String {
        var svg = "<g class=\"axes\">"
        let grid = { (tick: Tick) in tick.label != nil ? "#dddddd" : "#f0f0f0" }
        let mark = { (tick: Tick) in tick.label != nil ? 5.0 : 3 }
        for tick in x.ticks {
            let position = x.position(tick.value, from: dataLeft, to: dataRight)
            svg += Self.line(position, top, position, bottom, stroke: grid(tick))
            svg += Self.line(position, bottom, position, bottom + mark(tick), stroke: "#444444")
            if let label = tick.label { svg += text(label, x: position, y: bottom + 19, size: 12) }
        }
        for tick in y.ticks {
            let position = y.position(tick.value, from: dataBottom, to: dataTop)
            svg += Self.line(left, position, right, position, stroke: grid(tick))
            svg += Self.line(left - mark(tick), position, left, position, stroke: "#444444")
            if let label = tick.label { svg += text(label, x: left - 8, y: position + 4, anchor: "end", size: 12) }
        }
        svg += "<rect x=\"\(Markup.coordinate(left))\" y=\"\(Markup.coordinate(top))\" width=\"\(Markup.coordinate(right - left))\" "
            + "height=\"\(Markup.coordinate(bottom - top))\" fill=\"none\" stroke=\"#444444\"/>"
        svg += text(xLabel, x: (left + right) / 2, y: bottom + 44)
        svg += text(yLabel, x: 18, y: (top + bottom) / 2, rotate: true)
        return svg + "</g>"
    }

    /// The legend: right of the plot area (names wrapped onto two lines of 24 characters, the rest cut) or one row per
    /// entry under the axis label (names whole).
    func legend(_ entries: [(name: String, swatch: LegendSwatch)]) -> String {
        guard !entries.isEmpty, placement != .none else { return "" }
        var svg = "<g class=\"legend\">"
        let below = placement != .right
        let x = below ? left : right + 14
        var y = below ? bottom + 70 : top + 10
        for (index, entry) in entries.enumerated() {
            guard y < height - 4 else {
                svg += text("… \(entries.count - index) more", x: x, y: y, anchor: "start", size: 12)
                break
            }
            switch entry.swatch {
            case .line(let colour, let dash):
                svg += Self.line(x, y - 4, x + 26, y - 4, stroke: colour, width: 2.5, extra: dash.isEmpty ? "" : "stroke-dasharray=\"\(dash)\"")
            case .point(let shape, let colour):
                svg += Palette.shape(shape, x: x + 13, y: y - 4, r: 4, colour: colour)
            case .area(let colour, let opacity):
                svg += "<rect x=\"\(Markup.coordinate(x))\" y=\"\(Markup.coordinate(y - 11))\" width=\"26\" height=\"14\" "
                    + "fill=\"\(colour)\" fill-opacity=\"\(Markup.coordinate(opacity))\"/>"
            }
            let lines = below ? [entry.name] : Self.wrap(entry.name, width: 24, lines: 2)
            for (number, line) in lines.enumerated() {
                svg += text(line, x: x + 32, y: y + Double(number) * 15, anchor: "start", size: 12)
            }
            y += 20 + Double(lines.count - 1) * 15
        }
        return svg + "</g>"
    }

    /// `text` in at most `lines` lines of at most `width` characters, broken at spaces where possible; the last line
    /// ends in "…" when text is left over.
    static func wrap(_ text: String, width: Int, lines: Int) -> [String] {
        var result: [String] = []
        var rest = Substring(text)
        while !rest.isEmpty, result.count < lines {
            if rest.count <= width {
                result.append(String(rest))
                rest = ""
                break
            }
            let window = rest.prefix(width)
            let cut = window.lastIndex(of: " ").map { rest.distance(from: rest.startIndex, to: $0) } ?? width
            let end = rest.index(rest.startIndex, offsetBy: max(cut, 1))
            result.append(String(rest[..<end]))
            rest = rest[end...].drop { $0 == " " }
        }
        if !rest.isEmpty, let last = result.popLast() { result.append(String(last.prefix(width - 1)) + "…") }
        return result
    }
}
