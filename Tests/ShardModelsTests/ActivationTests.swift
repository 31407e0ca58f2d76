#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ShardModels
import Testing

/// The vectorisable Float tanh of the float32 embedding path against libm's Double tanh.
@Suite("Activations")
struct ActivationTests {
    @Test("Activation.tanh(Float) is within 1 ulp of tanh over [-12, 12], tiny and huge arguments; odd; NaN stays NaN")
    func floatTanh() {
        var arguments: [Float] = (0...24_000).map { Float($0 - 12_000) / 1_000 }
        let boundary: Float = 0x1p-6
        arguments += [0, -0.0, 1e-30, 1e-8, 3e-5, boundary, boundary.nextDown, boundary.nextUp, 0.5, 9, 20, 90, 1e30]
        arguments.append(.infinity)
        arguments += [.leastNonzeroMagnitude, .greatestFiniteMagnitude]
        var worst: Float = 0
        for x in arguments {
            let exact = tanh(Double(x))
            let actual = Activation.tanh(x)
            let ulp = Float(exact).ulp
            worst = max(worst, Float(abs(Double(actual) - exact)) / ulp)
            #expect(Activation.tanh(-x) == -actual, "odd at \(x)")
        }
        #expect(worst <= 1, "worst error \(worst) ulp")
        #expect(Activation.tanh(.nan).isNaN)
        #expect(Activation.tanh(0).sign == .plus && Activation.tanh(-0.0).sign == .minus)
    }
}
