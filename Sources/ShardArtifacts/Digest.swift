import CLibCrypto

/// SHA-256 digests (OpenSSL's libcrypto from Debian; the only code that calls it).
public enum Digest {
    /// Lower-case hex SHA-256 of `bytes`.
    public static func sha256Hex(_ bytes: [UInt8]) -> String {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let ok = bytes.withUnsafeBytes { input in
            EVP_Digest(input.baseAddress, input.count, &digest, &length, EVP_sha256(), nil)
        }
        // EVP_Digest only fails on allocation failure inside OpenSSL.
        precondition(ok == 1 && length == 32, "EVP_Digest(SHA-256) failed")
        return hex(digest[0..<32])
    }

    /// Lower-case hex of `bytes`, two digits each.
    static func hex(_ bytes: ArraySlice<UInt8>) -> String {
        bytes.map { byte in
            let hex = String(byte, radix: 16)
            return hex.count == 1 ? "0" + hex : hex
        }.joined()
    }

    /// SHA-256 of the little-endian IEEE-754 bytes of `values`, in order: the `parameters_sha256` of a run.
    public static func parametersSHA256(_ values: [Double]) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(values.count * 8)
        for value in values {
            withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
        }
        return sha256Hex(bytes)
    }
}
