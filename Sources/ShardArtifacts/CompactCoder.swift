import Foundation

/// A compact, exact binary form of `Codable` values (checkpoints of optimizer states): the structure of JSON,
/// but every number as its 8 bytes and every `[Double]` as one run of little-endian IEEE-754 bytes, so a
/// 430k-parameter Adam state is written at memory speed instead of formatting millions of decimals, and NaN,
/// infinities and −0 come back bit for bit.
///
/// ```text
/// value   = tag:UInt8 payload
/// tag 0 nil | 1 false | 2 true | 3 Int64 | 4 UInt64 | 5 Double (bit pattern) | 6 string (count, UTF-8)
///     7 [Double] (count, count × 8 bytes) | 8 array (count, values) | 9 keyed (count, (key string, value)…, keys sorted)
/// counts and numbers little-endian 8 bytes
/// ```
public enum CompactCoder {
    public static func encode<T: Encodable>(_ value: T) throws -> Data {
        let root = EncodingSlot()
        try root.store(value, codingPath: [])
        var bytes = Data()
        try root.node(codingPath: []).write(to: &bytes)
        return bytes
    }

    public static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        var reader = ByteReader(bytes: [UInt8](data))
        let node = try reader.node(depth: 0)
        guard reader.isAtEnd else { throw reader.corrupt("\(reader.remaining) bytes after the value") }
        return try node.decode(type, codingPath: [])
    }
}

/// One encoded value.
enum CompactNode {
    case null
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    case string(String)
    case doubles([Double])
    case array([CompactNode])
    case keyed([String: CompactNode])

    func write(to bytes: inout Data) throws {
        switch self {
        case .null: bytes.append(0)
        case .bool(let value): bytes.append(value ? 2 : 1)
        case .int(let value):
            bytes.append(3)
            Self.append(UInt64(bitPattern: value), to: &bytes)
        case .uint(let value):
            bytes.append(4)
            Self.append(value, to: &bytes)
        case .double(let value):
            bytes.append(5)
            Self.append(value.bitPattern, to: &bytes)
        case .string(let value):
            bytes.append(6)
            Self.append(value, to: &bytes)
        case .doubles(let values):
            bytes.append(7)
            Self.append(UInt64(values.count), to: &bytes)
            if 1.littleEndian == 1 {
                values.withUnsafeBytes { bytes.append(contentsOf: $0) }
            } else {
                for value in values { Self.append(value.bitPattern, to: &bytes) }
            }
        case .array(let values):
            bytes.append(8)
            Self.append(UInt64(values.count), to: &bytes)
            for value in values { try value.write(to: &bytes) }
        case .keyed(let entries):
            bytes.append(9)
            Self.append(UInt64(entries.count), to: &bytes)
            for key in entries.keys.sorted() {
                Self.append(key, to: &bytes)
                try entries[key]!.write(to: &bytes)
            }
        }
    }

    private static func append(_ value: UInt64, to bytes: inout Data) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    private static func append(_ text: String, to bytes: inout Data) {
        let utf8 = Array(text.utf8)
        append(UInt64(utf8.count), to: &bytes)
        bytes.append(contentsOf: utf8)
    }

    var kind: String {
        switch self {
        case .null: "nil"
        case .bool: "a Bool"
        case .int, .uint: "an integer"
        case .double: "a Double"
        case .string: "a string"
        case .doubles: "a [Double]"
        case .array: "an array"
        case .keyed: "a keyed container"
        }
    }
}

// MARK: Reading

/// Reads nodes from bytes, checking every length against what is left.
struct ByteReader {
    let bytes: [UInt8]
    var offset = 0

    var isAtEnd: Bool { offset == bytes.count }
    var remaining: Int { bytes.count - offset }

    func corrupt(_ detail: String) -> DecodingError {
        .dataCorrupted(.init(codingPath: [], debugDescription: "compact coding at byte \(offset): \(detail)"))
    }

