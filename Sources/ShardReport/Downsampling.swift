/// A point of a chart in data units.
public struct ChartPoint: Sendable, Equatable {
    public var x: Double
    public var y: Double

    public init(_ x: Double, _ y: Double) {
        self.x = x
        self.y = y
    }
}

/// Fewer points that draw the same picture, chosen by position only (the same input gives the same output).
public enum Downsampling {
    /// A curve of at most `maximum` points (`maximum ≥ 4`): the first and the last point, and of the points between
    /// cut into ⌊(maximum − 2)/2⌋ runs of consecutive points of (nearly) equal length, the lowest and the highest of each
    /// run, in their original order. The extremes of every run stay, so spikes and the curve's envelope survive.
    public static func envelope(_ points: [ChartPoint], maximum: Int) -> [ChartPoint] {
        precondition(maximum >= 4)
        guard points.count > maximum else { return points }
        let inner = points.count - 2
        let runs = (maximum - 2) / 2
        var kept = [points[0]]
        for run in 0..<runs {
            let start = 1 + run * inner / runs
            let end = 1 + (run + 1) * inner / runs
            guard start < end else { continue }
            var lowest = start
            var highest = start
            for index in start..<end {
                if points[index].y < points[lowest].y { lowest = index }
                if points[index].y > points[highest].y { highest = index }
            }
            for index in Set([lowest, highest]).sorted() { kept.append(points[index]) }
        }
        kept.append(points[points.count - 1])
        return kept
    }

    /// Every ⌈count/maximum⌉-th point from the first: at most `maximum` of a cloud of points whose order carries no
    /// meaning (a scatter plot).
    public static func stride(_ points: [ChartPoint], maximum: Int) -> [ChartPoint] {
        precondition(maximum >= 1)
        guard points.count > maximum else { return points }
        let step = (points.count + maximum - 1) / maximum
        return Swift.stride(from: 0, to: points.count, by: step).map { points[$0] }
    }
}
