/// Why a frame could not be decoded (or a message could not be encoded). Every case names the field and
/// what was expected versus found, so the message can be logged or sent back to the peer verbatim.
public enum WireError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `field` needs `needed` more bytes but only `available` remain.
    case truncated(field: String, needed: Int, available: Int)
    /// The first four bytes are not "STRN".
    case badMagic(found: [UInt8])
    /// The peer speaks another protocol version.
    case unsupportedVersion(found: UInt16, expected: UInt16)
    /// The message type field names no known message.
    case unknownMessageType(UInt16)
    /// The header's payload length disagrees with the bytes that follow it.
    case payloadLengthMismatch(declared: UInt32, actual: Int)
    /// The payload is larger than the configured limit.
    case payloadTooLarge(bytes: Int, limit: Int)
    /// The message's fields end before its payload does.
    case trailingBytes(type: MessageType, count: Int)
    /// A value that must be finite is NaN or ±∞ (`index` is the element position, 0 for a scalar).
    case nonFinite(field: String, index: Int, value: Double)
    /// A field holds a value outside its allowed range.
    case invalidValue(field: String, expected: String, found: String)
    /// A string field is not valid UTF-8.
    case invalidUTF8(field: String)
    /// A string field is longer than the configured limit.
    case stringTooLong(field: String, bytes: Int, limit: Int)
    /// A decoded block was rejected by `Block`'s own shape check.
    case invalidBlock(index: Int, reason: String)

    public var description: String {
        switch self {
        case .truncated(let field, let needed, let available):
            "truncated frame: \(field) needs \(needed) bytes, only \(available) remain"
        case .badMagic(let found):
            "not a ShardTrain frame: magic is \(found.map { String($0) }.joined(separator: " ")), "
                + "expected \"STRN\" (83 84 82 78)"
        case .unsupportedVersion(let found, let expected):
            "protocol version \(found), expected \(expected)"
        case .unknownMessageType(let type):
            "unknown message type \(type), expected one of "
                + MessageType.allCases.map { "\($0.rawValue) (\($0))" }.joined(separator: ", ")
        case .payloadLengthMismatch(let declared, let actual):
            "payload length field says \(declared) bytes, the frame carries \(actual)"
        case .payloadTooLarge(let bytes, let limit):
            "payload of \(bytes) bytes exceeds the limit of \(limit) bytes"
        case .trailingBytes(let type, let count):
            "\(type) payload has \(count) unexpected bytes after its last field"
        case .nonFinite(let field, let index, let value):
            "\(field)[\(index)] is \(value), expected a finite value"
        case .invalidValue(let field, let expected, let found):
            "\(field): expected \(expected), found \(found)"
        case .invalidUTF8(let field):
            "\(field) is not valid UTF-8"
        case .stringTooLong(let field, let bytes, let limit):
            "\(field) is \(bytes) bytes long, the limit is \(limit)"
        case .invalidBlock(let index, let reason):
            "blocks[\(index)]: \(reason)"
        }
    }
}
