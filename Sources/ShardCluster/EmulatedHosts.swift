import CShardSystem
import Foundation
import ShardProtocol
import Synchronization

/// The network of emulated hosts on one Linux machine: one network namespace per host (the coordinator's and one
/// per worker), each joined by a veth pair to a bridge that lives in a namespace of its own (the switch), and
/// every veth end capped by a `tc tbf` token bucket at the link's rate, so both directions of every link are
/// capped and the coordinator's link is shared by all its workers, as on a star network. The root namespace is
/// never touched: every device is made inside the run's namespaces (`ip -n`, `veth … peer … netns`).
///
///     st-<pid>-c  eth0 198.18.X.1 ──veth── p0 ┐
///     st-<pid>-w1 eth0 198.18.X.2 ──veth── p1 ├ br0 in st-<pid>-b
///     st-<pid>-wN eth0 198.18.X.N+1 ─veth─ pN ┘
///
/// Addresses come from 198.18.0.0/15 (RFC 2544, set aside for benchmarking networks), a /24 that no route of the
/// root namespace overlaps; they exist only inside the namespaces, so nothing outside them can reach them.
/// Latency cannot be added honestly: netem (the qdisc that delays) is missing on these kernels, and tbf's
/// `latency` only bounds how long a packet may queue.
public struct EmulatedHostsPlan: Sendable, Equatable {
    /// `st-<pid>`: every namespace of the run starts with it.
    public let prefix: String
    /// Worker hosts (the coordinator's host comes on top).
    public let hosts: Int
    /// The rate of every link, bits per second.
    public let bitsPerSecond: Int
    /// The first three octets of the /24, e.g. "198.18.0".
    public let subnet: String

    /// The most worker hosts one /24 holds (.1 is the coordinator's).
    public static let maximumHosts = 253

    public init(prefix: String, hosts: Int, bitsPerSecond: Int, subnet: String) {
        self.prefix = prefix
        self.hosts = hosts
        self.bitsPerSecond = bitsPerSecond
        self.subnet = subnet
    }

    public var bridgeNamespace: String { "\(prefix)-b" }
    public var coordinatorNamespace: String { "\(prefix)-c" }
    /// Worker host `k`, 1 ... hosts.
    public func workerNamespace(_ k: Int) -> String { "\(prefix)-w\(k)" }
    public var coordinatorAddress: String { "\(subnet).1" }
    public func workerAddress(_ k: Int) -> String { "\(subnet).\(k + 1)" }
    /// Every namespace of the run, the bridge's first.
    public var namespaces: [String] { [bridgeNamespace, coordinatorNamespace] + (1...max(hosts, 1)).map(workerNamespace) }

    /// The token bucket's depth: what may pass at once after a pause, at line speed instead of the rate. Two
    /// full Ethernet frames (2 × 1514 bytes): a bucket smaller than one frame would pass nothing, and a deeper one
    /// lets whole small messages through unthrottled (a 12.5 KB bucket — 1 ms at 100 Mbit/s — would pass a 10 KB
    /// PARAMS frame after every pause in no time). At 1 Gbit/s it still carries 907 Mbit/s of TCP payload here.
    public var burstBytes: Int { 2 * 1514 }

    /// `tc` arguments that cap `device` in `namespace` (its egress) at the rate; the queue may hold 500 ms of it,
    /// so a round's burst of frames waits rather than being dropped (a drop would cost TCP a retransmission).
    public func capCommand(namespace: String, device: String) -> [String] {
        [
            "tc", "-n", namespace, "qdisc", "add", "dev", device, "root", "tbf", "rate", "\(bitsPerSecond)bit", "burst",
            String(burstBytes), "latency", "500ms",
        ]
    }

