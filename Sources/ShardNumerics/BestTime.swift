/// The timing rule of the `bench` commands: one untimed warm-up run of `body`, then the shortest of
/// `repetitions` timed runs (ContinuousClock), in seconds.
public enum BestTime {
    public static func seconds<E: Error>(of repetitions: Int, _ body: () throws(E) -> Void) throws(E) -> Double {
        try body()
        let clock = ContinuousClock()
        var best = Double.infinity
        for _ in 0..<repetitions {
            let start = clock.now
            try body()
            let elapsed = start.duration(to: clock.now).components
            best = min(best, Double(elapsed.seconds) + Double(elapsed.attoseconds) * 1e-18)
        }
        return best
    }
}
