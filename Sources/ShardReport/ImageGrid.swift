/// Small greyscale pictures (VAE inputs, reconstructions, samples) drawn as SVG squares, dark ink on white paper.
///
/// Each picture is `side × side` values in [0, 1], row-major; value v is drawn with grey level 255·(1 − v) (1 = black).
/// Pictures come in groups shown side by side (an original beside its reconstruction), groups fill rows of `columns`.
/// A value that is not finite is drawn as a red square and counted in `notes`.
public struct ImageGrid: Sendable, Equatable {
    public var title: String
    public var side: Int
    /// Each group: one or more pictures of `side²` values.
    public var groups: [[[Double]]]
    /// Under the first row of groups, one caption per picture of a group ("original", "reconstruction").
    public var captions: [String]
    public var columns: Int
    /// Edge of one picture in SVG units (each value a square of `pictureSize / side`).
    public var pictureSize = 72.0

    public init(title: String, side: Int, groups: [[[Double]]], captions: [String] = [], columns: Int) {
        self.title = title
        self.side = side
        self.groups = groups
        self.captions = captions
        self.columns = max(1, columns)
    }

    public func render() -> RenderedChart {
        let perGroup = groups.map(\.count).max() ?? 1
        let gap = 4.0
        let groupWidth = Double(perGroup) * pictureSize + Double(perGroup - 1) * gap
        let groupGap = 18.0
        let rows = (groups.count + columns - 1) / columns
        let top = 44.0 + (captions.isEmpty ? 0 : 18)
        let width = max(40 + Double(columns) * (groupWidth + groupGap), 420)
        let height = top + Double(rows) * (pictureSize + groupGap) + 10
        let frame = ChartFrame(width: width, height: height, legend: .none)
        let c = Markup.coordinate
        var svg = frame.open(title: title, titleX: 20)
        let pixel = pictureSize / Double(max(side, 1))
        var nonFinite = 0
        for (index, caption) in captions.prefix(perGroup).enumerated() {
            svg += frame.text(caption, x: 20 + Double(index) * (pictureSize + gap) + pictureSize / 2, y: top - 8, size: 12)
        }
        svg += "<g shape-rendering=\"crispEdges\">"
        for (groupIndex, group) in groups.enumerated() {
            let groupLeft = 20 + Double(groupIndex % columns) * (groupWidth + groupGap)
            let groupTop = top + Double(groupIndex / columns) * (pictureSize + groupGap)
            for (pictureIndex, picture) in group.enumerated() {
                let left = groupLeft + Double(pictureIndex) * (pictureSize + gap)
                svg += "<rect x=\"\(c(left))\" y=\"\(c(groupTop))\" width=\"\(c(pictureSize))\" height=\"\(c(pictureSize))\" "
                    + "fill=\"#ffffff\" stroke=\"#999999\" stroke-width=\"1\"/>"
                for (valueIndex, value) in picture.prefix(side * side).enumerated() {
                    let fill: String
                    if !value.isFinite {
                        nonFinite += 1
                        fill = "#ff0000"
                    } else {
                        let level = Int((255 * (1 - min(max(value, 0), 1))).rounded())
                        guard level < 250 else { continue }
                        fill = "rgb(\(level),\(level),\(level))"
                    }
                    let x = left + Double(valueIndex % side) * pixel
                    let y = groupTop + Double(valueIndex / side) * pixel
                    svg += "<rect x=\"\(c(x))\" y=\"\(c(y))\" width=\"\(c(pixel))\" height=\"\(c(pixel))\" fill=\"\(fill)\"/>"
                }
            }
        }
        svg += "</g>" + ChartFrame.close
        let notes = nonFinite > 0 ? ["\(nonFinite) values are not finite (drawn red)."] : []
        return RenderedChart(svg: svg, notes: notes, width: frame.width)
    }
}
