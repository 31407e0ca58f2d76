import ShardNumerics
import ShardWire
import Testing

/// Random but valid message contents, including empty arrays and non-ASCII text.
enum RandomFrames {
    static func string(_ rng: inout SplitMix64) -> String {
        var scalars = String.UnicodeScalarView()
        for _ in 0..<Int.random(in: 0...12, using: &rng) {
            let upper: UInt32 = Bool.random(using: &rng) ? 0x7F : 0x10FFFF
            if let scalar = Unicode.Scalar(UInt32.random(in: 0...upper, using: &rng)) { scalars.append(scalar) }
        }
        return String(scalars)
    }

    static func finiteDouble(_ rng: inout SplitMix64) -> Double {
        switch Int.random(in: 0..<6, using: &rng) {
        case 0: 0
        case 1: -0.0
        case 2: .leastNonzeroMagnitude
        case 3: -.greatestFiniteMagnitude
        default: Double.random(in: -1e6...1e6, using: &rng)
        }
    }

    static func anyDouble(_ rng: inout SplitMix64) -> Double {
        switch Int.random(in: 0..<8, using: &rng) {
        case 0: .nan
        case 1: .signalingNaN
        case 2: .infinity
        case 3: -.infinity
        case 4: -Double.nan
        default: finiteDouble(&rng)
        }
    }

    static func block(id: Int, precision: Precision, rows: Int, columns: Int, _ rng: inout SplitMix64) -> Block {
        let storage: BlockStorage =
            switch precision {
            case .float32:
                .float32(
                    features: (0..<rows * columns).map { _ in Float.random(in: -100...100, using: &rng) },
                    labels: (0..<rows).map { _ in Float.random(in: -1...1, using: &rng) })
            case .float64:
                .float64(
                    features: (0..<rows * columns).map { _ in finiteDouble(&rng) },
                    labels: (0..<rows).map { _ in finiteDouble(&rng) })
            }
        // The shape is right by construction.
        return try! Block(id: id, rows: rows, columns: columns, storage: storage)
    }

    static func message(_ type: MessageType, _ rng: inout SplitMix64) -> Message {
        switch type {
        case .hello:
            return .hello(
                pid: rng.next(upperBound: UInt32.max), cores: UInt16.random(in: 1...UInt16.max, using: &rng),
                hostname: string(&rng), software: string(&rng))
        case .welcome:
            let count = UInt32.random(in: 1...UInt32.max, using: &rng)
            return .welcome(
                workerIndex: UInt32.random(in: 0..<count, using: &rng), workerCount: count,
                jobSpec: (0..<Int.random(in: 0...40, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) })
        case .refuse: return .refuse(reason: string(&rng))
        case .blocks:
            return .blocks((0..<Int.random(in: 0...4, using: &rng)).map { _ in
                block(
                    id: Int.random(in: 0...Int(UInt32.max), using: &rng),
                    precision: Precision.allCases.randomElement(using: &rng)!,
                    rows: Int.random(in: 0...12, using: &rng), columns: Int.random(in: 0...6, using: &rng), &rng)
            })
        case .ready:
            return .ready(blockCount: UInt32.random(in: 0...UInt32.max, using: &rng), rowCount: rng.next())
        case .params:
            return .params(
                (0..<Int.random(in: 0...40, using: &rng)).map { _ in finiteDouble(&rng) },
                smoothing: Bool.random(using: &rng) ? 0 : abs(finiteDouble(&rng)),
                batchStep: Bool.random(using: &rng) ? nil : UInt64.random(in: 0..<UInt64.max, using: &rng),
                ranges: ranges(&rng))
        case .hold:
            return .hold(ranges: ranges(&rng))
        case .partials:
            let width = Int.random(in: 0...6, using: &rng)
            let count = width == 0 ? 0 : Int.random(in: 0...5, using: &rng)
            return .partials(
                computeSeconds: Bool.random(using: &rng) ? 0 : Double.random(in: 0...1e4, using: &rng),
                nodes: (0..<count).map { _ in
                    let node = TreeNode(
                        level: Int.random(in: 0...255, using: &rng), index: Int.random(in: 0...Int(UInt32.max), using: &rng))
                    return NodeSums(
                        node: node, rowCount: Int.random(in: 0...Int.max, using: &rng),
                        values: (0..<width).map { _ in anyDouble(&rng) })
                })
        case .heartbeat: return .heartbeat
        case .done: return .done(reason: string(&rng), jobFailed: Bool.random(using: &rng))
        case .failure: return .failure(reason: string(&rng))
        case .sharedBlocks:
            // Locations laid out back to back (each at a multiple of its value width) inside the region.
            var offset: UInt64 = 0
            let locations = (0..<Int.random(in: 0...4, using: &rng)).map { _ in
                let precision = Precision.allCases.randomElement(using: &rng)!
                offset = (offset + 7) / 8 * 8
                let location = SharedBlockLocation(
                    id: rng.next(upperBound: UInt32.max), rows: rng.next(upperBound: 1000),
                    columns: rng.next(upperBound: 100), precision: precision, offset: offset)
                offset = location.byteRange!.upperBound
                return location
            }
            return .sharedBlocks(
                region: string(&rng), regionBytes: offset + UInt64.random(in: 0...1 << 20, using: &rng), blocks: locations)
        }
    }

