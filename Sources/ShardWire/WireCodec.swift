import ShardNumerics

/// The fixed header in front of every payload.
///
///     offset  size  field
///          0     4  magic "STRN"
///          4     2  protocol version (u16)
///          6     2  message type (u16, `MessageType`)
///          8     8  job id (u64)
///         16     8  round (u64)
///         24     4  payload length in bytes (u32) = frame length − 28
///         28     …  payload (layout per `Message` case)
///
/// All integers and floats are little-endian.
public struct FrameHeader: Sendable, Equatable {
    public static let size = 28
    public static let magic: [UInt8] = Array("STRN".utf8)

    public var version: UInt16
    public var type: MessageType
    public var jobID: UInt64
    public var round: UInt64
    public var payloadLength: UInt32
}

/// Encodes `Frame`s to bytes and decodes bytes back, validating everything on the way in.
///
/// Decoding never traps on any input: every length and count read from the wire is checked against the
/// bytes that remain (and multiplied with overflow detection) before it is used or allocated. Encoding
/// rejects what decoding would reject (non-finite params, over-long strings, oversized payloads, …), so a
/// bad message fails at the sender with a precise error instead of at the peer.
///
/// The encoding is canonical: any buffer that decodes re-encodes to exactly the same bytes (no padding,
/// no unused fields, lengths and counts that must match the data).
///
/// Encoding computes the exact frame size first and writes into one allocation; arrays of values are
/// copied with one memory copy each.
public struct WireCodec: Sendable {
    /// The protocol version this build speaks (2: `sharedBlocks` added; 3: `hold`, ranges in `params`, the
    /// failure flag of `done`).
    public static let protocolVersion: UInt16 = 3

    /// The `params.batchStep` value that means "every block" (a full-batch round).
    static let allBlocks = UInt64.max

    /// The largest payload accepted, in bytes (at most `UInt32.max`, the header's limit).
    public let maxPayloadBytes: Int
    /// The largest string field accepted, in UTF-8 bytes (at most `UInt32.max`).
    public let maxStringBytes: Int

    /// Limits outside `0 ... UInt32.max` are clamped into it. The default payload limit (1 GiB) leaves room
    /// for blocks messages of hundreds of MB; the string limit (64 KiB) bounds reasons and host names.
    public init(maxPayloadBytes: Int = 1 << 30, maxStringBytes: Int = 1 << 16) {
        self.maxPayloadBytes = max(0, min(maxPayloadBytes, Int(UInt32.max)))
        self.maxStringBytes = max(0, min(maxStringBytes, Int(UInt32.max)))
    }

    // MARK: - Encoding

    public func encode(_ frame: Frame) throws(WireError) -> [UInt8] {
        let payloadSize = try payloadByteCount(of: frame.message)
        guard payloadSize <= maxPayloadBytes else {
            throw .payloadTooLarge(bytes: payloadSize, limit: maxPayloadBytes)
        }
        let frameSize = FrameHeader.size + payloadSize
        return [UInt8](unsafeUninitializedCapacity: frameSize) { storage, initialized in
            var writer = ByteWriter(UnsafeMutableRawBufferPointer(storage))
            FrameHeader.magic.withUnsafeBytes { writer.write(raw: $0) }
            writer.write(Self.protocolVersion)
            writer.write(frame.message.type.rawValue)
            writer.write(frame.jobID)
            writer.write(frame.round)
            writer.write(UInt32(payloadSize))
            writePayload(of: frame.message, into: &writer)
            initialized = writer.offset
        }
    }

