import Foundation

/// How values map to positions along an axis.
public enum AxisScale: Sendable, Equatable {
    case linear
    /// `log₁₀`: only positive values can be shown (others are left out and counted in the chart's note).
    case logarithmic
}

/// One axis of a chart: its label (with the unit, e.g. "seconds per round"), its scale, and optionally a fixed
/// domain (e.g. `0...1` for rates); without one the domain is the data's, widened to whole ticks.
public struct Axis: Sendable, Equatable {
    public var label: String
    public var scale: AxisScale
    public var domain: ClosedRange<Double>?
    /// Whether only whole numbers mean something (rounds, worker counts): linear steps are then at least 1.
    public var integer: Bool

    public init(_ label: String, scale: AxisScale = .linear, domain: ClosedRange<Double>? = nil, integer: Bool = false) {
        self.label = label
        self.scale = scale
        self.domain = domain
        self.integer = integer
    }
}

/// A tick: where it is (a data value) and its label (nil for an unlabelled minor tick).
public struct Tick: Sendable, Equatable {
    public let value: Double
    public let label: String?
}

/// The data values an axis spans and its ticks, chosen from the finite values it has to show.
public struct AxisLayout: Sendable, Equatable {
    public let scale: AxisScale
    /// The values at the two ends of the axis (lower < upper; positive for a logarithmic axis).
    public let lower: Double
    public let upper: Double
    public let ticks: [Tick]

    /// `values` must be finite (and positive for a logarithmic axis); an empty list gives the domain 0…1 (or 1…10).
    ///
    /// Linear: the step is 1, 2 or 5 × 10ᵏ giving about five intervals over the values' range, and the ends are the
    /// multiples of the step at or beyond the smallest and largest value. A single value v is shown in the middle of
    /// v ± |v|/10's ticks (±1 for 0). Logarithmic: the ends are the nearest of 1, 2, 5 × 10ᵏ at or beyond the values (the
    /// next ones out for a single value); a tick at every power of ten (every 2nd, 3rd, … beyond eight decades),
    /// unlabelled ticks at 2…9 × 10ᵏ up to five decades, labelled at 2 and 5 × 10ᵏ up to two decades; under a factor of
    /// 5 between the ends, labelled linear steps instead. An `integer` axis steps by 1 at least.
    public init(values: [Double], axis: Axis) {
        scale = axis.scale
        switch axis.scale {
        case .linear:
            var low = values.min() ?? 0
            var high = values.max() ?? 1
            if let domain = axis.domain {
                (low, high) = (domain.lowerBound, domain.upperBound)
            } else if low == high {
                let spread = low == 0 || axis.integer ? 1 : abs(low) / 10
                (low, high) = (low - spread, high + spread)
            }
            let step = axis.integer ? max(1, Self.niceStep((high - low) / 5)) : Self.niceStep((high - low) / 5)
            if axis.domain == nil {
                low = (low / step).rounded(.down) * step
                high = (high / step).rounded(.up) * step
            }
            lower = low
            upper = high > low ? high : low + step
            let decimals = max(0, -Int((log10(step)).rounded(.down)))
            let first = Int((lower / step - 1e-9).rounded(.up))
            let last = Int((upper / step + 1e-9).rounded(.down))
            ticks = (first...max(first, last)).map { index in
                let value = Double(index) * step
                return Tick(value: value, label: Self.linearLabel(value, decimals: decimals, step: step))
            }
        case .logarithmic:
            var low = values.min() ?? 1
            var high = values.max() ?? 10
            if let domain = axis.domain, domain.lowerBound > 0 { (low, high) = (domain.lowerBound, domain.upperBound) }
            var lower = Self.stepBelow(low)
            var upper = Self.stepAbove(high)
            if lower >= upper { (lower, upper) = (Self.stepBelow(lower * 0.99), Self.stepAbove(upper * 1.01)) }
            self.lower = lower
            self.upper = upper
            let lowExponent = Int(log10(lower).rounded(.down))
            let highExponent = Int(log10(upper).rounded(.up))
            let decades = log10(upper / lower)
            let stride = max(1, Int((decades / 8).rounded(.up)))
            let inside = { (value: Double) in value >= lower * (1 - 1e-9) && value <= upper * (1 + 1e-9) }
            var ticks: [Tick] = []
            guard decades >= 0.7 else {
                // Less than a factor of 5 (e.g. 1…2): labelled linear steps, placed logarithmically.
                let step = Self.niceStep((upper - lower) / 5)
                let decimals = max(0, -Int(log10(step).rounded(.down)))
                let first = Int((lower / step - 1e-9).rounded(.up))
                let last = Int((upper / step + 1e-9).rounded(.down))
                self.ticks = (first...max(first, last)).map { index in
                    Tick(value: Double(index) * step, label: Self.linearLabel(Double(index) * step, decimals: decimals, step: step))
                }
                return
            }
            for exponent in lowExponent...highExponent {
                let power = Self.power(exponent)
                if (exponent - lowExponent) % stride == 0, inside(power) {
                    ticks.append(Tick(value: power, label: Self.powerLabel(exponent)))
                }
                guard decades <= 5 else { continue }
                for multiple in 2...9 where inside(Double(multiple) * power) {
                    let labelled = decades <= 2 && (multiple == 2 || multiple == 5)
                    ticks.append(
                        Tick(value: Double(multiple) * power, label: labelled ? Self.decimalLabel(Double(multiple) * power, exponent: exponent) : nil))
                }
            }
            self.ticks = ticks
        }
    }

