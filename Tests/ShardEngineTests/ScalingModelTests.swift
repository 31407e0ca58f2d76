import ShardEngine
import Testing

@Suite("Scaling model")
struct ScalingModelTests {
    typealias Setting = ScalingModel.Setting

    /// Exact timings of `model` at `settings`.
    static func points(_ model: ScalingModel, _ settings: [Setting]) -> [ScalingModel.Point] {
        settings.map {
            ScalingModel.Point(setting: $0, compute: model.computeSeconds($0), communication: model.communicationSeconds($0))
        }
    }

    static func close(_ a: Double, _ b: Double, relative: Double = 1e-9) -> Bool {
        abs(a - b) <= relative * max(abs(a), abs(b), 1e-12)
    }

    @Test("known coefficients are recovered from exact timings, the bytes term included, and predict an unseen setting")
    func recoversKnownCoefficients() throws {
        let truth = ScalingModel(computeLatency: 1e-4, communicationLatency: 3e-4, work: 8e-3, perWorker: 5e-5)
        // 100 Mbit/s links, the bytes of a round growing with N as PARAMS and PARTIALS frames do.
        let rate = 12.5e6
        let settings = [1, 2, 4, 8].map {
            Setting(workers: $0, cores: Double($0), linkBytes: Double(20_000 * $0 + 7_000), bytesPerSecond: rate)
        }
        let fitted = try ScalingModel.fit(Self.points(truth, settings))
        #expect(Self.close(fitted.computeLatency, 1e-4))
        #expect(Self.close(fitted.communicationLatency, 3e-4))
        #expect(Self.close(fitted.work, 8e-3))
        #expect(Self.close(fitted.perWorker, 5e-5))
        // N = 32 on 32 cores: 4e-4 + 8e-3/32 + 5e-5·32 + (20000·32 + 7000)/12.5e6 = 4e-4 + 2.5e-4 + 1.6e-3 + 0.05176.
        let large = Setting(workers: 32, cores: 32, linkBytes: 647_000, bytesPerSecond: rate)
        #expect(Self.close(large.transferSeconds, 0.05176))
        #expect(Self.close(fitted.roundSeconds(large), 4e-4 + 2.5e-4 + 1.6e-3 + 0.05176))
    }

    @Test("fitted on 1 and 2 workers, the model predicts 3 and 4 workers sharing 2 cores exactly")
    func fitSmallPredictLarge() throws {
        let truth = ScalingModel(computeLatency: 2e-4, communicationLatency: 1e-3, work: 0.02, perWorker: 4e-4)
        let machine = { (n: Int) in Setting(workers: n, cores: Double(min(n, 2)), linkBytes: 1_000 * Double(n), bytesPerSecond: 1.25e8) }
        let fitted = try ScalingModel.fit(Self.points(truth, [machine(1), machine(2)]))
        for n in [3, 4] {
            #expect(Self.close(fitted.roundSeconds(machine(n)), truth.roundSeconds(machine(n))))
        }
        // Past two workers only the per-worker cost and the bytes grow: 4 workers are slower than 2.
        #expect(fitted.roundSeconds(machine(4)) > fitted.roundSeconds(machine(2)))
    }

    @Test("random models are recovered (property, 200 seeded cases)")
    func randomModels() throws {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func uniform() -> Double {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(state >> 11) / Double(1 << 53)
        }
        for _ in 0..<200 {
            let truth = ScalingModel(
                computeLatency: uniform() * 1e-3, communicationLatency: uniform() * 1e-3, work: uniform() * 0.1,
                perWorker: uniform() * 1e-3)
            let rate = uniform() < 0.3 ? Double.infinity : 1e6 + uniform() * 1e9
            let settings = [1, 2, 3].map {
                Setting(workers: $0, cores: Double($0 * 2), linkBytes: uniform() * 1e6, bytesPerSecond: rate)
            }
            let fitted = try ScalingModel.fit(Self.points(truth, settings))
            #expect(abs(fitted.work - truth.work) <= 1e-9 * max(truth.work, 1e-3))
            #expect(abs(fitted.perWorker - truth.perWorker) <= 1e-9)
            #expect(abs(fitted.latency - truth.latency) <= 1e-9)
        }
    }

    @Test("coefficients stay non-negative on noisy timings; equal cores put all compute in work; bad input is refused")
    func nonNegativeAndRefusals() throws {
        // Communication that falls with N (noise) must not give a negative per-worker cost.
        let noisy = try ScalingModel.fit([
            ScalingModel.Point(setting: Setting(workers: 1, cores: 1), compute: 0.2, communication: 0.16),
            ScalingModel.Point(setting: Setting(workers: 2, cores: 2), compute: 0.11, communication: 0.27),
            ScalingModel.Point(setting: Setting(workers: 3, cores: 2), compute: 0.10, communication: 0.25),
        ])
        #expect(noisy.computeLatency >= 0 && noisy.communicationLatency >= 0 && noisy.work >= 0 && noisy.perWorker >= 0)
        // Every run on the same 2 cores: c₀ and work cannot be told apart; all of it is work (0.1 s × 2 cores).
        let flat = try ScalingModel.fit([
            ScalingModel.Point(setting: Setting(workers: 2, cores: 2), compute: 0.1, communication: 0.02),
            ScalingModel.Point(setting: Setting(workers: 3, cores: 2), compute: 0.1, communication: 0.03),
        ])
        #expect(flat.computeLatency == 0 && Self.close(flat.work, 0.2))
        #expect(Self.close(flat.perWorker, 0.01, relative: 1e-12) && flat.communicationLatency < 1e-12)
        #expect(throws: EngineError.self) {
            try ScalingModel.fit([ScalingModel.Point(setting: Setting(workers: 2, cores: 2), compute: 1, communication: 1)])
        }
        #expect(throws: EngineError.self) {
            try ScalingModel.fit([
                ScalingModel.Point(setting: Setting(workers: 1, cores: 1), compute: .nan, communication: 1),
                ScalingModel.Point(setting: Setting(workers: 2, cores: 2), compute: 1, communication: 1),
            ])
        }
        #expect(throws: EngineError.self) {
            try ScalingModel.fit([
                ScalingModel.Point(setting: Setting(workers: 1, cores: 0), compute: 1, communication: 1),
                ScalingModel.Point(setting: Setting(workers: 2, cores: 2), compute: 1, communication: 1),
            ])
        }
    }
}