    mutating func word() throws -> UInt64 {
        guard remaining >= 8 else { throw corrupt("8 bytes expected, \(remaining) left") }
        var value: UInt64 = 0
        for index in 0..<8 { value |= UInt64(bytes[offset + index]) << (8 * index) }
        offset += 8
        return value
    }

    mutating func count(elementBytes: Int) throws -> Int {
        let count = try word()
        guard count <= UInt64(remaining / max(elementBytes, 1)) else { throw corrupt("count \(count) exceeds the data") }
        return Int(count)
    }

    mutating func string() throws -> String {
        let length = try count(elementBytes: 1)
        defer { offset += length }
        guard let text = String(validating: bytes[offset..<(offset + length)], as: UTF8.self) else {
            throw corrupt("a string is not UTF-8")
        }
        return text
    }

    mutating func node(depth: Int) throws -> CompactNode {
        guard depth < 256 else { throw corrupt("nested too deeply") }
        guard remaining >= 1 else { throw corrupt("a value expected") }
        let tag = bytes[offset]
        offset += 1
        switch tag {
        case 0: return .null
        case 1: return .bool(false)
        case 2: return .bool(true)
        case 3: return .int(Int64(bitPattern: try word()))
        case 4: return .uint(try word())
        case 5: return .double(Double(bitPattern: try word()))
        case 6: return .string(try string())
        case 7:
            let count = try count(elementBytes: 8)
            let start = offset
            offset += 8 * count
            return .doubles(
                [Double](unsafeUninitializedCapacity: count) { buffer, initialized in
                    bytes.withUnsafeBytes { raw in
                        for index in 0..<count {
                            let bits = raw.loadUnaligned(fromByteOffset: start + 8 * index, as: UInt64.self)
                            buffer[index] = Double(bitPattern: UInt64(littleEndian: bits))
                        }
                    }
                    initialized = count
                })
        case 8:
            let count = try count(elementBytes: 1)
            var values: [CompactNode] = []
            values.reserveCapacity(count)
            for _ in 0..<count { values.append(try node(depth: depth + 1)) }
            return .array(values)
        case 9:
            let count = try count(elementBytes: 9)
            var entries: [String: CompactNode] = [:]
            for _ in 0..<count {
                let key = try string()
                entries[key] = try node(depth: depth + 1)
            }
            return .keyed(entries)
        default: throw corrupt("unknown tag \(tag)")
        }
    }
}

// MARK: Encoding

/// A value under construction: a node, or a keyed or unkeyed container whose children are still being filled.
final class EncodingSlot {
    private var value: CompactNode?
    private var keyed: [String: EncodingSlot]?
    private var unkeyed: [EncodingSlot]?

    func node(codingPath: [any CodingKey]) throws -> CompactNode {
        if let value { return value }
        if let keyed { return .keyed(try keyed.mapValues { try $0.node(codingPath: codingPath) }) }
        if let unkeyed { return .array(try unkeyed.map { try $0.node(codingPath: codingPath) }) }
        throw EncodingError.invalidValue(
            (), .init(codingPath: codingPath, debugDescription: "a value encoded nothing"))
    }

    func set(_ node: CompactNode) { value = node }

    func child(_ key: String) -> EncodingSlot {
        let slot = EncodingSlot()
        if keyed == nil { keyed = [:] }
        keyed![key] = slot
        return slot
    }

    func appended() -> EncodingSlot {
        let slot = EncodingSlot()
        if unkeyed == nil { unkeyed = [] }
        unkeyed!.append(slot)
        return slot
    }

    func makeKeyed() { if keyed == nil { keyed = [:] } }
    func makeUnkeyed() { if unkeyed == nil { unkeyed = [] } }
    var unkeyedCount: Int { unkeyed?.count ?? 0 }