    /// Up to 5 ascending, disjoint, non-empty block ranges below 2^32.
    static func ranges(_ rng: inout SplitMix64) -> [Range<Int>] {
        var start = Int.random(in: 0...1000, using: &rng)
        return (0..<Int.random(in: 0...5, using: &rng)).map { _ in
            let range = start..<(start + Int.random(in: 1...1000, using: &rng))
            start = range.upperBound + Int.random(in: 0...3, using: &rng)
            return range
        }
    }

    static func frame(_ type: MessageType, _ rng: inout SplitMix64) -> Frame {
        Frame(jobID: rng.next(), round: rng.next(), message: message(type, &rng))
    }
}

/// Equality that treats doubles by bit pattern (NaN payloads and signs included) for partial values.
func sameBits(_ lhs: Frame, _ rhs: Frame) -> Bool {
    guard lhs.jobID == rhs.jobID, lhs.round == rhs.round else { return false }
    switch (lhs.message, rhs.message) {
    case (.partials(let leftSeconds, let leftNodes), .partials(let rightSeconds, let rightNodes)):
        return leftSeconds.bitPattern == rightSeconds.bitPattern && leftNodes.count == rightNodes.count
            && zip(leftNodes, rightNodes).allSatisfy { left, right in
                let sameValues: Bool = left.values.map(\.bitPattern) == right.values.map(\.bitPattern)
                return left.node == right.node && left.rowCount == right.rowCount && sameValues
            }
    case (
        .params(let left, let leftSmoothing, let leftStep, let leftRanges),
        .params(let right, let rightSmoothing, let rightStep, let rightRanges)
    ):
        return left.map(\.bitPattern) == right.map(\.bitPattern) && leftSmoothing.bitPattern == rightSmoothing.bitPattern
            && leftStep == rightStep && leftRanges == rightRanges
    default:
        return lhs.message == rhs.message
    }
}

/// A frame header in front of `payload`, with any field overridden, for hand-built malformed frames.
func frameBytes(
    magic: [UInt8] = Array("STRN".utf8), version: UInt16 = WireCodec.protocolVersion, type: UInt16, jobID: UInt64 = 42, round: UInt64 = 3,
    declaredLength: UInt32? = nil, payload: [UInt8]
) -> [UInt8] {
    func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }
    return magic + le(version) + le(type) + le(jobID) + le(round) + le(declaredLength ?? UInt32(payload.count)) + payload
}

func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }

@Suite("ShardWire")
struct ShardWireSuite {
    let codec = WireCodec()

