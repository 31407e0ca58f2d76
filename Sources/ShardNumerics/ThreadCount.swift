import CShardSystem

/// How many threads a process computes blocks with.
///
/// ```
/// requested 0   every CPU this process may run on (sched_getaffinity: honours taskset and cpusets)
/// requested n   n
/// ```
/// The count never changes results: blocks are computed independently and reduced by block id.
public enum ThreadCount {
    /// CPUs this process may run on (at least 1).
    public static var availableCores: Int { Int(shardtrain_available_cpus()) }

    /// `requested`, or every available core for 0. Negative counts are the caller's validation to refuse.
    public static func resolve(_ requested: Int) -> Int {
        requested > 0 ? requested : availableCores
    }

    /// Threads for each of `processes` processes sharing this machine's cores (local workers): the
    /// explicit `requested`, or an equal share of the cores for 0 (at least 1 each), so N local workers do
    /// not start N × cores threads on the same cores.
    public static func share(_ requested: Int, among processes: Int) -> Int {
        requested > 0 ? requested : max(1, availableCores / max(1, processes))
    }
}
