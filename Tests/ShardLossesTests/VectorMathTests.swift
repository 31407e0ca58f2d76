import Foundation
import ShardLosses
import ShardNumerics
import Testing
import _TestSupport

extension ShardLossesTests {
    /// The branch-free exp and log1p agree with libm to a few ulp on their whole ranges.
    @Test func vectorMathMatchesLibm() {
        var random = SplitMix64(seed: 51)
        func ulpError(_ ours: Double, _ exact: Double) -> Double {
            exact == 0 ? (ours == 0 ? 0 : .infinity) : abs(ours - exact) / exact.ulp
        }
        var worstExp = 0.0
        var worstLog = 0.0
        var worstExpFloat = 0.0
        var worstLogFloat = 0.0
        let special: [Double] = [0, -0.0, -1e-300, -1e-10, -0.5, -0.34657359, -0.34657360, -1, -87, -700, -708, -708.5, -745, -1000, -.infinity]
        let exps = special + random.uniforms(4000, -30...0) + random.uniforms(2000, -708...0)
        for x in exps {
            let exact = Foundation.exp(x)
            let ours = VectorMath.exp(nonPositive: x)
            if x < -708 {
                #expect(ours == 0 && exact < 3.1e-308, "exp(\(x))")
            } else {
                worstExp = max(worstExp, ulpError(ours, exact))
            }
            let xf = Float(x)
            let exactFloat = Float(Foundation.exp(Double(xf)))
            let oursFloat = VectorMath.exp(nonPositive: xf)
            if xf < -87 {
                #expect(oursFloat == 0, "expf(\(xf))")
            } else {
                worstExpFloat = max(worstExpFloat, exactFloat == 0 ? 0 : Double(abs(oursFloat - exactFloat) / exactFloat.ulp))
            }
        }
        let units: [Double] = [0, 1e-300, 1e-20, 1e-8, 0.5, 1] + random.uniforms(4000, 0...1) + (0..<200).map { Foundation.exp(-Double($0)) }
        for u in units {
            let exact = Foundation.log1p(u)
            worstLog = max(worstLog, ulpError(VectorMath.log1p(unitInterval: u), exact))
            let uf = Float(u)
            let exactFloat = Float(Foundation.log1p(Double(uf)))
            if exactFloat > 0 {
                worstLogFloat = max(worstLogFloat, Double(abs(VectorMath.log1p(unitInterval: uf) - exactFloat) / exactFloat.ulp))
            } else {
                #expect(VectorMath.log1p(unitInterval: uf) == 0)
            }
        }
        #expect(worstExp <= 4, "exp: worst error \(worstExp) ulp")
        #expect(worstLog <= 4, "log1p: worst error \(worstLog) ulp")
        #expect(worstExpFloat <= 4, "expf: worst error \(worstExpFloat) ulp")
        #expect(worstLogFloat <= 4, "log1pf: worst error \(worstLogFloat) ulp")
        #expect(VectorMath.exp(nonPositive: Double.nan).isNaN && VectorMath.log1p(unitInterval: Double.nan).isNaN)
        print("vector math worst errors (ulp): exp \(worstExp), log1p \(worstLog), expf \(worstExpFloat), log1pf \(worstLogFloat)")
    }
}