    /// One small but non-trivial frame per message type (every array non-empty).
    static let samples: [Frame] = [
        Frame(jobID: 7, message: .hello(pid: 4242, cores: 2, hostname: "node-é", software: "shardtrain 1.0")),
        Frame(jobID: 7, message: .welcome(workerIndex: 1, workerCount: 3, jobSpec: Array("{\"k\":1}".utf8))),
        Frame(jobID: 7, message: .refuse(reason: "job id 8 is not this coordinator's job 7")),
        Frame(jobID: 7, message: .blocks([
            try! Block(id: 0, rows: 2, columns: 3, storage: .float32(features: [1, 2, 3, 4, 5, 6], labels: [0, 1])),
            try! Block(id: 5, rows: 1, columns: 2, storage: .float64(features: [0.5, -2], labels: [1])),
        ])),
        Frame(jobID: 7, message: .ready(blockCount: 2, rowCount: 3)),
        Frame(jobID: 7, round: 12, message: .params([0.25, -1, 3e-300], ranges: [0..<3, 5..<9])),
        Frame(jobID: 7, round: 12, message: .partials(computeSeconds: 0.125, nodes: [
            NodeSums(node: TreeNode(level: 0, index: 0), rowCount: 2, values: [1, .nan]),
            NodeSums(node: TreeNode(level: 1, index: 4), rowCount: 9, values: [.infinity, -3]),
        ])),
        Frame(jobID: 7, message: .heartbeat),
        Frame(jobID: 7, message: .done(reason: "converged")),
        Frame(jobID: 7, message: .failure(reason: "out of memory")),
        Frame(jobID: 7, message: .sharedBlocks(region: "/proc/42/fd/7", regionBytes: 128, blocks: [
            SharedBlockLocation(id: 0, rows: 2, columns: 3, precision: .float32, offset: 0),
            SharedBlockLocation(id: 1, rows: 1, columns: 2, precision: .float64, offset: 64),
        ])),
    ]

    // MARK: Round trips

    @Test("every message type round-trips over random contents", arguments: MessageType.allCases)
    func roundTrip(type: MessageType) throws {
        var rng = SplitMix64(seed: UInt64(type.rawValue) &* 7919)
        for _ in 0..<300 {
            let frame = RandomFrames.frame(type, &rng)
            let bytes = try codec.encode(frame)
            let decoded = try codec.decode(bytes)
            #expect(sameBits(decoded, frame), "\(frame)")
            #expect(try codec.encode(decoded) == bytes)
            let header = try codec.decodeHeader(bytes)
            #expect(header.type == type && header.jobID == frame.jobID && header.round == frame.round)
            #expect(Int(header.payloadLength) == bytes.count - FrameHeader.size)
        }
    }

