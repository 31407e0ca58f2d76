/// What the transport adds to a frame on an Ethernet link, for ZeroMQ over TCP/IPv4 (a frame is one ZeroMQ
/// message of one part):
///
///     CURVE (RFC 26, libzmq's encoder)  "\x07MESSAGE" 8 + short nonce 8 + MAC 16 + flags 1    = +33 bytes
///     ZMTP 3 frame header (RFC 23)      flags 1 + size 1 (body ≤ 255 bytes) or 8             = +2 or +9
///     TCP segments of at most MSS = MTU − IPv4 20 − TCP 20 − timestamps option 12 = 1448 bytes (MTU 1500),
///     each with Ethernet 14 + IPv4 20 + TCP 32                                                = +66 per segment
///
/// so `linkBytes(n) = z + ⌈z / MSS⌉ · 66` with `z = n + (CURVE ? 33 : 0) + (2 or 9)`. This is what a `tc tbf`
/// rate on a veth counts (the packet with its Ethernet header). Not counted: TCP ACKs (they travel the other
/// way, 66 bytes per two segments) and segments cut short by a sender that pushes before a full MSS.
public struct LinkFraming: Sendable, Equatable {
    public var curve: Bool
    public var mtu: Int

    public init(curve: Bool, mtu: Int = 1500) {
        self.curve = curve
        self.mtu = mtu
    }

    public static let curveBytes = 33
    public static let segmentHeaderBytes = 14 + 20 + 32
    public var maximumSegmentBytes: Int { mtu - 20 - 20 - 12 }

    /// The bytes of a round on the coordinator's link: `wire`, every frame with its framing, and `rateLimited`, what
    /// the link's rate applies to. A token bucket of depth `burst` (tc tbf) lets that much through at line speed
    /// after a pause, once per direction: the PARAMS frames (`outbound`) go out back to back, the PARTIALS
    /// (`inbound`) come back after the computation. A real link has no such bucket: `burst` 0.
    ///
    ///     rateLimited = max(0, Σ link(outbound) − burst) + max(0, Σ link(inbound) − burst)
    public func roundBytes(outbound: [Int], inbound: [Int], burst: Int) -> (wire: Int, rateLimited: Int) {
        let out = outbound.reduce(0) { $0 + linkBytes(frameBytes: $1) }
        let back = inbound.reduce(0) { $0 + linkBytes(frameBytes: $1) }
        return (out + back, max(0, out - burst) + max(0, back - burst))
    }

    /// Bytes on the link for one frame of `frameBytes`.
    public func linkBytes(frameBytes: Int) -> Int {
        let body = frameBytes + (curve ? Self.curveBytes : 0)
        let message = body + (body <= 255 ? 2 : 9)
        let segments = (message + maximumSegmentBytes - 1) / maximumSegmentBytes
        return message + segments * Self.segmentHeaderBytes
    }
}