    /// Validates `message` and returns its exact payload size.
    private func payloadByteCount(of message: Message) throws(WireError) -> Int {
        switch message {
        case .hello(_, let cores, let hostname, let software):
            guard cores >= 1 else { throw .invalidValue(field: "hello.cores", expected: "≥ 1", found: "0") }
            return 4 + 2 + (try stringSize(hostname, "hello.hostname")) + (try stringSize(software, "hello.software"))
        case .welcome(let workerIndex, let workerCount, let jobSpec):
            try checkWorkerPlace(index: workerIndex, count: workerCount)
            try checkFitsUInt32(jobSpec.count, "welcome.jobSpec length")
            return 4 + 4 + 4 + jobSpec.count
        case .refuse(let reason):
            return try stringSize(reason, "refuse.reason")
        case .blocks(let blocks):
            try checkFitsUInt32(blocks.count, "blocks count")
            var size = 4
            for (position, block) in blocks.enumerated() {
                try checkFitsUInt32(block.id, "blocks[\(position)].id")
                try checkFitsUInt32(block.rows, "blocks[\(position)].rows")
                try checkFitsUInt32(block.columns, "blocks[\(position)].columns")
                size += Self.blockHeaderSize + (block.rows * block.columns + block.rows) * block.precision.byteWidth
                guard size <= maxPayloadBytes else { throw .payloadTooLarge(bytes: size, limit: maxPayloadBytes) }
            }
            return size
        case .sharedBlocks(let region, let regionBytes, let locations):
            try checkFitsUInt32(locations.count, "sharedBlocks count")
            try checkSharedLocations(locations, regionBytes: regionBytes)
            return (try stringSize(region, "sharedBlocks.region")) + 8 + 4 + locations.count * Self.sharedLocationSize
        case .ready:
            return 4 + 8
        case .params(let values, let smoothing, let batchStep, let ranges):
            try checkFitsUInt32(values.count, "params count")
            try checkFinite(values, "params")
            try checkSmoothing(smoothing)
            if batchStep == Self.allBlocks {
                throw .invalidValue(field: "params.batchStep", expected: "< 2^64 − 1", found: "\(Self.allBlocks)")
            }
            try checkRanges(ranges, "params.ranges")
            return Self.paramsPayloadBytes(parameterCount: values.count, rangeCount: ranges.count)
        case .hold(let ranges):
            try checkRanges(ranges, "hold.ranges")
            return 4 + 8 * ranges.count
        case .partials(let computeSeconds, let nodes):
            try checkComputeSeconds(computeSeconds)
            try checkFitsUInt32(nodes.count, "partials nodeCount")
            let width = nodes.first?.values.count ?? 0
            try checkFitsUInt32(width, "partials width")
            for (position, node) in nodes.enumerated() {
                if node.values.count != width {
                    throw .invalidValue(
                        field: "partials.nodes[\(position)].values count",
                        expected: "\(width) (the width of nodes[0])", found: "\(node.values.count)")
                }
                let (level, index) = (node.node.level, node.node.index)
                guard UInt8(exactly: level) != nil, UInt32(exactly: index) != nil, node.rowCount >= 0 else {
                    throw .invalidValue(
                        field: "partials.nodes[\(position)]",
                        expected: "level < 256, index < 2^32, rowCount ≥ 0",
                        found: "level \(level), index \(index), rowCount \(node.rowCount)")
                }
            }
            return Self.partialsPayloadBytes(nodeCount: nodes.count, width: width)
        case .heartbeat:
            return 0
        case .done(let reason, _):
            return try stringSize(reason, "done.reason") + 1
        case .failure(let reason):
            return try stringSize(reason, "failure.reason")
        }
    }

    private func writePayload(of message: Message, into writer: inout ByteWriter) {
        switch message {
        case .hello(let pid, let cores, let hostname, let software):
            writer.write(pid)
            writer.write(cores)
            writer.write(string: hostname)
            writer.write(string: software)
        case .welcome(let workerIndex, let workerCount, let jobSpec):
            writer.write(workerIndex)
            writer.write(workerCount)
            writer.write(UInt32(jobSpec.count))
            jobSpec.withUnsafeBytes { writer.write(raw: $0) }
        case .refuse(let reason), .failure(let reason):
            writer.write(string: reason)
        case .done(let reason, let jobFailed):
            writer.write(string: reason)
            writer.write(UInt8(jobFailed ? 1 : 0))
        case .hold(let ranges):
            write(ranges, into: &writer)
        case .blocks(let blocks):
            writer.write(UInt32(blocks.count))
            for block in blocks {
                writer.write(UInt32(block.id))
                writer.write(UInt32(block.rows))
                writer.write(UInt32(block.columns))
                writer.write(Self.tag(of: block.precision))
                block.withValues { values in
                    switch values {
                    case .float32(let features, let labels):
                        writer.write(values: features)
                        writer.write(values: labels)
                    case .float64(let features, let labels):
                        writer.write(values: features)
                        writer.write(values: labels)
                    }
                }
            }
        case .sharedBlocks(let region, let regionBytes, let locations):
            writer.write(string: region)
            writer.write(regionBytes)
            writer.write(UInt32(locations.count))
            for location in locations {
                writer.write(location.id)
                writer.write(location.rows)
                writer.write(location.columns)
                writer.write(Self.tag(of: location.precision))
                writer.write(location.offset)
            }
        case .ready(let blockCount, let rowCount):
            writer.write(blockCount)
            writer.write(rowCount)
        case .params(let values, let smoothing, let batchStep, let ranges):
            writer.write(UInt32(values.count))
            writer.write(values: values)
            writer.write(smoothing)
            writer.write(batchStep ?? Self.allBlocks)
            write(ranges, into: &writer)
        case .partials(let computeSeconds, let nodes):
            writer.write(computeSeconds)
            writer.write(UInt32(nodes.count))
            writer.write(UInt32(nodes.first?.values.count ?? 0))
            for node in nodes {
                writer.write(UInt8(node.node.level))
                writer.write(UInt32(node.node.index))
                writer.write(UInt64(node.rowCount))
                writer.write(values: node.values)
            }
        case .heartbeat:
            break
        }
    }