    @Test("header layout is the documented little-endian one")
    func headerLayout() throws {
        let bytes = try codec.encode(Frame(jobID: 0x0102_0304_0506_0708, round: 9, message: .ready(blockCount: 5, rowCount: 6)))
        #expect(bytes == frameBytes(
            type: 5, jobID: 0x0102_0304_0506_0708, round: 9, payload: le(UInt32(5)) + le(UInt64(6))))
        #expect(try codec.encode(Frame(jobID: 1, message: .heartbeat)).count == FrameHeader.size)
    }

    @Test("large blocks of both precisions round-trip bit for bit", arguments: Precision.allCases)
    func largeBlocks(precision: Precision) throws {
        var rng = SplitMix64(seed: 99)
        let blocks = (0..<3).map { RandomFrames.block(id: $0 * 11, precision: precision, rows: 4_096, columns: 64, &rng) }
        let frame = Frame(jobID: 1, message: .blocks(blocks))
        let bytes = try codec.encode(frame)
        let valueBytes = 3 * (4_096 * 64 + 4_096) * precision.byteWidth
        #expect(bytes.count == FrameHeader.size + 4 + 3 * 13 + valueBytes)
        #expect(try codec.decode(bytes) == frame)
    }

    @Test("non-finite partial values survive; computeSeconds must be finite and ≥ 0")
    func partialValues() throws {
        let nodes = [NodeSums(node: TreeNode(level: 2, index: 1), rowCount: 0, values: [.nan, -.infinity, .infinity, -0.0])]
        let frame = Frame(jobID: 1, round: 4, message: .partials(computeSeconds: 1.5, nodes: nodes))
        #expect(sameBits(try codec.decode(try codec.encode(frame)), frame))

        for bad in [-1.0, .nan, .infinity] {
            #expect(throws: WireError.self) {
                try codec.encode(Frame(jobID: 1, message: .partials(computeSeconds: bad, nodes: nodes)))
            }
            // The same value patched into a valid frame is rejected by the decoder.
            var bytes = try codec.encode(frame)
            bytes.replaceSubrange(28..<36, with: le(bad.bitPattern))
            #expect(throws: WireError.self) { try codec.decode(bytes) }
        }
        let ragged = [nodes[0], NodeSums(node: TreeNode(level: 0, index: 0), rowCount: 1, values: [1])]
        #expect(throws: WireError.invalidValue(
            field: "partials.nodes[1].values count", expected: "4 (the width of nodes[0])", found: "1"))
        {
            try codec.encode(Frame(jobID: 1, message: .partials(computeSeconds: 0, nodes: ragged)))
        }
    }

    // MARK: Truncation and extra bytes

    @Test("every truncation of a valid frame is rejected", arguments: samples)
    func truncatedFrames(frame: Frame) throws {
        let bytes = try codec.encode(frame)
        for cut in 0..<bytes.count {
            #expect(throws: WireError.self) { try codec.decode(Array(bytes.prefix(cut))) }
        }
        // Truncated payloads under a header whose length was fixed up: the payload's own counts catch them.
        let payload = Array(bytes.dropFirst(FrameHeader.size))
        for cut in 0..<payload.count {
            let forged = frameBytes(type: frame.message.type.rawValue, payload: Array(payload.prefix(cut)))
            do {
                let decoded = try codec.decode(forged)
                Issue.record("payload cut at \(cut) of \(payload.count) decoded as \(decoded)")
            } catch {
                if case .payloadLengthMismatch = error { Issue.record("header check should have passed: \(error)") }
            }
        }
    }

    @Test("one extra byte is rejected, whether or not the header counts it", arguments: samples)
    func extraByte(frame: Frame) throws {
        let bytes = try codec.encode(frame)
        let payloadLength = UInt32(bytes.count - FrameHeader.size)
        #expect(throws: WireError.payloadLengthMismatch(declared: payloadLength, actual: Int(payloadLength) + 1)) {
            try codec.decode(bytes + [0])
        }
        let forged = frameBytes(
            type: frame.message.type.rawValue, jobID: frame.jobID, round: frame.round,
            payload: Array(bytes.dropFirst(FrameHeader.size)) + [0])
        #expect(throws: WireError.trailingBytes(type: frame.message.type, count: 1)) { try codec.decode(forged) }
    }

    // MARK: Header rejections

    @Test("wrong magic, version and type are rejected with what was found")
    func headerRejections() throws {
        let valid = try codec.encode(Frame(jobID: 1, message: .heartbeat))
        #expect(try codec.decode(valid) == Frame(jobID: 1, message: .heartbeat))

        #expect(throws: WireError.badMagic(found: Array("STRM".utf8))) {
            try codec.decode(frameBytes(magic: Array("STRM".utf8), type: 8, payload: []))
        }
        do {
            _ = try codec.decode(frameBytes(version: 7, type: 8, payload: []))
            Issue.record("version 7 accepted")
        } catch {
            #expect(error == .unsupportedVersion(found: 7, expected: 3))
            #expect(error.description == "protocol version 7, expected 3")
        }
        // A version-1 peer (no sharedBlocks) is refused rather than misread.
        #expect(throws: WireError.unsupportedVersion(found: 1, expected: 3)) {
            try codec.decode(frameBytes(version: 1, type: 8, payload: []))
        }
        for type: UInt16 in [0, 13, 0xFFFF] {
            #expect(throws: WireError.unknownMessageType(type)) { try codec.decode(frameBytes(type: type, payload: [])) }
        }
        #expect(throws: WireError.truncated(field: "header", needed: 28, available: 27)) {
            try codec.decode(Array(valid.prefix(27)))
        }
    }

    @Test("a negative or non-finite smoothing in PARAMS is rejected on both sides", arguments: [-1.0, .nan, .infinity])
    func invalidSmoothing(smoothing: Double) throws {
        #expect(throws: WireError.self) { try codec.encode(Frame(jobID: 1, message: .params([1], smoothing: smoothing, ranges: []))) }
        var bytes = try codec.encode(Frame(jobID: 1, message: .params([1], smoothing: 0.5, ranges: [])))
        withUnsafeBytes(of: smoothing.bitPattern.littleEndian) {
            bytes.replaceSubrange((bytes.count - 20)..<(bytes.count - 12), with: $0)
        }
        #expect(throws: WireError.self) { try codec.decode(bytes) }
    }

    @Test("payloads above the configured limit are rejected on both sides")
    func payloadLimit() throws {
        let small = WireCodec(maxPayloadBytes: 100)
        // 4 + 160 + 8 + 8 + 4 = 184 bytes
        let frame = Frame(jobID: 1, round: 1, message: .params(Array(repeating: 1.0, count: 20), ranges: []))
        #expect(throws: WireError.payloadTooLarge(bytes: 184, limit: 100)) { try small.encode(frame) }
        let bytes = try codec.encode(frame)
        #expect(throws: WireError.payloadTooLarge(bytes: 184, limit: 100)) { try small.decode(bytes) }
        // A lying length field is checked against the limit before anything else is read.
        #expect(throws: WireError.payloadTooLarge(bytes: Int(UInt32.max), limit: 100)) {
            try small.decode(frameBytes(type: 6, declaredLength: .max, payload: []))
        }
        // 4 + 96 = 100 bytes
        let exact = Frame(jobID: 1, round: 1, message: .failure(reason: String(repeating: "x", count: 96)))
        #expect(try small.decode(try small.encode(exact)) == exact)
    }

    // MARK: Payload rejections

    @Test("non-finite params are rejected when encoding and decoding", arguments: [Double.nan, .infinity, -.infinity])
    func nonFiniteParams(bad: Double) throws {
        #expect {
            try codec.encode(Frame(jobID: 1, message: .params([1, 2, bad], ranges: [])))
        } throws: { error in
            guard case .nonFinite(let field, let index, let value)? = error as? WireError else { return false }
            return field == "params" && index == 2 && value.bitPattern == bad.bitPattern
        }
        let forged = frameBytes(type: 6, payload: le(UInt32(3)) + le(1.0.bitPattern) + le(bad.bitPattern) + le(2.0.bitPattern))
        #expect {
            try codec.decode(forged)
        } throws: { error in
            guard case .nonFinite("params", 1, _)? = error as? WireError else { return false }
            return true
        }
    }

    @Test("strings must be valid UTF-8 and within the length limit")
    func strings() throws {
        for invalid: [UInt8] in [[0xFF], [0xC3], [0xED, 0xA0, 0x80], [0x61, 0x80, 0x62]] {
            #expect(throws: WireError.invalidUTF8(field: "refuse.reason")) {
                try codec.decode(frameBytes(type: 3, payload: le(UInt32(invalid.count)) + invalid))
            }
        }
        let hello = frameBytes(
            type: 1, payload: le(UInt32(1)) + le(UInt16(1)) + le(UInt32(1)) + [0x68] + le(UInt32(2)) + [0xC3, 0x28])
        #expect(throws: WireError.invalidUTF8(field: "hello.software")) { try codec.decode(hello) }

        let limited = WireCodec(maxStringBytes: 4)
        #expect(throws: WireError.stringTooLong(field: "done.reason", bytes: 5, limit: 4)) {
            try limited.encode(Frame(jobID: 1, message: .done(reason: "hello")))
        }
        let long = try codec.encode(Frame(jobID: 1, message: .failure(reason: "héllo")))
        #expect(throws: WireError.stringTooLong(field: "failure.reason", bytes: 6, limit: 4)) { try limited.decode(long) }
        // A string length beyond the payload is a truncation, not an allocation.
        #expect(throws: WireError.truncated(field: "done.reason", needed: 1_000, available: 2)) {
            try WireCodec(maxStringBytes: 10_000).decode(frameBytes(type: 9, payload: le(UInt32(1_000)) + [0x61, 0x62]))
        }
    }

    @Test("block counts, shapes and precision tags that disagree with the bytes are rejected")
    func blockMismatches() throws {
        func blockPayload(count: UInt32, id: UInt32 = 0, rows: UInt32, columns: UInt32, tag: UInt8, values: Int) -> [UInt8] {
            le(count) + le(id) + le(rows) + le(columns) + [tag] + (0..<values).flatMap { le(Float(Double($0)).bitPattern) }
        }
        // 2 rows × 3 columns float32 = 6 features + 2 labels.
        #expect(try codec.decode(frameBytes(type: 4, payload: blockPayload(count: 1, rows: 2, columns: 3, tag: 1, values: 8)))
            .message.type == .blocks)
        #expect(throws: WireError.truncated(field: "blocks: 2 block headers", needed: 26, available: 13)) {
            try codec.decode(frameBytes(type: 4, payload: blockPayload(count: 2, rows: 2, columns: 3, tag: 1, values: 0)))
        }
        #expect(throws: WireError.truncated(field: "blocks[1].id", needed: 4, available: 0)) {
            try codec.decode(frameBytes(type: 4, payload: blockPayload(count: 2, rows: 2, columns: 3, tag: 1, values: 8)))
        }
        #expect(throws: WireError.truncated(field: "blocks[0].labels (2 values of 4 bytes)", needed: 8, available: 4)) {
            try codec.decode(frameBytes(type: 4, payload: blockPayload(count: 1, rows: 2, columns: 3, tag: 1, values: 7)))
        }
        #expect(throws: WireError.trailingBytes(type: .blocks, count: 4)) {
            try codec.decode(frameBytes(type: 4, payload: blockPayload(count: 1, rows: 2, columns: 3, tag: 1, values: 9)))
        }
        #expect(throws: WireError.invalidValue(field: "blocks[0].precision", expected: "1 (float32) or 2 (float64)", found: "3")) {
            try codec.decode(frameBytes(type: 4, payload: blockPayload(count: 1, rows: 2, columns: 3, tag: 3, values: 8)))
        }
        // 8 values read as float64 are 32 bytes, half of what 2×3 + 2 doubles need.
        #expect(throws: WireError.truncated(field: "blocks[0].features (6 values of 8 bytes)", needed: 48, available: 32)) {
            try codec.decode(frameBytes(type: 4, payload: blockPayload(count: 1, rows: 2, columns: 3, tag: 2, values: 8)))
        }
        // Shapes whose byte size overflows are a truncation, not a trap or an allocation.
        #expect(throws: WireError.self) {
            try codec.decode(frameBytes(type: 4, payload: blockPayload(count: 1, rows: .max, columns: .max, tag: 2, values: 0)))
        }
        #expect(throws: WireError.self) {
            try codec.decode(frameBytes(type: 4, payload: le(UInt32.max)))
        }
    }

    @Test("shared block locations must be aligned and lie inside the region, on both sides")
    func sharedBlockLocations() throws {
        func payload(regionBytes: UInt64, rows: UInt32, columns: UInt32, tag: UInt8, offset: UInt64) -> [UInt8] {
            le(UInt32(3)) + Array("/r1".utf8) + le(regionBytes) + le(UInt32(1)) + le(UInt32(9)) + le(rows) + le(columns)
                + [tag] + le(offset)
        }
        // 2 rows × 3 columns float64 = 8 values = 64 bytes: [64, 128) fits a region of 128 bytes exactly.
        let fits = try codec.decode(frameBytes(type: 11, payload: payload(regionBytes: 128, rows: 2, columns: 3, tag: 2, offset: 64)))
        #expect(
            fits.message
                == .sharedBlocks(
                    region: "/r1", regionBytes: 128,
                    blocks: [SharedBlockLocation(id: 9, rows: 2, columns: 3, precision: .float64, offset: 64)]))
        let beyond = WireError.invalidValue(
            field: "sharedBlocks.blocks[0]", expected: "bytes within the region's 127", found: "bytes 64..<128")
        #expect(throws: beyond) {
            try codec.decode(frameBytes(type: 11, payload: payload(regionBytes: 127, rows: 2, columns: 3, tag: 2, offset: 64)))
        }
        #expect(throws: beyond) {
            try codec.encode(
                Frame(
                    jobID: 1,
                    message: .sharedBlocks(
                        region: "/r1", regionBytes: 127,
                        blocks: [SharedBlockLocation(id: 9, rows: 2, columns: 3, precision: .float64, offset: 64)])))
        }
        #expect(throws: WireError.invalidValue(field: "sharedBlocks.blocks[0].offset", expected: "a multiple of 8", found: "4")) {
            try codec.decode(frameBytes(type: 11, payload: payload(regionBytes: 128, rows: 2, columns: 3, tag: 2, offset: 4)))
        }
        #expect(throws: WireError.invalidValue(field: "sharedBlocks.blocks[0].precision", expected: "1 (float32) or 2 (float64)", found: "0")) {
            try codec.decode(frameBytes(type: 11, payload: payload(regionBytes: 128, rows: 2, columns: 3, tag: 0, offset: 0)))
        }
        // An end beyond 2^64 is named as such, not wrapped around.
        #expect(throws: WireError.invalidValue(
            field: "sharedBlocks.blocks[0]", expected: "bytes within the region's \(UInt64.max)", found: "an end beyond 2^64")) {
            try codec.decode(frameBytes(type: 11, payload: payload(regionBytes: .max, rows: 2, columns: 3, tag: 2, offset: UInt64.max - 7)))
        }
        #expect(throws: WireError.truncated(field: "sharedBlocks: 1 block locations", needed: 21, available: 20)) {
            try codec.decode(frameBytes(type: 11, payload: Array(payload(regionBytes: 128, rows: 2, columns: 3, tag: 2, offset: 64).dropLast())))
        }
    }

    @Test("partials node count and width must match the bytes")
    func partialsMismatches() throws {
        func node(_ width: Int) -> [UInt8] { [0] + le(UInt32(0)) + le(UInt64(0)) + (0..<width).flatMap { _ in le(1.0.bitPattern) } }
        let seconds = le(0.5.bitPattern)
        #expect(try codec.decode(frameBytes(type: 7, payload: seconds + le(UInt32(2)) + le(UInt32(3)) + node(3) + node(3)))
            .message.type == .partials)
        #expect(throws: WireError.truncated(field: "partials: 3 nodes of width 3", needed: 111, available: 74)) {
            try codec.decode(frameBytes(type: 7, payload: seconds + le(UInt32(3)) + le(UInt32(3)) + node(3) + node(3)))
        }
        #expect(throws: WireError.trailingBytes(type: .partials, count: 16)) {
            try codec.decode(frameBytes(type: 7, payload: seconds + le(UInt32(2)) + le(UInt32(2)) + node(3) + node(3)))
        }
        #expect(throws: WireError.invalidValue(field: "partials width", expected: "0 when nodeCount is 0", found: "5")) {
            try codec.decode(frameBytes(type: 7, payload: seconds + le(UInt32(0)) + le(UInt32(5))))
        }
        #expect(throws: WireError.self) {
            try codec.decode(frameBytes(type: 7, payload: seconds + le(UInt32.max) + le(UInt32.max)))
        }
    }

    @Test("welcome and hello values outside their ranges are rejected")
    func semanticRanges() throws {
        #expect(throws: WireError.invalidValue(field: "welcome.workerIndex", expected: "< workerCount (3)", found: "3")) {
            try codec.encode(Frame(jobID: 1, message: .welcome(workerIndex: 3, workerCount: 3, jobSpec: [])))
        }
        #expect(throws: WireError.invalidValue(field: "welcome.workerIndex", expected: "< workerCount (0)", found: "0")) {
            try codec.decode(frameBytes(type: 2, payload: le(UInt32(0)) + le(UInt32(0)) + le(UInt32(0))))
        }
        #expect(throws: WireError.invalidValue(field: "hello.cores", expected: "≥ 1", found: "0")) {
            try codec.encode(Frame(jobID: 1, message: .hello(pid: 1, cores: 0, hostname: "h", software: "s")))
        }
        #expect(throws: WireError.truncated(field: "welcome.jobSpec", needed: 9, available: 3)) {
            try codec.decode(frameBytes(type: 2, payload: le(UInt32(0)) + le(UInt32(1)) + le(UInt32(9)) + [1, 2, 3]))
        }
    }

    @Test("block ids, rows or columns beyond UInt32 cannot be encoded")
    func unencodableBlock() throws {
        let block = try Block(id: Int(UInt32.max) + 1, rows: 0, columns: 0, storage: .float32(features: [], labels: []))
        #expect(throws: WireError.invalidValue(field: "blocks[0].id", expected: "0 ... 4294967295", found: "4294967296")) {
            try codec.encode(Frame(jobID: 1, message: .blocks([block])))
        }
    }

    // MARK: Fuzzing

    @Test("thousands of random buffers never crash, and anything accepted re-encodes to the same bytes")
    func randomGarbage() throws {
        var rng = SplitMix64(seed: 2026)
        var accepted = 0
        func check(_ bytes: [UInt8]) {
            switch Result(catching: { () throws(WireError) -> Frame in try codec.decode(bytes) }) {
            case .success(let frame):
                accepted += 1
                #expect((try? codec.encode(frame)) == bytes)
            case .failure(let error):
                #expect(!error.description.isEmpty)
            }
        }
        // Pure noise, mostly failing at the header.
        for _ in 0..<3_000 {
            check((0..<Int.random(in: 0...96, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) })
        }
        // A valid header over random payloads reaches every payload parser.
        for index in 0..<6_000 {
            let type = MessageType.allCases[index % MessageType.allCases.count].rawValue
            let payload = (0..<Int.random(in: 0...64, using: &rng)).map { _ in
                // Small bytes make counts and lengths plausible more often.
                Bool.random(using: &rng) ? UInt8.random(in: 0...3, using: &rng) : UInt8.random(in: 0...255, using: &rng)
            }
            check(frameBytes(type: type, payload: payload))
        }
        // Valid frames with a few bytes flipped.
        for index in 0..<6_000 {
            var bytes = try codec.encode(Self.samples[index % Self.samples.count])
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            check(bytes)
        }
        #expect(accepted > 0)
    }
}

