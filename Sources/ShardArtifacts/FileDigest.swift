import CLibCrypto
import Foundation
import ShardData

extension Digest {
    /// Lower-case hex SHA-256 of the bytes of the file at `path`, read in 4 MiB pieces. Only regular files, opened
    /// as the data readers open them: a FIFO without a writer would block, `/dev/zero` would never end.
    /// `cancelled` is asked before each piece; once it says yes the digest stops with `.cancelled`. A file written,
    /// truncated or replaced while it is hashed is an error (`.io`), not the digest of a mix of versions.
    public static func sha256Hex(fileAt path: String, cancelled: () -> Bool = { false }) throws(ArtifactError) -> String {
        let descriptor: Int32, opened: stat
        do {
            (descriptor, opened) = try DataFile.openRegular(path: path)
        } catch {
            guard case .fileUnreadable(_, let reason) = error else { throw .io(path: path, reason: "\(error)") }
            throw .io(path: path, reason: "cannot open: \(reason)")
        }
        defer { close(descriptor) }
        guard let context = EVP_MD_CTX_new() else { throw .io(path: path, reason: "cannot allocate a SHA-256 context") }
        defer { EVP_MD_CTX_free(context) }
        // EVP_DigestInit_ex/Update/Final_ex only fail on allocation failure inside OpenSSL.
        precondition(EVP_DigestInit_ex(context, EVP_sha256(), nil) == 1, "EVP_DigestInit_ex(SHA-256) failed")
        var piece = [UInt8](repeating: 0, count: 4 << 20)
        while true {
            if cancelled() { throw .cancelled(path: path) }
            let count = piece.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .io(path: path, reason: "read failed: \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            piece.withUnsafeBytes { bytes in
                precondition(EVP_DigestUpdate(context, bytes.baseAddress, count) == 1, "EVP_DigestUpdate failed")
            }
        }
        guard DataFile.isUnchanged(descriptor: descriptor, path: path, since: opened) else {
            throw .io(
                path: path,
                reason: "the file changed while it was being hashed (its size, modification time or identity is not "
                    + "what it was when hashing began); run again once nothing writes to it")
        }
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        precondition(EVP_DigestFinal_ex(context, &digest, &length) == 1 && length == 32, "EVP_DigestFinal_ex failed")
        return hex(digest[0..<32])
    }
}