    // MARK: - Decoding

    public func decode(_ bytes: [UInt8]) throws(WireError) -> Frame {
        // `withUnsafeBytes` is rethrows, which erases the error type; carry the typed result out instead.
        let result: Result<Frame, WireError> = bytes.withUnsafeBytes { buffer in
            Result { () throws(WireError) -> Frame in try decode(buffer) }
        }
        return try result.get()
    }

    public func decode(_ buffer: UnsafeRawBufferPointer) throws(WireError) -> Frame {
        let header = try decodeHeader(buffer)
        var reader = ByteReader(buffer, offset: FrameHeader.size)
        let message = try decodePayload(type: header.type, from: &reader)
        guard reader.remaining == 0 else {
            throw .trailingBytes(type: header.type, count: reader.remaining)
        }
        return Frame(jobID: header.jobID, round: header.round, message: message)
    }

    /// Reads and validates the header alone: magic, version, known type, payload length against the limit
    /// and against the bytes present. Lets a receiver answer a peer whose payload it will not parse (e.g.
    /// tell it the expected protocol version).
    public func decodeHeader(_ bytes: [UInt8]) throws(WireError) -> FrameHeader {
        let result: Result<FrameHeader, WireError> = bytes.withUnsafeBytes { buffer in
            Result { () throws(WireError) -> FrameHeader in try decodeHeader(buffer) }
        }
        return try result.get()
    }

    public func decodeHeader(_ buffer: UnsafeRawBufferPointer) throws(WireError) -> FrameHeader {
        var reader = ByteReader(buffer)
        try reader.require(FrameHeader.size, for: "header")
        let magic = Array(try reader.readRaw(count: 4, "magic"))
        guard magic == FrameHeader.magic else { throw .badMagic(found: magic) }
        let version = try reader.read(UInt16.self, "version")
        guard version == Self.protocolVersion else {
            throw .unsupportedVersion(found: version, expected: Self.protocolVersion)
        }
        let rawType = try reader.read(UInt16.self, "message type")
        guard let type = MessageType(rawValue: rawType) else { throw .unknownMessageType(rawType) }
        let jobID = try reader.read(UInt64.self, "job id")
        let round = try reader.read(UInt64.self, "round")
        let payloadLength = try reader.read(UInt32.self, "payload length")
        guard Int(payloadLength) <= maxPayloadBytes else {
            throw .payloadTooLarge(bytes: Int(payloadLength), limit: maxPayloadBytes)
        }
        guard Int(payloadLength) == reader.remaining else {
            throw .payloadLengthMismatch(declared: payloadLength, actual: reader.remaining)
        }
        return FrameHeader(version: version, type: type, jobID: jobID, round: round, payloadLength: payloadLength)
    }