    /// Stores `value`: `[Double]` and the scalar types directly, everything else through its `encode(to:)`.
    func store<T: Encodable>(_ value: T, codingPath: [any CodingKey]) throws {
        switch value {
        case let doubles as [Double]: set(.doubles(doubles))
        case let double as Double: set(.double(double))
        case let float as Float: set(.double(Double(float)))
        case let text as String: set(.string(text))
        case let flag as Bool: set(.bool(flag))
        case let integer as any FixedWidthInteger:
            if let signed = Int64(exactly: integer), type(of: integer).isSigned {
                set(.int(signed))
            } else if let unsigned = UInt64(exactly: integer) {
                set(.uint(unsigned))
            } else {
                throw EncodingError.invalidValue(value, .init(codingPath: codingPath, debugDescription: "an integer beyond 64 bits"))
            }
        default: try value.encode(to: SlotEncoder(slot: self, codingPath: codingPath))
        }
    }
}

struct SlotEncoder: Encoder {
    let slot: EncodingSlot
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        slot.makeKeyed()
        return KeyedEncodingContainer(KeyedSlotEncoder<Key>(slot: slot, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        slot.makeUnkeyed()
        return UnkeyedSlotEncoder(slot: slot, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { SingleSlotEncoder(slot: slot, codingPath: codingPath) }
}

struct KeyedSlotEncoder<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let slot: EncodingSlot
    let codingPath: [any CodingKey]

    mutating func encodeNil(forKey key: Key) throws { slot.child(key.stringValue).set(.null) }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try slot.child(key.stringValue).store(value, codingPath: codingPath + [key])
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
        -> KeyedEncodingContainer<NestedKey>
    {
        SlotEncoder(slot: slot.child(key.stringValue), codingPath: codingPath + [key]).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        SlotEncoder(slot: slot.child(key.stringValue), codingPath: codingPath + [key]).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder { SlotEncoder(slot: slot.child("super"), codingPath: codingPath) }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        SlotEncoder(slot: slot.child(key.stringValue), codingPath: codingPath + [key])
    }
}

struct UnkeyedSlotEncoder: UnkeyedEncodingContainer {
    let slot: EncodingSlot
    let codingPath: [any CodingKey]
    var count: Int { slot.unkeyedCount }

    mutating func encodeNil() throws { slot.appended().set(.null) }

    mutating func encode<T: Encodable>(_ value: T) throws { try slot.appended().store(value, codingPath: codingPath) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        SlotEncoder(slot: slot.appended(), codingPath: codingPath).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        SlotEncoder(slot: slot.appended(), codingPath: codingPath).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder { SlotEncoder(slot: slot.appended(), codingPath: codingPath) }
}

struct SingleSlotEncoder: SingleValueEncodingContainer {
    let slot: EncodingSlot
    let codingPath: [any CodingKey]

    mutating func encodeNil() throws { slot.set(.null) }
    mutating func encode<T: Encodable>(_ value: T) throws { try slot.store(value, codingPath: codingPath) }
}

// MARK: Decoding

extension CompactNode {
    func mismatch(_ expected: String, _ codingPath: [any CodingKey]) -> DecodingError {
        .typeMismatch(Any.self, .init(codingPath: codingPath, debugDescription: "expected \(expected), found \(kind)"))
    }

    /// Decodes `[Double]` and the scalar types directly, everything else through its `init(from:)`.
    func decode<T: Decodable>(_ type: T.Type, codingPath: [any CodingKey]) throws -> T {
        func integer<I: FixedWidthInteger>(_: I.Type) throws -> I {
            switch self {
            case .int(let value): if let exact = I(exactly: value) { return exact }
            case .uint(let value): if let exact = I(exactly: value) { return exact }
            default: break
            }
            throw mismatch("\(I.self)", codingPath)
        }
        let decoded: Any
        switch type {
        case is [Double].Type:
            switch self {
            case .doubles(let values): decoded = values
            case .array(let values): decoded = try values.map { try $0.decode(Double.self, codingPath: codingPath) }
            default: throw mismatch("a [Double]", codingPath)
            }
        case is Double.Type:
            guard case .double(let value) = self else { throw mismatch("a Double", codingPath) }
            decoded = value
        case is Float.Type:
            guard case .double(let value) = self else { throw mismatch("a Float", codingPath) }
            decoded = Float(value)
        case is String.Type:
            guard case .string(let value) = self else { throw mismatch("a string", codingPath) }
            decoded = value
        case is Bool.Type:
            guard case .bool(let value) = self else { throw mismatch("a Bool", codingPath) }
            decoded = value
        case let integerType as any FixedWidthInteger.Type: decoded = try integer(integerType)
        default: return try T(from: NodeDecoder(node: self, codingPath: codingPath))
        }
        guard let value = decoded as? T else { throw mismatch("\(T.self)", codingPath) }
        return value
    }
}

struct NodeDecoder: Decoder {
    let node: CompactNode
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .keyed(let entries) = node else { throw node.mismatch("a keyed container", codingPath) }
        return KeyedDecodingContainer(KeyedNodeDecoder<Key>(entries: entries, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        switch node {
        case .array(let values): return UnkeyedNodeDecoder(values: values, codingPath: codingPath)
        case .doubles(let values): return UnkeyedNodeDecoder(values: values.map(CompactNode.double), codingPath: codingPath)
        default: throw node.mismatch("an array", codingPath)
        }
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        SingleNodeDecoder(node: node, codingPath: codingPath)
    }
}

struct KeyedNodeDecoder<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let entries: [String: CompactNode]
    let codingPath: [any CodingKey]

    var allKeys: [Key] { entries.keys.compactMap(Key.init(stringValue:)) }

    func contains(_ key: Key) -> Bool { entries[key.stringValue] != nil }

    func entry(_ key: Key) throws -> CompactNode {
        guard let node = entries[key.stringValue] else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "no value for \(key.stringValue)"))
        }
        return node
    }