    /// The commands that build the network, in order (`ip` and `tc` as the first word).
    public var setupCommands: [[String]] {
        let bridge = bridgeNamespace
        var commands: [[String]] = [
            ["ip", "netns", "add", bridge],
            ["ip", "-n", bridge, "link", "set", "lo", "up"],
            ["ip", "-n", bridge, "link", "add", "br0", "type", "bridge"],
            ["ip", "-n", bridge, "link", "set", "br0", "up"],
        ]
        let hostList = [(coordinatorNamespace, coordinatorAddress)] + (1...max(hosts, 1)).map { (workerNamespace($0), workerAddress($0)) }
        for (index, (namespace, address)) in hostList.enumerated() {
            let port = "p\(index)"
            commands += [
                ["ip", "netns", "add", namespace],
                ["ip", "-n", namespace, "link", "set", "lo", "up"],
                ["ip", "-n", bridge, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", namespace],
                ["ip", "-n", bridge, "link", "set", port, "master", "br0"],
                ["ip", "-n", bridge, "link", "set", port, "up"],
                ["ip", "-n", namespace, "addr", "add", "\(address)/24", "dev", "eth0"],
                ["ip", "-n", namespace, "link", "set", "eth0", "up"],
                capCommand(namespace: namespace, device: "eth0"),
                capCommand(namespace: bridge, device: port),
            ]
        }
        return commands
    }

    /// The commands that remove it: deleting a namespace deletes its veth ends, and with them their peers.
    public var teardownCommands: [[String]] { namespaces.reversed().map { ["ip", "netns", "delete", $0] } }

    /// The first 198.18.X.0/24 (X = 0 ... 255) that no route of `routes` (the output of `ip -4 route show table
    /// all`) overlaps, as "198.18.X"; nil when every one is taken.
    public static func freeSubnet(routes: String) -> String? {
        let prefixes = routes.split(separator: "\n").compactMap { line -> (UInt32, Int)? in
            let words = line.split(separator: " ")
            // The destination is the first word, after a route type such as `local` or `broadcast`.
            let types: Set<Substring> = ["local", "broadcast", "unicast", "multicast", "anycast", "unreachable", "prohibit", "blackhole", "throw"]
            guard let destination = words.first(where: { !types.contains($0) }) else { return nil }
            if destination == "default" { return nil }  // 0.0.0.0/0 points elsewhere; it reserves no addresses
            let parts = destination.split(separator: "/")
            guard let address = ipv4(parts[0]) else { return nil }
            let length = parts.count > 1 ? Int(parts[1]) ?? 32 : 32
            return (address, min(max(length, 0), 32))
        }
        for third in 0...255 {
            let candidate = (UInt32(198) << 24) | (UInt32(18) << 16) | (UInt32(third) << 8)
            let clash = prefixes.contains { address, length in
                let common = min(length, 24)
                let mask: UInt32 = common == 0 ? 0 : ~UInt32(0) << UInt32(32 - common)
                return address & mask == candidate & mask
            }
            if !clash { return "198.18.\(third)" }
        }
        return nil
    }

    static func ipv4(_ text: Substring) -> UInt32? {
        let octets = text.split(separator: ".", omittingEmptySubsequences: false).compactMap { UInt32($0) }
        guard octets.count == 4, octets.allSatisfy({ $0 <= 255 }) else { return nil }
        return octets.reduce(0) { $0 << 8 | $1 }
    }

    /// The namespaces in `list` (the output of `ip netns list`) left behind by runs whose process is gone
    /// (`st-<pid>-…` with `isRunning(pid)` false): a run killed with SIGKILL could not remove its own.
    public static func abandonedNamespaces(list: String, isRunning: (Int32) -> Bool) -> [String] {
        list.split(separator: "\n").compactMap { line -> String? in
            guard let name = line.split(separator: " ").first, name.hasPrefix("st-") else { return nil }
            let parts = name.split(separator: "-")
            guard parts.count == 3, let pid = Int32(parts[1]), pid > 0,
                parts[2] == "b" || parts[2] == "c" || (parts[2].hasPrefix("w") && Int(parts[2].dropFirst()) != nil),
                !isRunning(pid)
            else { return nil }
            return String(name)
        }
    }
}

/// An `EmulatedHostsPlan` built on this machine, removed by `tearDown()` (idempotent, callable from any thread: a
/// second Ctrl-C calls it before the process exits) and at the latest when released.
public final class EmulatedHosts: Sendable {
    public let plan: EmulatedHostsPlan
    private let tools: Tools
    private let built = Mutex(false)
    /// The calling thread's own network namespace, open while it is in the coordinator's.
    private let home = Mutex<Int32?>(nil)

    /// The absolute paths of `ip` and `tc`.
    struct Tools: Sendable {
        let ip: String
        let tc: String

        func path(of command: [String]) -> String { command[0] == "tc" ? tc : ip }
    }

    /// What is missing to build the network here, as one sentence; nil when root, `ip` and `tc` are there.
    public static func missingRequirement() -> String? {
        guard geteuid() == 0 else {
            return "emulated hosts need root: network namespaces, veth links and tc qdiscs need CAP_NET_ADMIN (run as root)"
        }
        guard tools() != nil else {
            return "emulated hosts need `ip` and `tc` from iproute2: apt-get install iproute2 (scripts/setup.sh installs it)"
        }
        return nil
    }