/// A row count beyond what a process can hold (≥ 2^63) is refused at decode, naming the field; a node the
/// format cannot carry (level ≥ 256) is refused at encode.
@Test func partialsRowCountsAndLevelsOutsideTheFormatAreRefused() throws {
    let codec = WireCodec()
    let frame = Frame(
        jobID: 1, round: 1,
        message: .partials(computeSeconds: 0, nodes: [NodeSums(node: TreeNode(level: 1, index: 2), rowCount: 3, values: [4])]))
    var bytes = try codec.encode(frame)
    // Header (28 bytes), computeSeconds (8), nodeCount (4), width (4), level (1), index (4): then the row count.
    let rowCountOffset = 28 + 8 + 4 + 4 + 1 + 4
    #expect(bytes[rowCountOffset] == 3)
    for k in 0..<8 { bytes[rowCountOffset + k] = 0xFF }
    #expect(throws: WireError.invalidValue(field: "partials.nodes[0].rowCount", expected: "< 2^63", found: "\(UInt64.max)")) {
        try codec.decode(bytes)
    }
    let deep = Frame(
        jobID: 1, round: 1,
        message: .partials(computeSeconds: 0, nodes: [NodeSums(node: TreeNode(level: 256, index: 0), rowCount: 1, values: [1])]))
    #expect(throws: WireError.self) { try codec.encode(deep) }
}

