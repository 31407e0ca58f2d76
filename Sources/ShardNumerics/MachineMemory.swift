#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The memory a new allocation of this process can get, so that sizes read from flags, job specs and files are
/// checked against it before anything is allocated (an allocation beyond it ends in a trap or the OOM killer).
///
/// ```text
/// available = min(MemAvailable of /proc/meminfo, cgroup v2 memory.max − memory.current)
///             physical memory (sysconf) where /proc/meminfo cannot be read
/// ```
public struct MachineMemory: Sendable, Equatable {
    public var availableBytes: Int
    /// Where `availableBytes` comes from, for messages ("MemAvailable", "the cgroup's memory.max", …).
    public var source: String

    public init(availableBytes: Int, source: String) {
        self.availableBytes = availableBytes
        self.source = source
    }

    /// This machine's figure now (read on every call: it changes as other processes run).
    public static func current() -> MachineMemory {
        var best: MachineMemory
        if let text = readSmallFile("/proc/meminfo"), let available = availableBytes(meminfo: text) {
            best = MachineMemory(availableBytes: available, source: "MemAvailable in /proc/meminfo")
        } else {
            let pages = sysconf(Int32(_SC_PHYS_PAGES)), pageSize = sysconf(Int32(_SC_PAGESIZE))
            let (bytes, overflow) = Int(max(pages, 0)).multipliedReportingOverflow(by: Int(max(pageSize, 0)))
            best = MachineMemory(availableBytes: overflow ? .max : bytes, source: "physical memory")
        }
        if let limit = readSmallFile("/sys/fs/cgroup/memory.max").flatMap(firstInteger),
            let used = readSmallFile("/sys/fs/cgroup/memory.current").flatMap(firstInteger),
            limit - used < best.availableBytes
        {
            best = MachineMemory(availableBytes: max(0, limit - used), source: "the cgroup's memory.max")
        }
        return best
    }

    /// `MemAvailable:  12345 kB` of a `/proc/meminfo` text, in bytes (nil when absent or malformed).
    public static func availableBytes(meminfo: String) -> Int? {
        for line in meminfo.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count == 3, fields[2] == "kB", let kibibytes = Int(fields[1]), kibibytes >= 0 else { return nil }
            let (bytes, overflow) = kibibytes.multipliedReportingOverflow(by: 1024)
            return overflow ? .max : bytes
        }
        return nil
    }

    /// nil when `bytes` fit; otherwise the reason, e.g. `needs 54.4 GB, this machine has 21.9 GB available
    /// (MemAvailable in /proc/meminfo)`. `bytes` nil means beyond `Int.max` (the arithmetic overflowed).
    public func shortfall(needing bytes: Int?) -> String? {
        if let bytes, bytes <= availableBytes { return nil }
        let needed = bytes.map(Self.describe(bytes:)) ?? "more than 9.2 EB"
        return "needs \(needed), this machine has \(Self.describe(bytes: availableBytes)) available (\(source))"
    }

    /// Bytes in decimal units, rounded to three significant digits: `512 B`, `1.5 kB`, `54.4 GB`.
    public static func describe(bytes: Int) -> String {
        let units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"]
        var value = Double(bytes), unit = 0
        while value >= 1000, unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        if unit == 0 { return "\(bytes) B" }
        let digits = value >= 100 ? 0 : value >= 10 ? 1 : 2
        let scale = [1.0, 10, 100][digits]
        let rounded = (value * scale).rounded() / scale
        return (digits == 0 ? "\(Int(rounded))" : "\(rounded)") + " " + units[unit]
    }

    /// The integer a cgroup file starts with (nil for `max`, the cgroup without a limit).
    private static func firstInteger(_ text: String) -> Int? {
        text.split(whereSeparator: \.isWhitespace).first.flatMap { Int($0) }
    }

    /// The first 64 KiB of a small system file, or nil when it cannot be opened.
    private static func readSmallFile(_ path: String) -> String? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes = [UInt8](repeating: 0, count: 65_536)
        let count = bytes.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        return String(decoding: bytes[0..<count], as: UTF8.self)
    }
}

/// Sizes multiplied and added with overflow checks: nil instead of a trap when the result exceeds `Int.max`.
public enum CheckedSize {
    /// Π factors (1 for none); nil on overflow or a negative factor.
    public static func product(_ factors: [Int]) -> Int? {
        var result = 1
        for factor in factors {
            guard factor >= 0 else { return nil }
            let (next, overflow) = result.multipliedReportingOverflow(by: factor)
            if overflow { return nil }
            result = next
        }
        return result
    }

    /// Σ terms; nil on overflow or when a term is nil.
    public static func sum(_ terms: [Int?]) -> Int? {
        var result = 0
        for term in terms {
            guard let term else { return nil }
            let (next, overflow) = result.addingReportingOverflow(term)
            if overflow { return nil }
            result = next
        }
        return result
    }
}
