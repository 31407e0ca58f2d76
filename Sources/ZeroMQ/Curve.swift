import CZeroMQ

/// Z85, ZeroMQ's printable encoding of binary keys (RFC 32): 4 bytes become 5 characters.
public enum Z85 {
    /// The text of `bytes` (a multiple of 4 bytes), or nil for another length.
    public static func encode(_ bytes: [UInt8]) -> String? {
        guard !bytes.isEmpty, bytes.count % 4 == 0 else { return nil }
        var text = [CChar](repeating: 0, count: bytes.count / 4 * 5 + 1)
        guard text.withUnsafeMutableBufferPointer({ zmq_z85_encode($0.baseAddress, bytes, bytes.count) }) != nil else {
            return nil
        }
        return String(decoding: text.prefix(bytes.count / 4 * 5).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The bytes of `text` (a multiple of 5 characters of the Z85 alphabet), or nil for anything else.
    public static func decode(_ text: String) -> [UInt8]? {
        let characters = Array(text.utf8)
        guard !characters.isEmpty, characters.count % 5 == 0, characters.allSatisfy({ $0 > 32 && $0 < 127 }) else { return nil }
        var bytes = [UInt8](repeating: 0, count: characters.count / 5 * 4)
        let decoded = bytes.withUnsafeMutableBufferPointer { buffer in
            (characters.map { CChar(bitPattern: $0) } + [0]).withUnsafeBufferPointer {
                zmq_z85_decode(buffer.baseAddress, $0.baseAddress)
            }
        }
        return decoded == nil ? nil : bytes
    }
}

/// A CURVE key pair (Curve25519): 32-byte public and secret keys.
public struct CurveKeyPair: Sendable, Equatable {
    public let publicKey: [UInt8]
    public let secretKey: [UInt8]

    /// A new random key pair (`zmq_curve_keypair`, libsodium's generator).
    public static func generate() throws(ZMQError) -> CurveKeyPair {
        var publicText = [CChar](repeating: 0, count: 41)
        var secretText = [CChar](repeating: 0, count: 41)
        try zmqCall("zmq_curve_keypair()") { zmq_curve_keypair(&publicText, &secretText) }
        // 40 Z85 characters always decode to 32 bytes.
        return CurveKeyPair(
            publicKey: Z85.decode(text(publicText))!, secretKey: Z85.decode(text(secretText))!)
    }

    /// The pair of `secretKey` (32 bytes): its public key derived with `zmq_curve_public`.
    public init(secretKey: [UInt8]) throws(ZMQError) {
        guard secretKey.count == 32, let secretText = Z85.encode(secretKey) else {
            throw ZMQError(operation: "zmq_curve_public(a key of \(secretKey.count) bytes)", code: EINVAL)
        }
        var publicText = [CChar](repeating: 0, count: 41)
        try zmqCall("zmq_curve_public()") { zmq_curve_public(&publicText, secretText) }
        self.init(publicKey: Z85.decode(text(publicText))!, secretKey: secretKey)
    }

    private init(publicKey: [UInt8], secretKey: [UInt8]) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// The options that make a server socket accept CURVE clients (the ZAP handler of its context decides which).
    public var serverOptions: [SocketOption] {
        [.curveServer(true), .curveSecretKey(secretKey), .zapDomain(ZAPHandler.domain)]
    }

    /// The options that make a client socket connect to the CURVE server with public key `server`.
    public func clientOptions(server: [UInt8]) -> [SocketOption] {
        [.curveServerKey(server), .curvePublicKey(publicKey), .curveSecretKey(secretKey)]
    }
}

/// The characters of a NUL-terminated buffer libzmq filled.
private func text(_ characters: [CChar]) -> String {
    String(decoding: characters.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
