/// Colours and line patterns that stay apart for colour-blind readers and in greyscale print.
///
/// Colours: Okabe & Ito (2008), "Color Universal Design", in the order blue, vermillion, bluish green, reddish
/// purple, orange, sky blue, black, and grey in place of their yellow (too light on white paper). Lines also differ by
/// dash pattern and points by shape, so series stay apart without colour.
public enum Palette {
    public static let colours = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#888888"]
    /// SVG `stroke-dasharray` values, cycled after the colours (series 9 is blue and dashed).
    static let dashes = ["", "7 4", "2 3", "9 3 2 3"]

    public static func colour(_ index: Int) -> String { colours[index % colours.count] }

    static func dash(_ index: Int) -> String { dashes[(index / colours.count + index) % dashes.count] }

    /// Point shapes, cycled: circle, square, triangle, diamond, plus, cross.
    static let shapeCount = 6

    /// An SVG element drawing shape `index % shapeCount` of radius `r` centred at (x, y) in `colour`.
    static func shape(_ index: Int, x: Double, y: Double, r: Double, colour: String) -> String {
        let (cx, cy) = (Markup.coordinate(x), Markup.coordinate(y))
        let c = Markup.coordinate
        switch index % shapeCount {
        case 0:
            return "<circle cx=\"\(cx)\" cy=\"\(cy)\" r=\"\(c(r))\" fill=\"\(colour)\"/>"
        case 1:
            return "<rect x=\"\(c(x - r))\" y=\"\(c(y - r))\" width=\"\(c(2 * r))\" height=\"\(c(2 * r))\" fill=\"\(colour)\"/>"
        case 2:
            return "<polygon points=\"\(c(x)),\(c(y - 1.2 * r)) \(c(x + 1.1 * r)),\(c(y + 0.8 * r)) \(c(x - 1.1 * r)),\(c(y + 0.8 * r))\" fill=\"\(colour)\"/>"
        case 3:
            return "<polygon points=\"\(c(x)),\(c(y - 1.3 * r)) \(c(x + 1.3 * r)),\(cy) \(c(x)),\(c(y + 1.3 * r)) \(c(x - 1.3 * r)),\(cy)\" fill=\"\(colour)\"/>"
        case 4:
            return "<path d=\"M\(c(x - 1.2 * r)) \(cy)H\(c(x + 1.2 * r))M\(cx) \(c(y - 1.2 * r))V\(c(y + 1.2 * r))\" stroke=\"\(colour)\" stroke-width=\"1.8\"/>"
        default:
            return "<path d=\"M\(c(x - r)) \(c(y - r))L\(c(x + r)) \(c(y + r))M\(c(x - r)) \(c(y + r))L\(c(x + r)) \(c(y - r))\" stroke=\"\(colour)\" stroke-width=\"1.8\"/>"
        }
    }

    /// A sequential scale for counts and rates in [0, 1]: white to dark blue, equal steps in lightness (prints
    /// in greyscale as light to dark).
    static func sequential(_ fraction: Double) -> String {
        let t = min(max(fraction.isFinite ? fraction : 0, 0), 1)
        let (r, g, b) = (255 - t * (255 - 8), 255 - t * (255 - 48), 255 - t * (255 - 107))
        return "rgb(\(Int(r.rounded())),\(Int(g.rounded())),\(Int(b.rounded())))"
    }
}
