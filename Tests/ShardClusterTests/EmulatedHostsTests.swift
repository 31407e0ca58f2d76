import ShardCluster
import Testing

@Suite("Emulated hosts: plan, link framing")
struct EmulatedHostsTests {
    let plan = EmulatedHostsPlan(prefix: "st-42", hosts: 2, bitsPerSecond: 100_000_000, subnet: "198.18.3")

    @Test("the namespaces, veth links and tbf caps of two worker hosts, in order")
    func setupCommands() {
        #expect(plan.namespaces == ["st-42-b", "st-42-c", "st-42-w1", "st-42-w2"])
        #expect(plan.coordinatorAddress == "198.18.3.1" && plan.workerAddress(2) == "198.18.3.3")
        // Two full Ethernet frames: 2 × (1500 + 14).
        #expect(plan.burstBytes == 3028)
        #expect(
            plan.capCommand(namespace: "st-42-w1", device: "eth0")
                == "tc -n st-42-w1 qdisc add dev eth0 root tbf rate 100000000bit burst 3028 latency 500ms"
                .split(separator: " ").map(String.init))
        let commands = plan.setupCommands.map { $0.joined(separator: " ") }
        #expect(commands.count == 4 + 3 * 9)
        #expect(
            Array(commands.prefix(4)) == [
                "ip netns add st-42-b", "ip -n st-42-b link set lo up", "ip -n st-42-b link add br0 type bridge",
                "ip -n st-42-b link set br0 up",
            ])
        #expect(
            Array(commands[13...21]) == [
                "ip netns add st-42-w1",
                "ip -n st-42-w1 link set lo up",
                "ip -n st-42-b link add p1 type veth peer name eth0 netns st-42-w1",
                "ip -n st-42-b link set p1 master br0",
                "ip -n st-42-b link set p1 up",
                "ip -n st-42-w1 addr add 198.18.3.2/24 dev eth0",
                "ip -n st-42-w1 link set eth0 up",
                "tc -n st-42-w1 qdisc add dev eth0 root tbf rate 100000000bit burst 3028 latency 500ms",
                "tc -n st-42-b qdisc add dev p1 root tbf rate 100000000bit burst 3028 latency 500ms",
            ])
        // Every device is made inside the run's namespaces: no command names the root namespace's links.
        #expect(plan.setupCommands.allSatisfy { $0[1] == "-n" || $0[1] == "netns" })
        #expect(
            plan.teardownCommands.map { $0.joined(separator: " ") } == [
                "ip netns delete st-42-w2", "ip netns delete st-42-w1", "ip netns delete st-42-c", "ip netns delete st-42-b",
            ])
    }

    @Test("the subnet avoids every route of the machine")
    func freeSubnet() {
        let here = """
            default via 192.0.2.1 dev eth0
            192.0.2.0/24 dev eth0 proto kernel scope link src 192.0.2.2
            local 127.0.0.0/8 dev lo table local proto kernel scope host src 127.0.0.1
            broadcast 127.255.255.255 dev lo table local proto kernel scope link src 127.0.0.1
            """
        #expect(EmulatedHostsPlan.freeSubnet(routes: here) == "198.18.0")
        #expect(EmulatedHostsPlan.freeSubnet(routes: here + "\n198.18.0.0/24 dev br9 scope link") == "198.18.1")
        #expect(EmulatedHostsPlan.freeSubnet(routes: "local 198.18.0.7 dev x table local\n198.18.1.0/25 dev y") == "198.18.2")
        #expect(EmulatedHostsPlan.freeSubnet(routes: "198.18.0.0/15 dev lab0") == nil)
        #expect(EmulatedHostsPlan.freeSubnet(routes: "198.16.0.0/12 via 10.0.0.1 dev eth1") == nil)
    }

    @Test("namespaces of runs whose process is gone are found, and nothing else")
    func abandoned() {
        let list = "st-100-b (id: 0)\nst-100-w1\nst-100-w12 (id: 4)\nst-200-c\nother\nst-x-b\nst-300-w1x\nst-100-z"
        #expect(
            EmulatedHostsPlan.abandonedNamespaces(list: list, isRunning: { $0 == 200 })
                == ["st-100-b", "st-100-w1", "st-100-w12"])
    }

    /// By hand: a 228-byte PARAMS frame with CURVE is 228 + 33 = 261 bytes, over 255 so a 9-byte ZMTP header: 270,
    /// one TCP segment: + 66 = 336. Without CURVE: 228 + 2 + 66 = 296. A 40,060-byte frame (5,000 parameters) with
    /// CURVE: 40,060 + 33 + 9 = 40,102 bytes in ⌈40,102 / 1,448⌉ = 28 segments: 40,102 + 28·66 = 41,950.
    @Test("link bytes add CURVE, ZMTP and per-segment TCP/IP/Ethernet headers (hand-computed)")
    func linkFraming() {
        #expect(LinkFraming(curve: true).linkBytes(frameBytes: 228) == 336)
        #expect(LinkFraming(curve: false).linkBytes(frameBytes: 228) == 296)
        #expect(LinkFraming(curve: true).linkBytes(frameBytes: 40_060) == 41_950)
        #expect(LinkFraming(curve: false).maximumSegmentBytes == 1448)
    }

    /// Two 228-byte PARAMS out (336 bytes each on the link) and one 611-byte PARTIALS back (611 + 33 + 9 = 653, one
    /// segment: 719): 1,391 bytes on the wire; a tbf bucket of 500 bytes passes 500 per direction at line speed.
    @Test("a round's bytes on the coordinator's link, less one token-bucket burst per direction (hand-computed)")
    func roundBytes() {
        let framing = LinkFraming(curve: true)
        #expect(framing.roundBytes(outbound: [228, 228], inbound: [611], burst: 0) == (1391, 1391))
        #expect(framing.roundBytes(outbound: [228, 228], inbound: [611], burst: 500) == (1391, 172 + 219))
        #expect(framing.roundBytes(outbound: [228, 228], inbound: [611], burst: 3028) == (1391, 0))
    }
}