    private func decodePayload(type: MessageType, from reader: inout ByteReader) throws(WireError) -> Message {
        switch type {
        case .hello:
            let pid = try reader.read(UInt32.self, "hello.pid")
            let cores = try reader.read(UInt16.self, "hello.cores")
            guard cores >= 1 else { throw .invalidValue(field: "hello.cores", expected: "≥ 1", found: "0") }
            let hostname = try reader.readString(limit: maxStringBytes, "hello.hostname")
            let software = try reader.readString(limit: maxStringBytes, "hello.software")
            return .hello(pid: pid, cores: cores, hostname: hostname, software: software)
        case .welcome:
            let workerIndex = try reader.read(UInt32.self, "welcome.workerIndex")
            let workerCount = try reader.read(UInt32.self, "welcome.workerCount")
            try checkWorkerPlace(index: workerIndex, count: workerCount)
            let length = try reader.read(UInt32.self, "welcome.jobSpec length")
            let jobSpec = Array(try reader.readRaw(count: Int(length), "welcome.jobSpec"))
            return .welcome(workerIndex: workerIndex, workerCount: workerCount, jobSpec: jobSpec)
        case .refuse:
            return .refuse(reason: try reader.readString(limit: maxStringBytes, "refuse.reason"))
        case .blocks:
            return .blocks(try decodeBlocks(from: &reader))
        case .sharedBlocks:
            return try decodeSharedBlocks(from: &reader)
        case .ready:
            let blockCount = try reader.read(UInt32.self, "ready.blockCount")
            let rowCount = try reader.read(UInt64.self, "ready.rowCount")
            return .ready(blockCount: blockCount, rowCount: rowCount)
        case .params:
            let count = try reader.read(UInt32.self, "params count")
            let values = try reader.readValues(Double.self, count: UInt64(count), "params")
            try checkFinite(values, "params")
            let smoothing = try reader.readDouble("params.smoothing")
            try checkSmoothing(smoothing)
            let batchStep = try reader.read(UInt64.self, "params.batchStep")
            let ranges = try readRanges(from: &reader, "params.ranges")
            return .params(
                values, smoothing: smoothing, batchStep: batchStep == Self.allBlocks ? nil : batchStep, ranges: ranges)
        case .hold:
            return .hold(ranges: try readRanges(from: &reader, "hold.ranges"))
        case .partials:
            return try decodePartials(from: &reader)
        case .heartbeat:
            return .heartbeat
        case .done:
            let reason = try reader.readString(limit: maxStringBytes, "done.reason")
            let flag = try reader.read(UInt8.self, "done.jobFailed")
            guard flag <= 1 else { throw .invalidValue(field: "done.jobFailed", expected: "0 or 1", found: "\(flag)") }
            return .done(reason: reason, jobFailed: flag == 1)
        case .failure:
            return .failure(reason: try reader.readString(limit: maxStringBytes, "failure.reason"))
        }
    }

    private func decodeBlocks(from reader: inout ByteReader) throws(WireError) -> [Block] {
        let count = Int(try reader.read(UInt32.self, "blocks count"))
        // Every block takes at least its fixed header: a count the bytes cannot hold is rejected before
        // reserving memory for it.
        try reader.require(count * Self.blockHeaderSize, for: "blocks: \(count) block headers")
        var blocks: [Block] = []
        blocks.reserveCapacity(count)
        for position in 0..<count {
            let field = "blocks[\(position)]"
            let id = try reader.read(UInt32.self, "\(field).id")
            let rows = try reader.read(UInt32.self, "\(field).rows")
            let columns = try reader.read(UInt32.self, "\(field).columns")
            let precision = try Self.precision(tag: try reader.read(UInt8.self, "\(field).precision"), "\(field).precision")
            // rows, columns < 2^32, so their product fits in UInt64; readValues checks the byte size.
            let featureCount = UInt64(rows) * UInt64(columns)
            let storage: BlockStorage
            switch precision {
            case .float32:
                let features = try reader.readValues(Float.self, count: featureCount, "\(field).features")
                let labels = try reader.readValues(Float.self, count: UInt64(rows), "\(field).labels")
                storage = .float32(features: features, labels: labels)
            case .float64:
                let features = try reader.readValues(Double.self, count: featureCount, "\(field).features")
                let labels = try reader.readValues(Double.self, count: UInt64(rows), "\(field).labels")
                storage = .float64(features: features, labels: labels)
            }
            do {
                blocks.append(try Block(id: Int(id), rows: Int(rows), columns: Int(columns), storage: storage))
            } catch {
                throw .invalidBlock(index: position, reason: error.message)
            }
        }
        return blocks
    }