    private static func tools() -> Tools? {
        let folders = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
            + ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        func find(_ name: String) -> String? {
            folders.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
        }
        guard let ip = find("ip"), let tc = find("tc") else { return nil }
        return Tools(ip: ip, tc: tc)
    }

    /// The path of `ip`, for `ip netns exec` command prefixes.
    public var ipPath: String { tools.ip }

    /// Removes namespaces of runs whose process is gone, chooses a free subnet and builds the network for `hosts`
    /// worker hosts at `bitsPerSecond`; on any failure removes what it made and throws the command's error.
    public init(hosts: Int, bitsPerSecond: Int) throws(ClusterError) {
        if let missing = Self.missingRequirement() { throw .invalidConfiguration(missing) }
        guard (1...EmulatedHostsPlan.maximumHosts).contains(hosts) else {
            throw .invalidConfiguration("--hosts must be 1 ... \(EmulatedHostsPlan.maximumHosts), not \(hosts)")
        }
        tools = Self.tools()!
        let list = try Self.run([tools.ip, "netns", "list"])
        for name in EmulatedHostsPlan.abandonedNamespaces(list: list, isRunning: { kill($0, 0) == 0 || errno == EPERM }) {
            _ = try? Self.run([tools.ip, "netns", "delete", name])
        }
        guard let subnet = EmulatedHostsPlan.freeSubnet(routes: try Self.run([tools.ip, "-4", "route", "show", "table", "all"]))
        else {
            throw .invalidConfiguration("every 198.18.X.0/24 overlaps a route of this machine: no free subnet for the hosts")
        }
        plan = EmulatedHostsPlan(prefix: "st-\(getpid())", hosts: hosts, bitsPerSecond: bitsPerSecond, subnet: subnet)
        built.withLock { $0 = true }
        do {
            for command in plan.setupCommands {
                _ = try Self.run([tools.path(of: command)] + command.dropFirst())
            }
        } catch {
            tearDown()
            throw error
        }
    }

    deinit { tearDown() }

    /// Deletes every namespace of the plan (once; later calls do nothing), from any thread and any namespace; a
    /// namespace that is already gone is not an error. Processes still inside one keep it alive until they exit.
    public func tearDown() {
        guard built.withLock({ was in defer { was = false }; return was }) else { return }
        for command in plan.teardownCommands { _ = try? Self.run([tools.ip] + command.dropFirst()) }
    }

    /// Moves the calling thread into the coordinator's namespace: sockets it opens, and threads it starts (ZeroMQ's
    /// I/O threads), live there. Child processes it starts do too, unless they move (`ip netns exec`).
    public func enterCoordinatorNamespace() throws(ClusterError) {
        let own = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        let target = open("/var/run/netns/\(plan.coordinatorNamespace)", O_RDONLY | O_CLOEXEC)
        defer { if target >= 0 { close(target) } }
        guard own >= 0, target >= 0, shardtrain_enter_network_namespace(target) == 0 else {
            let reason = String(cString: strerror(errno))
            if own >= 0 { close(own) }
            throw .transport("cannot enter the network namespace \(plan.coordinatorNamespace): \(reason)")
        }
        home.withLock { $0 = own }
    }

    /// Back to the namespace the thread was in before `enterCoordinatorNamespace` (nothing when not inside); call it
    /// from the thread that entered.
    public func leaveCoordinatorNamespace() {
        guard let own = home.withLock({ value in defer { value = nil }; return value }) else { return }
        _ = shardtrain_enter_network_namespace(own)
        close(own)
    }

    /// The prefix that runs a command on worker host `k` (1 ... hosts).
    public func commandPrefix(workerHost k: Int) -> [String] { [tools.ip, "netns", "exec", plan.workerNamespace(k)] }

    /// Runs `command` and returns its output (standard output and error together); a non-zero exit throws with it.
    @discardableResult
    static func run(_ command: [String]) throws(ClusterError) -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch {
            throw .transport("cannot run \(command.joined(separator: " ")): \(error.localizedDescription)")
        }
        // Read to the end before waiting, so a chatty command cannot block on a full pipe.
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw .transport(
                "\(command.joined(separator: " ")) failed (status \(process.terminationStatus)): "
                    + text.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return text
    }
}