    func decodeNil(forKey key: Key) throws -> Bool {
        if case .null = try entry(key) { return true }
        return false
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try entry(key).decode(type, codingPath: codingPath + [key])
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        try NodeDecoder(node: entry(key), codingPath: codingPath + [key]).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try NodeDecoder(node: entry(key), codingPath: codingPath + [key]).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder { NodeDecoder(node: entries["super"] ?? .null, codingPath: codingPath) }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        NodeDecoder(node: entries[key.stringValue] ?? .null, codingPath: codingPath + [key])
    }
}

struct UnkeyedNodeDecoder: UnkeyedDecodingContainer {
    let values: [CompactNode]
    let codingPath: [any CodingKey]
    var currentIndex = 0

    init(values: [CompactNode], codingPath: [any CodingKey]) {
        self.values = values
        self.codingPath = codingPath
    }

    var count: Int? { values.count }
    var isAtEnd: Bool { currentIndex >= values.count }

    mutating func next() throws -> CompactNode {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(
                Any.self, .init(codingPath: codingPath, debugDescription: "the array has only \(values.count) values"))
        }
        defer { currentIndex += 1 }
        return values[currentIndex]
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, case .null = values[currentIndex] else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try next().decode(type, codingPath: codingPath) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        try NodeDecoder(node: next(), codingPath: codingPath).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try NodeDecoder(node: next(), codingPath: codingPath).unkeyedContainer()
    }

    mutating func superDecoder() throws -> any Decoder { NodeDecoder(node: try next(), codingPath: codingPath) }
}

struct SingleNodeDecoder: SingleValueDecodingContainer {
    let node: CompactNode
    let codingPath: [any CodingKey]

    func decodeNil() -> Bool {
        if case .null = node { return true }
        return false
    }

    func decode<T: Decodable>(_ type: T.Type) throws -> T { try node.decode(type, codingPath: codingPath) }
}