    private func decodeSharedBlocks(from reader: inout ByteReader) throws(WireError) -> Message {
        let region = try reader.readString(limit: maxStringBytes, "sharedBlocks.region")
        let regionBytes = try reader.read(UInt64.self, "sharedBlocks.regionBytes")
        let count = Int(try reader.read(UInt32.self, "sharedBlocks count"))
        try reader.require(count * Self.sharedLocationSize, for: "sharedBlocks: \(count) block locations")
        var locations: [SharedBlockLocation] = []
        locations.reserveCapacity(count)
        for position in 0..<count {
            let field = "sharedBlocks.blocks[\(position)]"
            let id = try reader.read(UInt32.self, "\(field).id")
            let rows = try reader.read(UInt32.self, "\(field).rows")
            let columns = try reader.read(UInt32.self, "\(field).columns")
            let precision = try Self.precision(tag: try reader.read(UInt8.self, "\(field).precision"), "\(field).precision")
            let offset = try reader.read(UInt64.self, "\(field).offset")
            locations.append(SharedBlockLocation(id: id, rows: rows, columns: columns, precision: precision, offset: offset))
        }
        try checkSharedLocations(locations, regionBytes: regionBytes)
        return .sharedBlocks(region: region, regionBytes: regionBytes, blocks: locations)
    }

    private func decodePartials(from reader: inout ByteReader) throws(WireError) -> Message {
        let computeSeconds = try reader.readDouble("partials.computeSeconds")
        try checkComputeSeconds(computeSeconds)
        let count = UInt64(try reader.read(UInt32.self, "partials nodeCount"))
        let width = UInt64(try reader.read(UInt32.self, "partials width"))
        // The encoding is canonical: without nodes there is no width to speak of.
        guard count > 0 || width == 0 else {
            throw .invalidValue(field: "partials width", expected: "0 when nodeCount is 0", found: "\(width)")
        }
        // 13 + 8·width < 2^36 fits; nodeCount · that may reach 2^68, so the product is checked.
        let (needed, overflow) = count.multipliedReportingOverflow(by: UInt64(Self.nodeHeaderSize) + 8 * width)
        guard !overflow, needed <= UInt64(reader.remaining) else {
            throw .truncated(
                field: "partials: \(count) nodes of width \(width)",
                needed: overflow || needed > UInt64(Int.max) ? Int.max : Int(needed), available: reader.remaining)
        }
        guard needed == UInt64(reader.remaining) else {
            throw .trailingBytes(type: .partials, count: reader.remaining - Int(needed))
        }
        var nodes: [NodeSums] = []
        nodes.reserveCapacity(Int(count))
        for position in 0..<Int(count) {
            let level = try reader.read(UInt8.self, "partials.nodes[\(position)].level")
            let index = try reader.read(UInt32.self, "partials.nodes[\(position)].index")
            let rowCount = try reader.read(UInt64.self, "partials.nodes[\(position)].rowCount")
            let values = try reader.readValues(Double.self, count: width, "partials.nodes[\(position)].values")
            guard let rows = Int(exactly: rowCount) else {
                throw .invalidValue(field: "partials.nodes[\(position)].rowCount", expected: "< 2^63", found: "\(rowCount)")
            }
            nodes.append(NodeSums(node: TreeNode(level: Int(level), index: Int(index)), rowCount: rows, values: values))
        }
        return .partials(computeSeconds: computeSeconds, nodes: nodes)
    }

    // MARK: - Block ranges

    private func write(_ ranges: [Range<Int>], into writer: inout ByteWriter) {
        writer.write(UInt32(ranges.count))
        for range in ranges {
            writer.write(UInt32(range.lowerBound))
            writer.write(UInt32(range.upperBound))
        }
    }

    private func readRanges(from reader: inout ByteReader, _ field: String) throws(WireError) -> [Range<Int>] {
        let count = Int(try reader.read(UInt32.self, "\(field) count"))
        try reader.require(count * 8, for: "\(field): \(count) ranges")
        var ranges: [Range<Int>] = []
        ranges.reserveCapacity(count)
        for position in 0..<count {
            let lower = Int(try reader.read(UInt32.self, "\(field)[\(position)].lower"))
            let upper = Int(try reader.read(UInt32.self, "\(field)[\(position)].upper"))
            guard lower < upper else {
                throw .invalidValue(field: "\(field)[\(position)]", expected: "lower < upper", found: "\(lower)..<\(upper)")
            }
            ranges.append(lower..<upper)
        }
        try checkRanges(ranges, field)
        return ranges
    }

