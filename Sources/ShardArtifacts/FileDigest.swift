import CLibCrypto
import Foundation

extension Digest {
    /// Lower-case hex SHA-256 of the bytes of the file at `path`, read in 4 MiB pieces.
    public static func sha256Hex(fileAt path: String) throws(ArtifactError) -> String {
        // Only regular files: a FIFO without a writer would block in open, /dev/zero would never end.
        var status = stat()
        guard stat(path, &status) == 0 else {
            throw .io(path: path, reason: "cannot open: \(String(cString: strerror(errno)))")
        }
        guard status.st_mode & S_IFMT == S_IFREG else { throw .io(path: path, reason: "not a regular file") }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw .io(path: path, reason: "cannot open: \(String(cString: strerror(errno)))")
        }
        defer { try? handle.close() }
        guard let context = EVP_MD_CTX_new() else { throw .io(path: path, reason: "cannot allocate a SHA-256 context") }
        defer { EVP_MD_CTX_free(context) }
        // EVP_DigestInit_ex/Update/Final_ex only fail on allocation failure inside OpenSSL.
        precondition(EVP_DigestInit_ex(context, EVP_sha256(), nil) == 1, "EVP_DigestInit_ex(SHA-256) failed")
        while true {
            let piece: Data
            do {
                guard let read = try handle.read(upToCount: 4 << 20), !read.isEmpty else { break }
                piece = read
            } catch {
                throw .io(path: path, reason: "read failed: \(error.localizedDescription)")
            }
            piece.withUnsafeBytes { bytes in
                precondition(EVP_DigestUpdate(context, bytes.baseAddress, bytes.count) == 1, "EVP_DigestUpdate failed")
            }
        }
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        precondition(EVP_DigestFinal_ex(context, &digest, &length) == 1 && length == 32, "EVP_DigestFinal_ex failed")
        return hex(digest[0..<32])
    }
}
