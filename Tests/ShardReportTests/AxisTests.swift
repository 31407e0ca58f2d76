import Testing

@testable import ShardReport

@Suite("Axis: domains and ticks")
struct AxisTests {
    @Test("Linear: steps of 1, 2, 5 × 10ᵏ, the ends widened to whole steps")
    func linearTicks() {
        let layout = AxisLayout(values: [0.3, 9.7], axis: Axis("x"))
        #expect(layout.lower == 0 && layout.upper == 10)
        #expect(layout.ticks.map(\.label) == ["0", "2", "4", "6", "8", "10"])
        let small = AxisLayout(values: [0.961, 0.978], axis: Axis("rate"))
        #expect(small.ticks.compactMap(\.label) == ["0.960", "0.965", "0.970", "0.975", "0.980"])
    }

    @Test("Linear: a fixed domain is kept as given")
    func fixedDomain() {
        let layout = AxisLayout(values: [0.5], axis: Axis("rate", domain: 0...1))
        #expect(layout.lower == 0 && layout.upper == 1)
        #expect(layout.ticks.map(\.label) == ["0", "0.2", "0.4", "0.6", "0.8", "1.0"])
    }

    @Test("Linear: a constant curve gets a span around its value, not an empty axis")
    func constantValues() {
        let layout = AxisLayout(values: [5, 5, 5], axis: Axis("y"))
        #expect(layout.lower < 5 && layout.upper > 5)
        #expect(abs(layout.position(5, from: 0, to: 100) - 50) < 1e-9)
        let zero = AxisLayout(values: [0], axis: Axis("y"))
        #expect(zero.lower == -1 && zero.upper == 1)
    }

    @Test("Log: labelled powers of ten, unlabelled 2…9 × 10ᵏ, ends at 1, 2, 5 × 10ᵏ")
    func logarithmicTicks() {
        let layout = AxisLayout(values: [0.003, 20], axis: Axis("y", scale: .logarithmic))
        #expect(layout.lower == 0.002 && layout.upper == 20)
        #expect(layout.ticks.compactMap(\.label) == ["0.01", "0.1", "1", "10"])
        #expect(layout.ticks.contains { $0.value == 0.004 && $0.label == nil })
        #expect(layout.ticks.allSatisfy { $0.value >= 0.002 * (1 - 1e-9) && $0.value <= 20 * (1 + 1e-9) })
    }

    @Test("Log: within two decades the 2 and 5 ticks are labelled")
    func logarithmicNarrow() {
        let layout = AxisLayout(values: [24, 460], axis: Axis("y", scale: .logarithmic))
        #expect(layout.lower == 20 && layout.upper == 500)
        #expect(layout.ticks.compactMap(\.label) == ["20", "50", "100", "200", "500"])
        let factor = AxisLayout(values: [24, 46], axis: Axis("y", scale: .logarithmic))
        #expect(factor.ticks.compactMap(\.label) == ["20", "30", "40", "50"])
    }

    @Test("Log: beyond eight decades every other power is labelled, with superscript exponents")
    func logarithmicWide() {
        let layout = AxisLayout(values: [1e-12, 1], axis: Axis("y", scale: .logarithmic))
        #expect(layout.ticks.compactMap(\.label) == ["10⁻¹²", "10⁻¹⁰", "10⁻⁸", "10⁻⁶", "10⁻⁴", "0.01", "1"])
        #expect(layout.ticks.allSatisfy { $0.label != nil })
    }

    @Test("Log: a single value that is a step gets the steps on either side")
    func logarithmicSingleValue() {
        let layout = AxisLayout(values: [2], axis: Axis("y", scale: .logarithmic))
        #expect(layout.lower == 1 && layout.upper == 5)
    }

    @Test("Log: under a factor of 5 between the ends, labelled linear steps")
    func logarithmicWithinAFactor() {
        let layout = AxisLayout(values: [1.1, 1.15], axis: Axis("y", scale: .logarithmic))
        #expect(layout.lower == 1 && layout.upper == 2)
        #expect(layout.ticks.compactMap(\.label) == ["1.0", "1.2", "1.4", "1.6", "1.8", "2.0"])
    }

    @Test("Integer axes (rounds) never step by less than 1, also for a single round")
    func integerAxis() {
        let one = AxisLayout(values: [1], axis: Axis("round", integer: true))
        #expect(one.lower == 0 && one.upper == 2 && one.ticks.map(\.label) == ["0", "1", "2"])
        let few = AxisLayout(values: [1, 3], axis: Axis("round", integer: true))
        #expect(few.ticks.map(\.label) == ["1", "2", "3"])
    }

    @Test("Positions: linear in the value, or in its log₁₀")
    func positions() {
        let linear = AxisLayout(values: [], axis: Axis("x", domain: 0...10))
        #expect(linear.position(2.5, from: 100, to: 500) == 200)
        let log = AxisLayout(values: [], axis: Axis("y", scale: .logarithmic, domain: 1...100))
        #expect(abs(log.position(10, from: 300, to: 100) - 200) < 1e-9)
    }
}