    /// Ranges are non-empty, ascending and disjoint, with bounds below 2^32.
    private func checkRanges(_ ranges: [Range<Int>], _ field: String) throws(WireError) {
        try checkFitsUInt32(ranges.count, "\(field) count")
        var previousEnd = 0
        for (position, range) in ranges.enumerated() {
            guard !range.isEmpty, range.lowerBound >= previousEnd, range.upperBound <= Int(UInt32.max) else {
                throw .invalidValue(
                    field: "\(field)[\(position)]",
                    expected: "a non-empty range after \(previousEnd), below 2^32",
                    found: "\(range.lowerBound)..<\(range.upperBound)")
            }
            previousEnd = range.upperBound
        }
    }

    // MARK: - Shared checks

    /// id, rows, columns (u32 each) and the precision tag (u8).
    private static let blockHeaderSize = 13
    /// level (u8), index (u32), rowCount (u64).
    static let nodeHeaderSize = 13
    private static let float32Tag: UInt8 = 1
    private static let float64Tag: UInt8 = 2
    /// id, rows, columns (u32 each), the precision tag (u8) and the offset (u64).
    private static let sharedLocationSize = 21

    private static func tag(of precision: Precision) -> UInt8 {
        switch precision {
        case .float32: float32Tag
        case .float64: float64Tag
        }
    }

    private static func precision(tag: UInt8, _ field: String) throws(WireError) -> Precision {
        switch tag {
        case float32Tag: return .float32
        case float64Tag: return .float64
        default:
            throw .invalidValue(field: field, expected: "\(float32Tag) (float32) or \(float64Tag) (float64)", found: "\(tag)")
        }
    }

    /// Every location starts at a multiple of its value width and ends within `[0, regionBytes)`.
    private func checkSharedLocations(_ locations: [SharedBlockLocation], regionBytes: UInt64) throws(WireError) {
        for (position, location) in locations.enumerated() {
            let field = "sharedBlocks.blocks[\(position)]"
            let width = UInt64(location.precision.byteWidth)
            guard location.offset % width == 0 else {
                throw .invalidValue(field: "\(field).offset", expected: "a multiple of \(width)", found: "\(location.offset)")
            }
            guard let range = location.byteRange, range.upperBound <= regionBytes else {
                let found = location.byteRange.map { "bytes \($0.lowerBound)..<\($0.upperBound)" } ?? "an end beyond 2^64"
                throw .invalidValue(
                    field: "\(field)", expected: "bytes within the region's \(regionBytes)", found: found)
            }
        }
    }

    private func stringSize(_ string: String, _ field: String) throws(WireError) -> Int {
        let length = string.utf8.count
        guard length <= maxStringBytes else {
            throw .stringTooLong(field: field, bytes: length, limit: maxStringBytes)
        }
        return 4 + length
    }

    private func checkFitsUInt32(_ value: Int, _ field: String) throws(WireError) {
        guard value >= 0, value <= Int(UInt32.max) else {
            throw .invalidValue(field: field, expected: "0 ... \(UInt32.max)", found: "\(value)")
        }
    }

    private func checkFinite(_ values: [Double], _ field: String) throws(WireError) {
        if let index = values.firstIndex(where: { !$0.isFinite }) {
            throw .nonFinite(field: field, index: index, value: values[index])
        }
    }

    private func checkWorkerPlace(index: UInt32, count: UInt32) throws(WireError) {
        guard index < count else {
            throw .invalidValue(
                field: "welcome.workerIndex", expected: "< workerCount (\(count))", found: "\(index)")
        }
    }

    private func checkSmoothing(_ smoothing: Double) throws(WireError) {
        guard smoothing.isFinite else { throw .nonFinite(field: "params.smoothing", index: 0, value: smoothing) }
        guard smoothing >= 0 else {
            throw .invalidValue(field: "params.smoothing", expected: "≥ 0", found: "\(smoothing)")
        }
    }

    private func checkComputeSeconds(_ seconds: Double) throws(WireError) {
        guard seconds.isFinite else { throw .nonFinite(field: "partials.computeSeconds", index: 0, value: seconds) }
        guard seconds >= 0 else {
            throw .invalidValue(field: "partials.computeSeconds", expected: "≥ 0", found: "\(seconds)")
        }
    }
}
