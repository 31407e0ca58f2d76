/// How a series is drawn.
public enum SeriesStyle: Sendable, Equatable {
    /// Points joined in the order given (a gap where a point cannot be shown).
    case line
    /// Separate points (a scatter plot), drawn in the series' shape.
    case points
}

/// A named list of points in one colour.
public struct Series: Sendable, Equatable {
    public var name: String
    public var points: [ChartPoint]
    public var style: SeriesStyle
    /// Index into `Palette` (colour, dash pattern, shape); nil: the series' position in the chart.
    public var paletteIndex: Int?
    /// Text written beside each point (e.g. the rows behind it, a worker count), in the order of `points`; empty for none.
    public var pointLabels: [String]

    public init(
        _ name: String, _ points: [ChartPoint], style: SeriesStyle = .line, paletteIndex: Int? = nil, pointLabels: [String] = []
    ) {
        self.name = name
        self.points = points
        self.style = style
        self.paletteIndex = paletteIndex
        self.pointLabels = pointLabels
    }
}

/// A shaded region between two curves over the same x values (a quantile fan's interval).
public struct Band: Sendable, Equatable {
    public var name: String
    public var lower: [ChartPoint]
    public var upper: [ChartPoint]
    public var paletteIndex: Int
    /// 0…1; nested bands drawn in order build up a fan.
    public var opacity: Double

    public init(_ name: String, lower: [ChartPoint], upper: [ChartPoint], paletteIndex: Int = 0, opacity: Double = 0.2) {
        self.name = name
        self.lower = lower
        self.upper = upper
        self.paletteIndex = paletteIndex
        self.opacity = opacity
    }
}

/// A vertical line at an x value: a strong one (labelled, e.g. a new smoothing stage) or a light one (e.g. an epoch).
public struct Marker: Sendable, Equatable {
    public var x: Double
    public var label: String?
    public var strong: Bool

    public init(x: Double, label: String? = nil, strong: Bool = true) {
        self.x = x
        self.label = label
        self.strong = strong
    }
}

/// A line chart or scatter plot with any number of series, optional bands, vertical markers and the diagonal y = x;
/// either axis linear or logarithmic.
///
/// Drawing rules: a point that cannot be shown on its axes (NaN, ±∞, ≤ 0 on a logarithmic axis) is left out, breaks
/// its line, and is counted in `notes`; a line of more than `maximumPoints` points is thinned by
/// `Downsampling.envelope`, a scatter series by `Downsampling.stride`, both said in `notes`. Everything outside the
/// plot area is clipped.
public struct LineChart: Sendable, Equatable {
    public var title: String
    public var x: Axis
    public var y: Axis
    public var series: [Series]
    public var bands: [Band] = []
    public var markers: [Marker] = []
    /// The dashed line y = x labelled with this text (ROC chance, perfect calibration, nominal coverage).
    public var diagonal: String?
    public var width = 760.0
    public var height = 380.0
    public var maximumPoints = 1200

    public init(title: String, x: Axis, y: Axis, series: [Series]) {
        self.title = title
        self.x = x
        self.y = y
        self.series = series
    }

    /// The points of each series after thinning and the notes saying what was left out.
    func drawable() -> (series: [[ChartPoint?]], notes: [String]) {
        var notes: [String] = []
        let showable = { (point: ChartPoint) in
            point.x.isFinite && point.y.isFinite && (x.scale == .linear || point.x > 0) && (y.scale == .linear || point.y > 0)
        }
        var result: [[ChartPoint?]] = []
        for item in series {
            let hidden = item.points.filter { !showable($0) }.count
            if hidden > 0 {
                let why = (x.scale == .logarithmic || y.scale == .logarithmic) ? "not finite or not positive (log scale)" : "not finite"
                notes.append("\(item.name): \(hidden) of \(item.points.count) points are \(why) and not shown.")
            }
            switch item.style {
            case .line:
                // Thin each unbroken run; keep the gaps (nil) where points were left out.
                var runs: [[ChartPoint]] = [[]]
                for point in item.points {
                    if showable(point) { runs[runs.count - 1].append(point) } else if !runs[runs.count - 1].isEmpty { runs.append([]) }
                }
                let shown = runs.reduce(0) { $0 + $1.count }
                var points: [ChartPoint?] = []
                for run in runs where !run.isEmpty {
                    let share = max(4, maximumPoints * run.count / max(shown, 1))
                    if !points.isEmpty { points.append(nil) }
                    points += Downsampling.envelope(run, maximum: share).map { Optional($0) }
                }
                let drawn = points.compactMap { $0 }.count
                if drawn < shown {
                    notes.append(
                        "\(item.name): \(shown) points drawn as \(drawn) (the lowest and highest of each run of consecutive points).")
                }
                result.append(points)
            case .points:
                let shown = item.points.filter(showable)
                let kept = Downsampling.stride(shown, maximum: maximumPoints)
                if kept.count < shown.count {
                    notes.append("\(item.name): every \((shown.count + maximumPoints - 1) / maximumPoints)th of \(shown.count) points is drawn.")
                }
                result.append(kept)
            }
        }
        return (result, notes)
    }

