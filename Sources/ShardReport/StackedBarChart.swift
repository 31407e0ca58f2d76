/// One layer of a stacked bar chart: a name and one value per category.
public struct BarLayer: Sendable, Equatable {
    public var name: String
    public var values: [Double]

    public init(_ name: String, _ values: [Double]) {
        self.name = name
        self.values = values
    }
}

/// Vertical bars, one per category, each the sum of its layers stacked from zero in the order given (e.g. per
/// worker: compute, then waiting; per worker count: compute, straggler wait, communication).
///
/// A value that is not finite or is negative counts as 0 and is said in `notes`.
public struct StackedBarChart: Sendable, Equatable {
    public var title: String
    public var categoryLabel: String
    public var categories: [String]
    public var value: Axis
    public var layers: [BarLayer]
    public var width = 760.0
    public var height = 340.0

    public init(title: String, categoryLabel: String, categories: [String], value: Axis, layers: [BarLayer]) {
        self.title = title
        self.categoryLabel = categoryLabel
        self.categories = categories
        self.value = value
        self.layers = layers
    }

    public func render() -> RenderedChart {
        var notes: [String] = []
        let cleaned = layers.map { layer in
            categories.indices.map { index -> Double in
                let value = index < layer.values.count ? layer.values[index] : .nan
                return value.isFinite && value >= 0 ? value : 0
            }
        }
        for layer in layers {
            let bad = categories.indices.filter { index in
                !(index < layer.values.count && layer.values[index].isFinite && layer.values[index] >= 0)
            }.count
            if bad > 0 { notes.append("\(layer.name): \(bad) values are missing, negative or not finite and are shown as 0.") }
        }
        let totals = categories.indices.map { index in cleaned.reduce(0) { $0 + $1[index] } }
        var axis = value
        axis.scale = .linear
        let valueLayout = AxisLayout(values: [0] + totals, axis: axis)
        let placement: LegendPlacement = layers.count < 2 ? .none : width < 600 ? .below(entries: layers.count) : .right
        let frame = ChartFrame(width: width, height: height, legend: placement, inset: 0)
        let count = max(categories.count, 1)
        let slot = (frame.dataRight - frame.dataLeft) / Double(count)
        let barWidth = min(slot * 0.7, 80)
        // The category axis: one labelled tick per bar (every k-th label when they would crowd).
        let labelEvery = max(1, Int((Double(count) * 60 / (frame.right - frame.left)).rounded(.up)))
        let c = Markup.coordinate
        var svg = frame.open(title: title)
        svg += frame.axes(
            x: AxisLayout(values: [], axis: Axis("", domain: 0...1)).withoutTicks, xLabel: categoryLabel, y: valueLayout,
            yLabel: value.label)
        var legend: [(name: String, swatch: LegendSwatch)] = []
        for (layerIndex, layer) in layers.enumerated() {
            legend.append((layer.name, .area(colour: Palette.colour(layerIndex), opacity: 1)))
        }
        for index in categories.indices {
            let centre = frame.dataLeft + slot * (Double(index) + 0.5)
            var base = 0.0
            for (layerIndex, values) in cleaned.enumerated() where values[index] > 0 {
                let top = valueLayout.position(base + values[index], from: frame.dataBottom, to: frame.dataTop)
                let bottom = valueLayout.position(base, from: frame.dataBottom, to: frame.dataTop)
                svg += "<rect x=\"\(c(centre - barWidth / 2))\" y=\"\(c(top))\" width=\"\(c(barWidth))\" height=\"\(c(bottom - top))\" "
                    + "fill=\"\(Palette.colour(layerIndex))\" stroke=\"#ffffff\" stroke-width=\"0.5\"/>"
                base += values[index]
            }
            if index % labelEvery == 0 {
                svg += frame.text(categories[index], x: centre, y: frame.bottom + 19, size: 12)
            }
        }
        svg += frame.legend(legend) + ChartFrame.close
        return RenderedChart(svg: svg, notes: notes, width: frame.width)
    }
}

extension AxisLayout {
    /// The same span without ticks (a category axis draws its own labels).
    var withoutTicks: AxisLayout { AxisLayout(scale: scale, lower: lower, upper: upper, ticks: []) }

    init(scale: AxisScale, lower: Double, upper: Double, ticks: [Tick]) {
        self.scale = scale
        self.lower = lower
        self.upper = upper
        self.ticks = ticks
    }
}