/// Block ranges (HOLD, PARAMS) must be non-empty, ascending and disjoint; a peer's overlapping or reversed
/// ranges are refused at decode naming the range, ours at encode. DONE's failure flag is 0 or 1.
@Test func blockRangesAndTheDoneFlagOutsideTheFormatAreRefused() throws {
    let codec = WireCodec()
    for bad in [[0..<4, 3..<6], [5..<6, 1..<2], [2..<2]] {
        #expect(throws: WireError.self) { try codec.encode(Frame(jobID: 1, message: .hold(ranges: bad))) }
    }
    // Two ranges, the second starting inside the first.
    let overlapping = frameBytes(type: 12, payload: le(UInt32(2)) + le(UInt32(0)) + le(UInt32(4)) + le(UInt32(3)) + le(UInt32(6)))
    #expect(
        throws: WireError.invalidValue(
            field: "hold.ranges[1]", expected: "a non-empty range after 4, below 2^32", found: "3..<6")
    ) { try codec.decode(overlapping) }
    let reversed = frameBytes(type: 12, payload: le(UInt32(1)) + le(UInt32(7)) + le(UInt32(2)))
    #expect(throws: WireError.invalidValue(field: "hold.ranges[0]", expected: "lower < upper", found: "7..<2")) {
        try codec.decode(reversed)
    }
    var done = try codec.encode(Frame(jobID: 1, message: .done(reason: "x", jobFailed: true)))
    #expect(done.last == 1)
    done[done.count - 1] = 2
    #expect(throws: WireError.invalidValue(field: "done.jobFailed", expected: "0 or 1", found: "2")) {
        try codec.decode(done)
    }
}