    /// The largest of 1, 2, 5 × 10ᵏ at or below `value` (> 0).
    static func stepBelow(_ value: Double) -> Double {
        let power = Self.power(Int(log10(value).rounded(.down)))
        for multiple in [5.0, 2, 1] where multiple * power <= value * (1 + 1e-12) { return multiple * power }
        return power / 2
    }

    /// The smallest of 1, 2, 5 × 10ᵏ at or above `value` (> 0).
    static func stepAbove(_ value: Double) -> Double {
        let power = Self.power(Int(log10(value).rounded(.down)))
        for multiple in [1.0, 2, 5, 10] where multiple * power >= value * (1 - 1e-12) { return multiple * power }
        return 10 * power
    }

    /// The position of `value` between `from` (at `lower`) and `to` (at `upper`): linear in the value or in its log₁₀.
    public func position(_ value: Double, from start: Double, to end: Double) -> Double {
        let fraction: Double
        switch scale {
        case .linear: fraction = (value - lower) / (upper - lower)
        case .logarithmic: fraction = (log10(value) - log10(lower)) / (log10(upper) - log10(lower))
        }
        return start + fraction * (end - start)
    }

    /// Whether `value` can be drawn on this axis (finite; positive on a logarithmic one).
    public func canShow(_ value: Double) -> Bool {
        value.isFinite && (scale == .linear || value > 0)
    }

    /// 1, 2 or 5 × 10ᵏ: the smallest at least `rough` (1 for a non-positive or non-finite `rough`).
    static func niceStep(_ rough: Double) -> Double {
        guard rough.isFinite, rough > 0 else { return 1 }
        let exponent = log10(rough).rounded(.down)
        let base = pow(10, exponent)
        for multiple in [1.0, 2, 5, 10] where multiple * base >= rough * (1 - 1e-12) { return multiple * base }
        return 10 * base
    }

    static func power(_ exponent: Int) -> Double { pow(10, Double(exponent)) }

    /// `0.001` … `10000` written out, other powers as 10 with a superscript exponent (`10⁻⁶`).
    static func powerLabel(_ exponent: Int) -> String {
        if (-3...4).contains(exponent) { return decimalLabel(power(exponent), exponent: exponent) }
        let superscripts: [Character: Character] = [
            "-": "⁻", "0": "⁰", "1": "¹", "2": "²", "3": "³", "4": "⁴", "5": "⁵", "6": "⁶", "7": "⁷", "8": "⁸", "9": "⁹",
        ]
        return "10" + String(String(exponent).map { superscripts[$0]! })
    }

    /// `value` (a multiple of 10^`exponent`) with just the decimals it needs.
    static func decimalLabel(_ value: Double, exponent: Int) -> String {
        String(format: "%.\(max(0, -exponent))f", value)
    }

    /// A linear tick value: fixed decimals for the step, or scientific notation for very large or small steps.
    static func linearLabel(_ value: Double, decimals: Int, step: Double) -> String {
        if value == 0 { return "0" }
        if step >= 1e6 || step < 1e-4 { return String(format: "%.1e", value) }
        return String(format: "%.\(decimals)f", value)
    }
}
