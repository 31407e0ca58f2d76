/// The timing rule of the `bench` commands: one untimed warm-up run of `body`, then the shortest of
/// `repetitions` timed runs (ContinuousClock), in seconds.
public enum BestTime {
    public static func seconds<E: Error>(of repetitions: Int, _ body: () throws(E) -> Void) throws(E) -> Double {
        try body()
        var best = Double.infinity
        for _ in 0..<repetitions { best = min(best, try once(body)) }
        return best
    }

    /// The wall time of one run of `body`, in seconds (no warm-up).
    public static func once<E: Error>(_ body: () throws(E) -> Void) throws(E) -> Double {
        let clock = ContinuousClock()
        let start = clock.now
        try body()
        let elapsed = start.duration(to: clock.now).components
        return Double(elapsed.seconds) + Double(elapsed.attoseconds) * 1e-18
    }
}