    /// The axes' layouts for the values to be drawn (bands, series and markers).
    func layouts(_ drawn: [[ChartPoint?]]) -> (x: AxisLayout, y: AxisLayout) {
        let points = drawn.joined().compactMap { $0 } + bands.flatMap { $0.lower + $0.upper }
        let xLayout = AxisLayout(values: (points.map(\.x) + markers.map(\.x)).filter { canShow($0, on: x) }, axis: x)
        let yLayout = AxisLayout(values: points.map(\.y).filter { canShow($0, on: y) }, axis: y)
        return (xLayout, yLayout)
    }

    private func canShow(_ value: Double, on axis: Axis) -> Bool {
        value.isFinite && (axis.scale == .linear || value > 0)
    }

    /// Where the legend goes: none for a single series alone, below the plot for a narrow chart (under 600 wide),
    /// else on the right.
    func legendPlacement(entries: Int) -> LegendPlacement {
        guard entries > 1 else { return .none }
        return width < 600 ? .below(entries: entries) : .right
    }

    /// The chart as one `<svg>` element, and what its reader should know about points left out.
    public func render() -> RenderedChart {
        let (drawn, notes) = drawable()
        let (xLayout, yLayout) = layouts(drawn)
        let lineCount = series.filter { $0.style == .line }.count
        // The legend's entries, in drawing order: bands, the diagonal, the series.
        var legend: [(name: String, swatch: LegendSwatch)] = []
        let shownBands = bands.map { band in
            zip(band.lower, band.upper).filter { pair in
                canShow(pair.0.x, on: x) && canShow(pair.0.y, on: y) && canShow(pair.1.y, on: y)
            }
        }
        for (band, pairs) in zip(bands, shownBands) where !pairs.isEmpty {
            legend.append((band.name, .area(colour: Palette.colour(band.paletteIndex), opacity: band.opacity)))
        }
        let diagonalSpan = (low: max(xLayout.lower, yLayout.lower), high: min(xLayout.upper, yLayout.upper))
        if let diagonal, diagonalSpan.low < diagonalSpan.high { legend.append((diagonal, .line(colour: "#777777", dash: "5 4"))) }
        let styles = series.enumerated().map { index, item in item.paletteIndex ?? index }
        // One line alone is solid; several differ by dash pattern as well as colour.
        let dashes = styles.map { lineCount > 1 ? Palette.dash($0) : "" }
        for (index, item) in series.enumerated() {
            let colour = Palette.colour(styles[index])
            legend.append(
                (item.name, item.style == .line ? .line(colour: colour, dash: dashes[index]) : .point(shape: styles[index], colour: colour)))
        }
        let frame = ChartFrame(width: width, height: height, legend: legendPlacement(entries: legend.count))
        let px = { (value: Double) in xLayout.position(value, from: frame.dataLeft, to: frame.dataRight) }
        let py = { (value: Double) in yLayout.position(value, from: frame.dataBottom, to: frame.dataTop) }
        let c = Markup.coordinate
        var svg = frame.open(title: title) + frame.axes(x: xLayout, xLabel: x.label, y: yLayout, yLabel: y.label)
        // The plot area as a nested viewport: it clips what lies outside, in the chart's own coordinates.
        let (w, h) = (frame.right - frame.left, frame.bottom - frame.top)
        svg += "<svg x=\"\(c(frame.left))\" y=\"\(c(frame.top))\" width=\"\(c(w))\" height=\"\(c(h))\" "
            + "viewBox=\"\(c(frame.left)) \(c(frame.top)) \(c(w)) \(c(h))\">"
        for (band, pairs) in zip(bands, shownBands) where !pairs.isEmpty {
            let thinned = pairs.count > maximumPoints
                ? Swift.stride(from: 0, to: pairs.count, by: (pairs.count + maximumPoints - 1) / maximumPoints).map { pairs[$0] } : pairs
            let upper = thinned.map { "\(c(px($0.0.x))),\(c(py($0.1.y)))" }
            let lower = thinned.reversed().map { "\(c(px($0.0.x))),\(c(py($0.0.y)))" }
            svg += "<polygon points=\"\((upper + lower).joined(separator: " "))\" fill=\"\(Palette.colour(band.paletteIndex))\" "
                + "fill-opacity=\"\(c(band.opacity))\" stroke=\"none\"/>"
        }
        if diagonal != nil, diagonalSpan.low < diagonalSpan.high {
            svg += ChartFrame.line(
                px(diagonalSpan.low), py(diagonalSpan.low), px(diagonalSpan.high), py(diagonalSpan.high), stroke: "#777777",
                width: 1.5, extra: "stroke-dasharray=\"5 4\"")
        }
        // Marker labels are skipped where they would run into the previous one.
        var labelEnd = -Double.infinity
        for marker in markers.sorted(by: { $0.x < $1.x }) where canShow(marker.x, on: x) {
            svg += marker.strong
                ? ChartFrame.line(px(marker.x), frame.top, px(marker.x), frame.bottom, stroke: "#555555", width: 1.2, extra: "stroke-dasharray=\"3 3\"")
                : ChartFrame.line(px(marker.x), frame.top, px(marker.x), frame.bottom, stroke: "#bbbbbb", width: 0.8)
            if let label = marker.label, px(marker.x) + 3 > labelEnd {
                svg += frame.text(label, x: px(marker.x) + 3, y: frame.top + 13, anchor: "start", size: 11, colour: "#444444")
                labelEnd = px(marker.x) + 3 + 7 * Double(label.count) + 4
            }
        }
        for (index, item) in series.enumerated() {
            let colour = Palette.colour(styles[index])
            switch item.style {
            case .line:
                var path = ""
                var pen = false
                for point in drawn[index] {
                    guard let point else {
                        pen = false
                        continue
                    }
                    path += (pen ? "L" : "M") + "\(c(px(point.x))) \(c(py(point.y)))"
                    pen = true
                }
                if !path.isEmpty {
                    svg += "<path d=\"\(path)\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\" stroke-linejoin=\"round\""
                        + (dashes[index].isEmpty ? "" : " stroke-dasharray=\"\(dashes[index])\"") + "/>"
                }
                // A short line shows its points (a lone point, one round, has no segment at all).
                let points = drawn[index].compactMap { $0 }
                if points.count <= 40 {
                    for point in points { svg += Palette.shape(0, x: px(point.x), y: py(point.y), r: 3, colour: colour) }
                }
            case .points:
                svg += "<g fill-opacity=\"0.75\">"
                for case let point? in drawn[index] {
                    svg += Palette.shape(styles[index], x: px(point.x), y: py(point.y), r: 3, colour: colour)
                }
                svg += "</g>"
            }
        }
        for item in series {
            for (point, label) in zip(item.points, item.pointLabels) where canShow(point.x, on: x) && canShow(point.y, on: y) {
                // Above and right of the point; below it, or left of it, where the plot area's edge would cut the text.
                let above = py(point.y) - 6
                let fitsRight = px(point.x) + 6 + 7 * Double(label.count) < frame.right
                svg += frame.text(
                    label, x: fitsRight ? px(point.x) + 6 : px(point.x) - 6, y: above - 11 < frame.top ? py(point.y) + 15 : above,
                    anchor: fitsRight ? "start" : "end", size: 11, colour: "#333333")
            }
        }
        svg += "</svg>"
        svg += frame.legend(legend) + ChartFrame.close
        return RenderedChart(svg: svg, notes: notes, width: frame.width)
    }
}

/// A chart's SVG element and the notes printed under it.
public struct RenderedChart: Sendable, Equatable {
    public let svg: String
    public let notes: [String]
    /// The SVG's width.
    public let width: Double
}
