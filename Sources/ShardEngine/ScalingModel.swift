/// A cost model of one round as a function of the number of workers N, fitted to measurements:
///
///     t(N) = latency + work / N + perWorker · N
///
/// It is fitted in two parts, each by least squares with non-negative coefficients:
///
///     compute(N)       = c₀ + work / N            (slowest worker's compute: the part that splits)
///     communication(N) = c₁ + perWorker · N       (round minus compute: messages, reduction, step)
///     latency          = c₀ + c₁
///
/// Fitting the parts separately keeps every coefficient physical (a single 3-parameter fit of noisy round
/// times readily gives negative work or negative per-worker cost).
public struct ScalingModel: Sendable, Equatable, Codable {
    public var latency: Double
    public var work: Double
    public var perWorker: Double

    public init(latency: Double, work: Double, perWorker: Double) {
        self.latency = latency
        self.work = work
        self.perWorker = perWorker
    }

    /// Predicted seconds per round with `workers` workers.
    public func roundSeconds(workers: Int) -> Double {
        let n = Double(workers)
        return latency + work / n + perWorker * n
    }

    /// One measured worker count: median compute (slowest worker) and communication per round, in seconds.
    public struct Point: Sendable, Equatable {
        public var workers: Int
        public var compute: Double
        public var communication: Double

        public init(workers: Int, compute: Double, communication: Double) {
            self.workers = workers
            self.compute = compute
            self.communication = communication
        }
    }

    /// Fits the model; needs finite timings for at least two different worker counts ≥ 1.
    public static func fit(_ points: [Point]) throws(EngineError) -> ScalingModel {
        guard Set(points.map(\.workers)).count >= 2,
            points.allSatisfy({ $0.workers >= 1 && $0.compute.isFinite && $0.communication.isFinite })
        else {
            throw .plan("a scaling model needs finite timings for at least two different worker counts (≥ 1)")
        }
        let compute = nonNegativeLine(points.map { (1 / Double($0.workers), $0.compute) })
        let communication = nonNegativeLine(points.map { (Double($0.workers), $0.communication) })
        return ScalingModel(
            latency: compute.intercept + communication.intercept, work: compute.slope, perWorker: communication.slope)
    }

    /// Least-squares y ≈ intercept + slope·x with both coefficients ≥ 0 (a negative one is set to 0 and the
    /// other refitted alone).
    static func nonNegativeLine(_ data: [(x: Double, y: Double)]) -> (intercept: Double, slope: Double) {
        let n = Double(data.count)
        let meanX = data.reduce(0) { $0 + $1.x } / n
        let meanY = data.reduce(0) { $0 + $1.y } / n
        let sxx = data.reduce(0) { $0 + ($1.x - meanX) * ($1.x - meanX) }
        let sxy = data.reduce(0) { $0 + ($1.x - meanX) * ($1.y - meanY) }
        var slope = sxx > 0 ? sxy / sxx : 0
        var intercept = meanY - slope * meanX
        if slope < 0 {
            slope = 0
            intercept = meanY
        }
        if intercept < 0 {
            intercept = 0
            let sx2 = data.reduce(0) { $0 + $1.x * $1.x }
            slope = sx2 > 0 ? max(0, data.reduce(0) { $0 + $1.x * $1.y } / sx2) : 0
        }
        return (max(intercept, 0), slope)
    }
}
