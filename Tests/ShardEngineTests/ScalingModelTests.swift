import ShardEngine
import Testing

@Suite("Scaling model")
struct ScalingModelTests {
    @Test("an exact cost curve is recovered from its compute and communication parts")
    func recoversExactModel() throws {
        let points = [1, 2, 3, 4].map {
            ScalingModel.Point(workers: $0, compute: 1e-4 + 8e-3 / Double($0), communication: 1e-4 + 5e-5 * Double($0))
        }
        let fitted = try ScalingModel.fit(points)
        #expect(abs(fitted.latency - 2e-4) < 1e-12)
        #expect(abs(fitted.work - 8e-3) < 1e-12)
        #expect(abs(fitted.perWorker - 5e-5) < 1e-12)
        #expect(abs(fitted.roundSeconds(workers: 16) - (2e-4 + 8e-3 / 16 + 5e-5 * 16)) < 1e-12)
    }

    @Test("coefficients stay non-negative on noisy timings; one worker count is refused")
    func nonNegative() throws {
        // Communication that falls with N (noise) must not give a negative per-worker cost.
        let fitted = try ScalingModel.fit([
            ScalingModel.Point(workers: 1, compute: 0.2, communication: 0.16),
            ScalingModel.Point(workers: 2, compute: 0.11, communication: 0.27),
            ScalingModel.Point(workers: 3, compute: 0.10, communication: 0.25),
        ])
        #expect(fitted.latency >= 0 && fitted.work >= 0 && fitted.perWorker >= 0)
        #expect(throws: EngineError.self) {
            try ScalingModel.fit([ScalingModel.Point(workers: 2, compute: 1, communication: 1)])
        }
        #expect(throws: EngineError.self) {
            try ScalingModel.fit([
                ScalingModel.Point(workers: 1, compute: .nan, communication: 1),
                ScalingModel.Point(workers: 2, compute: 1, communication: 1),
            ])
        }
    }
}
