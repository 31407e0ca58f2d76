/// A cost model of one round, fitted to measured rounds and used to predict others:
///
///     compute(s)       = c₀ + work / cores(s)                                   (slowest worker's compute)
///     communication(s) = c₁ + perWorker · N(s) + linkBytes(s) / bytesPerSecond(s)   (round minus compute)
///     t(s)             = compute(s) + communication(s)
///
/// for a setting `s`: N workers, `cores` computing at once (N × threads per worker, at most the cores of the
/// machine they share), and the bytes that cross the coordinator's link in a round (every PARAMS and PARTIALS
/// frame with its transport framing) over that link's rate. `work` is core-seconds: one round's computation on
/// one core.
///
/// The bytes term is not fitted: its bytes come from the wire format and its rate is the link's (a tc cap, or a
/// cluster's network), so the rest is fitted to the communication left after it. Each part is a least-squares line
/// with non-negative coefficients, which keeps every coefficient physical (a single fit of noisy round times
/// readily gives negative work or a negative per-worker cost):
///
///     compute       against x = 1 / cores    →  c₀, work
///     communication − bytes / rate  against N  →  c₁, perWorker
public struct ScalingModel: Sendable, Equatable, Codable {
    /// c₀: compute that does not split across cores (per-round set-up of the workers), seconds.
    public var computeLatency: Double
    /// c₁: communication that does not grow with N (a round trip, the reduction, the optimizer step), seconds.
    public var communicationLatency: Double
    /// Core-seconds of one round's computation.
    public var work: Double
    /// Seconds per worker per round (a message each way handled by the coordinator), beyond its bytes.
    public var perWorker: Double

    public init(computeLatency: Double, communicationLatency: Double, work: Double, perWorker: Double) {
        self.computeLatency = computeLatency
        self.communicationLatency = communicationLatency
        self.work = work
        self.perWorker = perWorker
    }

    /// c₀ + c₁.
    public var latency: Double { computeLatency + communicationLatency }

    /// Where a round runs.
    public struct Setting: Sendable, Equatable {
        public var workers: Int
        /// Cores computing at once (> 0).
        public var cores: Double
        /// Bytes crossing the coordinator's link per round.
        public var linkBytes: Double
        /// That link's rate in bytes per second (`.infinity`: no limit, the transfer term is 0).
        public var bytesPerSecond: Double

        public init(workers: Int, cores: Double, linkBytes: Double = 0, bytesPerSecond: Double = .infinity) {
            self.workers = workers
            self.cores = cores
            self.linkBytes = linkBytes
            self.bytesPerSecond = bytesPerSecond
        }

        /// linkBytes / bytesPerSecond.
        public var transferSeconds: Double { bytesPerSecond.isInfinite ? 0 : linkBytes / bytesPerSecond }
    }

    public func computeSeconds(_ setting: Setting) -> Double { computeLatency + work / setting.cores }

    public func communicationSeconds(_ setting: Setting) -> Double {
        communicationLatency + perWorker * Double(setting.workers) + setting.transferSeconds
    }

    /// Predicted seconds per round.
    public func roundSeconds(_ setting: Setting) -> Double { computeSeconds(setting) + communicationSeconds(setting) }

    /// One measured setting: median compute (slowest worker) and communication per round, in seconds.
    public struct Point: Sendable, Equatable {
        public var setting: Setting
        public var compute: Double
        public var communication: Double

        public init(setting: Setting, compute: Double, communication: Double) {
            self.setting = setting
            self.compute = compute
            self.communication = communication
        }
    }

    /// Fits the model; needs finite timings for at least two different worker counts ≥ 1 and positive cores.
    /// Settings that all have the same cores cannot tell c₀ from work: all compute is then taken as work (the
    /// line through the origin), the optimistic reading.
    public static func fit(_ points: [Point]) throws(EngineError) -> ScalingModel {
        guard Set(points.map(\.setting.workers)).count >= 2,
            points.allSatisfy({
                $0.setting.workers >= 1 && $0.setting.cores > 0 && $0.compute.isFinite && $0.communication.isFinite
                    && $0.setting.transferSeconds.isFinite
            })
        else {
            throw .plan("a scaling model needs finite timings for at least two different worker counts (≥ 1)")
        }
        let compute = nonNegativeLine(points.map { (1 / $0.setting.cores, $0.compute) })
        let communication = nonNegativeLine(
            points.map { (Double($0.setting.workers), $0.communication - $0.setting.transferSeconds) })
        return ScalingModel(
            computeLatency: compute.intercept, communicationLatency: communication.intercept, work: compute.slope,
            perWorker: communication.slope)
    }

    /// Least-squares y ≈ intercept + slope·x with both coefficients ≥ 0: a negative slope is set to 0 and the
    /// intercept refitted alone; a negative intercept, or data with a single x (no slope to see), is set to 0 and the
    /// slope refitted alone.
    static func nonNegativeLine(_ data: [(x: Double, y: Double)]) -> (intercept: Double, slope: Double) {
        let n = Double(data.count)
        let meanX = data.reduce(0) { $0 + $1.x } / n
        let meanY = data.reduce(0) { $0 + $1.y } / n
        let sxx = data.reduce(0) { $0 + ($1.x - meanX) * ($1.x - meanX) }
        let sxy = data.reduce(0) { $0 + ($1.x - meanX) * ($1.y - meanY) }
        let throughOrigin = { () -> (intercept: Double, slope: Double) in
            let sx2 = data.reduce(0) { $0 + $1.x * $1.x }
            return (0, sx2 > 0 ? max(0, data.reduce(0) { $0 + $1.x * $1.y } / sx2) : 0)
        }
        guard sxx > 1e-12 * max(1, meanX * meanX) else { return throughOrigin() }
        let slope = sxy / sxx
        if slope < 0 { return (max(meanY, 0), 0) }
        let intercept = meanY - slope * meanX
        return intercept < 0 ? throughOrigin() : (intercept, slope)
    }
}
